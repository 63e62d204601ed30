//===- TestSupport.h - what every numerics test shares ---------*- C++ -*-===//
#ifndef KJIT_TESTS_INTEGRATION_TESTSUPPORT_H
#define KJIT_TESTS_INTEGRATION_TESTSUPPORT_H

#include "kjit/kjit.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace kjit::testing {

/// One seed per process: $KJIT_TEST_SEED to replay, else fresh. Tests print
/// it in every failure.
inline uint64_t baseSeed() {
  static uint64_t seed = [] {
    if (const char *s = std::getenv("KJIT_TEST_SEED"))
      return uint64_t(std::strtoull(s, nullptr, 0));
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
  }();
  return seed;
}

/// n values uniform in [-1, 1).
inline std::vector<float> randomVector(size_t n, std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &e : v)
    e = u(rng);
  return v;
}

/// The exit code of a test binary whose target this CPU cannot run (ctest's
/// SKIP_RETURN_CODE of the ISA-override entries).
constexpr int kTargetCannotRunHere = 77;

/// What the numerics tests compile for: $KJIT_TEST_CPU_TARGET names a CPU
/// target (kjit::Target::cpu: "x86-64-v3", ...), "other-isa" is the x86
/// ISA that is not the host's (x86-64-v3 on an AVX-512 host, x86-64-v4 on
/// an AVX2 one); unset or empty: the host.
inline const kjit::Target &testTarget() {
  static const kjit::Target target = [] {
    const char *env = std::getenv("KJIT_TEST_CPU_TARGET");
    std::string name = env ? env : "";
    if (name == "other-isa")
      name = kjit::Target::host().key().find("+avx512f") != std::string::npos
                 ? "x86-64-v3"
                 : "x86-64-v4";
    return name.empty() ? kjit::Target::host() : kjit::Target::cpu(name);
  }();
  return target;
}

/// testTarget() has AVX-512: 16-lane configs are legal for it.
inline bool targetHasAvx512() {
  return testTarget().key().find("+avx512f") != std::string::npos;
}

/// The Jit of testTarget(); memory cache on, disk cache off: the tests must
/// exercise the compiler, not an entry some earlier build left on disk. A
/// target this CPU cannot run ends the binary with kTargetCannotRunHere
/// (skipped; the ISA-override test compiles such targets without running).
/// A named target is said once ("kjit test: compiling for <key>").
inline kjit::Jit &sharedJit() {
  static kjit::Jit jit = [] {
    if (kjit::Status s = testTarget().check(); !s) {
      std::fprintf(stderr, "kjit test: skipped: %s\n", s.message().c_str());
      std::fflush(stderr);
      std::exit(kTargetCannotRunHere);
    }
    if (!testTarget().cpuName.empty())
      std::fprintf(stderr, "kjit test: compiling for %s\n",
                   testTarget().key().c_str());
    kjit::JitOptions o;
    o.diskCache = false;
    return kjit::Jit(testTarget(), o);
  }();
  return jit;
}

} // namespace kjit::testing

#endif
