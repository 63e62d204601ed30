//===- GenerateGpuKernels.cpp - GPU bodies for outlined kernels ----------===//
//
// The GPU counterpart of kjit-generate-cpu-kernels: each kernel declaration
// that kjit-outline-kernels left (on memrefs, after bufferization) gets a
// body holding one gpu.launch; the upstream GPU pipeline then outlines it
// into a gpu.module and lowers it to NVVM and PTX.
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToGPU/GpuKernelGenerators.h"
#include "compiler/Passes.h"
#include "compiler/Pipelines/NVVMPipeline.h"

#include "mlir/IR/Verifier.h"

namespace kjit::compiler {
#define GEN_PASS_DEF_KJITGENERATEGPUKERNELS
#include "compiler/Passes.h.inc"
} // namespace kjit::compiler

using namespace mlir;
using namespace mlir::kjit;

namespace {
struct GenerateGpuKernels
    : ::kjit::compiler::impl::KjitGenerateGpuKernelsBase<GenerateGpuKernels> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> kernels;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn.isDeclaration() && fn->hasAttr("kjit.kernel_op"))
        kernels.push_back(fn);
    for (func::FuncOp fn : kernels)
      if (failed(generate(fn)))
        return signalPassFailure();
  }

  LogicalResult generate(func::FuncOp fn) {
    MLIRContext *ctx = &getContext();
    auto opName = fn->getAttrOfType<StringAttr>("kjit.kernel_op");
    auto props = fn->getAttrOfType<DictionaryAttr>("kjit.kernel_props");
    auto config = fn->getAttrOfType<ConfigAttr>("kjit.kernel_config");
    auto numIn = fn->getAttrOfType<IntegerAttr>("kjit.kernel_num_inputs");
    if (!opName || !props || !config || !numIn)
      return fn.emitError("malformed kjit kernel declaration");
    int64_t nIn = numIn.getInt();

    Block *entry = fn.addEntryBlock();
    OpBuilder b(ctx);
    b.setInsertionPointToStart(entry);
    Location loc = fn.getLoc();
    ValueRange args = entry->getArguments();
    ValueRange inputs = args.take_front(nIn), outputs = args.drop_front(nIn);

    // Rebuild the op on tensor views of the arguments so the generator reads
    // its geometry through the verifier's accessors; erased afterwards.
    SmallVector<Operation *> scaffolding;
    OperationState state(loc, opName.getValue());
    for (Value in : inputs) {
      auto mt = cast<MemRefType>(in.getType());
      auto tt = RankedTensorType::get(mt.getShape(), mt.getElementType());
      auto view = bufferization::ToTensorOp::create(b, loc, tt, in,
                                                   /*restrict=*/true,
                                                   /*writable=*/false);
      scaffolding.push_back(view);
      state.addOperands(view.getResult());
    }
    for (Value out : outputs) {
      auto mt = cast<MemRefType>(out.getType());
      state.addTypes(RankedTensorType::get(mt.getShape(), mt.getElementType()));
    }
    if (!props.empty())
      state.propertiesAttr = props;
    Operation *op = b.create(state);
    op->setAttr(kConfigAttrName, config);
    if (failed(mlir::verify(op))) {
      op->erase();
      for (Operation *s : llvm::reverse(scaffolding))
        s->erase();
      entry->erase();
      return failure();
    }

    // Limits of every chip kjit targets (1024 threads, 48 KiB static shared
    // memory); the chip-specific check ran in kjit-attach-configs.
    TargetInfo target = *::kjit::compiler::cudaTargetInfo("sm_80");
    std::string reason;
    LogicalResult ok = failure();
    if (isa<DepthwiseConv2dOp>(op))
      ok = ::kjit::compiler::generateDepthwiseGpu(b, loc, op, inputs, outputs,
                                                  config, target, reason);
    else
      reason = op->getName().getStringRef().str() +
               " has no GPU code generator yet";
    op->erase();
    for (Operation *s : llvm::reverse(scaffolding))
      s->erase();
    if (failed(ok)) {
      // Leave a declaration behind, not a half-built body.
      entry->erase();
      return fn.emitError("cannot generate GPU code for ")
             << opName << ": " << reason;
    }
    func::ReturnOp::create(b, loc);
    for (StringRef name : {"kjit.kernel_op", "kjit.kernel_props",
                           "kjit.kernel_config", "kjit.kernel_num_inputs"})
      fn->removeAttr(name);
    return success();
  }
};
} // namespace
