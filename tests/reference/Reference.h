//===- Reference.h - naive reference for kjit's conv ops -------*- C++ -*-===//
//
// Plain loops, double accumulation, no vectorization and no shared code with
// the kernels: the ground truth of the numerics tests. Semantics follow
// PyTorch conv2d(groups=C) (ARCHITECTURE.md, "Op semantics").
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_TESTS_REFERENCE_REFERENCE_H
#define KJIT_TESTS_REFERENCE_REFERENCE_H

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace kjit::reference {

/// One depthwise convolution, described without any kjit type.
struct DwConv {
  int64_t n = 1, c = 0, h = 0, w = 0;
  int64_t kh = 3, kw = 3;
  std::array<int64_t, 2> strides = {1, 1};       ///< h, w
  std::array<int64_t, 2> dilations = {1, 1};     ///< h, w
  std::array<int64_t, 4> padding = {0, 0, 0, 0}; ///< top, bottom, left, right
  bool nchw = false;                             ///< false: NHWC

  /// PyTorch's output size: (H + pt + pb - dh*(KH-1) - 1) / sh + 1.
  int64_t outH() const;
  int64_t outW() const;
  /// Output shape in the op's layout (N,OH,OW,C or N,C,OH,OW).
  std::vector<int64_t> outputShape() const;
  std::vector<int64_t> inputShape() const;
  int64_t inputSize() const { return n * c * h * w; }
  int64_t outputSize() const { return n * c * outH() * outW(); }
  int64_t filterSize() const { return c * kh * kw; }
  /// 2 * N * C * OH * OW * KH * KW.
  double flops() const;
};

/// out = depthwise_conv2d(in, filter C×KH×KW[, bias C]); bias may be null.
/// Input and output in the layout `p.nchw` says, C-contiguous.
std::vector<float> depthwiseConv2d(const DwConv &p, const float *input,
                                   const float *filter, const float *bias);

/// InceptionNeXt's token mixer: channels [identity | square | band_w |
/// band_h]; identity = c - gSq - gW - gH channels first. Computed as three
/// separate depthwise convs on channel slices ("same" padding, stride 1)
/// plus the copied identity slice, concatenated.
struct Inception {
  int64_t n = 1, c = 0, h = 0, w = 0;
  int64_t squareKernel = 3, bandKernel = 11;
  int64_t gSq = 0, gW = 0, gH = 0;
  bool nchw = false;
  int64_t identityChannels() const { return c - gSq - gW - gH; }
  int64_t size() const { return n * c * h * w; }
  /// 2 * N * H * W * (gSq*K*K + (gW + gH)*B).
  double flops() const;
};

/// wSq gSq×K×K, wW gW×1×B, wH gH×B×1.
std::vector<float> inceptionDepthwiseConv2d(const Inception &p,
                                            const float *input,
                                            const float *wSq, const float *wW,
                                            const float *wH);

/// Extracts channels [c0, c0+cn) of an N×C×H×W / N×H×W×C tensor.
std::vector<float> sliceChannels(const float *x, int64_t n, int64_t c,
                                 int64_t h, int64_t w, bool nchw, int64_t c0,
                                 int64_t cn);
/// Writes `src` (cn channels) into channels [c0, c0+cn) of `dst` (c channels).
void insertChannels(float *dst, const float *src, int64_t n, int64_t c,
                    int64_t h, int64_t w, bool nchw, int64_t c0, int64_t cn);

/// Result of comparing an output with the reference.
struct Comparison {
  double maxAbsErr = 0; ///< max |out - ref|
  double maxAbsRef = 0; ///< max |ref|
  int64_t worstIndex = -1;
  int64_t nonFinite = 0; ///< NaN/Inf in the output
  double tolerance = 0;  ///< rtol * (1 + maxAbsRef)
  bool ok = false;
  std::string describe() const;
};

/// The tests' tolerance: max |out - ref| <= rtol * (1 + max |ref|) and no
/// NaN/Inf. The default rtol 1e-4 is far above fp32 rounding for sums of up to
/// ~4000 products of O(1) values and far below any indexing error.
Comparison compare(const float *out, const std::vector<float> &ref,
                   double rtol = 1e-4);

} // namespace kjit::reference

#endif
