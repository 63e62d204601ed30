//===- kjit.h - kjit's public host API -------------------------*- C++ -*-===//
//
// The one header a user includes. It pulls in no MLIR or LLVM headers: the
// compiler is behind a pimpl, errors are kjit::Status / kjit::Result<T>
// (an llvm::Expected-style value that must be checked).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_KJIT_H
#define KJIT_KJIT_H

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace kjit {

/// Element types kjit kernels take and return.
enum class DType { f32, i32 };
const char *dtypeName(DType t);
size_t dtypeSize(DType t);

/// Success, or an error with a message a user can act on.
class Status {
public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    return s;
  }
  explicit operator bool() const { return !failed_; } ///< true when ok
  bool isOk() const { return !failed_; }
  const std::string &message() const { return message_; }

private:
  bool failed_ = false;
  std::string message_;
};

/// A value or an error (the shape of llvm::Expected without LLVM).
template <typename T> class Result {
public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status error) : v_(std::move(error)) {}
  explicit operator bool() const { return v_.index() == 0; }
  T &operator*() { return std::get<0>(v_); }
  const T &operator*() const { return std::get<0>(v_); }
  T *operator->() { return &std::get<0>(v_); }
  const T *operator->() const { return &std::get<0>(v_); }
  /// The error; only valid when the result holds no value.
  const Status &status() const { return std::get<1>(v_); }
  const std::string &errorMessage() const { return std::get<1>(v_).message(); }

private:
  std::variant<T, Status> v_;
};

/// Where a TensorView's data lives.
enum class Memory { Host, Device };

/// A view of memory: data pointer, shape, strides (in elements), dtype.
/// Empty strides mean C-contiguous (row-major). Host memory by default;
/// `memory = Memory::Device` (e.g. DeviceBuffer::view) for memory of CUDA
/// device `device` (a CUdeviceptr as a pointer).
struct TensorView {
  void *data = nullptr;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  Memory memory = Memory::Host;
  int device = 0; ///< CUDA ordinal when memory == Memory::Device

  TensorView() = default;
  TensorView(void *data, DType dtype, std::vector<int64_t> shape,
             std::vector<int64_t> strides = {})
      : data(data), dtype(dtype), shape(std::move(shape)),
        strides(std::move(strides)) {}
  TensorView(float *data, std::vector<int64_t> shape)
      : TensorView(data, DType::f32, std::move(shape)) {}
  TensorView(int32_t *data, std::vector<int64_t> shape)
      : TensorView(data, DType::i32, std::move(shape)) {}

  int64_t numElements() const;
  bool isContiguous() const;
  std::vector<int64_t> contiguousStrides() const;
  /// A contiguous view of device memory.
  static TensorView onDevice(void *data, DType dtype,
                             std::vector<int64_t> shape, int device = 0);
};

/// An owning, C-contiguous host tensor: what Kernel::runAllocating returns
/// (the outputs a kernel sizes itself, e.g. the col_idx and values of
/// kjit.spgemm, whose length is the product's nnz). Move-only; the memory is
/// released once, by the destructor (or reset()).
class Tensor {
public:
  Tensor() = default;
  Tensor(Tensor &&other) noexcept { *this = std::move(other); }
  Tensor &operator=(Tensor &&other) noexcept {
    owner_ = std::move(other.owner_);
    data_ = std::exchange(other.data_, nullptr);
    dtype_ = other.dtype_;
    shape_ = std::move(other.shape_);
    other.shape_.clear();
    return *this;
  }
  Tensor(const Tensor &) = delete;
  Tensor &operator=(const Tensor &) = delete;

  /// Uninitialized, 64-byte aligned storage; an error when it cannot be
  /// allocated or a dimension is negative.
  static Result<Tensor> allocate(DType dtype, std::vector<int64_t> shape);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t> &shape() const { return shape_; }
  int64_t numElements() const;
  size_t sizeBytes() const { return size_t(numElements()) * dtypeSize(dtype_); }
  void *data() { return data_; }
  const void *data() const { return data_; }
  /// Typed access; T must match dtype() (float for f32, int32_t for i32).
  template <typename T> T *data() { return static_cast<T *>(data_); }
  template <typename T> const T *data() const {
    return static_cast<const T *>(data_);
  }
  /// A view of this tensor (valid while the tensor lives).
  TensorView view();
  /// Releases the memory now; the tensor becomes empty.
  void reset();

private:
  friend class Kernel;
  struct Free {
    void operator()(void *p) const;
  };
  /// Takes ownership of `owner` (malloc'ed; released with free) whose
  /// elements start at `data`.
  static Tensor adopt(void *owner, void *data, DType dtype,
                      std::vector<int64_t> shape);
  std::unique_ptr<void, Free> owner_;
  void *data_ = nullptr;
  DType dtype_ = DType::f32;
  std::vector<int64_t> shape_;
};

/// Memory on a CUDA device (cuMemAlloc in the device's primary context),
/// freed when the buffer dies. Move-only. Without a CUDA driver every
/// allocation fails with an error starting "no CUDA driver".
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  static Result<DeviceBuffer> allocate(size_t bytes, int device = 0);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;

  void *data() const { return reinterpret_cast<void *>(ptr_); }
  size_t size() const { return bytes_; }
  int device() const { return device_; }
  /// Copies `bytes` (at most size()) from host memory to the buffer.
  Status copyFromHost(const void *src, size_t bytes);
  /// Copies `bytes` (at most size()) from the buffer to host memory.
  Status copyToHost(void *dst, size_t bytes) const;
  /// A contiguous device view of the buffer (its size must hold the shape;
  /// Kernel::run checks).
  TensorView view(DType dtype, std::vector<int64_t> shape) const;

private:
  uintptr_t ptr_ = 0;
  size_t bytes_ = 0;
  int device_ = 0;
};

/// Where kernels run. Target::cuda(n) compiles for the compute capability
/// of CUDA device n (sm_80, sm_90, ...) and needs a CUDA driver
/// (libcuda.so.1, loaded at run time; without one Jit::compile* returns an
/// error starting "no CUDA driver").
///
/// Target::cpu(name) compiles for a named CPU ISA instead of the host's:
/// "x86-64-v3" (AVX2+FMA, 16 vector registers), "x86-64-v4" (AVX-512,
/// 32 vector registers) or any LLVM x86-64 CPU name ("znver3",
/// "sapphirerapids"). Configs (defaults, legality) and code generation
/// follow that ISA; caches and cores stay the host's. Kernel cache and
/// tuning records are keyed by it (key()), apart from the host's. An
/// unknown name, or an ISA this host cannot execute (x86-64-v4 on an
/// AVX2-only CPU), makes every Jit::compile* an error saying why.
struct Target {
  enum class Kind { CPU, CUDA };
  Kind kind = Kind::CPU;
  int ordinal = 0; ///< CUDA device ordinal
  /// CPU only: the named CPU target ("x86-64-v3", ...); "": the host.
  std::string cpuName;
  /// The host CPU as LLVM sees it (model and ISA features).
  static Target host();
  /// A named CPU target; "host" (or "") is Target::host().
  static Target cpu(const std::string &name);
  static Target cuda(int ordinal = 0);
  /// A stable text naming the target: CPU model, features, cores; for CUDA
  /// "cuda;<GPU name>;cc=XY;sms=N;driver=V" (the tuning database's key:
  /// what kjit-tune --target=cuda records under), or
  /// "cuda:<ordinal>;no-driver" without a usable driver; "cpu:<name>;unknown"
  /// for a CPU name kjit does not know.
  std::string key() const;
  /// CPU targets: ok when the name is known and this CPU can run its code,
  /// else the error every Jit::compile* for it returns. CUDA targets: ok
  /// (compiles report a missing driver or device).
  Status check() const;
};

/// kjit.depthwise_conv2d, described without MLIR.
struct DepthwiseConv2d {
  int64_t batch = 1, channels = 0, height = 0, width = 0;
  std::array<int64_t, 2> kernel = {3, 3};        ///< KH, KW
  std::array<int64_t, 2> strides = {1, 1};       ///< h, w
  std::array<int64_t, 2> dilations = {1, 1};     ///< h, w
  std::array<int64_t, 4> padding = {0, 0, 0, 0}; ///< top, bottom, left, right
  std::string layout = "nhwc";                   ///< "nhwc" or "nchw"
  bool bias = false;
  /// "Same" padding for stride 1: (k-1)*d/2 on each side (k odd).
  DepthwiseConv2d &samePadding();
};

/// kjit.inception_depthwise_conv2d (InceptionNeXt's token mixer).
struct InceptionDepthwiseConv2d {
  int64_t batch = 1, channels = 0, height = 0, width = 0;
  int64_t squareKernel = 3; ///< K of the K x K branch
  int64_t bandKernel = 11;  ///< B of the 1 x B and B x 1 branches
  std::array<int64_t, 3> branchChannels = {0, 0, 0}; ///< g_sq, g_w, g_h
  std::string layout = "nhwc";
};

/// Options of one compile.
struct CompileOptions {
  /// A `#kjit.config<{...}>` attribute applied to every kjit op that has no
  /// config of its own; empty: the op's tuned or default config.
  std::string config;
  /// Threads a kernel may use; 0 leaves the config's (or default's) choice.
  int threads = 0;
  /// Entry function for compileModule.
  std::string entry = "main";
  /// On-line tuning budget in seconds for this compile: < 0 (the default)
  /// takes the Jit's (JitOptions::onlineTuneBudgetSeconds); 0: none; > 0:
  /// the ops that have neither an explicit config nor a tuning-database
  /// record are tuned in the background (see Kernel::waitForTuning).
  double onlineTuneBudgetSeconds = -1;
};

/// One argument of a compiled kernel.
struct ArgInfo {
  DType dtype = DType::f32;
  /// The static shape; a dimension of -1 (kDynamic) marks an output the
  /// kernel allocates and sizes itself (get it from runAllocating).
  std::vector<int64_t> shape;
  bool isOutput = false;
  static constexpr int64_t kDynamic = -1;
  bool isDynamic() const {
    for (int64_t d : shape)
      if (d == kDynamic)
        return true;
    return false;
  }
};

/// Options of Kernel::time.
struct TimingOptions {
  int warmup = 1;  ///< untimed runs first
  int repeat = 10; ///< timed runs
  /// CUDA: evict the L2 cache between timed runs (a memset of twice its
  /// size, outside the timed interval).
  bool flushL2 = true;
};

class KernelImpl;

/// A compiled kernel. Cheap to copy (shared); safe to run from many threads.
class Kernel {
public:
  /// Runs the kernel. Checks every argument (count, rank, shape, dtype, null,
  /// an output aliasing an input) and returns an error instead of crashing.
  /// CPU kernels take host views. CUDA kernels (Target::cuda) take device
  /// views (contiguous, on the kernel's device) and run on them; host views
  /// are also accepted: they are copied to temporary device memory, and
  /// outputs back, on every call (convenient, slower). A CUDA run returns
  /// when the kernel has finished; launch and execution errors come back
  /// as the Status.
  /// Every output must have a static shape (see runAllocating otherwise).
  Status run(const std::vector<TensorView> &inputs,
             const std::vector<TensorView> &outputs) const;
  /// Runs the kernel and returns its outputs, in order, as tensors it owns:
  /// static outputs are allocated here, dynamic ones (ArgInfo::isDynamic,
  /// e.g. kjit.spgemm's col_idx and values) by the kernel at their run-time
  /// size. Works for every kernel. Input checks as in run(); on an error
  /// (also one the kernel reports, e.g. a malformed CSR) nothing is
  /// returned and nothing leaks. CUDA kernels: the outputs are copied to
  /// host tensors and the device memory the kernel allocated is freed.
  Result<std::vector<Tensor>>
  runAllocating(const std::vector<TensorView> &inputs) const;
  /// Times `options.repeat` runs after `options.warmup` untimed ones and
  /// returns each run's milliseconds. CUDA kernels: host views are copied
  /// to the device once, not per run; each run is timed on the device with
  /// a CUDA event pair, runs are queued back to back, and the L2 cache is
  /// flushed before each (options.flushL2). CPU kernels: wall-clock time
  /// of each Kernel::run. Kernels with dynamic outputs (kjit.spgemm): the
  /// views given for those are ignored (pass TensorView()); each run
  /// allocates them, as in runAllocating, and they are freed untimed (CUDA:
  /// after the last timed run; a CUDA run includes the host's read of the
  /// output size it allocates by).
  Result<std::vector<double>> time(const std::vector<TensorView> &inputs,
                                   const std::vector<TensorView> &outputs,
                                   const TimingOptions &options = {}) const;
  /// The target the kernel was compiled for.
  const Target &target() const;
  const std::vector<ArgInfo> &inputs() const;
  const std::vector<ArgInfo> &outputs() const;
  /// The resolved `#kjit.config<...>` of each kjit op, in program order.
  const std::vector<std::string> &configs() const;
  /// Where each op's config came from, in program order: "tuned" (the
  /// tuning database's record for this workload, target and compiler),
  /// "nearest <key>" (the best config of the nearest tuned workload,
  /// re-verified for this one), "model" (no record: the cost model's pick,
  /// JitOptions::modelPickWithoutRecord), "default", "default (<why the database's
  /// config was not used>)", "option" (CompileOptions::config) or "own" (the
  /// op carries a config in the module).
  const std::vector<std::string> &configSources() const;
  /// Where the code came from: "compiled", "memory-cache" or "disk-cache".
  const std::string &origin() const;
  /// The MLIR the kernel was compiled from.
  const std::string &source() const;

  /// On-line tuning (CompileOptions::onlineTuneBudgetSeconds, KJIT_TUNE):
  /// the kernel first runs its default code while candidates are compiled
  /// and measured in the background (in a helper process unless
  /// JitOptions::onlineTuneInProcess; on buffers of their own; for
  /// Target::cuda on the kernel's device, timed with CUDA events) within the
  /// budget; then the best code is swapped in atomically (runs in flight
  /// finish on the code they started with; replaced code is unloaded) and
  /// every measurement is in the tuning database. While tuning,
  /// configSources() says "online (tuning)" for the ops being tuned, then
  /// "online (best of N)" (N candidates measured), or "default (online
  /// tuning ...: <why>)", e.g. "default (online tuning not run: no
  /// measuring worker ...)". configs(),
  /// configSources(), origin() and source() describe the code the next
  /// run() uses; references they return stay valid for the kernel's life.
  /// True while background tuning of this kernel is pending or running.
  bool tuning() const;
  /// Waits until tuning has ended (true), or `timeoutSeconds` have passed
  /// (false); a negative timeout waits for good. True at once when the
  /// kernel is not tuned.
  bool waitForTuning(double timeoutSeconds = -1) const;

  explicit Kernel(std::shared_ptr<KernelImpl> impl);

private:
  /// run() and runAllocating(): views of the static outputs (dynamic ones
  /// ignored), kernel-allocated outputs appended to `allocated` in order.
  Status runImpl(const std::vector<TensorView> &inputs,
                 const std::vector<TensorView> &outputs,
                 std::vector<Tensor> *allocated) const;
  std::shared_ptr<KernelImpl> impl_;
};

/// Options of a Jit.
struct JitOptions {
  /// Kernel cache directory; empty: $KJIT_CACHE_DIR, else
  /// $XDG_CACHE_HOME/kjit, else $HOME/.cache/kjit.
  std::string cacheDir;
  bool diskCache = true;
  bool memoryCache = true;
  /// Tuning database for run-time selection (compiles without
  /// CompileOptions::config): empty: $KJIT_TUNING_DB, else
  /// <cache dir>/tuning.sqlite; "off": none. A missing file means no lookup;
  /// one that cannot be read means default configs and one warning on
  /// stderr, never a failed compile. Read once per module text: records
  /// added later are seen by a new Jit.
  std::string tuningDb;
  /// What an op gets when the tuning database has no record for it (nor a
  /// nearest tuned workload): false (the default) its default config; true
  /// the cost model's pick among the pruned candidates (the model-only
  /// strategy: no measurement, costs an enumeration of the op's space per
  /// compile). The default config is the default because it measured
  /// closer to the best (bench/results/2026-11-28-tuning-evidence.md).
  /// $KJIT_NO_RECORD=model sets it too.
  bool modelPickWithoutRecord = false;
  /// On-line tuning budget (seconds) of each compile without an explicit
  /// config (CompileOptions::onlineTuneBudgetSeconds overrides it): < 0
  /// (the default): from $KJIT_TUNE ("budget:<seconds>" or
  /// "budget:<seconds>s", optionally ",in-process"; "off"; a malformed
  /// value means no tuning and one warning on stderr); 0: none.
  /// Measurements go to the tuning database (above; created when missing);
  /// destroying the Jit stops the background tuning (the helper process
  /// measuring a candidate is killed; in-process, after the candidate).
  double onlineTuneBudgetSeconds = -1;
  /// On-line tuning is isolated by default: each candidate is compiled and
  /// measured in a helper process (`kjit-tune --measure-worker`), so a
  /// candidate that crashes or hangs is a failed record and the
  /// application lives on; only the winner is compiled into this process.
  /// The worker: this path, else $KJIT_MEASURE_WORKER, else kjit-tune
  /// installed beside libkjit (<prefix>/bin), else the build tree's. With
  /// none, on-line tuning does not run and says why (configSources(), one
  /// warning on stderr).
  std::string measureWorker;
  /// Opts into measuring candidates in this process instead (no helper
  /// process; faster to start, but a miscompiled candidate takes the
  /// application down). So does KJIT_TUNE=budget:<seconds>,in-process when
  /// the budget comes from KJIT_TUNE.
  bool onlineTuneInProcess = false;
};

/// Parses a KJIT_TUNE value: "budget:<seconds>" or "budget:<seconds>s"
/// (e.g. "budget:30", "budget:1.5s"), optionally followed by ",in-process"
/// (then `*inProcess` is set true), or "off", "0" or "" (no tuning: 0).
/// Anything else is an error naming the expected form.
Result<double> parseTuneSpec(const std::string &spec,
                             bool *inProcess = nullptr);

class JitImpl;

/// Compiles kjit ops or whole modules for one target. Thread-safe.
class Jit {
public:
  explicit Jit(Target target = Target::host(), JitOptions options = {});
  ~Jit();
  Jit(Jit &&) noexcept;
  Jit &operator=(Jit &&) noexcept;

  Result<Kernel> compile(const DepthwiseConv2d &op,
                         const CompileOptions &options = {});
  Result<Kernel> compile(const InceptionDepthwiseConv2d &op,
                         const CompileOptions &options = {});
  /// The escape hatch: any function on tensors holding kjit ops.
  Result<Kernel> compileModule(const std::string &mlirText,
                               const CompileOptions &options = {});

  const Target &target() const;
  /// The directory of the disk cache ("" when disabled).
  std::string cacheDir() const;
  /// The tuning database path looked up ("" or "off" when none).
  std::string tuningDbPath() const;
  /// The on-line tuning budget of compiles that do not set their own (0:
  /// none), after $KJIT_TUNE.
  double onlineTuneBudgetSeconds() const;

private:
  std::unique_ptr<JitImpl> impl_;
};

/// What emitCudaCode returns: the kernel's PTX text, its cubin (ptxas), or
/// the host object Target::cuda runs (ELF relocatable for the host CPU,
/// the device code embedded, a cubin when ptxas is there and PTX for the
/// driver's JIT otherwise), defining `void kjit_packed_<entry>(void **args)`
/// (args[i]: memref descriptor of argument i, inputs then outputs, device
/// pointers) and `void kjit_init_<entry>(void)` (loads the device code),
/// and calling MLIR's mgpu* runtime functions (kjit's CudaDriver implements
/// them). For running compiled kernels where kjit itself cannot be built.
enum class CudaCodeFormat { PTX, Cubin, HostObject };

/// GPU code without a GPU or a CUDA driver: the PTX text (or, through
/// ptxas, the cubin) of the one kjit op of `mlirText` for a CUDA chip
/// ("sm_80", "sm_90", ...). Configs are resolved for that chip (each op's
/// GPU knobs, e.g. block_w, block_h, channels_per_block, threads,
/// smem_stage for the convs). Every op but kjit.spgemm has a GPU code
/// generator; all the kernels of the module are in the one PTX module.
Result<std::string> emitCudaCode(const std::string &mlirText,
                                 const CompileOptions &options = {},
                                 const std::string &chip = "sm_90",
                                 CudaCodeFormat format = CudaCodeFormat::PTX);

/// kjit's version.
std::string version();
/// The compiler key of the kernel cache: the tuning epoch plus the build
/// (size and mtime of the binary holding the compiler).
std::string compilerKey();
/// The key of tuning records: kjit's and LLVM's versions, a hash of the
/// code-generation sources and of the CPU pipeline; not the build, so a
/// rebuild keeps them. Records of another epoch are never served; they
/// seed kjit-tune's and on-line tuning's searches.
std::string tuningEpoch();

} // namespace kjit

#endif // KJIT_KJIT_H
