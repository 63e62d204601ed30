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

/// A view of host memory: data pointer, shape, strides (in elements), dtype.
/// Empty strides mean C-contiguous (row-major).
struct TensorView {
  void *data = nullptr;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;

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

/// Where kernels run.
struct Target {
  enum class Kind { CPU, CUDA };
  Kind kind = Kind::CPU;
  int ordinal = 0; ///< CUDA device ordinal
  /// The host CPU as LLVM sees it (model and ISA features).
  static Target host();
  static Target cuda(int ordinal = 0);
  /// A stable text naming the target (CPU model, features, cores).
  std::string key() const;
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

class KernelImpl;

/// A compiled kernel. Cheap to copy (shared); safe to run from many threads.
class Kernel {
public:
  /// Runs the kernel. Checks every argument (count, rank, shape, dtype, null,
  /// an output aliasing an input) and returns an error instead of crashing.
  /// Every output must have a static shape (see runAllocating otherwise).
  Status run(const std::vector<TensorView> &inputs,
             const std::vector<TensorView> &outputs) const;
  /// Runs the kernel and returns its outputs, in order, as tensors it owns:
  /// static outputs are allocated here, dynamic ones (ArgInfo::isDynamic,
  /// e.g. kjit.spgemm's col_idx and values) by the kernel at their run-time
  /// size. Works for every kernel. Input checks as in run(); on an error
  /// (also one the kernel reports, e.g. a malformed CSR) nothing is
  /// returned and nothing leaks.
  Result<std::vector<Tensor>>
  runAllocating(const std::vector<TensorView> &inputs) const;
  const std::vector<ArgInfo> &inputs() const;
  const std::vector<ArgInfo> &outputs() const;
  /// The resolved `#kjit.config<...>` of each kjit op, in program order.
  const std::vector<std::string> &configs() const;
  /// Where each op's config came from, in program order: "tuned" (the
  /// tuning database's record for this workload, target and compiler),
  /// "nearest <key>" (the best config of the nearest tuned workload,
  /// re-verified for this one), "default", "default (<why the database's
  /// config was not used>)", "option" (CompileOptions::config) or "own" (the
  /// op carries a config in the module).
  const std::vector<std::string> &configSources() const;
  /// Where the code came from: "compiled", "memory-cache" or "disk-cache".
  const std::string &origin() const;
  /// The MLIR the kernel was compiled from.
  const std::string &source() const;

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
};

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

private:
  std::unique_ptr<JitImpl> impl_;
};

/// What emitCudaCode returns.
enum class CudaCodeFormat { PTX, Cubin };

/// GPU code without a GPU or a CUDA driver: the PTX text (or, through
/// ptxas, the cubin) of the one kjit op of `mlirText` for a CUDA chip
/// ("sm_80", "sm_90", ...). Configs are resolved for that chip (the GPU
/// knobs: block_w, block_h, channels_per_block, threads, smem_stage).
/// Only kjit.depthwise_conv2d (NHWC) has a GPU code generator so far.
Result<std::string> emitCudaCode(const std::string &mlirText,
                                 const CompileOptions &options = {},
                                 const std::string &chip = "sm_90",
                                 CudaCodeFormat format = CudaCodeFormat::PTX);

/// kjit's version and the compiler key (kjit + LLVM versions, pipeline hash).
std::string version();
std::string compilerKey();

} // namespace kjit

#endif // KJIT_KJIT_H
