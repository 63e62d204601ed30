//===- Jit.cpp - Jit, Kernel and the compile flow -------------------------===//
//
// compile: descriptor -> MLIR text -> compiler::prepare (parse, verify,
// resolve configs, key) -> memory cache -> disk cache -> compiler::generate
// -> disk store -> CpuExecutor::loadObject. Target::cuda: configs for the
// device's chip, compiler::generateCuda, the object linked with kjit's mgpu*
// functions (CudaDriver.cpp) and its device code loaded on the device;
// Kernel::run stages host views through device memory.
//
//===----------------------------------------------------------------------===//
#include "CpuExecutor.h"
#include "CudaExecutor.h"
#include "KernelCache.h"
#include "KernelErrors.h"
#include "MeasureWorker.h"
#include "OnlineTuning.h"
#include "OpText.h"
#include "RuntimeInternal.h"
#include "Selection.h"
#include "compiler/Compiler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>

using namespace kjit;
using namespace kjit::runtime;

namespace kjit::runtime {
const compiler::CpuTarget &hostCpu(); // Core.cpp
llvm::Expected<compiler::CpuTarget> cpuTargetOf(const Target &target);
} // namespace kjit::runtime

//===----------------------------------------------------------------------===//
// Kernel
//===----------------------------------------------------------------------===//

namespace {
/// Loaded code plus its signature; shared by every Kernel handle to it, by
/// the runs in flight on it and by the memory cache. The code is unloaded
/// when the last of them lets go.
struct LoadedKernel {
  LoadedKernel() = default;
  ~LoadedKernel();
  LoadedKernel(const LoadedKernel &) = delete;
  LoadedKernel &operator=(const LoadedKernel &) = delete;

  PackedFn fn = nullptr;
  std::vector<ArgInfo> inputs, outputs;
  std::vector<std::string> configs;
  std::string source;
  Target target;
  /// CUDA: the device error records (cuda::kErrorRecordSymbol) of the
  /// modules the kernel loaded; empty for ops that report no errors.
  std::vector<uint64_t> gpuErrorRecords;
  /// Serializes runs of a kernel with error records: a record is one per
  /// module and device, so two runs in flight at once (two threads, two
  /// streams) would clear and read each other's reports.
  mutable std::mutex gpuErrorMutex;
  /// The host code (CPU kernels, and the host side of CUDA ones).
  std::unique_ptr<LoadedObject> object;
  /// CUDA: the device modules the kernel's init function loaded.
  std::vector<void *> cudaModules;
};

LoadedKernel::~LoadedKernel() {
  // The device code first (the host code holds its handles), then the host
  // code, when `object` dies. A failed unload (e.g. the driver already shut
  // down at process exit) leaves device memory that the driver reclaims
  // with the context: nothing to report.
  for (void *module : cudaModules)
    llvm::consumeError(cudaUnloadModule(target.ordinal, module));
}
} // namespace

namespace kjit {
/// A kernel's code and what describes it. On-line tuning publishes new
/// versions. A run holds the code it started with (a shared_ptr) until it
/// returns, so a swap never pulls code from under a run in flight, and code
/// that is neither current nor running is unloaded (memory stays bounded
/// however often code is swapped). The descriptions (configs(),
/// configSources(), origin(), source()) are kept for the kernel's life, so
/// that the references those return stay valid: once per distinct text (a
/// kernel has a few: default, tuning state, tuned).
class KernelImpl {
public:
  struct Version {
    std::shared_ptr<const LoadedKernel> loaded;
    std::string origin;
    std::vector<std::string> sources; ///< per op: where its config came from
  };
  struct Description {
    std::string origin;
    std::vector<std::string> sources, configs;
    std::string source;
    bool operator==(const Description &) const = default;
  };
  KernelImpl(std::shared_ptr<const LoadedKernel> loaded, std::string origin,
             std::vector<std::string> sources = {})
      : inputs_(loaded->inputs), outputs_(loaded->outputs),
        target_(loaded->target) {
    publish(Version{std::move(loaded), std::move(origin), std::move(sources)});
  }
  /// The code of every later run (versions share the signature).
  std::shared_ptr<const LoadedKernel> code() const {
    std::lock_guard<std::mutex> lock(mu_);
    return code_;
  }
  const Description &description() const {
    return *description_.load(std::memory_order_acquire);
  }
  Version current() const {
    std::lock_guard<std::mutex> lock(mu_);
    const Description &d = *description_.load(std::memory_order_relaxed);
    return Version{code_, d.origin, d.sources};
  }
  const std::vector<ArgInfo> &inputs() const { return inputs_; }
  const std::vector<ArgInfo> &outputs() const { return outputs_; }
  const Target &target() const { return target_; }
  /// Makes `v` the code and description of every later call (atomic swap).
  void publish(Version v) {
    Description d{std::move(v.origin), std::move(v.sources), v.loaded->configs,
                  v.loaded->source};
    std::shared_ptr<const LoadedKernel> previous = std::move(v.loaded);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = std::find_if(
          descriptions_.begin(), descriptions_.end(),
          [&](const std::unique_ptr<Description> &p) { return *p == d; });
      if (it == descriptions_.end()) {
        descriptions_.push_back(std::make_unique<Description>(std::move(d)));
        it = std::prev(descriptions_.end());
      }
      code_.swap(previous);
      description_.store(it->get(), std::memory_order_release);
    }
    // The replaced code is unloaded here (outside the lock) unless a run
    // still holds it; then when that run returns.
  }
  void startTuning() {
    std::lock_guard<std::mutex> lock(mu_);
    tuning_ = true;
  }
  void endTuning() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tuning_ = false;
    }
    cv_.notify_all();
  }
  bool tuning() const {
    std::lock_guard<std::mutex> lock(mu_);
    return tuning_;
  }
  bool waitForTuning(double timeoutSeconds) const {
    std::unique_lock<std::mutex> lock(mu_);
    if (timeoutSeconds < 0) {
      cv_.wait(lock, [&] { return !tuning_; });
      return true;
    }
    return cv_.wait_for(lock, std::chrono::duration<double>(timeoutSeconds),
                        [&] { return !tuning_; });
  }

private:
  const std::vector<ArgInfo> inputs_, outputs_;
  const Target target_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool tuning_ = false;
  std::shared_ptr<const LoadedKernel> code_;
  std::vector<std::unique_ptr<Description>> descriptions_;
  std::atomic<const Description *> description_{nullptr};
};
} // namespace kjit

Kernel::Kernel(std::shared_ptr<KernelImpl> impl) : impl_(std::move(impl)) {}
const std::vector<ArgInfo> &Kernel::inputs() const { return impl_->inputs(); }
const std::vector<ArgInfo> &Kernel::outputs() const { return impl_->outputs(); }
const std::vector<std::string> &Kernel::configs() const {
  return impl_->description().configs;
}
const std::vector<std::string> &Kernel::configSources() const {
  return impl_->description().sources;
}
const std::string &Kernel::origin() const {
  return impl_->description().origin;
}
const std::string &Kernel::source() const {
  return impl_->description().source;
}
bool Kernel::tuning() const { return impl_ && impl_->tuning(); }
bool Kernel::waitForTuning(double timeoutSeconds) const {
  return !impl_ || impl_->waitForTuning(timeoutSeconds);
}
const Target &Kernel::target() const { return impl_->target(); }

namespace {
constexpr size_t kMaxRank = 8;

/// Byte range [lo, hi) a view touches; empty for zero-element views.
struct ByteRange {
  uintptr_t lo = 0, hi = 0;
  bool overlaps(const ByteRange &o) const {
    return lo < hi && o.lo < o.hi && lo < o.hi && o.lo < hi;
  }
};

ByteRange byteRange(const TensorView &v, const std::vector<int64_t> &strides) {
  if (v.numElements() == 0)
    return {};
  int64_t elem = int64_t(dtypeSize(v.dtype));
  int64_t lo = 0, hi = 0;
  for (size_t i = 0; i < v.shape.size(); ++i) {
    int64_t extent = (v.shape[i] - 1) * strides[i];
    (extent < 0 ? lo : hi) += extent;
  }
  auto base = reinterpret_cast<uintptr_t>(v.data);
  return {base + uintptr_t(lo * elem), base + uintptr_t(hi * elem + elem)};
}

/// Checks one view against the signature; `what` is e.g. "input 1".
Status checkView(const TensorView &v, const ArgInfo &info,
                 const std::string &what) {
  if (v.dtype != info.dtype)
    return userError(what + ": dtype " + dtypeName(v.dtype) +
                     " does not match the kernel's " + dtypeName(info.dtype));
  if (v.shape.size() != info.shape.size())
    return userError(what + ": rank " + std::to_string(v.shape.size()) +
                     " does not match the kernel's rank " +
                     std::to_string(info.shape.size()) + " (shape " +
                     shapeString(info.shape) + ")");
  if (v.shape != info.shape)
    return userError(what + ": shape " + shapeString(v.shape) +
                     " does not match the kernel's " +
                     shapeString(info.shape));
  if (v.shape.size() > kMaxRank)
    return userError(what + ": rank " + std::to_string(v.shape.size()) +
                     " is above the supported " + std::to_string(kMaxRank));
  if (!v.strides.empty() && v.strides.size() != v.shape.size())
    return userError(what + ": " + std::to_string(v.strides.size()) +
                     " strides given for rank " +
                     std::to_string(v.shape.size()));
  if (!v.data && v.numElements() != 0)
    return userError(what + ": data pointer is null");
  if (!v.strides.empty() && v.numElements() != 0) {
    // Every element is addressed as data + offset * element size (the
    // overlap check, the staging copies): that span must fit in the
    // address space, or the offsets wrap and point anywhere.
    int64_t lo = 0, hi = 0;
    bool wraps = false;
    for (size_t i = 0; i < v.shape.size() && !wraps; ++i) {
      int64_t extent = 0;
      wraps = __builtin_mul_overflow(v.shape[i] - 1, v.strides[i], &extent) ||
              __builtin_add_overflow(extent < 0 ? lo : hi, extent,
                                     extent < 0 ? &lo : &hi);
    }
    int64_t elem = int64_t(dtypeSize(v.dtype)), loBytes = 0, hiBytes = 0;
    uintptr_t first = 0, last = 0;
    wraps = wraps || __builtin_mul_overflow(lo, elem, &loBytes) ||
            __builtin_mul_overflow(hi + 1, elem, &hiBytes) ||
            __builtin_add_overflow(reinterpret_cast<uintptr_t>(v.data),
                                   uintptr_t(hiBytes), &last) ||
            __builtin_sub_overflow(reinterpret_cast<uintptr_t>(v.data),
                                   uintptr_t(-loBytes), &first);
    if (wraps)
      return userError(what + ": strides " + shapeString(v.strides) +
                       " with shape " + shapeString(v.shape) +
                       " reach beyond the address space");
  }
  if (info.isOutput && !v.strides.empty())
    for (size_t i = 0; i < v.shape.size(); ++i)
      if (v.shape[i] > 1 && v.strides[i] == 0)
        return userError(what + ": stride 0 in dimension " +
                         std::to_string(i) +
                         " makes output elements overlap");
  return Status::ok();
}

/// Copies between a strided view and a dense buffer (either direction).
void stridedCopy(const TensorView &v, char *dense, bool toDense) {
  size_t elem = dtypeSize(v.dtype);
  int64_t n = v.numElements();
  size_t rank = v.shape.size();
  std::vector<int64_t> idx(rank, 0);
  auto *base = static_cast<char *>(v.data);
  for (int64_t linear = 0; linear < n; ++linear) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d)
      off += idx[d] * v.strides[d];
    char *strided = base + off * int64_t(elem);
    if (toDense)
      memcpy(dense + linear * elem, strided, elem);
    else
      memcpy(strided, dense + linear * elem, elem);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < v.shape[d])
        break;
      idx[d] = 0;
    }
  }
}

struct AlignedFree {
  void operator()(void *p) const { free(p); }
};
} // namespace

namespace {
/// Checks counts and every view against the signature; fills `views` and
/// `names` (inputs, then outputs). Kernel-allocated (dynamic) outputs are
/// an error unless `dynamicOk`; then their views are ignored (the view in
/// `views` is an empty one) and `dynamic` marks their slots.
Status checkArgs(const LoadedKernel &k, const std::vector<TensorView> &inputs,
                 const std::vector<TensorView> &outputs, bool dynamicOk,
                 std::vector<const TensorView *> &views,
                 std::vector<std::string> &names, std::vector<bool> &dynamic) {
  static const TensorView kNoView;
  if (inputs.size() != k.inputs.size())
    return userError("kernel takes " + std::to_string(k.inputs.size()) +
                     " inputs, got " + std::to_string(inputs.size()));
  if (outputs.size() != k.outputs.size())
    return userError("kernel produces " + std::to_string(k.outputs.size()) +
                     " outputs, got " + std::to_string(outputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    names.push_back("input " + std::to_string(i));
    if (Status s = checkView(inputs[i], k.inputs[i], names.back()); !s)
      return s;
    views.push_back(&inputs[i]);
  }
  dynamic.assign(inputs.size(), false);
  for (size_t i = 0; i < outputs.size(); ++i) {
    names.push_back("output " + std::to_string(i));
    dynamic.push_back(k.outputs[i].isDynamic());
    if (dynamic.back()) {
      if (!dynamicOk)
        return userError(names.back() + " has a dynamic shape (the kernel "
                                        "allocates it); use "
                                        "Kernel::runAllocating");
      views.push_back(&kNoView);
      continue;
    }
    if (Status s = checkView(outputs[i], k.outputs[i], names.back()); !s)
      return s;
    views.push_back(&outputs[i]);
  }
  // The kernel writes outputs while it still reads inputs: an output may not
  // share a byte with any input or with another output (host and device
  // addresses share one space under CUDA's unified addressing). A
  // kernel-allocated output has no memory yet: an empty range.
  std::vector<ByteRange> ranges;
  for (const TensorView *v : views)
    ranges.push_back(v == &kNoView
                         ? ByteRange{}
                         : byteRange(*v, v->strides.empty()
                                             ? v->contiguousStrides()
                                             : v->strides));
  for (size_t o = inputs.size(); o < views.size(); ++o)
    for (size_t j = 0; j < views.size(); ++j)
      if (j != o && views[o]->memory == views[j]->memory &&
          ranges[o].overlaps(ranges[j]))
        return userError(names[o] + " overlaps " + names[j] +
                         " in memory; outputs must not alias inputs or "
                         "other outputs");
  return Status::ok();
}

/// Memref descriptor {alloc, aligned, offset, sizes[R], strides[R]} of a
/// contiguous tensor at `data`.
using Descriptor = std::array<int64_t, 3 + 2 * kMaxRank>;
void fillDescriptor(Descriptor &d, void *data,
                    const std::vector<int64_t> &shape) {
  size_t rank = shape.size();
  d[0] = d[1] = int64_t(reinterpret_cast<intptr_t>(data));
  d[2] = 0;
  int64_t running = 1;
  for (size_t r = rank; r-- > 0;) {
    d[3 + r] = shape[r];
    d[3 + rank + r] = running;
    running *= shape[r];
  }
}

/// A CUDA kernel's arguments on its device: device views as given, host
/// views staged through temporary device buffers.
struct CudaArgs {
  std::vector<DeviceBuffer> temps; ///< per view; empty for device views
  std::vector<Descriptor> descs;
  std::vector<void *> args;
};

Status stageCudaArgs(const LoadedKernel &k,
                     const std::vector<const TensorView *> &views,
                     const std::vector<std::string> &names, size_t numInputs,
                     const std::vector<bool> &dynamic, CudaArgs &out) {
  int ordinal = k.target.ordinal;
  out.temps.resize(views.size());
  out.descs.resize(views.size()); // zeroed
  out.args.resize(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    out.args[i] = out.descs[i].data();
    if (dynamic[i])
      continue; // the kernel fills this descriptor
    const TensorView &v = *views[i];
    size_t bytes = size_t(v.numElements()) * dtypeSize(v.dtype);
    void *data = v.data;
    if (v.memory == Memory::Device) {
      if (v.device != ordinal)
        return userError(names[i] + ": device view on CUDA device " +
                         std::to_string(v.device) +
                         ", but the kernel runs on device " +
                         std::to_string(ordinal));
      if (!v.isContiguous())
        return userError(names[i] + ": device views must be contiguous "
                                    "(pass a host view to have kjit copy a "
                                    "strided one)");
      if (bytes) {
        auto alloc = cudaAllocationOf(
            ordinal, uint64_t(reinterpret_cast<uintptr_t>(v.data)));
        uint64_t p = uint64_t(reinterpret_cast<uintptr_t>(v.data));
        if (!alloc)
          return userError(names[i] +
                           ": not device memory of a CUDA context (a host "
                           "pointer in a Memory::Device view?)");
        if (p + bytes > alloc->first + alloc->second)
          return userError(names[i] + ": the view's " +
                           std::to_string(bytes) +
                           " bytes run past the end of its device "
                           "allocation (" +
                           std::to_string(alloc->first + alloc->second - p) +
                           " bytes left)");
      }
    } else {
      auto buf = DeviceBuffer::allocate(bytes, ordinal);
      if (!buf)
        return buf.status();
      out.temps[i] = std::move(*buf);
      data = out.temps[i].data();
      if (i < numInputs && bytes) {
        Status s;
        if (v.isContiguous()) {
          s = out.temps[i].copyFromHost(v.data, bytes);
        } else {
          std::vector<char> dense(bytes);
          stridedCopy(v, dense.data(), /*toDense=*/true);
          s = out.temps[i].copyFromHost(dense.data(), bytes);
        }
        if (!s)
          return s;
      }
    }
    fillDescriptor(out.descs[i], data, v.shape);
    out.args[i] = out.descs[i].data();
  }
  return Status::ok();
}

/// Copies the staged outputs back into their host views.
Status unstageCudaOutputs(const std::vector<const TensorView *> &views,
                          size_t numInputs, CudaArgs &a) {
  for (size_t i = numInputs; i < views.size(); ++i) {
    if (!a.temps[i].data())
      continue;
    const TensorView &v = *views[i];
    size_t bytes = size_t(v.numElements()) * dtypeSize(v.dtype);
    if (v.isContiguous()) {
      if (Status s = a.temps[i].copyToHost(v.data, bytes); !s)
        return s;
      continue;
    }
    std::vector<char> dense(bytes);
    if (Status s = a.temps[i].copyToHost(dense.data(), bytes); !s)
      return s;
    stridedCopy(v, dense.data(), /*toDense=*/false);
  }
  return Status::ok();
}
} // namespace

/// Views with their strides filled in (stridedCopy needs them).
static std::vector<TensorView> withStrides(const std::vector<TensorView> &vs) {
  std::vector<TensorView> out = vs;
  for (TensorView &v : out)
    if (v.strides.empty())
      v.strides = v.contiguousStrides();
  return out;
}

namespace {
/// Device memory that a CUDA kernel allocated for its dynamic outputs
/// (mgpuMemAlloc in the generated host code), taken from the descriptors it
/// filled: each pointer freed once, by release() or, on error paths, when
/// this dies. A pointer into an argument's memory (or anything that does
/// not start a device allocation) is never freed: release() reports it.
class KernelAllocations {
public:
  KernelAllocations(int ordinal, const std::vector<uint64_t> &argMemory)
      : ordinal_(ordinal), argMemory_(argMemory) {}
  ~KernelAllocations() { (void)release(); }
  KernelAllocations(const KernelAllocations &) = delete;
  KernelAllocations &operator=(const KernelAllocations &) = delete;

  /// Takes the `alloc` pointer of the descriptor of output `output`. Cheap
  /// (no driver call): it runs between timing events.
  void take(uint64_t p, size_t output) {
    if (!p || std::find(ptrs_.begin(), ptrs_.end(), p) != ptrs_.end())
      return;
    if (std::find(argMemory_.begin(), argMemory_.end(), p) !=
        argMemory_.end()) {
      note("the kernel returned the memory of one of its arguments for "
           "output " +
           std::to_string(output));
      return;
    }
    ptrs_.push_back(p);
    outputs_.push_back(output);
  }
  /// Frees what was taken; the first problem so far as an internal error.
  Status release() {
    for (size_t i = 0; i < ptrs_.size(); ++i) {
      auto range = cudaAllocationOf(ordinal_, ptrs_[i]);
      if (!range || range->first != ptrs_[i]) {
        note("the kernel returned a pointer that does not start a device "
             "allocation for output " +
             std::to_string(outputs_[i]) + " (not freed)");
        continue;
      }
      if (llvm::Error e = cudaFree(ordinal_, ptrs_[i]))
        note("freeing the kernel's buffer for output " +
             std::to_string(outputs_[i]) + ": " +
             llvm::toString(std::move(e)));
    }
    ptrs_.clear();
    outputs_.clear();
    if (problem_.empty())
      return Status::ok();
    return internalError(std::exchange(problem_, ""));
  }

private:
  void note(std::string why) {
    if (problem_.empty())
      problem_ = std::move(why);
  }
  int ordinal_;
  const std::vector<uint64_t> &argMemory_;
  std::vector<uint64_t> ptrs_;
  std::vector<size_t> outputs_;
  std::string problem_;
};

/// Copies the kernel-allocated outputs in `slots` (descriptors the kernel
/// filled with device memory) into host tensors appended to `allocated`;
/// a descriptor that makes no sense is an internal error, not a crash.
Status copyDynamicOutputs(const LoadedKernel &k, const CudaArgs &a,
                          const std::vector<size_t> &slots, size_t numInputs,
                          std::vector<Tensor> &allocated) {
  int ordinal = k.target.ordinal;
  for (size_t slot : slots) {
    const Descriptor &d = a.descs[slot];
    size_t output = slot - numInputs;
    const ArgInfo &info = k.outputs[output];
    size_t rank = info.shape.size(), elem = dtypeSize(info.dtype);
    auto malformed = [&](const std::string &why) {
      return internalError("the kernel returned a malformed buffer for "
                           "output " +
                           std::to_string(output) + ": " + why);
    };
    std::vector<int64_t> shape(d.begin() + 3, d.begin() + 3 + rank);
    int64_t elems = 1;
    for (size_t r = 0; r < rank; ++r) {
      if (shape[r] < 0)
        return malformed("negative size " + std::to_string(shape[r]));
      if (info.shape[r] != ArgInfo::kDynamic && shape[r] != info.shape[r])
        return malformed("size " + std::to_string(shape[r]) +
                         " in static dimension " + std::to_string(r) +
                         " of " + shapeString(info.shape));
      if (shape[r] && elems > (int64_t(1) << 50) / shape[r])
        return malformed("shape " + shapeString(shape) + " is too large");
      elems *= shape[r];
    }
    std::vector<int64_t> want =
        TensorView(nullptr, info.dtype, shape).contiguousStrides();
    for (size_t r = 0; r < rank; ++r)
      if (shape[r] > 1 && d[3 + rank + r] != want[r])
        return malformed("not contiguous (stride " +
                         std::to_string(d[3 + rank + r]) + " in dimension " +
                         std::to_string(r) + ")");
    uint64_t data = 0;
    if (std::string why = cuda::checkKernelBuffer(
            ordinal, uint64_t(d[0]), uint64_t(d[1]), d[2], elems, elem, data);
        !why.empty())
      return malformed(why);
    Result<Tensor> t = Tensor::allocate(info.dtype, shape);
    if (!t)
      return userError("output " + std::to_string(output) + ": " +
                       t.errorMessage());
    if (elems)
      if (llvm::Error e = cudaCopyToHost(ordinal, t->data(), data,
                                         size_t(elems) * elem))
        return toStatus(std::move(e), "copying output " +
                                          std::to_string(output) +
                                          " to the host");
    allocated.push_back(std::move(*t));
  }
  return Status::ok();
}
} // namespace

/// Runs (or, with `timing`, times) a CUDA kernel. Kernel-allocated
/// (dynamic) outputs: with `allocated` (runAllocating) they come back as
/// host tensors appended to it; with `timing` every run's are freed. The
/// kernel's device memory for them is freed once, on every path.
static Status runCuda(const LoadedKernel &k,
                      const std::vector<TensorView> &inputs,
                      const std::vector<TensorView> &outputs,
                      const TimingOptions *timing, std::vector<double> *times,
                      std::vector<Tensor> *allocated) {
  std::vector<TensorView> ins = withStrides(inputs), outs = withStrides(outputs);
  std::vector<const TensorView *> views;
  std::vector<std::string> names;
  std::vector<bool> dynamic;
  if (Status s = checkArgs(k, ins, outs, allocated || timing, views, names,
                           dynamic);
      !s)
    return s;
  CudaArgs a;
  if (Status s = stageCudaArgs(k, views, names, ins.size(), dynamic, a); !s)
    return s;
  int ordinal = k.target.ordinal;
  // Kernel-allocated outputs: their descriptors are zeroed before each call
  // and what the kernel put there is taken right after it.
  std::vector<size_t> dynamicSlots;
  std::vector<uint64_t> argMemory; // argument pointers: never freed here
  for (size_t i = 0; i < views.size(); ++i) {
    if (dynamic[i]) {
      dynamicSlots.push_back(i);
    } else if (a.descs[i][0]) {
      uint64_t p = uint64_t(a.descs[i][0]);
      argMemory.push_back(p);
      // A device view may start inside its allocation: its base too.
      if (views[i]->memory == Memory::Device)
        if (auto range = cudaAllocationOf(ordinal, p))
          argMemory.push_back(range->first);
    }
  }
  auto clearDynamic = [&] {
    for (size_t slot : dynamicSlots)
      a.descs[slot].fill(0);
  };
  auto takeDynamic = [&](KernelAllocations &allocs) {
    for (size_t slot : dynamicSlots)
      allocs.take(uint64_t(a.descs[slot][0]), slot - ins.size());
  };
  // Kernels that validate their inputs (spmm's CSR) report a defect in
  // their device error records: zeroed before the launches, read after the
  // stream is synchronized; a report is the CPU path's message.
  std::unique_lock<std::mutex> recordsLock;
  if (!k.gpuErrorRecords.empty())
    recordsLock = std::unique_lock<std::mutex>(k.gpuErrorMutex);
  auto takeDeviceError = [&]() -> Status {
    for (uint64_t rec : k.gpuErrorRecords) {
      int64_t r[4] = {0, 0, 0, 0};
      if (llvm::Error e = cudaCopyToHost(ordinal, r, rec, sizeof(r)))
        return toStatus(std::move(e), "reading the kernel's error record");
      if (r[0] != 0)
        return userError(kernelErrorMessage(r[1], r[2], r[3]));
    }
    return Status::ok();
  };
  int runs = timing ? std::max(0, timing->warmup) : 1;
  for (int r = 0; r < runs; ++r) {
    KernelAllocations allocs(ordinal, argMemory); // outlives the scope
    CudaLaunchScope scope(ordinal);
    for (uint64_t rec : k.gpuErrorRecords)
      scope.zeroAsync(rec, cuda::kErrorRecordBytes);
    clearDynamic();
    k.fn(a.args.data());
    takeDynamic(allocs); // before anything can fail
    if (llvm::Error e = scope.finish())
      return toStatus(std::move(e), "CUDA kernel launch");
    if (Status s = takeDeviceError(); !s)
      return s;
    if (!timing && allocated)
      if (Status s = copyDynamicOutputs(k, a, dynamicSlots, ins.size(),
                                        *allocated);
          !s)
        return s;
    if (Status s = allocs.release(); !s)
      return s;
  }
  if (timing && timing->repeat > 0) {
    // Zeroed once (outside the timed events); the first report of any
    // timed launch stays.
    if (!k.gpuErrorRecords.empty()) {
      CudaLaunchScope scope(ordinal);
      for (uint64_t rec : k.gpuErrorRecords)
        scope.zeroAsync(rec, cuda::kErrorRecordBytes);
      if (llvm::Error e = scope.finish())
        return toStatus(std::move(e), "CUDA kernel timing");
    }
    // Each timed run allocates its dynamic outputs; all are freed after the
    // last one (a free would synchronize inside the timed interval).
    KernelAllocations allocs(ordinal, argMemory);
    auto ms = cudaTimeLaunches(ordinal, timing->repeat, timing->flushL2, [&] {
      clearDynamic();
      k.fn(a.args.data());
      takeDynamic(allocs);
    });
    if (!ms)
      return toStatus(ms.takeError(), "CUDA kernel timing");
    if (Status s = takeDeviceError(); !s)
      return s;
    if (Status s = allocs.release(); !s)
      return s;
    *times = std::move(*ms);
  }
  return unstageCudaOutputs(views, ins.size(), a);
}

Status Kernel::run(const std::vector<TensorView> &inputs,
                   const std::vector<TensorView> &outputs) const {
  // Versions swapped in by on-line tuning share the signature.
  if (impl_)
    for (size_t i = 0; i < impl_->outputs().size(); ++i)
      if (impl_->outputs()[i].isDynamic())
        return userError("output " + std::to_string(i) +
                         " has a dynamic shape (the kernel allocates it); "
                         "use Kernel::runAllocating");
  return runImpl(inputs, outputs, nullptr);
}

Result<std::vector<Tensor>>
Kernel::runAllocating(const std::vector<TensorView> &inputs) const {
  // The signature only (runImpl takes the code): versions share it.
  std::shared_ptr<const LoadedKernel> current = impl_ ? impl_->code() : nullptr;
  if (!current || !current->fn)
    return userError("runAllocating() on an empty kernel");
  const LoadedKernel &k = *current;
  std::vector<Tensor> owned(k.outputs.size());
  std::vector<TensorView> views(k.outputs.size());
  for (size_t i = 0; i < k.outputs.size(); ++i) {
    if (k.outputs[i].isDynamic())
      continue;
    Result<Tensor> t = Tensor::allocate(k.outputs[i].dtype, k.outputs[i].shape);
    if (!t)
      return userError("output " + std::to_string(i) + ": " +
                       t.errorMessage());
    owned[i] = std::move(*t);
    views[i] = owned[i].view();
  }
  std::vector<Tensor> allocated;
  if (Status s = runImpl(inputs, views, &allocated); !s)
    return s; // `owned` and `allocated` free their memory here
  for (size_t i = 0, next = 0; i < k.outputs.size(); ++i)
    if (k.outputs[i].isDynamic())
      owned[i] = std::move(allocated[next++]);
  return owned;
}

Status Kernel::runImpl(const std::vector<TensorView> &inputs,
                       const std::vector<TensorView> &outputs,
                       std::vector<Tensor> *allocated) const {
  // One load of the current version, held to the end of the call: a swap
  // during this call leaves this run on the code it started with, and that
  // code is unloaded only after the run (and every other holder) let go.
  std::shared_ptr<const LoadedKernel> current = impl_ ? impl_->code() : nullptr;
  if (!current || !current->fn)
    return userError("run() on an empty kernel");
  const LoadedKernel &k = *current;
  if (k.target.kind == Target::Kind::CUDA)
    return runCuda(k, inputs, outputs, nullptr, nullptr, allocated);
  for (const auto *list : {&inputs, &outputs})
    for (const TensorView &v : *list)
      if (v.memory != Memory::Host)
        return userError("a device tensor view passed to a CPU kernel; "
                         "compile for Target::cuda() or pass host memory");
  if (inputs.size() != k.inputs.size())
    return userError("kernel takes " + std::to_string(k.inputs.size()) +
                     " inputs, got " + std::to_string(inputs.size()));
  if (outputs.size() != k.outputs.size())
    return userError("kernel produces " + std::to_string(k.outputs.size()) +
                     " outputs, got " + std::to_string(outputs.size()));

  // Kernel-allocated outputs get no view: their descriptor slot is filled
  // in by the kernel (compiler::Artifact::symbol).
  std::vector<const TensorView *> views;
  std::vector<std::string> names;
  std::vector<size_t> dynamicSlots;
  for (size_t i = 0; i < inputs.size(); ++i) {
    names.push_back("input " + std::to_string(i));
    if (Status s = checkView(inputs[i], k.inputs[i], names.back()); !s)
      return s;
    views.push_back(&inputs[i]);
  }
  static const TensorView kNoView;
  for (size_t i = 0; i < outputs.size(); ++i) {
    names.push_back("output " + std::to_string(i));
    if (k.outputs[i].isDynamic()) {
      if (!allocated)
        return userError(names.back() + " has a dynamic shape; use "
                         "Kernel::runAllocating");
      dynamicSlots.push_back(views.size());
      views.push_back(&kNoView);
      continue;
    }
    if (Status s = checkView(outputs[i], k.outputs[i], names.back()); !s)
      return s;
    views.push_back(&outputs[i]);
  }

  std::vector<std::vector<int64_t>> strides;
  std::vector<ByteRange> ranges;
  for (const TensorView *v : views) {
    strides.push_back(v->strides.empty() ? v->contiguousStrides()
                                         : v->strides);
    // A kernel-allocated output has no memory yet: an empty range.
    ranges.push_back(v == &kNoView ? ByteRange{} : byteRange(*v, strides.back()));
  }
  // The kernel writes outputs while it still reads inputs: an output may not
  // share a byte with any input or with another output.
  for (size_t o = inputs.size(); o < views.size(); ++o)
    for (size_t j = 0; j < views.size(); ++j)
      if (j != o && ranges[o].overlaps(ranges[j]))
        return userError(names[o] + " overlaps " + names[j] +
                         " in memory; outputs must not alias inputs or "
                         "other outputs");

  // Non-contiguous views go through dense temporaries: the generated code
  // assumes the identity layout the signature promises.
  std::vector<std::unique_ptr<char, AlignedFree>> temps(views.size());
  std::vector<void *> data(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    const TensorView &v = *views[i];
    data[i] = v.data;
    if (v.isContiguous())
      continue;
    size_t bytes = size_t(v.numElements()) * dtypeSize(v.dtype);
    size_t rounded = (bytes + 63) / 64 * 64;
    temps[i].reset(static_cast<char *>(aligned_alloc(64, rounded ? rounded : 64)));
    if (!temps[i])
      return userError(names[i] + ": cannot allocate a " +
                       std::to_string(bytes) +
                       "-byte contiguous copy of a strided view");
    TensorView sv = v;
    sv.strides = strides[i];
    if (i < inputs.size())
      stridedCopy(sv, temps[i].get(), /*toDense=*/true);
    data[i] = temps[i].get();
  }

  // Memref descriptors: {alloc, aligned, offset, sizes[R], strides[R]},
  // all 8-byte words on a 64-bit host.
  std::vector<std::array<int64_t, 3 + 2 * kMaxRank>> descs(views.size());
  std::vector<void *> args(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    const TensorView &v = *views[i];
    auto &d = descs[i];
    d.fill(0);
    args[i] = d.data();
    if (views[i] == &kNoView)
      continue; // the kernel writes this descriptor
    size_t rank = v.shape.size();
    d[0] = d[1] = int64_t(reinterpret_cast<intptr_t>(data[i]));
    d[2] = 0;
    int64_t running = 1;
    for (size_t r = rank; r-- > 0;) {
      d[3 + r] = v.shape[r];
      d[3 + rank + r] = running;
      running *= v.shape[r];
    }
    args[i] = d.data();
  }
  // A kernel that finds its inputs invalid (e.g. a malformed CSR) reports
  // through kjit_rt_report_error and returns without computing.
  clearKernelError();
  k.fn(args.data());
  // Take ownership of what the kernel allocated before anything can fail.
  for (size_t slot : dynamicSlots) {
    const auto &d = descs[slot];
    const ArgInfo &info = k.outputs[slot - inputs.size()];
    size_t rank = info.shape.size();
    std::vector<int64_t> shape(d.begin() + 3, d.begin() + 3 + rank);
    auto *aligned = reinterpret_cast<char *>(d[1]);
    void *owner = reinterpret_cast<void *>(d[0]);
    // Each buffer is owned (and freed) once, even if a kernel returned it
    // twice (the compiler copies such results; this is a safety net).
    for (size_t prev : dynamicSlots) {
      if (prev == slot)
        break;
      if (descs[prev][0] == d[0])
        owner = nullptr;
    }
    allocated->push_back(Tensor::adopt(
        owner, aligned + d[2] * int64_t(dtypeSize(info.dtype)), info.dtype,
        shape));
  }
  if (std::string err = takeKernelError(); !err.empty())
    return userError(err);
  for (size_t j = 0; j < dynamicSlots.size(); ++j) {
    const auto &d = descs[dynamicSlots[j]];
    const Tensor &t = (*allocated)[allocated->size() - dynamicSlots.size() + j];
    TensorView probe(nullptr, t.dtype(), t.shape());
    std::vector<int64_t> want = probe.contiguousStrides();
    for (size_t r = 0; r < t.shape().size(); ++r)
      if (t.shape()[r] < 0 ||
          (t.shape()[r] > 1 && d[3 + t.shape().size() + r] != want[r]))
        return internalError("the kernel returned a malformed buffer for "
                             "output " +
                             std::to_string(dynamicSlots[j] - inputs.size()));
  }

  for (size_t i = inputs.size(); i < views.size(); ++i)
    if (temps[i]) {
      TensorView sv = *views[i];
      sv.strides = strides[i];
      stridedCopy(sv, temps[i].get(), /*toDense=*/false);
    }
  return Status::ok();
}

Result<std::vector<double>>
Kernel::time(const std::vector<TensorView> &inputs,
             const std::vector<TensorView> &outputs,
             const TimingOptions &options) const {
  // CUDA: this version is timed and held to the end; CPU: each run below
  // holds its own.
  std::shared_ptr<const LoadedKernel> current = impl_ ? impl_->code() : nullptr;
  if (!current || !current->fn)
    return userError("time() on an empty kernel");
  if (options.repeat < 0 || options.warmup < 0)
    return userError("timing needs warmup >= 0 and repeat >= 0");
  const LoadedKernel &k = *current;
  std::vector<double> ms;
  if (k.target.kind == Target::Kind::CUDA) {
    if (Status s = runCuda(k, inputs, outputs, &options, &ms, nullptr); !s)
      return s;
    return ms;
  }
  // Kernel-allocated outputs: each run's are freed after it (untimed).
  bool dynamic = false;
  for (const ArgInfo &o : k.outputs)
    dynamic |= o.isDynamic();
  std::vector<Tensor> scratch;
  auto once = [&]() -> Status {
    return dynamic ? runImpl(inputs, outputs, &scratch)
                   : run(inputs, outputs);
  };
  for (int i = 0; i < options.warmup; ++i) {
    Status s = once();
    scratch.clear();
    if (!s)
      return s;
  }
  for (int i = 0; i < options.repeat; ++i) {
    auto start = std::chrono::steady_clock::now();
    Status s = once();
    auto stop = std::chrono::steady_clock::now();
    scratch.clear();
    if (!s)
      return s;
    ms.push_back(
        std::chrono::duration<double, std::milli>(stop - start).count());
  }
  return ms;
}

Kernel kjit::runtime::cudaKernelForTesting(void (*fn)(void **),
                                           std::vector<ArgInfo> inputs,
                                           std::vector<ArgInfo> outputs,
                                           int ordinal) {
  auto loaded = std::make_shared<LoadedKernel>();
  loaded->fn = fn;
  loaded->inputs = std::move(inputs);
  loaded->outputs = std::move(outputs);
  for (ArgInfo &a : loaded->outputs)
    a.isOutput = true;
  loaded->target = Target::cuda(ordinal);
  return Kernel(std::make_shared<KernelImpl>(std::move(loaded), "test"));
}

//===----------------------------------------------------------------------===//
// Jit
//===----------------------------------------------------------------------===//

namespace kjit {
class JitImpl {
public:
  JitImpl(Target target, JitOptions options);
  /// Stops on-line tuning first: its worker calls back into this object.
  ~JitImpl() { tuner.reset(); }
  Result<Kernel> compileText(const std::string &text,
                             const CompileOptions &options);

  Target target;
  JitOptions options;
  std::shared_ptr<DiskCache> disk;
  std::unique_ptr<TuningSelector> selector;
  /// CUDA targets: the device's chip ("sm_90"), or why there is none.
  std::string cudaChip;
  Status cudaProblem;
  /// CPU targets: the CPU compiled for (the host, or Target::cpuName's
  /// named target), or why it cannot be (an unknown name, an ISA this host
  /// cannot execute).
  compiler::CpuTarget cpu;
  Status cpuProblem;
  /// CUDA targets: the device as tuning sees it (run-time selection and
  /// on-line tuning); nullopt without a device or for a chip kjit does not
  /// know.
  std::optional<TuningTarget> cudaTuning;
  /// On-line tuning budget of compiles that do not set one (0: none).
  double onlineBudget = 0;
  /// Candidates measured in this process (opted into), not in a worker.
  bool onlineInProcess = false;
  /// Ops without a database record get the cost model's pick.
  bool modelPick = false;

private:
  /// One memory-cache slot; the first thread to ask for a key compiles,
  /// the others wait for it here instead of compiling again.
  struct Slot {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::shared_ptr<const LoadedKernel> kernel;
    Status error;
  };
  struct Served {
    std::shared_ptr<const LoadedKernel> kernel;
    const char *origin;
  };
  Result<Served> loadOrGenerate(const compiler::PreparedModule &prepared);
  /// Forgets a failed compile so that a later call tries again.
  void dropSlot(const std::string &key, const std::shared_ptr<Slot> &slot);
  /// Whether on-line tuning can measure candidates: in this process (opted
  /// into) or in the measuring worker, looked for once (a missing one is
  /// one warning on stderr). The error says why not.
  Status onlineTuningReady();

  /// The request of a compile, without its selection (shared by the
  /// compile and the tuned recompile).
  compiler::CompileRequest requestFor(const std::string &text,
                                      const CompileOptions &opts) const;
  /// Queues on-line tuning of `ops` for `impl` (the default kernel).
  void startOnlineTuning(const std::shared_ptr<KernelImpl> &impl,
                         const std::string &text, const CompileOptions &opts,
                         double budget, const OpSelection &selection,
                         const std::vector<std::string> &sources,
                         std::vector<unsigned> ops,
                         const std::string &defaultKey);
  /// The worker's end of a job: compile the best configs, swap, report.
  void finishOnlineTuning(const std::weak_ptr<KernelImpl> &weak,
                          const std::string &text, const CompileOptions &opts,
                          const OpSelection &selection,
                          std::vector<std::string> sources,
                          const std::vector<unsigned> &ops,
                          const std::string &defaultKey,
                          const OnlineTuneResult &result);

  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<Slot>> slots;
  /// Kernels being (or having been) tuned on-line, by cache key: a second
  /// compile of the same module shares the first one's kernel and tuning.
  std::unordered_map<std::string, std::weak_ptr<KernelImpl>> tuned;
  std::unique_ptr<OnlineTuner> tuner; ///< created at the first tuned compile
  /// The measuring worker; set once by onlineTuningReady().
  std::optional<Result<std::string>> worker;
};
} // namespace kjit

JitImpl::JitImpl(Target target, JitOptions options)
    : target(target), options(std::move(options)) {
  selector = std::make_unique<TuningSelector>(TuningSelector::resolvePath(
      this->options.tuningDb, this->options.cacheDir.empty()
                                  ? DiskCache::defaultDirectory()
                                  : this->options.cacheDir));
  if (target.kind == Target::Kind::CPU) {
    cpuProblem = target.check();
    if (cpuProblem)
      cpu = llvm::cantFail(cpuTargetOf(target));
  }
  if (target.kind == Target::Kind::CUDA) {
    // The device decides the chip; without a driver every compile returns
    // the "no CUDA driver" error (code without a device: emitCudaCode).
    auto info = cudaDeviceInfo(target.ordinal);
    if (!info) {
      cudaProblem = toStatus(info.takeError());
    } else {
      cudaChip = info->chip();
      auto tuning = cudaTuningTarget(target.ordinal);
      if (tuning)
        cudaTuning = std::move(*tuning);
      else // compiles report the unknown chip
        llvm::consumeError(tuning.takeError());
    }
  }
  modelPick = this->options.modelPickWithoutRecord;
  onlineInProcess = this->options.onlineTuneInProcess;
  if (const char *env = getenv("KJIT_NO_RECORD"); env && *env) {
    if (std::string(env) == "model")
      modelPick = true;
    else if (std::string(env) != "default")
      fprintf(stderr,
              "kjit: warning: KJIT_NO_RECORD='%s' is neither 'default' nor "
              "'model'; ignored\n",
              env);
  }
  onlineBudget = this->options.onlineTuneBudgetSeconds;
  if (std::isnan(onlineBudget) || onlineBudget > 24 * 3600.0) {
    fprintf(stderr,
            "kjit: warning: JitOptions::onlineTuneBudgetSeconds %g is not a "
            "budget (0 to 86400 seconds); no on-line tuning\n",
            onlineBudget);
    onlineBudget = 0;
  } else if (onlineBudget < 0) {
    onlineBudget = 0;
    if (const char *env = getenv("KJIT_TUNE"); env && *env) {
      Result<double> parsed = parseTuneSpec(env, &onlineInProcess);
      if (parsed)
        onlineBudget = *parsed;
      else
        fprintf(stderr, "kjit: warning: no on-line tuning: %s\n",
                parsed.errorMessage().c_str());
    }
  }
  if (!this->options.diskCache)
    return;
  std::string dir = this->options.cacheDir.empty()
                        ? DiskCache::defaultDirectory()
                        : this->options.cacheDir;
  auto opened = DiskCache::open(dir);
  if (opened) {
    disk = std::move(*opened);
    return;
  }
  // Compiling still works without a disk cache, so a bad directory turns it
  // off (loudly) rather than making every compile fail.
  fprintf(stderr, "kjit: warning: disk kernel cache disabled: %s\n",
          opened.errorMessage().c_str());
}

static KernelSignature signatureOf(const compiler::PreparedModule &p,
                                   const std::string &symbol) {
  KernelSignature sig;
  sig.entry = p.entry;
  sig.symbol = symbol;
  sig.source = p.canonicalText;
  sig.configs = p.configs;
  for (const compiler::ArgSpec &a : p.args)
    sig.args.push_back(
        ArgInfo{a.elem == compiler::ArgSpec::Elem::i32 ? DType::i32
                                                       : DType::f32,
                a.shape, a.isOutput});
  return sig;
}

static Result<std::shared_ptr<const LoadedKernel>>
loadSignature(const KernelSignature &sig, std::string_view object) {
  Result<CpuExecutor *> executor = CpuExecutor::get();
  if (!executor)
    return executor.status();
  for (const ArgInfo &a : sig.args)
    if (a.shape.size() > kMaxRank)
      return userError("kernel argument of rank " +
                       std::to_string(a.shape.size()) +
                       " is above the supported " + std::to_string(kMaxRank));
  auto code = (*executor)->loadObject(object, {sig.symbol});
  if (!code)
    return code.status();
  auto loaded = std::make_shared<LoadedKernel>();
  loaded->fn = reinterpret_cast<PackedFn>((*code)->addresses()[0]);
  loaded->object = std::move(*code);
  for (const ArgInfo &a : sig.args)
    (a.isOutput ? loaded->outputs : loaded->inputs).push_back(a);
  loaded->configs = sig.configs;
  loaded->source = sig.source;
  loaded->target = Target::host();
  return std::shared_ptr<const LoadedKernel>(std::move(loaded));
}

/// A CUDA kernel: its host object linked in ORC with kjit's mgpu*
/// functions, then its device code loaded into device `ordinal`'s primary
/// context (kjit_init_<entry>); a failed load is the compile's error.
static Result<std::shared_ptr<const LoadedKernel>>
loadCudaKernel(const KernelSignature &sig, std::string_view object,
               const std::string &initSymbol, int ordinal) {
  Result<CpuExecutor *> executor = CpuExecutor::get();
  if (!executor)
    return executor.status();
  for (const ArgInfo &a : sig.args)
    if (a.shape.size() > kMaxRank)
      return userError("kernel argument of rank " +
                       std::to_string(a.shape.size()) +
                       " is above the supported " + std::to_string(kMaxRank));
  auto code = (*executor)->loadObject(object, {sig.symbol, initSymbol},
                                      cudaRuntimeSymbols());
  if (!code)
    return code.status();
  auto init = reinterpret_cast<void (*)()>((*code)->addresses()[1]);
  // Owns the code from here on: an error below unloads it.
  auto loaded = std::make_shared<LoadedKernel>();
  loaded->target = Target::cuda(ordinal);
  loaded->fn = reinterpret_cast<PackedFn>((*code)->addresses()[0]);
  loaded->object = std::move(*code);
  {
    CudaLaunchScope scope(ordinal);
    init();
    loaded->cudaModules = scope.loadedModules();
    if (llvm::Error e = scope.finish())
      return toStatus(std::move(e), "cannot load the kernel's device code "
                                    "on CUDA device " +
                                        std::to_string(ordinal));
    // The device error record of each module that has one.
    for (void *module : scope.loadedModules()) {
      auto rec = cudaErrorRecordOf(ordinal, module);
      if (!rec)
        return toStatus(rec.takeError(),
                        "cannot find the kernel's device error record");
      if (*rec)
        loaded->gpuErrorRecords.push_back(**rec);
    }
  }
  // The modules stay loaded while the LoadedKernel lives (its destructor
  // unloads them; kjit_fini_<entry> is not called).
  for (const ArgInfo &a : sig.args)
    (a.isOutput ? loaded->outputs : loaded->inputs).push_back(a);
  loaded->configs = sig.configs;
  loaded->source = sig.source;
  return std::shared_ptr<const LoadedKernel>(std::move(loaded));
}

Result<ReloadableKernel>
kjit::runtime::reloadableKernelForTesting(const std::string &mlirText) {
  compiler::CompileRequest request;
  request.mlirText = mlirText;
  request.target = hostCpu();
  auto prepared = compiler::prepare(request);
  if (!prepared)
    return toStatus(prepared.takeError());
  auto artifact = compiler::generate(*prepared, hostCpu());
  if (!artifact)
    return toStatus(artifact.takeError());
  KernelSignature sig = signatureOf(artifact->prepared, artifact->symbol);
  auto loaded = loadSignature(sig, artifact->object);
  if (!loaded)
    return loaded.status();
  auto impl = std::make_shared<KernelImpl>(
      *loaded, "compiled",
      std::vector<std::string>(sig.configs.size(), "default"));
  auto reload = [impl, sig, object = std::move(artifact->object)]() -> Status {
    auto again = loadSignature(sig, object);
    if (!again)
      return again.status();
    KernelImpl::Version v = impl->current();
    v.loaded = std::move(*again);
    impl->publish(std::move(v));
    return Status::ok();
  };
  return ReloadableKernel{Kernel(impl), std::move(reload)};
}

Result<JitImpl::Served>
JitImpl::loadOrGenerate(const compiler::PreparedModule &prepared) {
  const std::string &key = prepared.cacheKey;
  if (target.kind == Target::Kind::CUDA) {
    // The host object with its device code; the cache key holds the chip.
    std::string init = compiler::initSymbolName(prepared.entry);
    if (disk) {
      KernelSignature want =
          signatureOf(prepared, compiler::packedSymbolName(prepared.entry));
      if (std::optional<CacheEntry> hit = disk->load(key);
          hit && hit->signature.sameArgs(want)) {
        auto loaded =
            loadCudaKernel(hit->signature, hit->object, init, target.ordinal);
        if (loaded)
          return Served{*loaded, "disk-cache"};
      }
    }
    auto artifact = compiler::generateCuda(prepared, cudaChip, hostCpu());
    if (!artifact)
      return toStatus(artifact.takeError());
    KernelSignature sig = signatureOf(artifact->prepared, artifact->symbol);
    if (disk)
      if (Status s = disk->store(key, CacheEntry{sig, artifact->object}); !s)
        fprintf(stderr, "kjit: warning: %s\n", s.message().c_str());
    auto loaded = loadCudaKernel(sig, artifact->object, artifact->initSymbol,
                                 target.ordinal);
    if (!loaded)
      return loaded.status();
    return Served{*loaded, "compiled"};
  }
  KernelSignature want =
      signatureOf(prepared, compiler::packedSymbolName(prepared.entry));
  if (disk) {
    // A verified entry whose signature also agrees with what prepare() saw;
    // anything else is recompiled and overwritten below.
    if (std::optional<CacheEntry> hit = disk->load(key);
        hit && hit->signature.sameArgs(want)) {
      auto loaded = loadSignature(hit->signature, hit->object);
      if (loaded)
        return Served{*loaded, "disk-cache"};
    }
  }
  auto artifact = compiler::generate(prepared, cpu);
  if (!artifact)
    return toStatus(artifact.takeError());
  KernelSignature sig = signatureOf(artifact->prepared, artifact->symbol);
  if (disk) {
    // A failed store costs a recompile later, nothing else: not an error.
    if (Status s = disk->store(key, CacheEntry{sig, artifact->object}); !s)
      fprintf(stderr, "kjit: warning: %s\n", s.message().c_str());
  }
  auto loaded = loadSignature(sig, artifact->object);
  if (!loaded)
    return loaded.status();
  return Served{*loaded, "compiled"};
}

Status JitImpl::onlineTuningReady() {
  if (onlineInProcess)
    return Status::ok();
  std::lock_guard<std::mutex> lock(mu);
  if (!worker) {
    worker = findMeasureWorker(options.measureWorker);
    if (!*worker)
      fprintf(stderr, "kjit: warning: no on-line tuning: %s\n",
              worker->errorMessage().c_str());
  }
  return *worker ? Status::ok() : worker->status();
}

void JitImpl::dropSlot(const std::string &key,
                       const std::shared_ptr<Slot> &slot) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = slots.find(key);
  if (it != slots.end() && it->second == slot)
    slots.erase(it);
}

compiler::CompileRequest
JitImpl::requestFor(const std::string &text, const CompileOptions &opts) const {
  compiler::CompileRequest request;
  request.mlirText = text;
  request.entry = opts.entry;
  request.config = opts.config;
  request.threads = opts.threads;
  // A CUDA target's host code is for the host CPU.
  request.target = target.kind == Target::Kind::CPU ? cpu : hostCpu();
  request.cudaChip = cudaChip;
  // Test only: device code for the CPU emulating driver (KJIT_GPU_EMULATE=1).
  request.gpuEmulate =
      target.kind == Target::Kind::CUDA && compiler::gpuEmulationRequested();
  return request;
}

Result<Kernel> JitImpl::compileText(const std::string &text,
                                    const CompileOptions &opts) {
  if (target.kind == Target::Kind::CUDA && !cudaProblem)
    return cudaProblem;
  if (target.kind == Target::Kind::CPU && !cpuProblem)
    return cpuProblem;
  if (opts.threads < 0)
    return userError("threads must be >= 0, got " +
                     std::to_string(opts.threads));
  double budget = opts.onlineTuneBudgetSeconds;
  if (std::isnan(budget) || budget > 24 * 3600.0)
    return userError("onlineTuneBudgetSeconds must be a number of seconds "
                     "from 0 to 86400 (or negative for the Jit's), got " +
                     std::to_string(budget));
  if (budget < 0)
    budget = onlineBudget;
  if (target.kind == Target::Kind::CUDA && !cudaTuning)
    budget = 0; // no device to measure on (compiles fail anyway)
  compiler::CompileRequest request = requestFor(text, opts);
  // Run-time selection (ARCHITECTURE.md, Autotuning step 6): without an
  // explicit config, each op gets the tuning database's pick, which
  // prepare() re-verifies (an illegal one falls back to the default).
  // The records of this target: the host CPU (tuned for opts.threads), or
  // the CUDA device (its GPU name, compute capability, SMs and driver).
  OpSelection selection;
  if (opts.config.empty() && target.kind == Target::Kind::CPU) {
    selection = selector->select(
        text, cpuTuningTarget(request.target, opts.threads), modelPick);
    request.opConfigs = selection.configs;
  } else if (opts.config.empty() && cudaTuning) {
    selection = selector->select(text, *cudaTuning, modelPick);
    request.opConfigs = selection.configs;
  }
  auto prepared = compiler::prepare(request);
  if (!prepared)
    return toStatus(prepared.takeError());
  std::vector<std::string> sources = selection.sources;
  sources.resize(prepared->configs.size(),
                 opts.config.empty() ? "default" : "option");
  if (!opts.config.empty())
    for (std::string &s : sources)
      if (s != "own")
        s = "option";
  for (size_t i = 0; i < prepared->configNotes.size(); ++i)
    if (!prepared->configNotes[i].empty())
      sources[i] = "default (" + sources[i] +
                   " config not used: " + prepared->configNotes[i] + ")";
  if (opts.config.empty())
    if (std::string why = selector->problem(); !why.empty())
      for (std::string &s : sources)
        if (s == "default")
          s = "default (tuning database not used: " + why + ")";

  // On-line tuning: the ops that neither the caller nor the database
  // configured (default or nearest-workload configs).
  std::vector<unsigned> tuneOps;
  if (budget > 0 && opts.config.empty())
    for (unsigned i = 0; i < sources.size(); ++i)
      if (sources[i] != "own" && sources[i] != "tuned" &&
          sources[i] != "option")
        tuneOps.push_back(i);
  if (!tuneOps.empty())
    if (Status ready = onlineTuningReady(); !ready) {
      for (unsigned i : tuneOps)
        sources[i] = "default (online tuning not run: " + ready.message() + ")";
      tuneOps.clear();
    }
  std::string tunedKey =
      prepared->cacheKey + "\nthreads=" + std::to_string(opts.threads);
  if (!tuneOps.empty()) {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = tuned.find(tunedKey); it != tuned.end())
      if (std::shared_ptr<KernelImpl> impl = it->second.lock())
        return Kernel(impl);
  }

  auto toKernel = [&](const Result<Served> &served) -> Result<Kernel> {
    if (!served)
      return served.status();
    auto impl = std::make_shared<KernelImpl>(served->kernel, served->origin,
                                             sources);
    if (!tuneOps.empty())
      startOnlineTuning(impl, text, opts, budget, selection, sources,
                        tuneOps, prepared->cacheKey);
    return Kernel(impl);
  };
  if (!options.memoryCache)
    return toKernel(loadOrGenerate(*prepared));

  std::shared_ptr<Slot> slot;
  bool owner = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto &entry = slots[prepared->cacheKey];
    if (!entry) {
      entry = std::make_shared<Slot>();
      owner = true;
    }
    slot = entry;
  }
  if (!owner) {
    std::unique_lock<std::mutex> lock(slot->mu);
    slot->cv.wait(lock, [&] { return slot->done; });
    if (!slot->kernel)
      return slot->error;
    return toKernel(Served{slot->kernel, "memory-cache"});
  }

  Result<Served> served = loadOrGenerate(*prepared);
  if (!served)
    dropSlot(prepared->cacheKey, slot);
  {
    std::lock_guard<std::mutex> lock(slot->mu);
    slot->done = true;
    if (served)
      slot->kernel = served->kernel;
    else
      slot->error = served.status();
  }
  slot->cv.notify_all();
  return toKernel(served);
}

void JitImpl::startOnlineTuning(const std::shared_ptr<KernelImpl> &impl,
                                const std::string &text,
                                const CompileOptions &opts, double budget,
                                const OpSelection &selection,
                                const std::vector<std::string> &sources,
                                std::vector<unsigned> ops,
                                const std::string &defaultKey) {
  std::string tunedKey =
      defaultKey + "\nthreads=" + std::to_string(opts.threads);
  {
    std::lock_guard<std::mutex> lock(mu);
    // Two first compiles raced: the second kernel tunes too (rare; both
    // end tuned), but later compiles share the registered one.
    tuned[tunedKey] = impl;
    if (!tuner)
      tuner = std::make_unique<OnlineTuner>(target, options, selector->path(),
                                            onlineInProcess ? std::string()
                                                            : **worker);
  }
  std::vector<std::string> state = sources;
  for (unsigned i : ops)
    state[i] = "online (tuning)";
  KernelImpl::Version v = impl->current();
  impl->publish(KernelImpl::Version{v.loaded, v.origin, state});
  impl->startTuning();

  OnlineTuneJob job;
  job.moduleText = text;
  job.ops = ops;
  job.budgetSeconds = budget;
  job.threads = opts.threads;
  std::weak_ptr<KernelImpl> weak = impl;
  job.finish = [this, weak, text, opts, selection, sources, ops,
                defaultKey](const OnlineTuneResult &r) {
    finishOnlineTuning(weak, text, opts, selection, sources, ops, defaultKey,
                       r);
  };
  tuner->submit(std::move(job));
}

void JitImpl::finishOnlineTuning(const std::weak_ptr<KernelImpl> &weak,
                                 const std::string &text,
                                 const CompileOptions &opts,
                                 const OpSelection &selection,
                                 std::vector<std::string> sources,
                                 const std::vector<unsigned> &ops,
                                 const std::string &defaultKey,
                                 const OnlineTuneResult &r) {
  // Later compiles look the new records up (not a stale memo).
  if (r.dbNote.empty())
    selector->forget();
  std::shared_ptr<KernelImpl> impl = weak.lock();
  if (!impl)
    return; // nobody holds the kernel any more; the records are kept
  auto notTuned = [&](unsigned i, const std::string &why) {
    sources[i] = "default (online tuning " + why + ")";
  };
  std::map<unsigned, std::string> configs = selection.configs;
  bool any = false;
  for (unsigned i : ops) {
    if (r.stopped)
      notTuned(i, "stopped: the Jit was destroyed");
    else if (!r.error.empty())
      notTuned(i, "failed: " + r.error);
    else if (auto e = r.errors.find(i); e != r.errors.end())
      notTuned(i, "failed: " + e->second);
    else if (auto c = r.configs.find(i); c != r.configs.end()) {
      configs[i] = c->second;
      auto m = r.measured.find(i);
      sources[i] = "online (best of " +
                   std::to_string(m == r.measured.end() ? 0 : m->second) +
                   (r.dbNote.empty() ? ")"
                                     : "; not recorded: " + r.dbNote + ")");
      any = true;
    } else {
      notTuned(i, "failed: no result");
    }
  }
  KernelImpl::Version next = impl->current();
  next.sources = sources;
  if (any) {
    compiler::CompileRequest request = requestFor(text, opts);
    request.opConfigs = configs;
    auto prepared = compiler::prepare(request);
    std::string failure;
    if (!prepared) {
      failure = llvm::toString(prepared.takeError());
    } else {
      for (size_t i = 0; i < prepared->configNotes.size(); ++i)
        if (!prepared->configNotes[i].empty() && i < sources.size() &&
            sources[i].rfind("online (", 0) == 0)
          notTuned(unsigned(i), "failed: best config not used: " +
                                    prepared->configNotes[i]);
      if (prepared->cacheKey != defaultKey) {
        Result<Served> served = loadOrGenerate(*prepared);
        if (served)
          next = KernelImpl::Version{served->kernel, served->origin, sources};
        else
          failure = served.status().message();
      }
    }
    if (!failure.empty())
      for (unsigned i : ops)
        if (sources[i].rfind("online (", 0) == 0)
          notTuned(i, "failed: the best configs did not compile: " + failure);
    next.sources = sources;
  }
  impl->publish(std::move(next));
  impl->endTuning();
}

//===----------------------------------------------------------------------===//
// Public Jit API
//===----------------------------------------------------------------------===//

Jit::Jit(Target target, JitOptions options)
    : impl_(std::make_unique<JitImpl>(target, std::move(options))) {}
Jit::~Jit() = default;
Jit::Jit(Jit &&) noexcept = default;
Jit &Jit::operator=(Jit &&) noexcept = default;

const Target &Jit::target() const { return impl_->target; }

std::string Jit::tuningDbPath() const { return impl_->selector->path(); }
double Jit::onlineTuneBudgetSeconds() const { return impl_->onlineBudget; }

std::string Jit::cacheDir() const {
  return impl_->disk ? impl_->disk->directory() : "";
}

Result<Kernel> Jit::compileModule(const std::string &mlirText,
                                  const CompileOptions &options) {
  return impl_->compileText(mlirText, options);
}

Result<Kernel> Jit::compile(const DepthwiseConv2d &op,
                            const CompileOptions &options) {
  Result<std::string> text = toMlirText(op, options.entry);
  if (!text)
    return text.status();
  return impl_->compileText(*text, options);
}

Result<Kernel> Jit::compile(const InceptionDepthwiseConv2d &op,
                            const CompileOptions &options) {
  Result<std::string> text = toMlirText(op, options.entry);
  if (!text)
    return text.status();
  return impl_->compileText(*text, options);
}
