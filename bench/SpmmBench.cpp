//===- SpmmBench.cpp - kjit.spmm vs Eigen sparse and a dense sgemm --------===//
//
// A: 1024 x 1024 CSR at 70 / 90 / 95 % sparsity (uniform random pattern),
// b: dense 1024 x 3136 (the 1x1 conv of Fast Sparse ConvNets: C_in x H*W,
// 56 x 56), fp32, 1 and 2 threads. Peers in the same process:
//   - Eigen 3.4: SparseMatrix<float, RowMajor> * row-major dense
//     (Eigen parallelizes this product with OpenMP; threads via
//     Eigen::setNbThreads);
//   - dense sgemm of the same A with its zeros (oneDNN's dnnl_sgemm, Debian
//     libdnnl; OpenBLAS is not installed on this machine), the "dense" line.
// kjit kernels are compiled before timing (threads in the compile options).
// Every output is checked against Eigen's before timing. Each case: 1 warm-up
// + KJIT_BENCH_REPS (default 7) timed runs, median. Prints a markdown table.
// KJIT_BENCH_CONFIG=<#kjit.config<...>> times kjit with other knobs.
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "kjit/kjit.h"

#include <Eigen/Dense>
#include <Eigen/Sparse>
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

constexpr int64_t kM = 1024, kK = 1024, kN = 3136;

// oneDNN uses GNU libgomp; set its team size through the libgomp it loaded.
void setGompThreads(int n) {
  void *h = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (!h)
    h = dlopen("libgomp.so.1", RTLD_LAZY);
  if (h)
    if (auto f = (void (*)(int))dlsym(h, "omp_set_num_threads"))
      f(n);
}

int reps() {
  const char *s = std::getenv("KJIT_BENCH_REPS");
  return s ? std::max(1, atoi(s)) : 7;
}

double maxRelErr(const float *a, const float *b, size_t n) {
  double mx = 0, ref = 0;
  for (size_t i = 0; i < n; ++i) {
    mx = std::max(mx, std::fabs(double(a[i]) - double(b[i])));
    ref = std::max(ref, std::fabs(double(b[i])));
  }
  return mx / (1 + ref);
}

std::string spmmModule(int64_t nnz) {
  std::string rp = "tensor<" + std::to_string(kM + 1) + "xi32>",
              ci = "tensor<" + std::to_string(nnz) + "xi32>",
              v = "tensor<" + std::to_string(nnz) + "xf32>",
              bt = "tensor<" + std::to_string(kK) + "x" + std::to_string(kN) +
                   "xf32>",
              ot = "tensor<" + std::to_string(kM) + "x" + std::to_string(kN) +
                   "xf32>";
  return "func.func @main(%rp: " + rp + ", %ci: " + ci + ", %v: " + v +
         ", %b: " + bt + ") -> " + ot + " {\n  %y = kjit.spmm %rp, %ci, %v, "
         "%b : " + rp + ", " + ci + ", " + v + ", " + bt + " -> " + ot +
         "\n  return %y : " + ot + "\n}\n";
}

struct Row {
  int sparsity, threads;
  double kjit, eigen, dense;
  std::string config;
};

} // namespace

int main() {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> b(size_t(kK * kN));
  for (float &x : b)
    x = u(rng);
  Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic,
                           Eigen::RowMajor>>
      bE(b.data(), kK, kN);

  kjit::JitOptions jo;
  jo.diskCache = false;
  kjit::Jit jit(kjit::Target::host(), jo);
  std::vector<Row> rows;

  for (int sparsity : {70, 90, 95}) {
    // The CSR, and the same matrix dense for sgemm.
    std::vector<int32_t> rp{0}, ci;
    std::vector<float> vals, dense(size_t(kM * kK), 0.0f);
    std::uniform_real_distribution<double> p(0, 1);
    for (int64_t i = 0; i < kM; ++i) {
      for (int64_t j = 0; j < kK; ++j)
        if (p(rng) * 100 >= sparsity) {
          ci.push_back(int32_t(j));
          vals.push_back(u(rng));
          dense[size_t(i * kK + j)] = vals.back();
        }
      rp.push_back(int32_t(ci.size()));
    }
    int64_t nnz = int64_t(ci.size());
    Eigen::Map<const Eigen::SparseMatrix<float, Eigen::RowMajor, int32_t>>
        aE(kM, kK, nnz, rp.data(), ci.data(), vals.data());
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>
        yE(kM, kN);
    std::vector<float> yK(size_t(kM * kN)), yD(size_t(kM * kN));

    for (int threads : {1, 2}) {
      Eigen::setNbThreads(threads);
      setGompThreads(threads);
      kjit::CompileOptions co;
      co.threads = threads;
      // A config to try instead of the default (knobs over the default).
      if (const char *c = std::getenv("KJIT_BENCH_CONFIG"))
        co.config = c;
      auto k = jit.compileModule(spmmModule(nnz), co);
      if (!k) {
        std::fprintf(stderr, "kjit compile failed: %s\n",
                     k.errorMessage().c_str());
        return 1;
      }
      auto runK = [&] {
        kjit::Status st =
            k->run({kjit::TensorView(rp.data(), {kM + 1}),
                    kjit::TensorView(ci.data(), {nnz}),
                    kjit::TensorView(vals.data(), {nnz}),
                    kjit::TensorView(b.data(), {kK, kN})},
                   {kjit::TensorView(yK.data(), {kM, kN})});
        if (!st) {
          std::fprintf(stderr, "kjit run failed: %s\n", st.message().c_str());
          std::exit(1);
        }
      };
      auto runE = [&] { yE.noalias() = aE * bE; };
      auto runD = [&] {
        dnnl_sgemm('N', 'N', kM, kN, kK, 1.0f, dense.data(), kK, b.data(), kN,
                   0.0f, yD.data(), kN);
      };
      runK();
      runE();
      runD();
      double eK = maxRelErr(yK.data(), yE.data(), yK.size());
      double eD = maxRelErr(yD.data(), yE.data(), yD.size());
      if (eK > 1e-4 || eD > 1e-4) {
        std::fprintf(stderr, "mismatch: kjit %g dense %g (vs Eigen)\n", eK,
                     eD);
        return 1;
      }
      Row r;
      r.sparsity = sparsity;
      r.threads = threads;
      r.kjit = medianMs(reps(), runK);
      r.eigen = medianMs(reps(), runE);
      r.dense = medianMs(reps(), runD);
      r.config = k->configs().empty() ? "" : k->configs()[0];
      std::fprintf(stderr, "sparsity %d%% threads %d: kjit %.2f ms, Eigen "
                           "%.2f ms, dense %.2f ms\n",
                   sparsity, threads, r.kjit, r.eigen, r.dense);
      rows.push_back(r);
    }
  }

  std::printf("| sparsity | threads | kjit.spmm | Eigen sparse×dense | dense "
              "sgemm (oneDNN) | kjit GFLOP/s (useful) | Eigen / kjit | dense / "
              "kjit |\n|---|---|---|---|---|---|---|---|\n");
  for (const Row &r : rows) {
    double nnz = kM * kK * (1 - r.sparsity / 100.0);
    double gflops = 2 * nnz * kN / (r.kjit * 1e6);
    std::printf("| %d%% | %d | %.2f ms | %.2f ms | %.2f ms | %.1f | %.2f× | "
                "%.2f× |\n",
                r.sparsity, r.threads, r.kjit, r.eigen, r.dense, gflops,
                r.eigen / r.kjit, r.dense / r.kjit);
  }
  std::printf("\nkjit configs (defaults for this host):\n");
  for (const Row &r : rows)
    std::printf("- %d%%, %d thread(s): `%s`\n", r.sparsity, r.threads,
                r.config.c_str());
  return 0;
}
