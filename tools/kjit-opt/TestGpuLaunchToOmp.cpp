//===- TestGpuLaunchToOmp.cpp - run gpu.launch bodies on CPU threads -----===//
//
// A test-only pass (kjit-opt --kjit-test-gpu-launch-to-omp) so that the GPU
// generators' kernels can be checked numerically without a GPU: every 1-D
// `gpu.launch` becomes a loop over its blocks, each block an `omp.parallel`
// team of blockDim.x threads (one OS thread per CUDA thread; gpu.barrier ->
// omp.barrier, workgroup buffers -> one host buffer per block);
// `gpu.memcpy` -> memref.copy and `gpu.wait` disappear. Memory is host
// memory (run it before kjit-host-allocs-to-gpu, which is not needed then).
// The team's threads really run concurrently, so races the barriers do not
// order show up as wrong results (not deterministically). Only what the
// kjit generators emit is handled (1-D launches with one-block bodies).
//
//===----------------------------------------------------------------------===//
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Pass/Pass.h"

using namespace mlir;

namespace {
struct TestGpuLaunchToOmp
    : PassWrapper<TestGpuLaunchToOmp, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestGpuLaunchToOmp)
  StringRef getArgument() const override {
    return "kjit-test-gpu-launch-to-omp";
  }
  StringRef getDescription() const override {
    return "Test only: run gpu.launch bodies on an OpenMP team per block";
  }
  void getDependentDialects(DialectRegistry &r) const override {
    r.insert<omp::OpenMPDialect, scf::SCFDialect, memref::MemRefDialect,
             func::FuncDialect, arith::ArithDialect>();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::LaunchOp> launches;
    module.walk([&](gpu::LaunchOp l) { launches.push_back(l); });
    if (!launches.empty() && !module.lookupSymbol("omp_get_thread_num")) {
      OpBuilder mb(module.getBodyRegion());
      auto fn = func::FuncOp::create(
          mb, module.getLoc(), "omp_get_thread_num",
          mb.getFunctionType({}, {mb.getI32Type()}));
      fn.setPrivate();
    }
    for (gpu::LaunchOp l : launches)
      if (failed(lower(l)))
        return signalPassFailure();

    SmallVector<Operation *> syncWaits, asyncOps;
    module.walk([&](Operation *op) {
      if (auto cp = dyn_cast<gpu::MemcpyOp>(op)) {
        OpBuilder b(cp);
        memref::CopyOp::create(b, cp.getLoc(), cp.getSrc(), cp.getDst());
        asyncOps.push_back(cp);
      } else if (auto w = dyn_cast<gpu::WaitOp>(op)) {
        (w.getAsyncToken() ? asyncOps : syncWaits).push_back(w);
      }
    });
    for (Operation *op : syncWaits)
      op->erase();
    for (Operation *op : llvm::reverse(asyncOps))
      op->erase();
  }

  LogicalResult lower(gpu::LaunchOp l) {
    Location loc = l.getLoc();
    auto isOne = [](Value v) {
      auto c = v.getDefiningOp<arith::ConstantIndexOp>();
      return c && c.value() == 1;
    };
    if (!isOne(l.getGridSizeY()) || !isOne(l.getGridSizeZ()) ||
        !isOne(l.getBlockSizeY()) || !isOne(l.getBlockSizeZ()) ||
        !l.getBody().hasOneBlock() || l.getAsyncToken())
      return l.emitError("kjit-test-gpu-launch-to-omp: only synchronous 1-D "
                         "launches with a one-block body");
    OpBuilder b(l);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value grid = l.getGridSizeX(), block = l.getBlockSizeX();
    auto forOp = scf::ForOp::create(b, loc, zero, grid, one);
    b.setInsertionPointToStart(forOp.getBody());
    Value bid = forOp.getInductionVar();
    SmallVector<Value> wg;
    for (BlockArgument a : l.getWorkgroupAttributions()) {
      auto t = cast<MemRefType>(a.getType());
      wg.push_back(memref::AllocOp::create(
          b, loc, MemRefType::get(t.getShape(), t.getElementType())));
    }
    Value nt = arith::IndexCastOp::create(b, loc, b.getI32Type(), block);
    auto par = omp::ParallelOp::create(b, loc, TypeRange{}, ValueRange{});
    par.getNumThreadsMutable().assign(nt);
    for (Value v : wg)
      memref::DeallocOp::create(b, loc, v);
    Block *body = b.createBlock(&par.getRegion());
    b.setInsertionPointToStart(body);
    Value tid32 = func::CallOp::create(b, loc, "omp_get_thread_num",
                                       TypeRange{b.getI32Type()}, ValueRange{})
                      .getResult(0);
    Value tid = arith::IndexCastOp::create(b, loc, b.getIndexType(), tid32);
    Value z = arith::ConstantIndexOp::create(b, loc, 0);
    Value o = arith::ConstantIndexOp::create(b, loc, 1);
    IRMapping map;
    gpu::KernelDim3 bids = l.getBlockIds(), tids = l.getThreadIds(),
                    gs = l.getGridSize(), bs = l.getBlockSize();
    map.map(bids.x, bid), map.map(bids.y, z), map.map(bids.z, z);
    map.map(tids.x, tid), map.map(tids.y, z), map.map(tids.z, z);
    map.map(gs.x, grid), map.map(gs.y, o), map.map(gs.z, o);
    map.map(bs.x, block), map.map(bs.y, o), map.map(bs.z, o);
    for (auto [a, v] : llvm::zip(l.getWorkgroupAttributions(), wg))
      map.map(a, v);
    for (Operation &op : l.getBody().front().without_terminator())
      b.clone(op, map);
    omp::TerminatorOp::create(b, loc);
    SmallVector<gpu::BarrierOp> barriers;
    par.walk([&](gpu::BarrierOp br) { barriers.push_back(br); });
    for (gpu::BarrierOp br : barriers) {
      OpBuilder bb(br);
      omp::BarrierOp::create(bb, br.getLoc());
      br.erase();
    }
    l.erase();
    return success();
  }
};
} // namespace

namespace kjit::testing {
void registerTestGpuLaunchToOmp() { PassRegistration<TestGpuLaunchToOmp>(); }
} // namespace kjit::testing
