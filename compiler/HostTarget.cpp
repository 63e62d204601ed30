//===- HostTarget.cpp - what the host CPU is and can do ------------------===//
#include "compiler/Compiler.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/TargetParser/X86TargetParser.h"

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

/// LLVM's feature string of the enabled features, sorted: "+avx,+avx2,...".
static std::string featureString(const llvm::StringMap<bool> &features) {
  std::vector<std::string> sorted;
  for (auto &kv : features)
    if (kv.second)
      sorted.push_back("+" + kv.first().str());
  std::sort(sorted.begin(), sorted.end());
  std::string joined;
  for (const std::string &f : sorted)
    joined += (joined.empty() ? "" : ",") + f;
  return joined;
}

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

/// x86 features of system instructions (power management, protection
/// keys, cache control, random numbers, state saving) that LLVM never
/// selects for ordinary code: a host without them still runs kjit's kernels.
static constexpr llvm::StringLiteral kSystemOnlyFeatures[] = {
    "cldemote", "clflushopt", "clwb",    "clzero",    "enqcmd",  "fsgsbase",
    "hreset",   "invpcid",    "kl",      "monitor",   "movdir64b", "movdiri",
    "mwaitx",   "pconfig",    "pku",     "ptwrite",   "rdpid",   "rdpru",
    "rdrnd",    "rdseed",     "rtm",     "serialize", "sgx",     "shstk",
    "tsxldtrk", "uintr",      "waitpkg", "wbnoinvd",  "widekl",  "xsave",
    "xsavec",   "xsaveopt",   "xsaves"};

/// LLVM's feature string for an x86 CPU name ("+avx,+avx2,..."), as host()
/// spells the host's; "" for a name LLVM does not know.
static std::string llvmFeaturesOf(const std::string &cpu) {
  if (llvm::X86::parseArchX86(cpu, /*Only64Bit=*/true) ==
      llvm::X86::CK_None)
    return "";
  // LLVM lists the CPU's own features; the implied ones (avx512bw implies
  // avx512f, avx2 avx, ...) are spelled out, as the host's detection does.
  llvm::SmallVector<llvm::StringRef> feats;
  llvm::X86::getFeaturesForCPU(cpu, feats, /*NeedPlus=*/false);
  llvm::StringMap<bool> all;
  for (llvm::StringRef f : feats) {
    all[f] = true;
    llvm::X86::updateImpliedFeatures(f, true, all);
  }
  return featureString(all);
}

/// A named target: LLVM's ISA for the CPU name, the host's caches and cores.
static CpuTarget namedTarget(const std::string &cpu,
                             const std::string &features) {
  CpuTarget t = targetFromNames(cpu, features);
  const CpuTarget &h = CpuTarget::host();
  t.info.l1dBytes = h.info.l1dBytes;
  t.info.l2Bytes = h.info.l2Bytes;
  t.info.numCores = h.info.numCores;
  return t;
}

CpuTarget CpuTarget::fromNames(const std::string &cpu,
                               const std::string &features) {
  // The host by name gets the host's measured caches, so that a compile
  // request that names the host (the runtime always names its target)
  // resolves the same configs as one that names nothing; so does a named
  // target (CpuTarget::named: a CPU with exactly LLVM's features for it).
  CpuTarget h = host();
  if (cpu == h.cpu && features == h.features)
    return h;
  if (!features.empty() && features == llvmFeaturesOf(cpu))
    return namedTarget(cpu, features);
  return targetFromNames(cpu, features);
}

std::string CpuTarget::acceptedNames() {
  return "host, x86-64-v3 (AVX2+FMA, 16 vector registers), x86-64-v4 "
         "(AVX-512F/BW/DQ/VL, 32 vector registers) or an LLVM x86-64 CPU "
         "name such as znver3, znver4, skylake-avx512 or sapphirerapids";
}

llvm::Expected<CpuTarget> CpuTarget::named(const std::string &name) {
  if (name.empty() || name == "host")
    return host();
  if (!llvm::Triple(host().triple).isX86())
    return llvm::createStringError(
        "CPU target '" + name + "': named CPU targets are x86-64 only; this "
        "host is " + host().triple + " (use host)");
  std::string features = llvmFeaturesOf(name);
  if (features.empty())
    return llvm::createStringError("unknown CPU target '" + name +
                                   "' (expected " + acceptedNames() + ")");
  return namedTarget(name, features);
}

std::vector<std::string> CpuTarget::missingOnHost() const {
  llvm::StringMap<bool> hostMap = llvm::sys::getHostCPUFeatures();
  std::vector<std::string> missing;
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(features).split(parts, ',', -1, false);
  for (llvm::StringRef f : parts) {
    if (!f.consume_front("+"))
      continue;
    // A feature the host's detection does not name (64bit, cx8, ...) is
    // part of the x86-64 baseline; system instructions LLVM emits only for
    // their intrinsics, which kjit's kernels do not call, cannot fault.
    auto it = hostMap.find(f);
    if (it != hostMap.end() && !it->second &&
        !llvm::is_contained(kSystemOnlyFeatures, f))
      missing.push_back(f.str());
  }
  return missing;
}

CpuTarget CpuTarget::host() {
  static const CpuTarget cached = [] {
    CpuTarget t =
        targetFromNames(llvm::sys::getHostCPUName().str(),
                        featureString(llvm::sys::getHostCPUFeatures()));
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
