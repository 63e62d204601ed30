//===- AttentionBench.cpp - window attention: kjit vs naive vs gather+GEMM -===//
//
// 2-D neighborhood attention, B=1, 4 heads, 56x56, head_dim 32, dilation 1,
// no rpb, k = 7 and 13, on 1 and 2 threads. In the same process:
//   - kjit: the fused kernel (scores, online softmax, P.V in one pass), its
//     default config with CompileOptions.threads = 1 or 2; compiled before
//     timing;
//   - naive: a plain C++ loop per query (scores into a k*k buffer, max,
//     exp, sum, weighted sum of V), -O3;
//   - gather+GEMM (unfused, the "unfold + matmul" way): gather each query's
//     k*k keys and values into matrices [Q][k*k][D], batched matrix-vector
//     products for the scores into a materialized [Q][k*k] attention matrix,
//     softmax over it, then the batched product with the gathered values.
//     Plain loops, -O3 (no BLAS: each product is k*k x D by D).
// Peers on 2 threads split the heads across std::threads. Every output is
// checked against the naive loop (max abs diff <= 1e-4) before timing.
// Each case: 1 warm-up + 7 timed runs, median reported. FLOPs counted as
// 4*D*k*k per query (2*D for q.k, 2*D for p.v; exp and softmax not counted).
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "kjit/kjit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {
using kjit::bench::medianMs;
using kjit::bench::relDiff;

constexpr int64_t kHeads = 4, kH = 56, kW = 56, kD = 32;
constexpr int kRuns = 7;

int64_t windowStart(int64_t i, int64_t n, int64_t k) {
  return std::min(std::max<int64_t>(i - k / 2, 0), n - k);
}

void naive(int k, int64_t h0, int64_t h1, const float *q, const float *kk,
           const float *v, float *out) {
  float scale = 1.0f / std::sqrt(float(kD));
  std::vector<float> s(k * k);
  for (int64_t hd = h0; hd < h1; ++hd)
    for (int64_t i = 0; i < kH; ++i)
      for (int64_t j = 0; j < kW; ++j) {
        const float *qp = q + ((hd * kH + i) * kW + j) * kD;
        int64_t si = windowStart(i, kH, k), sj = windowStart(j, kW, k);
        float m = -INFINITY;
        for (int a = 0; a < k; ++a)
          for (int b = 0; b < k; ++b) {
            const float *kp = kk + ((hd * kH + si + a) * kW + sj + b) * kD;
            float dot = 0;
            for (int e = 0; e < kD; ++e)
              dot += qp[e] * kp[e];
            s[a * k + b] = dot * scale;
            m = std::max(m, s[a * k + b]);
          }
        float sum = 0;
        for (float &x : s)
          sum += (x = std::exp(x - m));
        float *op = out + ((hd * kH + i) * kW + j) * kD;
        for (int e = 0; e < kD; ++e)
          op[e] = 0;
        for (int a = 0; a < k; ++a)
          for (int b = 0; b < k; ++b) {
            const float *vp = v + ((hd * kH + si + a) * kW + sj + b) * kD;
            float p = s[a * k + b] / sum;
            for (int e = 0; e < kD; ++e)
              op[e] += p * vp[e];
          }
      }
}

/// Scratch of the unfused version (per thread: one head at a time).
struct Gathered {
  std::vector<float> kg, vg, att;
};

void gatherGemm(int k, int64_t h0, int64_t h1, const float *q, const float *kk,
                const float *v, float *out, Gathered &g) {
  const int64_t nq = kH * kW, kk2 = int64_t(k) * k;
  float scale = 1.0f / std::sqrt(float(kD));
  g.kg.resize(nq * kk2 * kD);
  g.vg.resize(nq * kk2 * kD);
  g.att.resize(nq * kk2);
  for (int64_t hd = h0; hd < h1; ++hd) {
    // 1. gather (unfold) keys and values per query.
    for (int64_t i = 0; i < kH; ++i)
      for (int64_t j = 0; j < kW; ++j) {
        int64_t qi = i * kW + j;
        int64_t si = windowStart(i, kH, k), sj = windowStart(j, kW, k);
        for (int a = 0; a < k; ++a)
          for (int b = 0; b < k; ++b) {
            int64_t src = ((hd * kH + si + a) * kW + sj + b) * kD;
            int64_t dst = (qi * kk2 + a * k + b) * kD;
            std::copy(kk + src, kk + src + kD, g.kg.data() + dst);
            std::copy(v + src, v + src + kD, g.vg.data() + dst);
          }
      }
    // 2. scores: per query, [k*k x D] . q -> the attention matrix.
    for (int64_t qi = 0; qi < nq; ++qi) {
      const float *qp = q + (hd * nq + qi) * kD;
      for (int64_t t = 0; t < kk2; ++t) {
        const float *kp = g.kg.data() + (qi * kk2 + t) * kD;
        float dot = 0;
        for (int e = 0; e < kD; ++e)
          dot += qp[e] * kp[e];
        g.att[qi * kk2 + t] = dot * scale;
      }
    }
    // 3. softmax over each row of the attention matrix.
    for (int64_t qi = 0; qi < nq; ++qi) {
      float *row = g.att.data() + qi * kk2;
      float m = *std::max_element(row, row + kk2), sum = 0;
      for (int64_t t = 0; t < kk2; ++t)
        sum += (row[t] = std::exp(row[t] - m));
      for (int64_t t = 0; t < kk2; ++t)
        row[t] /= sum;
    }
    // 4. out = attention [1 x k*k] . gathered V [k*k x D], per query.
    for (int64_t qi = 0; qi < nq; ++qi) {
      float *op = out + (hd * nq + qi) * kD;
      for (int e = 0; e < kD; ++e)
        op[e] = 0;
      for (int64_t t = 0; t < kk2; ++t) {
        float p = g.att[qi * kk2 + t];
        const float *vp = g.vg.data() + (qi * kk2 + t) * kD;
        for (int e = 0; e < kD; ++e)
          op[e] += p * vp[e];
      }
    }
  }
}

/// Splits heads over `threads` std::threads.
void onThreads(int threads, const std::function<void(int64_t, int64_t, int)> &f) {
  if (threads == 1)
    return f(0, kHeads, 0);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back(f, kHeads * t / threads, kHeads * (t + 1) / threads, t);
  for (auto &t : ts)
    t.join();
}

double maxDiff(const std::vector<float> &a, const std::vector<float> &b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, (double)std::abs(a[i] - b[i]));
  return std::isnan(m) ? INFINITY : m;
}

std::string cell(double ms, double flops) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f ms (%.1f GFLOP/s)", ms,
                flops / (ms * 1e-3) / 1e9);
  return buf;
}

} // namespace

int main() {
  const int64_t n = kHeads * kH * kW * kD;
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> q(n), k(n), v(n);
  for (auto *x : {&q, &k, &v})
    for (float &e : *x)
      e = u(rng);

  kjit::Jit jit(kjit::Target::host());
  std::printf("| k | threads | kjit (fused) | naive loop | gather+GEMM "
              "(unfused) | kjit / naive | kjit / gather+GEMM | kjit config |\n"
              "|---|---|---|---|---|---|---|---|\n");
  for (int ks : {7, 13}) {
    std::string t = "tensor<1x4x56x56x32xf32>";
    std::string text = "func.func @main(%q: " + t + ", %k: " + t + ", %v: " +
                       t + ") -> " + t +
                       " {\n  %y = kjit.window_attention %q, %k, %v "
                       "{kernel_size = array<i64: " +
                       std::to_string(ks) + ", " + std::to_string(ks) +
                       ">} : " + t + ", " + t + ", " + t + " -> " + t +
                       "\n  return %y : " + t + "\n}\n";
    double flops = 4.0 * kD * ks * ks * kHeads * kH * kW;
    std::vector<float> ref(n);
    naive(ks, 0, kHeads, q.data(), k.data(), v.data(), ref.data());
    for (int threads : {1, 2}) {
      kjit::CompileOptions opts;
      opts.threads = threads;
      auto kern = jit.compileModule(text, opts);
      if (!kern) {
        std::fprintf(stderr, "compile failed: %s\n", kern.errorMessage().c_str());
        return 1;
      }
      std::vector<int64_t> shape = {1, kHeads, kH, kW, kD};
      std::vector<float> out(n), outN(n), outG(n);
      auto runKjit = [&] {
        kjit::Status st = kern->run({kjit::TensorView(q.data(), shape),
                                     kjit::TensorView(k.data(), shape),
                                     kjit::TensorView(v.data(), shape)},
                                    {kjit::TensorView(out.data(), shape)});
        if (!st.isOk()) {
          std::fprintf(stderr, "run failed: %s\n", st.message().c_str());
          std::exit(1);
        }
      };
      std::vector<Gathered> scratch(threads);
      auto runNaive = [&] {
        onThreads(threads, [&](int64_t h0, int64_t h1, int) {
          naive(ks, h0, h1, q.data(), k.data(), v.data(), outN.data());
        });
      };
      auto runGather = [&] {
        onThreads(threads, [&](int64_t h0, int64_t h1, int tid) {
          gatherGemm(ks, h0, h1, q.data(), k.data(), v.data(), outG.data(),
                     scratch[tid]);
        });
      };
      runKjit();
      runNaive();
      runGather();
      for (auto *o : {&out, &outN, &outG})
        if (maxDiff(*o, ref) > 1e-4) {
          std::fprintf(stderr, "WRONG RESULT k=%d threads=%d: max diff %g\n",
                       ks, threads, maxDiff(*o, ref));
          return 1;
        }
      double tk = medianMs(kRuns, runKjit), tn = medianMs(kRuns, runNaive),
             tg = medianMs(kRuns, runGather);
      std::printf("| %d | %d | %s | %s | %s | %.2f× | %.2f× | `%s` |\n", ks,
                  threads, cell(tk, flops).c_str(), cell(tn, flops).c_str(),
                  cell(tg, flops).c_str(), tn / tk, tg / tk,
                  kern->configs()[0].c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
