//===- Reference.cpp - naive reference for kjit's conv ops ----------------===//
#include "tests/reference/Reference.h"

#include <cmath>
#include <cstdio>

namespace kjit::reference {

int64_t DwConv::outH() const {
  return (h + padding[0] + padding[1] - dilations[0] * (kh - 1) - 1) /
             strides[0] +
         1;
}
int64_t DwConv::outW() const {
  return (w + padding[2] + padding[3] - dilations[1] * (kw - 1) - 1) /
             strides[1] +
         1;
}
std::vector<int64_t> DwConv::outputShape() const {
  if (nchw)
    return {n, c, outH(), outW()};
  return {n, outH(), outW(), c};
}
std::vector<int64_t> DwConv::inputShape() const {
  if (nchw)
    return {n, c, h, w};
  return {n, h, w, c};
}
double DwConv::flops() const { return 2.0 * n * c * outH() * outW() * kh * kw; }

namespace {
/// Offset of (b, ch, y, x) in an N×C×H×W or N×H×W×C contiguous tensor.
inline int64_t at(bool nchw, int64_t c, int64_t h, int64_t w, int64_t b,
                  int64_t ch, int64_t y, int64_t x) {
  return nchw ? ((b * c + ch) * h + y) * w + x : ((b * h + y) * w + x) * c + ch;
}
} // namespace

std::vector<float> depthwiseConv2d(const DwConv &p, const float *input,
                                   const float *filter, const float *bias) {
  const int64_t oh = p.outH(), ow = p.outW();
  std::vector<float> out(p.n * p.c * (oh > 0 ? oh : 0) * (ow > 0 ? ow : 0));
  for (int64_t b = 0; b < p.n; ++b)
    for (int64_t ch = 0; ch < p.c; ++ch)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double acc = bias ? bias[ch] : 0.0;
          for (int64_t ky = 0; ky < p.kh; ++ky) {
            int64_t iy = oy * p.strides[0] - p.padding[0] + ky * p.dilations[0];
            if (iy < 0 || iy >= p.h)
              continue;
            for (int64_t kx = 0; kx < p.kw; ++kx) {
              int64_t ix =
                  ox * p.strides[1] - p.padding[2] + kx * p.dilations[1];
              if (ix < 0 || ix >= p.w)
                continue;
              acc += double(input[at(p.nchw, p.c, p.h, p.w, b, ch, iy, ix)]) *
                     double(filter[(ch * p.kh + ky) * p.kw + kx]);
            }
          }
          out[at(p.nchw, p.c, oh, ow, b, ch, oy, ox)] = float(acc);
        }
  return out;
}

std::vector<float> sliceChannels(const float *x, int64_t n, int64_t c,
                                 int64_t h, int64_t w, bool nchw, int64_t c0,
                                 int64_t cn) {
  std::vector<float> out(n * cn * h * w);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < cn; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx)
          out[at(nchw, cn, h, w, b, ch, y, xx)] =
              x[at(nchw, c, h, w, b, c0 + ch, y, xx)];
  return out;
}

void insertChannels(float *dst, const float *src, int64_t n, int64_t c,
                    int64_t h, int64_t w, bool nchw, int64_t c0, int64_t cn) {
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < cn; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx)
          dst[at(nchw, c, h, w, b, c0 + ch, y, xx)] =
              src[at(nchw, cn, h, w, b, ch, y, xx)];
}

double Inception::flops() const {
  return 2.0 * n * h * w *
         double(gSq * squareKernel * squareKernel + (gW + gH) * bandKernel);
}

std::vector<float> inceptionDepthwiseConv2d(const Inception &p,
                                            const float *input,
                                            const float *wSq, const float *wW,
                                            const float *wH) {
  std::vector<float> out(p.size());
  const int64_t gId = p.identityChannels();
  // Identity branch: the first gId channels pass through.
  std::vector<float> id =
      sliceChannels(input, p.n, p.c, p.h, p.w, p.nchw, 0, gId);
  insertChannels(out.data(), id.data(), p.n, p.c, p.h, p.w, p.nchw, 0, gId);

  // One branch: a "same"-padded, stride-1 depthwise conv on a channel slice.
  auto branch = [&](int64_t c0, int64_t g, int64_t kh, int64_t kw,
                    const float *filter) {
    if (g == 0)
      return;
    std::vector<float> x =
        sliceChannels(input, p.n, p.c, p.h, p.w, p.nchw, c0, g);
    DwConv conv;
    conv.n = p.n;
    conv.c = g;
    conv.h = p.h;
    conv.w = p.w;
    conv.kh = kh;
    conv.kw = kw;
    conv.padding = {kh / 2, kh / 2, kw / 2, kw / 2};
    conv.nchw = p.nchw;
    std::vector<float> y = depthwiseConv2d(conv, x.data(), filter, nullptr);
    insertChannels(out.data(), y.data(), p.n, p.c, p.h, p.w, p.nchw, c0, g);
  };
  branch(gId, p.gSq, p.squareKernel, p.squareKernel, wSq);
  branch(gId + p.gSq, p.gW, 1, p.bandKernel, wW);
  branch(gId + p.gSq + p.gW, p.gH, p.bandKernel, 1, wH);
  return out;
}

std::string Comparison::describe() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "max|out-ref|=%.3g at index %lld, max|ref|=%.3g, "
                "tolerance=%.3g, non-finite=%lld",
                maxAbsErr, (long long)worstIndex, maxAbsRef, tolerance,
                (long long)nonFinite);
  return buf;
}

Comparison compare(const float *out, const std::vector<float> &ref,
                   double rtol) {
  Comparison c;
  for (size_t i = 0; i < ref.size(); ++i) {
    double r = ref[i], o = out[i];
    c.maxAbsRef = std::fmax(c.maxAbsRef, std::fabs(r));
    if (!std::isfinite(o)) {
      ++c.nonFinite;
      if (c.worstIndex < 0)
        c.worstIndex = int64_t(i);
      continue;
    }
    double e = std::fabs(o - r);
    if (e > c.maxAbsErr) {
      c.maxAbsErr = e;
      c.worstIndex = int64_t(i);
    }
  }
  c.tolerance = rtol * (1.0 + c.maxAbsRef);
  c.ok = c.nonFinite == 0 && c.maxAbsErr <= c.tolerance;
  return c;
}

} // namespace kjit::reference
