//===- PrintKeys.cpp - the keys of the libkjit this process loaded -------===//
//
// kjit-print-keys [MODULE.mlir TUNING_DB]: prints "epoch=<tuningEpoch()>"
// and "compiler=<compilerKey()>" of the libkjit the dynamic loader found
// (EpochTest runs it against a copy of the library, i.e. another build of
// the same sources), then, given a module and a tuning database, compiles
// the module on the host and prints "source=<configSources()[0]>" and
// "config=<configs()[0]>".
//
//===----------------------------------------------------------------------===//
#include "kjit/kjit.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

int main(int argc, char **argv) {
  std::printf("epoch=%s\ncompiler=%s\n", kjit::tuningEpoch().c_str(),
              kjit::compilerKey().c_str());
  if (argc != 3)
    return argc == 1 ? 0 : 2;
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "kjit-print-keys: cannot read '%s'\n", argv[1]);
    return 2;
  }
  std::string text(std::istreambuf_iterator<char>(in), {});
  kjit::JitOptions jo;
  jo.tuningDb = argv[2];
  jo.diskCache = false;
  jo.onlineTuneBudgetSeconds = 0;
  kjit::Jit jit(kjit::Target::host(), jo);
  auto k = jit.compileModule(text);
  if (!k) {
    std::fprintf(stderr, "kjit-print-keys: %s\n", k.errorMessage().c_str());
    return 1;
  }
  std::printf("source=%s\nconfig=%s\n", k->configSources().at(0).c_str(),
              k->configs().at(0).c_str());
  return 0;
}
