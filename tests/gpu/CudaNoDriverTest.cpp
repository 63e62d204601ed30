//===- CudaNoDriverTest.cpp - CUDA targets on a machine without a driver --===//
//
// KJIT_CUDA_DRIVER names a library that exists nowhere, so these run the
// same on machines with and without a GPU: every CUDA entry point gives an
// error starting "no CUDA driver", and the host object for a CUDA target is
// still built (only loading and launching it need the driver).
//
//===----------------------------------------------------------------------===//
#include "CudaExecutor.h"
#include "compiler/Compiler.h"
#include "kjit/kjit.h"

#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

using namespace kjit;

namespace {
const char *kMissing = "libkjit-no-such-cuda.so.1";

struct NoDriverEnv : ::testing::Environment {
  void SetUp() override { setenv("KJIT_CUDA_DRIVER", kMissing, 1); }
};
const auto *env = ::testing::AddGlobalTestEnvironment(new NoDriverEnv);

bool startsWithNoDriver(const std::string &msg) {
  return msg.find("no CUDA driver: cannot load libkjit-no-such-cuda.so.1") !=
         std::string::npos;
}

const char *kDwModule = R"(
func.func @main(%x: tensor<1x13x17x40xf32>, %w: tensor<40x7x7xf32>, %b: tensor<40xf32>) -> tensor<1x13x17x40xf32> {
  %y = kjit.depthwise_conv2d %x, %w, %b {padding = array<i64: 3, 3, 3, 3>} : tensor<1x13x17x40xf32>, tensor<40x7x7xf32>, tensor<40xf32> -> tensor<1x13x17x40xf32>
  return %y : tensor<1x13x17x40xf32>
}
)";

/// Defined and undefined symbol names of an ELF object.
struct Symbols {
  std::set<std::string> defined, undefined;
};
Symbols symbolsOf(const std::string &object) {
  Symbols out;
  auto buf = llvm::MemoryBuffer::getMemBuffer(object, "kernel.o", false);
  auto obj = llvm::object::ObjectFile::createObjectFile(buf->getMemBufferRef());
  if (!obj) {
    ADD_FAILURE() << "not an object file: " << llvm::toString(obj.takeError());
    return out;
  }
  for (const llvm::object::SymbolRef &s : (*obj)->symbols()) {
    auto name = s.getName();
    auto flags = s.getFlags();
    if (!name || !flags) {
      if (!name)
        llvm::consumeError(name.takeError());
      if (!flags)
        llvm::consumeError(flags.takeError());
      continue;
    }
    if (*flags & llvm::object::SymbolRef::SF_Undefined)
      out.undefined.insert(name->str());
    else
      out.defined.insert(name->str());
  }
  return out;
}
} // namespace

TEST(CudaNoDriver, JitCompileSaysNoCudaDriver) {
  JitOptions o;
  o.diskCache = false;
  Jit jit(Target::cuda(0), o);
  auto k = jit.compileModule(kDwModule);
  ASSERT_FALSE(bool(k));
  EXPECT_TRUE(startsWithNoDriver(k.errorMessage())) << k.errorMessage();
  DepthwiseConv2d op;
  op.channels = 8, op.height = 9, op.width = 9;
  auto k2 = jit.compile(op);
  ASSERT_FALSE(bool(k2));
  EXPECT_TRUE(startsWithNoDriver(k2.errorMessage())) << k2.errorMessage();
}

TEST(CudaNoDriver, DeviceBufferSaysNoCudaDriver) {
  auto b = DeviceBuffer::allocate(1024);
  ASSERT_FALSE(bool(b));
  EXPECT_TRUE(startsWithNoDriver(b.errorMessage())) << b.errorMessage();
}

TEST(CudaNoDriver, TargetKeyWithoutDriver) {
  EXPECT_EQ(Target::cuda(0).key(), "cuda:0;no-driver");
  EXPECT_EQ(Target::cuda(3).key(), "cuda:3;no-driver");
}

TEST(CudaNoDriver, DeviceQuerySaysNoCudaDriver) {
  auto n = runtime::cudaDeviceCount();
  ASSERT_FALSE(bool(n));
  EXPECT_TRUE(startsWithNoDriver(llvm::toString(n.takeError())));
  auto scope = std::make_unique<runtime::CudaLaunchScope>(0);
  llvm::Error e = scope->finish();
  ASSERT_TRUE(bool(e));
  EXPECT_TRUE(startsWithNoDriver(llvm::toString(std::move(e))));
}

TEST(CudaNoDriver, CpuKernelRejectsDeviceViews) {
  Jit jit(Target::host(), [] {
    JitOptions o;
    o.diskCache = false;
    return o;
  }());
  auto k = jit.compileModule(kDwModule);
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  std::vector<float> x(13 * 17 * 40), w(40 * 49), b(40), y(13 * 17 * 40);
  TensorView xv(x.data(), {1, 13, 17, 40});
  xv.memory = Memory::Device;
  Status s = k->run({xv, TensorView(w.data(), {40, 7, 7}),
                     TensorView(b.data(), {40})},
                    {TensorView(y.data(), {1, 13, 17, 40})});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("device tensor view passed to a CPU kernel"),
            std::string::npos)
      << s.message();
}

// The host object of a CUDA target is built without a driver: PTX embedded
// (loaded by the driver's JIT) or a cubin from ptxas, the packed entry, the
// module-load function, and calls to the mgpu* runtime functions kjit
// binds when it links the object.
TEST(CudaNoDriver, HostObjectBuildsWithoutDriver) {
  compiler::CompileRequest req;
  req.mlirText = kDwModule;
  req.target = compiler::CpuTarget::host();
  req.cudaChip = "sm_90";
  auto prep = compiler::prepare(req);
  ASSERT_TRUE(bool(prep)) << llvm::toString(prep.takeError());
  std::vector<compiler::CudaBinaryFormat> formats = {
      compiler::CudaBinaryFormat::PTX};
  if (!compiler::ptxasPath().empty())
    formats.push_back(compiler::CudaBinaryFormat::Cubin);
  else
    std::cerr << "no ptxas: the cubin variant is not checked\n";
  for (auto format : formats) {
    bool cubin = format == compiler::CudaBinaryFormat::Cubin;
    SCOPED_TRACE(cubin ? "cubin" : "ptx");
    auto art = compiler::generateCuda(*prep, "sm_90", req.target, format);
    ASSERT_TRUE(bool(art)) << llvm::toString(art.takeError());
    EXPECT_EQ(art->deviceCode, cubin ? "cubin" : "ptx");
    EXPECT_EQ(art->symbol, "kjit_packed_main");
    EXPECT_EQ(art->initSymbol, "kjit_init_main");
    Symbols syms = symbolsOf(art->object);
    EXPECT_TRUE(syms.defined.count("kjit_packed_main"));
    EXPECT_TRUE(syms.defined.count("kjit_init_main"));
    EXPECT_TRUE(syms.defined.count("kjit_fini_main"));
    EXPECT_TRUE(syms.undefined.count(cubin ? "mgpuModuleLoad"
                                           : "mgpuModuleLoadJIT"));
    EXPECT_TRUE(syms.undefined.count("mgpuModuleGetFunction"));
    EXPECT_TRUE(syms.undefined.count("mgpuLaunchKernel"));
    // Every mgpu* function the object needs is one kjit implements.
    std::set<std::string> provided;
    for (auto &[name, addr] : runtime::cudaRuntimeSymbols())
      provided.insert(name);
    for (const std::string &u : syms.undefined)
      if (u.rfind("mgpu", 0) == 0)
        EXPECT_TRUE(provided.count(u)) << u << " is not implemented";
    // No static constructors are left for ORC to (not) run.
    EXPECT_EQ(art->object.find(".init_array"), std::string::npos);
    // The kernel itself is in the object (PTX text, or the cubin's ELF).
    EXPECT_NE(art->object.find(cubin ? "\x7f" "ELF" : ".visible .entry",
                               /*past the host object's own header*/ 4),
              std::string::npos);
  }
}

TEST(CudaNoDriver, HostObjectForUnknownChipIsAnError) {
  compiler::CompileRequest req;
  req.mlirText = kDwModule;
  req.target = compiler::CpuTarget::host();
  req.cudaChip = "sm_90";
  auto prep = compiler::prepare(req);
  ASSERT_TRUE(bool(prep)) << llvm::toString(prep.takeError());
  auto art = compiler::generateCuda(*prep, "sm_37", req.target,
                                    compiler::CudaBinaryFormat::PTX);
  ASSERT_FALSE(bool(art));
  EXPECT_NE(llvm::toString(art.takeError()).find("unknown CUDA chip 'sm_37'"),
            std::string::npos);
}

// Emulation objects (test only: LLVM bitcode for tests/gpu/EmuCudaDriver)
// have a cache key of their own, so a real GPU is never served one, and
// load through mgpuModuleLoad(data, size).
TEST(CudaNoDriver, EmulationObjectHasItsOwnKey) {
  compiler::CompileRequest req;
  req.mlirText = kDwModule;
  req.target = compiler::CpuTarget::host();
  req.cudaChip = "sm_90";
  auto real = compiler::prepare(req);
  ASSERT_TRUE(bool(real)) << llvm::toString(real.takeError());
  req.gpuEmulate = true;
  auto emu = compiler::prepare(req);
  ASSERT_TRUE(bool(emu)) << llvm::toString(emu.takeError());
  EXPECT_TRUE(emu->gpuEmulate);
  EXPECT_FALSE(real->gpuEmulate);
  EXPECT_NE(emu->cacheKey, real->cacheKey);
  EXPECT_EQ(emu->workloadKey, real->workloadKey);
  auto art = compiler::generateCuda(*emu, "sm_90", req.target);
  ASSERT_TRUE(bool(art)) << llvm::toString(art.takeError());
  EXPECT_EQ(art->deviceCode, "llvm");
  Symbols syms = symbolsOf(art->object);
  EXPECT_TRUE(syms.undefined.count("mgpuModuleLoad"));
  EXPECT_FALSE(syms.undefined.count("mgpuModuleLoadJIT"));
  // The bitcode magic, not PTX.
  EXPECT_NE(art->object.find("BC\xC0\xDE"), std::string::npos);
  EXPECT_EQ(art->object.find(".visible .entry"), std::string::npos);
  // The compiler key says so while KJIT_GPU_EMULATE=1.
  std::string plain = compiler::compilerKey();
  setenv("KJIT_GPU_EMULATE", "1", 1);
  std::string emulated = compiler::compilerKey();
  unsetenv("KJIT_GPU_EMULATE");
  EXPECT_EQ(emulated, plain + ";gpu-emulate");
}
