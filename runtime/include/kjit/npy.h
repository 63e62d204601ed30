//===- npy.h - reading and writing NumPy .npy files ------------*- C++ -*-===//
//
// The format kjit-run and the tests exchange tensors in. Supports what kjit
// kernels take: float32 ('<f4') and int32 ('<i4'), C order, format versions
// 1.0, 2.0 and 3.0. Anything else is a clear error, never a guess. No MLIR or
// LLVM headers.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_NPY_H
#define KJIT_NPY_H

#include "kjit/kjit.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kjit::npy {

/// An array that owns its elements (C order, 4-byte elements).
struct Array {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::vector<uint32_t> storage; ///< raw element bits

  Array() = default;
  Array(DType dtype, std::vector<int64_t> shape);
  int64_t numElements() const;
  void *data() { return storage.data(); }
  const void *data() const { return storage.data(); }
  /// A contiguous view of the array (valid while the array lives).
  TensorView view();
};

/// Reads a .npy file; errors name the file and the problem.
Result<Array> read(const std::string &path);
/// Parses .npy bytes; `name` is used in error messages.
Result<Array> parse(const std::string &bytes, const std::string &name);
/// Writes a view (any strides) as a version 1.0 .npy file.
Status write(const std::string &path, const TensorView &view);
/// The .npy bytes of a view.
std::string serialize(const TensorView &view);

} // namespace kjit::npy

#endif
