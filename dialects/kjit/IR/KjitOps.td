//===- KjitOps.td - kjit ops -------------------------------*- tablegen -*-===//
//
// Operand order and attribute names/kinds are a contract (ARCHITECTURE.md):
// tests, kjit-run files and users rely on the generic form.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_OPS_TD
#define KJIT_OPS_TD

include "dialects/kjit/IR/KjitDialect.td"
include "dialects/kjit/IR/KjitAttrs.td"
include "dialects/kjit/IR/TunableOpInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Kjit_F32Tensor : RankedTensorOf<[F32]>;
def Kjit_I32Tensor : RankedTensorOf<[I32]>;

class Kjit_TunableOp<string mnemonic, list<Trait> traits = []>
    : Kjit_Op<mnemonic, !listconcat(traits, [Pure, InferTypeOpAdaptor,
          DeclareOpInterfaceMethods<TunableOpInterface>])>;

def Kjit_DepthwiseConv2dOp : Kjit_TunableOp<"depthwise_conv2d"> {
  let summary = "Depthwise (large-kernel) 2-D convolution";
  let description = [{
    `input` is N×H×W×C (`layout = "nhwc"`, the default) or N×C×H×W
    (`layout = "nchw"`); `filter` is C×KH×KW; optional `bias` is C. Output
    size as PyTorch `conv2d(groups = C)`.
  }];
  let arguments = (ins Kjit_F32Tensor:$input, Kjit_F32Tensor:$filter,
      Optional<Kjit_F32Tensor>:$bias,
      DefaultValuedStrAttr<StrAttr, "nhwc">:$layout,
      DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$strides,
      DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilations,
      DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0, 0, 0}">:$padding);
  let results = (outs Kjit_F32Tensor:$output);
  let assemblyFormat = [{
    $input `,` $filter (`,` $bias^)? attr-dict `:` type($input) `,`
    type($filter) (`,` type($bias)^)? `->` type($output)
  }];
}

def Kjit_InceptionDepthwiseConv2dOp
    : Kjit_TunableOp<"inception_depthwise_conv2d"> {
  let summary = "InceptionNeXt's token mixer as one fused kernel";
  let description = [{
    Channels split in order [identity, square, band_w, band_h] with
    `branch_channels = array<i64: g_sq, g_w, g_h>`; filters g_sq×K×K,
    g_w×1×B, g_h×B×1; stride 1 and "same" padding. Output shape = input's.
  }];
  let arguments = (ins Kjit_F32Tensor:$input, Kjit_F32Tensor:$w_square,
      Kjit_F32Tensor:$w_band_w, Kjit_F32Tensor:$w_band_h,
      DefaultValuedStrAttr<StrAttr, "nhwc">:$layout,
      DenseI64ArrayAttr:$branch_channels);
  let results = (outs Kjit_F32Tensor:$output);
  let assemblyFormat = [{
    $input `,` $w_square `,` $w_band_w `,` $w_band_h attr-dict `:`
    type(operands) `->` type($output)
  }];
}

def Kjit_WindowAttentionOp : Kjit_TunableOp<"window_attention"> {
  let summary = "Window (neighborhood) attention, 1-D or 2-D, with dilation";
  let description = [{
    q, k, v are B×heads×L×D (1-D) or B×heads×H×W×D (2-D). Each query
    attends exactly k (k×k) keys of its dilation group, the window shifted
    inward at the borders (NATTEN). Optional rpb heads×(2k−1)[×(2k−1)].
  }];
  let arguments = (ins Kjit_F32Tensor:$q, Kjit_F32Tensor:$k, Kjit_F32Tensor:$v,
      Optional<Kjit_F32Tensor>:$rpb,
      DenseI64ArrayAttr:$kernel_size,
      OptionalAttr<DenseI64ArrayAttr>:$dilation,
      DefaultValuedAttr<BoolAttr, "false">:$is_causal,
      OptionalAttr<F32Attr>:$scale);
  let results = (outs Kjit_F32Tensor:$output);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`,` $rpb^)? attr-dict `:` type($q) `,` type($k) `,`
    type($v) (`,` type($rpb)^)? `->` type($output)
  }];
  let extraClassDeclaration = [{
    /// Dilation per spatial dim (1 where the attribute is absent).
    ::llvm::SmallVector<int64_t> getDilationOrDefault();
  }];
}

def Kjit_FftConvOp : Kjit_TunableOp<"fft_conv"> {
  let summary = "Causal long convolution through FFTs built from butterflies";
  let description = [{
    y[b,c,t] = Σ_{0≤s≤min(t,Lk−1)} k[c,s]·u[b,c,t−s] + d[c]·u[b,c,t] with u
    B×C×L, k C×Lk (Lk ≤ L) and optional d C.
  }];
  let arguments = (ins Kjit_F32Tensor:$u, Kjit_F32Tensor:$k, Optional<Kjit_F32Tensor>:$d);
  let results = (outs Kjit_F32Tensor:$output);
  let assemblyFormat = [{
    $u `,` $k (`,` $d^)? attr-dict `:` type($u) `,` type($k)
    (`,` type($d)^)? `->` type($output)
  }];
}

def Kjit_ButterflyMatmulOp : Kjit_TunableOp<"butterfly_matmul"> {
  let summary = "Monarch (butterfly) matrix product per row";
  let description = [{
    x B×N with N = m1·m2, r m1×m2×m2, l m2×m1×m1. Per row: X = x as m1×m2;
    X1[i] = r[i]·X[i]; X2 = X1ᵀ; X3[j] = l[j]·X2[j]; y = X3ᵀ flattened.
  }];
  let arguments = (ins Kjit_F32Tensor:$x, Kjit_F32Tensor:$r, Kjit_F32Tensor:$l);
  let results = (outs Kjit_F32Tensor:$output);
  let assemblyFormat = [{
    $x `,` $r `,` $l attr-dict `:` type(operands) `->` type($output)
  }];
}

def Kjit_SpmmOp : Kjit_TunableOp<"spmm"> {
  let summary = "CSR sparse × dense matrix product";
  let description = [{
    A is CSR M×K (row_ptr (M+1) i32, col_idx nnz i32, values nnz f32), b is
    dense K×N; the output is dense M×N.
  }];
  let arguments = (ins Kjit_I32Tensor:$row_ptr, Kjit_I32Tensor:$col_idx,
      Kjit_F32Tensor:$values, Kjit_F32Tensor:$b);
  let results = (outs Kjit_F32Tensor:$output);
  let assemblyFormat = [{
    $row_ptr `,` $col_idx `,` $values `,` $b attr-dict `:` type(operands)
    `->` type($output)
  }];
}

def Kjit_SpgemmOp : Kjit_TunableOp<"spgemm"> {
  let summary = "CSR × CSR → CSR sparse matrix product";
  let description = [{
    `shape = array<i64: M, K, N>`. The result is CSR (row_ptr, col_idx,
    values) with dynamic nnz, column indices sorted within each row and
    explicit zeros from cancellation kept.
  }];
  let arguments = (ins Kjit_I32Tensor:$a_row_ptr, Kjit_I32Tensor:$a_col_idx,
      Kjit_F32Tensor:$a_values, Kjit_I32Tensor:$b_row_ptr, Kjit_I32Tensor:$b_col_idx,
      Kjit_F32Tensor:$b_values, DenseI64ArrayAttr:$shape);
  let results = (outs Kjit_I32Tensor:$c_row_ptr, Kjit_I32Tensor:$c_col_idx,
      Kjit_F32Tensor:$c_values);
  let assemblyFormat = [{
    $a_row_ptr `,` $a_col_idx `,` $a_values `,` $b_row_ptr `,` $b_col_idx `,`
    $b_values attr-dict `:` type(operands) `->` type(results)
  }];
}

#endif
