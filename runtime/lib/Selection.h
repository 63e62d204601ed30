//===- Selection.h - run-time config selection for the Jit -----*- C++ -*-===//
//
// Internal to libkjit. For a compile without an explicit config, each kjit op
// gets the tuning database's pick (autotune/Selector.h: exact record, else
// the nearest tuned workload, re-verified by compiler::prepare) or its
// default. A database that is missing or "off" means no lookup; one that
// cannot be opened or read means defaults and one warning on stderr per
// distinct reason, and it is tried again when the file changes or after a
// back-off (a database fixed or created later is used by the same Jit). What
// select() found is remembered for the most recent kMemoCapacity modules.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_SELECTION_H
#define KJIT_RUNTIME_SELECTION_H

#include "compiler/Compiler.h"

#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kjit::autotune {
class SqliteDatabase;
} // namespace kjit::autotune

namespace kjit::runtime {

/// What the database suggests for one module.
struct OpSelection {
  std::map<unsigned, std::string> configs; ///< by kjit op index
  /// Per kjit op: "tuned", "nearest <workload key prefix>", "default",
  /// "own" (the op carries a config); empty when the module did not parse.
  std::vector<std::string> sources;
};

struct TuningTarget;

class TuningSelector {
public:
  /// Modules whose selection is remembered (least recently used dropped).
  static constexpr size_t kMemoCapacity = 1024;
  /// Seconds before a database that failed to open is tried again when
  /// its file did not change.
  static constexpr double kRetrySeconds = 30;

  /// `path` is the resolved database path ("" or "off": no lookup).
  explicit TuningSelector(std::string path,
                          size_t memoCapacity = kMemoCapacity);
  ~TuningSelector();
  /// `tuningDb` of JitOptions: "off" → "off"; "" → $KJIT_TUNING_DB, else
  /// <cacheDir>/tuning.sqlite.
  static std::string resolvePath(const std::string &tuningDb,
                                 const std::string &cacheDir);
  /// Whether `tuningDb` of JitOptions resolves to the kjit cache
  /// directory's database (whose directory on-line tuning creates).
  static bool inCacheDirectory(const std::string &tuningDb);

  /// `modelPick`: an op with neither a record nor a nearest tuned workload
  /// gets the cost model's top pruned candidate ("model"), else nothing
  /// (its default). Works without a database too.
  OpSelection select(const std::string &mlirText, const TuningTarget &target,
                     bool modelPick = false);
  const std::string &path() const { return path_; }
  /// Drops what select() remembered (the database changed: on-line tuning
  /// recorded new measurements).
  void forget();
  /// Why the database is not used ("" when it is, or when it is absent).
  std::string problem();
  /// How many modules' selections are remembered.
  size_t memoSize();

private:
  /// What identifies one version of the database file.
  struct FileState {
    bool exists = false;
    uint64_t device = 0, inode = 0, size = 0;
    int64_t modifiedNs = 0;
    bool operator==(const FileState &o) const;
  };
  static FileState fileState(const std::string &path);
  /// The open database, or null (missing, off, unusable). Under mu_.
  autotune::SqliteDatabase *database();
  /// The database cannot be used for now (`why`): closed, warned about once
  /// per distinct reason, tried again later. Under mu_.
  void fail(const std::string &why);
  void remember(const std::string &key, const OpSelection &selection);

  std::string path_;
  std::mutex mu_;
  std::unique_ptr<autotune::SqliteDatabase> db_;
  std::string problem_;
  FileState failedFile_; ///< the file when it last failed
  std::chrono::steady_clock::time_point retryAt_;
  std::set<std::string> warned_;
  /// The memo: most recently used first; the index points into it.
  size_t memoCapacity_;
  std::list<std::pair<std::string, OpSelection>> memoOrder_;
  std::unordered_map<std::string_view,
                     std::list<std::pair<std::string, OpSelection>>::iterator>
      memo_;
};

/// The target key kjit-tune records for `target` tuned with `threads`.
std::string tuningTargetKey(const compiler::CpuTarget &target, int threads);

/// A target as tuning and run-time selection see it: the facts configs are
/// verified, enumerated, pruned and ranked against, and the database key
/// records are filed under. kjit-tune, the Jit's selection and on-line
/// tuning all build it here (one spelling of each key).
struct TuningTarget {
  TargetInfo info;
  std::string key;
  std::string cudaChip; ///< "sm_90" for a GPU; "" for the CPU
  int cudaOrdinal = -1; ///< the CUDA device; -1 for the CPU
};
/// The host CPU tuned for `threads` (0: every core).
TuningTarget cpuTuningTarget(const compiler::CpuTarget &cpu, int threads);
/// CUDA device `ordinal`: its chip's facts (compiler::cudaTargetInfo, as
/// the compiler verifies configs) with the device's SM count, keyed by
/// cudaTargetKey (GPU name, compute capability, SM count, driver version).
/// Errors: no driver ("no CUDA driver: ..."), no such device, or a chip
/// kjit does not compile for.
llvm::Expected<TuningTarget> cudaTuningTarget(int ordinal);

} // namespace kjit::runtime

#endif
