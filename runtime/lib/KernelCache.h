//===- KernelCache.h - on-disk cache of compiled kernels -------*- C++ -*-===//
//
// The disk cache holds code this process will execute, so it is treated as
// such:
//  - the directory is created with mode 0700 and refused (disk caching is
//    turned off for that Jit, with a warning) when it is not owned by the
//    current user or is writable by group or others;
//  - every entry is written to a temporary file in the same directory
//    (.tmp-<writer's pid>-XXXXXX), fsync'ed and renamed over the final
//    name, so readers see either the old or the new entry, never a torn
//    one; open() removes the temporary files of writers that died (killed
//    mid-store): those whose pid no longer exists, and those without a pid
//    in the name (older versions) once an hour old;
//  - an entry is loaded only when its magic, format version, full key,
//    sizes and SHA-256 over all of its bytes check out; anything else is a
//    miss (the caller recompiles and overwrites), never executed.
//
// Entry layout (little-endian):
//   "KJITOBJ\0"  u32 formatVersion  u32 reserved(0)
//   str key  str metadata  str object     (str = u64 length + bytes)
//   u8[32] SHA-256 of every byte above
// metadata = entry, symbol, source, args (dtype, isOutput, shape), configs:
// all a disk hit needs, so a hit runs no compiler pass and no codegen.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_KERNELCACHE_H
#define KJIT_RUNTIME_KERNELCACHE_H

#include "kjit/kjit.h"

#include <memory>
#include <optional>
#include <string>

namespace kjit::runtime {

/// What a compiled kernel needs besides its code.
struct KernelSignature {
  std::string entry;
  std::string symbol;
  std::string source;
  std::vector<ArgInfo> args; ///< inputs, then outputs
  std::vector<std::string> configs;

  bool sameArgs(const KernelSignature &other) const;
};

struct CacheEntry {
  KernelSignature signature;
  std::string object;
};

/// Serialises an entry (exposed for tests that tamper with entries).
std::string encodeCacheEntry(const std::string &key, const CacheEntry &entry);
/// Parses and verifies an entry for `key`; the error says why it was refused.
Result<CacheEntry> decodeCacheEntry(const std::string &key,
                                    const std::string &bytes);

class DiskCache {
public:
  static constexpr uint32_t kFormatVersion = 1;

  /// $KJIT_CACHE_DIR, else $XDG_CACHE_HOME/kjit, else $HOME/.cache/kjit;
  /// "" when none of them is set.
  static std::string defaultDirectory();

  /// Creates `dir` (mode 0700) if needed and checks that it is safe to load
  /// code from: a directory, owned by the current user, not writable by
  /// group or others. An error says which rule failed. Removes the
  /// temporary files dead writers left.
  static Result<std::shared_ptr<DiskCache>> open(const std::string &dir);

  const std::string &directory() const { return dir_; }
  /// The file holding `key` (hex SHA-256 of the key).
  std::string entryPath(const std::string &key) const;

  /// A verified entry, or nullopt (missing, unreadable, torn, tampered,
  /// or for another key); `why` gets the reason of a refused entry.
  std::optional<CacheEntry> load(const std::string &key,
                                 std::string *why = nullptr) const;
  /// Writes atomically (temp file + fsync + rename).
  Status store(const std::string &key, const CacheEntry &entry) const;

private:
  explicit DiskCache(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

} // namespace kjit::runtime

#endif
