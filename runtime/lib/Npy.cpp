//===- Npy.cpp - reading and writing NumPy .npy files ---------------------===//
//
// Format: "\x93NUMPY", major, minor, header length (u16 for 1.0, u32 for 2.0
// and 3.0), then a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n', then the raw elements.
//
//===----------------------------------------------------------------------===//
#include "kjit/npy.h"

#include "NpyHeader.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

using namespace kjit;
using namespace kjit::npy;

static constexpr char kMagic[] = "\x93NUMPY";
static constexpr size_t kMagicLen = 6;

Array::Array(DType dtype, std::vector<int64_t> shape)
    : dtype(dtype), shape(std::move(shape)) {
  storage.resize(size_t(numElements()));
}

int64_t Array::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

TensorView Array::view() { return TensorView(data(), dtype, shape); }

Result<Array> kjit::npy::parse(const std::string &bytes,
                               const std::string &name) {
  auto fail = [&](const std::string &why) {
    return Status::error(name + ": " + why);
  };
  if (bytes.size() < kMagicLen + 2 || memcmp(bytes.data(), kMagic, kMagicLen))
    return fail("not a .npy file (bad magic)");
  uint8_t major = uint8_t(bytes[6]), minor = uint8_t(bytes[7]);
  size_t headerLen, pos;
  if (major == 1) {
    if (bytes.size() < 10)
      return fail("truncated .npy header");
    headerLen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    pos = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return fail("truncated .npy header");
    headerLen = 0;
    for (int i = 0; i < 4; ++i)
      headerLen |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    pos = 12;
  } else {
    return fail("unsupported .npy format version " + std::to_string(major) +
                "." + std::to_string(minor));
  }
  if (headerLen > bytes.size() - pos)
    return fail("truncated .npy header");
  std::string header = bytes.substr(pos, headerLen);
  pos += headerLen;

  Result<Header> parsed = parseHeader(header);
  if (!parsed)
    return fail(parsed.errorMessage());
  Array array;
  array.dtype = parsed->dtype;
  array.shape = parsed->shape;

  uint64_t count = 1;
  for (int64_t d : array.shape) {
    if (d != 0 && count > (uint64_t(1) << 40) / uint64_t(d))
      return fail("shape is too large");
    count *= uint64_t(d);
  }
  uint64_t dataBytes = count * 4;
  uint64_t have = bytes.size() - pos;
  if (have < dataBytes)
    return fail("truncated: the shape needs " + std::to_string(dataBytes) +
                " bytes of data, the file has " + std::to_string(have));
  if (have > dataBytes)
    return fail("has " + std::to_string(have - dataBytes) +
                " unexpected bytes after the data");
  array.storage.resize(count);
  if (count)
    memcpy(array.storage.data(), bytes.data() + pos, dataBytes);
  return array;
}

Result<Array> kjit::npy::read(const std::string &path) {
  FILE *f = fopen(path.c_str(), "rb");
  if (!f)
    return Status::error(path + ": cannot open: " + strerror(errno));
  std::string bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
    bytes.append(buf, n);
  bool failed = ferror(f);
  fclose(f);
  if (failed)
    return Status::error(path + ": read error");
  return parse(bytes, path);
}

std::string kjit::npy::serialize(const TensorView &view) {
  std::string dict = "{'descr': '";
  dict += view.dtype == DType::i32 ? "<i4" : "<f4";
  dict += "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < view.shape.size(); ++i) {
    dict += std::to_string(view.shape[i]);
    if (view.shape.size() == 1 || i + 1 < view.shape.size())
      dict += view.shape.size() == 1 ? "," : ", ";
  }
  dict += "), }";
  // numpy pads magic + length + dict + '\n' to a multiple of 64 bytes.
  size_t total = kMagicLen + 4 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';

  std::string out(kMagic, kMagicLen);
  out += char(1);
  out += char(0);
  out += char(dict.size() & 0xff);
  out += char((dict.size() >> 8) & 0xff);
  out += dict;

  size_t elem = dtypeSize(view.dtype);
  int64_t n = view.numElements();
  if (view.isContiguous()) {
    out.append(static_cast<const char *>(view.data), size_t(n) * elem);
    return out;
  }
  std::vector<int64_t> idx(view.shape.size(), 0);
  for (int64_t linear = 0; linear < n; ++linear) {
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d)
      off += idx[d] * view.strides[d];
    out.append(static_cast<const char *>(view.data) + off * int64_t(elem),
               elem);
    for (size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < view.shape[d])
        break;
      idx[d] = 0;
    }
  }
  return out;
}

Status kjit::npy::write(const std::string &path, const TensorView &view) {
  if (!view.data && view.numElements() != 0)
    return Status::error(path + ": cannot write a view with a null pointer");
  if (!view.strides.empty() && view.strides.size() != view.shape.size())
    return Status::error(path + ": view has " +
                         std::to_string(view.strides.size()) +
                         " strides for rank " +
                         std::to_string(view.shape.size()));
  std::string bytes = serialize(view);
  FILE *f = fopen(path.c_str(), "wb");
  if (!f)
    return Status::error(path + ": cannot open for writing: " +
                         strerror(errno));
  bool ok = fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = (fclose(f) == 0) && ok;
  if (!ok)
    return Status::error(path + ": write failed: " + strerror(errno));
  return Status::ok();
}
