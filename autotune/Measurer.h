//===- Measurer.h - time a candidate through the runtime -------*- C++ -*-===//
#ifndef KJIT_AUTOTUNE_MEASURER_H
#define KJIT_AUTOTUNE_MEASURER_H

#include "autotune/Autotune.h"
#include "autotune/Space.h"
#include "kjit/kjit.h"

#include <map>
#include <memory>

namespace kjit::autotune {

struct MeasureOptions {
  int warmup = 2;   ///< untimed runs after the compile
  int repeats = 7;  ///< timed runs; the median is reported
  /// Input sets rotated between runs so that caches do not flatter: at
  /// least this many, and enough to exceed `rotateBytes` in total.
  int minInputSets = 2;
  double rotateBytes = 8.0 * 1024 * 1024;
  unsigned seed = 1;
};

/// Compiles a candidate with the runtime (Jit::compileModule, config =
/// the candidate) and times Kernel::run: warm-up, median of repeats, spread
/// (max - min of the timed runs), rotated freshly filled input buffers (a
/// CSR operand gets a valid random structure).
/// An illegal config (verifyConfig) and a compile error come back as failed
/// measurements with the message.
class RuntimeMeasurer : public Measurer {
public:
  RuntimeMeasurer(kjit::Jit &jit, TargetInfo target,
                  MeasureOptions options = {});
  ~RuntimeMeasurer() override;
  Measurement measure(const Workload &workload,
                      const Candidate &candidate) override;

private:
  kjit::Jit &jit_;
  TargetInfo target_;
  MeasureOptions options_;
  std::map<std::string, std::unique_ptr<ParsedWorkload>> parsed_;
};

} // namespace kjit::autotune

#endif
