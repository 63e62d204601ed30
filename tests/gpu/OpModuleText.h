//===- OpModuleText.h - one-op MLIR modules for the GPU tests --*- C++ -*-===//
//
// `func.func @main(args) -> result { %y = "op"(args) {attrs}; return %y }`
// in the generic form, for tests that build a module per shape and config.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_TESTS_GPU_OPMODULETEXT_H
#define KJIT_TESTS_GPU_OPMODULETEXT_H

#include <cstdint>
#include <string>
#include <vector>

namespace kjit::testing {
/// "tensor<AxBx...xelem>".
inline std::string tensor(const std::vector<int64_t> &dims,
                          const char *elem = "f32") {
  std::string t = "tensor<";
  for (int64_t d : dims)
    t += std::to_string(d) + "x";
  return t + elem + ">";
}
/// func @main(args) -> result { %y = "op"(operands) {attrs} ; return %y }
inline std::string wrap(const std::string &op,
                        const std::vector<std::string> &types,
                        const std::string &result, const std::string &attrs) {
  std::string args, operands, tys;
  for (size_t i = 0; i < types.size(); ++i) {
    std::string sep = i ? ", " : "";
    args += sep + "%a" + std::to_string(i) + ": " + types[i];
    operands += sep + "%a" + std::to_string(i);
    tys += sep + types[i];
  }
  return "func.func @main(" + args + ") -> " + result + " {\n  %y = \"" + op +
         "\"(" + operands + ") {" + attrs + "} : (" + tys + ") -> " + result +
         "\n  return %y : " + result + "\n}\n";
}
} // namespace kjit::testing

#endif
