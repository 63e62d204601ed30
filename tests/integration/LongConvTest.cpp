//===- LongConvTest.cpp - JIT'd Monarch products against a reference ------===//
//
// kjit.butterfly_matmul compiled through the public API (kjit/kjit.h) on
// fresh random inputs, compared with an independent float64 reference that
// performs the op's definition step by step (the numpy einsum steps of
// ARCHITECTURE.md): X = x.reshape(m1, m2); X1[i] = r[i] X[i]; X2 = X1^T;
// X3[j] = l[j] X2[j]; y = X3^T.reshape(N).
//
// Tolerance (stated once, used everywhere):
//     ||out - ref||_2 <= 1e-5 * ||ref||_2  and
//     max |out - ref| <= 1e-4 * (1 + max |ref|), no NaN/Inf.
// Inputs are uniform in [-1, 1]; fp32 accumulation over m1 + m2 <= 128
// terms stays near 1e-7 relative, any indexing error is O(1).
//
// Seeds: one fresh seed per process (std::random_device), printed in every
// failure; re-run with KJIT_TEST_SEED=<seed>.
//
// Shapes: m1 != m2, primes (7x5, 5x7, 13x11), 1xN and Nx1 blocks, B = 1, odd
// B, B not a multiple of the row tile or vector width, N not a multiple of
// the vector width; a sample of legal configs; 1 and 2 threads.
//
//===----------------------------------------------------------------------===//
#include "kjit/kjit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

uint64_t baseSeed() {
  static uint64_t seed = [] {
    if (const char *s = std::getenv("KJIT_TEST_SEED"))
      return uint64_t(std::strtoull(s, nullptr, 0));
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
  }();
  return seed;
}

std::vector<float> randomVector(size_t n, std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &e : v)
    e = u(rng);
  return v;
}

kjit::Jit &sharedJit() {
  static kjit::Jit jit(kjit::Target::host(), [] {
    kjit::JitOptions o;
    o.diskCache = false;
    return o;
  }());
  return jit;
}

struct Compare {
  bool ok = true;
  double relL2 = 0, maxErr = 0, maxRef = 0;
  std::string describe() const {
    std::ostringstream os;
    os << "rel L2 " << relL2 << ", max err " << maxErr << ", max |ref| "
       << maxRef;
    return os.str();
  }
};

Compare compare(const std::vector<float> &out, const std::vector<double> &ref) {
  Compare c;
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i]))
      c.ok = false;
    double d = double(out[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
    c.maxErr = std::max(c.maxErr, std::fabs(d));
    c.maxRef = std::max(c.maxRef, std::fabs(ref[i]));
  }
  c.relL2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  if (c.relL2 > 1e-5 || c.maxErr > 1e-4 * (1 + c.maxRef) || !c.ok)
    c.ok = false;
  return c;
}

//===----------------------------------------------------------------------===//
// butterfly_matmul
//===----------------------------------------------------------------------===//

/// The definition, step by step, in double.
std::vector<double> monarchRef(const std::vector<float> &x,
                               const std::vector<float> &r,
                               const std::vector<float> &l, int64_t B,
                               int64_t m1, int64_t m2) {
  int64_t N = m1 * m2;
  std::vector<double> y(B * N);
  std::vector<double> X(N), X1(N), X2(N), X3(N);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < m1; ++i) // X = x.reshape(m1, m2)
      for (int64_t q = 0; q < m2; ++q)
        X[i * m2 + q] = x[b * N + i * m2 + q];
    for (int64_t i = 0; i < m1; ++i) // X1[i] = r[i] . X[i]
      for (int64_t p = 0; p < m2; ++p) {
        double s = 0;
        for (int64_t q = 0; q < m2; ++q)
          s += double(r[(i * m2 + p) * m2 + q]) * X[i * m2 + q];
        X1[i * m2 + p] = s;
      }
    for (int64_t i = 0; i < m1; ++i) // X2 = X1^T (m2 x m1)
      for (int64_t j = 0; j < m2; ++j)
        X2[j * m1 + i] = X1[i * m2 + j];
    for (int64_t j = 0; j < m2; ++j) // X3[j] = l[j] . X2[j]
      for (int64_t i = 0; i < m1; ++i) {
        double s = 0;
        for (int64_t k = 0; k < m1; ++k)
          s += double(l[(j * m1 + i) * m1 + k]) * X2[j * m1 + k];
        X3[j * m1 + i] = s;
      }
    for (int64_t j = 0; j < m2; ++j) // y = X3^T.reshape(N)
      for (int64_t i = 0; i < m1; ++i)
        y[b * N + i * m2 + j] = X3[j * m1 + i];
  }
  return y;
}

std::string monarchModule(int64_t B, int64_t m1, int64_t m2) {
  std::ostringstream os;
  int64_t N = m1 * m2;
  std::string xt = "tensor<" + std::to_string(B) + "x" + std::to_string(N) +
                   "xf32>";
  std::string rt = "tensor<" + std::to_string(m1) + "x" + std::to_string(m2) +
                   "x" + std::to_string(m2) + "xf32>";
  std::string lt = "tensor<" + std::to_string(m2) + "x" + std::to_string(m1) +
                   "x" + std::to_string(m1) + "xf32>";
  os << "func.func @main(%x: " << xt << ", %r: " << rt << ", %l: " << lt
     << ") -> " << xt << " {\n  %y = kjit.butterfly_matmul %x, %r, %l : " << xt
     << ", " << rt << ", " << lt << " -> " << xt << "\n  return %y : " << xt
     << "\n}\n";
  return os.str();
}

struct BflyCase {
  std::string name;
  int64_t b, m1, m2;
  std::string config; ///< "" = default
  int threads = 0;
};
void PrintTo(const BflyCase &c, std::ostream *os) {
  *os << c.name << " (B" << c.b << " " << c.m1 << "x" << c.m2 << " "
      << c.config << " threads " << c.threads << ")";
}

std::string bcfg(int vw, int rowTile, int rowBlock, int blockTile,
                 const char *transpose, int threads) {
  std::ostringstream os;
  os << "#kjit.config<{vector_width = " << vw << ", row_tile = " << rowTile
     << ", row_block = " << rowBlock << ", block_tile = " << blockTile
     << ", transpose = \"" << transpose << "\", threads = " << threads
     << "}>";
  return os.str();
}

std::vector<BflyCase> bflyCases() {
  std::vector<BflyCase> v;
  // Default config (host-dependent), irregular shapes, 1 and 2 threads.
  v.push_back({"default_7x5_b5", 5, 7, 5, "", 1});
  v.push_back({"default_5x7_b3", 3, 5, 7, "", 2});
  v.push_back({"default_1xN_b1", 1, 1, 37, "", 1});
  v.push_back({"default_Nx1_b2", 2, 29, 1, "", 1});
  v.push_back({"default_13x11_b19", 19, 13, 11, "", 2});
  v.push_back({"default_16x4_b33", 33, 16, 4, "", 2});
  v.push_back({"default_64x64_b37", 37, 64, 64, "", 2});
  // A sample of legal configs (every knob varied; vector_width 4 and 8 are
  // legal on any AVX2 host).
  v.push_back({"cfg_vw4_rt4_sep", 9, 7, 5, bcfg(4, 4, 1, 3, "separate", 1), 0});
  v.push_back({"cfg_vw4_rt8_rb2", 11, 6, 9, bcfg(4, 8, 2, 4, "fused", 2), 0});
  v.push_back({"cfg_vw8_rt24_rb3", 50, 8, 3, bcfg(8, 24, 3, 2, "fused", 2), 0});
  v.push_back({"cfg_vw8_rt8_bt1", 7, 3, 11, bcfg(8, 8, 1, 1, "separate", 1), 0});
  v.push_back({"cfg_vw8_rt32_bt6_sep", 65, 12, 10,
               bcfg(8, 32, 2, 6, "separate", 2), 0});
  v.push_back({"cfg_vw4_rt16_rb4", 31, 17, 2, bcfg(4, 16, 4, 2, "fused", 1), 0});
  return v;
}

class BflyTest : public ::testing::TestWithParam<BflyCase> {};

TEST_P(BflyTest, MatchesReference) {
  const BflyCase &c = GetParam();
  uint64_t seed = baseSeed() ^ std::hash<std::string>()(c.name);
  std::mt19937_64 rng(seed);
  int64_t N = c.m1 * c.m2;
  auto x = randomVector(c.b * N, rng);
  auto r = randomVector(c.m1 * c.m2 * c.m2, rng);
  auto l = randomVector(c.m2 * c.m1 * c.m1, rng);
  std::vector<float> y(c.b * N, std::nanf(""));
  kjit::CompileOptions opts;
  opts.config = c.config;
  opts.threads = c.threads;
  auto k = sharedJit().compileModule(monarchModule(c.b, c.m1, c.m2), opts);
  ASSERT_TRUE(bool(k)) << k.errorMessage() << " (seed " << baseSeed() << ")";
  kjit::Status st = k->run({kjit::TensorView(x.data(), {c.b, N}),
                            kjit::TensorView(r.data(), {c.m1, c.m2, c.m2}),
                            kjit::TensorView(l.data(), {c.m2, c.m1, c.m1})},
                           {kjit::TensorView(y.data(), {c.b, N})});
  ASSERT_TRUE(st.isOk()) << st.message();
  Compare cmp = compare(y, monarchRef(x, r, l, c.b, c.m1, c.m2));
  EXPECT_TRUE(cmp.ok) << cmp.describe() << "\nconfig: "
                      << (k->configs().empty() ? "" : k->configs()[0])
                      << "\nseed: KJIT_TEST_SEED=" << baseSeed();
}

INSTANTIATE_TEST_SUITE_P(LongConv, BflyTest, ::testing::ValuesIn(bflyCases()),
                         [](const auto &info) { return info.param.name; });

TEST(BflyConfigs, IllegalConfigIsAnError) {
  kjit::CompileOptions opts;
  opts.config = "#kjit.config<{row_tile = 6, vector_width = 4}>";
  auto k = sharedJit().compileModule(monarchModule(3, 7, 5), opts);
  ASSERT_FALSE(bool(k));
  EXPECT_NE(k.errorMessage().find("row_tile must be a positive multiple"),
            std::string::npos)
      << k.errorMessage();
}

} // namespace
