//===- ButterflyBench.cpp - Monarch product: kjit vs dense sgemm ----------===//
//
// kjit.butterfly_matmul with N = 4096 (m1 = m2 = 64) on 3136 rows (a 56x56
// feature map), fp32, 1 and 2 threads, against the same linear map as a dense
// N x N matrix (multiplied out: M[i'*m2+j][i*m2+q] = l[j][i'][i] r[i][j][q])
// through oneDNN's dnnl_sgemm (Y = X M^T), in the same process.
//
// Every implementation's output is checked against the other before timing
// (relative L2 difference printed). Each case runs `reps` times after one
// warm-up; the table shows medians. Run with
// LD_LIBRARY_PATH=/usr/lib/llvm-22/lib so oneDNN and kjit share one OpenMP
// runtime (see bench/results/2026-11-27-dwconv.md, run B).
//
// Usage: kjit_bench_butterfly [reps=5] [extra kjit configs...]
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "kjit/kjit.h"

#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {
using kjit::bench::medianMs;
using kjit::bench::relDiff;

constexpr int64_t kB = 3136, kM1 = 64, kM2 = 64, kN = kM1 * kM2;

void setOmpThreads(int n) {
  using Fn = void (*)(int);
  if (auto f = (Fn)dlsym(RTLD_DEFAULT, "omp_set_num_threads"))
    f(n);
}

std::string module() {
  std::string xt = "tensor<" + std::to_string(kB) + "x" + std::to_string(kN) +
                   "xf32>";
  std::string rt = "tensor<64x64x64xf32>";
  return "func.func @main(%x: " + xt + ", %r: " + rt + ", %l: " + rt +
         ") -> " + xt + " {\n  %y = kjit.butterfly_matmul %x, %r, %l : " + xt +
         ", " + rt + ", " + rt + " -> " + xt + "\n  return %y : " + xt +
         "\n}\n";
}

} // namespace

int main(int argc, char **argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  std::vector<std::string> extra;
  for (int i = 2; i < argc; ++i)
    extra.push_back(argv[i]);

  std::mt19937_64 rng(1234);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(kB * kN), r(kM1 * kM2 * kM2), l(kM2 * kM1 * kM1);
  for (float &e : x)
    e = u(rng);
  for (float &e : r)
    e = u(rng) / 8;
  for (float &e : l)
    e = u(rng) / 8;
  std::vector<float> dense(kN * kN);
  for (int64_t ip = 0; ip < kM1; ++ip)
    for (int64_t j = 0; j < kM2; ++j)
      for (int64_t i = 0; i < kM1; ++i)
        for (int64_t q = 0; q < kM2; ++q)
          dense[(ip * kM2 + j) * kN + i * kM2 + q] =
              l[(j * kM1 + ip) * kM1 + i] * r[(i * kM2 + j) * kM2 + q];

  kjit::Jit jit(kjit::Target::host(), [] {
    kjit::JitOptions o;
    o.diskCache = false;
    return o;
  }());
  std::printf("target %s\n", jit.target().key().c_str());
  std::string text = module();

  struct Row {
    int threads;
    std::string config;
    double kjitMs, denseMs, diff;
  };
  std::vector<Row> rows;
  for (int threads : {1, 2}) {
    setOmpThreads(threads);
    std::vector<float> yd(kB * kN);
    double denseMs = medianMs(reps, [&] {
      dnnl_sgemm('N', 'T', kB, kN, kN, 1.0f, x.data(), kN, dense.data(), kN,
                 0.0f, yd.data(), kN);
    });
    std::vector<std::string> configs = {""};
    for (auto &e : extra)
      configs.push_back(e);
    for (const std::string &cfg : configs) {
      kjit::CompileOptions opts;
      opts.threads = threads;
      opts.config = cfg;
      auto k = jit.compileModule(text, opts);
      if (!k) {
        std::fprintf(stderr, "compile failed: %s\n", k.errorMessage().c_str());
        return 1;
      }
      std::vector<float> y(kB * kN);
      auto run = [&] {
        kjit::Status s = k->run({kjit::TensorView(x.data(), {kB, kN}),
                                 kjit::TensorView(r.data(), {kM1, kM2, kM2}),
                                 kjit::TensorView(l.data(), {kM2, kM1, kM1})},
                                {kjit::TensorView(y.data(), {kB, kN})});
        if (!s) {
          std::fprintf(stderr, "run failed: %s\n", s.message().c_str());
          std::exit(1);
        }
      };
      run();
      double diff = relDiff(y, yd);
      double ms = medianMs(reps, run);
      rows.push_back({threads, k->configs().empty() ? "" : k->configs()[0],
                      ms, denseMs, diff});
      std::fprintf(stderr, "t=%d %s: %.2f ms (dense %.2f ms), rel diff %.1e\n",
                   threads, rows.back().config.c_str(), ms, denseMs, diff);
    }
  }

  double flopsM = 2.0 * kB * kN * (kM1 + kM2), flopsD = 2.0 * kB * kN * kN;
  std::printf("\n## Monarch product, B=%lld, N=%lld (%lldx%lld), fp32 "
              "(medians of %d)\n\n",
              (long long)kB, (long long)kN, (long long)kM1, (long long)kM2,
              reps);
  std::printf("| threads | kjit config | kjit butterfly_matmul | dense "
              "dnnl_sgemm (N x N) | dense / kjit | rel. L2 diff |\n"
              "|---|---|---|---|---|---|\n");
  for (const Row &w : rows)
    std::printf("| %d | `%s` | %.2f ms (%.1f GFLOP/s) | %.2f ms (%.1f "
                "GFLOP/s) | %.1f× | %.1e |\n",
                w.threads, w.config.c_str(), w.kjitMs,
                flopsM / w.kjitMs * 1e-6, w.denseMs, flopsD / w.denseMs * 1e-6,
                w.denseMs / w.kjitMs, w.diff);
  return 0;
}
