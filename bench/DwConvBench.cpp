//===- DwConvBench.cpp - depthwise conv: kjit vs oneDNN vs naive ----------===//
//
// N=1, C=256, 56x56, fp32, stride 1, "same" padding, k = 7, 13, 31, on 1 and 2
// threads. Peers in the same process:
//   - oneDNN (libdnnl 2.6) on NHWC (format tag nhwc) and on its blocked layout
//     nChw16c (the layout its fastest depthwise kernel, jit_dw, wants; the
//     NHWC -> nChw16c reorder is NOT timed, as in a network that stays
//     blocked). Configurations where oneDNN falls back to a reference
//     implementation are reported, not timed (k=31 nChw16c takes ~30 s/call).
//   - a naive loop (plain C++, NHWC), only for k=7 on one thread.
// kjit kernels are compiled before timing (threads = 1 or 2 in the compile
// options). Every implementation's output is checked against the naive loop
// before it is timed.
//
// Google Benchmark runs each case with repetitions (default 5, override with
// --benchmark_repetitions); at the end a markdown table of medians is
// printed with GFLOP/s and the speedup kjit/oneDNN (oneDNN time / kjit time).
//
//===----------------------------------------------------------------------===//
#include "kjit/kjit.h"

#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int64_t kN = 1, kC = 256, kH = 56, kW = 56;

double flopsFor(int k) { return 2.0 * kN * kC * kH * kW * k * k; }

// --- OpenMP thread count of oneDNN ------------------------------------------
// Debian's libdnnl uses OpenMP (libgomp). Set its thread count through the
// libgomp that libdnnl actually loaded (another OpenMP runtime may be in the
// process too, e.g. LLVM's libomp).
using OmpSetFn = void (*)(int);
using OmpGetFn = int (*)();
void *gompHandle() {
  static void *h = [] {
    void *p = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
    return p ? p : dlopen("libgomp.so.1", RTLD_LAZY);
  }();
  return h;
}
void setOneDnnThreads(int n) {
  if (void *h = gompHandle())
    if (auto f = (OmpSetFn)dlsym(h, "omp_set_num_threads"))
      f(n);
}
int oneDnnThreads() {
  if (void *h = gompHandle())
    if (auto f = (OmpGetFn)dlsym(h, "omp_get_max_threads"))
      return f();
  return -1;
}

// --- data shared by every implementation -------------------------------------
struct Data {
  int k;
  std::vector<float> x, w, ref; // x NHWC, w C x k x k, ref NHWC
};

/// Plain loops, NHWC, float accumulation: the "naive" peer.
void naiveNhwc(int k, const float *x, const float *w, float *y) {
  const int p = k / 2;
  for (int64_t c = 0; c < kC; ++c)
    for (int64_t oy = 0; oy < kH; ++oy)
      for (int64_t ox = 0; ox < kW; ++ox) {
        float acc = 0;
        for (int ky = 0; ky < k; ++ky) {
          int64_t iy = oy - p + ky;
          if (iy < 0 || iy >= kH)
            continue;
          for (int kx = 0; kx < k; ++kx) {
            int64_t ix = ox - p + kx;
            if (ix < 0 || ix >= kW)
              continue;
            acc += x[(iy * kW + ix) * kC + c] * w[(c * k + ky) * k + kx];
          }
        }
        y[(oy * kW + ox) * kC + c] = acc;
      }
}

Data &dataFor(int k) {
  static std::map<int, std::unique_ptr<Data>> cache;
  auto &d = cache[k];
  if (!d) {
    d = std::make_unique<Data>();
    d->k = k;
    std::mt19937 rng(k);
    std::uniform_real_distribution<float> u(-1, 1);
    d->x.resize(kN * kH * kW * kC);
    d->w.resize(kC * k * k);
    for (float &e : d->x)
      e = u(rng);
    for (float &e : d->w)
      e = u(rng);
    d->ref.resize(d->x.size());
    naiveNhwc(k, d->x.data(), d->w.data(), d->ref.data());
  }
  return *d;
}

/// max |y - ref| <= 1e-4 * (1 + max |ref|): the tests' tolerance.
bool matches(const float *y, const std::vector<float> &ref, double *err) {
  double e = 0, m = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    e = std::max(e, std::fabs(double(y[i]) - ref[i]));
    m = std::max(m, std::fabs(double(ref[i])));
    if (!std::isfinite(y[i]))
      e = INFINITY;
  }
  *err = e;
  return e <= 1e-4 * (1 + m);
}

// --- implementations
// ----------------------------------------------------------
struct Impl {
  virtual ~Impl() = default;
  virtual void run() = 0;
  /// Output in NHWC (converted if needed), for the check.
  virtual std::vector<float> outputNhwc() = 0;
  std::string note;   ///< resolved config / oneDNN implementation
  std::string status; ///< "" when it can be timed, else why not
};

struct KjitImpl : Impl {
  kjit::Result<kjit::Kernel> kernel = kjit::Status::error("not compiled");
  std::vector<float> x, y;
  std::vector<float> *w;
  int64_t k;
  bool nchw;
  std::vector<int64_t> shape;
  KjitImpl(kjit::Jit &jit, Data &d, int threads, bool nchw)
      : w(&d.w), k(d.k), nchw(nchw) {
    kjit::DepthwiseConv2d op;
    op.batch = kN, op.channels = kC, op.height = kH, op.width = kW;
    op.kernel = {d.k, d.k};
    op.layout = nchw ? "nchw" : "nhwc";
    op.samePadding();
    kjit::CompileOptions o;
    o.threads = threads;
    kernel = jit.compile(op, o);
    if (!kernel) {
      status = "compile failed: " + kernel.errorMessage();
      return;
    }
    note = kernel->configs().empty() ? "" : kernel->configs()[0];
    x = d.x;
    if (nchw) // transpose once, outside the timing
      for (int64_t c = 0; c < kC; ++c)
        for (int64_t i = 0; i < kH * kW; ++i)
          x[c * kH * kW + i] = d.x[i * kC + c];
    y.assign(d.x.size(), 0.0f);
    shape = nchw ? std::vector<int64_t>{kN, kC, kH, kW}
                 : std::vector<int64_t>{kN, kH, kW, kC};
  }
  void run() override {
    kjit::Status s = kernel->run({{x.data(), shape}, {w->data(), {kC, k, k}}},
                                 {{y.data(), shape}});
    if (!s) {
      std::fprintf(stderr, "kjit run failed: %s\n", s.message().c_str());
      std::abort();
    }
  }
  std::vector<float> outputNhwc() override {
    if (!nchw)
      return y;
    std::vector<float> o(y.size());
    for (int64_t c = 0; c < kC; ++c)
      for (int64_t i = 0; i < kH * kW; ++i)
        o[i * kC + c] = y[c * kH * kW + i];
    return o;
  }
};

struct OneDnnImpl : Impl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::convolution_forward conv;
  dnnl::memory src, wei, dst;
  dnnl::memory::desc userDst;
  bool fallback = false;

  OneDnnImpl(Data &d, dnnl::memory::format_tag tag) {
    using namespace dnnl;
    using tg = memory::format_tag;
    using dt = memory::data_type;
    const memory::dim k = d.k, p = d.k / 2;
    memory::dims sd = {kN, kC, kH, kW}, wd = {kC, 1, 1, k, k};
    auto srcMd = memory::desc(sd, dt::f32, tag);
    auto dstMd = memory::desc(sd, dt::f32, tag);
    auto weiAny = memory::desc(wd, dt::f32, tg::any);
    convolution_forward::desc cd(prop_kind::forward_inference,
                                 algorithm::convolution_direct, srcMd, weiAny,
                                 dstMd, {1, 1}, {p, p}, {p, p});
    convolution_forward::primitive_desc pd(cd, eng);
    note = pd.impl_info_str();
    // A reference or GEMM fallback is not what oneDNN users get from this
    // layout on purpose; report it instead of timing it for minutes.
    fallback = note.rfind("ref", 0) == 0;
    if (fallback) {
      status = "falls back to " + note + ", not timed";
      return;
    }
    conv = convolution_forward(pd);
    // User data: NHWC input and goihw weights, reordered once (untimed).
    auto userSrc = memory({sd, dt::f32, tg::nhwc}, eng, d.x.data());
    auto userWei = memory({wd, dt::f32, tg::goihw}, eng, d.w.data());
    src = memory(pd.src_desc(), eng);
    wei = memory(pd.weights_desc(), eng);
    dst = memory(pd.dst_desc(), eng);
    reorder(userSrc, src).execute(strm, userSrc, src);
    reorder(userWei, wei).execute(strm, userWei, wei);
    strm.wait();
    userDst = memory::desc(sd, dt::f32, tg::nhwc);
  }
  void run() override {
    conv.execute(
        strm,
        {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    strm.wait();
  }
  std::vector<float> outputNhwc() override {
    std::vector<float> o(kN * kC * kH * kW);
    auto out = dnnl::memory(userDst, eng, o.data());
    dnnl::reorder(dst, out).execute(strm, dst, out);
    strm.wait();
    return o;
  }
};

struct NaiveImpl : Impl {
  Data *d;
  std::vector<float> y;
  explicit NaiveImpl(Data &data) : d(&data), y(data.x.size()) {
    note = "plain loops, NHWC, -O3";
  }
  void run() override { naiveNhwc(d->k, d->x.data(), d->w.data(), y.data()); }
  std::vector<float> outputNhwc() override { return y; }
};

// --- registry and the final table
// ---------------------------------------------
struct Case {
  int k, threads;
  std::string impl; // "kjit nhwc", "kjit nchw", "oneDNN nhwc", ...
  std::unique_ptr<Impl> instance;
  std::string status; // "" = timed, else why not
  double medianMs = 0;
  bool fromMedian = false;
  bool checked = false;
  double err = 0;
};
std::vector<std::unique_ptr<Case>> gCases;

kjit::Jit &benchJit() {
  // No disk cache: every run compiles (measured elsewhere); memory cache on.
  static kjit::Jit jit(kjit::Target::host(), [] {
    kjit::JitOptions o;
    o.diskCache = false;
    return o;
  }());
  return jit;
}

void runCase(benchmark::State &state, Case *c) {
  setOneDnnThreads(c->threads);
  if (!c->instance) {
    Data &d = dataFor(c->k);
    if (c->impl == "kjit nhwc" || c->impl == "kjit nchw")
      c->instance = std::make_unique<KjitImpl>(benchJit(), d, c->threads,
                                               c->impl == "kjit nchw");
    else if (c->impl == "oneDNN nhwc")
      c->instance =
          std::make_unique<OneDnnImpl>(d, dnnl::memory::format_tag::nhwc);
    else if (c->impl == "oneDNN nChw16c")
      c->instance =
          std::make_unique<OneDnnImpl>(d, dnnl::memory::format_tag::nChw16c);
    else
      c->instance = std::make_unique<NaiveImpl>(d);
    c->status = c->instance->status;
    if (c->impl.rfind("oneDNN", 0) == 0)
      c->instance->note +=
          " (OpenMP threads " + std::to_string(oneDnnThreads()) + ")";
    if (c->status.empty()) {
      c->instance->run();
      c->checked = matches(c->instance->outputNhwc().data(), d.ref, &c->err);
      if (!c->checked)
        c->status = "WRONG RESULT (max err " + std::to_string(c->err) + ")";
    }
  }
  if (!c->status.empty()) {
    state.SkipWithError(c->status.c_str());
    for (auto _ : state) {
    }
    return;
  }
  for (auto _ : state)
    c->instance->run();
  state.counters["GFLOP/s"] = benchmark::Counter(
      flopsFor(c->k) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// Records the median of each case's repetitions, then prints as usual.
class MedianReporter : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run> &runs) override {
    // The median aggregate when there are repetitions; the single run when
    // there is only one (Google Benchmark gives no aggregates then).
    for (const Run &r : runs) {
      bool median =
          r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (!median && r.run_type != Run::RT_Iteration)
        continue;
      if (r.error_occurred)
        continue;
      for (auto &c : gCases)
        if (r.run_name.function_name == caseName(*c) &&
            (median || !c->fromMedian)) {
          c->fromMedian = median;
          c->medianMs = r.GetAdjustedRealTime() *
                        (r.time_unit == benchmark::kMillisecond   ? 1.0
                         : r.time_unit == benchmark::kMicrosecond ? 1e-3
                         : r.time_unit == benchmark::kNanosecond  ? 1e-6
                                                                  : 1e3);
        }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  static std::string caseName(const Case &c) {
    std::string impl = c.impl;
    std::replace(impl.begin(), impl.end(), ' ', '_');
    return "dwconv/k" + std::to_string(c.k) + "/t" + std::to_string(c.threads) +
           "/" + impl;
  }
};

const Case *find(int k, int t, const char *impl) {
  for (auto &c : gCases)
    if (c->k == k && c->threads == t && c->impl == impl)
      return c.get();
  return nullptr;
}

std::string cell(const Case *c, int k) {
  char buf[96];
  if (!c)
    return "–";
  if (!c->status.empty() || c->medianMs <= 0)
    return c->status.empty() ? "not run" : c->status;
  std::snprintf(buf, sizeof buf, "%.3f ms (%.1f GFLOP/s)", c->medianMs,
                flopsFor(k) / c->medianMs * 1e-6);
  return buf;
}

std::string ratio(const Case *a, const Case *b) {
  if (!a || !b || a->medianMs <= 0 || b->medianMs <= 0 || !a->status.empty() ||
      !b->status.empty())
    return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f×", b->medianMs / a->medianMs);
  return buf;
}

void printTable() {
  std::printf("\n## Depthwise conv, N=1 C=256 56x56 fp32, same padding "
              "(medians)\n\n");
  std::printf("| k | threads | kjit NHWC | kjit NCHW | oneDNN NHWC | oneDNN "
              "nChw16c | naive | kjit NHWC / oneDNN NHWC | kjit NHWC / oneDNN "
              "best |\n|---|---|---|---|---|---|---|---|---|\n");
  for (int k : {7, 13, 31})
    for (int t : {1, 2}) {
      const Case *kj = find(k, t, "kjit nhwc"), *kc = find(k, t, "kjit nchw"),
                 *on = find(k, t, "oneDNN nhwc"),
                 *ob = find(k, t, "oneDNN nChw16c"), *nv = find(k, t, "naive");
      const Case *best = on;
      if (ob && ob->status.empty() && ob->medianMs > 0 &&
          (!best || !best->status.empty() || ob->medianMs < best->medianMs))
        best = ob;
      std::printf("| %d | %d | %s | %s | %s | %s | %s | %s | %s |\n", k, t,
                  cell(kj, k).c_str(), cell(kc, k).c_str(), cell(on, k).c_str(),
                  cell(ob, k).c_str(), cell(nv, k).c_str(),
                  ratio(kj, on).c_str(), ratio(kj, best).c_str());
    }
  std::printf("\nRatios are speedups: oneDNN median time / kjit median time "
              "(> 1: kjit faster).\n\nImplementations and configs:\n");
  for (auto &c : gCases)
    if (c->instance)
      std::printf("- k=%d t=%d %s: %s%s\n", c->k, c->threads, c->impl.c_str(),
                  c->instance->note.c_str(), c->checked ? " [checked]" : "");
}

} // namespace

int main(int argc, char **argv) {
  // Defaults: 5 repetitions, aggregates only. Flags given on the command
  // line come later and win.
  std::vector<char *> args = {argv[0]};
  static char rep[] = "--benchmark_repetitions=5";
  static char agg[] = "--benchmark_report_aggregates_only=true";
  args.push_back(rep);
  args.push_back(agg);
  for (int i = 1; i < argc; ++i)
    args.push_back(argv[i]);
  int n = int(args.size());
  benchmark::Initialize(&n, args.data());

  for (int k : {7, 13, 31})
    for (int t : {1, 2})
      for (const char *impl : {"kjit nhwc", "kjit nchw", "oneDNN nhwc",
                               "oneDNN nChw16c", "naive"}) {
        if (!std::strcmp(impl, "naive") && (k != 7 || t != 1))
          continue;
        auto c = std::make_unique<Case>();
        c->k = k, c->threads = t, c->impl = impl;
        benchmark::RegisterBenchmark(MedianReporter::caseName(*c).c_str(),
                                     runCase, c.get())
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
        gCases.push_back(std::move(c));
      }
  std::printf("%s; target %s\noneDNN %d.%d.%d, OpenMP max threads at "
              "start %d\n",
              kjit::version().c_str(), kjit::Target::host().key().c_str(),
              dnnl::version()->major, dnnl::version()->minor,
              dnnl::version()->patch, oneDnnThreads());
  MedianReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  printTable();
  benchmark::Shutdown();
  return 0;
}
