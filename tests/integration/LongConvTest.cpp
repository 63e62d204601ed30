//===- LongConvTest.cpp - JIT'd Monarch products and FFT convolutions -----===//
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
// Inputs are uniform in [-1, 1]; fp32 accumulation over m1 + m2 <= 520
// terms stays near 1e-6 relative, any indexing error is O(1).
//
// Seeds: one fresh seed per process (std::random_device), printed in every
// failure; re-run with KJIT_TEST_SEED=<seed>.
//
// Shapes: m1 != m2, primes (7x5, 5x7, 13x11), 1xN and Nx1 blocks, B = 1, odd
// B, B not a multiple of the row tile or vector width, N not a multiple of
// the vector width; large blocks (8 x 512, 512 x 8, 16 x 256: the weights
// past L2, several tasks); a sample of legal configs, packed and direct
// weights, and every remainder of the micro-tile's outputs (block_tile 6:
// stage outputs 7..11 and 17 leave tails of 1..5; block_tile 14: 15 and 29
// leave 1, 3 x 5 clamps it); 1 and 2 threads.
//
//===----------------------------------------------------------------------===//
#include "tests/integration/TestSupport.h"
#include "kjit/kjit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {
using kjit::testing::baseSeed;
using kjit::testing::sharedJit;
using kjit::testing::randomVector;

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
                 const char *transpose, int threads,
                 const char *weights = nullptr) {
  std::ostringstream os;
  os << "#kjit.config<{vector_width = " << vw << ", row_tile = " << rowTile
     << ", row_block = " << rowBlock << ", block_tile = " << blockTile
     << ", transpose = \"" << transpose << "\", threads = " << threads;
  if (weights)
    os << ", weights = \"" << weights << "\"";
  os << "}>";
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
  // Large blocks with the default config (at these batches: weights read in
  // place; the packed layout is the cfg_ cases below), prime B so the last
  // task has a row tail.
  v.push_back({"default_8x512_b67", 67, 8, 512, "", 1});
  v.push_back({"default_512x8_b41", 41, 512, 8, "", 2});
  v.push_back({"default_16x256_b43", 43, 16, 256, "", 1});
  v.push_back({"default_3x5_b29", 29, 3, 5, "", 1});
  v.push_back({"default_7x4_b31", 31, 7, 4, "", 2});
  // The AVX2-sized micro-tile (6 outputs x 2 vectors of 8), packed and
  // direct: stage outputs 7, 8 / 9, 10 / 11, 17 leave tails 1..5.
  v.push_back({"cfg_6x2_packed_7x8", 37, 7, 8,
               bcfg(8, 32, 2, 6, "fused", 1, "packed"), 0});
  v.push_back({"cfg_6x2_direct_7x8", 37, 7, 8,
               bcfg(8, 32, 2, 6, "fused", 1, "direct"), 0});
  v.push_back({"cfg_6x2_packed_9x10", 53, 9, 10,
               bcfg(8, 16, 2, 6, "separate", 2, "packed"), 0});
  v.push_back({"cfg_6x2_packed_11x17", 23, 11, 17,
               bcfg(8, 16, 2, 6, "fused", 1, "packed"), 0});
  // block_tile 14 with one vector (16 registers suffice): tails of 1 (15,
  // 29); 3 x 5 clamps it to the stage outputs.
  v.push_back({"cfg_14x1_packed_15x29", 19, 15, 29,
               bcfg(4, 8, 1, 14, "fused", 1, "packed"), 0});
  v.push_back({"cfg_14x1_direct_15x29", 19, 15, 29,
               bcfg(4, 8, 1, 14, "separate", 1, "direct"), 0});
  v.push_back({"cfg_14x1_packed_3x5", 29, 3, 5,
               bcfg(8, 8, 1, 14, "fused", 2, "packed"), 0});
  // Large blocks with several row vectors per weight tile, both layouts.
  v.push_back({"cfg_8x512_rt64_packed", 71, 8, 512,
               bcfg(8, 64, 2, 6, "fused", 1, "packed"), 0});
  v.push_back({"cfg_512x8_rt32_direct", 37, 512, 8,
               bcfg(8, 32, 2, 6, "separate", 1, "direct"), 0});
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

TEST(BflyConfigs, UnknownWeightsLayoutIsAnError) {
  kjit::CompileOptions opts;
  opts.config = "#kjit.config<{weights = \"transposed\"}>";
  auto k = sharedJit().compileModule(monarchModule(3, 7, 5), opts);
  ASSERT_FALSE(bool(k));
  EXPECT_NE(k.errorMessage().find("weights"), std::string::npos)
      << k.errorMessage();
}

TEST(BflyConfigs, IllegalConfigIsAnError) {
  kjit::CompileOptions opts;
  opts.config = "#kjit.config<{row_tile = 6, vector_width = 4}>";
  auto k = sharedJit().compileModule(monarchModule(3, 7, 5), opts);
  ASSERT_FALSE(bool(k));
  EXPECT_NE(k.errorMessage().find("row_tile must be a positive multiple"),
            std::string::npos)
      << k.errorMessage();
}

//===----------------------------------------------------------------------===//
// fft_conv
//
// y[b,c,t] = sum_{s <= min(t, Lk-1)} k[c,s] u[b,c,t-s] + d[c] u[b,c,t]
// against a direct float64 convolution, or (L = Lk = 65536, where the direct
// sum is 2^31 terms a row) a float64 FFT convolution written here: iterative
// radix-2 with bit reversal and std::polar twiddles, independent of kjit's
// decimation-in-frequency / transposed-block scheme. Tolerance as above.
//===----------------------------------------------------------------------===//

std::vector<double> fftConvDirect(const std::vector<float> &u,
                                  const std::vector<float> &k,
                                  const std::vector<float> *d, int64_t B,
                                  int64_t C, int64_t L, int64_t Lk) {
  std::vector<double> y(B * C * L);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      const float *ur = &u[(b * C + c) * L];
      const float *kr = &k[c * Lk];
      for (int64_t t = 0; t < L; ++t) {
        double s = d ? double((*d)[c]) * ur[t] : 0.0;
        for (int64_t j = 0; j <= std::min(t, Lk - 1); ++j)
          s += double(kr[j]) * ur[t - j];
        y[(b * C + c) * L + t] = s;
      }
    }
  return y;
}

void fft64(std::vector<std::complex<double>> &a, bool inverse) {
  size_t n = a.size();
  for (size_t i = 1, j = 0; i < n; ++i) {
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1)
      j ^= bit;
    j ^= bit;
    if (i < j)
      std::swap(a[i], a[j]);
  }
  for (size_t len = 2; len <= n; len <<= 1) {
    double ang = 2 * M_PI / double(len) * (inverse ? 1 : -1);
    for (size_t i = 0; i < n; i += len)
      for (size_t j = 0; j < len / 2; ++j) {
        std::complex<double> w = std::polar(1.0, ang * double(j));
        std::complex<double> x = a[i + j], v = a[i + j + len / 2] * w;
        a[i + j] = x + v;
        a[i + j + len / 2] = x - v;
      }
  }
}

std::vector<double> fftConvByFft64(const std::vector<float> &u,
                                   const std::vector<float> &k,
                                   const std::vector<float> *d, int64_t B,
                                   int64_t C, int64_t L, int64_t Lk) {
  size_t n = 1;
  while (n < size_t(L + Lk - 1))
    n <<= 1;
  std::vector<double> y(B * C * L);
  for (int64_t c = 0; c < C; ++c) {
    std::vector<std::complex<double>> kf(n);
    for (int64_t j = 0; j < Lk; ++j)
      kf[j] = k[c * Lk + j];
    fft64(kf, false);
    for (int64_t b = 0; b < B; ++b) {
      std::vector<std::complex<double>> a(n);
      const float *ur = &u[(b * C + c) * L];
      for (int64_t t = 0; t < L; ++t)
        a[t] = ur[t];
      fft64(a, false);
      for (size_t i = 0; i < n; ++i)
        a[i] *= kf[i];
      fft64(a, true);
      for (int64_t t = 0; t < L; ++t)
        y[(b * C + c) * L + t] =
            a[t].real() / double(n) + (d ? double((*d)[c]) * ur[t] : 0.0);
    }
  }
  return y;
}

std::string fftModule(int64_t B, int64_t C, int64_t L, int64_t Lk, bool hasD) {
  auto t = [](std::initializer_list<int64_t> dims) {
    std::string s = "tensor<";
    for (int64_t v : dims)
      s += std::to_string(v) + "x";
    return s + "f32>";
  };
  std::string ut = t({B, C, L}), kt = t({C, Lk}), dt = t({C});
  std::ostringstream os;
  os << "func.func @main(%u: " << ut << ", %k: " << kt;
  if (hasD)
    os << ", %d: " << dt;
  os << ") -> " << ut << " {\n  %y = kjit.fft_conv %u, %k"
     << (hasD ? ", %d" : "") << " : " << ut << ", " << kt
     << (hasD ? ", " + dt : "") << " -> " << ut << "\n  return %y : " << ut
     << "\n}\n";
  return os.str();
}

struct FftCase {
  std::string name;
  int64_t b, c, l, lk;
  bool hasD;
  std::string config; ///< "" = default
  int threads = 0;
};
void PrintTo(const FftCase &c, std::ostream *os) {
  *os << c.name << " (B" << c.b << " C" << c.c << " L" << c.l << " Lk" << c.lk
      << (c.hasD ? " d" : "") << " " << c.config << " threads " << c.threads
      << ")";
}

std::string fcfg(int vw, int radix, int rowsPerTask, int threads,
                 int monarchN2 = 1 << 20) {
  std::ostringstream os;
  os << "#kjit.config<{vector_width = " << vw << ", radix = " << radix
     << ", rows_per_task = " << rowsPerTask << ", threads = " << threads
     << ", monarch_n2 = " << monarchN2 << "}>";
  return os.str();
}

std::vector<FftCase> fftCases() {
  std::vector<FftCase> v;
  // Default config (host-dependent), L in {16, 17, 100, 127, 1000, 4096,
  // 65536}, Lk = 1, small, = L, with and without d, odd B and C, 1 and 2
  // threads.
  v.push_back({"L16_lk1_d", 1, 1, 16, 1, true, "", 1});
  v.push_back({"L16_lkL", 3, 5, 16, 16, false, "", 2});
  v.push_back({"L17_lk5_d", 3, 3, 17, 5, true, "", 2});
  v.push_back({"L17_lkL", 1, 3, 17, 17, false, "", 1});
  v.push_back({"L100_lk7_d", 3, 5, 100, 7, true, "", 1});
  v.push_back({"L100_lk1", 5, 1, 100, 1, false, "", 2});
  v.push_back({"L127_lkL_d", 1, 3, 127, 127, true, "", 2});
  v.push_back({"L127_lk13", 3, 1, 127, 13, false, "", 1});
  v.push_back({"L1000_lk33_d", 3, 3, 1000, 33, true, "", 2});
  v.push_back({"L1000_lkL", 1, 5, 1000, 1000, false, "", 1});
  v.push_back({"L4096_lk1_d", 1, 3, 4096, 1, true, "", 1});
  v.push_back({"L4096_lkL_d", 1, 3, 4096, 4096, true, "", 2});
  v.push_back({"L4096_lk100", 3, 1, 4096, 100, false, "", 2});
  v.push_back({"L65536_lk300_d", 1, 1, 65536, 300, true, "", 2});
  v.push_back({"L65536_lkL_d", 1, 1, 65536, 65536, true, "", 2});
  // A sample of legal configs (every knob varied; vector_width 4 and 8 are
  // legal on any AVX2 host).
  v.push_back({"cfg_vw4_r2_rpt3", 3, 5, 100, 9, true, fcfg(4, 2, 3, 1), 0});
  v.push_back({"cfg_vw4_r8_rpt2", 3, 3, 1000, 1000, false, fcfg(4, 8, 2, 2), 0});
  v.push_back({"cfg_vw8_r2_rpt1", 1, 3, 4096, 4096, true, fcfg(8, 2, 1, 2), 0});
  v.push_back({"cfg_vw8_r4_rpt5", 3, 3, 127, 3, true, fcfg(8, 4, 5, 1), 0});
  v.push_back({"cfg_vw8_r8_rpt4", 5, 1, 40, 40, false, fcfg(8, 8, 4, 2), 0});
  v.push_back({"cfg_vw4_r4_small", 1, 1, 16, 1, true, fcfg(4, 4, 1, 1), 0});
  v.push_back({"cfg_vw4_r8_65536", 1, 1, 65536, 17, false, fcfg(4, 8, 1, 1), 0});
  // The Monarch split m = N1 x N2 (m = n / 2 complex points): the smallest
  // N2 (one block), N2 = m / 2 (one chunk pair beyond chunks 0 and 1), and
  // a split deep enough for several octaves of chunk pairs.
  v.push_back({"cfg_n2_16_vw4", 3, 3, 1000, 1000, true, fcfg(4, 4, 1, 2, 16), 0});
  v.push_back({"cfg_n2_half_vw8", 1, 3, 4096, 33, true, fcfg(8, 8, 1, 1, 2048), 0});
  v.push_back({"cfg_n2_64_vw8_r2", 2, 3, 777, 500, false, fcfg(8, 2, 2, 2, 64), 0});
  v.push_back({"cfg_n2_256_65536", 1, 1, 65536, 65536, true, fcfg(4, 8, 1, 2, 256), 0});
  return v;
}

class FftConvTest : public ::testing::TestWithParam<FftCase> {};

TEST_P(FftConvTest, MatchesReference) {
  const FftCase &c = GetParam();
  uint64_t seed = baseSeed() ^ std::hash<std::string>()(c.name);
  std::mt19937_64 rng(seed);
  auto u = randomVector(c.b * c.c * c.l, rng);
  auto kk = randomVector(c.c * c.lk, rng);
  auto d = randomVector(c.c, rng);
  std::vector<float> y(c.b * c.c * c.l, std::nanf(""));
  kjit::CompileOptions opts;
  opts.config = c.config;
  opts.threads = c.threads;
  auto k = sharedJit().compileModule(fftModule(c.b, c.c, c.l, c.lk, c.hasD),
                                     opts);
  ASSERT_TRUE(bool(k)) << k.errorMessage() << " (seed " << baseSeed() << ")";
  std::vector<kjit::TensorView> ins = {
      kjit::TensorView(u.data(), {c.b, c.c, c.l}),
      kjit::TensorView(kk.data(), {c.c, c.lk})};
  if (c.hasD)
    ins.push_back(kjit::TensorView(d.data(), {c.c}));
  kjit::Status st =
      k->run(ins, {kjit::TensorView(y.data(), {c.b, c.c, c.l})});
  ASSERT_TRUE(st.isOk()) << st.message();
  const std::vector<float> *dp = c.hasD ? &d : nullptr;
  bool big = double(c.l) * double(c.lk) > 5e7;
  std::vector<double> ref =
      big ? fftConvByFft64(u, kk, dp, c.b, c.c, c.l, c.lk)
          : fftConvDirect(u, kk, dp, c.b, c.c, c.l, c.lk);
  Compare cmp = compare(y, ref);
  EXPECT_TRUE(cmp.ok) << cmp.describe() << "\nconfig: "
                      << (k->configs().empty() ? "" : k->configs()[0])
                      << "\nreference: " << (big ? "float64 FFT" : "direct")
                      << "\nseed: KJIT_TEST_SEED=" << baseSeed();
}

INSTANTIATE_TEST_SUITE_P(LongConv, FftConvTest, ::testing::ValuesIn(fftCases()),
                         [](const auto &info) { return info.param.name; });

TEST(FftConvConfigs, IllegalConfigIsAnError) {
  kjit::CompileOptions opts;
  opts.config = "#kjit.config<{radix = 3}>";
  auto k = sharedJit().compileModule(fftModule(1, 3, 100, 5, false), opts);
  ASSERT_FALSE(bool(k));
  EXPECT_NE(k.errorMessage().find("radix must be 2, 4 or 8, got 3"),
            std::string::npos)
      << k.errorMessage();
  opts.config = "#kjit.config<{vector_width = 4, monarch_n2 = 48}>";
  k = sharedJit().compileModule(fftModule(1, 3, 100, 5, false), opts);
  ASSERT_FALSE(bool(k));
  EXPECT_NE(k.errorMessage().find("monarch_n2 must be a power of two >= "
                                  "vector_width^2 = 16"),
            std::string::npos)
      << k.errorMessage();
}

//===----------------------------------------------------------------------===//
// The kernel spectrum cached across calls (FftConvCPU.cpp: globals keyed by
// an exact copy of k). Every call must see the k it is given: the same
// buffer changed in place, one bit of one channel changed, a different
// buffer with the old contents, and many host threads running one Kernel
// with different k at the same time.
//===----------------------------------------------------------------------===//

struct SpecRun {
  int64_t B, C, L, Lk;
  kjit::Kernel kernel;
  std::vector<float> u, d;
  std::vector<float> run(std::vector<float> &kk) const {
    std::vector<float> y(B * C * L, std::nanf(""));
    std::vector<float> uu = u, dd = d;
    kjit::Status st =
        kernel.run({kjit::TensorView(uu.data(), {B, C, L}),
                    kjit::TensorView(kk.data(), {C, Lk}),
                    kjit::TensorView(dd.data(), {C})},
                   {kjit::TensorView(y.data(), {B, C, L})});
    if (!st.isOk())
      ADD_FAILURE() << st.message();
    return y;
  }
  std::vector<double> ref(const std::vector<float> &kk) const {
    return fftConvDirect(u, kk, &d, B, C, L, Lk);
  }
};

SpecRun makeSpecRun(int64_t B, int64_t C, int64_t L, int64_t Lk,
                    const std::string &config, std::mt19937_64 &rng) {
  kjit::CompileOptions opts;
  opts.config = config;
  auto k = sharedJit().compileModule(fftModule(B, C, L, Lk, true), opts);
  if (!k) {
    ADD_FAILURE() << k.errorMessage();
    std::abort();
  }
  return {B, C, L, Lk, *k, randomVector(B * C * L, rng),
          randomVector(C, rng)};
}

TEST(FftConvSpectrumCache, ChangedKernelGivesNewAnswer) {
  std::mt19937_64 rng(baseSeed() ^ 0x5eedu);
  for (const char *cfg : {"", "#kjit.config<{threads = 2}>"}) {
    SpecRun r = makeSpecRun(2, 3, 200, 37, cfg, rng);
    std::vector<float> k1 = randomVector(r.C * r.Lk, rng);
    for (int rep = 0; rep < 2; ++rep) { // first call fills, second reuses
      Compare cmp = compare(r.run(k1), r.ref(k1));
      EXPECT_TRUE(cmp.ok) << cmp.describe() << " call " << rep << " " << cfg;
    }
    // The same buffer changed in place: one value of the last channel, in
    // its last bit, then everything.
    uint32_t bits;
    std::memcpy(&bits, &k1.back(), 4);
    bits ^= 1u;
    std::memcpy(&k1.back(), &bits, 4);
    k1.back() += 0.5f; // large enough to fail the tolerance if stale
    Compare one = compare(r.run(k1), r.ref(k1));
    EXPECT_TRUE(one.ok) << one.describe() << " after one value changed " << cfg;
    std::vector<float> k2 = randomVector(r.C * r.Lk, rng);
    std::copy(k2.begin(), k2.end(), k1.begin());
    Compare all = compare(r.run(k1), r.ref(k2));
    EXPECT_TRUE(all.ok) << all.describe() << " after k rewritten " << cfg;
    // A different buffer with the same contents: the same answer.
    std::vector<float> k3 = k2;
    Compare same = compare(r.run(k3), r.ref(k2));
    EXPECT_TRUE(same.ok) << same.describe() << " other buffer " << cfg;
  }
}

TEST(FftConvSpectrumCache, ManyHostThreadsWithDifferentKernels) {
  std::mt19937_64 rng(baseSeed() ^ 0xc0ffeeu);
  SpecRun r = makeSpecRun(1, 4, 300, 300, "#kjit.config<{threads = 1}>", rng);
  constexpr int kVariants = 3, kThreads = 6, kIters = 40;
  std::vector<std::vector<float>> ks;
  std::vector<std::vector<double>> refs;
  for (int v = 0; v < kVariants; ++v) {
    ks.push_back(randomVector(r.C * r.Lk, rng));
    refs.push_back(r.ref(ks.back()));
  }
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int it = 0; it < kIters; ++it) {
        int v = (t + it) % kVariants;
        std::vector<float> kk = ks[v];
        if (!compare(r.run(kk), refs[v]).ok)
          ++bad;
      }
    });
  for (auto &t : ts)
    t.join();
  EXPECT_EQ(bad.load(), 0) << "calls that read another call's spectrum; seed "
                           << baseSeed();
}

} // namespace
