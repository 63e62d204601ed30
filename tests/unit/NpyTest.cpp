//===- NpyTest.cpp - .npy reader/writer -----------------------------------===//
#include "TestUtil.h"
#include "kjit/npy.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace kjit;

namespace {
std::string header(const std::string &dict, int major = 1) {
  std::string h = "\x93NUMPY";
  h += char(major);
  h += char(0);
  std::string d = dict;
  size_t pre = major == 1 ? 10 : 12;
  d.append((64 - (pre + d.size() + 1) % 64) % 64, ' ');
  d += '\n';
  if (major == 1) {
    h += char(d.size() & 0xff);
    h += char(d.size() >> 8);
  } else {
    for (int i = 0; i < 4; ++i)
      h += char((d.size() >> (8 * i)) & 0xff);
  }
  return h + d;
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  memcpy(s.data(), v.begin(), s.size());
  return s;
}
} // namespace

TEST(Npy, RoundTripF32) {
  std::vector<float> v = test::randomVector(24, 1);
  TensorView view(v.data(), {2, 3, 4});
  std::string dir = test::makeScratchDir("npy");
  std::string path = dir + "/a.npy";
  ASSERT_TRUE(npy::write(path, view).isOk());
  auto a = npy::read(path);
  ASSERT_TRUE(a) << a.errorMessage();
  EXPECT_EQ(a->dtype, DType::f32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(memcmp(a->data(), v.data(), 24 * 4), 0);
  test::removeDir(dir);
}

TEST(Npy, RoundTripI32AndRanks) {
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{}, {5}, {1, 1}, {2, 0, 3}}) {
    std::vector<int32_t> v(size_t(test::product(shape)));
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = int32_t(i * 7 - 3);
    std::string bytes = npy::serialize(TensorView(v.data(), shape));
    EXPECT_EQ(bytes.size() % 64, v.size() * 4 % 64) << "header padded to 64";
    auto a = npy::parse(bytes, "mem");
    ASSERT_TRUE(a) << a.errorMessage();
    EXPECT_EQ(a->dtype, DType::i32);
    EXPECT_EQ(a->shape, shape);
    if (!v.empty())
      EXPECT_EQ(memcmp(a->data(), v.data(), v.size() * 4), 0);
  }
}

TEST(Npy, WritesStridedViewsInCOrder) {
  // A transposed 2x3 view of a 3x2 buffer.
  std::vector<float> buf = {0, 1, 2, 3, 4, 5};
  TensorView t(buf.data(), DType::f32, {2, 3}, {1, 2});
  auto a = npy::parse(npy::serialize(t), "mem");
  ASSERT_TRUE(a);
  const float *p = static_cast<const float *>(a->data());
  EXPECT_EQ(std::vector<float>(p, p + 6),
            (std::vector<float>{0, 2, 4, 1, 3, 5}));
}

TEST(Npy, ReadsVersion2Headers) {
  std::string bytes =
      header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 2) +
      floats({1.5f, -2.f});
  auto a = npy::parse(bytes, "v2");
  ASSERT_TRUE(a) << a.errorMessage();
  EXPECT_EQ(a->shape, std::vector<int64_t>{2});
  EXPECT_EQ(static_cast<const float *>(a->data())[1], -2.f);
}

TEST(Npy, MalformedFilesAreClearErrors) {
  auto err = [](const std::string &bytes) {
    auto a = npy::parse(bytes, "bad.npy");
    return a ? std::string("<no error>") : a.errorMessage();
  };
  EXPECT_NE(err("hello").find("bad magic"), std::string::npos);
  EXPECT_NE(err("").find("bad magic"), std::string::npos);
  std::string good =
      header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }");
  EXPECT_NE(err(good + floats({1, 2, 3})).find("truncated"), std::string::npos);
  EXPECT_NE(err(good.substr(0, 20)).find("truncated"), std::string::npos);
  EXPECT_NE(err(good + floats({1, 2, 3, 4, 5})).find("unexpected bytes"),
            std::string::npos);
  EXPECT_NE(
      err(header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }") +
          floats({1, 2, 3, 4}))
          .find("Fortran"),
      std::string::npos);
  EXPECT_NE(
      err(header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }") +
          floats({1, 2, 3, 4}))
          .find("'<f8' is not supported"),
      std::string::npos);
  EXPECT_NE(
      err(header("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }") +
          floats({1}))
          .find("not supported"),
      std::string::npos);
  EXPECT_NE(err(header("{'fortran_order': False, 'shape': (1,), }"))
                .find("descr"),
            std::string::npos);
  EXPECT_NE(
      err(header("{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }"))
          .find("shape"),
      std::string::npos);
  std::string v9 = good;
  v9[6] = 9;
  EXPECT_NE(err(v9).find("version 9"), std::string::npos);
}

TEST(Npy, MissingFileNamesThePath) {
  auto a = npy::read("/nonexistent/x.npy");
  ASSERT_FALSE(a);
  EXPECT_NE(a.errorMessage().find("/nonexistent/x.npy"), std::string::npos);
  EXPECT_FALSE(npy::write("/nonexistent/y.npy", TensorView()).isOk());
}

namespace {
std::string parseError(const std::string &bytes) {
  auto a = npy::parse(bytes, "h.npy");
  return a ? std::string("<no error>") : a.errorMessage();
}
bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}
} // namespace

TEST(Npy, HeaderTokenizerAcceptsWhatNumpyAccepts) {
  // Every dict here is one numpy.load accepts (see kjit_run_test.py, which
  // checks the same spellings against numpy itself).
  for (const char *dict : {
           "{'descr':\t'<f4',\t'fortran_order':\tFalse,\t'shape':\t(2,)}",
           "\t{'descr': '<f4', 'fortran_order': False,\n 'shape': (2,),\n}",
           "{'shape': (2,), \"fortran_order\": False, \"descr\": \"<f4\"}",
           "{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2L,)}",
           "{'descr': '<' 'f4', 'fortran_order': False, 'shape': (+2, )}",
           "{'descr': u'<f4', 'fortran_order': False, 'shape': (2,)} # c",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2,)}\f\r",
       }) {
    auto a = npy::parse(header(dict) + floats({1, 2}), "h.npy");
    ASSERT_TRUE(a) << dict << ": " << a.errorMessage();
    EXPECT_EQ(a->numElements(), 2) << dict;
    EXPECT_EQ(static_cast<const float *>(a->data())[1], 2.f) << dict;
  }
}

TEST(Npy, ShapeInsideAStringIsNeverTaken) {
  // The old scanner took the first "'shape'" anywhere in the text: here
  // the one inside a string, (1,), which matches the 4 data bytes.
  std::string extraKey =
      header("{'descr': '<f4', 'x': \"'shape': (1,)\", 'fortran_order': "
             "False, 'shape': (2, 2)}") +
      floats({1});
  EXPECT_TRUE(contains(parseError(extraKey), "unexpected key 'x'"))
      << parseError(extraKey);
  std::string inDescr =
      header("{'descr': \"'shape': (1,), '<f4\", 'fortran_order': False, "
             "'shape': (2, 2)}") +
      floats({1});
  EXPECT_TRUE(contains(parseError(inDescr), "is not supported"))
      << parseError(inDescr);
}

TEST(Npy, HeaderKeysMustBeExactlyTheThree) {
  EXPECT_TRUE(contains(
      parseError(header("{'descr': '<f4', 'fortran_order': False, "
                        "'shape': (1,), 'shape': (2,)}") +
                 floats({1})),
      "duplicate key 'shape'"));
  EXPECT_TRUE(contains(
      parseError(header("{'descr': '<f4', 'shape': (1,)}") + floats({1})),
      "no 'fortran_order'"));
  EXPECT_TRUE(contains(
      parseError(header("{'descr': '<f4', 'fortran_order': False}")),
      "no 'shape'"));
}

TEST(Npy, MalformedHeadersAreClearErrors) {
  auto err = [](const std::string &dict) {
    return parseError(header(dict) + floats({1, 2}));
  };
  const std::string pre = "{'descr': '<f4', 'fortran_order': False, ";
  EXPECT_TRUE(contains(err(pre + "'shape': (2)}"), "'shape' is not a tuple"));
  EXPECT_TRUE(contains(err(pre + "'shape': [2]}"), "'shape' is not a tuple"));
  EXPECT_TRUE(contains(err(pre + "'shape': (-2,)}"), "negative dimension"));
  EXPECT_TRUE(
      contains(err(pre + "'shape': (True,)}"), "other than an integer"));
  EXPECT_TRUE(contains(err(pre + "'shape': (02,)}"), "leading zero"));
  EXPECT_TRUE(contains(err(pre + "'shape': (0x2,)}"), "decimal integers"));
  EXPECT_TRUE(contains(err(pre + "'shape': (99999999999999999999,)}"),
                       "too large"));
  EXPECT_TRUE(contains(err(pre + "'shape': (2,),,}"), "unexpected ','"));
  EXPECT_TRUE(contains(err(pre + "'shape': (2,)} x"), "after the dict"));
  EXPECT_TRUE(contains(err("{'descr': '<f4, 'fortran_order': False}"),
                       "expected ',' or '}', found 'f'"));
  EXPECT_TRUE(contains(err("{'descr' '<f4'}"), "expected ':'"));
  EXPECT_TRUE(contains(err("{'descr': '<f4\n', 'fortran_order': False}"),
                       "unterminated string"));
  EXPECT_TRUE(contains(err(pre + "'shape': (2,), 'x': 1.5}"), "decimal"));
  EXPECT_TRUE(contains(err("\n{'descr': '<f4'}"), "not a dict literal"));
  EXPECT_TRUE(contains(err(std::string("{'descr': '<f4\0'}", 16)), "NUL"));
  EXPECT_TRUE(contains(err(pre + "'fortran_order': 0, 'shape': (2,)}"),
                       "duplicate key"));
  EXPECT_TRUE(contains(
      err("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}"),
      "'fortran_order' is not True or False"));
  EXPECT_TRUE(contains(
      err("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}"),
      "structured dtypes"));
  // Deep nesting is an error, not a stack overflow.
  EXPECT_TRUE(contains(err(pre + "'shape': " + std::string(60000, '(') + "}"),
                       "nesting deeper"));
}

TEST(Npy, HeaderLengthIsBounded) {
  std::string v2 = "\x93NUMPY";
  v2 += char(2);
  v2 += char(0);
  v2 += std::string("\xff\xff\xff\x7f", 4); // 2 GiB of header
  EXPECT_TRUE(contains(parseError(v2), "above the limit of 65535"))
      << parseError(v2);
}

TEST(Npy, ArraySizesAreCheckedNotAborted) {
  auto tooLarge = npy::Array::create(DType::f32, {int64_t(1) << 50});
  ASSERT_FALSE(tooLarge);
  EXPECT_TRUE(contains(tooLarge.errorMessage(), "1125899906842624 f32"));
  EXPECT_TRUE(contains(tooLarge.errorMessage(), "physical memory"))
      << tooLarge.errorMessage();
  auto overflow = npy::Array::create(
      DType::i32, {int64_t(1) << 40, int64_t(1) << 40, 16});
  ASSERT_FALSE(overflow);
  EXPECT_TRUE(contains(overflow.errorMessage(), "overflows"));
  auto negative = npy::Array::create(DType::f32, {2, -1});
  ASSERT_FALSE(negative);
  EXPECT_TRUE(contains(negative.errorMessage(), "negative"));
  // A zero dimension makes an empty array whatever the others are.
  auto empty =
      npy::Array::create(DType::f32, {0, int64_t(1) << 40, int64_t(1) << 40});
  ASSERT_TRUE(empty) << empty.errorMessage();
  EXPECT_EQ(empty->numElements(), 0);
  auto small = npy::Array::create(DType::i32, {3, 5});
  ASSERT_TRUE(small);
  const int32_t *p = static_cast<const int32_t *>(small->data());
  EXPECT_EQ(std::vector<int32_t>(p, p + 15), std::vector<int32_t>(15, 0));
  // Promised data above the limit: refused before reading it.
  EXPECT_TRUE(contains(
      parseError(header("{'descr': '<f4', 'fortran_order': False, "
                        "'shape': (1125899906842624,)}")),
      "physical memory"));
}

TEST(Npy, ReadingAStreamStopsAtThePromisedBytes) {
  // A FIFO whose writer would go on forever: read() takes the header, the
  // 8 promised bytes and one more, and stops. (The old reader read to the
  // end of the stream first, all 64 MiB of it here.)
  std::string dir = test::makeScratchDir("npy-fifo");
  std::string fifo = dir + "/endless.npy";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  signal(SIGPIPE, SIG_IGN); // the writer sees EPIPE when read() closes
  std::atomic<size_t> written{0};
  std::thread writer([&] {
    int fd = open(fifo.c_str(), O_WRONLY);
    if (fd < 0)
      return;
    std::string bytes =
        header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }") +
        floats({1, 2});
    std::string more(1 << 16, '\x42');
    while (written < (size_t(64) << 20)) {
      const std::string &chunk = written ? more : bytes;
      ssize_t n = ::write(fd, chunk.data(), chunk.size());
      if (n <= 0)
        break;
      written += size_t(n);
    }
    close(fd);
  });
  auto a = npy::read(fifo);
  writer.join();
  ASSERT_FALSE(a);
  EXPECT_TRUE(contains(a.errorMessage(), fifo + ": has unexpected bytes"))
      << a.errorMessage();
  // What the writer got in: what was read plus at most the pipe's buffer.
  EXPECT_LT(written.load(), size_t(4) << 20);
  test::removeDir(dir);
}

TEST(Npy, ReadingAnEndlessDeviceStopsAtTheMagic) {
  // The old reader read /dev/zero until memory ran out.
  auto a = npy::read("/dev/zero");
  ASSERT_FALSE(a);
  EXPECT_TRUE(contains(a.errorMessage(), "/dev/zero: not a .npy file"));
  auto dir = npy::read("/");
  ASSERT_FALSE(dir);
  EXPECT_TRUE(contains(dir.errorMessage(), "is a directory"));
}

TEST(Npy, RegularFilesOfTheWrongSizeAreRefusedBeforeReading) {
  // A sparse 64 GiB file whose header promises 8 bytes: refused from its
  // size (the old reader read all of it into memory first).
  std::string dir = test::makeScratchDir("npy-size");
  std::string path = dir + "/long.npy";
  {
    std::ofstream f(path, std::ios::binary);
    f << header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }")
      << floats({1, 2});
  }
  ASSERT_EQ(truncate(path.c_str(), off_t(64) << 30), 0);
  auto a = npy::read(path);
  ASSERT_FALSE(a);
  EXPECT_TRUE(contains(a.errorMessage(), "unexpected bytes after the data"))
      << a.errorMessage();
  // Shorter than the 4 GiB its header promises.
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << header("{'descr': '<f4', 'fortran_order': False, "
                "'shape': (1073741824,), }")
      << floats({1, 2});
  }
  auto b = npy::read(path);
  ASSERT_FALSE(b);
  EXPECT_TRUE(contains(b.errorMessage(),
                       "needs 4294967296 bytes of data, the file has 8"))
      << b.errorMessage();
  test::removeDir(dir);
}

namespace {
std::string fileText(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
std::vector<std::string> dirEntries(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
        names.push_back(e->d_name);
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}
} // namespace

TEST(Npy, AFailedWriteLeavesNoPartialFile) {
  // A write that fails half-way (RLIMIT_FSIZE: EFBIG past 1000 bytes), in
  // a child so that the limit stays there. The old writer truncated the
  // existing file and left the first 1000 bytes of the new one.
  std::string dir = test::makeScratchDir("npy-write");
  std::string path = dir + "/out.npy";
  { std::ofstream(path) << "the previous output"; }
  std::vector<float> v(4096, 1.5f);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    signal(SIGXFSZ, SIG_IGN);
    rlimit limit = {1000, 1000};
    setrlimit(RLIMIT_FSIZE, &limit);
    Status s = npy::write(path, TensorView(v.data(), {64, 64}));
    _exit(!s && contains(s.message(), "File too large") ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the write did not fail with EFBIG";
  EXPECT_EQ(fileText(path), "the previous output");
  EXPECT_EQ(dirEntries(dir), std::vector<std::string>{"out.npy"});

  // A destination directory that does not exist: an error, nothing made.
  Status s = npy::write(dir + "/no/such/dir/y.npy", TensorView(v.data(), {2}));
  ASSERT_FALSE(s);
  EXPECT_TRUE(contains(s.message(), dir + "/no/such/dir/y.npy"));
  EXPECT_TRUE(contains(s.message(), "No such file or directory"));
  // /dev/full: written directly (not replaced), the failure reported.
  Status full = npy::write("/dev/full", TensorView(v.data(), {2}));
  ASSERT_FALSE(full);
  EXPECT_TRUE(contains(full.message(), "No space left on device"))
      << full.message();
  test::removeDir(dir);
}

TEST(Npy, PendingWritesReplaceOnlyOnCommit) {
  std::string dir = test::makeScratchDir("npy-pending");
  std::string path = dir + "/out.npy", link = dir + "/link.npy";
  { std::ofstream(path) << "old"; }
  ASSERT_EQ(symlink("out.npy", link.c_str()), 0);
  std::vector<float> v = {1, 2, 3};
  {
    auto pending = npy::PendingWrite::start(link, TensorView(v.data(), {3}));
    ASSERT_TRUE(pending) << pending.errorMessage();
    EXPECT_EQ(fileText(path), "old");
    EXPECT_EQ(dirEntries(dir).size(), 3u) << "a temporary beside the target";
  } // dropped without commit: the temporary goes, the file stays
  EXPECT_EQ(fileText(path), "old");
  EXPECT_EQ(dirEntries(dir), (std::vector<std::string>{"link.npy", "out.npy"}));
  auto pending = npy::PendingWrite::start(link, TensorView(v.data(), {3}));
  ASSERT_TRUE(pending);
  ASSERT_TRUE(pending->commit().isOk());
  // The link still points at out.npy, which now holds the array.
  char target[64] = {};
  ASSERT_GT(readlink(link.c_str(), target, sizeof(target) - 1), 0);
  EXPECT_STREQ(target, "out.npy");
  auto a = npy::read(path);
  ASSERT_TRUE(a) << a.errorMessage();
  EXPECT_EQ(static_cast<const float *>(a->data())[2], 3.f);
  EXPECT_EQ(dirEntries(dir), (std::vector<std::string>{"link.npy", "out.npy"}));
  test::removeDir(dir);
}
