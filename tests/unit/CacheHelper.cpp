//===- CacheHelper.cpp - one process of the shared-cache test -------------===//
//
// kjit-unit-cache-helper DIR MODE: compiles and runs a few kernels with the
// disk cache in DIR, checking numerics. MODE "all-from-disk" also requires
// every kernel to come from the disk cache. Exit 0 on success.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"

#include <cstdio>
#include <cstring>

using namespace kjit;

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s DIR any|all-from-disk\n", argv[0]);
    return 2;
  }
  bool fromDisk = strcmp(argv[2], "all-from-disk") == 0;
  JitOptions options;
  options.cacheDir = argv[1];
  Jit jit(Target::host(), options);
  if (jit.cacheDir() != argv[1]) {
    fprintf(stderr, "disk cache not enabled\n");
    return 1;
  }
  for (int64_t channels : {8, 12, 16}) {
    DepthwiseConv2d op = test::smallConv(channels);
    auto k = jit.compile(op);
    if (!k) {
      fprintf(stderr, "compile failed: %s\n", k.errorMessage().c_str());
      return 1;
    }
    if (fromDisk && k->origin() != "disk-cache") {
      fprintf(stderr, "expected a disk hit, got %s\n", k->origin().c_str());
      return 1;
    }
    std::string err;
    double diff = test::runConvAndCompare(*k, op, 5, &err);
    if (diff < 0 || diff > 1e-4) {
      fprintf(stderr, "wrong result %g %s\n", diff, err.c_str());
      return 1;
    }
  }
  return 0;
}
