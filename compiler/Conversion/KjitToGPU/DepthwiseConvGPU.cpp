//===- DepthwiseConvGPU.cpp - tiled CUDA kernel of kjit.depthwise_conv2d --===//
//
// One thread block per (image, channel block, output tile):
//
//   grid.x  = N * ceil(C / cpb) * ceil(OH / block_h) * ceil(OW / block_w)
//             (output tiles fastest: neighbouring blocks share halo rows in L2)
//   block.x = threads; thread t works on channel lane t % cpb and on the
//             output pixels p = t / cpb, p + threads / cpb, ... of the tile.
//
// With smem_stage = 1 the block first copies the input halo of its tile,
// rows x cols x cpb floats (zero outside the image: the padding), into a
// workgroup buffer with all its threads (channel fastest: coalesced NHWC
// reads), then one barrier, then every tap reads shared memory. This is the
// block-wise scheme of RepLKNet's large-kernel depthwise kernels: global
// traffic per block is the halo tile, not KH x KW reads per output.
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToGPU/GpuKernelGenerators.h"
#include "dialects/kjit/IR/ConvTuning.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace mlir::kjit;

namespace {
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Small builder of index and f32 arithmetic at one location.
struct Emit {
  OpBuilder &b;
  Location loc;
  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value mul(Value x, int64_t y) { return y == 1 ? x : mul(x, c(y)); }
  Value div(Value x, int64_t y) {
    return y == 1 ? x : arith::DivUIOp::create(b, loc, x, c(y)).getResult();
  }
  Value rem(Value x, int64_t y) {
    return y == 1 ? c(0) : arith::RemUIOp::create(b, loc, x, c(y)).getResult();
  }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value lt(Value x, int64_t y) { return cmp(arith::CmpIPredicate::slt, x, c(y)); }
  Value ge0(Value x) { return cmp(arith::CmpIPredicate::sge, x, c(0)); }
  Value band(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value zeroF() {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  }
  /// `cond ? load(mem[idx]) : 0` without reading out of bounds.
  Value guardedLoad(Value cond, Value mem, ValueRange idx) {
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{b.getF32Type()}, cond,
                                  /*withElseRegion=*/true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    Value v = memref::LoadOp::create(b, loc, mem, idx);
    scf::YieldOp::create(b, loc, v);
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    scf::YieldOp::create(b, loc, zeroF());
    return ifOp.getResult(0);
  }
};
} // namespace

namespace kjit::compiler {
LogicalResult generateDepthwiseGpu(
    OpBuilder &b, Location loc, Operation *op, ValueRange inputs,
    ValueRange outputs, ConfigAttr config, const TargetInfo &target,
    std::string &reason) {
  auto dw = dyn_cast<DepthwiseConv2dOp>(op);
  if (!dw) {
    reason = op->getName().getStringRef().str() +
             " has no GPU code generator yet";
    return failure();
  }
  if (dw.getLayout() != "nhwc") {
    reason = "layout \"" + dw.getLayout().str() +
             "\" on CUDA is not supported yet (NHWC only)";
    return failure();
  }
  auto branches = getDwBranches(op, reason);
  if (failed(branches))
    return failure();
  auto cfgOr =
      DwGpuConfig::parse(config, defaultDwGpuConfig(*branches, target), reason);
  if (failed(cfgOr) ||
      failed(checkDwGpuConfig(*cfgOr, *branches, target, reason)))
    return failure();
  const DwGpuConfig cfg = *cfgOr;
  const DwGeom &g = branches->front();
  for (Value v : llvm::concat<Value>(inputs, outputs)) {
    auto mt = dyn_cast<MemRefType>(v.getType());
    if (!mt || !mt.getElementType().isF32()) {
      reason = "the GPU depthwise kernel handles f32 memrefs only";
      return failure();
    }
  }

  const int64_t cpb = cfg.channelsPerBlock, bh = cfg.blockH, bw = cfg.blockW;
  const int64_t cBlocks = ceilDiv(g.c, cpb), tilesH = ceilDiv(g.oh, bh),
                tilesW = ceilDiv(g.ow, bw);
  const int64_t blocks = g.n * cBlocks * tilesH * tilesW;
  if (blocks <= 0 || blocks > std::numeric_limits<int32_t>::max()) {
    reason = "the grid needs " + std::to_string(blocks) +
             " blocks; at most 2^31 - 1";
    return failure();
  }
  const int64_t rows = dwGpuHaloRows(cfg, g), cols = dwGpuHaloCols(cfg, g);
  const bool stage = cfg.smemStage != 0;
  const int64_t pixelThreads = cfg.threads / cpb;

  Value input = inputs[0], filter = inputs[1];
  Value bias = inputs.size() > 2 ? inputs[2] : Value();
  Value output = outputs[0];

  MLIRContext *ctx = b.getContext();
  Emit e{b, loc};
  Value one = e.c(1);
  SmallVector<Type> workgroup;
  if (stage)
    workgroup.push_back(MemRefType::get(
        {rows, cols, cpb}, b.getF32Type(), MemRefLayoutAttrInterface(),
        gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup)));
  auto launch = gpu::LaunchOp::create(
      b, loc, e.c(blocks), one, one, e.c(cfg.threads), one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, workgroup);

  Block &body = launch.getBody().front();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&body);
  Value bx = launch.getBlockIds().x, tx = launch.getThreadIds().x;
  // Constants inside the body (one from the host would become a kernel
  // argument and hide the trip counts from LLVM).
  one = e.c(1);

  // Which tile: output tiles fastest, then channel blocks, then images.
  Value tw = e.rem(bx, tilesW);
  Value r1 = e.div(bx, tilesW);
  Value th = e.rem(r1, tilesH);
  Value r2 = e.div(r1, tilesH);
  Value cb = e.rem(r2, cBlocks);
  Value n = e.div(r2, cBlocks);
  Value oh0 = e.mul(th, bh), ow0 = e.mul(tw, bw), c0 = e.mul(cb, cpb);
  Value ih0 = e.sub(e.mul(oh0, g.sh), e.c(g.pt));
  Value iw0 = e.sub(e.mul(ow0, g.sw), e.c(g.pl));
  Value lane = e.rem(tx, cpb), pg = e.div(tx, cpb);
  Value ch = e.add(c0, lane);

  Value smem;
  if (stage)
    smem = launch.getWorkgroupAttributions().front();
  if (stage) {
    // All threads copy the halo tile, channel fastest.
    auto copy = scf::ForOp::create(b, loc, tx, e.c(rows * cols * cpb),
                                   e.c(cfg.threads));
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(copy.getBody());
      Value i = copy.getInductionVar();
      Value cl = e.rem(i, cpb), rest = e.div(i, cpb);
      Value col = e.rem(rest, cols), row = e.div(rest, cols);
      Value ih = e.add(ih0, row), iw = e.add(iw0, col), cc = e.add(c0, cl);
      Value inb = e.band(e.band(e.ge0(ih), e.lt(ih, g.h)),
                         e.band(e.band(e.ge0(iw), e.lt(iw, g.w)),
                                e.lt(cc, g.c)));
      Value v = e.guardedLoad(inb, input, {n, ih, iw, cc});
      memref::StoreOp::create(b, loc, v, smem, ValueRange{row, col, cl});
    }
    gpu::BarrierOp::create(b, loc);
  }

  // Each thread: its channel, output pixels p = pg, pg + P, ... of the tile.
  auto pix = scf::ForOp::create(b, loc, pg, e.c(bh * bw), e.c(pixelThreads));
  {
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(pix.getBody());
    Value p = pix.getInductionVar();
    Value ohl = e.div(p, bw), owl = e.rem(p, bw);
    Value oh = e.add(oh0, ohl), ow = e.add(ow0, owl);
    Value valid = e.band(e.band(e.lt(oh, g.oh), e.lt(ow, g.ow)),
                         e.lt(ch, g.c));
    auto ifOp = scf::IfOp::create(b, loc, valid, /*withElseRegion=*/false);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    Value init = bias ? memref::LoadOp::create(b, loc, bias, ValueRange{ch})
                            .getResult()
                      : e.zeroF();
    auto fm = arith::FastMathFlagsAttr::get(ctx, arith::FastMathFlags::contract);
    auto ky = scf::ForOp::create(b, loc, e.c(0), e.c(g.kh), one,
                                 ValueRange{init});
    {
      OpBuilder::InsertionGuard g3(b);
      b.setInsertionPointToStart(ky.getBody());
      Value kyv = ky.getInductionVar();
      auto kx = scf::ForOp::create(b, loc, e.c(0), e.c(g.kw), one,
                                   ValueRange{ky.getRegionIterArgs()[0]});
      {
        OpBuilder::InsertionGuard g4(b);
        b.setInsertionPointToStart(kx.getBody());
        Value kxv = kx.getInductionVar();
        Value acc = kx.getRegionIterArgs()[0];
        Value x;
        if (stage) {
          Value row = e.add(e.mul(ohl, g.sh), e.mul(kyv, g.dh));
          Value col = e.add(e.mul(owl, g.sw), e.mul(kxv, g.dw));
          x = memref::LoadOp::create(b, loc, smem, ValueRange{row, col, lane});
        } else {
          Value ih = e.add(e.sub(e.mul(oh, g.sh), e.c(g.pt)), e.mul(kyv, g.dh));
          Value iw = e.add(e.sub(e.mul(ow, g.sw), e.c(g.pl)), e.mul(kxv, g.dw));
          Value inb = e.band(e.band(e.ge0(ih), e.lt(ih, g.h)),
                             e.band(e.ge0(iw), e.lt(iw, g.w)));
          x = e.guardedLoad(inb, input, {n, ih, iw, ch});
        }
        Value w = memref::LoadOp::create(b, loc, filter,
                                         ValueRange{ch, kyv, kxv});
        Value prod = arith::MulFOp::create(b, loc, x, w, fm);
        Value sum = arith::AddFOp::create(b, loc, acc, prod, fm);
        scf::YieldOp::create(b, loc, sum);
      }
      scf::YieldOp::create(b, loc, kx.getResult(0));
    }
    memref::StoreOp::create(b, loc, ky.getResult(0), output,
                            ValueRange{n, oh, ow, ch});
  }
  gpu::TerminatorOp::create(b, loc);
  return success();
}
} // namespace kjit::compiler
