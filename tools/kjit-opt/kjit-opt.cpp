//===- kjit-opt.cpp - kjit's passes and the upstream ones ----------------===//
#include "compiler/InitAll.h"
#include "compiler/SourceLimits.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

namespace kjit::testing {
void registerTestGpuLaunchToOmp();
} // namespace kjit::testing

int main(int argc, char **argv) {
  kjit::compiler::registerAllPasses();
  kjit::testing::registerTestGpuLaunchToOmp();
  mlir::DialectRegistry registry;
  kjit::compiler::registerAllDialects(registry);
  auto [inputName, outputName] = mlir::registerAndParseCLIOptions(
      argc, argv, "kjit optimizer driver\n", registry);
  mlir::MlirOptMainConfig config =
      mlir::MlirOptMainConfig::createFromCLOptions();
  if (config.shouldShowDialects() || config.shouldListPasses())
    return mlir::asMainReturnCode(
        mlir::MlirOptMain(argc, argv, inputName, outputName, registry));
  // The input is read here (stdin cannot be read twice) and refused when it
  // nests deeper than MLIR's parser can take; MlirOptMain has no hook.
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(inputName, &error);
  if (!input) {
    llvm::errs() << error << "\n";
    return 1;
  }
  if (llvm::Error e =
          kjit::compiler::checkSourceNesting(input->getBuffer(), inputName)) {
    llvm::errs() << "kjit-opt: " << llvm::toString(std::move(e)) << "\n";
    return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> output =
      mlir::openOutputFile(outputName, &error);
  if (!output) {
    llvm::errs() << error << "\n";
    return 1;
  }
  if (mlir::failed(
          mlir::MlirOptMain(output->os(), std::move(input), registry, config)))
    return 1;
  output->keep();
  return 0;
}
