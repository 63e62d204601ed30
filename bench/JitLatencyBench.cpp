//===- JitLatencyBench.cpp - how long until a kernel can run --------------===//
//
// For one depthwise conv (N=1, C=256, 56x56, k=7, NHWC, same padding):
//   first compile   the first compile in a fresh process (MLIR context and
//                   LLVM target set-up included): what a user's first call
//                   costs.
//   cold compile    a new Jit on an empty temporary cache directory with the
//                   memory cache off: parse, lower, LLVM codegen, link.
//   disk-cache hit  a new Jit on the same (now filled) directory, memory
//                   cache off: read, verify key and checksum, link.
//   memory-cache hit the same Jit again with its memory cache on.
// Each is the median of several runs (--repeat=N, default 9), with min/max.
// Goals (issue 2): cold <= 100 ms, disk hit <= 2 ms.
//
//===----------------------------------------------------------------------===//
#include "kjit/kjit.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

kjit::DepthwiseConv2d workload() {
  kjit::DepthwiseConv2d op;
  op.channels = 256, op.height = 56, op.width = 56;
  op.kernel = {7, 7};
  op.layout = "nhwc";
  op.samePadding();
  return op;
}

double ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct Stats {
  double median, min, max;
  int n;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back(), int(v.size())};
}

std::string freshDir(const fs::path &root, int i) {
  fs::path p = root / ("cache" + std::to_string(i));
  fs::remove_all(p);
  return p.string();
}

/// Compiles `op` on `jit`, returns the wall time; exits on error or when the
/// kernel came from somewhere other than `expectOrigin`.
double timedCompile(kjit::Jit &jit, const kjit::DepthwiseConv2d &op,
                    const char *expectOrigin) {
  auto t0 = std::chrono::steady_clock::now();
  auto k = jit.compile(op);
  double t = ms(std::chrono::steady_clock::now() - t0);
  if (!k) {
    std::fprintf(stderr, "compile failed: %s\n", k.errorMessage().c_str());
    std::exit(1);
  }
  if (k->origin() != expectOrigin) {
    std::fprintf(stderr, "expected origin %s, got %s\n", expectOrigin,
                 k->origin().c_str());
    std::exit(1);
  }
  return t;
}

} // namespace

int main(int argc, char **argv) {
  int repeat = 9;
  for (int i = 1; i < argc; ++i)
    if (!std::strncmp(argv[i], "--repeat=", 9))
      repeat = std::max(1, std::atoi(argv[i] + 9));

  char tmpl[] = "/tmp/kjit-latency-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  fs::path root = tmpl;
  // The same op every time: each cold run gets a fresh cache directory.
  const kjit::DepthwiseConv2d op = workload();

  auto opts = [](const std::string &dir, bool memory) {
    kjit::JitOptions o;
    o.cacheDir = dir;
    o.diskCache = true;
    o.memoryCache = memory;
    return o;
  };

  // The first compile of the process.
  double first;
  {
    kjit::Jit jit(kjit::Target::host(), opts(freshDir(root, 0), false));
    first = timedCompile(jit, op, "compiled");
  }

  std::vector<double> cold, disk, memory;
  for (int i = 0; i < repeat; ++i) {
    std::string dir = freshDir(root, i + 1);
    {
      kjit::Jit jit(kjit::Target::host(), opts(dir, false));
      cold.push_back(timedCompile(jit, op, "compiled"));
    }
    {
      kjit::Jit jit(kjit::Target::host(), opts(dir, true));
      disk.push_back(timedCompile(jit, op, "disk-cache"));
      memory.push_back(timedCompile(jit, op, "memory-cache"));
    }
  }
  fs::remove_all(root);

  std::printf("%s; target %s\n", kjit::version().c_str(),
              kjit::Target::host().key().c_str());
  std::printf("\n## JIT latency, depthwise 7x7, 1x56x56x256 NHWC\n\n");
  std::printf("| path | median ms | min ms | max ms | runs |\n"
              "|---|---|---|---|---|\n");
  std::printf("| first compile in process | %.2f | | | 1 |\n", first);
  for (auto [name, v] :
       {std::pair<const char *, std::vector<double> *>{"cold compile", &cold},
        {"disk-cache hit", &disk},
        {"memory-cache hit", &memory}}) {
    Stats s = stats(*v);
    std::printf("| %s | %.3f | %.3f | %.3f | %d |\n", name, s.median, s.min,
                s.max, s.n);
  }
  std::printf("\nGoals (issue 2): cold <= 100 ms, disk-cache hit <= 2 ms.\n");
  return 0;
}
