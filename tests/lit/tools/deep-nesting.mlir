// Text nesting thousands of levels overflowed the MLIR parser's stack
// (SIGSEGV) in every tool; now each refuses it before parsing.
// RUN: python3 %S/Inputs/deep_nesting.py regions 5000 > %t.regions.mlir
// RUN: python3 %S/Inputs/deep_nesting.py attrs 10000 > %t.attrs.mlir
// RUN: not kjit-opt %t.regions.mlir 2>&1 | FileCheck %s --check-prefix=REGIONS
// RUN: not kjit-opt %t.attrs.mlir 2>&1 | FileCheck %s --check-prefix=ATTRS
// RUN: not env KJIT_CACHE_DIR=%t.cache kjit-run %t.regions.mlir --tuning-db=off 2>&1 | FileCheck %s --check-prefix=REGIONS
// RUN: not env KJIT_CACHE_DIR=%t.cache kjit-run %t.attrs.mlir --tuning-db=off 2>&1 | FileCheck %s --check-prefix=ATTRS
// RUN: not env KJIT_CACHE_DIR=%t.cache kjit-tune %t.regions.mlir --dry-run 2>&1 | FileCheck %s --check-prefix=REGIONS
// RUN: not env KJIT_CACHE_DIR=%t.cache kjit-tune %t.attrs.mlir --dry-run 2>&1 | FileCheck %s --check-prefix=ATTRS
// The limit itself parses (and verifies: the nesting is sound).
// RUN: python3 %S/Inputs/deep_nesting.py regions 255 | kjit-opt | FileCheck %s --check-prefix=OK
//
// REGIONS: mlir:257: brackets ({ [ ( <) nest 5001 deep, deeper than kjit's limit of 256 (level 257 opens on line 257)
// ATTRS: mlir:1: brackets ({ [ ( <) nest 10001 deep, deeper than kjit's limit of 256 (level 257 opens on line 1)
// OK: func.func @main
