//===- Database.h - the SQLite tuning database -----------------*- C++ -*-===//
//
// One row per measurement (successes and failures); the winner is a query.
// WAL mode, a busy timeout so that several tuners can write at once, a
// schema version table; a file that is not SQLite or holds another schema is
// a clear error, never overwritten. Every SQLite failure (a full disk, a lock
// held past the busy timeout, a read-only file, an I/O error, a corrupt
// page) is a DatabaseError, never "no records".
//
// Test hook: open() runs the SQL in $KJIT_TUNING_DB_TEST_SQL on its
// connection right after opening it (e.g. `PRAGMA max_page_count=N` for a
// full disk, `PRAGMA busy_timeout=N` for a short wait on a lock,
// `PRAGMA query_only=1` for a read-only file).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_AUTOTUNE_DATABASE_H
#define KJIT_AUTOTUNE_DATABASE_H

#include "autotune/Autotune.h"
#include "llvm/Support/Error.h"

#include <memory>

struct sqlite3;

namespace kjit::autotune {

/// One stored measurement.
struct Record {
  /// compilerKey (column compiler_key): the tuning epoch the record was
  /// measured in (compiler::tuningEpoch()). Records written before epochs
  /// hold their build's compiler key: an older epoch, never current.
  std::string workloadKey, workloadText, opName, targetKey, compilerKey;
  std::string config;
  Measurement result;
  int64_t timestamp = 0; ///< seconds since the epoch
  std::string source;    ///< what measured it ("kjit-tune:pruned", ...)
};

/// What a finished tuning run decided (schema v4): the winner served (the
/// default unless a win was confirmed), the machine's noise, and the
/// confirmed speed-up with its 95% interval.
struct TuningRun {
  std::string winner;
  double noise = 0;
  bool confirmed = false;
  double speedup = 0, speedupLow = 0, speedupHigh = 0;
  std::string note; ///< the verdict in words
};

/// The database itself failed (as opposed to bad input such as a malformed
/// import line): tuning cannot go on without losing measurements.
class DatabaseError : public llvm::ErrorInfo<DatabaseError> {
public:
  static char ID;
  explicit DatabaseError(std::string message) : message_(std::move(message)) {}
  void log(llvm::raw_ostream &os) const override;
  std::error_code convertToErrorCode() const override {
    return llvm::inconvertibleErrorCode();
  }

private:
  std::string message_;
};

class SqliteDatabase : public TuningDatabase {
public:
  /// v1: measurements; v2: + measurements.source and a per-workload index;
  /// v3: + tuned_workloads (the tuning runs that finished; resume);
  /// v4: + each measurement's minimum, interval of the median and noise,
  /// and each finished run's winner, noise and confirmed speed-up.
  /// open() migrates an older file in place (one transaction).
  static constexpr int kSchemaVersion = 4;
  /// Opens (creating when absent or empty) the database at `path` for
  /// recording. Errors, before anything is measured: a file SQLite opens
  /// read-only (permissions, a read-only mount), a missing parent directory
  /// (unless `createDirectories`: then it is created, mode 0700, as for the
  /// kjit cache directory), a file that is not a kjit database, another or
  /// a newer schema, a corrupt file.
  static llvm::Expected<std::unique_ptr<SqliteDatabase>>
  open(const std::string &path, bool createDirectories = false);
  /// Opens an existing database read-only (run-time selection): never
  /// creates, migrates or writes. A WAL file in a directory where its -shm
  /// cannot be created is read as an immutable file. Errors: a missing file,
  /// a file that is not SQLite, another schema, a newer schema version.
  static llvm::Expected<std::unique_ptr<SqliteDatabase>>
  openReadOnly(const std::string &path);
  ~SqliteDatabase() override;

  /// False when the measurement was not stored; lastError() says why.
  [[nodiscard]] bool record(const Workload &workload,
                            const std::string &targetKey,
                            const std::string &compilerKey,
                            const Candidate &candidate,
                            const Measurement &result) override;
  llvm::Error insert(const Record &r);
  llvm::Expected<std::optional<Candidate>>
  best(const Workload &workload, const std::string &targetKey,
       const std::string &compilerKey) override;
  /// The record served for these keys: of a finished run that named its
  /// winner (v4), the winner's best record (the default when no win was
  /// confirmed); else the best successful record.
  llvm::Expected<std::optional<Record>>
  bestRecord(const std::string &workloadKey, const std::string &targetKey,
             const std::string &compilerKey);
  /// For every workload of `opName` tuned for exactly these target and
  /// compiler keys, its served record (bestRecord; ordered by workload
  /// key).
  llvm::Expected<std::vector<Record>>
  bestPerWorkload(const std::string &opName, const std::string &targetKey,
                  const std::string &compilerKey);
  /// Every record for these keys (any status), oldest first.
  llvm::Expected<std::vector<Record>> records(const std::string &workloadKey,
                                              const std::string &targetKey,
                                              const std::string &compilerKey);
  /// Successful records of this workload measured for another target or
  /// tuning epoch (best first): never served as current, but they may seed
  /// a search, which measures them again for these keys.
  llvm::Expected<std::vector<Record>>
  foreignRecords(const std::string &workloadKey, const std::string &targetKey,
                 const std::string &compilerKey);
  /// Whether a tuning run of this workload for these keys finished (its
  /// records are complete). Records without it are a run that was killed
  /// or interrupted: resume measures what it did not reach. A file older
  /// than v3, read as it is: whether a successful record exists.
  llvm::Expected<bool> isTuned(const std::string &workloadKey,
                               const std::string &targetKey,
                               const std::string &compilerKey);
  /// Records that the tuning run of this workload for these keys finished,
  /// with what it decided (null: no decision, e.g. an import of records
  /// without one: the best record is served).
  llvm::Error markTuned(const std::string &workloadKey,
                        const std::string &targetKey,
                        const std::string &compilerKey,
                        const TuningRun *run = nullptr);
  /// The finished run's decision for these keys (nothing: no finished run,
  /// or one without a decision, or a file older than v4).
  llvm::Expected<std::optional<TuningRun>>
  tuningRun(const std::string &workloadKey, const std::string &targetKey,
            const std::string &compilerKey);
  /// PRAGMA integrity_check's verdict ("ok" when sound).
  llvm::Expected<std::string> integrityCheck();
  /// The source stored with the records record() adds from now on.
  void setSource(std::string source) { source_ = std::move(source); }
  /// The schema version of the open file.
  int schemaVersion() const { return version_; }
  llvm::Expected<uint64_t> count();
  /// Every record as one JSON object per line ("tuned": true on the records
  /// of finished runs, and "run": the run's decision where it has one).
  llvm::Error exportJsonLines(const std::string &path);
  /// Adds the records of a JSON-lines file (exact duplicates skipped) in one
  /// transaction: a bad line (named by file, line and field) adds nothing.
  /// Returns how many were added.
  llvm::Expected<uint64_t> importJsonLines(const std::string &path);
  const std::string &path() const { return path_; }
  /// The last SQLite error of record() (record returns false).
  const std::string &lastError() const { return lastError_; }

  /// $KJIT_TUNING_DB, else cacheDirectoryPath().
  static std::string defaultPath();
  /// <kjit cache dir>/tuning.sqlite ("" when neither KJIT_CACHE_DIR,
  /// XDG_CACHE_HOME nor HOME is set).
  static std::string cacheDirectoryPath();

private:
  SqliteDatabase(sqlite3 *db, std::string path);
  llvm::Expected<std::vector<Record>>
  query(const std::string &where, const std::vector<std::string> &args,
        const std::string &tail);
  /// The SQL condition that keeps only what may be served: the winner of a
  /// finished run that named one ("1" before v4).
  std::string servedOnly() const;
  /// A DatabaseError naming the file, with SQLite's message.
  llvm::Error failure(const llvm::Twine &what);
  sqlite3 *db_;
  std::string path_, lastError_, source_;
  int version_ = kSchemaVersion;
};

} // namespace kjit::autotune

#endif
