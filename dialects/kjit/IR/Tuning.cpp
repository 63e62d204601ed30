//===- Tuning.cpp - search-space helpers ---------------------------------===//
#include "dialects/kjit/IR/Tuning.h"

#include <limits>

using namespace kjit;

uint64_t SearchSpace::size() const {
  uint64_t n = 1;
  for (const Knob &k : knobs) {
    uint64_t s = k.size();
    if (s == 0)
      return 0;
    if (n > std::numeric_limits<uint64_t>::max() / s)
      return std::numeric_limits<uint64_t>::max();
    n *= s;
  }
  return n;
}
