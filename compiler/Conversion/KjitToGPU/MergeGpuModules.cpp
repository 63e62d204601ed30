//===- MergeGpuModules.cpp - one gpu.module for all kernels --------------===//
#include "compiler/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

namespace kjit::compiler {
#define GEN_PASS_DEF_KJITMERGEGPUMODULES
#include "compiler/Passes.h.inc"
} // namespace kjit::compiler

using namespace mlir;

namespace {
struct MergeGpuModules
    : ::kjit::compiler::impl::KjitMergeGpuModulesBase<MergeGpuModules> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> mods(module.getOps<gpu::GPUModuleOp>());
    if (mods.size() < 2)
      return;
    gpu::GPUModuleOp first = mods.front();
    SymbolTable into(first);
    for (gpu::GPUModuleOp m : llvm::drop_begin(mods)) {
      SmallVector<Operation *> ops;
      for (Operation &op : *m.getBody())
        ops.push_back(&op);
      // Outlining names every kernel after its host function (modules get
      // unique names): a kernel whose name is taken takes its module's.
      DenseMap<StringAttr, StringAttr> renamed;
      for (Operation *op : ops) {
        auto sym = dyn_cast<SymbolOpInterface>(op);
        if (sym && into.lookup(sym.getName())) {
          if (!isa<gpu::GPUFuncOp>(op))
            continue; // the same global cloned into every module
          StringAttr fresh = m.getSymNameAttr();
          if (into.lookup(fresh)) {
            m.emitError() << "cannot merge kernel @" << sym.getName()
                          << ": @" << fresh.getValue() << " is taken";
            return signalPassFailure();
          }
          renamed[sym.getNameAttr()] = fresh;
          sym.setName(fresh);
        }
        op->moveBefore(first.getBody(), first.getBody()->end());
        if (sym)
          into.insert(op);
      }
      // Launches of m's kernels now name the first module.
      StringAttr oldName = m.getSymNameAttr();
      module.walk([&](gpu::LaunchFuncOp launch) {
        SymbolRefAttr k = launch.getKernel();
        if (k.getRootReference() != oldName)
          return;
        StringAttr fn = k.getLeafReference();
        if (auto it = renamed.find(fn); it != renamed.end())
          fn = it->second;
        launch.setKernelAttr(SymbolRefAttr::get(
            first.getSymNameAttr(), {FlatSymbolRefAttr::get(fn)}));
      });
      m.erase();
    }
  }
};
} // namespace
