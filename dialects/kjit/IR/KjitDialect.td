//===- KjitDialect.td - the kjit dialect -------------------*- tablegen -*-===//
#ifndef KJIT_DIALECT_TD
#define KJIT_DIALECT_TD

include "mlir/IR/OpBase.td"

def Kjit_Dialect : Dialect {
  let name = "kjit";
  let summary = "Kernels kjit compiles and tunes";
  let description = [{
    Large-kernel depthwise convolution, window (neighborhood) attention,
    FFT/butterfly long convolution and sparse products, on tensors. Each op
    is lowered with a tuning configuration (`#kjit.config<{...}>`) carried
    in the discardable attribute `kjit.config`.
  }];
  let cppNamespace = "::mlir::kjit";
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
}

class Kjit_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kjit_Dialect, mnemonic, traits>;

#endif
