//===- KjitOps.cpp - verifiers and result type inference -----------------===//
//
// Every shape rule lives in the op's inferReturnTypes, which MLIR also runs
// to verify the op; a malformed op gets one precise message. Every size is
// first held to kjit's limits (KjitLimits.h): dimensions and size
// attributes at most 2^31 - 1, tensors at most 2^40 elements. Past those
// checks the size arithmetic here cannot overflow int64 (a product of two
// sizes stays below 2^62), which the comments at each formula rely on.
//
//===----------------------------------------------------------------------===//
#include "dialects/kjit/IR/KjitDialect.h"
#include "dialects/kjit/IR/KjitLimits.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/Support/CheckedArithmetic.h"

using namespace mlir;
using namespace mlir::kjit;

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

/// Emits an error when a location is known (builders may have none).
template <typename... Args>
LogicalResult fail(std::optional<Location> loc, StringRef op,
                   const Args &...args) {
  if (loc) {
    InFlightDiagnostic d = emitError(*loc);
    d << "'" << op << "' ";
    (d << ... << args);
  }
  return failure();
}

RankedTensorType rankedOf(Value v) {
  return v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
}

/// True when two sizes may be equal (either dynamic, or both the same).
bool compatible(int64_t a, int64_t b) {
  return a == kDyn || b == kDyn || a == b;
}

std::string dimText(int64_t d) {
  return d == kDyn ? std::string("?") : std::to_string(d);
}

/// Conv output size as PyTorch computes it; kDyn when the input is dynamic.
int64_t convOut(int64_t in, int64_t padSum, int64_t k, int64_t s,
                int64_t d) {
  if (in == kDyn)
    return kDyn;
  return (in + padSum - d * (k - 1) - 1) / s + 1;
}

/// Every array attribute of the ops holds sizes: at least `minValue`, at
/// most kMaxDimSize.
LogicalResult checkArray(std::optional<Location> loc, StringRef op,
                         StringRef name, ArrayRef<int64_t> v, size_t len,
                         int64_t minValue) {
  if (v.size() != len)
    return fail(loc, op, "expects '", name, "' to have ", len,
                " entries, got ", v.size());
  for (int64_t x : v) {
    if (x < minValue)
      return fail(loc, op, "expects every entry of '", name, "' to be >= ",
                  minValue, ", got ", x);
    if (x > kMaxDimSize)
      return fail(loc, op, "expects every entry of '", name, "' to be at most ",
                  kMaxDimSizeText, " (kjit's limit), got ", x);
  }
  return success();
}

/// Fails unless every static dimension of `t` is at most kMaxDimSize and
/// the product of its static dimensions at most kMaxElements.
LogicalResult checkTensorSize(std::optional<Location> loc, StringRef op,
                              StringRef name, RankedTensorType t) {
  std::optional<int64_t> count = 1; // nullopt: past int64
  for (auto [i, d] : llvm::enumerate(t.getShape())) {
    if (d == kDyn)
      continue;
    if (d > kMaxDimSize)
      return fail(loc, op, "expects every dimension of '", name,
                  "' to be at most ", kMaxDimSizeText, " (kjit's limit), got ",
                  d, " in dim ", i);
    if (count)
      count = llvm::checkedMul(*count, d);
  }
  if (!count || *count > kMaxElements)
    return fail(loc, op, "expects '", name, "' to have at most ",
                kMaxElementsText, " elements (kjit's limit), got ",
                count ? std::to_string(*count) : std::string("more than 2^63"));
  return success();
}

/// checkTensorSize for each named operand or result (absent ones skipped).
LogicalResult
checkTensorSizes(std::optional<Location> loc, StringRef op,
                 ArrayRef<std::pair<StringRef, RankedTensorType>> tensors) {
  for (auto [name, t] : tensors)
    if (t && failed(checkTensorSize(loc, op, name, t)))
      return failure();
  return success();
}
} // namespace

//===----------------------------------------------------------------------===//
// depthwise_conv2d
//===----------------------------------------------------------------------===//

LogicalResult DepthwiseConv2dOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  StringRef op = "kjit.depthwise_conv2d";
  auto in = rankedOf(adaptor.getInput());
  auto filter = rankedOf(adaptor.getFilter());
  if (!in || !filter)
    return fail(loc, op, "expects ranked tensor operands");
  if (failed(checkTensorSizes(loc, op,
                              {{"input", in},
                               {"filter", filter},
                               {"bias", rankedOf(adaptor.getBias())}})))
    return failure();
  StringRef layout = adaptor.getLayout();
  if (layout != "nhwc" && layout != "nchw")
    return fail(loc, op, "expects layout \"nhwc\" or \"nchw\", got \"",
                layout, "\"");
  if (in.getRank() != 4)
    return fail(loc, op, "expects a rank-4 input (", layout, "), got rank ",
                in.getRank());
  if (filter.getRank() != 3)
    return fail(loc, op, "expects a rank-3 filter (C x KH x KW), got rank ",
                filter.getRank());
  if (failed(checkArray(loc, op, "strides", adaptor.getStrides(), 2, 1)) ||
      failed(checkArray(loc, op, "dilations", adaptor.getDilations(), 2, 1)) ||
      failed(checkArray(loc, op, "padding", adaptor.getPadding(), 4, 0)))
    return failure();
  bool nhwc = layout == "nhwc";
  int64_t n = in.getDimSize(0);
  int64_t c = in.getDimSize(nhwc ? 3 : 1);
  int64_t h = in.getDimSize(nhwc ? 1 : 2);
  int64_t w = in.getDimSize(nhwc ? 2 : 3);
  int64_t kh = filter.getDimSize(1), kw = filter.getDimSize(2);
  if (kh == kDyn || kw == kDyn)
    return fail(loc, op, "expects a static filter size");
  if (kh < 1 || kw < 1)
    return fail(loc, op, "expects a non-empty filter, got ", kh, "x", kw);
  if (!compatible(filter.getDimSize(0), c))
    return fail(loc, op, "expects the filter's channels (",
                dimText(filter.getDimSize(0)),
                ") to equal the input's channels (", dimText(c), ")");
  if (Value bias = adaptor.getBias()) {
    auto b = rankedOf(bias);
    if (!b || b.getRank() != 1)
      return fail(loc, op, "expects a rank-1 bias");
    if (!compatible(b.getDimSize(0), c))
      return fail(loc, op, "expects the bias size (", dimText(b.getDimSize(0)),
                  ") to equal the channels (", dimText(c), ")");
  }
  ArrayRef<int64_t> s = adaptor.getStrides(), d = adaptor.getDilations(),
                    p = adaptor.getPadding();
  // Sizes and entries are at most 2^31 - 1: d (k - 1) + 1 < 2^62 and
  // h + p0 + p1 < 2^33.
  int64_t effH = d[0] * (kh - 1) + 1, effW = d[1] * (kw - 1) + 1;
  if (h != kDyn && effH > h + p[0] + p[1])
    return fail(loc, op, "expects the dilated kernel height (", effH,
                ") to fit the padded input height (", h + p[0] + p[1], ")");
  if (w != kDyn && effW > w + p[2] + p[3])
    return fail(loc, op, "expects the dilated kernel width (", effW,
                ") to fit the padded input width (", w + p[2] + p[3], ")");
  int64_t oh = convOut(h, p[0] + p[1], kh, s[0], d[0]);
  int64_t ow = convOut(w, p[2] + p[3], kw, s[1], d[1]);
  SmallVector<int64_t> shape =
      nhwc ? SmallVector<int64_t>{n, oh, ow, c}
           : SmallVector<int64_t>{n, c, oh, ow};
  // Padding can make the output larger than the input.
  auto out = RankedTensorType::get(shape, in.getElementType());
  if (failed(checkTensorSize(loc, op, "output", out)))
    return failure();
  inferred.push_back(out);
  return success();
}

//===----------------------------------------------------------------------===//
// inception_depthwise_conv2d
//===----------------------------------------------------------------------===//

LogicalResult InceptionDepthwiseConv2dOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  StringRef op = "kjit.inception_depthwise_conv2d";
  auto in = rankedOf(adaptor.getInput());
  auto sq = rankedOf(adaptor.getWSquare());
  auto bw = rankedOf(adaptor.getWBandW());
  auto bh = rankedOf(adaptor.getWBandH());
  if (!in || !sq || !bw || !bh)
    return fail(loc, op, "expects ranked tensor operands");
  if (failed(checkTensorSizes(loc, op,
                              {{"input", in},
                               {"w_square", sq},
                               {"w_band_w", bw},
                               {"w_band_h", bh}})))
    return failure();
  StringRef layout = adaptor.getLayout();
  if (layout != "nhwc" && layout != "nchw")
    return fail(loc, op, "expects layout \"nhwc\" or \"nchw\", got \"",
                layout, "\"");
  if (in.getRank() != 4)
    return fail(loc, op, "expects a rank-4 input, got rank ", in.getRank());
  if (failed(checkArray(loc, op, "branch_channels",
                        adaptor.getBranchChannels(), 3, 0)))
    return failure();
  // Entries at most 2^31 - 1: their sum fits easily.
  ArrayRef<int64_t> g = adaptor.getBranchChannels();
  bool nhwc = layout == "nhwc";
  int64_t c = in.getDimSize(nhwc ? 3 : 1);
  int64_t h = in.getDimSize(nhwc ? 1 : 2), w = in.getDimSize(nhwc ? 2 : 3);
  if (c != kDyn && g[0] + g[1] + g[2] > c)
    return fail(loc, op, "expects branch_channels to sum to at most the ",
                "input's channels (", c, "), got ", g[0] + g[1] + g[2]);
  struct Branch {
    RankedTensorType t;
    StringRef name;
    int64_t g;
    bool squareShape, unitH, unitW;
  } branches[] = {{sq, "w_square", g[0], true, false, false},
                  {bw, "w_band_w", g[1], false, true, false},
                  {bh, "w_band_h", g[2], false, false, true}};
  for (const Branch &br : branches) {
    if (br.t.getRank() != 3)
      return fail(loc, op, "expects '", br.name, "' to be rank 3, got rank ",
                  br.t.getRank());
    if (!br.t.hasStaticShape())
      return fail(loc, op, "expects '", br.name, "' to have a static shape");
    int64_t gc = br.t.getDimSize(0), kh = br.t.getDimSize(1),
            kw = br.t.getDimSize(2);
    if (gc != br.g)
      return fail(loc, op, "expects '", br.name, "' to have ", br.g,
                  " channels (branch_channels), got ", gc);
    if (br.squareShape && kh != kw)
      return fail(loc, op, "expects a square 'w_square', got ", kh, "x", kw);
    if (br.unitH && kh != 1)
      return fail(loc, op, "expects 'w_band_w' to be g_w x 1 x B, got ", gc,
                  "x", kh, "x", kw);
    if (br.unitW && kw != 1)
      return fail(loc, op, "expects 'w_band_h' to be g_h x B x 1, got ", gc,
                  "x", kh, "x", kw);
    if (kh < 1 || kw < 1 || kh % 2 == 0 || kw % 2 == 0)
      return fail(loc, op, "expects odd kernel sizes for \"same\" padding, '",
                  br.name, "' is ", kh, "x", kw);
    if ((h != kDyn && h < 1) || (w != kDyn && w < 1))
      return fail(loc, op, "expects a non-empty input");
  }
  inferred.push_back(in);
  return success();
}

//===----------------------------------------------------------------------===//
// window_attention
//===----------------------------------------------------------------------===//

SmallVector<int64_t> WindowAttentionOp::getDilationOrDefault() {
  if (auto d = getDilation())
    return SmallVector<int64_t>(d->begin(), d->end());
  return SmallVector<int64_t>(getKernelSize().size(), 1);
}

LogicalResult WindowAttentionOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  StringRef op = "kjit.window_attention";
  auto q = rankedOf(adaptor.getQ()), k = rankedOf(adaptor.getK()),
       v = rankedOf(adaptor.getV());
  if (!q || !k || !v)
    return fail(loc, op, "expects ranked tensor operands");
  if (failed(checkTensorSizes(
          loc, op,
          {{"q", q}, {"k", k}, {"v", v}, {"rpb", rankedOf(adaptor.getRpb())}})))
    return failure();
  int64_t rank = q.getRank();
  if (rank != 4 && rank != 5)
    return fail(loc, op, "expects q to be B x heads x L x D (rank 4) or ",
                "B x heads x H x W x D (rank 5), got rank ", rank);
  for (auto [name, t] : {std::pair<StringRef, RankedTensorType>{"k", k},
                         {"v", v}}) {
    if (t.getRank() != rank)
      return fail(loc, op, "expects '", name, "' to have q's rank (", rank,
                  "), got ", t.getRank());
    for (int64_t i = 0; i < rank; ++i)
      if (!compatible(t.getDimSize(i), q.getDimSize(i)))
        return fail(loc, op, "expects '", name, "' to have q's shape; dim ",
                    i, " is ", dimText(t.getDimSize(i)), " vs ",
                    dimText(q.getDimSize(i)));
  }
  int64_t spatial = rank - 3;
  if (failed(checkArray(loc, op, "kernel_size", adaptor.getKernelSize(),
                        spatial, 1)))
    return failure();
  SmallVector<int64_t> dil(spatial, 1);
  if (auto d = adaptor.getDilation()) {
    if (failed(checkArray(loc, op, "dilation", *d, spatial, 1)))
      return failure();
    dil.assign(d->begin(), d->end());
  }
  // kernel_size and dilation entries are at most 2^31 - 1: ks x dil and
  // 2 ks - 1 fit in int64. An unchecked product once wrapped negative and let
  // a dilation of 2^62 + 1 through, with reads out of bounds.
  ArrayRef<int64_t> ks = adaptor.getKernelSize();
  for (int64_t i = 0; i < spatial; ++i) {
    if (ks[i] % 2 == 0)
      return fail(loc, op, "expects odd kernel sizes, got ", ks[i]);
    int64_t size = q.getDimSize(2 + i);
    if (size != kDyn && ks[i] * dil[i] > size)
      return fail(loc, op, "expects kernel_size x dilation (", ks[i], "x",
                  dil[i], ") to fit the input's spatial size (", size,
                  ") in dim ", i);
  }
  if (adaptor.getIsCausal() && spatial != 1)
    return fail(loc, op, "supports is_causal only for 1-D attention");
  if (auto s = adaptor.getScale())
    if (!(s->convertToDouble() > 0.0))
      return fail(loc, op, "expects a positive scale");
  if (Value rpbValue = adaptor.getRpb()) {
    auto rpb = rankedOf(rpbValue);
    if (!rpb || rpb.getRank() != spatial + 1)
      return fail(loc, op, "expects rpb of rank ", spatial + 1);
    if (!compatible(rpb.getDimSize(0), q.getDimSize(1)))
      return fail(loc, op, "expects rpb's first dim to be heads (",
                  dimText(q.getDimSize(1)), "), got ",
                  dimText(rpb.getDimSize(0)));
    for (int64_t i = 0; i < spatial; ++i)
      if (!compatible(rpb.getDimSize(1 + i), 2 * ks[i] - 1))
        return fail(loc, op, "expects rpb dim ", 1 + i, " to be 2k-1 = ",
                    2 * ks[i] - 1, ", got ", dimText(rpb.getDimSize(1 + i)));
  }
  inferred.push_back(q);
  return success();
}

//===----------------------------------------------------------------------===//
// fft_conv, butterfly_matmul
//===----------------------------------------------------------------------===//

LogicalResult FftConvOp::inferReturnTypes(MLIRContext *ctx,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &inferred) {
  StringRef op = "kjit.fft_conv";
  auto u = rankedOf(adaptor.getU()), k = rankedOf(adaptor.getK());
  if (!u || !k)
    return fail(loc, op, "expects ranked tensor operands");
  if (failed(checkTensorSizes(
          loc, op, {{"u", u}, {"k", k}, {"d", rankedOf(adaptor.getD())}})))
    return failure();
  if (u.getRank() != 3)
    return fail(loc, op, "expects u to be B x C x L, got rank ", u.getRank());
  if (k.getRank() != 2)
    return fail(loc, op, "expects k to be C x Lk, got rank ", k.getRank());
  if (!compatible(k.getDimSize(0), u.getDimSize(1)))
    return fail(loc, op, "expects k's channels (", dimText(k.getDimSize(0)),
                ") to equal u's (", dimText(u.getDimSize(1)), ")");
  int64_t l = u.getDimSize(2), lk = k.getDimSize(1);
  if (lk != kDyn && lk < 1)
    return fail(loc, op, "expects a non-empty kernel");
  if (l != kDyn && lk != kDyn && lk > l)
    return fail(loc, op, "expects Lk (", lk, ") <= L (", l, ")");
  if (Value dv = adaptor.getD()) {
    auto d = rankedOf(dv);
    if (!d || d.getRank() != 1 || !compatible(d.getDimSize(0), u.getDimSize(1)))
      return fail(loc, op, "expects d to be a vector of C = ",
                  dimText(u.getDimSize(1)), " entries");
  }
  inferred.push_back(u);
  return success();
}

LogicalResult ButterflyMatmulOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  StringRef op = "kjit.butterfly_matmul";
  auto x = rankedOf(adaptor.getX()), r = rankedOf(adaptor.getR()),
       l = rankedOf(adaptor.getL());
  if (!x || !r || !l)
    return fail(loc, op, "expects ranked tensor operands");
  if (failed(checkTensorSizes(loc, op, {{"x", x}, {"r", r}, {"l", l}})))
    return failure();
  if (x.getRank() != 2)
    return fail(loc, op, "expects x to be B x N, got rank ", x.getRank());
  if (r.getRank() != 3 || l.getRank() != 3)
    return fail(loc, op, "expects r (m1 x m2 x m2) and l (m2 x m1 x m1) of ",
                "rank 3");
  if (!r.hasStaticShape() || !l.hasStaticShape())
    return fail(loc, op, "expects static r and l");
  int64_t m1 = r.getDimSize(0), m2 = r.getDimSize(1);
  if (r.getDimSize(2) != m2)
    return fail(loc, op, "expects r to be m1 x m2 x m2, got ", m1, "x", m2,
                "x", r.getDimSize(2));
  if (l.getDimSize(0) != m2 || l.getDimSize(1) != m1 || l.getDimSize(2) != m1)
    return fail(loc, op, "expects l to be m2 x m1 x m1 = ", m2, "x", m1, "x",
                m1);
  // r and l hold at most 2^40 elements each, so (m1 m2)^3 <= 2^80 and
  // m1 m2 < 2^27: no overflow, and N is within kMaxDimSize.
  if (!compatible(x.getDimSize(1), m1 * m2))
    return fail(loc, op, "expects N (", dimText(x.getDimSize(1)),
                ") = m1 * m2 (", m1 * m2, ")");
  inferred.push_back(x);
  return success();
}

//===----------------------------------------------------------------------===//
// spmm, spgemm
//===----------------------------------------------------------------------===//

LogicalResult SpmmOp::inferReturnTypes(MLIRContext *ctx,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &inferred) {
  StringRef op = "kjit.spmm";
  auto rp = rankedOf(adaptor.getRowPtr()), ci = rankedOf(adaptor.getColIdx()),
       vals = rankedOf(adaptor.getValues()), b = rankedOf(adaptor.getB());
  if (!rp || !ci || !vals || !b)
    return fail(loc, op, "expects ranked tensor operands");
  if (failed(checkTensorSizes(
          loc, op,
          {{"row_ptr", rp}, {"col_idx", ci}, {"values", vals}, {"b", b}})))
    return failure();
  if (rp.getRank() != 1 || ci.getRank() != 1 || vals.getRank() != 1)
    return fail(loc, op, "expects rank-1 row_ptr, col_idx and values");
  if (b.getRank() != 2)
    return fail(loc, op, "expects b to be K x N, got rank ", b.getRank());
  if (!compatible(ci.getDimSize(0), vals.getDimSize(0)))
    return fail(loc, op, "expects col_idx (", dimText(ci.getDimSize(0)),
                ") and values (", dimText(vals.getDimSize(0)),
                ") to have the same length");
  int64_t rows = rp.getDimSize(0);
  if (rows != kDyn && rows < 1)
    return fail(loc, op, "expects row_ptr to have M + 1 >= 1 entries");
  int64_t m = rows == kDyn ? kDyn : rows - 1;
  // M x N may hold more elements than row_ptr and b together.
  auto out = RankedTensorType::get({m, b.getDimSize(1)}, Float32Type::get(ctx));
  if (failed(checkTensorSize(loc, op, "output", out)))
    return failure();
  inferred.push_back(out);
  return success();
}

LogicalResult SpgemmOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  StringRef op = "kjit.spgemm";
  if (failed(checkArray(loc, op, "shape", adaptor.getShape(), 3, 0)))
    return failure();
  ArrayRef<int64_t> shape = adaptor.getShape();
  struct Csr {
    StringRef name;
    Value rp, ci, vals;
    int64_t rows;
  } mats[] = {{"a", adaptor.getARowPtr(), adaptor.getAColIdx(),
               adaptor.getAValues(), shape[0]},
              {"b", adaptor.getBRowPtr(), adaptor.getBColIdx(),
               adaptor.getBValues(), shape[1]}};
  for (const Csr &m : mats) {
    auto rp = rankedOf(m.rp), ci = rankedOf(m.ci), vals = rankedOf(m.vals);
    if (!rp || !ci || !vals || rp.getRank() != 1 || ci.getRank() != 1 ||
        vals.getRank() != 1)
      return fail(loc, op, "expects rank-1 ", m.name, "_row_ptr, ", m.name,
                  "_col_idx and ", m.name, "_values");
    std::string rpName = (m.name + "_row_ptr").str(),
                ciName = (m.name + "_col_idx").str(),
                valsName = (m.name + "_values").str();
    if (failed(checkTensorSizes(
            loc, op, {{rpName, rp}, {ciName, ci}, {valsName, vals}})))
      return failure();
    // m.rows <= 2^31 - 1 (checkArray): m.rows + 1 cannot wrap.
    if (!compatible(rp.getDimSize(0), m.rows + 1))
      return fail(loc, op, "expects ", m.name, "_row_ptr to have ",
                  m.rows + 1, " entries (shape), got ",
                  dimText(rp.getDimSize(0)));
    if (!compatible(ci.getDimSize(0), vals.getDimSize(0)))
      return fail(loc, op, "expects ", m.name, "_col_idx and ", m.name,
                  "_values to have the same length");
  }
  Type i32 = IntegerType::get(ctx, 32);
  // shape[0] <= 2^31 - 1 (checkArray): shape[0] + 1 cannot wrap (it once
  // wrapped to the dynamic size), but may exceed what an i32 row_ptr holds.
  auto cRowPtr = RankedTensorType::get({shape[0] + 1}, i32);
  if (failed(checkTensorSize(loc, op, "c_row_ptr", cRowPtr)))
    return failure();
  inferred.push_back(cRowPtr);
  inferred.push_back(RankedTensorType::get({kDyn}, i32));
  inferred.push_back(RankedTensorType::get({kDyn}, Float32Type::get(ctx)));
  return success();
}

#define GET_OP_CLASSES
#include "dialects/kjit/IR/KjitOps.cpp.inc"

#include "dialects/kjit/IR/TunableOpInterface.cpp.inc"
