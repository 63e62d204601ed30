//===- Plot.cpp - SVG plot of a tuning run -------------------------------===//
#include "autotune/Plot.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

using namespace kjit::autotune;

namespace {
std::string esc(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '&')
      o += "&amp;";
    else if (c == '"')
      o += "&quot;";
    else
      o += c;
  }
  return o;
}
std::string num(double v) {
  char b[32];
  snprintf(b, sizeof b, "%.1f", v);
  return b;
}
const char *kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                          "#9467bd", "#8c564b", "#e377c2", "#17becf"};

/// The time each series is divided by: its default's, else its first.
double baseOf(const PlotSeries &s) {
  if (s.defaultSeconds && *s.defaultSeconds > 0)
    return *s.defaultSeconds;
  for (double v : s.bestSoFar)
    if (std::isfinite(v) && v > 0)
      return v;
  return 0;
}
} // namespace

std::string kjit::autotune::tracePlotSvg(
    const std::string &title, const std::vector<PlotSeries> &series) {
  const double W = 720, H = 420, L = 70, R = 200, T = 40, B = 50;
  double pw = W - L - R, ph = H - T - B;
  size_t maxN = 1;
  double lo = 1, hi = 1;
  for (const PlotSeries &s : series) {
    double base = baseOf(s);
    if (base <= 0)
      continue;
    maxN = std::max(maxN, s.bestSoFar.size());
    for (double v : s.bestSoFar)
      if (std::isfinite(v)) {
        lo = std::min(lo, v / base);
        hi = std::max(hi, v / base);
      }
    if (s.exhaustiveBest)
      lo = std::min(lo, *s.exhaustiveBest / base);
  }
  lo = std::max(0.0, lo - 0.05 * (hi - lo + 0.1));
  hi = hi + 0.05 * (hi - lo + 0.1);
  auto X = [&](double i) {
    return L + (maxN > 1 ? (i - 1) / double(maxN - 1) : 0.5) * pw;
  };
  auto Y = [&](double r) { return T + (hi - r) / (hi - lo) * ph; };
  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) +
       "\" height=\"" + num(H) + "\" font-family=\"sans-serif\" "
       "font-size=\"12\">\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o += "<text x=\"" + num(L) + "\" y=\"22\" font-size=\"14\">" + esc(title) +
       "</text>\n";
  // Axes and ticks.
  o += "<line x1=\"" + num(L) + "\" y1=\"" + num(T + ph) + "\" x2=\"" +
       num(L + pw) + "\" y2=\"" + num(T + ph) + "\" stroke=\"black\"/>\n";
  o += "<line x1=\"" + num(L) + "\" y1=\"" + num(T) + "\" x2=\"" + num(L) +
       "\" y2=\"" + num(T + ph) + "\" stroke=\"black\"/>\n";
  for (int k = 0; k <= 4; ++k) {
    double r = lo + (hi - lo) * k / 4;
    char b[32];
    snprintf(b, sizeof b, "%.2f", r);
    o += "<text x=\"" + num(L - 6) + "\" y=\"" + num(Y(r) + 4) +
         "\" text-anchor=\"end\">" + b + "</text>\n";
    o += "<line x1=\"" + num(L) + "\" y1=\"" + num(Y(r)) + "\" x2=\"" +
         num(L + pw) + "\" y2=\"" + num(Y(r)) +
         "\" stroke=\"#ddd\"/>\n";
  }
  for (int k = 0; k <= 4; ++k) {
    double i = 1 + (maxN - 1) * k / 4.0;
    o += "<text x=\"" + num(X(i)) + "\" y=\"" + num(T + ph + 16) +
         "\" text-anchor=\"middle\">" + std::to_string((int)std::lround(i)) +
         "</text>\n";
  }
  o += "<text x=\"" + num(L + pw / 2) + "\" y=\"" + num(H - 10) +
       "\" text-anchor=\"middle\">candidates measured</text>\n";
  o += "<text transform=\"translate(16," + num(T + ph / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">best-so-far time / default"
       "</text>\n";
  for (size_t k = 0; k < series.size(); ++k) {
    const PlotSeries &s = series[k];
    const char *col = kColours[k % 8];
    double base = baseOf(s);
    double ly = T + 14 + 18.0 * k;
    o += "<text x=\"" + num(L + pw + 12) + "\" y=\"" + num(ly) +
         "\" fill=\"" + col + "\">" + esc(s.label) + "</text>\n";
    if (base <= 0)
      continue;
    std::string pts;
    for (size_t i = 0; i < s.bestSoFar.size(); ++i)
      if (std::isfinite(s.bestSoFar[i]))
        pts += num(X(i + 1)) + "," + num(Y(s.bestSoFar[i] / base)) + " ";
    if (!pts.empty())
      o += "<polyline class=\"best-so-far\" fill=\"none\" stroke=\"" +
           std::string(col) + "\" stroke-width=\"2\" points=\"" + pts +
           "\"/>\n";
    if (s.exhaustiveBest)
      o += "<line class=\"exhaustive-best\" x1=\"" + num(L) + "\" y1=\"" +
           num(Y(*s.exhaustiveBest / base)) + "\" x2=\"" + num(L + pw) +
           "\" y2=\"" + num(Y(*s.exhaustiveBest / base)) + "\" stroke=\"" +
           col + "\" stroke-dasharray=\"6,4\"><title>exhaustive best</title>"
           "</line>\n";
  }
  o += "<text x=\"" + num(L + pw + 12) + "\" y=\"" + num(H - 30) +
       "\" fill=\"#555\">dashed: exhaustive best</text>\n";
  o += "</svg>\n";
  return o;
}

llvm::Error kjit::autotune::writeTracePlot(
    const std::string &path, const std::string &title,
    const std::vector<PlotSeries> &series) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return llvm::createStringError(ec, "cannot write '" + path +
                                           "': " + ec.message());
  os << tracePlotSvg(title, series);
  return llvm::Error::success();
}
