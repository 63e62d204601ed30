//===- GenerateCpuKernels.cpp - bodies for outlined kernel declarations --===//
#include "compiler/Compiler.h"
#include "compiler/Conversion/KjitToCPU/KernelGenerators.h"
#include "compiler/Passes.h"

#include "mlir/IR/Verifier.h"

namespace kjit::compiler {
#define GEN_PASS_DEF_KJITGENERATECPUKERNELS
#include "compiler/Passes.h.inc"
} // namespace kjit::compiler

using namespace mlir;
using namespace mlir::kjit;

namespace {
struct GenerateCpuKernels
    : ::kjit::compiler::impl::KjitGenerateCpuKernelsBase<GenerateCpuKernels> {
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

    // Rebuild the op on tensors views of the arguments: the generators read
    // its geometry through the same accessors the verifier used.
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
    // Ops without properties (butterfly_matmul, fft_conv) carry an empty
    // dictionary; handing it to them would call a null property setter.
    if (!props.empty())
      state.propertiesAttr = props;
    Operation *op = b.create(state);
    op->setAttr(kConfigAttrName, config);
    if (failed(mlir::verify(op))) {
      op->erase();
      return failure();
    }

    std::string reason;
    LogicalResult ok = failure();
    TargetInfo target = ::kjit::compiler::CpuTarget::host().info;
    // Legality was checked against the compile target in
    // kjit-attach-configs; here the only facts used are in the config.
    target.vectorBits = 512;
    target.numVectorRegisters = 32;
    if (isa<DepthwiseConv2dOp, InceptionDepthwiseConv2dOp>(op)) {
      ok = ::kjit::compiler::generateDepthwiseCpu(b, loc, op, inputs, outputs,
                                                config, target, reason);
    } else if (isa<WindowAttentionOp>(op)) {
      ok = ::kjit::compiler::generateWindowAttentionCpu(
          b, loc, op, inputs, outputs, config, target, reason);
    } else if (isa<ButterflyMatmulOp>(op)) {
      ok = ::kjit::compiler::generateButterflyMatmulCpu(
          b, loc, op, inputs, outputs, config, target, reason);
    } else if (isa<FftConvOp>(op)) {
      ok = ::kjit::compiler::generateFftConvCpu(b, loc, op, inputs, outputs,
                                                config, target, reason);
    } else if (isa<SpmmOp>(op)) {
      ok = ::kjit::compiler::generateSpmmCpu(b, loc, op, inputs, outputs,
                                             config, target, reason);
    } else {
      reason = op->getName().getStringRef().str() +
               " has no CPU code generator yet";
    }
    op->erase();
    for (Operation *s : llvm::reverse(scaffolding))
      s->erase();
    if (failed(ok))
      return fn.emitError("cannot generate ") << opName << ": " << reason;
    func::ReturnOp::create(b, loc);
    // The body says it all now; LLVM IR export knows no kjit attributes.
    for (StringRef name : {"kjit.kernel_op", "kjit.kernel_props",
                           "kjit.kernel_config", "kjit.kernel_num_inputs"})
      fn->removeAttr(name);
    return success();
  }
};
} // namespace
