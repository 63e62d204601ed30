//===- OutlineKernels.cpp - kjit ops -> calls to kernels on memrefs ------===//
#include "compiler/Passes.h"

#include "mlir/IR/SymbolTable.h"

namespace kjit::compiler {
#define GEN_PASS_DEF_KJITOUTLINEKERNELS
#include "compiler/Passes.h.inc"
} // namespace kjit::compiler

using namespace mlir;
using namespace mlir::kjit;
using ::kjit::compiler::kDynamicResultsAttr;

namespace {
MemRefType toMemRef(Type t) {
  auto rt = cast<RankedTensorType>(t);
  return MemRefType::get(rt.getShape(), rt.getElementType());
}

struct OutlineKernels
    : ::kjit::compiler::impl::KjitOutlineKernelsBase<OutlineKernels> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<TunableOpInterface> ops;
    module.walk([&](TunableOpInterface op) { ops.push_back(op); });

    // The runtime calls public functions through their C interface. A
    // public function's results with a dynamic shape stay results after
    // buffer-results-to-out-params (the kernel allocates them);
    // kjit.dynamic_results lists them for kjit-emit-packed-entry.
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (!fn.isPublic() || fn.isDeclaration())
        continue;
      fn->setAttr("llvm.emit_c_interface", UnitAttr::get(&getContext()));
      SmallVector<bool> dynamic;
      for (Type t : fn.getResultTypes()) {
        auto rt = dyn_cast<RankedTensorType>(t);
        dynamic.push_back(rt && !rt.hasStaticShape());
      }
      if (llvm::is_contained(dynamic, true))
        fn->setAttr(kDynamicResultsAttr,
                    DenseBoolArrayAttr::get(&getContext(), dynamic));
    }

    unsigned counter = 0;
    for (TunableOpInterface tunable : ops) {
      Operation *op = tunable.getOperation();
      auto parent = op->getParentOfType<func::FuncOp>();
      if (!parent) {
        op->emitError("kjit ops must be inside a func.func");
        return signalPassFailure();
      }
      // Operands must be static; a result may have a dynamic shape only
      // when the kernel allocates it (rank 1, size known after the kernel's
      // symbolic phase, e.g. the nnz of kjit.spgemm's result).
      for (Type t : op->getOperandTypes()) {
        auto rt = dyn_cast<RankedTensorType>(t);
        if (!rt || !rt.hasStaticShape()) {
          op->emitError("code generation needs static tensor shapes, got ")
              << t;
          return signalPassFailure();
        }
      }
      SmallVector<int64_t> dynamicResults;
      SmallVector<bool> dynamicFlags;
      for (auto [i, t] : llvm::enumerate(op->getResultTypes())) {
        auto rt = dyn_cast<RankedTensorType>(t);
        if (!rt) {
          op->emitError("code generation needs ranked tensor results, got ")
              << t;
          return signalPassFailure();
        }
        if (!rt.hasStaticShape()) {
          if (!isa<SpgemmOp>(op) || rt.getRank() != 1) {
            op->emitError("only kjit.spgemm has a kernel-allocated "
                          "(dynamically sized) result, got ")
                << t;
            return signalPassFailure();
          }
          dynamicResults.push_back(i);
        }
        dynamicFlags.push_back(!rt.hasStaticShape());
      }
      ConfigAttr config = getConfig(op);
      if (!config) {
        op->emitError("has no kjit.config; run kjit-attach-configs first");
        return signalPassFailure();
      }

      // The kernel declaration: (inputs..., static outputs...) as memrefs,
      // returning the dynamically sized outputs it allocates.
      SmallVector<Type> argTypes, resultTypes;
      for (Type t : op->getOperandTypes())
        argTypes.push_back(toMemRef(t));
      for (auto [i, t] : llvm::enumerate(op->getResultTypes()))
        (llvm::is_contained(dynamicResults, (int64_t)i) ? resultTypes
                                                        : argTypes)
            .push_back(toMemRef(t));
      OpBuilder mb(module.getBodyRegion());
      mb.setInsertionPointToEnd(module.getBody());
      std::string name;
      do {
        name = (parent.getName() + "_kjit_" + Twine(counter++)).str();
      } while (symbols.lookup(name));
      auto decl = func::FuncOp::create(
          mb, op->getLoc(), name, mb.getFunctionType(argTypes, resultTypes));
      decl.setPrivate();
      decl->setAttr("kjit.kernel_op",
                    mb.getStringAttr(op->getName().getStringRef()));
      Attribute props = op->getPropertiesAsAttribute();
      decl->setAttr("kjit.kernel_props",
                    props ? props : mb.getDictionaryAttr({}));
      decl->setAttr("kjit.kernel_config", config);
      decl->setAttr("kjit.kernel_num_inputs",
                    mb.getI64IntegerAttr(op->getNumOperands()));
      if (!dynamicResults.empty())
        decl->setAttr(kDynamicResultsAttr,
                      DenseBoolArrayAttr::get(&getContext(), dynamicFlags));
      symbols.insert(decl);

      // The call site.
      OpBuilder b(op);
      Location loc = op->getLoc();
      SmallVector<Value> args;
      for (Value v : op->getOperands())
        args.push_back(bufferization::ToBufferOp::create(
            b, loc, toMemRef(v.getType()), v, /*read_only=*/true));
      SmallVector<Value> outs(op->getNumResults());
      for (auto [i, t] : llvm::enumerate(op->getResultTypes())) {
        if (llvm::is_contained(dynamicResults, (int64_t)i))
          continue;
        Value buf = memref::AllocOp::create(b, loc, toMemRef(t),
                                            b.getI64IntegerAttr(64));
        outs[i] = buf;
        args.push_back(buf);
      }
      auto call = func::CallOp::create(b, loc, decl, args);
      for (auto [j, i] : llvm::enumerate(dynamicResults))
        outs[i] = call.getResult(j);
      SmallVector<Value> results;
      for (auto [buf, t] : llvm::zip(outs, op->getResultTypes()))
        results.push_back(bufferization::ToTensorOp::create(
            b, loc, t, buf, /*restrict=*/true, /*writable=*/true));
      op->replaceAllUsesWith(results);
      op->erase();
    }
  }
};
} // namespace
