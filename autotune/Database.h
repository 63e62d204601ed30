//===- Database.h - the SQLite tuning database -----------------*- C++ -*-===//
//
// One row per measurement (successes and failures); the winner is a query.
// WAL mode, a busy timeout so that several tuners can write at once, a
// schema version table; a file that is not SQLite or holds another schema is
// a clear error, never overwritten.
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
  std::string workloadKey, workloadText, opName, targetKey, compilerKey;
  std::string config;
  Measurement result;
  int64_t timestamp = 0; ///< seconds since the epoch
  std::string source;    ///< what measured it ("kjit-tune:pruned", ...)
};

class SqliteDatabase : public TuningDatabase {
public:
  /// v1: measurements; v2: + measurements.source and a per-workload index.
  /// open() migrates an older file in place (one transaction).
  static constexpr int kSchemaVersion = 2;
  /// Opens (creating when absent or empty) the database at `path`.
  static llvm::Expected<std::unique_ptr<SqliteDatabase>>
  open(const std::string &path);
  /// Opens an existing database read-only (run-time selection): never
  /// creates, migrates or writes. Errors: a missing file, a file that is not
  /// SQLite, another schema, a newer schema version.
  static llvm::Expected<std::unique_ptr<SqliteDatabase>>
  openReadOnly(const std::string &path);
  ~SqliteDatabase() override;

  bool record(const Workload &workload, const std::string &targetKey,
              const std::string &compilerKey, const Candidate &candidate,
              const Measurement &result) override;
  llvm::Error insert(const Record &r);
  std::optional<Candidate> best(const Workload &workload,
                                const std::string &targetKey,
                                const std::string &compilerKey) override;
  /// The best successful record for these keys.
  std::optional<Record> bestRecord(const std::string &workloadKey,
                                   const std::string &targetKey,
                                   const std::string &compilerKey);
  /// For every workload of `opName` tuned for exactly these target and
  /// compiler keys, its best successful record (ordered by workload key).
  std::vector<Record> bestPerWorkload(const std::string &opName,
                                      const std::string &targetKey,
                                      const std::string &compilerKey);
  /// Every record for these keys (any status), oldest first.
  std::vector<Record> records(const std::string &workloadKey,
                              const std::string &targetKey,
                              const std::string &compilerKey);
  /// Successful records of this workload measured for another target or
  /// compiler (best first): never served as current, but they may seed a
  /// search.
  std::vector<Record> foreignRecords(const std::string &workloadKey,
                                     const std::string &targetKey,
                                     const std::string &compilerKey);
  /// PRAGMA integrity_check's verdict ("ok" when sound).
  llvm::Expected<std::string> integrityCheck();
  /// The source stored with the records record() adds from now on.
  void setSource(std::string source) { source_ = std::move(source); }
  /// The schema version of the open file.
  int schemaVersion() const { return version_; }
  uint64_t count();
  /// Every record as one JSON object per line.
  llvm::Error exportJsonLines(const std::string &path);
  /// Adds the records of a JSON-lines file (exact duplicates skipped);
  /// returns how many were added.
  llvm::Expected<uint64_t> importJsonLines(const std::string &path);
  const std::string &path() const { return path_; }
  /// The last SQLite error of record() (record returns false).
  const std::string &lastError() const { return lastError_; }

  /// $KJIT_TUNING_DB, else <kjit cache dir>/tuning.sqlite ("" when neither
  /// KJIT_CACHE_DIR, XDG_CACHE_HOME nor HOME is set).
  static std::string defaultPath();

private:
  SqliteDatabase(sqlite3 *db, std::string path);
  std::vector<Record> query(const std::string &where,
                            const std::vector<std::string> &args,
                            const std::string &tail);
  sqlite3 *db_;
  std::string path_, lastError_, source_;
  int version_ = kSchemaVersion;
};

} // namespace kjit::autotune

#endif
