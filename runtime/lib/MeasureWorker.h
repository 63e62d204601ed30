//===- MeasureWorker.h - on-line tuning's measuring worker ----*- C++ -*-===//
//
// Internal to libkjit. On-line tuning measures each candidate in a helper
// process (autotune::ProcessMeasurer running `kjit-tune --measure-worker`),
// so that a candidate that crashes or hangs is a failed record and never
// takes the application down. This finds that executable.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_MEASUREWORKER_H
#define KJIT_RUNTIME_MEASUREWORKER_H

#include "kjit/kjit.h"

#include <string>

namespace kjit::runtime {

/// The measuring worker, first of: `option` (JitOptions::measureWorker),
/// $KJIT_MEASURE_WORKER, kjit-tune installed beside libkjit
/// (<prefix>/bin/kjit-tune for <prefix>/lib/libkjit.so), the build tree's
/// kjit-tune. A path given by the option or the variable must be an
/// executable file (no fallback: the user asked for it). The error says
/// what was tried and how to choose.
Result<std::string> findMeasureWorker(const std::string &option);

} // namespace kjit::runtime

#endif
