//===- kjit_example.cpp - JIT two large-kernel conv layers from C++ -------===//
//
// The "main job" of the README: JIT-compile and run
//   1. UniRepLKNet's 13x13 depthwise conv (N=1, C=256, 56x56, NHWC, "same"
//      padding, bias), and
//   2. InceptionNeXt-T's token mixer at stage 1 (N=1, C=96, 56x56, NCHW as in
//      PyTorch; C/8 = 12 channels each for the 3x3 square, 1x11 and 11x1
//      bands, the other 60 channels identity),
// check both against a naive reference written here (plain loops, double
// accumulation), and print the time per call (median of repeats) and GFLOP/s.
// It uses only kjit/kjit.h: copy it as a start for your own program.
//
// Usage: kjit_example [--threads=N] [--repeat=N]
// Exit code: 0 when both kernels match the reference, 1 otherwise.
//
//===----------------------------------------------------------------------===//
#include "kjit/kjit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------------------
// A small reference: one depthwise conv on an N x C x H x W or N x H x W x C
// tensor; the Inception mixer below is built from three of them.
// ---------------------------------------------------------------------------
struct RefConv {
  int64_t n, c, h, w, kh, kw, pt, pl; // stride 1, dilation 1, "same" output
  bool nchw;
  int64_t at(int64_t b, int64_t ch, int64_t y, int64_t x) const {
    return nchw ? ((b * c + ch) * h + y) * w + x
                : ((b * h + y) * w + x) * c + ch;
  }
};

/// out[b, c0+ch] = conv(in[b, c0+ch], filter[ch]) (+ bias[ch]) for ch < cn,
/// on the channel slice [c0, c0+cn) of a tensor with p.c channels.
void refDepthwise(const RefConv &p, const float *in, const float *filter,
                  const float *bias, float *out, int64_t c0, int64_t cn) {
  for (int64_t b = 0; b < p.n; ++b)
    for (int64_t ch = 0; ch < cn; ++ch)
      for (int64_t oy = 0; oy < p.h; ++oy)
        for (int64_t ox = 0; ox < p.w; ++ox) {
          double acc = bias ? bias[ch] : 0.0;
          for (int64_t ky = 0; ky < p.kh; ++ky) {
            int64_t iy = oy - p.pt + ky;
            if (iy < 0 || iy >= p.h)
              continue;
            for (int64_t kx = 0; kx < p.kw; ++kx) {
              int64_t ix = ox - p.pl + kx;
              if (ix < 0 || ix >= p.w)
                continue;
              acc += double(in[p.at(b, c0 + ch, iy, ix)]) *
                     double(filter[(ch * p.kh + ky) * p.kw + kx]);
            }
          }
          out[p.at(b, c0 + ch, oy, ox)] = float(acc);
        }
}

/// max |out - ref| <= 1e-4 * (1 + max |ref|), no NaN/Inf.
bool check(const char *what, const std::vector<float> &out,
           const std::vector<float> &ref) {
  double maxErr = 0, maxRef = 0;
  bool finite = true;
  for (size_t i = 0; i < ref.size(); ++i) {
    finite = finite && std::isfinite(out[i]);
    maxErr = std::max(maxErr, std::fabs(double(out[i]) - ref[i]));
    maxRef = std::max(maxRef, std::fabs(double(ref[i])));
  }
  double tol = 1e-4 * (1 + maxRef);
  bool ok = finite && maxErr <= tol;
  std::printf("  check %-28s max|err| = %.2e (tolerance %.2e)  %s\n", what,
              maxErr, tol, ok ? "OK" : "MISMATCH");
  return ok;
}

std::vector<float> randomVector(size_t n, std::mt19937 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &e : v)
    e = u(rng);
  return v;
}

/// Median wall time of one call in ms, after a warm-up call.
template <typename F> double medianMs(int repeat, F &&call) {
  call();
  std::vector<double> t;
  for (int i = 0; i < repeat; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    call();
    auto t1 = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - t0)
      .count();
}

} // namespace

int main(int argc, char **argv) {
  int threads = 0, repeat = 50;
  for (int i = 1; i < argc; ++i) {
    if (!std::strncmp(argv[i], "--threads=", 10))
      threads = std::atoi(argv[i] + 10);
    else if (!std::strncmp(argv[i], "--repeat=", 9))
      repeat = std::max(1, std::atoi(argv[i] + 9));
    else {
      std::fprintf(stderr, "usage: %s [--threads=N] [--repeat=N]\n", argv[0]);
      return 2;
    }
  }

  kjit::Jit jit; // the host CPU, the default kernel cache
  kjit::CompileOptions opts;
  opts.threads = threads; // 0: the tuned or default config's choice
  std::mt19937 rng(2026);
  std::printf("%s on %s\n", kjit::version().c_str(),
              jit.target().key().c_str());
  bool allOk = true;

  // ---- 1. UniRepLKNet: 13x13 depthwise conv, NHWC ------------------------
  {
    kjit::DepthwiseConv2d op;
    op.batch = 1, op.channels = 256, op.height = 56, op.width = 56;
    op.kernel = {13, 13};
    op.layout = "nhwc";
    op.bias = true;
    op.samePadding();

    auto t0 = std::chrono::steady_clock::now();
    kjit::Result<kjit::Kernel> k = jit.compile(op, opts);
    double compileMs = msSince(t0);
    if (!k) {
      std::fprintf(stderr, "compile failed: %s\n", k.errorMessage().c_str());
      return 1;
    }
    const int64_t C = 256, H = 56, W = 56;
    std::vector<float> x = randomVector(H * W * C, rng);
    std::vector<float> f = randomVector(C * 13 * 13, rng);
    std::vector<float> b = randomVector(C, rng);
    std::vector<float> y(H * W * C);
    std::vector<kjit::TensorView> ins = {
        {x.data(), {1, H, W, C}}, {f.data(), {C, 13, 13}}, {b.data(), {C}}};
    std::vector<kjit::TensorView> outs = {{y.data(), {1, H, W, C}}};
    kjit::Status st = k->run(ins, outs);
    if (!st) {
      std::fprintf(stderr, "run failed: %s\n", st.message().c_str());
      return 1;
    }
    std::printf("\nUniRepLKNet depthwise 13x13, 1x56x56x256 NHWC, bias\n");
    std::printf("  config  %s\n  origin  %s, %.1f ms\n",
                k->configs().empty() ? "?" : k->configs()[0].c_str(),
                k->origin().c_str(), compileMs);
    std::vector<float> ref(y.size());
    refDepthwise({1, C, H, W, 13, 13, 6, 6, false}, x.data(), f.data(),
                 b.data(), ref.data(), 0, C);
    allOk &= check("13x13 depthwise", y, ref);
    double ms = medianMs(repeat, [&] { (void)k->run(ins, outs); });
    double flop = 2.0 * C * H * W * 13 * 13;
    std::printf("  time    %.3f ms per call (median of %d), %.1f GFLOP/s\n", ms,
                repeat, flop / ms * 1e-6);
  }

  // ---- 2. InceptionNeXt token mixer, NCHW --------------------------------
  {
    const int64_t C = 96, H = 56, W = 56, K = 3, B = 11, g = C / 8;
    kjit::InceptionDepthwiseConv2d op;
    op.batch = 1, op.channels = C, op.height = H, op.width = W;
    op.squareKernel = K;
    op.bandKernel = B;
    op.branchChannels = {g, g, g};
    op.layout = "nchw";

    auto t0 = std::chrono::steady_clock::now();
    kjit::Result<kjit::Kernel> k = jit.compile(op, opts);
    double compileMs = msSince(t0);
    if (!k) {
      std::fprintf(stderr, "compile failed: %s\n", k.errorMessage().c_str());
      return 1;
    }
    std::vector<float> x = randomVector(C * H * W, rng);
    std::vector<float> wSq = randomVector(g * K * K, rng);
    std::vector<float> wW = randomVector(g * B, rng);
    std::vector<float> wH = randomVector(g * B, rng);
    std::vector<float> y(C * H * W);
    std::vector<kjit::TensorView> ins = {{x.data(), {1, C, H, W}},
                                         {wSq.data(), {g, K, K}},
                                         {wW.data(), {g, 1, B}},
                                         {wH.data(), {g, B, 1}}};
    std::vector<kjit::TensorView> outs = {{y.data(), {1, C, H, W}}};
    kjit::Status st = k->run(ins, outs);
    if (!st) {
      std::fprintf(stderr, "run failed: %s\n", st.message().c_str());
      return 1;
    }
    std::printf("\nInceptionNeXt mixer, 1x96x56x56 NCHW: 60 identity + 12 "
                "3x3 + 12 1x11 + 12 11x1 channels\n");
    std::printf("  config  %s\n  origin  %s, %.1f ms\n",
                k->configs().empty() ? "?" : k->configs()[0].c_str(),
                k->origin().c_str(), compileMs);
    // Reference: identity copy + three separate convs on channel slices.
    std::vector<float> ref(x);
    const int64_t id = C - 3 * g;
    refDepthwise({1, C, H, W, K, K, K / 2, K / 2, true}, x.data(), wSq.data(),
                 nullptr, ref.data(), id, g);
    refDepthwise({1, C, H, W, 1, B, 0, B / 2, true}, x.data(), wW.data(),
                 nullptr, ref.data(), id + g, g);
    refDepthwise({1, C, H, W, B, 1, B / 2, 0, true}, x.data(), wH.data(),
                 nullptr, ref.data(), id + 2 * g, g);
    allOk &= check("Inception mixer", y, ref);
    double ms = medianMs(repeat, [&] { (void)k->run(ins, outs); });
    double flop = 2.0 * H * W * g * (K * K + 2 * B);
    std::printf("  time    %.3f ms per call (median of %d), %.1f GFLOP/s "
                "(identity copy not counted)\n",
                ms, repeat, flop / ms * 1e-6);
  }

  std::printf("\n%s\n", allOk ? "all results match the reference"
                              : "MISMATCH against the reference");
  return allOk ? 0 : 1;
}
