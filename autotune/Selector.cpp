//===- Selector.cpp - run-time config selection from the database --------===//
#include "autotune/Selector.h"

#include <cctype>
#include <cmath>

using namespace kjit::autotune;

namespace {
/// `text` with every static dimension of a `tensor<...>` type replaced by
/// '?', and those dimensions in order.
std::string skeleton(const std::string &text, std::vector<int64_t> &dims) {
  static const std::string kTensor = "tensor<";
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t at = text.find(kTensor, i);
    if (at == std::string::npos) {
      out.append(text, i, std::string::npos);
      break;
    }
    at += kTensor.size();
    out.append(text, i, at - i);
    i = at;
    for (;;) {
      size_t j = i;
      while (j < text.size() && isdigit((unsigned char)text[j]))
        ++j;
      if (j == i || j >= text.size() || text[j] != 'x')
        break;
      dims.push_back(std::stoll(text.substr(i, j - i)));
      out += "?x";
      i = j + 1;
    }
  }
  return out;
}
} // namespace

std::optional<double>
kjit::autotune::workloadDistance(const std::string &a, const std::string &b) {
  std::vector<int64_t> da, db;
  if (skeleton(a, da) != skeleton(b, db) || da.size() != db.size())
    return std::nullopt;
  double d = 0;
  for (size_t i = 0; i < da.size(); ++i)
    d += std::fabs(std::log((1.0 + da[i]) / (1.0 + db[i])));
  return d;
}

llvm::Expected<Selection>
kjit::autotune::selectConfig(SqliteDatabase &db, const Workload &workload,
                             const std::string &targetKey,
                             const std::string &compilerKey) {
  Selection s;
  auto exact = db.bestRecord(workload.key, targetKey, compilerKey);
  if (!exact)
    return exact.takeError();
  if (*exact) {
    s.source = Selection::Source::Exact;
    s.config = (*exact)->config;
    s.fromWorkloadKey = (*exact)->workloadKey;
    return s;
  }
  auto tuned = db.bestPerWorkload(workload.opName, targetKey, compilerKey);
  if (!tuned)
    return tuned.takeError();
  for (const Record &r : *tuned) {
    std::optional<double> d =
        workloadDistance(workload.canonicalText, r.workloadText);
    if (!d)
      continue;
    // Ties: the first by workload key (deterministic).
    if (s.source == Selection::Source::None || *d < s.distance) {
      s.source = Selection::Source::Nearest;
      s.config = r.config;
      s.fromWorkloadKey = r.workloadKey;
      s.distance = *d;
    }
  }
  return s;
}
