//===- FuzzModule.cpp - libFuzzer target: kjit modules through prepare ----===//
//
// The bytes are MLIR text, run through compiler::prepare: parse, verify,
// the tuning hints of CompileRequest::opConfigs and kjit-attach-configs
// with each op's verifyConfig; everything Jit::compileModule does before
// code generation (LLVM codegen is left out: too slow per input). An error
// is fine; a crash or a sanitizer report is a bug. A module prepare accepts
// must prepare again, unchanged, from its own canonical text (what
// generate and the kernel cache parse later).
//
// Lines of the input starting with "// fuzz-" set the request's other user
// inputs, so that the mutator reaches them too:
//   // fuzz-config: #kjit.config<{...}>   CompileRequest::config
//   // fuzz-threads: N                    CompileRequest::threads
//   // fuzz-chip: sm_90                   CompileRequest::cudaChip
//   // fuzz-op-config: I #kjit.config<{...}>   CompileRequest::opConfigs[I]
// The CPU is a fixed named one (skylake-avx512), so that an input behaves
// the same on every machine.
//
//===----------------------------------------------------------------------===//
#include "compiler/Compiler.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace kjit::compiler;

namespace {
[[noreturn]] void violated(const std::string &what) {
  fprintf(stderr, "fuzz-module: %s\n", what.c_str());
  abort();
}

const CpuTarget &fuzzTarget() {
  static const CpuTarget t =
      CpuTarget::fromNames("skylake-avx512", "+avx,+avx2,+avx512f,+fma");
  return t;
}

/// The request for `text`: its "// fuzz-" lines, on the fixed CPU.
CompileRequest requestFor(llvm::StringRef text) {
  CompileRequest req;
  req.mlirText = text.str();
  req.target = fuzzTarget();
  llvm::StringRef rest = text;
  while (!rest.empty()) {
    auto [line, tail] = rest.split('\n');
    rest = tail;
    line = line.trim();
    if (!line.consume_front("// fuzz-"))
      continue;
    if (line.consume_front("config:")) {
      req.config = line.trim().str();
    } else if (line.consume_front("threads:")) {
      int n = 0;
      if (!line.trim().getAsInteger(10, n))
        req.threads = n;
    } else if (line.consume_front("chip:")) {
      req.cudaChip = line.trim().str();
    } else if (line.consume_front("op-config:")) {
      auto [index, config] = line.trim().split(' ');
      unsigned i = 0;
      if (!index.getAsInteger(10, i))
        req.opConfigs[i] = config.trim().str();
    }
  }
  return req;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  CompileRequest req = requestFor(text);
  llvm::Expected<PreparedModule> prep = prepare(req);
  if (!prep) {
    std::string msg = llvm::toString(prep.takeError());
    if (msg.empty())
      violated("an error without a message");
    return 0;
  }
  // The canonical text carries every op's resolved config: preparing it
  // again (no config option, no hints) must give the same module.
  CompileRequest again;
  again.mlirText = prep->canonicalText;
  again.entry = req.entry;
  again.target = req.target;
  again.cudaChip = req.cudaChip;
  llvm::Expected<PreparedModule> prep2 = prepare(again);
  if (!prep2)
    violated("the prepared module does not prepare again: " +
             llvm::toString(prep2.takeError()) + "\n" + prep->canonicalText);
  if (prep2->canonicalText != prep->canonicalText ||
      prep2->configs != prep->configs)
    violated("preparing the prepared module changed it:\n" +
             prep->canonicalText + "\n---\n" + prep2->canonicalText);
  return 0;
}
