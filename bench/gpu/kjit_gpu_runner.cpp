//===- kjit_gpu_runner.cpp - run a kjit CUDA kernel library, no MLIR -------===//
//
// bench/gpu's runner for GPU machines where kjit cannot be built (no
// MLIR/LLVM there): it loads a kernel library made from kjit's CUDA host
// object (`kjit-run --target=cuda --emit=host-object`, linked with
// `c++ -shared`), whose mgpu* calls bind to the functions this program
// exports from runtime/lib/CudaDriver.cpp (built with KJIT_CUDA_EXPORT_MGPU
// and -rdynamic), the same code the kjit runtime uses.
//
//   kjit_gpu_runner LIB.so ENTRY [--input DTYPE:SHAPE:FILE]... \
//       [--output DTYPE:SHAPE:FILE]... [--repeat N] [--no-l2-flush]
//
// DTYPE is f32 or i32, SHAPE like 1x56x56x256, FILE raw little-endian
// C-order data (inputs read, outputs written after the first run). An
// output of SHAPE `?` is one the kernel allocates (kjit.spgemm's col_idx
// and values: rank 1, its length known after the run): its descriptor is
// filled by the kernel with device memory, checked
// (cuda::checkKernelBuffer), copied out and freed, each run's. Prints
// `time_ms median=.. min=.. max=.. runs=N` (CUDA events, L2 flushed before
// each run) and `device <name>;sm_XY;driver=N`. Errors: one line on stderr
// starting "kjit_gpu_runner: error:", exit 1.
//
//===----------------------------------------------------------------------===//
#include "CudaDriver.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <vector>

using namespace kjit;

namespace {
int fail(const std::string &msg) {
  fprintf(stderr, "kjit_gpu_runner: error: %s\n", msg.c_str());
  return 1;
}

struct Arg {
  bool isOutput = false;
  bool dynamic = false; ///< SHAPE `?`: allocated by the kernel
  size_t elemBytes = 4;
  std::vector<int64_t> shape;
  std::string file;
  uint64_t device = 0;
  size_t bytes() const {
    size_t n = elemBytes;
    for (int64_t d : shape)
      n *= size_t(d);
    return n;
  }
};

bool parseArg(const std::string &spec, bool isOutput, Arg &a,
              std::string &why) {
  size_t c1 = spec.find(':'), c2 = spec.find(':', c1 + 1);
  if (c1 == std::string::npos || c2 == std::string::npos) {
    why = "expected DTYPE:SHAPE:FILE, got '" + spec + "'";
    return false;
  }
  std::string dtype = spec.substr(0, c1), shape = spec.substr(c1 + 1, c2 - c1 - 1);
  if (dtype != "f32" && dtype != "i32") {
    why = "unknown dtype '" + dtype + "' (f32 or i32)";
    return false;
  }
  a.isOutput = isOutput;
  a.file = spec.substr(c2 + 1);
  a.elemBytes = 4;
  if (shape == "?") {
    if (!isOutput) {
      why = "only outputs may have the dynamic shape '?'";
      return false;
    }
    a.dynamic = true;
    a.shape = {0};
    return true;
  }
  size_t pos = 0;
  while (pos <= shape.size()) {
    size_t x = shape.find('x', pos);
    std::string d = shape.substr(pos, x == std::string::npos ? std::string::npos
                                                             : x - pos);
    char *end = nullptr;
    long long v = strtoll(d.c_str(), &end, 10);
    if (d.empty() || *end || v < 0) {
      why = "bad shape '" + shape + "'";
      return false;
    }
    a.shape.push_back(v);
    if (x == std::string::npos)
      break;
    pos = x + 1;
  }
  return true;
}

/// Device memory the kernel allocated for its dynamic outputs: each pointer
/// freed once (also when the runner fails half way).
struct KernelAllocations {
  std::vector<uint64_t> ptrs;
  void take(uint64_t p) {
    if (p && std::find(ptrs.begin(), ptrs.end(), p) == ptrs.end())
      ptrs.push_back(p);
  }
  std::string release() {
    std::string err;
    for (uint64_t p : ptrs) {
      auto range = cuda::allocationOf(0, p);
      std::string e = !range || range->first != p
                          ? "the kernel returned a pointer that does not "
                            "start a device allocation"
                          : cuda::free(0, p);
      if (err.empty())
        err = e;
    }
    ptrs.clear();
    return err;
  }
  ~KernelAllocations() { release(); }
};
} // namespace

int main(int argc, char **argv) {
  if (argc < 3)
    return fail("usage: kjit_gpu_runner LIB.so ENTRY [--input DTYPE:SHAPE:FILE]"
                "... [--output DTYPE:SHAPE:FILE]... [--repeat N] "
                "[--no-l2-flush]");
  std::string lib = argv[1], entry = argv[2];
  std::vector<Arg> args;
  int repeat = 0;
  bool flushL2 = true;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      return i + 1 < argc ? argv[++i] : "";
    };
    if (a == "--input" || a == "--output") {
      Arg arg;
      std::string why;
      if (!parseArg(value(), a == "--output", arg, why))
        return fail(why);
      args.push_back(arg);
    } else if (a == "--repeat") {
      repeat = atoi(value().c_str());
    } else if (a == "--no-l2-flush") {
      flushL2 = false;
    } else {
      return fail("unknown argument '" + a + "'");
    }
  }
  cuda::DeviceInfo info;
  if (std::string e = cuda::deviceInfo(0, info); !e.empty())
    return fail(e);
  printf("device %s\n", info.key().c_str());

  void *h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h)
    return fail("cannot load " + lib + ": " + dlerror());
  auto packed = reinterpret_cast<void (*)(void **)>(
      dlsym(h, ("kjit_packed_" + entry).c_str()));
  auto init =
      reinterpret_cast<void (*)()>(dlsym(h, ("kjit_init_" + entry).c_str()));
  if (!packed || !init)
    return fail(lib + " lacks kjit_packed_" + entry + " or kjit_init_" + entry);
  {
    cuda::LaunchScope scope(0);
    init();
    if (std::string e = scope.finish(); !e.empty())
      return fail("loading the device code: " + e);
  }

  // Device buffers; inputs from their files.
  std::vector<std::vector<int64_t>> descs;
  std::vector<void *> ptrs;
  std::vector<char> host;
  for (Arg &a : args) {
    if (a.dynamic)
      continue; // the kernel allocates it
    if (std::string e = cuda::alloc(0, a.bytes(), a.device); !e.empty())
      return fail(e);
    if (a.isOutput)
      continue;
    FILE *f = fopen(a.file.c_str(), "rb");
    if (!f)
      return fail("cannot read " + a.file);
    host.assign(a.bytes(), 0);
    size_t got = fread(host.data(), 1, host.size(), f);
    fclose(f);
    if (got != host.size())
      return fail(a.file + ": " + std::to_string(got) + " bytes, expected " +
                  std::to_string(host.size()));
    if (std::string e = cuda::copyToDevice(0, a.device, host.data(), got);
        !e.empty())
      return fail(e);
  }
  // Memref descriptors {alloc, aligned, offset, sizes[R], strides[R]}.
  for (Arg &a : args) {
    size_t r = a.shape.size();
    std::vector<int64_t> d(3 + 2 * r);
    d[0] = d[1] = int64_t(a.device);
    d[2] = 0;
    int64_t running = 1;
    for (size_t k = r; k-- > 0;) {
      d[3 + k] = a.shape[k];
      d[3 + r + k] = running;
      running *= a.shape[k];
    }
    descs.push_back(std::move(d));
  }
  for (auto &d : descs)
    ptrs.push_back(d.data());
  // Dynamic outputs: zeroed before each call, taken right after it.
  auto clearDynamic = [&] {
    for (size_t i = 0; i < args.size(); ++i)
      if (args[i].dynamic)
        std::fill(descs[i].begin(), descs[i].end(), 0);
  };
  auto takeDynamic = [&](KernelAllocations &allocs) {
    for (size_t i = 0; i < args.size(); ++i)
      if (args[i].dynamic)
        allocs.take(uint64_t(descs[i][0]));
  };

  KernelAllocations firstRun;
  {
    cuda::LaunchScope scope(0);
    clearDynamic();
    packed(ptrs.data());
    takeDynamic(firstRun);
    if (std::string e = scope.finish(); !e.empty())
      return fail("kernel launch: " + e);
  }
  for (size_t i = 0; i < args.size(); ++i) {
    Arg &a = args[i];
    if (!a.isOutput)
      continue;
    uint64_t src = a.device;
    if (a.dynamic) {
      const std::vector<int64_t> &d = descs[i];
      if (d[3] > 1 && d[4] != 1)
        return fail("output " + a.file + ": the kernel returned a strided "
                    "buffer (stride " + std::to_string(d[4]) + ")");
      if (std::string e = cuda::checkKernelBuffer(
              0, uint64_t(d[0]), uint64_t(d[1]), d[2], d[3], a.elemBytes,
              src);
          !e.empty())
        return fail("output " + a.file + ": the kernel returned a malformed "
                    "buffer: " + e);
      a.shape = {d[3]};
    }
    host.assign(a.bytes(), 0);
    if (std::string e = cuda::copyToHost(0, host.data(), src, host.size());
        !e.empty())
      return fail(e);
    FILE *f = fopen(a.file.c_str(), "wb");
    if (!f || fwrite(host.data(), 1, host.size(), f) != host.size())
      return fail("cannot write " + a.file);
    fclose(f);
  }
  if (std::string e = firstRun.release(); !e.empty())
    return fail(e);
  if (repeat > 0) {
    // Each timed call allocates its dynamic outputs; all are freed after
    // the last (a free would synchronize inside the timed interval).
    KernelAllocations timed;
    std::vector<double> ms;
    if (std::string e = cuda::timeLaunches(
            0, repeat, flushL2,
            [&] {
              clearDynamic();
              packed(ptrs.data());
              takeDynamic(timed);
            },
            ms);
        !e.empty())
      return fail("timing: " + e);
    if (std::string e = timed.release(); !e.empty())
      return fail(e);
    std::sort(ms.begin(), ms.end());
    double median = ms.size() % 2 ? ms[ms.size() / 2]
                                  : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
    printf("time_ms median=%.5f min=%.5f max=%.5f runs=%d\n", median,
           ms.front(), ms.back(), repeat);
  }
  for (Arg &a : args)
    if (!a.dynamic)
      cuda::free(0, a.device);
  return 0;
}
