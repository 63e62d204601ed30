//===- SpmmBench.cpp - kjit.spmm vs XNNPACK, Eigen sparse, dense sgemm ----===//
//
// A: 1024 x 1024 CSR at 70 / 90 / 95 % sparsity (uniform random pattern),
// b: dense 1024 x 3136 (the 1x1 conv of Fast Sparse ConvNets: C_in x H*W,
// 56 x 56), fp32, 1 and 2 threads. Peers in the same process:
//   - Eigen 3.4: SparseMatrix<float, RowMajor> * row-major dense
//     (Eigen parallelizes this product with OpenMP; threads via
//     Eigen::setNbThreads);
//   - dense sgemm of the same A with its zeros (oneDNN's dnnl_sgemm, Debian
//     libdnnl; OpenBLAS is not installed on this machine), the "dense" line;
//   - XNNPACK's sparse path (Debian libxnnpack-dev, optional at configure
//     time): a 1x1 convolution on NCHW (batch 1, C_in = K channels of
//     56 x 56 = N pixels, i.e. b itself) with A as its C_out x C_in weights.
//     XNNPACK's NCHW 1x1 convolution (no padding, stride 1, one group) is
//     always its SpMM micro-kernel: at creation it packs the nonzeros of the
//     weights (zeros dropped) and runs the sparse kernel over the pixels. The
//     times scale with nnz (see the table), which shows the sparse path ran.
//     Threads: a pthreadpool of that size (none for 1 thread).
// kjit kernels are compiled before timing (threads in the compile options).
// Every output is checked against Eigen's before timing. Each case: 1 warm-up
// each, then KJIT_BENCH_REPS (default 7) rounds that time every peer once in
// turn (so slow drift from other load hits all alike), each call after a
// 30 ms pause with OpenMP's idle threads set to sleep (OMP_WAIT_POLICY=passive,
// KMP_BLOCKTIME=0 unless set) so no peer's spinning pool steals a core from
// the next one; medians per peer.
// Prints a markdown table. KJIT_BENCH_CONFIG=<#kjit.config<...>> times kjit
// with other knobs; KJIT_BENCH_ALT_CONFIG=<...> also times kjit with that
// config in the same rounds (a second kjit line on stderr: knob choices
// compared in one process); KJIT_BENCH_SPARSITY=90 runs one sparsity only.
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "kjit/kjit.h"

#include <Eigen/Dense>
#include <Eigen/Sparse>
#include <omp.h>
#include <thread>
#include <oneapi/dnnl/dnnl.h>
#ifdef KJIT_BENCH_HAVE_XNNPACK
#include <pthreadpool.h>
#include <xnnpack.h>
#endif

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
using kjit::bench::relDiff;

constexpr int64_t kM = 1024, kK = 1024, kN = 3136;

// oneDNN is built against GNU libgomp, but this program links LLVM's libomp
// (Eigen's OpenMP, and kjit's kernels), which comes first in the global
// symbol scope and also implements GOMP_*: oneDNN's omp_* calls and parallel
// regions bind to libomp (checked: setting libgomp's thread count left the
// "1 thread" sgemm at 2 threads). So one omp_set_num_threads, libomp's, sets
// the team of Eigen and oneDNN alike.
void setOmpThreads(int n) { omp_set_num_threads(n); }

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
  int64_t nnz;
  double kjit, eigen, dense, xnn = -1; // xnn < 0: not measured
  std::string config;
};

double ms(const std::function<void()> &fn) {
  auto a = std::chrono::steady_clock::now();
  fn();
  auto b = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::milli>(b - a).count();
}

/// One timed call after a short pause: the thread pools of the peer before
/// (libomp's team, XNNPACK's pthreadpool) have gone to sleep by then, so
/// they do not steal the second core from this one (2 cores here).
double pausedMs(const std::function<void()> &fn) {
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  return ms(fn);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

#ifdef KJIT_BENCH_HAVE_XNNPACK
/// The 1x1 NCHW convolution y (M x H*W) = A (M x K, dense with zeros) *
/// x (K x H*W): XNNPACK's SpMM path.
struct XnnConv {
  xnn_operator_t op = nullptr;
  pthreadpool_t pool = nullptr;
  XnnConv(const float *denseA, const float *x, float *y, int threads) {
    if (threads > 1)
      pool = pthreadpool_create(size_t(threads));
    xnn_status st = xnn_create_convolution2d_nchw_f32(
        0, 0, 0, 0, 1, 1, 1, 1, 1, 1, /*groups=*/1, kK, kM,
        /*input_channel_stride=*/kK, /*output_channel_stride=*/kM, denseA,
        /*bias=*/nullptr, -INFINITY, INFINITY, /*flags=*/0, &op);
    if (st != xnn_status_success) {
      std::fprintf(stderr, "xnn_create_convolution2d_nchw_f32: status %d\n",
                   int(st));
      std::exit(1);
    }
    st = xnn_setup_convolution2d_nchw_f32(op, 1, 56, 56, x, y, pool);
    if (st != xnn_status_success) {
      std::fprintf(stderr, "xnn_setup_convolution2d_nchw_f32: status %d\n",
                   int(st));
      std::exit(1);
    }
  }
  void run() {
    if (xnn_run_operator(op, pool) != xnn_status_success) {
      std::fprintf(stderr, "xnn_run_operator failed\n");
      std::exit(1);
    }
  }
  ~XnnConv() {
    xnn_delete_operator(op);
    if (pool)
      pthreadpool_destroy(pool);
  }
};
#endif

} // namespace

int main() {
  // Idle OpenMP threads sleep at once instead of spinning for 200 ms (libomp's
  // default), which on 2 cores would slow whichever peer runs next. libomp
  // reads these at its first parallel region, so setting them here works.
  setenv("OMP_WAIT_POLICY", "passive", 0);
  setenv("KMP_BLOCKTIME", "0", 0);
  static_assert(kN == 56 * 56, "the XNNPACK peer runs on 56 x 56 pixels");
#ifdef KJIT_BENCH_HAVE_XNNPACK
  if (xnn_initialize(nullptr) != xnn_status_success) {
    std::fprintf(stderr, "xnn_initialize failed\n");
    return 1;
  }
  const bool haveXnn = true;
#else
  const bool haveXnn = false;
  std::fprintf(stderr, "XNNPACK not found at configure time "
                       "(libxnnpack-dev): its column is left out\n");
#endif
  int only = std::getenv("KJIT_BENCH_SPARSITY")
                 ? atoi(std::getenv("KJIT_BENCH_SPARSITY"))
                 : -1;
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
    // After drawing A, so that every sparsity keeps the same matrix.
    if (only >= 0 && sparsity != only)
      continue;
    Eigen::Map<const Eigen::SparseMatrix<float, Eigen::RowMajor, int32_t>>
        aE(kM, kK, nnz, rp.data(), ci.data(), vals.data());
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>
        yE(kM, kN);
    std::vector<float> yK(size_t(kM * kN)), yD(size_t(kM * kN)),
        yX(size_t(kM * kN));

    for (int threads : {1, 2}) {
      Eigen::setNbThreads(threads);
      setOmpThreads(threads);
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
      // An alternative config, timed in the same rounds (after the peers).
      const char *altCfg = std::getenv("KJIT_BENCH_ALT_CONFIG");
      std::vector<float> yA(altCfg ? yK.size() : 0);
      kjit::Result<kjit::Kernel> alt = kjit::Status::ok();
      if (altCfg) {
        kjit::CompileOptions ao = co;
        ao.config = altCfg;
        alt = jit.compileModule(spmmModule(nnz), ao);
        if (!alt) {
          std::fprintf(stderr, "kjit alt compile failed: %s\n",
                       alt.errorMessage().c_str());
          return 1;
        }
      }
      auto runA = [&] {
        kjit::Status st =
            alt->run({kjit::TensorView(rp.data(), {kM + 1}),
                      kjit::TensorView(ci.data(), {nnz}),
                      kjit::TensorView(vals.data(), {nnz}),
                      kjit::TensorView(b.data(), {kK, kN})},
                     {kjit::TensorView(yA.data(), {kM, kN})});
        if (!st) {
          std::fprintf(stderr, "kjit alt run failed: %s\n",
                       st.message().c_str());
          std::exit(1);
        }
      };
      auto runE = [&] { yE.noalias() = aE * bE; };
      auto runD = [&] {
        dnnl_sgemm('N', 'N', kM, kN, kK, 1.0f, dense.data(), kK, b.data(), kN,
                   0.0f, yD.data(), kN);
      };
      std::vector<std::function<void()>> peers{runK, runE, runD};
#ifdef KJIT_BENCH_HAVE_XNNPACK
      XnnConv xnn(dense.data(), b.data(), yX.data(), threads);
      peers.push_back([&] { xnn.run(); });
#endif
      if (altCfg)
        peers.push_back(runA);
      std::fill(yX.begin(), yX.end(), NAN);
      for (auto &f : peers) // warm-up
        f();
      double eK = maxRelErr(yK.data(), yE.data(), yK.size());
      double eD = maxRelErr(yD.data(), yE.data(), yD.size());
      double eX = haveXnn ? maxRelErr(yX.data(), yE.data(), yX.size()) : 0;
      double eA = altCfg ? maxRelErr(yA.data(), yE.data(), yA.size()) : 0;
      // NaN (an output XNNPACK left unwritten) fails this too.
      if (!(eK <= 1e-4 && eD <= 1e-4 && eX <= 1e-4 && eA <= 1e-4)) {
        std::fprintf(stderr,
                     "mismatch: kjit %g dense %g XNNPACK %g (vs Eigen)\n", eK,
                     eD, eX);
        return 1;
      }
      std::vector<std::vector<double>> t(peers.size());
      for (int i = 0; i < reps(); ++i)
        for (size_t q = 0; q < peers.size(); ++q)
          t[q].push_back(pausedMs(peers[q]));
      Row r;
      r.sparsity = sparsity;
      r.threads = threads;
      r.nnz = nnz;
      r.kjit = median(t[0]);
      r.eigen = median(t[1]);
      r.dense = median(t[2]);
      if (haveXnn)
        r.xnn = median(t[3]);
      r.config = k->configs().empty() ? "" : k->configs()[0];
      std::fprintf(stderr, "sparsity %d%% threads %d: kjit %.2f ms, Eigen "
                           "%.2f ms, dense %.2f ms, XNNPACK %.2f ms\n",
                   sparsity, threads, r.kjit, r.eigen, r.dense, r.xnn);
      if (altCfg) {
        double a = median(t.back());
        std::fprintf(stderr, "  alt config %s: %.2f ms (default / alt "
                             "%.2fx)\n",
                     alt->configs().empty() ? "" : alt->configs()[0].c_str(),
                     a, r.kjit / a);
      }
      rows.push_back(r);
    }
  }

  std::printf("| sparsity | threads | kjit.spmm | XNNPACK sparse 1x1 NCHW | "
              "Eigen sparse×dense | dense sgemm (oneDNN) | kjit GFLOP/s "
              "(useful) | XNNPACK / kjit | Eigen / kjit | dense / kjit |\n"
              "|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Row &r : rows) {
    double gflops = 2.0 * double(r.nnz) * kN / (r.kjit * 1e6);
    char xc[32] = "not built", xr[32] = "-";
    if (r.xnn >= 0) {
      std::snprintf(xc, sizeof xc, "%.2f ms", r.xnn);
      std::snprintf(xr, sizeof xr, "%.2f×", r.xnn / r.kjit);
    }
    std::printf("| %d%% | %d | %.2f ms | %s | %.2f ms | %.2f ms | %.1f | %s | "
                "%.2f× | %.2f× |\n",
                r.sparsity, r.threads, r.kjit, xc, r.eigen, r.dense, gflops,
                xr, r.eigen / r.kjit, r.dense / r.kjit);
  }
  std::printf("\nkjit configs (defaults for this host):\n");
  for (const Row &r : rows)
    std::printf("- %d%%, %d thread(s): `%s`\n", r.sparsity, r.threads,
                r.config.c_str());
  return 0;
}
