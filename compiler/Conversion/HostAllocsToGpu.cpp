//===- HostAllocsToGpu.cpp - buffers between GPU kernels on the device ----===//
#include "compiler/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace kjit::compiler {
#define GEN_PASS_DEF_KJITHOSTALLOCSTOGPU
#include "compiler/Passes.h.inc"
} // namespace kjit::compiler

using namespace mlir;

namespace {
/// Host code: not inside a kernel body or a GPU module.
bool onHost(Operation *op) {
  return !op->getParentOfType<gpu::LaunchOp>() &&
         !op->getParentOfType<gpu::GPUModuleOp>() &&
         !op->getParentOfType<gpu::GPUFuncOp>();
}

struct HostAllocsToGpu
    : ::kjit::compiler::impl::KjitHostAllocsToGpuBase<HostAllocsToGpu> {
  void runOnOperation() override {
    SmallVector<memref::AllocOp> allocs;
    SmallVector<memref::DeallocOp> deallocs;
    getOperation().walk([&](Operation *op) {
      if (!onHost(op))
        return;
      if (auto a = dyn_cast<memref::AllocOp>(op))
        allocs.push_back(a);
      else if (auto d = dyn_cast<memref::DeallocOp>(op))
        deallocs.push_back(d);
    });
    auto tokenT = gpu::AsyncTokenType::get(&getContext());
    for (memref::AllocOp a : allocs) {
      OpBuilder b(a);
      Location loc = a.getLoc();
      Value t0 = gpu::WaitOp::create(b, loc, tokenT, ValueRange{}).getAsyncToken();
      auto g = gpu::AllocOp::create(b, loc, a.getType(), tokenT,
                                    ValueRange{t0}, a.getDynamicSizes(),
                                    a.getSymbolOperands(),
                                    /*hostShared=*/false);
      gpu::WaitOp::create(b, loc, Type(), ValueRange{g.getAsyncToken()});
      a.getResult().replaceAllUsesWith(g.getMemref());
      a.erase();
    }
    for (memref::DeallocOp d : deallocs) {
      OpBuilder b(d);
      Location loc = d.getLoc();
      Value t0 = gpu::WaitOp::create(b, loc, tokenT, ValueRange{}).getAsyncToken();
      auto g = gpu::DeallocOp::create(b, loc, tokenT, ValueRange{t0},
                                      d.getMemref());
      gpu::WaitOp::create(b, loc, Type(), ValueRange{g.getAsyncToken()});
      d.erase();
    }
  }
};
} // namespace
