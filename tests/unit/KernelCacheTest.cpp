//===- KernelCacheTest.cpp - memory and disk kernel cache -----------------===//
//
// The disk cache holds code that gets executed: these tests check that the
// directory rules hold, that torn or tampered entries are recompiled rather
// than run, and that threads and processes can share the cache.
//
//===----------------------------------------------------------------------===//
#include "KernelCache.h"
#include "TestUtil.h"

#include <atomic>
#include <fstream>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <thread>

extern char **environ;

using namespace kjit;
using namespace kjit::test;
using kjit::runtime::CacheEntry;
using kjit::runtime::DiskCache;

namespace {
class KernelCache : public ::testing::Test {
protected:
  void SetUp() override {
    root = makeScratchDir("cache");
    ASSERT_FALSE(root.empty());
    dir = root + "/a/b/kjit";
  }
  void TearDown() override { removeDir(root); }
  JitOptions options() {
    JitOptions o;
    o.cacheDir = dir;
    return o;
  }
  std::string root, dir;
};

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// Compiles `op` in a fresh Jit (empty memory cache) and checks numerics.
std::string compileFresh(const JitOptions &o, const DepthwiseConv2d &op) {
  Jit jit(Target::host(), o);
  auto k = jit.compile(op);
  if (!k)
    return "error: " + k.errorMessage();
  std::string err;
  double diff = runConvAndCompare(*k, op, 11, &err);
  if (diff < 0 || diff > 1e-4)
    return "wrong result (" + std::to_string(diff) + ") " + err;
  return k->origin();
}

std::vector<std::string> entryFiles(const std::string &dir) {
  std::vector<std::string> files;
  std::string cmd = "ls " + dir + " 2>/dev/null";
  FILE *p = popen(cmd.c_str(), "r");
  char line[4096];
  while (p && fgets(line, sizeof(line), p)) {
    std::string name(line);
    while (!name.empty() && name.back() == '\n')
      name.pop_back();
    if (name.size() > 8 && name.substr(name.size() - 8) == ".kjitobj")
      files.push_back(dir + "/" + name);
  }
  if (p)
    pclose(p);
  return files;
}
} // namespace

TEST_F(KernelCache, CreatesPrivateDirectoryAndServesHits) {
  Jit jit(Target::host(), options());
  EXPECT_EQ(jit.cacheDir(), dir);
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  DepthwiseConv2d op = smallConv();
  auto k1 = jit.compile(op);
  ASSERT_TRUE(k1) << k1.errorMessage();
  EXPECT_EQ(k1->origin(), "compiled");
  auto k2 = jit.compile(op);
  ASSERT_TRUE(k2);
  EXPECT_EQ(k2->origin(), "memory-cache");
  EXPECT_EQ(compileFresh(options(), op), "disk-cache");

  std::vector<std::string> files = entryFiles(dir);
  ASSERT_EQ(files.size(), 1u);
  ASSERT_EQ(stat(files[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A disk hit carries the whole signature: no compiler needed to run it.
  Jit fresh(Target::host(), options());
  auto k3 = fresh.compile(op);
  ASSERT_TRUE(k3);
  EXPECT_EQ(k3->inputs().size(), k1->inputs().size());
  EXPECT_EQ(k3->configs(), k1->configs());
  EXPECT_EQ(k3->source(), k1->source());
}

TEST_F(KernelCache, MemoryOnlyAndDisabled) {
  JitOptions o = options();
  o.diskCache = false;
  o.memoryCache = false;
  Jit jit(Target::host(), o);
  EXPECT_EQ(jit.cacheDir(), "");
  auto k1 = jit.compile(smallConv());
  auto k2 = jit.compile(smallConv());
  ASSERT_TRUE(k1 && k2);
  EXPECT_EQ(k2->origin(), "compiled");
  EXPECT_TRUE(entryFiles(dir).empty());
}

TEST_F(KernelCache, RefusesDirectoryWritableByOthers) {
  ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
  ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
  auto opened = DiskCache::open(dir);
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.errorMessage().find("writable by other users"),
            std::string::npos);
  ASSERT_EQ(chmod(dir.c_str(), 0770), 0);
  EXPECT_FALSE(DiskCache::open(dir));

  // The Jit still compiles, without a disk cache, and writes nothing there.
  Jit jit(Target::host(), options());
  EXPECT_EQ(jit.cacheDir(), "");
  auto k = jit.compile(smallConv());
  ASSERT_TRUE(k) << k.errorMessage();
  EXPECT_TRUE(entryFiles(dir).empty());
}

TEST_F(KernelCache, RefusesDirectoryOwnedBySomeoneElse) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root to chown a directory to another user";
  ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
  ASSERT_EQ(chmod(dir.c_str(), 0700), 0);
  ASSERT_EQ(chown(dir.c_str(), 65534, 65534), 0);
  auto opened = DiskCache::open(dir);
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.errorMessage().find("not owned by the current user"),
            std::string::npos);
}

TEST_F(KernelCache, RefusesAFileAsDirectory) {
  ASSERT_EQ(system(("mkdir -p " + root + "/a/b && touch " + dir).c_str()), 0);
  EXPECT_FALSE(DiskCache::open(dir));
}

// A store killed between its temporary file and the rename leaves the
// file behind; opening the cache removes those of dead writers, and never a
// live writer's, however old.
TEST_F(KernelCache, RemovesTempFilesOfDeadWritersOnly) {
  ASSERT_TRUE(DiskCache::open(dir));
  pid_t dead = deadPid();
  ASSERT_GT(dead, 0);
  ASSERT_NE(kill(dead, 0), 0);
  std::string deadWriter = dir + "/.tmp-" + std::to_string(dead) + "-a1B2c3",
              liveWriter =
                  dir + "/.tmp-" + std::to_string(getpid()) + "-d4E5f6",
              // Written before the names carried a pid.
      oldUnnamed = dir + "/.tmp-x1Y2z3", newUnnamed = dir + "/.tmp-u7V8w9";
  for (const std::string &p : {deadWriter, liveWriter, oldUnnamed, newUnnamed})
    writeFile(p, "the first half of an entry");
  struct timeval twoHoursAgo[2] = {{time(nullptr) - 7200, 0},
                                   {time(nullptr) - 7200, 0}};
  ASSERT_EQ(utimes(oldUnnamed.c_str(), twoHoursAgo), 0);
  ASSERT_EQ(utimes(liveWriter.c_str(), twoHoursAgo), 0);

  auto opened = DiskCache::open(dir);
  ASSERT_TRUE(opened) << opened.errorMessage();
  auto exists = [](const std::string &p) {
    return access(p.c_str(), F_OK) == 0;
  };
  EXPECT_FALSE(exists(deadWriter));
  EXPECT_TRUE(exists(liveWriter));
  EXPECT_FALSE(exists(oldUnnamed));
  EXPECT_TRUE(exists(newUnnamed));
  // The cache works on: a hit from what this process stores.
  EXPECT_EQ(compileFresh(options(), smallConv()), "compiled");
  EXPECT_EQ(compileFresh(options(), smallConv()), "disk-cache");
}

TEST_F(KernelCache, TornEntryIsRecompiledNotRun) {
  DepthwiseConv2d op = smallConv();
  ASSERT_EQ(compileFresh(options(), op), "compiled");
  std::vector<std::string> files = entryFiles(dir);
  ASSERT_EQ(files.size(), 1u);
  std::string bytes = readFile(files[0]);
  for (size_t keep : {size_t(0), size_t(7), bytes.size() / 2,
                      bytes.size() - 1}) {
    writeFile(files[0], bytes.substr(0, keep));
    EXPECT_EQ(compileFresh(options(), op), "compiled") << "kept " << keep;
    // ...and the recompile overwrote it with a good entry.
    EXPECT_EQ(compileFresh(options(), op), "disk-cache");
  }
}

TEST_F(KernelCache, TamperedEntryIsRecompiledNotRun) {
  DepthwiseConv2d op = smallConv();
  ASSERT_EQ(compileFresh(options(), op), "compiled");
  std::vector<std::string> files = entryFiles(dir);
  ASSERT_EQ(files.size(), 1u);
  std::string bytes = readFile(files[0]);
  for (size_t at : {size_t(0), size_t(9), size_t(20), bytes.size() / 2,
                    bytes.size() - 40, bytes.size() - 1}) {
    std::string tampered = bytes;
    tampered[at] ^= 0x5a;
    writeFile(files[0], tampered);
    EXPECT_EQ(compileFresh(options(), op), "compiled") << "flipped " << at;
    // The recompile replaced it with a good entry.
    EXPECT_EQ(compileFresh(options(), op), "disk-cache") << "after " << at;
  }
  // An entry that is group-writable is not trusted either.
  ASSERT_EQ(chmod(files[0].c_str(), 0620), 0);
  EXPECT_EQ(compileFresh(options(), op), "compiled");
}

TEST_F(KernelCache, EveryByteIsChecked) {
  CacheEntry entry;
  entry.signature.entry = "main";
  entry.signature.symbol = "sym";
  entry.signature.source = "src";
  entry.signature.args = {ArgInfo{DType::f32, {2, 3}, false},
                          ArgInfo{DType::i32, {4}, true}};
  entry.signature.configs = {"#kjit.config<{}>"};
  entry.object = std::string(100, 'o');
  std::string bytes = runtime::encodeCacheEntry("key-1", entry);
  auto ok = runtime::decodeCacheEntry("key-1", bytes);
  ASSERT_TRUE(ok) << ok.errorMessage();
  EXPECT_TRUE(ok->signature.sameArgs(entry.signature));
  EXPECT_EQ(ok->object, entry.object);
  EXPECT_FALSE(runtime::decodeCacheEntry("key-2", bytes));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string t = bytes;
    t[i] ^= 1;
    ASSERT_FALSE(runtime::decodeCacheEntry("key-1", t)) << "byte " << i;
  }
  for (size_t n = 0; n < bytes.size(); ++n)
    ASSERT_FALSE(runtime::decodeCacheEntry("key-1", bytes.substr(0, n)));
}

TEST_F(KernelCache, ThreadsCompilingAtOnce) {
  Jit jit(Target::host(), options());
  constexpr int kThreads = 8;
  std::vector<std::string> origins(kThreads), errors(kThreads);
  std::vector<std::thread> threads;
  // Half compile the same kernel, half each their own.
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      DepthwiseConv2d op = smallConv(t % 2 ? 4 + t : 8);
      auto k = jit.compile(op);
      if (!k) {
        errors[t] = k.errorMessage();
        return;
      }
      origins[t] = k->origin();
      std::string err;
      double diff = runConvAndCompare(*k, op, unsigned(t), &err);
      if (diff < 0 || diff > 1e-4)
        errors[t] = "wrong result " + err;
    });
  for (auto &th : threads)
    th.join();
  int compiledShared = 0;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
    if (t % 2 == 0)
      compiledShared += origins[t] == "compiled";
    else
      EXPECT_EQ(origins[t], "compiled");
  }
  EXPECT_EQ(compiledShared, 1) << "the shared kernel is compiled once";
  EXPECT_EQ(entryFiles(dir).size(), size_t(1 + kThreads / 2));
}

namespace {
/// Starts the helper binary on `dir`; returns its pid.
pid_t spawnHelper(const std::string &dir, const char *mode) {
  std::string exe = KJIT_CACHE_HELPER;
  char *argv[] = {exe.data(), const_cast<char *>(dir.c_str()),
                  const_cast<char *>(mode), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, environ) != 0)
    return -1;
  return pid;
}
int waitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid)
    return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
} // namespace

TEST_F(KernelCache, TwoProcessesShareOneDirectory) {
  pid_t a = spawnHelper(dir, "any");
  pid_t b = spawnHelper(dir, "any");
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  EXPECT_EQ(waitExit(a), 0);
  EXPECT_EQ(waitExit(b), 0);
  // A third process finds every kernel on disk and compiles nothing.
  EXPECT_EQ(waitExit(spawnHelper(dir, "all-from-disk")), 0);
  for (const std::string &f : entryFiles(dir))
    EXPECT_EQ(f.find(".tmp-"), std::string::npos);
}
