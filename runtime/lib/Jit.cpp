//===- Jit.cpp - Jit, Kernel and the compile flow -------------------------===//
//
// compile: descriptor -> MLIR text -> compiler::prepare (parse, verify,
// resolve configs, key) -> memory cache -> disk cache -> compiler::generate
// -> disk store -> CpuExecutor::load.
//
//===----------------------------------------------------------------------===//
#include "CpuExecutor.h"
#include "KernelCache.h"
#include "KernelErrors.h"
#include "OpText.h"
#include "RuntimeInternal.h"
#include "Selection.h"
#include "compiler/Compiler.h"

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

using namespace kjit;
using namespace kjit::runtime;

namespace kjit::runtime {
const compiler::CpuTarget &hostCpu(); // Core.cpp
} // namespace kjit::runtime

//===----------------------------------------------------------------------===//
// Kernel
//===----------------------------------------------------------------------===//

namespace {
/// Loaded code plus its signature; shared by every Kernel handle to it.
struct LoadedKernel {
  PackedFn fn = nullptr;
  std::vector<ArgInfo> inputs, outputs;
  std::vector<std::string> configs;
  std::string source;
};
} // namespace

namespace kjit {
class KernelImpl {
public:
  KernelImpl(std::shared_ptr<const LoadedKernel> loaded, std::string origin,
             std::vector<std::string> sources = {})
      : loaded(std::move(loaded)), origin(std::move(origin)),
        sources(std::move(sources)) {}
  std::shared_ptr<const LoadedKernel> loaded;
  std::string origin;
  std::vector<std::string> sources; ///< per op: where its config came from
};
} // namespace kjit

Kernel::Kernel(std::shared_ptr<KernelImpl> impl) : impl_(std::move(impl)) {}
const std::vector<ArgInfo> &Kernel::inputs() const {
  return impl_->loaded->inputs;
}
const std::vector<ArgInfo> &Kernel::outputs() const {
  return impl_->loaded->outputs;
}
const std::vector<std::string> &Kernel::configs() const {
  return impl_->loaded->configs;
}
const std::vector<std::string> &Kernel::configSources() const {
  return impl_->sources;
}
const std::string &Kernel::origin() const { return impl_->origin; }
const std::string &Kernel::source() const { return impl_->loaded->source; }

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

Status Kernel::run(const std::vector<TensorView> &inputs,
                   const std::vector<TensorView> &outputs) const {
  if (impl_ && impl_->loaded)
    for (size_t i = 0; i < impl_->loaded->outputs.size(); ++i)
      if (impl_->loaded->outputs[i].isDynamic())
        return userError("output " + std::to_string(i) +
                         " has a dynamic shape (the kernel allocates it); "
                         "use Kernel::runAllocating");
  return runImpl(inputs, outputs, nullptr);
}

Result<std::vector<Tensor>>
Kernel::runAllocating(const std::vector<TensorView> &inputs) const {
  if (!impl_ || !impl_->loaded || !impl_->loaded->fn)
    return userError("runAllocating() on an empty kernel");
  const LoadedKernel &k = *impl_->loaded;
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
  if (!impl_ || !impl_->loaded || !impl_->loaded->fn)
    return userError("run() on an empty kernel");
  const LoadedKernel &k = *impl_->loaded;
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

//===----------------------------------------------------------------------===//
// Jit
//===----------------------------------------------------------------------===//

namespace kjit {
class JitImpl {
public:
  JitImpl(Target target, JitOptions options);
  Result<Kernel> compileText(const std::string &text,
                             const CompileOptions &options);

  Target target;
  JitOptions options;
  std::shared_ptr<DiskCache> disk;
  std::unique_ptr<TuningSelector> selector;

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

  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<Slot>> slots;
};
} // namespace kjit

JitImpl::JitImpl(Target target, JitOptions options)
    : target(target), options(std::move(options)) {
  selector = std::make_unique<TuningSelector>(TuningSelector::resolvePath(
      this->options.tuningDb, this->options.cacheDir.empty()
                                  ? DiskCache::defaultDirectory()
                                  : this->options.cacheDir));
  if (!this->options.diskCache || target.kind != Target::Kind::CPU)
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
  Result<PackedFn> fn = (*executor)->load(object, sig.symbol);
  if (!fn)
    return fn.status();
  auto loaded = std::make_shared<LoadedKernel>();
  loaded->fn = *fn;
  for (const ArgInfo &a : sig.args)
    (a.isOutput ? loaded->outputs : loaded->inputs).push_back(a);
  loaded->configs = sig.configs;
  loaded->source = sig.source;
  return std::shared_ptr<const LoadedKernel>(std::move(loaded));
}

Result<JitImpl::Served>
JitImpl::loadOrGenerate(const compiler::PreparedModule &prepared) {
  const std::string &key = prepared.cacheKey;
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
  auto artifact = compiler::generate(prepared, hostCpu());
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

void JitImpl::dropSlot(const std::string &key,
                       const std::shared_ptr<Slot> &slot) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = slots.find(key);
  if (it != slots.end() && it->second == slot)
    slots.erase(it);
}

Result<Kernel> JitImpl::compileText(const std::string &text,
                                    const CompileOptions &opts) {
  if (target.kind == Target::Kind::CUDA)
    return userError("CUDA target not supported yet (only Target::host() "
                     "works in this version of kjit)");
  if (opts.threads < 0)
    return userError("threads must be >= 0, got " +
                     std::to_string(opts.threads));
  compiler::CompileRequest request;
  request.mlirText = text;
  request.entry = opts.entry;
  request.config = opts.config;
  request.threads = opts.threads;
  request.target = hostCpu();
  // Run-time selection (ARCHITECTURE.md, Autotuning step 6): without an
  // explicit config, each op gets the tuning database's pick, which
  // prepare() re-verifies (an illegal one falls back to the default).
  OpSelection selection;
  if (opts.config.empty()) {
    selection = selector->select(text, request.target, opts.threads);
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

  auto toKernel = [&sources](const Result<Served> &served) -> Result<Kernel> {
    if (!served)
      return served.status();
    return Kernel(std::make_shared<KernelImpl>(served->kernel, served->origin,
                                               sources));
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
    return Kernel(
        std::make_shared<KernelImpl>(slot->kernel, "memory-cache", sources));
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
