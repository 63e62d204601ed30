//===- TestSupport.h - what every numerics test shares ---------*- C++ -*-===//
#ifndef KJIT_TESTS_INTEGRATION_TESTSUPPORT_H
#define KJIT_TESTS_INTEGRATION_TESTSUPPORT_H

#include "kjit/kjit.h"

#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

namespace kjit::testing {

/// One seed per process: $KJIT_TEST_SEED to replay, else fresh. Tests print
/// it in every failure.
inline uint64_t baseSeed() {
  static uint64_t seed = [] {
    if (const char *s = std::getenv("KJIT_TEST_SEED"))
      return uint64_t(std::strtoull(s, nullptr, 0));
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
  }();
  return seed;
}

/// n values uniform in [-1, 1).
inline std::vector<float> randomVector(size_t n, std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &e : v)
    e = u(rng);
  return v;
}

/// Memory cache on, disk cache off: the tests must exercise the compiler,
/// not an entry some earlier build left on disk.
inline kjit::Jit &sharedJit() {
  static kjit::Jit jit(kjit::Target::host(), [] {
    kjit::JitOptions o;
    o.diskCache = false;
    return o;
  }());
  return jit;
}

} // namespace kjit::testing

#endif
