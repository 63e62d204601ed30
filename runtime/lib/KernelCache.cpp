//===- KernelCache.cpp - on-disk cache of compiled kernels ----------------===//
#include "KernelCache.h"
#include "RuntimeInternal.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SHA256.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace kjit;
using namespace kjit::runtime;

static const char kMagic[8] = {'K', 'J', 'I', 'T', 'O', 'B', 'J', '\0'};
// A sanity bound so that a corrupt length never makes us allocate wildly.
static constexpr uint64_t kMaxEntryBytes = uint64_t(1) << 30;

bool KernelSignature::sameArgs(const KernelSignature &other) const {
  if (entry != other.entry || args.size() != other.args.size())
    return false;
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i].dtype != other.args[i].dtype ||
        args[i].isOutput != other.args[i].isOutput ||
        args[i].shape != other.args[i].shape)
      return false;
  return true;
}

//===----------------------------------------------------------------------===//
// Encoding
//===----------------------------------------------------------------------===//

namespace {
class Writer {
public:
  void u8(uint8_t v) { out.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void str(const std::string &s) {
    u64(s.size());
    out += s;
  }
  void raw(const void *p, size_t n) {
    out.append(static_cast<const char *>(p), n);
  }
  std::string out;
};

/// Bounds-checked reader: every read fails cleanly past the end.
class Reader {
public:
  Reader(const std::string &bytes, size_t end) : bytes(bytes), end(end) {}
  bool raw(void *p, size_t n) {
    if (n > end - pos)
      return false;
    memcpy(p, bytes.data() + pos, n);
    pos += n;
    return true;
  }
  bool u8(uint8_t &v) { return raw(&v, 1); }
  bool u32(uint32_t &v) { return raw(&v, 4); }
  bool u64(uint64_t &v) { return raw(&v, 8); }
  bool str(std::string &s) {
    uint64_t n;
    if (!u64(n) || n > end - pos)
      return false;
    s.assign(bytes.data() + pos, n);
    pos += n;
    return true;
  }
  bool atEnd() const { return pos == end; }

private:
  const std::string &bytes;
  size_t end;
  size_t pos = 0;
};
} // namespace

static std::string encodeSignature(const KernelSignature &sig) {
  Writer w;
  w.str(sig.entry);
  w.str(sig.symbol);
  w.str(sig.source);
  w.u64(sig.args.size());
  for (const ArgInfo &a : sig.args) {
    w.u8(static_cast<uint8_t>(a.dtype));
    w.u8(a.isOutput ? 1 : 0);
    w.u64(a.shape.size());
    for (int64_t d : a.shape)
      w.u64(static_cast<uint64_t>(d));
  }
  w.u64(sig.configs.size());
  for (const std::string &c : sig.configs)
    w.str(c);
  return std::move(w.out);
}

static bool decodeSignature(const std::string &bytes, KernelSignature &sig) {
  Reader r(bytes, bytes.size());
  uint64_t n;
  if (!r.str(sig.entry) || !r.str(sig.symbol) || !r.str(sig.source) ||
      !r.u64(n) || n > bytes.size())
    return false;
  sig.args.resize(n);
  for (ArgInfo &a : sig.args) {
    uint8_t dtype, isOutput;
    uint64_t rank;
    if (!r.u8(dtype) || !r.u8(isOutput) || !r.u64(rank) || dtype > 1 ||
        rank > 8)
      return false;
    a.dtype = static_cast<DType>(dtype);
    a.isOutput = isOutput != 0;
    a.shape.resize(rank);
    for (int64_t &d : a.shape) {
      uint64_t v;
      if (!r.u64(v))
        return false;
      d = static_cast<int64_t>(v);
    }
  }
  if (!r.u64(n) || n > bytes.size())
    return false;
  sig.configs.resize(n);
  for (std::string &c : sig.configs)
    if (!r.str(c))
      return false;
  return r.atEnd();
}

static std::array<uint8_t, 32> sha256(llvm::StringRef bytes) {
  return llvm::SHA256::hash(llvm::arrayRefFromStringRef(bytes));
}

std::string kjit::runtime::encodeCacheEntry(const std::string &key,
                                            const CacheEntry &entry) {
  Writer w;
  w.raw(kMagic, sizeof(kMagic));
  w.u32(DiskCache::kFormatVersion);
  w.u32(0);
  w.str(key);
  w.str(encodeSignature(entry.signature));
  w.str(entry.object);
  std::array<uint8_t, 32> digest = sha256(w.out);
  w.raw(digest.data(), digest.size());
  return std::move(w.out);
}

Result<CacheEntry> kjit::runtime::decodeCacheEntry(const std::string &key,
                                                   const std::string &bytes) {
  if (bytes.size() < sizeof(kMagic) + 8 + 32)
    return userError("entry is truncated");
  if (memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    return userError("entry has a bad magic number");
  // The checksum first: nothing in an entry is trusted before it.
  size_t body = bytes.size() - 32;
  std::array<uint8_t, 32> digest = sha256(llvm::StringRef(bytes.data(), body));
  if (memcmp(digest.data(), bytes.data() + body, 32) != 0)
    return userError("entry checksum mismatch (torn or tampered)");
  Reader r(bytes, body);
  char magic[8];
  uint32_t version, reserved;
  std::string storedKey, meta;
  CacheEntry entry;
  if (!r.raw(magic, 8) || !r.u32(version) || !r.u32(reserved))
    return userError("entry header is truncated");
  if (version != DiskCache::kFormatVersion)
    return userError("entry has format version " + std::to_string(version) +
                     ", expected " +
                     std::to_string(DiskCache::kFormatVersion));
  if (!r.str(storedKey) || !r.str(meta) || !r.str(entry.object) ||
      !r.atEnd())
    return userError("entry sizes do not add up");
  if (storedKey != key)
    return userError("entry was written for another key");
  if (!decodeSignature(meta, entry.signature))
    return userError("entry metadata is malformed");
  if (entry.object.empty())
    return userError("entry holds no object code");
  return entry;
}

//===----------------------------------------------------------------------===//
// Directory handling
//===----------------------------------------------------------------------===//

std::string DiskCache::defaultDirectory() {
  if (const char *d = getenv("KJIT_CACHE_DIR"); d && *d)
    return d;
  if (const char *d = getenv("XDG_CACHE_HOME"); d && *d)
    return std::string(d) + "/kjit";
  if (const char *d = getenv("HOME"); d && *d)
    return std::string(d) + "/.cache/kjit";
  return "";
}

/// mkdir -p with mode 0700 for what we create (XDG says so for cache dirs).
static Status makeDirectories(const std::string &dir) {
  std::string path;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    path = dir.substr(0, pos);
    if (path.empty())
      continue;
    if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
      return userError("cannot create kernel cache directory '" + path +
                       "': " + strerror(errno));
  }
  return Status::ok();
}

static constexpr const char kTempPrefix[] = ".tmp-";

/// Removes the temporary files of stores that never finished: a writer's
/// file (.tmp-<pid>-XXXXXX) once no process has its pid, and a file without
/// a pid in its name when it is an hour old (a store takes milliseconds).
/// A live writer's file is never touched; one in another pid namespace
/// sharing the directory could be taken for dead: its store then fails and
/// the kernel is compiled again, never torn.
static void removeStaleTempFiles(const std::string &dir) {
  DIR *d = opendir(dir.c_str());
  if (!d)
    return;
  time_t now = time(nullptr);
  while (struct dirent *e = readdir(d)) {
    llvm::StringRef name(e->d_name);
    if (!name.consume_front(kTempPrefix))
      continue;
    std::string path = dir + "/" + e->d_name;
    auto [pidText, rest] = name.split('-');
    pid_t pid = 0;
    bool stale;
    if (!rest.empty() && !pidText.getAsInteger(10, pid) && pid > 0) {
      stale = kill(pid, 0) != 0 && errno == ESRCH;
    } else {
      struct stat st;
      stale = lstat(path.c_str(), &st) == 0 && now - st.st_mtime > 3600;
    }
    if (stale)
      unlink(path.c_str());
  }
  closedir(d);
}

Result<std::shared_ptr<DiskCache>> DiskCache::open(const std::string &dir) {
  if (dir.empty())
    return userError("no kernel cache directory (set KJIT_CACHE_DIR, "
                     "XDG_CACHE_HOME or HOME)");
  if (Status s = makeDirectories(dir); !s)
    return s;
  struct stat st;
  if (stat(dir.c_str(), &st) != 0)
    return userError("cannot stat kernel cache directory '" + dir +
                     "': " + strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return userError("kernel cache path '" + dir + "' is not a directory");
  if (st.st_uid != geteuid())
    return userError("kernel cache directory '" + dir +
                     "' is not owned by the current user; refusing to load "
                     "code from it");
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    char mode[8];
    snprintf(mode, sizeof(mode), "%04o", unsigned(st.st_mode & 07777));
    return userError("kernel cache directory '" + dir + "' (mode " + mode +
                     ") is writable by other users; refusing to load code "
                     "from it (chmod 700 it or choose another directory)");
  }
  removeStaleTempFiles(dir);
  return std::shared_ptr<DiskCache>(new DiskCache(dir));
}

std::string DiskCache::entryPath(const std::string &key) const {
  std::array<uint8_t, 32> digest = sha256(key);
  return dir_ + "/" + llvm::toHex(digest, /*LowerCase=*/true) + ".kjitobj";
}

std::optional<CacheEntry> DiskCache::load(const std::string &key,
                                          std::string *why) const {
  auto refuse = [&](std::string reason) -> std::optional<CacheEntry> {
    if (why)
      *why = std::move(reason);
    return std::nullopt;
  };
  std::string path = entryPath(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return refuse(errno == ENOENT ? "no entry" : strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
      uint64_t(st.st_size) > kMaxEntryBytes) {
    ::close(fd);
    return refuse("entry is not a regular file owned by the current user "
                  "and writable only by them");
  }
  std::string bytes(size_t(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    done += size_t(n);
  }
  ::close(fd);
  if (done != bytes.size())
    return refuse("entry could not be read completely");
  Result<CacheEntry> entry = decodeCacheEntry(key, bytes);
  if (!entry)
    return refuse(entry.errorMessage());
  return std::move(*entry);
}

Status DiskCache::store(const std::string &key, const CacheEntry &entry) const {
  std::string bytes = encodeCacheEntry(key, entry);
  std::string finalPath = entryPath(key);
  std::string tmpl =
      dir_ + "/" + kTempPrefix + std::to_string(getpid()) + "-XXXXXX";
  // mkstemp creates the file with mode 0600 and a unique name, so two
  // processes writing the same key never write into one file.
  int fd = mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0)
    return userError("cannot create a file in kernel cache '" + dir_ +
                     "': " + strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    done += size_t(n);
  }
  bool ok = done == bytes.size() && fsync(fd) == 0;
  int savedErrno = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok || rename(tmpl.c_str(), finalPath.c_str()) != 0) {
    if (ok)
      savedErrno = errno;
    unlink(tmpl.c_str());
    return userError("cannot write kernel cache entry '" + finalPath +
                     "': " + strerror(savedErrno));
  }
  // Make the rename itself durable.
  int dirFd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    fsync(dirFd);
    ::close(dirFd);
  }
  return Status::ok();
}
