//===- WindowAttentionTest.cpp - JIT'd window attention vs a naive loop ---===//
//
// kjit.window_attention compiled through the public API (compileModule) and
// compared with an independent reference written here: plain loops, double
// accumulation, the window start written out explicitly (NATTEN):
//     g = i mod d, idx = i div d, n_g = ceil((n - g) / d),
//     start = clamp(idx - k/2, 0, n_g - k), keys (start + t)*d + g;
//     causal: keys idx, idx-1, ..., max(0, idx-k+1) of the group;
//     rpb index (k-1) + key_pos_in_group - query_pos_in_group per dim.
//
// Tolerance (stated once, used everywhere):
//     max |out - ref| <= 1e-4 * (1 + max |ref|), and no NaN/Inf.
// Outputs are convex combinations of values in [-1, 1]; fp32 error is about
// 1e-6, while a wrong window, bias index or softmax is O(0.01..1).
//
// Seeds: fresh per run (std::random_device), printed in every failure;
// re-run with KJIT_TEST_SEED=<seed>.
//
//===----------------------------------------------------------------------===//
#include "tests/integration/TestSupport.h"
#include "kjit/kjit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {
using kjit::testing::baseSeed;
using kjit::testing::sharedJit;

constexpr double kRtol = 1e-4;

struct Attn {
  int rank = 2;
  int64_t batch = 1, heads = 1, h = 1, w = 1, d = 1;
  int64_t kh = 1, kw = 1, dh = 1, dw = 1;
  bool causal = false, rpb = false;
  double scale = -1; ///< < 0: the default 1/sqrt(D)

  std::vector<int64_t> shape() const {
    if (rank == 2)
      return {batch, heads, h, w, d};
    return {batch, heads, w, d};
  }
  std::vector<int64_t> rpbShape() const {
    if (rank == 2)
      return {heads, 2 * kh - 1, 2 * kw - 1};
    return {heads, 2 * kw - 1};
  }
  int64_t size() const { return batch * heads * h * w * d; }
  int64_t rpbSize() const { return heads * (2 * kh - 1) * (2 * kw - 1); }
  std::string describe() const {
    std::ostringstream os;
    os << rank << "-D B" << batch << " heads" << heads << " ";
    if (rank == 2)
      os << h << "x";
    os << w << " D" << d << " k";
    if (rank == 2)
      os << kh << "x";
    os << kw << " dil";
    if (rank == 2)
      os << dh << ",";
    os << dw << (causal ? " causal" : "") << (rpb ? " rpb" : "");
    if (scale >= 0)
      os << " scale" << scale;
    return os.str();
  }
};

std::string tensorType(const std::vector<int64_t> &shape) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + "f32>";
}

std::string moduleText(const Attn &a) {
  std::string t = tensorType(a.shape()), tr = tensorType(a.rpbShape());
  std::ostringstream os;
  os << "func.func @main(%q: " << t << ", %k: " << t << ", %v: " << t;
  if (a.rpb)
    os << ", %r: " << tr;
  os << ") -> " << t << " {\n  %y = kjit.window_attention %q, %k, %v"
     << (a.rpb ? ", %r" : "") << " {kernel_size = array<i64: ";
  if (a.rank == 2)
    os << a.kh << ", ";
  os << a.kw << ">, dilation = array<i64: ";
  if (a.rank == 2)
    os << a.dh << ", ";
  os << a.dw << ">";
  if (a.causal)
    os << ", is_causal = true";
  if (a.scale >= 0)
    os << ", scale = " << a.scale << " : f32";
  os << "} : " << t << ", " << t << ", " << t;
  if (a.rpb)
    os << ", " << tr;
  os << " -> " << t << "\n  return %y : " << t << "\n}\n";
  return os.str();
}

/// Keys of query position i along one dim: (key position, rpb index).
std::vector<std::pair<int64_t, int64_t>> windowKeys(int64_t i, int64_t n,
                                                    int64_t k, int64_t d,
                                                    bool causal) {
  int64_t g = i % d, idx = i / d;
  int64_t ng = (n - g + d - 1) / d;
  std::vector<std::pair<int64_t, int64_t>> keys;
  if (causal) {
    for (int64_t p = std::max<int64_t>(0, idx - k + 1); p <= idx; ++p)
      keys.push_back({p * d + g, (k - 1) + p - idx});
    return keys;
  }
  int64_t start = std::min(std::max<int64_t>(idx - k / 2, 0), ng - k);
  for (int64_t t = 0; t < k; ++t)
    keys.push_back({(start + t) * d + g, (k - 1) + (start + t) - idx});
  return keys;
}

std::vector<double> reference(const Attn &a, const std::vector<float> &q,
                              const std::vector<float> &k,
                              const std::vector<float> &v,
                              const std::vector<float> &rpb) {
  std::vector<double> out(a.size());
  double scale = a.scale >= 0 ? float(a.scale) : 1.0 / std::sqrt(double(a.d));
  auto at = [&](int64_t b, int64_t hd, int64_t i, int64_t j) {
    return (((b * a.heads + hd) * a.h + i) * a.w + j) * a.d;
  };
  for (int64_t b = 0; b < a.batch; ++b)
    for (int64_t hd = 0; hd < a.heads; ++hd)
      for (int64_t i = 0; i < a.h; ++i)
        for (int64_t j = 0; j < a.w; ++j) {
          auto rows = a.rank == 2 ? windowKeys(i, a.h, a.kh, a.dh, false)
                                  : std::vector<std::pair<int64_t, int64_t>>{
                                        {0, 0}};
          auto cols = windowKeys(j, a.w, a.kw, a.dw, a.causal);
          std::vector<double> s;
          std::vector<int64_t> keyAt;
          for (auto [ki, ri] : rows)
            for (auto [kj, rj] : cols) {
              double dot = 0;
              for (int64_t e = 0; e < a.d; ++e)
                dot += double(q[at(b, hd, i, j) + e]) *
                       double(k[at(b, hd, ki, kj) + e]);
              dot *= scale;
              if (a.rpb)
                dot += rpb[(hd * (2 * a.kh - 1) + ri) * (2 * a.kw - 1) + rj];
              s.push_back(dot);
              keyAt.push_back(at(b, hd, ki, kj));
            }
          double m = *std::max_element(s.begin(), s.end()), sum = 0;
          for (double &x : s)
            sum += (x = std::exp(x - m));
          for (int64_t e = 0; e < a.d; ++e) {
            double o = 0;
            for (size_t t = 0; t < s.size(); ++t)
              o += s[t] * double(v[keyAt[t] + e]);
            out[at(b, hd, i, j) + e] = o / sum;
          }
        }
  return out;
}

struct AttnCase {
  std::string name;
  Attn op;
  std::vector<std::string> configs; ///< "" = the op's default config
};
void PrintTo(const AttnCase &c, std::ostream *os) {
  *os << c.name << " (" << c.op.describe() << ")";
}

Attn a2(int64_t heads, int64_t h, int64_t w, int64_t d, int64_t kh, int64_t kw,
        int64_t dh = 1, int64_t dw = 1) {
  Attn a;
  a.rank = 2, a.heads = heads, a.h = h, a.w = w, a.d = d;
  a.kh = kh, a.kw = kw, a.dh = dh, a.dw = dw;
  return a;
}
Attn a1(int64_t heads, int64_t l, int64_t d, int64_t k, int64_t dil = 1,
        bool causal = false) {
  Attn a;
  a.rank = 1, a.heads = heads, a.w = l, a.d = d, a.kw = k, a.dw = dil;
  a.causal = causal;
  return a;
}
Attn withRpb(Attn a) {
  a.rpb = true;
  return a;
}
Attn withBatch(Attn a, int64_t b) {
  a.batch = b;
  return a;
}
Attn withScale(Attn a, double s) {
  a.scale = s;
  return a;
}

// The sample of legal configs every case also runs (knobs that do not
// apply, like query_tile_h for 1-D, are dropped per case).
const char *kVw16 = "#kjit.config<{vector_width = 16, key_chunk = 16, "
                    "query_tile = 1, query_tile_h = 3, query_block = 1, "
                    "threads = 1}>";
const char *kVw4 = "#kjit.config<{vector_width = 4, key_chunk = 1, "
                   "query_tile = 3, query_block = 2, threads = 2}>";
const char *kVw8 = "#kjit.config<{vector_width = 8, key_chunk = 5, "
                   "query_tile = 7, query_tile_h = 2, query_block = 3, "
                   "threads = 2}>";
const char *kVw8b = "#kjit.config<{vector_width = 8, key_chunk = 3, "
                    "query_tile = 64, query_block = 8, threads = 1}>";

std::vector<AttnCase> cases() {
  std::vector<std::string> all = {"", kVw4, kVw8, kVw8b};
  std::vector<AttnCase> c = {
      {"k3_basic_2d", a2(2, 5, 6, 16, 3, 3), all},
      {"k7_D32_prime", a2(3, 13, 11, 32, 7, 7), all},
      {"k5x3_D7_dil2x3_rpb", withRpb(a2(2, 11, 13, 7, 5, 3, 2, 3)), all},
      {"k13_D1_HneW", a2(1, 17, 14, 1, 13, 13), {"", kVw4}},
      {"k9x11_D20_dil1x2_rpb_batch2",
       withBatch(withRpb(a2(2, 10, 23, 20, 9, 11, 1, 2)), 2),
       {"", kVw8}},
      {"k3_dil3_scale", withScale(a2(1, 10, 9, 8, 3, 3, 3, 3), 0.7), {"", kVw4}},
      {"k31_L37", a1(2, 37, 16, 31), {"", kVw4, kVw8}},
      {"k7_L29_D7_dil3_rpb", withRpb(a1(3, 29, 7, 7, 3)), all},
      {"causal_k5_L23_D32_rpb", withRpb(a1(2, 23, 32, 5, 1, true)), all},
      {"causal_k13_L41_D9_dil3", a1(1, 41, 9, 13, 3, true), all},
      {"causal_k3_L3_D1_scale", withScale(a1(1, 3, 1, 3, 1, true), 2.5),
       {"", kVw8b}},
      {"k11_L11_D33", a1(4, 11, 33, 11), {"", kVw8}},
  };
  if (kjit::testing::targetHasAvx512())
    for (AttnCase &x : c)
      x.configs.push_back(kVw16);
  return c;
}

/// Drops `query_tile_h = N` from a config text (1-D ops reject it).
std::string for1d(std::string cfg) {
  size_t p = cfg.find("query_tile_h");
  if (p == std::string::npos)
    return cfg;
  size_t e = cfg.find(',', p);
  return cfg.erase(p, e - p + 2);
}

class WindowAttention : public ::testing::TestWithParam<AttnCase> {};

TEST_P(WindowAttention, MatchesReference) {
  const AttnCase &tc = GetParam();
  const Attn &a = tc.op;
  SCOPED_TRACE("seed=" + std::to_string(baseSeed()) + " (KJIT_TEST_SEED) " +
               a.describe());
  std::mt19937_64 rng(baseSeed() ^ std::hash<std::string>()(tc.name));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto rnd = [&](int64_t n) {
    std::vector<float> x(n);
    for (float &e : x)
      e = u(rng);
    return x;
  };
  // Scores of a few units: softmax is neither uniform nor one-hot.
  std::vector<float> q = rnd(a.size()), k = rnd(a.size()), v = rnd(a.size());
  for (float &e : q)
    e *= 3.0f;
  std::vector<float> r = rnd(a.rpbSize());
  std::vector<double> ref = reference(a, q, k, v, r);
  double maxRef = 0;
  for (double x : ref)
    maxRef = std::max(maxRef, std::abs(x));

  std::string text = moduleText(a);
  for (std::string cfg : tc.configs) {
    if (a.rank == 1)
      cfg = for1d(cfg);
    SCOPED_TRACE("config: " + (cfg.empty() ? std::string("default") : cfg));
    kjit::CompileOptions opts;
    opts.config = cfg;
    auto kern = sharedJit().compileModule(text, opts);
    ASSERT_TRUE(bool(kern)) << kern.errorMessage() << "\n" << text;
    std::vector<float> out(a.size(), std::numeric_limits<float>::quiet_NaN());
    std::vector<kjit::TensorView> ins = {
        kjit::TensorView(q.data(), a.shape()),
        kjit::TensorView(k.data(), a.shape()),
        kjit::TensorView(v.data(), a.shape())};
    if (a.rpb)
      ins.push_back(kjit::TensorView(r.data(), a.rpbShape()));
    kjit::Status st = kern->run(ins, {kjit::TensorView(out.data(), a.shape())});
    ASSERT_TRUE(st.isOk()) << st.message();
    double maxErr = 0;
    int64_t worst = 0;
    for (int64_t e = 0; e < a.size(); ++e) {
      double err = std::abs(double(out[e]) - ref[e]);
      if (!(err <= maxErr)) { // NaN counts as the worst
        maxErr = std::isnan(err) ? INFINITY : err;
        worst = e;
      }
    }
    EXPECT_LE(maxErr, kRtol * (1 + maxRef))
        << "worst element " << worst << ": got " << out[worst] << ", want "
        << ref[worst] << "; resolved config " << kern->configs()[0];
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, WindowAttention, ::testing::ValuesIn(cases()),
    [](const ::testing::TestParamInfo<AttnCase> &i) { return i.param.name; });

// Illegal configs fail the compile with the precise reason.
TEST(WindowAttentionErrors, IllegalConfigIsAClearError) {
  Attn a = a1(2, 9, 8, 3);
  kjit::CompileOptions opts;
  opts.config = "#kjit.config<{heads_per_task = 3}>";
  auto k1 = sharedJit().compileModule(moduleText(a), opts);
  ASSERT_FALSE(bool(k1));
  EXPECT_NE(k1.errorMessage().find("heads_per_task must be in [1, heads = 2], got 3"),
            std::string::npos)
      << k1.errorMessage();
  opts.config = "#kjit.config<{query_tile_h = 2}>";
  auto k2 = sharedJit().compileModule(moduleText(a), opts);
  ASSERT_FALSE(bool(k2));
  EXPECT_NE(k2.errorMessage().find("query_tile_h applies to 2-D attention only"),
            std::string::npos)
      << k2.errorMessage();
}

} // namespace
