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
  std::vector<int64_t> shape;
  bool isOutput = false;
};

class KernelImpl;

/// A compiled kernel. Cheap to copy (shared); safe to run from many threads.
class Kernel {
public:
  /// Runs the kernel. Checks every argument (count, rank, shape, dtype, null,
  /// an output aliasing an input) and returns an error instead of crashing.
  Status run(const std::vector<TensorView> &inputs,
             const std::vector<TensorView> &outputs) const;
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
/// ("sm_80", "sm_90", ...). Configs are resolved for that chip (each op's
/// GPU knobs, e.g. block_w, block_h, channels_per_block, threads,
/// smem_stage for the convs). Every op but kjit.spgemm has a GPU code
/// generator; all the kernels of the module are in the one PTX module.
Result<std::string> emitCudaCode(const std::string &mlirText,
                                 const CompileOptions &options = {},
                                 const std::string &chip = "sm_90",
                                 CudaCodeFormat format = CudaCodeFormat::PTX);

/// kjit's version and the compiler key (kjit + LLVM versions, pipeline hash).
std::string version();
std::string compilerKey();

} // namespace kjit

#endif // KJIT_KJIT_H
