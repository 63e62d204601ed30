//===- kjit-opt.cpp - kjit's passes and the upstream ones ----------------===//
#include "compiler/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

namespace kjit::testing {
void registerTestGpuLaunchToOmp();
} // namespace kjit::testing

int main(int argc, char **argv) {
  kjit::compiler::registerAllPasses();
  kjit::testing::registerTestGpuLaunchToOmp();
  mlir::DialectRegistry registry;
  kjit::compiler::registerAllDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "kjit optimizer driver\n", registry));
}
