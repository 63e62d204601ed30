//===- DepthwiseConvGPU.cpp - tiled CUDA kernels of the depthwise convs ---===//
//
// kjit.depthwise_conv2d (NHWC and NCHW) and kjit.inception_depthwise_conv2d
// (its three branches and the identity copy in one fused launch).
//
// One thread block per (image, channel block, output tile) of a branch:
//
//   grid.x  = sum over branches of N * ceil(C_b / cpb) * ceil(OH / block_h)
//             * ceil(OW / block_w) (output tiles fastest: neighbouring
//             blocks share halo rows in L2), then, for the Inception mixer,
//             the blocks of the identity copy (threads x 4 elements each);
//             a block finds its branch by its range of block ids (uniform
//             per block, so the barriers inside are safe).
//   block.x = threads; the block's cpb x block_h x block_w outputs are
//             items i = t, t + threads, ...: NHWC channel fastest, NCHW
//             output column fastest (coalesced accesses in both layouts).
//
// With smem_stage = 1 the block first copies the input halo of its tile,
// rows x cols x cpb floats (zero outside the image: the padding), into a
// workgroup buffer with all its threads (in the layout's contiguous order),
// then one barrier, then every tap reads shared memory. This is the
// block-wise scheme of RepLKNet's large-kernel depthwise kernels: global
// traffic per block is the halo tile, not KH x KW reads per output. The
// buffer is sized for the largest branch; verifyConfig rejects a config
// whose halo tile exceeds the chip's shared memory per block.
//
// vector_width = W > 1 (NHWC): a work item is W adjacent channels (the
// block's cpb / W x block_h x block_w items; W accumulators per thread);
// the halo copy, the unstaged input reads, the bias and the output store
// are vector<W x f32> accesses (ld/st.global.v2/v4); the filter ([C][KH][KW])
// and shared memory are read per lane. verifyConfig keeps every channel
// offset a multiple of W; the host runs the scalar kernel (W = 1, same
// results) when a buffer's base is not 4 W-byte aligned
// (dispatchVectorWidth). The Inception identity copy stays scalar.
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToGPU/GpuEmit.h"
#include "compiler/Conversion/KjitToGPU/GpuKernelGenerators.h"
#include "dialects/kjit/IR/ConvTuning.h"

using namespace mlir;
using namespace mlir::kjit;
using namespace ::kjit::compiler::gpuemit;

namespace {
struct Branch {
  DwGeom g;
  Value filter;
  int64_t blocks = 0;
};

struct DwGpuGen {
  const DwGpuConfig &cfg;
  bool nhwc;
  int64_t vw; ///< channels per access (1 or cfg.vectorWidth)
  Value input, output, bias;

  SmallVector<Value> idx(Value n, Value ch, Value y, Value x) const {
    if (nhwc)
      return {n, y, x, ch};
    return {n, ch, y, x};
  }

  /// The code of one block `bx` (local to its branch).
  void branch(Emit &e, const Branch &br, Value bx, Value tx, Value smem) {
    const DwGeom &g = br.g;
    const int64_t cpb = cfg.channelsPerBlock, bh = cfg.blockH,
                  bw = cfg.blockW;
    const int64_t cBlocks = ceilDiv(g.c, cpb), tilesH = ceilDiv(g.oh, bh),
                  tilesW = ceilDiv(g.ow, bw);
    const int64_t rows = dwGpuHaloRows(cfg, g), cols = dwGpuHaloCols(cfg, g);
    const bool stage = cfg.smemStage != 0;

    Value tw = e.rem(bx, tilesW);
    Value r1 = e.div(bx, tilesW);
    Value th = e.rem(r1, tilesH);
    Value r2 = e.div(r1, tilesH);
    Value cb = e.rem(r2, cBlocks);
    Value n = e.div(r2, cBlocks);
    Value oh0 = e.mul(th, bh), ow0 = e.mul(tw, bw), c0 = e.mul(cb, cpb);
    Value ih0 = e.sub(e.mul(oh0, g.sh), e.c(g.pt));
    Value iw0 = e.sub(e.mul(ow0, g.sw), e.c(g.pl));

    auto smemIndex = [&](Value row, Value col, Value cl) -> Value {
      if (nhwc)
        return e.add(e.mul(e.add(e.mul(row, cols), col), cpb), cl);
      return e.add(e.mul(e.add(e.mul(cl, rows), row), cols), col);
    };

    if (stage) {
      // All threads copy the halo tile in the layout's contiguous order
      // (NHWC: vw channels per item).
      e.forLoop(tx, e.c(rows * cols * cpb / vw), e.c(cfg.threads),
                [&](Value i) {
        Value cl, row, col;
        if (nhwc) {
          cl = e.mul(e.rem(i, cpb / vw), vw);
          Value rest = e.div(i, cpb / vw);
          col = e.rem(rest, cols);
          row = e.div(rest, cols);
        } else {
          col = e.rem(i, cols);
          Value rest = e.div(i, cols);
          row = e.rem(rest, rows);
          cl = e.div(rest, rows);
        }
        Value ih = e.add(ih0, row), iw = e.add(iw0, col);
        Value cc = e.add(c0, cl);
        Value inb = e.band(e.band(e.inRange(ih, g.h), e.inRange(iw, g.w)),
                           e.lt(cc, g.c));
        auto v = e.guardedLoadLanes(inb, input,
                                    idx(n, e.add(cc, g.cIn0), ih, iw), vw);
        Value at = smemIndex(row, col, cl);
        for (int64_t l = 0; l < vw; ++l)
          e.store(v[l], smem, {e.add(at, l)});
      });
      e.barrier();
    }

    // Each thread: items t, t + threads, ... of the tile's outputs (NHWC:
    // vw adjacent channels per item).
    e.forLoop(tx, e.c(cpb / vw * bh * bw), e.c(cfg.threads), [&](Value i) {
      Value lane, ohl, owl;
      if (nhwc) {
        lane = e.mul(e.rem(i, cpb / vw), vw);
        Value p = e.div(i, cpb / vw);
        ohl = e.div(p, bw);
        owl = e.rem(p, bw);
      } else {
        owl = e.rem(i, bw);
        Value p = e.div(i, bw);
        ohl = e.rem(p, bh);
        lane = e.div(p, bh);
      }
      Value chLocal = e.add(c0, lane);
      Value oh = e.add(oh0, ohl), ow = e.add(ow0, owl);
      Value valid = e.band(e.band(e.lt(oh, g.oh), e.lt(ow, g.ow)),
                           e.lt(chLocal, g.c));
      e.ifThen(valid, [&] {
        SmallVector<Value> init =
            bias ? e.loadLanes(bias, {e.add(chLocal, g.cOut0)}, vw)
                 : SmallVector<Value>(vw, e.zeroF());
        Value one = e.c(1);
        SmallVector<Value> acc(e.forLoop(
            e.c(0), e.c(g.kh), one, ValueRange(init),
            [&](Value ky, ValueRange a) -> SmallVector<Value> {
              return SmallVector<Value>(e.forLoop(
                  e.c(0), e.c(g.kw), e.c(1), a,
                  [&](Value kx, ValueRange a2) -> SmallVector<Value> {
                    SmallVector<Value> x;
                    if (stage) {
                      Value row = e.add(e.mul(ohl, g.sh), e.mul(ky, g.dh));
                      Value col = e.add(e.mul(owl, g.sw), e.mul(kx, g.dw));
                      Value at = smemIndex(row, col, lane);
                      for (int64_t l = 0; l < vw; ++l)
                        x.push_back(e.load(smem, {e.add(at, l)}));
                    } else {
                      Value ih = e.add(e.sub(e.mul(oh, g.sh), e.c(g.pt)),
                                       e.mul(ky, g.dh));
                      Value iw = e.add(e.sub(e.mul(ow, g.sw), e.c(g.pl)),
                                       e.mul(kx, g.dw));
                      Value inb =
                          e.band(e.inRange(ih, g.h), e.inRange(iw, g.w));
                      x = e.guardedLoadLanes(
                          inb, input, idx(n, e.add(chLocal, g.cIn0), ih, iw),
                          vw);
                    }
                    SmallVector<Value> next;
                    for (int64_t l = 0; l < vw; ++l) {
                      Value w =
                          e.load(br.filter, {e.add(chLocal, l), ky, kx});
                      next.push_back(e.fma(x[l], w, a2[l]));
                    }
                    return next;
                  }));
            }));
        e.storeLanes(acc, output, idx(n, e.add(chLocal, g.cOut0), oh, ow));
      });
    });
  }

  /// The identity slice of the Inception mixer: channels [0, c0) copied.
  void identity(Emit &e, int64_t n, int64_t c0, int64_t h, int64_t w,
                int64_t perBlock, Value bx, Value tx) {
    Value base = e.mul(bx, perBlock);
    int64_t total = n * c0 * h * w;
    e.forLoop(tx, e.c(perBlock), e.c(cfg.threads), [&](Value t) {
      Value i = e.add(base, t);
      e.ifThen(e.lt(i, total), [&] {
        Value nn, cc, y, x;
        if (nhwc) {
          cc = e.rem(i, c0);
          Value r = e.div(i, c0);
          x = e.rem(r, w);
          r = e.div(r, w);
          y = e.rem(r, h);
          nn = e.div(r, h);
        } else {
          x = e.rem(i, w);
          Value r = e.div(i, w);
          y = e.rem(r, h);
          r = e.div(r, h);
          cc = e.rem(r, c0);
          nn = e.div(r, c0);
        }
        SmallVector<Value> at = idx(nn, cc, y, x);
        e.store(e.load(input, at), output, at);
      });
    });
  }
};
} // namespace

namespace kjit::compiler {
LogicalResult generateDepthwiseGpu(
    OpBuilder &b, Location loc, Operation *op, ValueRange inputs,
    ValueRange outputs, ConfigAttr config, const TargetInfo &target,
    std::string &reason) {
  StringRef layout;
  int64_t idN = 0, idC = 0, idH = 0, idW = 0; // identity slice (Inception)
  SmallVector<Value> filters;
  Value bias;
  if (auto dw = dyn_cast<DepthwiseConv2dOp>(op)) {
    layout = dw.getLayout();
    filters.push_back(inputs[1]);
    if (inputs.size() > 2)
      bias = inputs[2];
  } else if (auto inc = dyn_cast<InceptionDepthwiseConv2dOp>(op)) {
    layout = inc.getLayout();
    ArrayRef<int64_t> gc = inc.getBranchChannels();
    for (int i = 0; i < 3; ++i)
      if (gc[i] > 0)
        filters.push_back(inputs[1 + i]);
    auto in = cast<MemRefType>(inputs[0].getType());
    bool nhwc = layout == "nhwc";
    idN = in.getDimSize(0);
    idC = in.getDimSize(nhwc ? 3 : 1) - gc[0] - gc[1] - gc[2];
    idH = in.getDimSize(nhwc ? 1 : 2);
    idW = in.getDimSize(nhwc ? 2 : 3);
  } else {
    reason = op->getName().getStringRef().str() +
             " is not a depthwise convolution";
    return failure();
  }
  if (layout != "nhwc" && layout != "nchw") {
    reason = "unknown layout \"" + layout.str() + "\"";
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
  if (!allF32(llvm::to_vector(llvm::concat<Value>(inputs, outputs)), reason,
              "depthwise"))
    return failure();

  SmallVector<Branch> brs;
  int64_t blocks = 0, smemFloats = 0;
  for (auto [g, f] : llvm::zip(*branches, filters)) {
    Branch br{g, f, 0};
    br.blocks = g.n * ceilDiv(g.c, cfg.channelsPerBlock) *
                ceilDiv(g.oh, cfg.blockH) * ceilDiv(g.ow, cfg.blockW);
    blocks += br.blocks;
    smemFloats = std::max(smemFloats, dwGpuSharedBytes(cfg, g) / 4);
    brs.push_back(br);
  }
  const int64_t idPerBlock = cfg.threads * 4;
  const int64_t idBlocks =
      idC > 0 ? ceilDiv(idN * idC * idH * idW, idPerBlock) : 0;
  blocks += idBlocks;
  if (!gridFits(blocks, reason))
    return failure();

  Emit outer{b, loc};
  SmallVector<Type> workgroup;
  if (cfg.smemStage && smemFloats > 0)
    workgroup.push_back(outer.sharedF32(smemFloats));
  SmallVector<Value> vectorBufs = {inputs[0], outputs[0]};
  if (bias)
    vectorBufs.push_back(bias);
  dispatchVectorWidth(b, loc, cfg.vectorWidth, vectorBufs, [&](int64_t vw) {
  DwGpuGen gen{cfg, layout == "nhwc", vw, inputs[0], outputs[0], bias};
  launch1d(b, loc, blocks, cfg.threads, workgroup,
           [&](Emit &e, Value bx, Value tx, ValueRange wg) {
             Value smem = wg.empty() ? Value() : wg.front();
             int64_t start = 0;
             bool single = brs.size() == 1 && idBlocks == 0;
             for (const Branch &br : brs) {
               if (single) {
                 gen.branch(e, br, bx, tx, smem);
               } else {
                 Value in = e.band(e.ge(bx, e.c(start)),
                                   e.lt(bx, start + br.blocks));
                 e.ifThen(in, [&] {
                   gen.branch(e, br, e.sub(bx, e.c(start)), tx, smem);
                 });
               }
               start += br.blocks;
             }
             if (idBlocks > 0)
               e.ifThen(e.ge(bx, e.c(start)), [&] {
                 gen.identity(e, idN, idC, idH, idW, idPerBlock,
                              e.sub(bx, e.c(start)), tx);
               });
           });
  });
  return success();
}
} // namespace kjit::compiler
