//===- Database.cpp - the SQLite tuning database -------------------------===//
#include "autotune/Database.h"

#include "dialects/kjit/IR/KjitDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>

using namespace kjit::autotune;

char DatabaseError::ID = 0;

void DatabaseError::log(llvm::raw_ostream &os) const { os << message_; }

namespace {
/// Bad input (an import line): not the database's failure.
llvm::Error inputError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

llvm::Error dbError(const llvm::Twine &msg) {
  return llvm::make_error<DatabaseError>(msg.str());
}

/// 'kjit' in ASCII: marks the file as ours (PRAGMA application_id).
constexpr int kApplicationId = 0x6b6a6974;

/// A prepared statement, finalized on scope exit. One that failed to
/// prepare reports that failure at its first step.
struct Stmt {
  sqlite3 *db;
  sqlite3_stmt *s = nullptr;
  int prepareRc;
  std::string error; ///< SQLite's message for a failed step
  Stmt(sqlite3 *db, const std::string &sql) : db(db) {
    prepareRc = sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
    if (prepareRc != SQLITE_OK) {
      error = sqlite3_errmsg(db);
      sqlite3_finalize(s);
      s = nullptr;
    }
  }
  ~Stmt() { sqlite3_finalize(s); }
  Stmt(const Stmt &) = delete;
  Stmt &operator=(const Stmt &) = delete;
  explicit operator bool() const { return s; }
  void text(int i, const std::string &v) {
    sqlite3_bind_text(s, i, v.data(), (int)v.size(), SQLITE_TRANSIENT);
  }
  /// ?1, ?2, ?3: a run's workload, target and compiler keys.
  void keys(const std::string &workload, const std::string &target,
            const std::string &compiler) {
    text(1, workload);
    text(2, target);
    text(3, compiler);
  }
  /// SQLITE_ROW, SQLITE_DONE, or an error code (the message in `error`).
  int step() {
    if (!s)
      return prepareRc;
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      error = sqlite3_errmsg(db);
    return rc;
  }
  std::string col(int i) {
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? std::string((const char *)t) : std::string();
  }
};

llvm::Error exec(sqlite3 *db, const char *sql) {
  char *err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    return dbError(m);
  }
  return llvm::Error::success();
}

const char *kSchemaV1 = R"sql(
CREATE TABLE kjit_schema_version(version INTEGER NOT NULL);
CREATE TABLE measurements(
  id INTEGER PRIMARY KEY,
  workload_key TEXT NOT NULL,
  workload_text TEXT NOT NULL,
  op_name TEXT NOT NULL,
  target_key TEXT NOT NULL,
  compiler_key TEXT NOT NULL,
  config TEXT NOT NULL,
  median_s REAL NOT NULL,
  spread_s REAL NOT NULL,
  repeats INTEGER NOT NULL,
  status TEXT NOT NULL,
  message TEXT NOT NULL,
  timestamp INTEGER NOT NULL);
CREATE INDEX measurements_keys
  ON measurements(workload_key, target_key, compiler_key, status, median_s);
INSERT INTO kjit_schema_version(version) VALUES (1);
)sql";

/// Schema migrations: kMigrations[i] takes version i + 1 to i + 2, run in
/// the transaction that opens the file. A new schema is v1 + every one.
const char *kMigrations[] = {
    // v2: which tool and strategy measured a record (e.g. "kjit-tune:pruned",
    // "seed"), and an index for the records of one workload on any target
    // (seeding a search from foreign records).
    R"sql(
ALTER TABLE measurements ADD COLUMN source TEXT NOT NULL DEFAULT '';
CREATE INDEX measurements_workload
  ON measurements(workload_key, status, median_s);
UPDATE kjit_schema_version SET version = 2;
)sql",
    // v3: the tuning runs that finished, so that resume tells a tuned
    // workload from one whose run was killed. An older file cannot tell
    // them apart: its workloads with a successful record count as tuned, as
    // they did (--resume=false retunes one).
    R"sql(
CREATE TABLE tuned_workloads(
  workload_key TEXT NOT NULL,
  target_key TEXT NOT NULL,
  compiler_key TEXT NOT NULL,
  finished INTEGER NOT NULL,
  source TEXT NOT NULL,
  PRIMARY KEY(workload_key, target_key, compiler_key));
INSERT INTO tuned_workloads(workload_key, target_key, compiler_key, finished,
                            source)
  SELECT workload_key, target_key, compiler_key, max(timestamp), 'migration'
  FROM measurements WHERE status = 'ok'
  GROUP BY workload_key, target_key, compiler_key;
UPDATE kjit_schema_version SET version = 3;
)sql",
    // v4 (issue 11): each measurement's fastest run, the 95% interval of
    // its median and the noise its runs showed (0 in older records: not
    // known); each finished run's decision: the winner served (NULL in
    // older runs: their best record is served, as before), the machine's
    // noise, and the speed-up the paired confirmation measured.
    R"sql(
ALTER TABLE measurements ADD COLUMN min_s REAL NOT NULL DEFAULT 0;
ALTER TABLE measurements ADD COLUMN ci_low_s REAL NOT NULL DEFAULT 0;
ALTER TABLE measurements ADD COLUMN ci_high_s REAL NOT NULL DEFAULT 0;
ALTER TABLE measurements ADD COLUMN noise REAL NOT NULL DEFAULT 0;
ALTER TABLE tuned_workloads ADD COLUMN winner TEXT;
ALTER TABLE tuned_workloads ADD COLUMN noise REAL NOT NULL DEFAULT 0;
ALTER TABLE tuned_workloads ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tuned_workloads ADD COLUMN speedup REAL NOT NULL DEFAULT 0;
ALTER TABLE tuned_workloads ADD COLUMN speedup_low REAL NOT NULL DEFAULT 0;
ALTER TABLE tuned_workloads ADD COLUMN speedup_high REAL NOT NULL DEFAULT 0;
ALTER TABLE tuned_workloads ADD COLUMN note TEXT NOT NULL DEFAULT '';
UPDATE kjit_schema_version SET version = 4;
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) + 1 ==
                  kjit::autotune::SqliteDatabase::kSchemaVersion,
              "one migration per schema version after the first");

/// The directory SQLite creates a database's -wal and -shm files in.
std::string directoryOf(const std::string &path) {
  llvm::SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  return dir.empty() ? "." : dir.str().str();
}

/// Why the first read of an opened file failed, in words a user can act
/// on (SQLite's "unable to open database file" at a read is its -shm or
/// -wal file, not the database).
std::string whyUnreadable(int rc, const std::string &msg,
                          const std::string &path) {
  switch (rc & 0xff) {
  case SQLITE_NOTADB:
    return "not a kjit tuning database (" + msg + ")";
  case SQLITE_CORRUPT:
    return "the file is corrupt (" + msg +
           "); move it away or restore it from an export";
  case SQLITE_CANTOPEN:
    return "cannot open its -wal and -shm files (" + msg +
           "): SQLite creates them beside the database, so directory '" +
           directoryOf(path) + "' must be writable";
  default:
    return msg;
  }
}

/// `path` as an SQLite URI filename (the caller appends "?...").
std::string sqliteUri(const std::string &path) {
  std::string out = llvm::sys::path::is_absolute(path) ? "file://" : "file:";
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      char buf[4];
      snprintf(buf, sizeof buf, "%%%02X", (unsigned char)c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

/// The first read of a freshly opened connection: the application id and
/// the number of schema objects, in one snapshot (another tuner may be
/// creating the schema meanwhile). SQLITE_ROW with both set, or the
/// failure's code.
int readApplicationId(sqlite3 *db, int &appId, int &objects,
                      std::string &error) {
  Stmt s(db, "SELECT (SELECT application_id FROM pragma_application_id), "
             "(SELECT count(*) FROM sqlite_master)");
  int rc = s.step();
  if (rc == SQLITE_ROW) {
    appId = sqlite3_column_int(s.s, 0);
    objects = sqlite3_column_int(s.s, 1);
  } else {
    error = s.error.empty() ? sqlite3_errmsg(db) : s.error;
  }
  return rc;
}
} // namespace

const char *kjit::autotune::statusName(Measurement::Status s) {
  switch (s) {
  case Measurement::Status::Ok: return "ok";
  case Measurement::Status::CompileError: return "compile-error";
  case Measurement::Status::Illegal: return "illegal";
  case Measurement::Status::Crash: return "crash";
  case Measurement::Status::Timeout: return "timeout";
  }
  return "?";
}

std::optional<Measurement::Status>
kjit::autotune::parseStatus(const std::string &n) {
  for (auto s : {Measurement::Status::Ok, Measurement::Status::CompileError,
                 Measurement::Status::Illegal, Measurement::Status::Crash,
                 Measurement::Status::Timeout})
    if (n == statusName(s))
      return s;
  return std::nullopt;
}

std::string SqliteDatabase::defaultPath() {
  if (const char *p = getenv("KJIT_TUNING_DB"); p && *p)
    return p;
  return cacheDirectoryPath();
}

std::string SqliteDatabase::cacheDirectoryPath() {
  std::string dir;
  if (const char *d = getenv("KJIT_CACHE_DIR"); d && *d)
    dir = d;
  else if (const char *d = getenv("XDG_CACHE_HOME"); d && *d)
    dir = std::string(d) + "/kjit";
  else if (const char *d = getenv("HOME"); d && *d)
    dir = std::string(d) + "/.cache/kjit";
  return dir.empty() ? "" : dir + "/tuning.sqlite";
}

SqliteDatabase::SqliteDatabase(sqlite3 *db, std::string path)
    : db_(db), path_(std::move(path)) {}
SqliteDatabase::~SqliteDatabase() { sqlite3_close_v2(db_); }

llvm::Error SqliteDatabase::failure(const llvm::Twine &what) {
  return dbError("tuning database '" + path_ + "': " + what);
}

llvm::Expected<std::unique_ptr<SqliteDatabase>>
SqliteDatabase::open(const std::string &path, bool createDirectories) {
  if (path.empty())
    return inputError("no tuning database path (pass --db or set "
                      "KJIT_TUNING_DB)");
  auto fail = [&](const llvm::Twine &why) {
    return dbError("tuning database '" + path + "': " + why);
  };
  // SQLite's own error for a missing directory is "unable to open database
  // file"; name the directory (or create the cache directory's).
  std::string dir = directoryOf(path);
  if (!llvm::sys::fs::is_directory(dir)) {
    if (llvm::sys::fs::exists(dir))
      return fail("'" + dir + "' is not a directory");
    if (!createDirectories)
      return fail("directory '" + dir +
                  "' does not exist (create it, or choose another path)");
    if (std::error_code ec = llvm::sys::fs::create_directories(
            dir, /*IgnoreExisting=*/true, llvm::sys::fs::owner_all))
      return fail("cannot create directory '" + dir + "': " + ec.message());
  }
  sqlite3 *raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(raw, path));
  if (rc != SQLITE_OK)
    return fail(raw ? sqlite3_errmsg(raw) : "cannot open");
  sqlite3_busy_timeout(raw, 30000);
  if (const char *sql = getenv("KJIT_TUNING_DB_TEST_SQL"); sql && *sql)
    if (auto e = exec(raw, sql))
      return fail("KJIT_TUNING_DB_TEST_SQL: " + llvm::toString(std::move(e)));
  // SQLite opens a file it may not write read-only, silently: every record
  // would then fail. Say so before anything is measured.
  bool queryOnly = false;
  {
    Stmt s(raw, "PRAGMA query_only");
    if (s.step() == SQLITE_ROW)
      queryOnly = sqlite3_column_int(s.s, 0) != 0;
  }
  if (sqlite3_db_readonly(raw, "main") == 1 || queryOnly)
    return fail("the file can only be opened read-only (no write "
                "permission, or a read-only file system), so no measurement "
                "could be recorded; make it writable or choose another path");
  // The first read: a file that is not SQLite fails here.
  int appId = 0, tables = 0;
  {
    std::string why;
    int r = readApplicationId(raw, appId, tables, why);
    if (r != SQLITE_ROW)
      return fail(whyUnreadable(r, why, path));
  }
  if (tables > 0 && appId != kApplicationId)
    return fail("an SQLite database with another schema (not a kjit tuning "
                "database); refusing to touch it");
  // A damaged file is an error here, not a crash or wrong records later.
  {
    Stmt s(raw, "PRAGMA quick_check");
    std::string verdict;
    if (s.step() == SQLITE_ROW)
      verdict = s.col(0);
    else
      verdict = s.error;
    if (verdict != "ok")
      return fail("the file is corrupt (" + verdict +
                  "); move it away or restore it from an export");
  }
  // Switching a fresh file to WAL needs an exclusive lock, and SQLite does
  // not call the busy handler for it: two tuners opening one new database
  // at once see SQLITE_BUSY. Retry for as long as the busy timeout.
  for (int attempt = 0;; ++attempt) {
    llvm::Error e = exec(raw, "PRAGMA journal_mode=WAL");
    if (!e)
      break;
    int code = sqlite3_errcode(raw);
    if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) || attempt >= 3000)
      return fail("cannot enable WAL: " + llvm::toString(std::move(e)));
    llvm::consumeError(std::move(e));
    sqlite3_sleep(10);
  }
  // WAL + NORMAL: a committed record survives a killed process.
  if (auto e = exec(raw, "PRAGMA synchronous=NORMAL"))
    return fail(llvm::toString(std::move(e)));
  // Create the schema once, under a write lock (two tuners may race here).
  if (auto e = exec(raw, "BEGIN IMMEDIATE"))
    return fail(llvm::toString(std::move(e)));
  auto rollback = [&](const llvm::Twine &why) {
    (void)exec(raw, "ROLLBACK");
    return fail(why);
  };
  int version = 0;
  {
    // No such table (prepare fails): a new file, version 0.
    Stmt s(raw, "SELECT max(version) FROM kjit_schema_version");
    if (s) {
      int r = s.step();
      if (r == SQLITE_ROW)
        version = sqlite3_column_int(s.s, 0);
      else
        return rollback(s.error);
    }
  }
  if (version == 0) {
    Stmt s(raw, "SELECT count(*) FROM sqlite_master");
    if (s.step() != SQLITE_ROW)
      return rollback(s.error);
    if (sqlite3_column_int(s.s, 0) != 0)
      return rollback("an SQLite database with another schema (not a kjit "
                      "tuning database); refusing to touch it");
    std::string sql = kSchemaV1;
    sql += "PRAGMA application_id=" + std::to_string(kApplicationId) + ";";
    if (auto e = exec(raw, sql.c_str()))
      return rollback("cannot create the schema: " +
                      llvm::toString(std::move(e)));
    version = 1;
  }
  if (version > kSchemaVersion)
    return rollback("schema version " + llvm::Twine(version) +
                    " is newer than this kjit understands (" +
                    llvm::Twine(kSchemaVersion) + ")");
  // Older versions migrate step by step, in this transaction: a failure
  // (or a killed process) leaves the file at its old version.
  for (; version < kSchemaVersion; ++version) {
    if (auto e = exec(raw, kMigrations[version - 1]))
      return rollback("cannot migrate schema version " + llvm::Twine(version) +
                      " to " + llvm::Twine(version + 1) + ": " +
                      llvm::toString(std::move(e)));
  }
  if (auto e = exec(raw, "COMMIT"))
    return rollback(llvm::toString(std::move(e)));
  db->version_ = version;
  return db;
}

llvm::Expected<std::unique_ptr<SqliteDatabase>>
SqliteDatabase::openReadOnly(const std::string &path) {
  auto fail = [&](const llvm::Twine &why) {
    return dbError("tuning database '" + path + "': " + why);
  };
  if (path.empty())
    return inputError("no tuning database path");
  // mode=ro: never created or written. Reading a WAL file needs its -shm
  // file; where it cannot be created (a read-only directory), the file is
  // read as immutable (no -wal, no locks: nobody can write there either).
  std::unique_ptr<SqliteDatabase> db;
  int appId = 0, objects = 0;
  for (const char *mode : {"?mode=ro", "?mode=ro&immutable=1"}) {
    sqlite3 *raw = nullptr;
    int rc = sqlite3_open_v2((sqliteUri(path) + mode).c_str(), &raw,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
                                 SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    db.reset(new SqliteDatabase(raw, path));
    if (rc != SQLITE_OK)
      return fail(raw ? sqlite3_errmsg(raw) : "cannot open");
    sqlite3_busy_timeout(raw, 5000);
    std::string why;
    rc = readApplicationId(raw, appId, objects, why);
    if (rc == SQLITE_ROW)
      break;
    int code = rc & 0xff;
    if (llvm::StringRef(mode).contains("immutable") ||
        (code != SQLITE_CANTOPEN && code != SQLITE_READONLY))
      return fail(whyUnreadable(rc, why, path));
  }
  sqlite3 *raw = db->db_;
  if (appId != kApplicationId)
    return fail("not a kjit tuning database (another application id)");
  int version = 0;
  {
    Stmt s(raw, "SELECT max(version) FROM kjit_schema_version");
    int rc = s.step();
    if (rc != SQLITE_ROW)
      return fail(s ? whyUnreadable(rc, s.error, path)
                    : "not a kjit tuning database (" + s.error + ")");
    version = sqlite3_column_int(s.s, 0);
  }
  // Older schemas are read as they are (read-only: never migrated here).
  if (version < 1 || version > kSchemaVersion)
    return fail("schema version " + llvm::Twine(version) +
                " is not one this kjit reads (1 to " +
                llvm::Twine(kSchemaVersion) + ")");
  db->version_ = version;
  return db;
}

llvm::Error SqliteDatabase::insert(const Record &r) {
  Stmt s(db_, "INSERT INTO measurements(workload_key, workload_text, op_name,"
              " target_key, compiler_key, config, median_s, spread_s, repeats,"
              " status, message, timestamp, source, min_s, ci_low_s,"
              " ci_high_s, noise)"
              " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!s)
    return failure("cannot record: " + s.error);
  s.text(1, r.workloadKey);
  s.text(2, r.workloadText);
  s.text(3, r.opName);
  s.text(4, r.targetKey);
  s.text(5, r.compilerKey);
  s.text(6, r.config);
  sqlite3_bind_double(s.s, 7, r.result.medianSeconds);
  sqlite3_bind_double(s.s, 8, r.result.spreadSeconds);
  sqlite3_bind_int(s.s, 9, r.result.repeats);
  s.text(10, statusName(r.result.status));
  s.text(11, r.result.message);
  sqlite3_bind_int64(s.s, 12, r.timestamp);
  s.text(13, r.source);
  sqlite3_bind_double(s.s, 14, r.result.minSeconds);
  sqlite3_bind_double(s.s, 15, r.result.ciLowSeconds);
  sqlite3_bind_double(s.s, 16, r.result.ciHighSeconds);
  sqlite3_bind_double(s.s, 17, r.result.noise);
  if (s.step() != SQLITE_DONE)
    return failure("cannot record: " + s.error);
  return llvm::Error::success();
}

static int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool SqliteDatabase::record(const Workload &w, const std::string &targetKey,
                            const std::string &compilerKey,
                            const Candidate &c, const Measurement &m) {
  Record r;
  r.workloadKey = w.key;
  r.workloadText = w.canonicalText;
  r.opName = w.opName;
  r.targetKey = targetKey;
  r.compilerKey = compilerKey;
  r.config = c.configText;
  r.result = m;
  r.source = source_;
  r.timestamp = now();
  if (auto e = insert(r)) {
    lastError_ = llvm::toString(std::move(e));
    return false;
  }
  return true;
}

llvm::Expected<std::vector<Record>>
SqliteDatabase::query(const std::string &where,
                      const std::vector<std::string> &args,
                      const std::string &tail) {
  std::string sql = "SELECT workload_key, workload_text, op_name, target_key,"
                    " compiler_key, config, median_s, spread_s, repeats,"
                    " status, message, timestamp, ";
  sql += version_ >= 2 ? "source" : "''";
  sql += version_ >= 4 ? ", min_s, ci_low_s, ci_high_s, noise" : ", 0, 0, 0, 0";
  sql += " FROM measurements";
  if (!where.empty())
    sql += " WHERE " + where;
  sql += " " + tail;
  Stmt s(db_, sql);
  std::vector<Record> out;
  for (size_t i = 0; s && i < args.size(); ++i)
    s.text((int)i + 1, args[i]);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    Record r;
    r.workloadKey = s.col(0);
    r.workloadText = s.col(1);
    r.opName = s.col(2);
    r.targetKey = s.col(3);
    r.compilerKey = s.col(4);
    r.config = s.col(5);
    r.result.medianSeconds = sqlite3_column_double(s.s, 6);
    r.result.spreadSeconds = sqlite3_column_double(s.s, 7);
    r.result.repeats = sqlite3_column_int(s.s, 8);
    r.result.status =
        parseStatus(s.col(9)).value_or(Measurement::Status::Crash);
    r.result.message = s.col(10);
    r.timestamp = sqlite3_column_int64(s.s, 11);
    r.source = s.col(12);
    r.result.minSeconds = sqlite3_column_double(s.s, 13);
    r.result.ciLowSeconds = sqlite3_column_double(s.s, 14);
    r.result.ciHighSeconds = sqlite3_column_double(s.s, 15);
    r.result.noise = sqlite3_column_double(s.s, 16);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE)
    return failure("cannot read records: " + s.error);
  return out;
}

llvm::Expected<std::optional<Record>>
SqliteDatabase::bestRecord(const std::string &workloadKey,
                           const std::string &targetKey,
                           const std::string &compilerKey) {
  auto rs = query("workload_key = ?1 AND target_key = ?2 AND compiler_key = "
                  "?3 AND status = 'ok' AND " + servedOnly(),
                  {workloadKey, targetKey, compilerKey},
                  "ORDER BY median_s ASC, id ASC LIMIT 1");
  if (!rs)
    return rs.takeError();
  if (rs->empty())
    return std::nullopt;
  return std::move(rs->front());
}

llvm::Expected<std::optional<Candidate>>
SqliteDatabase::best(const Workload &w, const std::string &targetKey,
                     const std::string &compilerKey) {
  auto r = bestRecord(w.key, targetKey, compilerKey);
  if (!r)
    return r.takeError();
  if (!*r)
    return std::nullopt;
  return Candidate{(*r)->config};
}

llvm::Expected<std::vector<Record>>
SqliteDatabase::bestPerWorkload(const std::string &opName,
                                const std::string &targetKey,
                                const std::string &compilerKey) {
  auto rs = query("op_name = ?1 AND target_key = ?2 AND compiler_key = ?3 "
                  "AND status = 'ok' AND " + servedOnly(),
                  {opName, targetKey, compilerKey},
                  "ORDER BY workload_key ASC, median_s ASC, id ASC");
  if (!rs)
    return rs.takeError();
  std::vector<Record> out;
  for (Record &r : *rs)
    if (out.empty() || out.back().workloadKey != r.workloadKey)
      out.push_back(std::move(r));
  return out;
}

llvm::Expected<std::vector<Record>>
SqliteDatabase::foreignRecords(const std::string &workloadKey,
                               const std::string &targetKey,
                               const std::string &compilerKey) {
  return query("workload_key = ?1 AND status = 'ok' AND "
               "(target_key != ?2 OR compiler_key != ?3)",
               {workloadKey, targetKey, compilerKey},
               "ORDER BY median_s ASC, id ASC");
}

llvm::Expected<bool> SqliteDatabase::isTuned(const std::string &workloadKey,
                                             const std::string &targetKey,
                                             const std::string &compilerKey) {
  if (version_ < 3) {
    auto best = bestRecord(workloadKey, targetKey, compilerKey);
    if (!best)
      return best.takeError();
    return best->has_value();
  }
  Stmt s(db_, "SELECT count(*) FROM tuned_workloads WHERE workload_key = ?1 "
              "AND target_key = ?2 AND compiler_key = ?3");
  if (s) {
    s.text(1, workloadKey);
    s.text(2, targetKey);
    s.text(3, compilerKey);
  }
  if (s.step() != SQLITE_ROW)
    return failure("cannot read which workloads are tuned: " + s.error);
  return sqlite3_column_int(s.s, 0) > 0;
}

std::string SqliteDatabase::servedOnly() const {
  if (version_ < 4)
    return "1";
  return "NOT EXISTS (SELECT 1 FROM tuned_workloads t WHERE "
         "t.workload_key = measurements.workload_key AND "
         "t.target_key = measurements.target_key AND "
         "t.compiler_key = measurements.compiler_key AND "
         "t.winner IS NOT NULL AND t.winner != measurements.config)";
}

llvm::Error SqliteDatabase::markTuned(const std::string &workloadKey,
                                      const std::string &targetKey,
                                      const std::string &compilerKey,
                                      const TuningRun *run) {
  Stmt s(db_, "INSERT OR REPLACE INTO tuned_workloads(workload_key, "
              "target_key, compiler_key, finished, source, winner, noise, "
              "confirmed, speedup, speedup_low, speedup_high, note) VALUES "
              "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  if (s) {
    s.keys(workloadKey, targetKey, compilerKey);
    sqlite3_bind_int64(s.s, 4, now());
    s.text(5, source_);
    TuningRun none;
    const TuningRun &r = run ? *run : none;
    if (run)
      s.text(6, r.winner);
    else
      sqlite3_bind_null(s.s, 6);
    sqlite3_bind_double(s.s, 7, r.noise);
    sqlite3_bind_int(s.s, 8, r.confirmed ? 1 : 0);
    sqlite3_bind_double(s.s, 9, r.speedup);
    sqlite3_bind_double(s.s, 10, r.speedupLow);
    sqlite3_bind_double(s.s, 11, r.speedupHigh);
    s.text(12, r.note);
  }
  if (s.step() != SQLITE_DONE)
    return failure("cannot record that the tuning run finished: " + s.error);
  return llvm::Error::success();
}

llvm::Expected<std::optional<TuningRun>>
SqliteDatabase::tuningRun(const std::string &workloadKey,
                          const std::string &targetKey,
                          const std::string &compilerKey) {
  if (version_ < 4)
    return std::nullopt;
  Stmt s(db_, "SELECT winner, noise, confirmed, speedup, speedup_low, "
              "speedup_high, note FROM tuned_workloads WHERE workload_key = "
              "?1 AND target_key = ?2 AND compiler_key = ?3 AND winner IS "
              "NOT NULL");
  if (s)
    s.keys(workloadKey, targetKey, compilerKey);
  int rc = s.step();
  if (rc == SQLITE_DONE)
    return std::nullopt;
  if (rc != SQLITE_ROW)
    return failure("cannot read the tuning run: " + s.error);
  TuningRun r;
  r.winner = s.col(0);
  r.noise = sqlite3_column_double(s.s, 1);
  r.confirmed = sqlite3_column_int(s.s, 2) != 0;
  r.speedup = sqlite3_column_double(s.s, 3);
  r.speedupLow = sqlite3_column_double(s.s, 4);
  r.speedupHigh = sqlite3_column_double(s.s, 5);
  r.note = s.col(6);
  return r;
}

llvm::Expected<std::string> SqliteDatabase::integrityCheck() {
  Stmt s(db_, "PRAGMA integrity_check");
  std::string out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW)
    out += (out.empty() ? "" : "\n") + s.col(0);
  if (rc != SQLITE_DONE)
    return failure("integrity check: " + s.error);
  return out;
}

llvm::Expected<std::vector<Record>>
SqliteDatabase::records(const std::string &workloadKey,
                        const std::string &targetKey,
                        const std::string &compilerKey) {
  return query("workload_key = ?1 AND target_key = ?2 AND compiler_key = ?3",
               {workloadKey, targetKey, compilerKey}, "ORDER BY id ASC");
}

llvm::Expected<uint64_t> SqliteDatabase::count() {
  Stmt s(db_, "SELECT count(*) FROM measurements");
  if (s.step() != SQLITE_ROW)
    return failure("cannot count records: " + s.error);
  return sqlite3_column_int64(s.s, 0);
}

namespace {
/// A finished run's keys, as one string.
std::string runKey(const std::string &workloadKey, const std::string &target,
                   const std::string &compiler) {
  return workloadKey + '\n' + target + '\n' + compiler;
}

llvm::json::Object toJson(const Record &r, bool tuned,
                          const std::optional<TuningRun> &run) {
  llvm::json::Object o{{"workload_key", r.workloadKey},
                       {"workload_text", r.workloadText},
                       {"op_name", r.opName},
                       {"target_key", r.targetKey},
                       {"compiler_key", r.compilerKey},
                       {"config", r.config},
                       {"median_s", r.result.medianSeconds},
                       {"spread_s", r.result.spreadSeconds},
                       {"repeats", r.result.repeats},
                       {"status", statusName(r.result.status)},
                       {"message", r.result.message},
                       {"timestamp", r.timestamp},
                       {"source", r.source},
                       {"min_s", r.result.minSeconds},
                       {"ci_low_s", r.result.ciLowSeconds},
                       {"ci_high_s", r.result.ciHighSeconds},
                       {"noise", r.result.noise}};
  if (tuned)
    o["tuned"] = true;
  if (tuned && run)
    o["run"] = llvm::json::Object{{"winner", run->winner},
                                  {"noise", run->noise},
                                  {"confirmed", run->confirmed},
                                  {"speedup", run->speedup},
                                  {"speedup_low", run->speedupLow},
                                  {"speedup_high", run->speedupHigh},
                                  {"note", run->note}};
  return o;
}
} // namespace

llvm::Error SqliteDatabase::exportJsonLines(const std::string &path) {
  // Finished runs, with their decision where they have one.
  std::map<std::string, std::optional<TuningRun>> tuned;
  if (version_ >= 3) {
    Stmt s(db_, "SELECT workload_key, target_key, compiler_key FROM "
                "tuned_workloads");
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      auto run = tuningRun(s.col(0), s.col(1), s.col(2));
      if (!run)
        return run.takeError();
      tuned[runKey(s.col(0), s.col(1), s.col(2))] = std::move(*run);
    }
    if (rc != SQLITE_DONE)
      return failure("cannot read which workloads are tuned: " + s.error);
  }
  auto records = query("", {}, "ORDER BY id ASC");
  if (!records)
    return records.takeError();
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return inputError("cannot write '" + path + "': " + ec.message());
  for (const Record &r : *records) {
    auto t = tuned.find(runKey(r.workloadKey, r.targetKey, r.compilerKey));
    os << llvm::json::Value(toJson(r, t != tuned.end(),
                                   t != tuned.end() ? t->second
                                                    : std::nullopt))
       << "\n";
  }
  // A write error (a full disk) is only known at the flush; left unchecked,
  // the stream's destructor would make it a fatal error.
  os.close();
  if (os.has_error()) {
    ec = os.error();
    os.clear_error();
    return inputError("cannot write '" + path + "': " + ec.message());
  }
  return llvm::Error::success();
}

namespace {
/// Whether an ok record's config is a `#kjit.config<{...}>` attribute (one
/// context for a whole import).
class ConfigChecker {
public:
  std::string problem(const std::string &text) {
    if (!ctx_) {
      ctx_ = std::make_unique<mlir::MLIRContext>(
          mlir::MLIRContext::Threading::DISABLED);
      ctx_->loadDialect<mlir::kjit::KjitDialect>();
    }
    std::string diag;
    mlir::ScopedDiagnosticHandler handler(ctx_.get(), [&](mlir::Diagnostic &d) {
      diag = d.str();
      return mlir::success();
    });
    size_t read = 0;
    mlir::Attribute a =
        mlir::parseAttribute(text, ctx_.get(), mlir::Type(), &read);
    if (a && llvm::isa<mlir::kjit::ConfigAttr>(a) && read == text.size())
      return "";
    return "'" + text + "' is not a #kjit.config attribute" +
           (diag.empty() ? "" : " (" + diag + ")");
  }

private:
  std::unique_ptr<mlir::MLIRContext> ctx_;
};

/// One JSON-lines record, each field checked; `where(field, why)` makes the
/// error.
template <typename WhereFn>
llvm::Expected<Record> parseRecord(const llvm::json::Object &o, bool &tuned,
                                   std::optional<TuningRun> &run,
                                   ConfigChecker &configs,
                                   const WhereFn &where) {
  Record r;
  auto str = [&](const char *k, std::string &out,
                 bool required) -> llvm::Error {
    const llvm::json::Value *v = o.get(k);
    if (!v)
      return required ? where(k, "missing") : llvm::Error::success();
    auto s = v->getAsString();
    if (!s)
      return where(k, "not a string");
    if (required && s->empty())
      return where(k, "empty");
    out = s->str();
    return llvm::Error::success();
  };
  auto num = [&](const char *k, double &out, bool required) -> llvm::Error {
    const llvm::json::Value *v = o.get(k);
    if (!v)
      return required ? where(k, "missing") : llvm::Error::success();
    auto d = v->getAsNumber();
    if (!d)
      return where(k, "not a number");
    if (!std::isfinite(*d) || *d < 0)
      return where(k, "not a finite number >= 0");
    out = *d;
    return llvm::Error::success();
  };
  auto integer = [&](const char *k, int64_t &out) -> llvm::Error {
    const llvm::json::Value *v = o.get(k);
    if (!v)
      return llvm::Error::success();
    auto i = v->getAsInteger();
    if (!i || *i < 0)
      return where(k, "not an integer >= 0");
    out = *i;
    return llvm::Error::success();
  };
  std::string status;
  const std::pair<const char *, std::string *> required[] = {
      {"workload_key", &r.workloadKey},
      {"workload_text", &r.workloadText},
      {"op_name", &r.opName},
      {"target_key", &r.targetKey},
      {"compiler_key", &r.compilerKey},
      {"config", &r.config},
      {"status", &status}};
  for (auto [k, out] : required)
    if (auto e = str(k, *out, true))
      return std::move(e);
  if (auto e = str("message", r.result.message, false))
    return std::move(e);
  if (auto e = str("source", r.source, false))
    return std::move(e);
  auto st = parseStatus(status);
  if (!st)
    return where("status", "unknown status '" + status +
                               "' (ok, compile-error, illegal, crash or "
                               "timeout)");
  r.result.status = *st;
  bool ok = r.result.ok();
  if (auto e = num("median_s", r.result.medianSeconds, ok))
    return std::move(e);
  if (auto e = num("spread_s", r.result.spreadSeconds, false))
    return std::move(e);
  // v4's fields (absent from older exports: not known).
  for (auto [k, out] : {std::pair{"min_s", &r.result.minSeconds},
                        std::pair{"ci_low_s", &r.result.ciLowSeconds},
                        std::pair{"ci_high_s", &r.result.ciHighSeconds},
                        std::pair{"noise", &r.result.noise}})
    if (auto e = num(k, *out, false))
      return std::move(e);
  int64_t repeats = 0;
  if (auto e = integer("repeats", repeats))
    return std::move(e);
  if (repeats > std::numeric_limits<int>::max())
    return where("repeats", "too large");
  r.result.repeats = (int)repeats;
  if (auto e = integer("timestamp", r.timestamp))
    return std::move(e);
  if (const llvm::json::Value *v = o.get("tuned")) {
    auto b = v->getAsBoolean();
    if (!b)
      return where("tuned", "not a boolean");
    tuned = *b;
  }
  if (const llvm::json::Value *v = o.get("run")) {
    const llvm::json::Object *ro = v->getAsObject();
    auto winner = ro ? ro->getString("winner") : std::nullopt;
    if (!ro || !winner)
      return where("run", "not an object with a \"winner\" string");
    TuningRun t;
    t.winner = winner->str();
    t.confirmed = ro->getBoolean("confirmed").value_or(false);
    for (auto [k, out] : {std::pair{"noise", &t.noise},
                          std::pair{"speedup", &t.speedup},
                          std::pair{"speedup_low", &t.speedupLow},
                          std::pair{"speedup_high", &t.speedupHigh}}) {
      double d = ro->getNumber(k).value_or(0);
      if (!std::isfinite(d) || d < 0)
        return where("run", std::string("\"") + k +
                                "\" is not a finite number >= 0");
      *out = d;
    }
    if (auto n = ro->getString("note"))
      t.note = n->str();
    run = std::move(t);
  }
  // An ok record is served as tuned: it needs a time and a config.
  if (ok && r.result.medianSeconds <= 0)
    return where("median_s", "an ok record needs a time > 0");
  if (ok)
    if (std::string why = configs.problem(r.config); !why.empty())
      return where("config", why);
  return r;
}
} // namespace

llvm::Expected<uint64_t>
SqliteDatabase::importJsonLines(const std::string &path) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf)
    return inputError("cannot read '" + path +
                      "': " + buf.getError().message());
  llvm::StringRef text = (*buf)->getBuffer();
  // Every line is checked before anything is written.
  struct Line {
    Record record;
    bool tuned;                    ///< its run finished
    std::optional<TuningRun> run;  ///< and what it decided
  };
  std::vector<Line> recs;
  ConfigChecker configs;
  unsigned lineNo = 0;
  while (!text.empty()) {
    auto [line, rest] = text.split('\n');
    text = rest;
    ++lineNo;
    if (line.trim().empty())
      continue;
    auto at = [&](const llvm::Twine &why) {
      return inputError(path + ":" + llvm::Twine(lineNo) + ": " + why);
    };
    auto v = llvm::json::parse(line);
    if (!v)
      return at(llvm::toString(v.takeError()));
    const llvm::json::Object *o = v->getAsObject();
    if (!o)
      return at("not a JSON object");
    bool tuned = false;
    std::optional<TuningRun> run;
    auto r = parseRecord(
        *o, tuned, run, configs,
        [&](const char *field, const llvm::Twine &why) {
          return at("field \"" + llvm::Twine(field) + "\": " + why);
        });
    if (!r)
      return r.takeError();
    recs.push_back({std::move(*r), tuned, std::move(run)});
  }
  // One transaction: a failure adds nothing.
  if (auto e = exec(db_, "BEGIN IMMEDIATE"))
    return failure("cannot import: " + llvm::toString(std::move(e)));
  auto rollback = [&](llvm::Error e) -> llvm::Error {
    (void)exec(db_, "ROLLBACK");
    return e;
  };
  uint64_t added = 0;
  for (const auto &[r, tuned, run] : recs) {
    Stmt s(db_, "SELECT count(*) FROM measurements WHERE workload_key=?1 AND "
                "target_key=?2 AND compiler_key=?3 AND config=?4 AND "
                "timestamp=?5 AND median_s=?6 AND status=?7");
    if (s) {
      s.text(1, r.workloadKey);
      s.text(2, r.targetKey);
      s.text(3, r.compilerKey);
      s.text(4, r.config);
      sqlite3_bind_int64(s.s, 5, r.timestamp);
      sqlite3_bind_double(s.s, 6, r.result.medianSeconds);
      s.text(7, statusName(r.result.status));
    }
    if (s.step() != SQLITE_ROW)
      return rollback(failure("cannot import: " + s.error));
    bool duplicate = sqlite3_column_int(s.s, 0) > 0;
    if (!duplicate) {
      if (auto e = insert(r))
        return rollback(std::move(e));
      ++added;
    }
    if (tuned)
      if (auto e = markTuned(r.workloadKey, r.targetKey, r.compilerKey,
                             run ? &*run : nullptr))
        return rollback(std::move(e));
  }
  if (auto e = exec(db_, "COMMIT"))
    return rollback(failure("cannot import: " + llvm::toString(std::move(e))));
  return added;
}
