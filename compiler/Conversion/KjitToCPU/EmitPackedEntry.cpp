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
    // The dynamic-output protocol: one flag per result of the entry (set by
    // kjit-outline-kernels, carried to the LLVM functions by
    // convert-func-to-llvm). Flagged results are returned by the C interface
    // through its first argument (a pointer to the result struct); the
    // others are out-params after the inputs.
    SmallVector<bool> dynamic;
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>()) {
      auto d = fn->getAttrOfType<DenseBoolArrayAttr>(
          ::kjit::compiler::kDynamicResultsAttr);
      if (d && (fn.getName() == entry || fn.getName() == ciface))
        dynamic.assign(d.asArrayRef().begin(), d.asArrayRef().end());
      // LLVM IR export knows no kjit attributes.
      fn->removeAttr(::kjit::compiler::kDynamicResultsAttr);
    }
    int64_t numDynamic = llvm::count(dynamic, true);
    Type resultT;
    if (numDynamic > 0) {
      auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(entry);
      if (!fn || fn.getFunctionType().getReturnType() ==
                     LLVM::LLVMVoidType::get(ctx)) {
        module.emitError() << "entry '" << entry
                           << "' has kernel-allocated results but no "
                              "lowered function returning them";
        return signalPassFailure();
      }
      resultT = fn.getFunctionType().getReturnType();
    }
    auto ptrT = LLVM::LLVMPointerType::get(ctx);
    ArrayRef<Type> params = target.getFunctionType().getParams();
    int64_t numParams = params.size() - (numDynamic > 0 ? 1 : 0);
    int64_t numStatic = (int64_t)dynamic.size() - numDynamic;
    int64_t numInputs = numParams - (dynamic.empty() ? 0 : numStatic);
    if (numParams < 0 || numInputs < 0) {
      module.emitError() << "entry '" << entry
                         << "' does not match its kjit.dynamic_results";
      return signalPassFailure();
    }
    // Slot of each C-interface parameter and of each dynamic result.
    SmallVector<int64_t> paramSlot, dynamicSlot;
    for (int64_t i = 0; i < numInputs; ++i)
      paramSlot.push_back(i);
    for (auto [r, isDyn] : llvm::enumerate(dynamic))
      (isDyn ? dynamicSlot : paramSlot).push_back(numInputs + (int64_t)r);
    if (dynamic.empty())
      for (int64_t i = numInputs; i < numParams; ++i)
        paramSlot.push_back(i);

    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    Location loc = module.getLoc();
    auto fnT = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                           {ptrT});
    auto fn = LLVM::LLVMFuncOp::create(b, loc, "kjit_packed_" + entry, fnT);
    Block *body = fn.addEntryBlock(b);
    b.setInsertionPointToStart(body);
    auto slotPtr = [&](int64_t i) -> Value {
      Value slot = LLVM::GEPOp::create(b, loc, ptrT, ptrT,
                                       body->getArgument(0),
                                       ArrayRef<LLVM::GEPArg>{(int32_t)i});
      return LLVM::LoadOp::create(b, loc, ptrT, slot);
    };
    SmallVector<Value> args;
    Value resultBuf;
    if (numDynamic > 0) {
      Value one = LLVM::ConstantOp::create(b, loc, b.getI64Type(),
                                           b.getI64IntegerAttr(1));
      resultBuf = LLVM::AllocaOp::create(b, loc, ptrT, resultT, one);
      args.push_back(resultBuf);
    }
    for (auto [i, t] : llvm::enumerate(params.drop_front(args.size()))) {
      if (!isa<LLVM::LLVMPointerType>(t)) {
        module.emitError() << "entry argument " << i
                           << " is not passed by descriptor pointer";
        return signalPassFailure();
      }
      args.push_back(slotPtr(paramSlot[i]));
    }
    LLVM::CallOp::create(b, loc, target, args);
    if (numDynamic > 0) {
      // Copy each returned descriptor into the caller's slot.
      Value all = LLVM::LoadOp::create(b, loc, resultT, resultBuf);
      for (auto [j, slot] : llvm::enumerate(dynamicSlot)) {
        Value desc = numDynamic == 1
                         ? all
                         : LLVM::ExtractValueOp::create(
                               b, loc, all, ArrayRef<int64_t>{(int64_t)j});
        LLVM::StoreOp::create(b, loc, desc, slotPtr(slot));
      }
    }
    LLVM::ReturnOp::create(b, loc, ValueRange{});
  }
};
} // namespace
