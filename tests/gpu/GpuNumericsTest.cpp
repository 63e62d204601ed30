//===- GpuNumericsTest.cpp - every GPU generator's numerics ---------------===//
//
// Each op with a GPU generator (depthwise NHWC/NCHW incl. a large kernel on
// the shared-memory halo path, the Inception mixer, window attention 1-D/2-D
// with dilation/causal/rpb, butterfly, spmm, fft_conv in shared memory and
// multi-launch) on Target::cuda(0), at small shapes with odd and prime
// sizes, for its default GPU config plus a random sample of legal configs
// of its GPU search space (autotune's enumerate for sm_90; the seed is in
// every failure message; KJIT_TEST_GPU_CONFIGS=N samples N instead of 3),
// against an independent reference: tests/reference
// for the convs, direct loops here for spmm, butterfly and fft_conv (the
// formulas of ARCHITECTURE.md, double accumulation) and the CPU kjit kernel
// for window attention (no independent reference exists; the CPU kernel is
// itself checked against one in tests/unit).
// Tolerance: max |y - ref| <= rtol * (1 + max |ref|), no NaN/Inf, rtol 1e-4
// (sums of O(1) products) or 5e-4 (softmax with the GPU's ex2.approx, FFT
// round trips); an indexing error is O(1).
// Needs a CUDA driver: skips without one. In CI it runs on the CPU under the
// emulating driver (the emu.* ctest entries: KJIT_CUDA_DRIVER=EmuCudaDriver,
// KJIT_GPU_EMULATE=1).
//
//===----------------------------------------------------------------------===//
#include "OpModuleText.h"
#include "CudaExecutor.h"
#include "GpuTestSupport.h"
#include "autotune/Space.h"
#include "autotune/Workload.h"
#include "compiler/Pipelines/NVVMPipeline.h"
#include "kjit/kjit.h"
#include "tests/reference/Reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <dlfcn.h>
#include <functional>
#include <random>

using namespace kjit;
using kjit::testing::seed;
namespace ref = kjit::reference;

namespace {
std::string s(int64_t v) { return std::to_string(v); }
using kjit::testing::tensor;
using kjit::testing::wrap;

/// Inputs of one run: f32 and i32 buffers in argument order.
struct Inputs {
  std::vector<std::vector<float>> f;
  std::vector<std::vector<int32_t>> i;
  std::vector<TensorView> views;
};
using Reference = std::function<std::vector<float>(Inputs &)>;

struct Case {
  std::string name;
  std::string module;
  double rtol = 1e-4;
  /// Null: the CPU kjit kernel is the reference.
  Reference reference;
  /// spmm: a random CSR (m rows, k columns, nnz entries) for the i32 inputs.
  int64_t csrM = 0, csrK = 0, csrNnz = 0;
  std::vector<std::string> configs; ///< always tried, besides the sample
};
void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

//===----------------------------------------------------------------------===//
// References
//===----------------------------------------------------------------------===//
ref::DwConv dwParams(bool nchw, int64_t n, int64_t c, int64_t h, int64_t w,
                     int64_t k, int64_t stride, int64_t dil) {
  ref::DwConv p;
  p.n = n, p.c = c, p.h = h, p.w = w, p.kh = p.kw = k;
  p.strides = {stride, stride};
  p.dilations = {dil, dil};
  int64_t pad = (k - 1) * dil / 2;
  p.padding = {pad, pad, pad, pad};
  p.nchw = nchw;
  return p;
}

Case dwCase(const std::string &name, bool nchw, int64_t n, int64_t c,
            int64_t h, int64_t w, int64_t k, int64_t stride, int64_t dil,
            bool bias) {
  ref::DwConv p = dwParams(nchw, n, c, h, w, k, stride, dil);
  std::string in = tensor(p.inputShape()), out = tensor(p.outputShape());
  std::vector<std::string> types = {in, tensor({c, k, k})};
  if (bias)
    types.push_back(tensor({c}));
  int64_t pad = p.padding[0];
  Case t;
  t.name = name;
  t.module = wrap("kjit.depthwise_conv2d", types, out,
                  std::string("layout = \"") + (nchw ? "nchw" : "nhwc") +
                      "\", strides = array<i64: " + s(stride) + ", " +
                      s(stride) + ">, dilations = array<i64: " + s(dil) +
                      ", " + s(dil) + ">, padding = array<i64: " + s(pad) +
                      ", " + s(pad) + ", " + s(pad) + ", " + s(pad) + ">");
  t.reference = [p, bias](Inputs &in) {
    return ref::depthwiseConv2d(p, in.f[0].data(), in.f[1].data(),
                                bias ? in.f[2].data() : nullptr);
  };
  return t;
}

Case inceptionCase(const std::string &name, bool nchw, int64_t n, int64_t c,
                   int64_t h, int64_t w, int64_t gs, int64_t gw, int64_t gh,
                   int64_t k, int64_t band) {
  ref::Inception p;
  p.n = n, p.c = c, p.h = h, p.w = w, p.squareKernel = k, p.bandKernel = band;
  p.gSq = gs, p.gW = gw, p.gH = gh, p.nchw = nchw;
  std::string x = nchw ? tensor({n, c, h, w}) : tensor({n, h, w, c});
  Case t;
  t.name = name;
  t.module = wrap("kjit.inception_depthwise_conv2d",
                  {x, tensor({gs, k, k}), tensor({gw, 1, band}),
                   tensor({gh, band, 1})},
                  x,
                  std::string("layout = \"") + (nchw ? "nchw" : "nhwc") +
                      "\", branch_channels = array<i64: " + s(gs) + ", " +
                      s(gw) + ", " + s(gh) + ">");
  t.reference = [p](Inputs &in) {
    return ref::inceptionDepthwiseConv2d(p, in.f[0].data(), in.f[1].data(),
                                         in.f[2].data(), in.f[3].data());
  };
  return t;
}

/// 1-D (h = 0) or 2-D window attention; the CPU kernel is the reference.
Case waCase(const std::string &name, int64_t b, int64_t heads, int64_t h,
            int64_t w, int64_t d, int64_t k, int64_t dil, bool causal,
            bool rpb) {
  std::string t = h ? tensor({b, heads, h, w, d}) : tensor({b, heads, w, d});
  std::vector<std::string> types = {t, t, t};
  if (rpb)
    types.push_back(h ? tensor({heads, 2 * k - 1, 2 * k - 1})
                      : tensor({heads, 2 * k - 1}));
  std::string ks = h ? s(k) + ", " + s(k) : s(k);
  std::string ds = h ? s(dil) + ", " + s(dil) : s(dil);
  Case c;
  c.name = name;
  c.module = wrap("kjit.window_attention", types, t,
                  "kernel_size = array<i64: " + ks +
                      ">, dilation = array<i64: " + ds + ">" +
                      (causal ? ", is_causal = true" : ""));
  c.rtol = 5e-4;
  return c;
}

/// ARCHITECTURE.md's Monarch product, in double.
Case butterflyCase(const std::string &name, int64_t b, int64_t m1,
                   int64_t m2) {
  Case c;
  c.name = name;
  int64_t n = m1 * m2;
  c.module = wrap("kjit.butterfly_matmul",
                  {tensor({b, n}), tensor({m1, m2, m2}), tensor({m2, m1, m1})},
                  tensor({b, n}), "");
  c.reference = [=](Inputs &in) {
    const float *x = in.f[0].data(), *r = in.f[1].data(), *l = in.f[2].data();
    std::vector<float> y(size_t(b * n));
    std::vector<double> x1(static_cast<size_t>(n));
    for (int64_t row = 0; row < b; ++row) {
      const float *xr = x + row * n;
      // X1[i] = r[i] . X[i]  (X = xr as m1 x m2)
      for (int64_t i = 0; i < m1; ++i)
        for (int64_t p = 0; p < m2; ++p) {
          double acc = 0;
          for (int64_t a = 0; a < m2; ++a)
            acc += double(r[(i * m2 + p) * m2 + a]) * xr[i * m2 + a];
          x1[size_t(i * m2 + p)] = acc;
        }
      // X2 = X1^T (m2 x m1); X3[j] = l[j] . X2[j]; y = X3^T.
      for (int64_t j = 0; j < m2; ++j)
        for (int64_t q = 0; q < m1; ++q) {
          double acc = 0;
          for (int64_t i = 0; i < m1; ++i)
            acc += double(l[(j * m1 + q) * m1 + i]) * x1[size_t(i * m2 + j)];
          y[size_t(row * n + q * m2 + j)] = float(acc);
        }
    }
    return y;
  };
  return c;
}

Case spmmCase(const std::string &name, int64_t m, int64_t k, int64_t n,
              int64_t nnz) {
  Case c;
  c.name = name;
  c.module = wrap("kjit.spmm",
                  {tensor({m + 1}, "i32"), tensor({nnz}, "i32"),
                   tensor({nnz}), tensor({k, n})},
                  tensor({m, n}), "");
  c.csrM = m, c.csrK = k, c.csrNnz = nnz;
  c.reference = [=](Inputs &in) {
    const std::vector<int32_t> &rp = in.i[0], &ci = in.i[1];
    const float *v = in.f[0].data(), *bm = in.f[1].data();
    std::vector<float> y(size_t(m * n));
    for (int64_t r = 0; r < m; ++r)
      for (int64_t col = 0; col < n; ++col) {
        double acc = 0;
        for (int32_t e = rp[r]; e < rp[r + 1]; ++e)
          acc += double(v[e]) * bm[ci[e] * n + col];
        y[size_t(r * n + col)] = float(acc);
      }
    return y;
  };
  return c;
}

/// y[b,c,t] = sum_{s <= min(t, lk-1)} k[c,s] u[b,c,t-s] + d[c] u[b,c,t].
Case fftCase(const std::string &name, int64_t b, int64_t ch, int64_t l,
             int64_t lk, bool d) {
  Case c;
  c.name = name;
  std::vector<std::string> types = {tensor({b, ch, l}), tensor({ch, lk})};
  if (d)
    types.push_back(tensor({ch}));
  c.module = wrap("kjit.fft_conv", types, tensor({b, ch, l}), "");
  c.rtol = 5e-4;
  c.reference = [=](Inputs &in) {
    const float *u = in.f[0].data(), *k = in.f[1].data();
    std::vector<float> y(size_t(b * ch * l));
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t ci = 0; ci < ch; ++ci) {
        const float *ur = u + (bi * ch + ci) * l;
        for (int64_t t = 0; t < l; ++t) {
          double acc = 0;
          for (int64_t sft = 0; sft <= std::min(t, lk - 1); ++sft)
            acc += double(k[ci * lk + sft]) * ur[t - sft];
          if (d)
            acc += double(in.f[2][size_t(ci)]) * ur[t];
          y[size_t((bi * ch + ci) * l + t)] = float(acc);
        }
      }
    return y;
  };
  return c;
}

std::vector<Case> cases() {
  std::vector<Case> v;
  v.push_back(dwCase("dw_nhwc_k3_bias", false, 2, 7, 11, 13, 3, 1, 1, true));
  v.push_back(dwCase("dw_nhwc_k5_stride2", false, 1, 12, 17, 13, 5, 2, 1,
                     false));
  v.push_back(dwCase("dw_nhwc_k7_dil2", false, 1, 5, 19, 23, 7, 1, 2, true));
  v.push_back(dwCase("dw_nchw_k5", true, 1, 5, 17, 19, 5, 1, 1, true));
  v.push_back(dwCase("dw_nchw_k3_stride2", true, 2, 3, 13, 11, 3, 2, 1,
                     false));
  // A large kernel: the default stages a halo tile in shared memory.
  Case big = dwCase("dw_nhwc_k31_halo", false, 1, 6, 23, 19, 31, 1, 1, true);
  big.configs = {"#kjit.config<{block_w = 4, block_h = 2, "
                 "channels_per_block = 2, threads = 32}>",
                 "#kjit.config<{smem_stage = 0, block_w = 8, block_h = 4, "
                 "channels_per_block = 2, threads = 64}>"};
  v.push_back(big);
  v.push_back(dwCase("dw_nchw_k13_halo", true, 1, 3, 29, 17, 13, 1, 1, false));
  v.push_back(inceptionCase("inception_nhwc", false, 1, 29, 13, 11, 5, 7, 3,
                            3, 11));
  v.push_back(inceptionCase("inception_nchw", true, 2, 19, 7, 9, 4, 3, 5, 5,
                            7));
  v.push_back(waCase("wa_1d_dil_rpb", 2, 3, 0, 23, 8, 5, 2, false, true));
  v.push_back(waCase("wa_1d_causal", 1, 2, 0, 19, 16, 7, 1, true, false));
  v.push_back(waCase("wa_1d_causal_dil_rpb", 1, 1, 0, 29, 8, 3, 3, true,
                     true));
  v.push_back(waCase("wa_2d_rpb", 1, 2, 7, 9, 8, 3, 1, false, true));
  v.push_back(waCase("wa_2d_dil", 1, 1, 11, 7, 8, 3, 2, false, false));
  v.push_back(butterflyCase("bfly_3x7", 5, 3, 7));
  Case split = butterflyCase("bfly_11x13", 3, 11, 13);
  split.configs = {
      "#kjit.config<{variant = \"split\", chunk = 4, threads = 64}>",
      "#kjit.config<{variant = \"fused\", rows_per_block = 2, threads = 64}>"};
  v.push_back(split);
  v.push_back(spmmCase("spmm_13x17x11", 13, 17, 11, 41));
  v.push_back(spmmCase("spmm_31x29x37", 31, 29, 37, 97));
  v.push_back(fftCase("fft_37_11_d", 2, 3, 37, 11, true));
  Case multi = fftCase("fft_61_61", 1, 2, 61, 61, false);
  multi.configs = {"#kjit.config<{smem_fft = 16, radix = 2}>",
                   "#kjit.config<{radix = 2, threads = 128}>"};
  v.push_back(multi);
  return v;
}

//===----------------------------------------------------------------------===//
// The test
//===----------------------------------------------------------------------===//
JitOptions noDiskCache() {
  JitOptions o;
  o.diskCache = false;
  return o;
}

/// Random inputs for `args` (a CSR for the i32 ones of spmm).
Inputs makeInputs(const Case &c, const std::vector<ArgInfo> &args,
                  std::mt19937_64 &rng) {
  Inputs in;
  std::uniform_real_distribution<float> u(-1, 1);
  // Reserve so that views stay valid.
  in.f.reserve(args.size());
  in.i.reserve(args.size());
  if (c.csrM) {
    std::vector<int64_t> cells(size_t(c.csrM * c.csrK));
    for (size_t j = 0; j < cells.size(); ++j)
      cells[j] = int64_t(j);
    std::shuffle(cells.begin(), cells.end(), rng);
    cells.resize(size_t(c.csrNnz));
    std::sort(cells.begin(), cells.end());
    std::vector<int32_t> rp(size_t(c.csrM + 1), 0), ci;
    for (int64_t cell : cells) {
      ++rp[size_t(cell / c.csrK + 1)];
      ci.push_back(int32_t(cell % c.csrK));
    }
    for (int64_t r = 0; r < c.csrM; ++r)
      rp[size_t(r + 1)] += rp[size_t(r)];
    in.i.push_back(std::move(rp));
    in.i.push_back(std::move(ci));
  }
  size_t nextI = 0;
  for (const ArgInfo &a : args) {
    int64_t n = 1;
    for (int64_t d : a.shape)
      n *= d;
    if (a.dtype == DType::i32) {
      in.views.push_back(TensorView(in.i.at(nextI++).data(), a.shape));
      continue;
    }
    std::vector<float> v(static_cast<size_t>(n));
    for (float &x : v)
      x = u(rng);
    in.f.push_back(std::move(v));
    in.views.push_back(TensorView(in.f.back().data(), a.shape));
  }
  return in;
}

/// The default ("") plus `sample` legal configs of the op's sm_90 space and
/// the case's own.
std::vector<std::string> configsOf(const Case &c, size_t sample,
                                   std::mt19937_64 &rng, std::string &error) {
  std::vector<std::string> out = {""};
  auto ws = autotune::extractWorkloads(c.module);
  if (!ws) {
    error = llvm::toString(ws.takeError());
    return out;
  }
  auto pw = autotune::ParsedWorkload::parse(ws->front());
  if (!pw) {
    error = llvm::toString(pw.takeError());
    return out;
  }
  TargetInfo t = *compiler::cudaTargetInfo("sm_90");
  autotune::EnumeratedSpace space = (*pw)->enumerate(t);
  std::vector<std::string> legal;
  for (const autotune::SpacePoint &p : space.legal)
    legal.push_back(p.candidate.configText);
  std::shuffle(legal.begin(), legal.end(), rng);
  for (size_t i = 0; i < legal.size() && i < sample; ++i)
    out.push_back(legal[i]);
  for (const std::string &cfg : c.configs)
    out.push_back(cfg);
  return out;
}

class GpuNumerics : public ::testing::TestWithParam<Case> {};

TEST_P(GpuNumerics, MatchesReferenceForSampledConfigs) {
  REQUIRE_GPU();
  const Case &c = GetParam();
  SCOPED_TRACE("seed " + std::to_string(seed()) +
               " (KJIT_TEST_SEED reproduces)");
  std::mt19937_64 rng(seed() ^ std::hash<std::string>()(c.name));
  Jit cpu(Target::host(), noDiskCache()), gpu(Target::cuda(0), noDiskCache());
  auto kc = cpu.compileModule(c.module);
  ASSERT_TRUE(bool(kc)) << kc.errorMessage() << "\n" << c.module;
  Inputs in = makeInputs(c, kc->inputs(), rng);
  const ArgInfo &outInfo = kc->outputs().front();
  int64_t outSize = 1;
  for (int64_t d : outInfo.shape)
    outSize *= d;
  std::vector<float> want;
  if (c.reference) {
    want = c.reference(in);
  } else {
    want.assign(size_t(outSize), 0.0f);
    Status st = kc->run(in.views, {TensorView(want.data(), outInfo.shape)});
    ASSERT_TRUE(st.isOk()) << st.message();
  }
  ASSERT_EQ(want.size(), size_t(outSize));
  std::string error;
  // KJIT_TEST_GPU_CONFIGS=N samples N configs instead of 3 (a wider sweep).
  size_t sample = 3;
  if (const char *e = std::getenv("KJIT_TEST_GPU_CONFIGS"))
    sample = size_t(std::strtoul(e, nullptr, 10));
  std::vector<std::string> configs = configsOf(c, sample, rng, error);
  ASSERT_TRUE(error.empty()) << error;
  for (const std::string &config : configs) {
    SCOPED_TRACE("config " + (config.empty() ? "(default)" : config));
    CompileOptions opts;
    opts.config = config;
    auto kg = gpu.compileModule(c.module, opts);
    ASSERT_TRUE(bool(kg)) << kg.errorMessage();
    std::vector<float> y(size_t(outSize), -7.0f);
    Status st = kg->run(in.views, {TensorView(y.data(), outInfo.shape)});
    ASSERT_TRUE(st.isOk()) << st.message();
    ref::Comparison cmp = ref::compare(y.data(), want, c.rtol);
    EXPECT_TRUE(cmp.ok) << "resolved " << kg->configs().front() << ": "
                        << cmp.describe();
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, GpuNumerics, ::testing::ValuesIn(cases()),
                         [](const auto &info) { return info.param.name; });

} // namespace

namespace {
// Under the emulator only: device code it cannot run (PTX or a cubin, made
// without KJIT_GPU_EMULATE=1) is a load error that says why, not a crash.
TEST(GpuEmulator, PtxOrCubinIsAClearError) {
  auto info = runtime::cudaDeviceInfo(0);
  if (!info || info->name != "kjit CPU emulator") {
    if (!info)
      llvm::consumeError(info.takeError());
    GTEST_SKIP() << "not running under the emulating driver";
  }
  Case c = dwCase("dw", false, 1, 3, 5, 7, 3, 1, 1, false);
  unsetenv("KJIT_GPU_EMULATE");
  Jit gpu(Target::cuda(0), noDiskCache());
  auto k = gpu.compileModule(c.module);
  setenv("KJIT_GPU_EMULATE", "1", 1);
  ASSERT_FALSE(bool(k));
  EXPECT_NE(k.errorMessage().find("is not LLVM bitcode"), std::string::npos)
      << k.errorMessage();
  EXPECT_NE(k.errorMessage().find("KJIT_GPU_EMULATE=1"), std::string::npos)
      << k.errorMessage();
}

// The emulator refuses a grid beyond a GPU's limits (x < 2^31, y and z <=
// 65535) as a GPU would, so a bench shape that only the emulator could
// launch shows before it reaches one (checked before the function is used:
// a dummy handle is safe).
TEST(GpuEmulator, GridBeyondTheGpuLimitsIsRefused) {
  void *h = dlopen(KJIT_EMU_DRIVER, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(h, nullptr) << dlerror();
  using Launch = int (*)(void *, unsigned, unsigned, unsigned, unsigned,
                         unsigned, unsigned, unsigned, void *, void **,
                         void **);
  auto launch = reinterpret_cast<Launch>(dlsym(h, "cuLaunchKernel"));
  ASSERT_NE(launch, nullptr);
  int dummy = 0;
  void *params[1] = {nullptr};
  const unsigned grids[][3] = {
      {1, 65536, 1}, {1, 1, 65536}, {0x80000000u, 1, 1}, {7, 70000, 3}};
  for (const auto &g : grids)
    EXPECT_EQ(launch(&dummy, g[0], g[1], g[2], 32, 1, 1, 0, nullptr, params,
                     nullptr),
              1 /*CUDA_ERROR_INVALID_VALUE*/)
        << g[0] << "x" << g[1] << "x" << g[2];
  dlclose(h);
}
} // namespace
