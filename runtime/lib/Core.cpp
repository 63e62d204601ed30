//===- Core.cpp - dtypes, tensor views, targets, versions -----------------===//
#include "CudaExecutor.h"
#include "RuntimeInternal.h"
#include "compiler/Compiler.h"

#include "llvm/Config/llvm-config.h"

#include <mutex>

using namespace kjit;

const char *kjit::dtypeName(DType t) {
  switch (t) {
  case DType::f32:
    return "f32";
  case DType::i32:
    return "i32";
  }
  return "unknown";
}

size_t kjit::dtypeSize(DType t) {
  switch (t) {
  case DType::f32:
  case DType::i32:
    return 4;
  }
  return 0;
}

std::string kjit::runtime::shapeString(const std::vector<int64_t> &shape) {
  if (shape.empty())
    return "scalar";
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += "x";
    s += std::to_string(shape[i]);
  }
  return s;
}

int64_t TensorView::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::vector<int64_t> TensorView::contiguousStrides() const {
  std::vector<int64_t> s(shape.size());
  int64_t running = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = running;
    running *= shape[i];
  }
  return s;
}

bool TensorView::isContiguous() const {
  if (strides.empty())
    return true;
  if (strides.size() != shape.size())
    return false;
  // Strides of size-1 dimensions never matter (numpy does the same).
  std::vector<int64_t> want = contiguousStrides();
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1 && strides[i] != want[i])
      return false;
  return true;
}

DepthwiseConv2d &DepthwiseConv2d::samePadding() {
  int64_t ph = (kernel[0] - 1) * dilations[0] / 2;
  int64_t pw = (kernel[1] - 1) * dilations[1] / 2;
  padding = {ph, ph, pw, pw};
  return *this;
}

Target Target::host() { return Target{Kind::CPU, 0, ""}; }

Target Target::cpu(const std::string &name) {
  return Target{Kind::CPU, 0, name == "host" ? "" : name};
}

Target Target::cuda(int ordinal) { return Target{Kind::CUDA, ordinal}; }

/// Host detection asks LLVM about the CPU; do it once per process.
static const compiler::CpuTarget &hostCpuTarget() {
  static std::once_flag once;
  static compiler::CpuTarget *target;
  std::call_once(once,
                 [] { target = new compiler::CpuTarget(compiler::CpuTarget::host()); });
  return *target;
}

namespace kjit::runtime {
const compiler::CpuTarget &hostCpu() { return hostCpuTarget(); }

llvm::Expected<compiler::CpuTarget> cpuTargetOf(const Target &target) {
  if (target.cpuName.empty())
    return hostCpuTarget();
  return compiler::CpuTarget::named(target.cpuName);
}

static llvm::Error checkRunsOnHost(const compiler::CpuTarget &cpu) {
  std::vector<std::string> missing = cpu.missingOnHost();
  if (missing.empty())
    return llvm::Error::success();
  std::string list;
  for (const std::string &f : missing)
    list += (list.empty() ? "" : ", ") + f;
  return llvm::createStringError(
      "CPU target '" + cpu.cpu + "' cannot run on this host (" +
      hostCpuTarget().cpu + "): it lacks " + list +
      "; compile for a target this CPU has (host, x86-64-v3, ...)");
}
} // namespace kjit::runtime

std::string Target::key() const {
  if (kind == Kind::CUDA) {
    auto info = runtime::cudaDeviceInfo(ordinal);
    if (!info) {
      llvm::consumeError(info.takeError());
      return "cuda:" + std::to_string(ordinal) + ";no-driver";
    }
    return runtime::cudaTargetKey(*info);
  }
  auto cpu = runtime::cpuTargetOf(*this);
  if (!cpu) {
    llvm::consumeError(cpu.takeError());
    return "cpu:" + cpuName + ";unknown";
  }
  return cpu->key();
}

Status Target::check() const {
  if (kind == Kind::CUDA)
    return Status::ok();
  auto cpu = runtime::cpuTargetOf(*this);
  if (!cpu)
    return runtime::toStatus(cpu.takeError());
  if (llvm::Error e = runtime::checkRunsOnHost(*cpu))
    return runtime::toStatus(std::move(e));
  return Status::ok();
}

TensorView TensorView::onDevice(void *data, DType dtype,
                                std::vector<int64_t> shape, int device) {
  TensorView v(data, dtype, std::move(shape));
  v.memory = Memory::Device;
  v.device = device;
  return v;
}

Result<DeviceBuffer> DeviceBuffer::allocate(size_t bytes, int device) {
  auto p = runtime::cudaAlloc(device, bytes);
  if (!p)
    return runtime::toStatus(p.takeError());
  DeviceBuffer b;
  b.ptr_ = uintptr_t(*p);
  b.bytes_ = bytes;
  b.device_ = device;
  return b;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_)
    llvm::consumeError(runtime::cudaFree(device_, ptr_));
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&o) noexcept
    : ptr_(o.ptr_), bytes_(o.bytes_), device_(o.device_) {
  o.ptr_ = 0;
  o.bytes_ = 0;
}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&o) noexcept {
  if (this != &o) {
    if (ptr_)
      llvm::consumeError(runtime::cudaFree(device_, ptr_));
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    device_ = o.device_;
    o.ptr_ = 0;
    o.bytes_ = 0;
  }
  return *this;
}

Status DeviceBuffer::copyFromHost(const void *src, size_t bytes) {
  if (bytes > bytes_)
    return runtime::userError("copyFromHost: " + std::to_string(bytes) +
                              " bytes into a " + std::to_string(bytes_) +
                              "-byte device buffer");
  if (bytes && !src)
    return runtime::userError("copyFromHost: null source");
  if (llvm::Error e = runtime::cudaCopyToDevice(device_, ptr_, src, bytes))
    return runtime::toStatus(std::move(e));
  return Status::ok();
}

Status DeviceBuffer::copyToHost(void *dst, size_t bytes) const {
  if (bytes > bytes_)
    return runtime::userError("copyToHost: " + std::to_string(bytes) +
                              " bytes from a " + std::to_string(bytes_) +
                              "-byte device buffer");
  if (bytes && !dst)
    return runtime::userError("copyToHost: null destination");
  if (llvm::Error e = runtime::cudaCopyToHost(device_, dst, ptr_, bytes))
    return runtime::toStatus(std::move(e));
  return Status::ok();
}

TensorView DeviceBuffer::view(DType dtype, std::vector<int64_t> shape) const {
  return TensorView::onDevice(data(), dtype, std::move(shape), device_);
}

std::string kjit::version() {
  return "kjit " + std::string(KJIT_VERSION_STRING) + " (LLVM " +
         LLVM_VERSION_STRING + ")";
}

std::string kjit::compilerKey() { return compiler::compilerKey(); }

std::string kjit::tuningEpoch() { return compiler::tuningEpoch(); }
