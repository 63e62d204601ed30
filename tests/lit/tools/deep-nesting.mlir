// Text nesting thousands of levels overflowed the MLIR parser's stack
// (SIGSEGV) in every tool; now each refuses it before parsing. Brackets,
// unary minus signs of an affine expression and chains of aliases all nest.
// RUN: python3 %S/Inputs/deep_nesting.py regions 5000 > %t.regions.mlir
// RUN: python3 %S/Inputs/deep_nesting.py attrs 10000 > %t.attrs.mlir
// RUN: python3 %S/Inputs/deep_nesting.py minus 20000 > %t.minus.mlir
// RUN: python3 %S/Inputs/deep_nesting.py aliases 20000 > %t.aliases.mlir
// RUN: not kjit-opt %t.regions.mlir 2>&1 | FileCheck %s --check-prefix=REGIONS
// RUN: not kjit-opt %t.attrs.mlir 2>&1 | FileCheck %s --check-prefix=ATTRS
// RUN: not kjit-opt %t.minus.mlir 2>&1 | FileCheck %s --check-prefix=MINUS
// RUN: not kjit-opt %t.aliases.mlir 2>&1 | FileCheck %s --check-prefix=ALIASES
// RUN: not env KJIT_CACHE_DIR=%t.cache kjit-run %t.regions.mlir --tuning-db=off 2>&1 | FileCheck %s --check-prefix=REGIONS
// RUN: not env KJIT_CACHE_DIR=%t.cache kjit-run %t.attrs.mlir --tuning-db=off 2>&1 | FileCheck %s --check-prefix=ATTRS
// RUN: not env KJIT_CACHE_DIR=%t.cache kjit-tune %t.regions.mlir --dry-run 2>&1 | FileCheck %s --check-prefix=REGIONS
// RUN: not env KJIT_CACHE_DIR=%t.cache kjit-tune %t.attrs.mlir --dry-run 2>&1 | FileCheck %s --check-prefix=ATTRS
// The --config text too (a crash before as well).
// RUN: python3 %S/Inputs/deep_nesting.py config 10000 > %t.config
// RUN: not env KJIT_CACHE_DIR=%t.cache kjit-run %s --tuning-db=off "--config=$(cat %t.config)" 2>&1 | FileCheck %s --check-prefix=CONFIG
// The limit itself parses (and verifies: the nesting is sound).
// RUN: python3 %S/Inputs/deep_nesting.py regions 255 | kjit-opt | FileCheck %s --check-prefix=OK
// RUN: python3 %S/Inputs/deep_nesting.py aliases 255 | kjit-opt | FileCheck %s --check-prefix=OK
//
// REGIONS: mlir:257: the text nests 5001 levels deep (brackets { [ ( <, alias uses, runs of '-'), deeper than kjit's limit of 256 (level 257 is on line 257)
// ATTRS: mlir:1: the text nests 10001 levels deep {{.*}} deeper than kjit's limit of 256 (level 257 is on line 1)
// MINUS: mlir:1: the text nests 20002 levels deep {{.*}} deeper than kjit's limit of 256 (level 257 is on line 1)
// ALIASES: mlir:257: the text nests 20001 levels deep {{.*}} deeper than kjit's limit of 256 (level 257 is on line 257)
// CONFIG: option config: config:1: the text nests 10002 levels deep
// OK: func.func @main

func.func @main(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  %y = kjit.depthwise_conv2d %x, %w : tensor<1x8x8x4xf32>, tensor<4x3x3xf32> -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}
