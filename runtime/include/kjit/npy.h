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

/// The most bytes one array may take: the machine's physical memory
/// (sysconf). A shape above it is refused with an error instead of an
/// allocation that aborts or wakes the OOM killer.
uint64_t maxArrayBytes();
/// The bytes of an array of `shape` and `dtype`, computed with checked
/// arithmetic; an error that names the shape and size when a dimension is
/// negative, the size overflows, or it is above maxArrayBytes().
Result<uint64_t> arrayBytes(DType dtype, const std::vector<int64_t> &shape);

/// An array that owns its elements (C order, 4-byte elements, zeroed when
/// created). Move-only.
struct Array {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;

  Array() = default;
  /// A zeroed array; an error (never an abort) when the shape is invalid,
  /// too large (arrayBytes) or the memory cannot be allocated.
  static Result<Array> create(DType dtype, std::vector<int64_t> shape);
  int64_t numElements() const;
  void *data() { return storage.data(); }
  const void *data() const { return storage.data(); }
  /// A contiguous view of the array (valid while the array lives).
  TensorView view();

private:
  Tensor storage;
};

/// Reads a .npy file as a stream: the header (at most kMaxHeaderBytes),
/// then exactly the data bytes it promises, then nothing. A regular file
/// of the wrong size is refused before anything is allocated; a pipe or
/// device is never read past the promised bytes and one more (to see that
/// nothing follows). Errors name the file and the problem.
Result<Array> read(const std::string &path);
/// Parses .npy bytes; `name` is used in error messages.
Result<Array> parse(const std::string &bytes, const std::string &name);
/// The largest header read() and parse() accept: the largest a version 1.0
/// header can be (numpy writes a few hundred bytes).
constexpr uint32_t kMaxHeaderBytes = 65535;

/// A .npy file being written: the bytes go to a temporary file beside the
/// destination, and commit() renames it into place. Destroyed without
/// commit(), or when writing fails, it removes the temporary: a failed
/// write never leaves a partial file, and a file already at the
/// destination stays as it was. A destination that exists and is not a
/// regular file (/dev/stdout, a FIFO) is written directly; a symbolic link
/// to a regular file keeps pointing at it (its target is replaced).
class PendingWrite {
public:
  /// Writes `view` (any strides) as a version 1.0 .npy file's bytes.
  static Result<PendingWrite> start(const std::string &path,
                                    const TensorView &view);
  /// Moves the file into place; after an error nothing was replaced.
  Status commit();

  PendingWrite(PendingWrite &&other) noexcept;
  PendingWrite &operator=(PendingWrite &&other) noexcept;
  PendingWrite(const PendingWrite &) = delete;
  PendingWrite &operator=(const PendingWrite &) = delete;
  ~PendingWrite();

private:
  PendingWrite() = default;
  std::string name;        ///< as the caller gave it, for messages
  std::string destination; ///< what commit() replaces
  std::string temporary;   ///< empty once committed, or when written directly
};

/// Writes a view (any strides) as a version 1.0 .npy file, atomically
/// (PendingWrite, then commit).
Status write(const std::string &path, const TensorView &view);
/// The .npy bytes of a view.
std::string serialize(const TensorView &view);

} // namespace kjit::npy

#endif
