//===- ReturnDynamicResults.cpp - kernel-allocated results stay results ---===//
#include "compiler/Passes.h"

namespace kjit::compiler {
#define GEN_PASS_DEF_KJITRETURNDYNAMICRESULTS
#include "compiler/Passes.h.inc"
} // namespace kjit::compiler

using namespace mlir;

namespace {
struct ReturnDynamicResults
    : ::kjit::compiler::impl::KjitReturnDynamicResultsBase<
          ReturnDynamicResults> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      auto flagsAttr = fn->getAttrOfType<DenseBoolArrayAttr>(
          ::kjit::compiler::kDynamicResultsAttr);
      if (!flagsAttr || fn.isDeclaration() || !fn.isPublic())
        continue;
      ArrayRef<bool> flags = flagsAttr.asArrayRef();
      int64_t numResults = flags.size();
      int64_t numArgs = fn.getNumArguments();
      if (fn.getNumResults() != 0 || numArgs < numResults) {
        fn.emitError("kjit-return-dynamic-results: expected every result "
                     "as an out-param (run buffer-results-to-out-params "
                     "first)");
        return signalPassFailure();
      }
      auto ret = cast<func::ReturnOp>(fn.getBody().back().getTerminator());
      int64_t first = numArgs - numResults;
      SmallVector<Value> returned;
      BitVector erase(numArgs);
      for (int64_t r = 0; r < numResults; ++r) {
        if (!flags[r])
          continue;
        BlockArgument arg = fn.getArgument(first + r);
        memref::CopyOp copy;
        for (Operation *user : arg.getUsers())
          if (auto c = dyn_cast<memref::CopyOp>(user);
              c && c.getTarget() == arg && !copy)
            copy = c;
        if (!copy || !arg.hasOneUse() ||
            copy->getBlock() != ret->getBlock()) {
          fn.emitError("kjit-return-dynamic-results: result #")
              << r << " is not a plain copy into its out-param";
          return signalPassFailure();
        }
        Value src = copy.getSource();
        if (llvm::is_contained(returned, src)) {
          // The same buffer returned twice: the caller frees each result,
          // so the second one gets its own copy.
          OpBuilder b(copy);
          Value n = memref::DimOp::create(b, copy.getLoc(), src, 0);
          auto t = cast<MemRefType>(src.getType());
          Value dup = memref::AllocOp::create(b, copy.getLoc(), t,
                                              ValueRange{n},
                                              b.getI64IntegerAttr(64));
          memref::CopyOp::create(b, copy.getLoc(), src, dup);
          src = dup;
        }
        returned.push_back(src);
        copy.erase();
        erase.set(first + r);
      }
      OpBuilder b(ret);
      func::ReturnOp::create(b, ret.getLoc(), returned);
      ret.erase();
      if (failed(fn.eraseArguments(erase))) {
        fn.emitError("kjit-return-dynamic-results: cannot drop out-params");
        return signalPassFailure();
      }
      fn.setType(FunctionType::get(fn.getContext(),
                                   fn.getBody().front().getArgumentTypes(),
                                   TypeRange(ValueRange(returned))));
    }
  }
};
} // namespace
