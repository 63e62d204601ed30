//===- HostTarget.cpp - what the host CPU is and can do ------------------===//
#include "compiler/Compiler.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <algorithm>
#include <sched.h>
#include <thread>
#include <vector>

using namespace kjit;
using namespace kjit::compiler;

namespace {
/// Cache size in bytes from sysfs ("48K", "2048K"), or 0.
uint64_t readCacheSize(int index) {
  std::string path = "/sys/devices/system/cpu/cpu0/cache/index" +
                     std::to_string(index) + "/size";
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return 0;
  // sysfs files read as a whole page: "32K\n" then NULs.
  llvm::StringRef s = (*buf)->getBuffer().take_until(
      [](char c) { return c == '\n' || c == '\0'; });
  s = s.trim();
  uint64_t mult = 1;
  if (s.consume_back("K"))
    mult = 1024;
  else if (s.consume_back("M"))
    mult = 1024 * 1024;
  uint64_t v = 0;
  if (s.getAsInteger(10, v))
    return 0;
  return v * mult;
}

unsigned usableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

TargetInfo infoFromFeatures(llvm::StringRef features) {
  TargetInfo info;
  llvm::SmallVector<llvm::StringRef> parts;
  features.split(parts, ',', -1, false);
  auto has = [&](llvm::StringRef f) {
    return llvm::is_contained(parts, ("+" + f).str());
  };
  info.hasAVX2 = has("avx2");
  info.hasFMA = has("fma");
  info.hasAVX512 = has("avx512f");
  info.vectorBits = info.hasAVX512 ? 512 : (has("avx") ? 256 : 128);
  info.numVectorRegisters = info.hasAVX512 ? 32 : 16;
  // Peak fp32 FMA flop per cycle per core, at a nominal 2.5 GHz: two FMA
  // pipes of vectorBits/32 lanes, 2 flop each (the cost model's roofline).
  double lanes = info.vectorBits / 32.0;
  info.peakGflopsPerCore = 2.0 * 2.0 * lanes * 2.5 * (info.hasFMA ? 1 : 0.5);
  info.dramGBs = 12.0;
  return info;
}
} // namespace

static CpuTarget targetFromNames(const std::string &cpu,
                                 const std::string &features) {
  CpuTarget t;
  t.triple = llvm::sys::getDefaultTargetTriple();
  t.cpu = cpu;
  t.features = features;
  t.info = infoFromFeatures(features);
  t.info.l1dBytes = 48 * 1024;
  t.info.l2Bytes = 2 * 1024 * 1024;
  t.info.numCores = usableCores();
  return t;
}

CpuTarget CpuTarget::fromNames(const std::string &cpu,
                               const std::string &features) {
  // The host by name gets the host's measured caches, so that a compile
  // request that names the host (the runtime always names its target)
  // resolves the same configs as one that names nothing.
  CpuTarget h = host();
  if (cpu == h.cpu && features == h.features)
    return h;
  return targetFromNames(cpu, features);
}

CpuTarget CpuTarget::host() {
  static const CpuTarget cached = [] {
    llvm::StringMap<bool> map = llvm::sys::getHostCPUFeatures();
    std::vector<std::string> feats;
    for (auto &kv : map)
      if (kv.second)
        feats.push_back("+" + kv.first().str());
    std::sort(feats.begin(), feats.end());
    std::string joined;
    for (const std::string &f : feats)
      joined += (joined.empty() ? "" : ",") + f;
    CpuTarget t = targetFromNames(llvm::sys::getHostCPUName().str(), joined);
    if (uint64_t l1 = readCacheSize(0))
      t.info.l1dBytes = l1;
    if (uint64_t l2 = readCacheSize(2))
      t.info.l2Bytes = l2;
    return t;
  }();
  return cached;
}

std::string CpuTarget::key() const {
  return "cpu=" + cpu + ";triple=" + triple + ";features=" + features +
         ";l1d=" + std::to_string(info.l1dBytes) +
         ";l2=" + std::to_string(info.l2Bytes) +
         ";cores=" + std::to_string(info.numCores);
}
