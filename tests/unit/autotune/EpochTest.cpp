//===- EpochTest.cpp - tuning records keyed by the tuning epoch ----------===//
//
// ARCHITECTURE.md "Keys", issue 11 item 7: tuning records are keyed by the
// tuning epoch (kjit and LLVM versions, the codegen version: a hash of the
// code-generation sources, the CPU pipeline), never by the build, which
// stays in the object-cache key. A rebuild keeps records current; a record
// of an older epoch is never served, seeds kjit-tune's and on-line tuning's
// searches, and is served once measured again in the current epoch.
//
//===----------------------------------------------------------------------===//
#include "ExpectedValue.h"
#include "OfflineTunerSupport.h"
#include "autotune/Tuner.h"
#include "autotune/Workload.h"
#include "compiler/Compiler.h"
#include "compiler/Pipelines/CPUPipeline.h"
#include "kjit/kjit.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <set>
#include <sys/time.h>

#ifndef KJIT_CODEGEN_MANIFEST
#error "KJIT_CODEGEN_MANIFEST must name the build's codegen-sources.txt"
#endif

using namespace kjit;
using namespace kjit::autotune;
using namespace kjit::autotune::testing;

namespace {
std::string readFile(const std::string &path) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  EXPECT_TRUE(bool(buf)) << "cannot read " << path;
  return buf ? (*buf)->getBuffer().str() : std::string();
}

/// The manifest's entries (paths relative to the source root), in order.
std::vector<std::string> manifest() {
  llvm::SmallVector<llvm::StringRef> lines;
  std::string text = readFile(KJIT_CODEGEN_MANIFEST);
  llvm::StringRef(text).split(lines, '\n', -1, /*KeepEmpty=*/false);
  return {lines.begin(), lines.end()};
}

/// The current epoch's text, with another codegen version.
std::string olderEpoch() {
  std::string e = compiler::tuningEpoch();
  size_t at = e.find(";codegen=");
  EXPECT_NE(at, std::string::npos) << e;
  return e.replace(at + 9, 16, "0123456789abcdef");
}

/// `name=<value>` lines of a kjit-print-keys output.
std::string field(const std::string &out, const std::string &name) {
  size_t at = out.find(name + "=");
  if (at == std::string::npos)
    return "";
  at += name.size() + 1;
  return out.substr(at, out.find('\n', at) - at);
}

/// A copy of libkjit in a directory of its own with another mtime: a
/// rebuild of the same sources, as far as the build stamp can tell.
std::string rebuiltLibraryDir() {
  std::string dir = tempPath("rebuilt-lib");
  llvm::sys::fs::remove_directories(dir);
  EXPECT_FALSE(llvm::sys::fs::create_directories(dir));
  std::string copy = dir + "/" + KJIT_LIBRARY_SONAME;
  EXPECT_FALSE(llvm::sys::fs::copy_file(KJIT_LIBRARY, copy));
  struct timeval times[2] = {{1000000000, 0}, {1000000000, 0}};
  EXPECT_EQ(utimes(copy.c_str(), times), 0);
  return dir;
}

/// kjit-print-keys with libkjit from `libDir` (the helper has no rpath).
std::string printKeys(const std::string &libDir,
                      std::vector<std::string> args = {}) {
  Tuner t(std::move(args), tempPath("print-keys.out"),
          {"LD_LIBRARY_PATH=" + libDir + ":" + KJIT_LLVM_LIBRARY_DIR,
           "KJIT_TUNE", "KJIT_GPU_EMULATE"},
          KJIT_PRINT_KEYS_BINARY);
  EXPECT_EQ(t.wait(120), 0) << t.output();
  return t.output();
}

/// A finished tuning run of `w` in an older epoch in the database at `path`,
/// whose best was `config` (faster than anything measured here).
void recordOlderEpochRun(const std::string &path, const Workload &w,
                         const std::string &target, const std::string &config) {
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE(bool(db)) << llvm::toString(db.takeError());
  ASSERT_TRUE((*db)->record(w, target, olderEpoch(), {config}, timed(1e-7)))
      << (*db)->lastError();
  ASSERT_FALSE((*db)->markTuned(w.key, target, olderEpoch()));
}

/// Compiles `text` on the host with the tuning database `db` ("off": none)
/// and `config` ("": none); returns its first op's config source and sets
/// `resolved` to that op's config.
std::string compileFirstOp(const std::string &text, const std::string &db,
                           const std::string &config,
                           std::string *resolved = nullptr) {
  JitOptions jo;
  jo.tuningDb = db;
  jo.diskCache = false;
  jo.onlineTuneBudgetSeconds = 0;
  Jit jit(Target::host(), jo);
  CompileOptions co;
  co.config = config;
  auto k = jit.compileModule(text, co);
  EXPECT_TRUE(bool(k)) << k.errorMessage();
  if (!k)
    return "";
  if (resolved)
    *resolved = k->configs().at(0);
  return k->configSources().at(0);
}

/// Where the host Jit's selection from `db` takes `text`'s config from.
std::string selectedSource(const std::string &text, const std::string &db,
                           std::string *config = nullptr) {
  return compileFirstOp(text, db, "", config);
}

/// `config` as the Jit resolves it for `text` (what configs() reports).
std::string resolvedConfig(const std::string &text, const std::string &config) {
  std::string out;
  compileFirstOp(text, "off", config, &out);
  return out;
}
} // namespace

// (d) The codegen version is the hash of the files the manifest lists, as
// they are now (a stale header fails), and the manifest lists every file
// that decides what code a config produces (a forgotten file fails).
TEST(TuningEpoch, CodegenVersionHashesEveryGeneratorSource) {
  std::vector<std::string> files = manifest();
  ASSERT_FALSE(files.empty());
  std::string lines;
  for (const std::string &f : files)
    lines += f + " " + sha256Hex(readFile(KJIT_SOURCE_DIR "/" + f)) + "\n";
  EXPECT_EQ(compiler::codegenVersion(), sha256Hex(lines))
      << "the codegen version was not regenerated from the sources";

  std::set<std::string> listed(files.begin(), files.end());
  std::vector<std::string> expected;
  for (const char *dir : {"compiler/Conversion", "compiler/Pipelines"}) {
    std::error_code ec;
    for (llvm::sys::fs::recursive_directory_iterator
             it(std::string(KJIT_SOURCE_DIR "/") + dir, ec),
         end;
         it != end && !ec; it.increment(ec))
      if (it->type() == llvm::sys::fs::file_type::regular_file)
        expected.push_back(
            it->path().substr(std::string(KJIT_SOURCE_DIR "/").size()));
    ASSERT_FALSE(ec) << dir << ": " << ec.message();
  }
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator
           it(KJIT_SOURCE_DIR "/dialects/kjit/IR", ec),
       end;
       it != end && !ec; it.increment(ec)) {
    llvm::StringRef name = llvm::sys::path::filename(it->path());
    if (name.contains("Tuning") || name.starts_with("KnobReader.") ||
        name == "TunableFamily.h")
      expected.push_back("dialects/kjit/IR/" + name.str());
  }
  expected.push_back("compiler/Compiler.cpp");
  expected.push_back("compiler/Passes.td");
  EXPECT_GT(expected.size(), 30u);
  for (const std::string &f : expected)
    EXPECT_TRUE(listed.count(f)) << f << " is not in " << KJIT_CODEGEN_MANIFEST;
}

// (a) The epoch is made of the sources only: versions, the codegen version,
// the pipeline; no build stamp. The compiler key is the epoch plus the build.
TEST(TuningEpoch, IsTheSourcesNotTheBuild) {
  std::string epoch = compiler::tuningEpoch();
  EXPECT_EQ(epoch, std::string("kjit-") + KJIT_VERSION + ";llvm-" +
                       LLVM_VERSION_STRING + ";codegen=" +
                       compiler::codegenVersion().substr(0, 16) + ";pipeline=" +
                       sha256Hex(compiler::cpuPipelineText({})).substr(0, 16));
  EXPECT_EQ(epoch.find("build"), std::string::npos) << epoch;
  EXPECT_EQ(kjit::tuningEpoch(), epoch);
  std::string key = compiler::compilerKey();
  ASSERT_EQ(key.rfind(epoch + ";build=", 0), 0u) << key;
  EXPECT_EQ(key.size(), epoch.size() + 7 + 16) << key;
  // Emulated GPU timings are an epoch of their own.
  Env emulate("KJIT_GPU_EMULATE", "1");
  EXPECT_EQ(compiler::tuningEpoch(), epoch + ";gpu-emulate");
  EXPECT_EQ(compiler::compilerKey(), key + ";gpu-emulate");
}

// (a) Two builds of the same sources (libkjit and a copy of it with another
// mtime) have one epoch and two compiler keys.
TEST(TuningEpoch, ARebuildKeepsTheEpochAndChangesTheCompilerKey) {
  std::string built = printKeys(KJIT_LIBRARY_DIR);
  std::string rebuilt = printKeys(rebuiltLibraryDir());
  ASSERT_FALSE(field(built, "epoch").empty()) << built;
  EXPECT_EQ(field(built, "epoch"), compiler::tuningEpoch()) << built;
  EXPECT_EQ(field(rebuilt, "epoch"), field(built, "epoch")) << rebuilt;
  ASSERT_FALSE(field(rebuilt, "compiler").empty()) << rebuilt;
  EXPECT_NE(field(rebuilt, "compiler"), field(built, "compiler"));
}

// (b) A record written by one build is served by another build of the same
// sources; a record under a build's compiler key (what kjit wrote before
// epochs) is an older epoch's, never served.
TEST(TuningEpoch, RecordsSurviveARebuild) {
  Workload w = workload(kDw3x3);
  auto order = measureOrder(w);
  std::string config = order.back();
  std::string db = tempPath("rebuild.sqlite");
  {
    auto d = SqliteDatabase::open(db);
    ASSERT_TRUE(bool(d)) << llvm::toString(d.takeError());
    ASSERT_TRUE((*d)->record(w, Target::host().key(), compiler::compilerKey(),
                             {order[1]}, timed(1e-7)))
        << (*d)->lastError();
    ASSERT_TRUE((*d)->record(w, Target::host().key(), compiler::tuningEpoch(),
                             {config}, timed(1e-6)))
        << (*d)->lastError();
  }
  std::string in = writeTemp("rebuild.mlir", kDw3x3);
  std::string out = printKeys(rebuiltLibraryDir(), {in, db});
  EXPECT_EQ(field(out, "source"), "tuned") << out;
  std::string served;
  EXPECT_EQ(selectedSource(kDw3x3, db, &served), "tuned");
  EXPECT_EQ(field(out, "config"), served) << out;
  // The record served is this epoch's, not the faster one under a build's
  // compiler key.
  EXPECT_EQ(served, resolvedConfig(kDw3x3, config));
}

// (c) A record of an older epoch is not served and does not make its
// workload "tuned" for resume; it seeds the search, and the new
// measurement in this epoch is what is served.
TEST(TuningEpoch, AnOlderEpochSeedsAndIsServedOnceMeasuredAgain) {
  Workload w = workload(kDw3x3);
  auto order = measureOrder(w);
  std::string old = order.back(); // a config the pruned top-1 does not reach
  ASSERT_NE(old, order[1]);
  std::string target = Target::host().key();
  ASSERT_NE(olderEpoch(), compiler::tuningEpoch());
  std::string path = tempPath("older-epoch.sqlite");
  ASSERT_NO_FATAL_FAILURE(recordOlderEpochRun(path, w, target, old));
  EXPECT_EQ(selectedSource(kDw3x3, path), "default");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE(bool(db)) << llvm::toString(db.takeError());

  FakeMeasurer m;
  m.fastest = old;
  TuneOptions o;
  o.topK = 1;
  auto r = tuneWorkload(w, compiler::CpuTarget::host().info, target,
                        compiler::tuningEpoch(), db->get(), &m, o);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_FALSE(r->skipped) << "an older epoch's run is not this epoch's";
  EXPECT_EQ(r->seeded, 1u);
  ASSERT_GE(m.seen.size(), 2u);
  EXPECT_EQ(m.seen[1], old); // right after the default
  auto best = must((*db)->bestRecord(w.key, target, compiler::tuningEpoch()));
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->config, old);
  EXPECT_DOUBLE_EQ(best->result.medianSeconds, 1e-6); // measured now
  std::string served;
  EXPECT_EQ(selectedSource(kDw3x3, path, &served), "tuned");
  EXPECT_EQ(served, resolvedConfig(kDw3x3, old));
}

// The same through kjit-tune: an older epoch's finished run is resumed as
// not tuned, its config seeds the search, and the records are the epoch's.
TEST(TuningEpoch, KjitTuneRetunesAnOlderEpochWithItsSeeds) {
  Workload w = workload(kDw3x3);
  auto order = measureOrder(w);
  std::string old = order.back();
  std::string target = compiler::CpuTarget::host().key();
  std::string db = tempPath("kjit-tune-epoch.sqlite");
  ASSERT_NO_FATAL_FAILURE(recordOlderEpochRun(db, w, target, old));
  std::string in = writeTemp("kjit-tune-epoch.mlir", kDw3x3);
  Tuner t({in, "--db=" + db, "--top-k=1", "--repeats=1",
           "--plot=" + ::testing::TempDir()},
          tempPath("kjit-tune-epoch.out"));
  ASSERT_EQ(t.wait(90), 0) << t.output();
  std::string out = t.output();
  EXPECT_NE(out.find("tuning epoch: " + compiler::tuningEpoch() + "\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("already tuned"), std::string::npos) << out;
  EXPECT_NE(out.find("seeded with 1 config(s)"), std::string::npos) << out;
  auto d = SqliteDatabase::openReadOnly(db);
  ASSERT_TRUE(bool(d)) << llvm::toString(d.takeError());
  bool measuredAgain = false;
  for (const Record &r :
       must((*d)->records(w.key, target, compiler::tuningEpoch())))
    measuredAgain |= r.config == old;
  EXPECT_TRUE(measuredAgain) << out;
  EXPECT_TRUE(must((*d)->isTuned(w.key, target, compiler::tuningEpoch())));
}
