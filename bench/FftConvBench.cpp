//===- FftConvBench.cpp - kjit.fft_conv vs FFTW r2c/c2r -------------------===//
//
// Causal long convolution, 64 rows (B = 1, C = 64), Lk = L (a full-length
// kernel as in Hyena / FlashFFTConv), L = 4096 and 65536, with skip d,
// fp32, 1 and 2 threads, against FFTW (single precision) in the same
// process:
//
//   FFTW: N = 2L (>= L + Lk - 1); fftwf_plan_dft_r2c_1d / c2r with
//   FFTW_MEASURE, planned before timing; the kernel spectra (already
//   scaled by 1/N) computed before timing; per row r2c, pointwise product
//   with the channel's spectrum, c2r, y = first L points + d u. Two threads:
//   rows split over two std::threads with the new-array execute functions
//   (thread-safe on one plan), each thread with its own buffers.
//   kjit: the whole op per call; the kernel spectra are cached by the
//   kernel across calls with the same k (bitwise compare of k against a
//   copy: the compare is in the timed call). A second kjit column times
//   calls whose k alternates between two contents, so every call
//   recomputes the 64 spectra.
//
// Outputs are compared (relative L2 difference printed). Each case runs
// `reps` times after one warm-up; the table shows medians.
//
// Usage: kjit_bench_fftconv [reps=7] [extra kjit configs...]
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "kjit/kjit.h"

#include <fftw3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {
using kjit::bench::medianMs;
using kjit::bench::relDiff;

constexpr int64_t kB = 1, kC = 64;

std::string module(int64_t L) {
  std::string ut = "tensor<" + std::to_string(kB) + "x" + std::to_string(kC) +
                   "x" + std::to_string(L) + "xf32>";
  std::string kt =
      "tensor<" + std::to_string(kC) + "x" + std::to_string(L) + "xf32>";
  std::string dt = "tensor<" + std::to_string(kC) + "xf32>";
  return "func.func @main(%u: " + ut + ", %k: " + kt + ", %d: " + dt +
         ") -> " + ut + " {\n  %y = kjit.fft_conv %u, %k, %d : " + ut + ", " +
         kt + ", " + dt + " -> " + ut + "\n  return %y : " + ut + "\n}\n";
}

/// FFTW peer: plans and kernel spectra made once.
struct FftwConv {
  int64_t L, N, NC;
  fftwf_plan r2c = nullptr, c2r = nullptr;
  std::vector<fftwf_complex *> spec; // per channel, scaled by 1/N
  struct Buf {
    float *x;
    fftwf_complex *X;
  };
  std::vector<Buf> bufs; // one per thread

  FftwConv(int64_t L, const std::vector<float> &k, int maxThreads)
      : L(L), N(2 * L), NC(L + 1) {
    for (int t = 0; t < maxThreads; ++t)
      bufs.push_back({fftwf_alloc_real(N), fftwf_alloc_complex(NC)});
    r2c = fftwf_plan_dft_r2c_1d((int)N, bufs[0].x, bufs[0].X, FFTW_MEASURE);
    c2r = fftwf_plan_dft_c2r_1d((int)N, bufs[0].X, bufs[0].x, FFTW_MEASURE);
    for (int64_t c = 0; c < kC; ++c) {
      fftwf_complex *s = fftwf_alloc_complex(NC);
      std::fill(bufs[0].x, bufs[0].x + N, 0.0f);
      std::copy(&k[c * L], &k[c * L] + L, bufs[0].x);
      fftwf_execute_dft_r2c(r2c, bufs[0].x, s);
      for (int64_t i = 0; i < NC; ++i) {
        s[i][0] /= float(N);
        s[i][1] /= float(N);
      }
      spec.push_back(s);
    }
  }
  ~FftwConv() {
    for (auto *s : spec)
      fftwf_free(s);
    for (auto &b : bufs) {
      fftwf_free(b.x);
      fftwf_free(b.X);
    }
    fftwf_destroy_plan(r2c);
    fftwf_destroy_plan(c2r);
  }
  void rows(int64_t r0, int64_t r1, const float *u, const float *d, float *y,
            Buf &b) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t c = r % kC;
      const float *ur = u + r * L;
      std::copy(ur, ur + L, b.x);
      std::fill(b.x + L, b.x + N, 0.0f);
      fftwf_execute_dft_r2c(r2c, b.x, b.X);
      const fftwf_complex *s = spec[c];
      for (int64_t i = 0; i < NC; ++i) {
        float re = b.X[i][0] * s[i][0] - b.X[i][1] * s[i][1];
        float im = b.X[i][0] * s[i][1] + b.X[i][1] * s[i][0];
        b.X[i][0] = re;
        b.X[i][1] = im;
      }
      fftwf_execute_dft_c2r(c2r, b.X, b.x);
      float *yr = y + r * L;
      for (int64_t t = 0; t < L; ++t)
        yr[t] = b.x[t] + d[c] * ur[t];
    }
  }
  void run(const float *u, const float *d, float *y, int threads) {
    int64_t rowsN = kB * kC;
    if (threads <= 1) {
      rows(0, rowsN, u, d, y, bufs[0]);
      return;
    }
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        rows(rowsN * t / threads, rowsN * (t + 1) / threads, u, d, y,
             bufs[t]);
      });
    for (auto &t : ts)
      t.join();
  }
};

/// kjit and the peer timed in alternation (peer, kjit, peer, kjit, ...),
/// so load from other processes hits both alike: medians of each and the
/// median of the per-round ratios peer / kjit.
struct Paired {
  double kjitMs, peerMs, ratio;
  double kjitMin = 0, peerMin = 0; ///< fastest round of each
};
/// cpuTime: the calling thread's CPU time instead of wall time (only
/// meaningful for one thread: both run on the calling thread then); on a
/// loaded machine it leaves out the time the thread was not running.
Paired pairedMs(int reps, const std::function<void()> &kjitFn,
                const std::function<void()> &peerFn, bool cpuTime = false) {
  kjitFn();
  peerFn();
  std::vector<double> tk, tp, r;
  auto time = [cpuTime](const std::function<void()> &fn) {
    if (cpuTime) {
      timespec a, b;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
      fn();
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
      return (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) * 1e-6;
    }
    auto a = std::chrono::steady_clock::now();
    fn();
    auto b = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  for (int i = 0; i < reps; ++i) {
    double p = time(peerFn), k = time(kjitFn);
    tp.push_back(p);
    tk.push_back(k);
    r.push_back(p / k);
  }
  auto med = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  return {med(tk), med(tp), med(r), *std::min_element(tk.begin(), tk.end()),
          *std::min_element(tp.begin(), tp.end())};
}

} // namespace

int main(int argc, char **argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 7;
  std::vector<std::string> extra;
  for (int i = 2; i < argc; ++i)
    extra.push_back(argv[i]);

  kjit::Jit jit(kjit::Target::host(), [] {
    kjit::JitOptions o;
    o.diskCache = false;
    return o;
  }());
  std::printf("target %s\n", jit.target().key().c_str());

  struct Row {
    int64_t L;
    int threads;
    std::string config;
    Paired t, cpu;
    double newKMs, diff;
  };
  std::vector<Row> out;
  for (int64_t L : {int64_t(4096), int64_t(65536)}) {
    std::mt19937_64 rng(1234 + L);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> u(kB * kC * L), k(kC * L), k2(kC * L), d(kC);
    for (float &e : u)
      e = dist(rng);
    for (float &e : k)
      e = dist(rng) / std::sqrt(float(L));
    for (float &e : k2)
      e = dist(rng) / std::sqrt(float(L));
    for (float &e : d)
      e = dist(rng);
    FftwConv peer(L, k, 2);
    std::string text = module(L);
    for (int threads : {1, 2}) {
      std::vector<float> yf(kB * kC * L);
      auto fftw = [&] { peer.run(u.data(), d.data(), yf.data(), threads); };
      std::vector<std::string> configs = {""};
      for (auto &e : extra)
        configs.push_back(e);
      for (const std::string &cfg : configs) {
        kjit::CompileOptions opts;
        opts.threads = threads;
        opts.config = cfg;
        auto kr = jit.compileModule(text, opts);
        if (!kr) {
          std::fprintf(stderr, "compile failed: %s\n",
                       kr.errorMessage().c_str());
          return 1;
        }
        std::vector<float> y(kB * kC * L);
        auto runWith = [&](std::vector<float> &kk) {
          kjit::Status s =
              kr->run({kjit::TensorView(u.data(), {kB, kC, L}),
                       kjit::TensorView(kk.data(), {kC, L}),
                       kjit::TensorView(d.data(), {kC})},
                      {kjit::TensorView(y.data(), {kB, kC, L})});
          if (!s) {
            std::fprintf(stderr, "run failed: %s\n", s.message().c_str());
            std::exit(1);
          }
        };
        auto run = [&] { runWith(k); };
        fftw();
        run();
        double diff = relDiff(y, yf);
        Paired t = pairedMs(reps, run, fftw);
        Paired cpu{0, 0, 0};
        if (threads == 1)
          cpu = pairedMs(reps, run, fftw, /*cpuTime=*/true);
        // k alternating between two contents: every call recomputes the
        // 64 kernel spectra (the cache's miss path).
        int flip = 0;
        double newK = medianMs(reps, [&] { runWith(++flip % 2 ? k2 : k); });
        out.push_back({L, threads,
                       kr->configs().empty() ? "" : kr->configs()[0], t, cpu,
                       newK, diff});
        std::fprintf(stderr,
                     "L=%lld t=%d %s: %.3f ms (FFTW %.3f ms, ratio %.2f), "
                     "new k every call %.3f ms, rel diff %.1e\n",
                     (long long)L, threads, out.back().config.c_str(),
                     t.kjitMs, t.peerMs, t.ratio, newK, diff);
      }
    }
  }

  std::printf("\n## fft_conv, B=%lld, C=%lld, Lk = L, with d, fp32 (medians "
              "of %d, kjit and FFTW timed in alternation)\n\n",
              (long long)kB, (long long)kC, reps);
  std::printf("| L | threads | kjit config | kjit (spectra cached) | FFTW "
              "r2c/c2r (planned, spectra precomputed) | FFTW / kjit "
              "(median of paired ratios) | kjit, k changed every call | rel. "
              "L2 diff |\n|---|---|---|---|---|---|---|---|\n");
  for (const Row &w : out)
    std::printf("| %lld | %d | `%s` | %.3f ms | %.3f ms | %.2f× | %.3f ms | "
                "%.1e |\n",
                (long long)w.L, w.threads, w.config.c_str(), w.t.kjitMs,
                w.t.peerMs, w.t.ratio, w.newKMs, w.diff);
  std::printf("\n## One thread, thread CPU time (leaves out time the "
              "thread was descheduled)\n\n| L | kjit config | kjit | FFTW | "
              "FFTW / kjit |\n|---|---|---|---|---|\n");
  for (const Row &w : out)
    if (w.threads == 1)
      std::printf("| %lld | `%s` | %.3f ms | %.3f ms | %.2f× |\n",
                  (long long)w.L, w.config.c_str(), w.cpu.kjitMs,
                  w.cpu.peerMs, w.cpu.ratio);
  std::printf("\n## 2 threads / 1 thread (same config; medians, and the "
              "fastest rounds)\n\n| L | kjit config | kjit 1T / 2T | FFTW 1T / "
              "2T | kjit 1T / 2T, fastest | FFTW 1T / 2T, fastest |\n"
              "|---|---|---|---|---|---|\n");
  for (const Row &a : out)
    for (const Row &b2 : out)
      if (a.L == b2.L && a.threads == 1 && b2.threads == 2 &&
          &a - &out[0] == (&b2 - &out[0]) - (int64_t)(1 + extra.size()))
        std::printf("| %lld | `%s` | %.2f× | %.2f× | %.2f× (%.3f / %.3f ms) "
                    "| %.2f× (%.3f / %.3f ms) |\n",
                    (long long)a.L, a.config.c_str(),
                    a.t.kjitMs / b2.t.kjitMs, a.t.peerMs / b2.t.peerMs,
                    a.t.kjitMin / b2.t.kjitMin, a.t.kjitMin, b2.t.kjitMin,
                    a.t.peerMin / b2.t.peerMin, a.t.peerMin, b2.t.peerMin);
  return 0;
}
