//===- InputData.h - valid random inputs for measuring a kjit op -*- C++ -*-===//
//
// What a measurement feeds a candidate: f32 operands uniform in [-1, 1);
// structured integer operands valid for the op (kjit.spmm's CSR: row_ptr
// from 0 to nnz, each row's columns distinct, sorted and in range, the
// nonzeros spread over the rows at random), so that the kernel does the
// work a real input asks of it (zero-filled indices are a malformed CSR).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_AUTOTUNE_INPUTDATA_H
#define KJIT_AUTOTUNE_INPUTDATA_H

#include "kjit/kjit.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace kjit::autotune {

/// Fills `buffers` (one per input of `inputs`, each at least the input's
/// bytes) for the op named `opName` ("kjit.spmm", ...). Integer operands of
/// ops without a structure rule are zero.
void fillOpInputs(const std::string &opName, const std::vector<ArgInfo> &inputs,
                  std::vector<std::vector<uint8_t>> &buffers,
                  std::mt19937 &rng);

} // namespace kjit::autotune

#endif
