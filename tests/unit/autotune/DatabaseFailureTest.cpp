//===- DatabaseFailureTest.cpp - a tuning database that fails ------------===//
//
// A broken database or environment ends in a clear error or a correct
// recovery, never a silently lost record: a read-only file, a full disk, a
// lock held past the busy timeout (the workload stops, kjit-tune exits 1); a
// failed read (an error, not "no records"); a killed run (resumed, not
// "already tuned"); a missing directory (created for the cache directory's
// database, named otherwise); a bad import line (named, nothing added); a
// read-only WAL file whose -shm cannot be created (read as immutable); a
// failed export (an error, not a fatal one).
//
// Read-only files as root: chmod does not stop root, the immutable attribute
// (chattr +i) does; where it cannot be set the test uses chmod when not
// root, else says why it skips.
//
//===----------------------------------------------------------------------===//
#include "OfflineTunerSupport.h"
#include "autotune/Selector.h"
#include "autotune/Tuner.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <functional>
#include <thread>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

using namespace kjit;
using namespace kjit::autotune;
using namespace kjit::autotune::testing;

namespace {
TargetInfo host() { return compiler::CpuTarget::host().info; }

/// A new empty directory under the test's temporary directory.
std::string tempDir(const std::string &name) {
  std::string t = ::testing::TempDir() + "/kjit-dbf-" + name + "-XXXXXX";
  EXPECT_NE(mkdtemp(t.data()), nullptr);
  return t;
}

/// The pages of an SQLite file (closed, its WAL checkpointed).
int pageCount(const std::string &path) {
  sqlite3 *raw = nullptr;
  sqlite3_open(path.c_str(), &raw);
  sqlite3_stmt *s = nullptr;
  sqlite3_prepare_v2(raw, "PRAGMA page_count", -1, &s, nullptr);
  int n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
  sqlite3_finalize(s);
  sqlite3_close(raw);
  return n;
}

/// Sets or clears the immutable attribute (chattr +i): even root cannot
/// write an immutable file, or create a file in an immutable directory.
bool setImmutable(const std::string &path, bool on) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
  if (fd < 0)
    return false;
  int flags = 0;
  bool ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  ::close(fd);
  return ok;
}

/// Makes files and directories read-only for the test's life: immutable
/// where it can, else (not root) without write permission. `how` says which,
/// or why neither works.
struct ReadOnly {
  std::vector<std::pair<std::string, mode_t>> made; // and the old mode
  bool immutable = false;
  std::string why;
  bool add(const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
      return false;
    if ((made.empty() || immutable) && setImmutable(path, true)) {
      immutable = true;
      made.push_back({path, st.st_mode});
      return true;
    }
    if (!made.empty() && immutable) {
      why = "cannot make '" + path + "' immutable";
      return false;
    }
    if (geteuid() == 0) {
      why = "running as root, where chmod does not make a file read-only, "
            "and the immutable attribute cannot be set here";
      return false;
    }
    chmod(path.c_str(), S_ISDIR(st.st_mode) ? 0555 : 0444);
    made.push_back({path, st.st_mode});
    return true;
  }
  ~ReadOnly() {
    for (auto it = made.rbegin(); it != made.rend(); ++it) {
      if (immutable)
        setImmutable(it->first, false);
      else
        chmod(it->first.c_str(), it->second & 07777);
    }
  }
};

/// A measurer that calls `before` ahead of measurement number n (from 0).
struct HookedMeasurer : FakeMeasurer {
  std::function<void(size_t n)> before;
  Measurement measure(const Workload &w, const Candidate &c) override {
    if (before)
      before(seen.size());
    return FakeMeasurer::measure(w, c);
  }
};

std::string errorText(llvm::Error e) { return llvm::toString(std::move(e)); }

size_t recordsOf(SqliteDatabase &db, const Workload &w,
                 const std::string &config) {
  size_t n = 0;
  for (const Record &r : must(db.records(w.key, "T", "C")))
    n += r.config == config;
  return n;
}
} // namespace

//===--------------------------------------------------------------------===//
// No silent loss: a record that fails stops the workload
//===--------------------------------------------------------------------===//

TEST(DatabaseFailure, AFullDatabaseStopsTheWorkload) {
  Workload w = workload(kDw3x3);
  std::string path = tempPath("full.sqlite");
  { ASSERT_TRUE((bool)SqliteDatabase::open(path)); }
  // Room for the schema and what fits in its pages: a disk that is full.
  Env full("KJIT_TUNING_DB_TEST_SQL",
           "PRAGMA max_page_count=" + std::to_string(pageCount(path)));
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db) << errorText(db.takeError());
  FakeMeasurer m;
  auto r = tuneWorkload(w, host(), "T", "C", db->get(), &m, TuneOptions());
  ASSERT_FALSE((bool)r) << "tuning went on without recording";
  EXPECT_TRUE(r.errorIsA<DatabaseError>());
  std::string msg = errorText(r.takeError());
  EXPECT_NE(msg.find("full"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  // It stopped at the first measurement it could not record.
  size_t recorded = must((*db)->records(w.key, "T", "C")).size();
  EXPECT_GE(recorded, 1u);
  EXPECT_EQ(m.seen.size(), recorded + 1) << msg;
  EXPECT_LT(m.seen.size(), measureOrder(w).size());
  EXPECT_FALSE(must((*db)->isTuned(w.key, "T", "C")));
}

TEST(DatabaseFailure, ALockHeldPastTheBusyTimeoutStopsTheWorkload) {
  Workload w = workload(kDw3x3);
  std::string path = tempPath("locked.sqlite");
  Env shortWait("KJIT_TUNING_DB_TEST_SQL", "PRAGMA busy_timeout=50");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db) << errorText(db.takeError());
  // Another writer takes the lock while the third candidate is measured.
  sqlite3 *other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  HookedMeasurer m;
  m.before = [&](size_t n) {
    if (n == 2)
      EXPECT_EQ(
          sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr),
          SQLITE_OK);
  };
  TuneOptions o;
  o.topK = 4;
  auto r = tuneWorkload(w, host(), "T", "C", db->get(), &m, o);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  ASSERT_FALSE((bool)r) << "tuning went on without recording";
  EXPECT_TRUE(r.errorIsA<DatabaseError>());
  std::string msg = errorText(r.takeError());
  EXPECT_NE(msg.find("locked"), std::string::npos) << msg;
  EXPECT_EQ(m.seen.size(), 3u);
  EXPECT_EQ(must((*db)->records(w.key, "T", "C")).size(), 2u);
  EXPECT_FALSE(must((*db)->isTuned(w.key, "T", "C")));
}

TEST(DatabaseFailure, AReadOnlyFileIsRefusedBeforeAnythingIsMeasured) {
  std::string path = tempPath("readonly.sqlite");
  { ASSERT_TRUE((bool)SqliteDatabase::open(path)); }
  ReadOnly ro;
  if (!ro.add(path))
    GTEST_SKIP() << ro.why;
  auto db = SqliteDatabase::open(path);
  ASSERT_FALSE((bool)db) << "a read-only file opened for recording";
  std::string msg = errorText(db.takeError());
  EXPECT_NE(msg.find("read-only"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  // Reading it is fine.
  EXPECT_TRUE((bool)SqliteDatabase::openReadOnly(path));
}

// Two tuners opening one new file: the second may look while the first
// creates the schema, and must not take the half-seen file for another
// application's.
TEST(DatabaseFailure, TwoOpensOfOneNewFileBothSucceed) {
  for (int i = 0; i < 100; ++i) {
    std::string path = tempPath("race.sqlite");
    std::string errors[2];
    auto openIt = [&](int k) {
      auto db = SqliteDatabase::open(path);
      if (!db)
        errors[k] = errorText(db.takeError());
    };
    std::thread a(openIt, 0), b(openIt, 1);
    a.join();
    b.join();
    ASSERT_EQ(errors[0] + errors[1], "") << "attempt " << i;
  }
}

//===--------------------------------------------------------------------===//
// Reads: a failure is an error, never "no records"
//===--------------------------------------------------------------------===//

namespace {
/// A database with `w`'s records whose measurement pages are then
/// scribbled over (the header and the schema version stay intact, so it
/// opens read-only).
std::string corruptDatabase(const std::string &name, const Workload &w) {
  std::string path = tempPath(name);
  int keep = 0;
  {
    auto db = SqliteDatabase::open(path);
    EXPECT_TRUE((bool)db);
    Workload filler{"op", std::string(2000, 'x'), "filler"};
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE((*db)->record(filler, "T", "C", {"#c" + std::to_string(i)},
                                timed(1e-3)));
      EXPECT_TRUE((*db)->record(w, "T", "C", {"#w" + std::to_string(i)},
                                timed(1e-3 * (i + 1))));
    }
  } // closed: the WAL is checkpointed into the file
  sqlite3 *raw = nullptr;
  sqlite3_open(path.c_str(), &raw);
  sqlite3_stmt *s = nullptr;
  sqlite3_prepare_v2(raw,
                     "SELECT rootpage FROM sqlite_master WHERE name = "
                     "'kjit_schema_version'",
                     -1, &s, nullptr);
  if (sqlite3_step(s) == SQLITE_ROW)
    keep = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(raw);
  EXPECT_GT(keep, 1);
  int pages = pageCount(path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string junk(4096, '\x5a');
  for (int p = 2; p <= pages; ++p)
    if (p != keep) {
      f.seekp(std::streamoff(p - 1) * 4096);
      f.write(junk.data(), junk.size());
    }
  return path;
}
} // namespace

TEST(DatabaseFailure, AFailedReadIsAnErrorNotNoRecords) {
  Workload w = workload(kDw3x3);
  std::string path = corruptDatabase("badread.sqlite", w);
  auto db = SqliteDatabase::openReadOnly(path);
  ASSERT_TRUE((bool)db) << errorText(db.takeError());
  auto recs = (*db)->records(w.key, "T", "C");
  ASSERT_FALSE((bool)recs) << recs->size() << " records";
  std::string msg = errorText(recs.takeError());
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("malformed"), std::string::npos) << msg;
  auto best = (*db)->bestRecord(w.key, "T", "C");
  EXPECT_FALSE((bool)best);
  llvm::consumeError(best.takeError());
  auto tuned = (*db)->isTuned(w.key, "T", "C");
  EXPECT_FALSE((bool)tuned);
  llvm::consumeError(tuned.takeError());
  auto sel = selectConfig(**db, w, "T", "C");
  EXPECT_FALSE((bool)sel);
  llvm::consumeError(sel.takeError());
  auto n = (*db)->count();
  EXPECT_FALSE((bool)n);
  llvm::consumeError(n.takeError());
}

// Run-time selection: the Jit's compile uses defaults and says why.
TEST(DatabaseFailure, AnUnreadableDatabaseMeansDefaultsWithTheReason) {
  Workload w = workload(kDw3x3);
  std::string path = corruptDatabase("jit-badread.sqlite", w);
  kjit::JitOptions jo;
  jo.tuningDb = path;
  jo.diskCache = false;
  kjit::Jit jit(kjit::Target::host(), jo);
  auto k = jit.compileModule(kDw3x3);
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  const std::string &src = k->configSources().at(0);
  EXPECT_NE(src.find("default (tuning database not used"), std::string::npos)
      << src;
  EXPECT_NE(src.find("malformed"), std::string::npos) << src;
}

//===--------------------------------------------------------------------===//
// Resume after a killed run
//===--------------------------------------------------------------------===//

TEST(DatabaseFailure, AKilledRunIsResumedNotSkipped) {
  Workload w = workload(kDw3x3);
  auto order = measureOrder(w);
  std::string path = tempPath("resume.sqlite");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db);
  // What a run killed after two measurements leaves: their records, and no
  // mark that the run finished.
  ASSERT_TRUE((*db)->record(w, "T", "C", {order[0]}, timed(4e-6)));
  ASSERT_TRUE((*db)->record(w, "T", "C", {order[1]}, timed(3e-6)));
  EXPECT_FALSE(must((*db)->isTuned(w.key, "T", "C")));
  FakeMeasurer m;
  // The machine as the killed run saw it (the paired final compares them).
  m.times[order[0]] = 4e-6;
  m.times[order[1]] = 3e-6;
  TuneOptions o;
  o.topK = 4;
  auto r = tuneWorkload(w, host(), "T", "C", db->get(), &m, o);
  ASSERT_TRUE((bool)r) << errorText(r.takeError());
  EXPECT_FALSE(r->skipped);
  EXPECT_EQ(r->resumed, 2u);
  EXPECT_TRUE(r->confirmed) << r->confirmation;
  // The rest is measured; the earlier two are not measured again.
  ASSERT_FALSE(m.seen.empty());
  for (const std::string &c : m.seen) {
    EXPECT_NE(c, order[0]);
    EXPECT_NE(c, order[1]);
  }
  EXPECT_EQ(m.seen.front(), order[2]);
  EXPECT_EQ(recordsOf(**db, w, order[0]), 1u);
  EXPECT_EQ(recordsOf(**db, w, order[1]), 1u);
  EXPECT_EQ(recordsOf(**db, w, order[2]), 1u);
  // The earlier measurements count: the default's time, and the best.
  ASSERT_TRUE(r->defaultSeconds.has_value());
  EXPECT_DOUBLE_EQ(*r->defaultSeconds, 4e-6);
  ASSERT_TRUE(r->bestSeconds.has_value());
  EXPECT_DOUBLE_EQ(*r->bestSeconds, 3e-6);
  EXPECT_EQ(r->bestConfig, order[1]);
  EXPECT_TRUE(must((*db)->isTuned(w.key, "T", "C")));
  // Finished: the next run skips it.
  FakeMeasurer again;
  auto r2 = tuneWorkload(w, host(), "T", "C", db->get(), &again, o);
  ASSERT_TRUE((bool)r2);
  EXPECT_TRUE(r2->skipped);
  EXPECT_TRUE(again.seen.empty());
  EXPECT_EQ(r2->bestConfig, order[1]);
}

TEST(DatabaseFailure, AnInterruptedRunIsResumed) {
  Workload w = workload(kDw3x3);
  std::string path = tempPath("interrupted.sqlite");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db);
  FakeMeasurer m;
  TuneOptions o;
  o.topK = 4;
  o.stop = [&] { return m.seen.size() >= 2; };
  auto r = tuneWorkload(w, host(), "T", "C", db->get(), &m, o);
  ASSERT_TRUE((bool)r);
  EXPECT_TRUE(r->interrupted);
  EXPECT_FALSE(must((*db)->isTuned(w.key, "T", "C")));
  FakeMeasurer m2;
  o.stop = nullptr;
  auto r2 = tuneWorkload(w, host(), "T", "C", db->get(), &m2, o);
  ASSERT_TRUE((bool)r2);
  EXPECT_EQ(r2->resumed, 2u);
  EXPECT_FALSE(m2.seen.empty());
  EXPECT_TRUE(must((*db)->isTuned(w.key, "T", "C")));
}

//===--------------------------------------------------------------------===//
// Directories
//===--------------------------------------------------------------------===//

TEST(DatabaseFailure, AMissingDirectoryIsNamedOrCreatedWhenAsked) {
  std::string dir = tempDir("mkdir") + "/a/b";
  std::string path = dir + "/tuning.sqlite";
  auto named = SqliteDatabase::open(path);
  ASSERT_FALSE((bool)named);
  std::string msg = errorText(named.takeError());
  EXPECT_NE(msg.find("directory '" + dir + "' does not exist"),
            std::string::npos)
      << msg;
  auto created = SqliteDatabase::open(path, /*createDirectories=*/true);
  ASSERT_TRUE((bool)created) << errorText(created.takeError());
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

//===--------------------------------------------------------------------===//
// Import: every line checked, all or nothing
//===--------------------------------------------------------------------===//

namespace {
std::string jsonLine(const std::string &fields) {
  return "{\"workload_key\": \"wk\", \"workload_text\": \"text\", "
         "\"op_name\": \"op\", \"target_key\": \"T\", \"compiler_key\": "
         "\"C\", \"message\": \"\"" +
         fields + "}\n";
}
const char *kOkConfig = "\"config\": \"#kjit.config<{a = 1 : i64}>\"";
} // namespace

TEST(DatabaseFailure, ImportChecksEveryFieldAndAddsNothingOnError) {
  std::string path = tempPath("import.sqlite");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db);
  std::string good = jsonLine(std::string(", ") + kOkConfig +
                              ", \"status\": \"ok\", \"median_s\": 0.002");
  // Bad second lines, and the field each one's error names.
  const std::pair<std::string, const char *> bad[] = {
      {jsonLine(std::string(", ") + kOkConfig + ", \"status\": \"ok\""),
       "median_s"},
      {jsonLine(std::string(", ") + kOkConfig +
                ", \"status\": \"ok\", \"median_s\": 0"),
       "median_s"},
      {jsonLine(std::string(", ") + kOkConfig +
                ", \"status\": \"ok\", \"median_s\": -1"),
       "median_s"},
      {jsonLine(std::string(", ") + kOkConfig +
                ", \"status\": \"ok\", \"median_s\": \"fast\""),
       "median_s"},
      {jsonLine(", \"config\": \"tile=4\", \"status\": \"ok\", "
                "\"median_s\": 0.001"),
       "config"},
      {jsonLine(std::string(", ") + kOkConfig +
                ", \"status\": \"great\", \"median_s\": 0.001"),
       "status"},
      {jsonLine(std::string(", ") + kOkConfig + ", \"median_s\": 0.001"),
       "status"},
      {jsonLine(std::string(", ") + kOkConfig +
                ", \"status\": \"ok\", \"median_s\": 0.001, \"repeats\": "
                "2.5"),
       "repeats"},
      {jsonLine(std::string(", ") + kOkConfig +
                ", \"status\": \"ok\", \"median_s\": 0.001, \"tuned\": 1"),
       "tuned"},
      {"{\"workload_key\": 1}\n", "workload_key"},
  };
  for (const auto &[line, field] : bad) {
    std::string file = tempPath("bad.jsonl");
    std::ofstream(file) << good << line;
    auto n = (*db)->importJsonLines(file);
    ASSERT_FALSE((bool)n) << line;
    EXPECT_FALSE(n.errorIsA<DatabaseError>());
    std::string msg = errorText(n.takeError());
    EXPECT_NE(msg.find(file + ":2: field \"" + field + "\""), std::string::npos)
        << msg;
    EXPECT_EQ(must((*db)->count()), 0u) << "half an import committed";
  }
  // A failed measurement has no time: that is fine.
  std::string file = tempPath("good.jsonl");
  std::ofstream(file) << good
                      << jsonLine(", \"config\": \"not a config\", "
                                  "\"status\": \"illegal\"");
  auto n = (*db)->importJsonLines(file);
  ASSERT_TRUE((bool)n) << errorText(n.takeError());
  EXPECT_EQ(*n, 2u);
}

TEST(DatabaseFailure, ExportAndImportCarryWhichRunsFinished) {
  std::string a = tempPath("finished-a.sqlite"),
              b = tempPath("finished-b.sqlite");
  std::string file = tempPath("finished.jsonl");
  Workload w = workload(kDw3x3);
  auto order = measureOrder(w);
  {
    auto da = SqliteDatabase::open(a);
    ASSERT_TRUE((bool)da);
    FakeMeasurer m;
    TuneOptions o;
    o.topK = 1;
    ASSERT_TRUE((bool)tuneWorkload(w, host(), "T", "C", da->get(), &m, o));
    // And an unfinished one.
    ASSERT_TRUE((*da)->record(w, "T2", "C", {order[0]}, timed(1e-6)));
    ASSERT_FALSE((bool)(*da)->exportJsonLines(file));
  }
  auto db = SqliteDatabase::open(b);
  ASSERT_TRUE((bool)db);
  ASSERT_TRUE((bool)(*db)->importJsonLines(file));
  EXPECT_TRUE(must((*db)->isTuned(w.key, "T", "C")));
  EXPECT_FALSE(must((*db)->isTuned(w.key, "T2", "C")));
}

//===--------------------------------------------------------------------===//
// A read-only WAL database whose -shm cannot be created
//===--------------------------------------------------------------------===//

namespace {
/// A closed WAL database with one record (no -wal or -shm left).
std::string walDatabase(const std::string &dir, const Workload &w) {
  std::string path = dir + "/tuning.sqlite";
  auto db = SqliteDatabase::open(path);
  EXPECT_TRUE((bool)db);
  EXPECT_TRUE(
      (*db)->record(w, "T", "C", {"#kjit.config<{a = 1 : i64}>"}, timed(1e-3)));
  return path;
}
} // namespace

TEST(DatabaseFailure, AWalFileWhoseShmCannotBeCreatedIsReadImmutable) {
  // Independent of permissions: a dangling symbolic link where SQLite
  // would create the -shm (SQLite refuses to follow it) fails as a
  // read-only directory does.
  Workload w = workload(kDw3x3);
  std::string dir = tempDir("noshm");
  std::string path = walDatabase(dir, w);
  ASSERT_EQ(symlink((dir + "/missing").c_str(), (path + "-shm").c_str()), 0);
  auto ro = SqliteDatabase::openReadOnly(path);
  ASSERT_TRUE((bool)ro) << errorText(ro.takeError());
  auto best = must((*ro)->bestRecord(w.key, "T", "C"));
  ASSERT_TRUE(best.has_value());
  EXPECT_DOUBLE_EQ(best->result.medianSeconds, 1e-3);
  // Recording into it: what is wrong, not "not a kjit tuning database".
  auto rw = SqliteDatabase::open(path);
  ASSERT_FALSE((bool)rw);
  std::string msg = errorText(rw.takeError());
  EXPECT_EQ(msg.find("not a kjit tuning database"), std::string::npos) << msg;
  EXPECT_NE(msg.find("-shm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("directory '" + dir + "'"), std::string::npos) << msg;
}

TEST(DatabaseFailure, AReadOnlyWalDatabaseInAReadOnlyDirectory) {
  Workload w = workload(kDw3x3);
  std::string dir = tempDir("rodir");
  std::string path = walDatabase(dir, w);
  ReadOnly ro;
  if (!ro.add(path) || !ro.add(dir))
    GTEST_SKIP() << ro.why;
  auto reader = SqliteDatabase::openReadOnly(path);
  ASSERT_TRUE((bool)reader) << errorText(reader.takeError());
  EXPECT_TRUE(must((*reader)->bestRecord(w.key, "T", "C")).has_value());
  auto rw = SqliteDatabase::open(path);
  ASSERT_FALSE((bool)rw);
  std::string msg = errorText(rw.takeError());
  EXPECT_NE(msg.find("read-only"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("not a kjit tuning database"), std::string::npos) << msg;
}

//===--------------------------------------------------------------------===//
// Export
//===--------------------------------------------------------------------===//

TEST(DatabaseFailure, ExportToAFullDiskIsAnError) {
  std::string path = tempPath("export-full.sqlite");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db);
  ASSERT_TRUE((*db)->record(Workload{"op", "text", "wk"}, "T", "C", {"#a"},
                            timed(1e-3)));
  llvm::Error e = (*db)->exportJsonLines("/dev/full");
  ASSERT_TRUE((bool)e);
  std::string msg = errorText(std::move(e));
  EXPECT_NE(msg.find("/dev/full"), std::string::npos) << msg;
  EXPECT_NE(msg.find("No space left"), std::string::npos) << msg;
}

//===--------------------------------------------------------------------===//
// kjit-tune
//===--------------------------------------------------------------------===//

namespace {
std::vector<std::string> tuneArgs(const std::string &in,
                                  std::vector<std::string> more) {
  std::vector<std::string> v = {in, "--repeats=2",
                                "--plot=" + ::testing::TempDir()};
  v.insert(v.end(), more.begin(), more.end());
  return v;
}
} // namespace

TEST(KjitTuneDatabase, AReadOnlyDatabaseIsRefusedBeforeMeasuring) {
  std::string db = tempPath("cli-readonly.sqlite");
  { ASSERT_TRUE((bool)SqliteDatabase::open(db)); }
  ReadOnly ro;
  if (!ro.add(db))
    GTEST_SKIP() << ro.why;
  std::string in = writeTemp("cli-readonly.mlir", kDw3x3);
  Tuner t(tuneArgs(in, {"--db=" + db, "--top-k=2"}),
          tempPath("cli-readonly.out"));
  int rc = t.wait(60);
  std::string out = t.output();
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("read-only"), std::string::npos) << out;
  EXPECT_EQ(out.find("  [1] "), std::string::npos) << "measured: " << out;
  EXPECT_EQ(out.find("best:"), std::string::npos) << out;
}

TEST(KjitTuneDatabase, AFullDatabaseStopsTheRunWithExit1) {
  std::string db = tempPath("cli-full.sqlite");
  { ASSERT_TRUE((bool)SqliteDatabase::open(db)); }
  std::string in = writeTemp("cli-full.mlir", kDw3x3);
  Tuner t(tuneArgs(in, {"--db=" + db}), tempPath("cli-full.out"),
          {"KJIT_TUNING_DB_TEST_SQL=PRAGMA max_page_count=" +
           std::to_string(pageCount(db))});
  int rc = t.wait(120);
  std::string out = t.output();
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("full"), std::string::npos) << out;
  EXPECT_NE(out.find("stopped"), std::string::npos) << out;
  // No "best" is printed that is not in the database.
  EXPECT_EQ(out.find("best:"), std::string::npos) << out;
  EXPECT_GE(recordsIn(db), 1u);
}

TEST(KjitTuneDatabase, ALockHeldPastTheBusyTimeoutStopsTheRunWithExit1) {
  std::string db = tempPath("cli-locked.sqlite");
  std::string in = writeTemp("cli-locked.mlir", kDw3x3);
  auto order = measureOrder(workload(kDw3x3));
  // The third candidate hangs until its time-out; meanwhile another writer
  // takes the lock, and holds it past kjit-tune's busy timeout.
  Tuner t(tuneArgs(in, {"--db=" + db, "--top-k=6", "--timeout=3"}),
          tempPath("cli-locked.out"),
          {"KJIT_TUNE_TEST_FAULT=hang:" + order[2],
           "KJIT_TUNING_DB_TEST_SQL=PRAGMA busy_timeout=100"});
  ASSERT_TRUE(waitForRecords(db, 2)) << t.output();
  sqlite3 *other = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &other), SQLITE_OK);
  sqlite3_busy_timeout(other, 10000);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  int rc = t.wait(60);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  std::string out = t.output();
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("locked"), std::string::npos) << out;
  EXPECT_EQ(out.find("best:"), std::string::npos) << out;
  EXPECT_EQ(recordsIn(db), 2u);
}

TEST(KjitTuneDatabase, TheDefaultDatabaseDirectoryIsCreated) {
  std::string cache = tempDir("cache") + "/fresh/kjit";
  std::string in = writeTemp("cli-cache.mlir", kDw3x3);
  Tuner t(tuneArgs(in, {"--top-k=1"}), tempPath("cli-cache.out"),
          {"KJIT_CACHE_DIR=" + cache, "KJIT_TUNING_DB"});
  EXPECT_EQ(t.wait(60), 0) << t.output();
  EXPECT_GE(recordsIn(cache + "/tuning.sqlite"), 1u) << t.output();
  struct stat st;
  ASSERT_EQ(stat(cache.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(KjitTuneDatabase, AnExplicitDbInAMissingDirectoryIsAClearError) {
  std::string dir = tempDir("explicit") + "/missing";
  std::string in = writeTemp("cli-missing.mlir", kDw3x3);
  Tuner t(tuneArgs(in, {"--db=" + dir + "/x.sqlite", "--top-k=1"}),
          tempPath("cli-missing.out"));
  EXPECT_EQ(t.wait(60), 2) << t.output();
  EXPECT_NE(t.output().find("directory '" + dir + "' does not exist"),
            std::string::npos)
      << t.output();
  struct stat st;
  EXPECT_NE(stat(dir.c_str(), &st), 0) << "created a directory it was not "
                                          "asked to";
}

TEST(KjitTuneDatabase, AFailedExportIsAnErrorNotACrash) {
  std::string db = tempPath("cli-export.sqlite");
  {
    auto d = SqliteDatabase::open(db);
    ASSERT_TRUE((bool)d);
    ASSERT_TRUE((*d)->record(Workload{"op", "text", "wk"}, "T", "C", {"#a"},
                             timed(1e-3)));
  }
  for (std::string to : {"/dev/full", "/nonexistent/dir/x.jsonl"}) {
    Tuner t({"--db=" + db, "--export=" + to}, tempPath("cli-export.out"));
    int rc = t.wait(60);
    std::string out = t.output();
    EXPECT_EQ(rc, 1) << to << ": " << out;
    EXPECT_NE(out.find("kjit-tune: --export: cannot write '" + to + "'"),
              std::string::npos)
        << out;
    EXPECT_EQ(out.find("LLVM ERROR"), std::string::npos) << out;
    EXPECT_EQ(out.find("Stack dump"), std::string::npos) << out;
    EXPECT_EQ(out.find("exported"), std::string::npos) << out;
  }
}
