//===- Plot.h - SVG plot of a tuning run -----------------------*- C++ -*-===//
#ifndef KJIT_AUTOTUNE_PLOT_H
#define KJIT_AUTOTUNE_PLOT_H

#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace kjit::autotune {

/// One workload's curve: best-so-far seconds after each measurement (NaN
/// before the first success), the default's time and, where known, the
/// exhaustive (pruned-space) best.
struct PlotSeries {
  std::string label;
  std::vector<double> bestSoFar;
  std::optional<double> defaultSeconds;
  std::optional<double> exhaustiveBest;
};

/// The SVG text: best-so-far time relative to each workload's default (or
/// to its first success) against candidates measured, one line per
/// workload, the exhaustive best as a dashed line of the same colour.
std::string tracePlotSvg(const std::string &title,
                         const std::vector<PlotSeries> &series);
llvm::Error writeTracePlot(const std::string &path, const std::string &title,
                           const std::vector<PlotSeries> &series);

} // namespace kjit::autotune

#endif
