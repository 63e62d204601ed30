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
#include "RuntimeInternal.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

using namespace kjit;
using namespace kjit::npy;
using kjit::runtime::shapeString;

static constexpr char kMagic[] = "\x93NUMPY";
static constexpr size_t kMagicLen = 6;

uint64_t kjit::npy::maxArrayBytes() {
  long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || pageSize <= 0)
    return uint64_t(1) << 32; // unknown: a modest 4 GiB
  return uint64_t(pages) * uint64_t(pageSize);
}

static std::string gib(uint64_t bytes) {
  char text[32];
  snprintf(text, sizeof(text), "%.1f GiB", double(bytes) / double(1ull << 30));
  return text;
}

Result<uint64_t> kjit::npy::arrayBytes(DType dtype,
                                       const std::vector<int64_t> &shape) {
  std::string what =
      "a " + shapeString(shape) + " " + dtypeName(dtype) + " array";
  uint64_t bytes = dtypeSize(dtype);
  bool overflow = false;
  for (int64_t d : shape) {
    if (d < 0)
      return Status::error(what + " has a negative dimension");
    overflow |= __builtin_mul_overflow(bytes, uint64_t(d), &bytes);
  }
  // A zero dimension makes any product zero, overflowed or not.
  for (int64_t d : shape)
    if (d == 0)
      return uint64_t(0);
  if (overflow)
    return Status::error(what + " is too large (its size in bytes "
                                "overflows 64 bits)");
  uint64_t limit = maxArrayBytes();
  if (bytes > limit)
    return Status::error(
        what + " needs " + std::to_string(bytes) + " bytes (" + gib(bytes) +
        "), more than this machine's physical memory (" + gib(limit) + ")");
  return bytes;
}

Result<Array> Array::create(DType dtype, std::vector<int64_t> shape) {
  Result<uint64_t> bytes = arrayBytes(dtype, shape);
  if (!bytes)
    return bytes.status();
  Result<Tensor> storage = Tensor::allocate(dtype, shape);
  if (!storage)
    return Status::error("cannot allocate a " + shapeString(shape) + " " +
                         dtypeName(dtype) + " array (" +
                         std::to_string(*bytes) +
                         " bytes): " + storage.errorMessage());
  if (*bytes)
    memset(storage->data(), 0, size_t(*bytes));
  Array array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  array.storage = std::move(*storage);
  return array;
}

int64_t Array::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

TensorView Array::view() { return TensorView(data(), dtype, shape); }

namespace {
/// Where read() and parse() take .npy bytes from.
class ByteSource {
public:
  virtual ~ByteSource() = default;
  /// Reads up to `n` bytes; fewer only at the end. Sets `error` on failure.
  virtual size_t read(void *into, size_t n, std::string &error) = 0;
  /// The bytes left, when the source knows it (memory, a regular file).
  virtual std::optional<uint64_t> remaining() const = 0;
};

class MemorySource : public ByteSource {
public:
  explicit MemorySource(const std::string &bytes) : bytes(bytes) {}
  size_t read(void *into, size_t n, std::string &) override {
    n = std::min(n, bytes.size() - pos);
    memcpy(into, bytes.data() + pos, n);
    pos += n;
    return n;
  }
  std::optional<uint64_t> remaining() const override {
    return bytes.size() - pos;
  }

private:
  const std::string &bytes;
  size_t pos = 0;
};

class FileSource : public ByteSource {
public:
  FileSource(int fd, std::optional<uint64_t> size) : fd(fd), size(size) {}
  ~FileSource() override { close(fd); }
  size_t read(void *into, size_t n, std::string &error) override {
    size_t done = 0;
    while (done < n) {
      ssize_t got = ::read(fd, static_cast<char *>(into) + done,
                           std::min(n - done, size_t(1) << 30));
      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0) {
        error = std::string("read error: ") + strerror(errno);
        break;
      }
      if (got == 0)
        break;
      done += size_t(got);
    }
    pos += done;
    return done;
  }
  std::optional<uint64_t> remaining() const override {
    if (!size)
      return std::nullopt;
    return *size > pos ? *size - pos : 0;
  }

private:
  int fd;
  std::optional<uint64_t> size;
  uint64_t pos = 0;
};

/// Magic, version and header, then exactly the promised data bytes.
Result<Array> decode(ByteSource &in, const std::string &name) {
  auto fail = [&](const std::string &why) {
    return Status::error(name + ": " + why);
  };
  std::string readError;
  auto readExactly = [&](void *into, size_t n) {
    return in.read(into, n, readError) == n;
  };
  unsigned char prefix[12];
  if (!readExactly(prefix, 8) || memcmp(prefix, kMagic, kMagicLen)) {
    if (!readError.empty())
      return fail(readError);
    return fail("not a .npy file (bad magic)");
  }
  uint8_t major = prefix[6], minor = prefix[7];
  uint32_t headerLen = 0;
  if (major == 1) {
    if (!readExactly(prefix + 8, 2))
      return fail(readError.empty() ? "truncated .npy header" : readError);
    headerLen = prefix[8] | uint32_t(prefix[9]) << 8;
  } else if (major == 2 || major == 3) {
    if (!readExactly(prefix + 8, 4))
      return fail(readError.empty() ? "truncated .npy header" : readError);
    for (int i = 0; i < 4; ++i)
      headerLen |= uint32_t(prefix[8 + i]) << (8 * i);
  } else {
    return fail("unsupported .npy format version " + std::to_string(major) +
                "." + std::to_string(minor));
  }
  if (headerLen > kMaxHeaderBytes)
    return fail("the .npy header is " + std::to_string(headerLen) +
                " bytes long, above the limit of " +
                std::to_string(kMaxHeaderBytes));
  if (std::optional<uint64_t> left = in.remaining(); left && *left < headerLen)
    return fail("truncated .npy header");
  std::string text(headerLen, '\0');
  if (!readExactly(text.data(), headerLen))
    return fail(readError.empty() ? "truncated .npy header" : readError);

  Result<Header> header = parseHeader(text);
  if (!header)
    return fail(header.errorMessage());
  Result<uint64_t> dataBytes = arrayBytes(header->dtype, header->shape);
  if (!dataBytes)
    return fail(dataBytes.errorMessage());
  // A file of the wrong size is refused before its array is allocated.
  auto truncated = [&](uint64_t have) {
    return fail("truncated: the shape needs " + std::to_string(*dataBytes) +
                " bytes of data, the file has " + std::to_string(have));
  };
  std::optional<uint64_t> left = in.remaining();
  if (left && *left < *dataBytes)
    return truncated(*left);
  if (left && *left > *dataBytes)
    return fail("has " + std::to_string(*left - *dataBytes) +
                " unexpected bytes after the data");

  Result<Array> array = Array::create(header->dtype, header->shape);
  if (!array)
    return fail(array.errorMessage());
  size_t got = in.read(array->data(), size_t(*dataBytes), readError);
  if (!readError.empty())
    return fail(readError);
  if (got < *dataBytes)
    return truncated(got);
  // A stream says it has ended only when read; one byte more is enough.
  if (!left) {
    char extra;
    if (in.read(&extra, 1, readError) != 0)
      return fail("has unexpected bytes after the data");
    if (!readError.empty())
      return fail(readError);
  }
  return array;
}
} // namespace

Result<Array> kjit::npy::parse(const std::string &bytes,
                               const std::string &name) {
  MemorySource in(bytes);
  return decode(in, name);
}

Result<Array> kjit::npy::read(const std::string &path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(path + ": cannot open: " + strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return Status::error(path + ": cannot stat: " + strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return Status::error(path + ": is a directory, not a .npy file");
  }
  FileSource in(fd, S_ISREG(st.st_mode)
                        ? std::optional<uint64_t>(uint64_t(st.st_size))
                        : std::nullopt);
  return decode(in, path);
}

/// The header of a view's .npy file: magic, version 1.0, length and the
/// dict, padded as numpy pads it.
static std::string headerFor(const TensorView &view) {
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
  return out;
}

/// Hands the view's elements, in C order, to `sink(bytes, size)` in
/// chunks; false as soon as the sink returns false.
template <typename Sink>
static bool forEachChunk(const TensorView &view, Sink sink) {
  size_t elem = dtypeSize(view.dtype);
  int64_t n = view.numElements();
  if (n <= 0)
    return true;
  if (view.isContiguous())
    return sink(static_cast<const char *>(view.data), size_t(n) * elem);
  std::string chunk;
  constexpr size_t kChunkBytes = 1 << 20;
  std::vector<int64_t> idx(view.shape.size(), 0);
  for (int64_t linear = 0; linear < n; ++linear) {
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d)
      off += idx[d] * view.strides[d];
    chunk.append(static_cast<const char *>(view.data) + off * int64_t(elem),
                 elem);
    if (chunk.size() >= kChunkBytes) {
      if (!sink(chunk.data(), chunk.size()))
        return false;
      chunk.clear();
    }
    for (size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < view.shape[d])
        break;
      idx[d] = 0;
    }
  }
  return chunk.empty() || sink(chunk.data(), chunk.size());
}

static Status checkWritable(const std::string &path, const TensorView &view) {
  if (!view.data && view.numElements() != 0)
    return Status::error(path + ": cannot write a view with a null pointer");
  if (!view.strides.empty() && view.strides.size() != view.shape.size())
    return Status::error(
        path + ": view has " + std::to_string(view.strides.size()) +
        " strides for rank " + std::to_string(view.shape.size()));
  if (view.memory != Memory::Host)
    return Status::error(path + ": cannot write a view of device memory; "
                                "copy it to the host first");
  return Status::ok();
}

std::string kjit::npy::serialize(const TensorView &view) {
  std::string out = headerFor(view);
  forEachChunk(view, [&](const char *bytes, size_t size) {
    out.append(bytes, size);
    return true;
  });
  return out;
}

static bool writeAll(int fd, const char *bytes, size_t size) {
  while (size) {
    ssize_t done = ::write(fd, bytes, std::min(size, size_t(1) << 30));
    if (done < 0 && errno == EINTR)
      continue;
    if (done <= 0)
      return false;
    bytes += done;
    size -= size_t(done);
  }
  return true;
}

/// Creates a temporary file beside `destination`, named after it and this
/// process so that concurrent writers never share one.
static int createTemporary(const std::string &destination, std::string &name,
                           std::string &error) {
  static std::atomic<unsigned> counter{0};
  size_t slash = destination.rfind('/');
  std::string dir =
      slash == std::string::npos ? "." : destination.substr(0, slash);
  std::string base =
      slash == std::string::npos ? destination : destination.substr(slash + 1);
  for (int attempt = 0; attempt < 100; ++attempt) {
    name = (slash == std::string::npos ? "" : dir + "/") + "." + base +
           ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    int fd = open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0)
      return fd;
    if (errno != EEXIST) {
      error =
          "cannot create a temporary file in '" + dir + "': " + strerror(errno);
      return -1;
    }
  }
  error =
      "cannot create a temporary file in '" + dir + "': too many names taken";
  return -1;
}

Result<PendingWrite> PendingWrite::start(const std::string &path,
                                         const TensorView &view) {
  if (Status s = checkWritable(path, view); !s)
    return s;
  PendingWrite pending;
  pending.name = path;
  pending.destination = path;
  int fd;
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    // A device or FIFO: there is no file to replace atomically.
    if (S_ISDIR(st.st_mode))
      return Status::error(path + ": is a directory");
    fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
      return Status::error(path +
                           ": cannot open for writing: " + strerror(errno));
  } else {
    // Replace a symbolic link's target, not the link.
    if (char *real = realpath(path.c_str(), nullptr)) {
      pending.destination = real;
      free(real);
    }
    std::string error;
    fd = createTemporary(pending.destination, pending.temporary, error);
    if (fd < 0)
      return Status::error(path + ": " + error);
  }
  std::string header = headerFor(view);
  bool ok = writeAll(fd, header.data(), header.size()) &&
            forEachChunk(view, [&](const char *bytes, size_t size) {
              return writeAll(fd, bytes, size);
            });
  int err = errno;
  // The data must be on disk before the rename makes it the file.
  if (ok && !pending.temporary.empty() && fsync(fd) != 0) {
    ok = false;
    err = errno;
  }
  if (close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) // `pending` removes the temporary
    return Status::error(path + ": write failed: " + strerror(err));
  return pending;
}

Status PendingWrite::commit() {
  if (temporary.empty())
    return Status::ok();
  if (rename(temporary.c_str(), destination.c_str()) != 0) {
    int err = errno;
    unlink(temporary.c_str());
    temporary.clear();
    return Status::error(
        name + ": cannot move the written file into place: " + strerror(err));
  }
  temporary.clear();
  return Status::ok();
}

PendingWrite::PendingWrite(PendingWrite &&other) noexcept {
  *this = std::move(other);
}

PendingWrite &PendingWrite::operator=(PendingWrite &&other) noexcept {
  if (this != &other) {
    if (!temporary.empty())
      unlink(temporary.c_str());
    name = std::move(other.name);
    destination = std::move(other.destination);
    temporary = std::exchange(other.temporary, std::string());
  }
  return *this;
}

PendingWrite::~PendingWrite() {
  if (!temporary.empty())
    unlink(temporary.c_str());
}

Status kjit::npy::write(const std::string &path, const TensorView &view) {
  Result<PendingWrite> pending = PendingWrite::start(path, view);
  if (!pending)
    return pending.status();
  return pending->commit();
}
