//===- NpyHeader.h - the dict literal of a .npy header ---------*- C++ -*-===//
//
// A .npy header is a Python dict literal that numpy reads with
// ast.literal_eval, e.g. {'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), }. This parser tokenizes it as Python would (quoted
// strings with escapes, True/False/None, integers, tuples and lists, any
// whitespace including tabs and newlines, comments, trailing commas), so a
// key is only ever found where a key is, never inside a string value.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_NPYHEADER_H
#define KJIT_RUNTIME_NPYHEADER_H

#include "kjit/kjit.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kjit::npy {

/// What a header says about the array that follows it.
struct Header {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
};

/// Parses the dict literal of a header. Exactly the keys 'descr',
/// 'fortran_order' and 'shape' (as numpy requires; a duplicate key is an
/// error too), a supported little-endian dtype, C order and non-negative
/// dimensions; otherwise an error that says what is wrong (no file name).
Result<Header> parseHeader(const std::string &text);

} // namespace kjit::npy

#endif
