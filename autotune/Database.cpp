//===- Database.cpp - the SQLite tuning database -------------------------===//
#include "autotune/Database.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <set>

using namespace kjit::autotune;

namespace {
llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

/// 'kjit' in ASCII: marks the file as ours (PRAGMA application_id).
constexpr int kApplicationId = 0x6b6a6974;

/// A prepared statement, finalized on scope exit.
struct Stmt {
  sqlite3_stmt *s = nullptr;
  Stmt(sqlite3 *db, const char *sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
      s = nullptr;
  }
  ~Stmt() { sqlite3_finalize(s); }
  explicit operator bool() const { return s; }
  void text(int i, const std::string &v) {
    sqlite3_bind_text(s, i, v.data(), (int)v.size(), SQLITE_TRANSIENT);
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
    return makeError(m);
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
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) + 1 ==
                  kjit::autotune::SqliteDatabase::kSchemaVersion,
              "one migration per schema version after the first");
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

llvm::Expected<std::unique_ptr<SqliteDatabase>>
SqliteDatabase::open(const std::string &path) {
  if (path.empty())
    return makeError("no tuning database path (pass --db or set "
                     "KJIT_TUNING_DB)");
  sqlite3 *raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(raw, path));
  auto fail = [&](const llvm::Twine &why) {
    return makeError("tuning database '" + path + "': " + why);
  };
  if (rc != SQLITE_OK)
    return fail(raw ? sqlite3_errmsg(raw) : "cannot open");
  sqlite3_busy_timeout(raw, 30000);
  // The first read: a file that is not SQLite fails here.
  int appId = 0, tables = 0;
  {
    Stmt s(raw, "PRAGMA application_id");
    if (!s || sqlite3_step(s.s) != SQLITE_ROW)
      return fail(llvm::Twine("not a kjit tuning database (") +
                  sqlite3_errmsg(raw) + ")");
    appId = sqlite3_column_int(s.s, 0);
  }
  {
    Stmt s(raw, "SELECT count(*) FROM sqlite_master");
    if (!s || sqlite3_step(s.s) != SQLITE_ROW)
      return fail(llvm::Twine("not a kjit tuning database (") +
                  sqlite3_errmsg(raw) + ")");
    tables = sqlite3_column_int(s.s, 0);
  }
  if (tables > 0 && appId != kApplicationId)
    return fail("an SQLite database with another schema (not a kjit tuning "
                "database); refusing to touch it");
  // A damaged file is an error here, not a crash or wrong records later.
  {
    Stmt s(raw, "PRAGMA quick_check");
    std::string verdict;
    if (s && sqlite3_step(s.s) == SQLITE_ROW)
      verdict = s.col(0);
    else
      verdict = sqlite3_errmsg(raw);
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
  int version = 0;
  {
    Stmt s(raw, "SELECT max(version) FROM kjit_schema_version");
    if (s && sqlite3_step(s.s) == SQLITE_ROW)
      version = sqlite3_column_int(s.s, 0);
  }
  if (version == 0) {
    Stmt s(raw, "SELECT count(*) FROM sqlite_master");
    int n = (s && sqlite3_step(s.s) == SQLITE_ROW)
                ? sqlite3_column_int(s.s, 0) : -1;
    if (n != 0) {
      (void)exec(raw, "ROLLBACK");
      return fail("an SQLite database with another schema (not a kjit "
                  "tuning database); refusing to touch it");
    }
    std::string sql = kSchemaV1;
    sql += "PRAGMA application_id=" + std::to_string(kApplicationId) + ";";
    if (auto e = exec(raw, sql.c_str())) {
      (void)exec(raw, "ROLLBACK");
      return fail("cannot create the schema: " +
                  llvm::toString(std::move(e)));
    }
    version = 1;
  }
  if (version > kSchemaVersion) {
    (void)exec(raw, "ROLLBACK");
    return fail("schema version " + llvm::Twine(version) +
                " is newer than this kjit understands (" +
                llvm::Twine(kSchemaVersion) + ")");
  }
  // Older versions migrate step by step, in this transaction: a failure
  // (or a killed process) leaves the file at its old version.
  for (; version < kSchemaVersion; ++version) {
    if (auto e = exec(raw, kMigrations[version - 1])) {
      (void)exec(raw, "ROLLBACK");
      return fail("cannot migrate schema version " + llvm::Twine(version) +
                  " to " + llvm::Twine(version + 1) + ": " +
                  llvm::toString(std::move(e)));
    }
  }
  if (auto e = exec(raw, "COMMIT"))
    return fail(llvm::toString(std::move(e)));
  db->version_ = version;
  return db;
}

llvm::Expected<std::unique_ptr<SqliteDatabase>>
SqliteDatabase::openReadOnly(const std::string &path) {
  auto fail = [&](const llvm::Twine &why) {
    return makeError("tuning database '" + path + "': " + why);
  };
  if (path.empty())
    return makeError("no tuning database path");
  sqlite3 *raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(raw, path));
  if (rc != SQLITE_OK)
    return fail(raw ? sqlite3_errmsg(raw) : "cannot open");
  sqlite3_busy_timeout(raw, 5000);
  int appId = 0;
  {
    Stmt s(raw, "PRAGMA application_id");
    if (!s || sqlite3_step(s.s) != SQLITE_ROW)
      return fail(llvm::Twine("not a kjit tuning database (") +
                  sqlite3_errmsg(raw) + ")");
    appId = sqlite3_column_int(s.s, 0);
  }
  if (appId != kApplicationId)
    return fail("not a kjit tuning database (another application id)");
  int version = 0;
  {
    Stmt s(raw, "SELECT max(version) FROM kjit_schema_version");
    if (!s || sqlite3_step(s.s) != SQLITE_ROW)
      return fail(llvm::Twine("not a kjit tuning database (") +
                  sqlite3_errmsg(raw) + ")");
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
              " status, message, timestamp, source)"
              " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!s)
    return makeError(sqlite3_errmsg(db_));
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
  if (sqlite3_step(s.s) != SQLITE_DONE)
    return makeError(sqlite3_errmsg(db_));
  return llvm::Error::success();
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
  r.timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  if (auto e = insert(r)) {
    lastError_ = llvm::toString(std::move(e));
    return false;
  }
  return true;
}

std::vector<Record>
SqliteDatabase::query(const std::string &where,
                      const std::vector<std::string> &args,
                      const std::string &tail) {
  std::string sql = "SELECT workload_key, workload_text, op_name, target_key,"
                    " compiler_key, config, median_s, spread_s, repeats,"
                    " status, message, timestamp, ";
  sql += version_ >= 2 ? "source" : "''";
  sql += " FROM measurements";
  if (!where.empty())
    sql += " WHERE " + where;
  sql += " " + tail;
  Stmt s(db_, sql.c_str());
  std::vector<Record> out;
  if (!s)
    return out;
  for (size_t i = 0; i < args.size(); ++i)
    s.text((int)i + 1, args[i]);
  while (sqlite3_step(s.s) == SQLITE_ROW) {
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
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<Record>
SqliteDatabase::bestRecord(const std::string &workloadKey,
                           const std::string &targetKey,
                           const std::string &compilerKey) {
  auto rs = query("workload_key = ?1 AND target_key = ?2 AND compiler_key = "
                  "?3 AND status = 'ok'",
                  {workloadKey, targetKey, compilerKey},
                  "ORDER BY median_s ASC, id ASC LIMIT 1");
  if (rs.empty())
    return std::nullopt;
  return rs.front();
}

std::optional<Candidate> SqliteDatabase::best(const Workload &w,
                                              const std::string &targetKey,
                                              const std::string &compilerKey) {
  auto r = bestRecord(w.key, targetKey, compilerKey);
  if (!r)
    return std::nullopt;
  return Candidate{r->config};
}

std::vector<Record>
SqliteDatabase::bestPerWorkload(const std::string &opName,
                                const std::string &targetKey,
                                const std::string &compilerKey) {
  auto rs = query("op_name = ?1 AND target_key = ?2 AND compiler_key = ?3 "
                  "AND status = 'ok'",
                  {opName, targetKey, compilerKey},
                  "ORDER BY workload_key ASC, median_s ASC, id ASC");
  std::vector<Record> out;
  for (Record &r : rs)
    if (out.empty() || out.back().workloadKey != r.workloadKey)
      out.push_back(std::move(r));
  return out;
}

std::vector<Record>
SqliteDatabase::foreignRecords(const std::string &workloadKey,
                               const std::string &targetKey,
                               const std::string &compilerKey) {
  return query("workload_key = ?1 AND status = 'ok' AND "
               "(target_key != ?2 OR compiler_key != ?3)",
               {workloadKey, targetKey, compilerKey},
               "ORDER BY median_s ASC, id ASC");
}

llvm::Expected<std::string> SqliteDatabase::integrityCheck() {
  Stmt s(db_, "PRAGMA integrity_check");
  if (!s)
    return makeError(sqlite3_errmsg(db_));
  std::string out;
  while (sqlite3_step(s.s) == SQLITE_ROW)
    out += (out.empty() ? "" : "\n") + s.col(0);
  return out;
}

std::vector<Record> SqliteDatabase::records(const std::string &workloadKey,
                                            const std::string &targetKey,
                                            const std::string &compilerKey) {
  return query("workload_key = ?1 AND target_key = ?2 AND compiler_key = ?3",
               {workloadKey, targetKey, compilerKey}, "ORDER BY id ASC");
}

uint64_t SqliteDatabase::count() {
  Stmt s(db_, "SELECT count(*) FROM measurements");
  if (!s || sqlite3_step(s.s) != SQLITE_ROW)
    return 0;
  return sqlite3_column_int64(s.s, 0);
}

static llvm::json::Object toJson(const Record &r) {
  return llvm::json::Object{
      {"workload_key", r.workloadKey}, {"workload_text", r.workloadText},
      {"op_name", r.opName},           {"target_key", r.targetKey},
      {"compiler_key", r.compilerKey}, {"config", r.config},
      {"median_s", r.result.medianSeconds},
      {"spread_s", r.result.spreadSeconds},
      {"repeats", r.result.repeats},
      {"status", statusName(r.result.status)},
      {"message", r.result.message},   {"timestamp", r.timestamp},
      {"source", r.source}};
}

llvm::Error SqliteDatabase::exportJsonLines(const std::string &path) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return makeError("cannot write '" + path + "': " + ec.message());
  for (const Record &r : query("", {}, "ORDER BY id ASC"))
    os << llvm::json::Value(toJson(r)) << "\n";
  return llvm::Error::success();
}

llvm::Expected<uint64_t>
SqliteDatabase::importJsonLines(const std::string &path) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf)
    return makeError("cannot read '" + path + "': " +
                     buf.getError().message());
  llvm::StringRef text = (*buf)->getBuffer();
  std::vector<Record> recs;
  unsigned lineNo = 0;
  while (!text.empty()) {
    auto [line, rest] = text.split('\n');
    text = rest;
    ++lineNo;
    if (line.trim().empty())
      continue;
    auto v = llvm::json::parse(line);
    auto where = [&](const llvm::Twine &why) {
      return makeError(path + ":" + llvm::Twine(lineNo) + ": " + why);
    };
    if (!v)
      return where(llvm::toString(v.takeError()));
    const llvm::json::Object *o = v->getAsObject();
    if (!o)
      return where("not a JSON object");
    Record r;
    auto str = [&](const char *k, std::string &out) {
      auto s = o->getString(k);
      if (s)
        out = s->str();
      return s.has_value();
    };
    std::string status;
    if (!str("workload_key", r.workloadKey) ||
        !str("workload_text", r.workloadText) || !str("op_name", r.opName) ||
        !str("target_key", r.targetKey) ||
        !str("compiler_key", r.compilerKey) || !str("config", r.config) ||
        !str("status", status) || !str("message", r.result.message))
      return where("missing a string field");
    auto st = parseStatus(status);
    if (!st)
      return where("unknown status '" + status + "'");
    r.result.status = *st;
    r.result.medianSeconds = o->getNumber("median_s").value_or(0);
    r.result.spreadSeconds = o->getNumber("spread_s").value_or(0);
    r.result.repeats = (int)o->getInteger("repeats").value_or(0);
    r.timestamp = o->getInteger("timestamp").value_or(0);
    if (auto src = o->getString("source"))
      r.source = src->str();
    recs.push_back(std::move(r));
  }
  if (auto e = exec(db_, "BEGIN IMMEDIATE"))
    return std::move(e);
  uint64_t added = 0;
  for (const Record &r : recs) {
    Stmt s(db_, "SELECT count(*) FROM measurements WHERE workload_key=?1 AND "
                "target_key=?2 AND compiler_key=?3 AND config=?4 AND "
                "timestamp=?5 AND median_s=?6 AND status=?7");
    s.text(1, r.workloadKey);
    s.text(2, r.targetKey);
    s.text(3, r.compilerKey);
    s.text(4, r.config);
    sqlite3_bind_int64(s.s, 5, r.timestamp);
    sqlite3_bind_double(s.s, 6, r.result.medianSeconds);
    s.text(7, statusName(r.result.status));
    if (sqlite3_step(s.s) == SQLITE_ROW && sqlite3_column_int(s.s, 0) > 0)
      continue;
    if (auto e = insert(r)) {
      (void)exec(db_, "ROLLBACK");
      return std::move(e);
    }
    ++added;
  }
  if (auto e = exec(db_, "COMMIT"))
    return std::move(e);
  return added;
}
