//===- TestUtil.h - helpers shared by the runtime unit tests ---*- C++ -*-===//
#ifndef KJIT_TESTS_UNIT_TESTUTIL_H
#define KJIT_TESTS_UNIT_TESTUTIL_H

#include "kjit/kjit.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char **environ;

namespace kjit::test {

/// A fresh private directory under $TMPDIR; removed by the caller if wanted.
inline std::string makeScratchDir(const std::string &tag) {
  const char *tmp = getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/kjit-" + tag +
                     "-XXXXXX";
  if (!mkdtemp(tmpl.data()))
    return "";
  return tmpl;
}

inline std::string removeDir(const std::string &dir) {
  std::string cmd = "rm -rf '" + dir + "'";
  if (system(cmd.c_str()) != 0)
    return "cannot remove " + dir;
  return "";
}

/// The pid of a process that has ended (spawned and reaped here), as the
/// leftovers of a killed process carry it; -1 if none could be started.
inline pid_t deadPid() {
  char name[] = "true";
  char *argv[] = {name, nullptr};
  pid_t pid = -1;
  if (posix_spawnp(&pid, "true", nullptr, nullptr, argv, environ) != 0)
    return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return pid;
}

inline std::vector<float> randomVector(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(gen);
  return v;
}

/// Shapes of a DepthwiseConv2d's tensors (independent of the runtime's code).
struct ConvShapes {
  std::vector<int64_t> x, w, b, y;
  int64_t oh, ow;
};
inline ConvShapes convShapes(const DepthwiseConv2d &op) {
  ConvShapes s;
  s.oh = (op.height + op.padding[0] + op.padding[1] -
          op.dilations[0] * (op.kernel[0] - 1) - 1) /
             op.strides[0] +
         1;
  s.ow = (op.width + op.padding[2] + op.padding[3] -
          op.dilations[1] * (op.kernel[1] - 1) - 1) /
             op.strides[1] +
         1;
  bool nchw = op.layout == "nchw";
  s.x = nchw ? std::vector<int64_t>{op.batch, op.channels, op.height, op.width}
             : std::vector<int64_t>{op.batch, op.height, op.width, op.channels};
  s.y = nchw ? std::vector<int64_t>{op.batch, op.channels, s.oh, s.ow}
             : std::vector<int64_t>{op.batch, s.oh, s.ow, op.channels};
  s.w = {op.channels, op.kernel[0], op.kernel[1]};
  s.b = {op.channels};
  return s;
}

inline int64_t product(const std::vector<int64_t> &v) {
  int64_t n = 1;
  for (int64_t d : v)
    n *= d;
  return n;
}

/// Naive depthwise conv (PyTorch semantics), accumulated in double.
inline std::vector<float> referenceConv(const DepthwiseConv2d &op,
                                        const std::vector<float> &x,
                                        const std::vector<float> &w,
                                        const std::vector<float> *b) {
  ConvShapes s = convShapes(op);
  bool nchw = op.layout == "nchw";
  int64_t C = op.channels, H = op.height, W = op.width;
  std::vector<float> y(size_t(product(s.y)));
  for (int64_t n = 0; n < op.batch; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < s.oh; ++i)
        for (int64_t j = 0; j < s.ow; ++j) {
          double acc = b ? (*b)[c] : 0.0;
          for (int64_t p = 0; p < op.kernel[0]; ++p)
            for (int64_t q = 0; q < op.kernel[1]; ++q) {
              int64_t ih = i * op.strides[0] - op.padding[0] + p * op.dilations[0];
              int64_t iw = j * op.strides[1] - op.padding[2] + q * op.dilations[1];
              if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                continue;
              double xv = nchw ? x[((n * C + c) * H + ih) * W + iw]
                               : x[((n * H + ih) * W + iw) * C + c];
              acc += xv * w[(c * op.kernel[0] + p) * op.kernel[1] + q];
            }
          size_t at = nchw ? ((n * C + c) * s.oh + i) * s.ow + j
                           : ((n * s.oh + i) * s.ow + j) * C + c;
          y[at] = float(acc);
        }
  return y;
}

inline double maxAbsDiff(const std::vector<float> &a,
                         const std::vector<float> &b) {
  if (a.size() != b.size())
    return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

/// Runs a compiled conv on random data; returns the max error vs reference
/// (or a negative value and `error` set when run() failed).
inline double runConvAndCompare(const Kernel &k, const DepthwiseConv2d &op,
                                unsigned seed, std::string *error = nullptr) {
  ConvShapes s = convShapes(op);
  std::vector<float> x = randomVector(size_t(product(s.x)), seed);
  std::vector<float> w = randomVector(size_t(product(s.w)), seed + 1);
  std::vector<float> b = randomVector(size_t(product(s.b)), seed + 2);
  std::vector<float> y(size_t(product(s.y)), NAN);
  std::vector<TensorView> ins = {TensorView(x.data(), s.x),
                                 TensorView(w.data(), s.w)};
  if (op.bias)
    ins.emplace_back(b.data(), s.b);
  Status st = k.run(ins, {TensorView(y.data(), s.y)});
  if (!st) {
    if (error)
      *error = st.message();
    return -1;
  }
  return maxAbsDiff(y, referenceConv(op, x, w, op.bias ? &b : nullptr));
}

inline DepthwiseConv2d smallConv(int64_t channels = 8, int64_t k = 3) {
  DepthwiseConv2d op;
  op.batch = 1;
  op.channels = channels;
  op.height = 9;
  op.width = 7;
  op.kernel = {k, k};
  op.samePadding();
  return op;
}

} // namespace kjit::test

#endif
