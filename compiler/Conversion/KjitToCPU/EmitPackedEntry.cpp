//===- EmitPackedEntry.cpp - void kjit_packed_<entry>(void **args) -------===//
#include "compiler/Passes.h"

namespace kjit::compiler {
#define GEN_PASS_DEF_KJITEMITPACKEDENTRY
#include "compiler/Passes.h.inc"
} // namespace kjit::compiler

using namespace mlir;

namespace {
struct EmitPackedEntry
    : ::kjit::compiler::impl::KjitEmitPackedEntryBase<EmitPackedEntry> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Dead casts left inside omp regions by the partial conversions; they
    // have no LLVM IR translation.
    SmallVector<Operation *> worklist;
    module.walk([&](UnrealizedConversionCastOp cast) {
      if (cast->use_empty())
        worklist.push_back(cast);
    });
    while (!worklist.empty()) {
      Operation *op = worklist.pop_back_val();
      SmallVector<Operation *> producers;
      for (Value v : op->getOperands())
        if (auto def = v.getDefiningOp<UnrealizedConversionCastOp>())
          producers.push_back(def);
      op->erase();
      for (Operation *p : producers)
        if (p->use_empty() && !llvm::is_contained(worklist, p))
          worklist.push_back(p);
    }
    std::string ciface = "_mlir_ciface_" + entry;
    auto target = module.lookupSymbol<LLVM::LLVMFuncOp>(ciface);
    if (!target) {
      module.emitError() << "no function '" << ciface
                         << "': the entry must be lowered to LLVM with "
                            "llvm.emit_c_interface";
      return signalPassFailure();
    }
    MLIRContext *ctx = &getContext();
    auto ptrT = LLVM::LLVMPointerType::get(ctx);
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    Location loc = module.getLoc();
    auto fnT = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                           {ptrT});
    auto fn = LLVM::LLVMFuncOp::create(b, loc, "kjit_packed_" + entry, fnT);
    Block *body = fn.addEntryBlock(b);
    b.setInsertionPointToStart(body);
    SmallVector<Value> args;
    for (auto [i, t] :
         llvm::enumerate(target.getFunctionType().getParams())) {
      if (!isa<LLVM::LLVMPointerType>(t)) {
        module.emitError() << "entry argument " << i
                           << " is not passed by descriptor pointer";
        return signalPassFailure();
      }
      Value slot = LLVM::GEPOp::create(b, loc, ptrT, ptrT,
                                       body->getArgument(0),
                                       ArrayRef<LLVM::GEPArg>{(int32_t)i});
      args.push_back(LLVM::LoadOp::create(b, loc, ptrT, slot));
    }
    LLVM::CallOp::create(b, loc, target, args);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
  }
};
} // namespace
