//===- FuzzHostApi.cpp - libFuzzer target: Kernel::run argument checks ----===//
//
// Three small kernels are compiled once (LLVMFuzzerInitialize): a depthwise
// conv, a kjit.spmm and a kjit.spgemm, threads=1. Each input decodes into
// one call of Kernel::run or Kernel::runAllocating on one of them: argument
// counts, and per argument its dtype, rank, shape, strides (none, explicit
// contiguous, gapped or negative, zero, arbitrary 64-bit values, a wrong
// count), a null or a device pointer; the CSR operands (row_ptr, col_idx)
// hold a valid CSR or one corrupted at a decoded place. The decoding is
// forward and a missing byte reads as 0, so an all-zero input is a valid
// call.
//
// The harness knows the contract (kjit.h and ARCHITECTURE.md) and checks it:
//  - a call whose arguments all match the kernel's signature, with valid
//    CSR operands, must succeed, and kjit.spmm / kjit.spgemm must then give
//    exactly the reference result (the values are small integers, so every
//    sum is exact in fp32 in any order);
//  - any other call (a mismatch, a null pointer, a device view, strides
//    whose byte extent overflows 64 bits, an output with a zero stride, a
//    malformed CSR, run() on a kernel with kernel-allocated outputs) must
//    return an error with a message.
// Every argument that must be accepted lives at the end of its own
// mmap'ed arena followed by a PROT_NONE page, so a read or write past it by
// kjit or by the JIT-compiled (uninstrumented) kernel faults at once.
//
//===----------------------------------------------------------------------===//
#include "kjit/kjit.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

using namespace kjit;

namespace {

[[noreturn]] void violated(const std::string &what) {
  fprintf(stderr, "fuzz-hostapi: %s\n", what.c_str());
  abort();
}

/// Reads the input front to back; past its end every byte is 0.
struct ByteReader {
  const uint8_t *p, *end;
  uint8_t u8() { return p < end ? *p++ : 0; }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= uint64_t(u8()) << (8 * i);
    return v;
  }
  int32_t i32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= uint32_t(u8()) << (8 * i);
    return int32_t(v);
  }
  /// A small integer in [-8, 8]: exact in every fp32 sum the kernels do.
  float smallValue() { return float(int(int8_t(u8())) % 9); }
};

/// Memory for one argument: kBytes readable and writable, then a page that
/// is not. Views are placed to end exactly at the guard page.
class Arena {
public:
  static constexpr size_t kBytes = size_t(1) << 16;
  Arena() {
    size_t page = size_t(sysconf(_SC_PAGESIZE));
    void *p = mmap(nullptr, kBytes + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      violated("cannot map an arena");
    base_ = static_cast<char *>(p);
    if (mprotect(base_ + kBytes, page, PROT_NONE) != 0)
      violated("cannot protect an arena's guard page");
  }
  char *begin() const { return base_; }
  char *end() const { return base_ + kBytes; }

private:
  char *base_;
};

/// A kernel's CSR operand: the input indices of row_ptr and col_idx, and
/// the matrix's rows and columns.
struct CsrOperand {
  size_t rowPtr, colIdx, values;
  int64_t rows, cols;
};

enum class Op { DepthwiseConv, Spmm, Spgemm };

struct FuzzKernel {
  Op op;
  const char *name;
  Kernel kernel;
  std::vector<CsrOperand> csr;
};

std::vector<FuzzKernel> &kernels() {
  static std::vector<FuzzKernel> k;
  return k;
}

Jit &jit() {
  static Jit j(Target::host(), [] {
    JitOptions o;
    o.diskCache = false;
    o.tuningDb = "off";
    o.onlineTuneBudgetSeconds = 0;
    return o;
  }());
  return j;
}

// spmm: CSR 5 x 4 (nnz 7) times 4 x 3. spgemm: CSR 4 x 5 (nnz 6) times
// CSR 5 x 3 (nnz 5).
constexpr const char *kSpmm = R"(
func.func @main(%rp: tensor<6xi32>, %ci: tensor<7xi32>, %v: tensor<7xf32>,
                %b: tensor<4x3xf32>) -> tensor<5x3xf32> {
  %y = kjit.spmm %rp, %ci, %v, %b
      : tensor<6xi32>, tensor<7xi32>, tensor<7xf32>, tensor<4x3xf32>
      -> tensor<5x3xf32>
  return %y : tensor<5x3xf32>
})";
constexpr const char *kSpgemm = R"(
func.func @main(%arp: tensor<5xi32>, %aci: tensor<6xi32>, %av: tensor<6xf32>,
                %brp: tensor<6xi32>, %bci: tensor<5xi32>, %bv: tensor<5xf32>)
    -> (tensor<5xi32>, tensor<?xi32>, tensor<?xf32>) {
  %c:3 = kjit.spgemm %arp, %aci, %av, %brp, %bci, %bv {shape = array<i64: 4, 5, 3>}
      : tensor<5xi32>, tensor<6xi32>, tensor<6xf32>, tensor<6xi32>, tensor<5xi32>, tensor<5xf32>
      -> tensor<5xi32>, tensor<?xi32>, tensor<?xf32>
  return %c#0, %c#1, %c#2 : tensor<5xi32>, tensor<?xi32>, tensor<?xf32>
})";

void addKernel(Op op, const char *name, Result<Kernel> k,
               std::vector<CsrOperand> csr) {
  if (!k)
    violated(std::string("cannot compile the ") + name +
             " kernel: " + k.errorMessage());
  kernels().push_back({op, name, *k, std::move(csr)});
}

std::string shapeText(const std::vector<int64_t> &s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i)
    t += (i ? "," : "") + std::to_string(s[i]);
  return t + "]";
}

/// One decoded argument.
struct Arg {
  TensorView view;
  bool valid = false; ///< the kernel must accept it (and it is backed)
  /// An output whose elements overlap through nonzero strides: kjit.h
  /// promises no check of that, so such a call is not judged.
  bool selfOverlapping = false;
  /// Its byte extent does not fit in 64 bits: Kernel::run must refuse it.
  bool extentOverflows = false;
  std::vector<int64_t> strides; ///< element strides used to place it
  std::string describe() const {
    return std::string(dtypeName(view.dtype)) + shapeText(view.shape) +
           " strides " + shapeText(view.strides) +
           (view.data ? "" : " null") +
           (view.memory == Memory::Device ? " device" : "") +
           (extentOverflows ? " span-overflows" : "") +
           (valid ? " valid" : " invalid");
  }
  /// Address of the element at C-order position `linear`.
  char *at(int64_t linear) const {
    int64_t off = 0;
    for (size_t d = view.shape.size(); d-- > 0;) {
      off += (linear % view.shape[d]) * strides[d];
      linear /= view.shape[d];
    }
    return static_cast<char *>(view.data) + off * 4;
  }
  float f32(int64_t i) const { return *reinterpret_cast<float *>(at(i)); }
  int32_t i32(int64_t i) const { return *reinterpret_cast<int32_t *>(at(i)); }
};

/// Element count of `shape`, or -1 when a dimension is negative or the
/// count overflows.
int64_t elementCount(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n))
      return -1;
  return n;
}

/// The lowest and highest element offsets a view reaches, false when they
/// (or their byte offsets) do not fit in 64 bits.
bool extent(const std::vector<int64_t> &shape,
            const std::vector<int64_t> &strides, int64_t &lo, int64_t &hi) {
  lo = hi = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    int64_t e;
    if (__builtin_mul_overflow(shape[d] - 1, strides[d], &e) ||
        __builtin_add_overflow(e < 0 ? lo : hi, e, e < 0 ? &lo : &hi))
      return false;
  }
  int64_t bytes;
  return !__builtin_mul_overflow(lo, 4, &bytes) &&
         !__builtin_mul_overflow(hi + 1, 4, &bytes);
}

/// C-order strides of any decoded shape; a product that overflows wraps
/// (TensorView::contiguousStrides is for real shapes).
std::vector<int64_t> contiguous(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size());
  int64_t running = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    s[d] = running;
    __builtin_mul_overflow(running, shape[d], &running);
  }
  return s;
}

/// Decodes one argument for a slot whose signature is `spec`.
Arg decodeArg(ByteReader &r, const ArgInfo &spec, bool isOutput,
              const Arena &arena) {
  uint8_t how = r.u8();
  Arg a;
  TensorView &v = a.view;
  v.dtype = (how & 1) ? (spec.dtype == DType::f32 ? DType::i32 : DType::f32)
                      : spec.dtype;
  v.shape = spec.shape;
  if (how & 2)
    v.shape.resize(r.u8() % 10, 1);
  if ((how & 4) && !v.shape.empty()) {
    int64_t &d = v.shape[r.u8() % v.shape.size()];
    d = (how & 0x40) ? int64_t(r.u64()) : d + int8_t(r.u8());
  }
  bool exact = v.dtype == spec.dtype && v.shape == spec.shape &&
               !spec.isDynamic();
  switch ((how >> 3) & 3) {
  case 0:
    break;
  case 1:
    v.strides = contiguous(v.shape);
    break;
  case 2: { // gaps, reversed dimensions, broadcast (0)
    int64_t running = 1;
    v.strides.resize(v.shape.size());
    for (size_t d = v.shape.size(); d-- > 0;) {
      uint8_t b = r.u8();
      int64_t s = b == 0xff ? 0 : running * (1 + (b & 3));
      v.strides[d] = (b & 0x80) ? -s : s;
      if (s && v.shape[d] > 0 && v.shape[d] < (int64_t(1) << 20) &&
          running < (int64_t(1) << 20))
        running = s * v.shape[d];
    }
    break;
  }
  case 3:
    v.strides.resize(v.shape.size());
    for (int64_t &s : v.strides)
      s = int64_t(r.u64());
    break;
  }
  if (how & 0x20)
    v.strides.resize(r.u8() % 10, 1);
  bool null = how & 0x80;

  int64_t n = exact ? elementCount(v.shape) : -1;
  if (!exact || (!v.strides.empty() && v.strides.size() != v.shape.size())) {
    v.data = null ? nullptr : arena.begin();
    return a;
  }
  a.strides = v.strides.empty() ? contiguous(v.shape) : v.strides;
  if (null) {
    a.valid = n == 0;
    return a;
  }
  if (isOutput)
    for (size_t d = 0; d < v.shape.size(); ++d)
      if (v.shape[d] > 1 && a.strides[d] == 0) {
        v.data = arena.begin();
        return a; // outputs may not overlap themselves
      }
  int64_t lo, hi;
  if (!extent(v.shape, a.strides, lo, hi)) {
    // No memory can hold such a view: the kernel must refuse it.
    v.data = arena.begin();
    a.extentOverflows = true;
    return a;
  }
  constexpr int64_t kCap = int64_t(Arena::kBytes) / 4;
  if (hi >= kCap || -lo >= kCap || hi - lo + 1 > kCap) {
    // Legal but larger than the arena: place it contiguously instead.
    v.strides.clear();
    a.strides = contiguous(v.shape);
    lo = 0;
    hi = n - 1;
  }
  v.data = arena.end() - (hi + 1) * 4;
  a.valid = true;
  if (isOutput) {
    std::set<char *> seen;
    for (int64_t e = 0; e < n && !a.selfOverlapping; ++e)
      a.selfOverlapping = !seen.insert(a.at(e)).second;
  }
  return a;
}

/// A CSR of `rows` x `cols` with `nnz` entries: valid unless the decoded
/// corruption bits say otherwise.
void decodeCsr(ByteReader &r, int64_t rows, int64_t cols, int64_t nnz,
               std::vector<int32_t> &rowPtr, std::vector<int32_t> &colIdx) {
  std::vector<int32_t> cuts(size_t(rows > 0 ? rows - 1 : 0));
  for (int32_t &c : cuts)
    c = int32_t(r.u8() % (nnz + 1));
  std::sort(cuts.begin(), cuts.end());
  rowPtr.assign(1, 0);
  rowPtr.insert(rowPtr.end(), cuts.begin(), cuts.end());
  rowPtr.push_back(int32_t(nnz));
  colIdx.resize(size_t(nnz));
  for (int32_t &c : colIdx)
    c = int32_t(r.u8() % cols);
  uint8_t corrupt = r.u8();
  if (corrupt & 1)
    rowPtr[r.u8() % rowPtr.size()] = r.i32();
  if ((corrupt & 2) && nnz > 0)
    colIdx[r.u8() % colIdx.size()] = r.i32();
  if (corrupt & 4) {
    size_t i = r.u8() % rowPtr.size();
    rowPtr[i] = int32_t(uint32_t(rowPtr[i]) + uint32_t(int8_t(r.u8())));
  }
}

bool csrValid(const Arg &rowPtr, const Arg &colIdx, int64_t rows,
              int64_t cols) {
  int64_t nnz = colIdx.view.shape[0];
  if (rowPtr.i32(0) != 0 || rowPtr.i32(rows) != nnz)
    return false;
  for (int64_t i = 0; i < rows; ++i)
    if (rowPtr.i32(i) > rowPtr.i32(i + 1))
      return false;
  for (int64_t p = 0; p < nnz; ++p)
    if (colIdx.i32(p) < 0 || colIdx.i32(p) >= cols)
      return false;
  return true;
}

/// Row i of a valid CSR as (column, value) pairs, duplicates summed.
std::map<int32_t, double> csrRow(const std::vector<Arg> &in,
                                 const CsrOperand &c, int64_t i) {
  std::map<int32_t, double> row;
  for (int32_t p = in[c.rowPtr].i32(i); p < in[c.rowPtr].i32(i + 1); ++p)
    row[in[c.colIdx].i32(p)] += in[c.values].f32(p);
  return row;
}

/// Checks a successful kjit.spmm or kjit.spgemm against the reference.
void checkResult(const FuzzKernel &fk, const std::vector<Arg> &in,
                 const std::vector<Arg> &outViews,
                 const std::vector<Tensor> &owned, bool allocating) {
  if (fk.op == Op::Spmm) {
    const CsrOperand &a = fk.csr[0];
    const Arg &b = in[3];
    int64_t n = b.view.shape[1];
    for (int64_t i = 0; i < a.rows; ++i) {
      std::map<int32_t, double> row = csrRow(in, a, i);
      for (int64_t j = 0; j < n; ++j) {
        double want = 0;
        for (auto [k, x] : row)
          want += x * b.f32(k * n + j);
        float got = allocating ? owned[0].data<float>()[i * n + j]
                               : outViews[0].f32(i * n + j);
        if (got != float(want))
          violated("spmm: y[" + std::to_string(i) + "][" + std::to_string(j) +
                   "] = " + std::to_string(got) + ", the reference says " +
                   std::to_string(want));
      }
    }
    return;
  }
  if (fk.op != Op::Spgemm)
    return;
  const CsrOperand &a = fk.csr[0], &b = fk.csr[1];
  std::vector<int32_t> rowPtr{0}, cols;
  std::vector<double> vals;
  for (int64_t i = 0; i < a.rows; ++i) {
    std::map<int32_t, double> acc;
    for (auto [k, x] : csrRow(in, a, i))
      for (auto [j, y] : csrRow(in, b, k))
        acc[j] += x * y;
    for (auto [j, z] : acc) {
      cols.push_back(j);
      vals.push_back(z);
    }
    rowPtr.push_back(int32_t(cols.size()));
  }
  const int32_t *gotRp = owned[0].data<int32_t>();
  const int32_t *gotCols = owned[1].data<int32_t>();
  const float *gotVals = owned[2].data<float>();
  if (owned[1].numElements() != int64_t(cols.size()) ||
      owned[2].numElements() != int64_t(cols.size()))
    violated("spgemm: " + std::to_string(owned[1].numElements()) +
             " entries, the reference has " + std::to_string(cols.size()));
  for (size_t i = 0; i < rowPtr.size(); ++i)
    if (gotRp[i] != rowPtr[i])
      violated("spgemm: row_ptr differs from the reference at " +
               std::to_string(i));
  for (size_t p = 0; p < cols.size(); ++p)
    if (gotCols[p] != cols[p] || gotVals[p] != float(vals[p]))
      violated("spgemm: entry " + std::to_string(p) +
               " differs from the reference");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  CompileOptions opts;
  opts.threads = 1;
  DepthwiseConv2d dw;
  dw.channels = 5;
  dw.height = dw.width = 6;
  dw.kernel = {3, 3};
  dw.bias = true;
  dw.samePadding();
  addKernel(Op::DepthwiseConv, "depthwise_conv2d", jit().compile(dw, opts),
            {});
  addKernel(Op::Spmm, "spmm", jit().compileModule(kSpmm, opts),
            {{0, 1, 2, 5, 4}});
  addKernel(Op::Spgemm, "spgemm", jit().compileModule(kSpgemm, opts),
            {{0, 1, 2, 4, 5}, {3, 4, 5, 5, 3}});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static std::vector<std::unique_ptr<Arena>> arenas;
  ByteReader r{data, data + size};
  const FuzzKernel &fk = kernels()[r.u8() % kernels().size()];
  const std::vector<ArgInfo> &ins = fk.kernel.inputs();
  const std::vector<ArgInfo> &outs = fk.kernel.outputs();
  uint8_t mode = r.u8();
  bool allocating = mode & 1;
  size_t nIn = ins.size(), nOut = allocating ? 0 : outs.size();
  if (mode & 2)
    nIn = r.u8() % (ins.size() + 2);
  if ((mode & 4) && !allocating)
    nOut = r.u8() % (outs.size() + 2);
  while (arenas.size() < nIn + nOut)
    arenas.push_back(std::make_unique<Arena>());

  // A slot beyond the signature gets its last argument's signature.
  std::vector<Arg> in, out;
  for (size_t i = 0; i < nIn; ++i)
    in.push_back(decodeArg(r, ins[std::min(i, ins.size() - 1)], false,
                           *arenas[i]));
  for (size_t i = 0; i < nOut; ++i)
    out.push_back(decodeArg(r, outs[std::min(i, outs.size() - 1)], true,
                            *arenas[nIn + i]));
  bool device = false;
  if ((mode & 8) && nIn + nOut > 0) {
    size_t i = r.u8() % (nIn + nOut);
    (i < nIn ? in[i] : out[i - nIn]).view.memory = Memory::Device;
    (i < nIn ? in[i] : out[i - nIn]).valid = false;
    device = true;
  }

  // Contents: CSR operands first (a valid CSR unless corrupted), then
  // small integers for everything else that is valid.
  bool expectOk = nIn == ins.size() && nOut == (allocating ? 0 : outs.size());
  for (const Arg &a : in)
    expectOk &= a.valid;
  bool judged = true;
  for (const Arg &a : out) {
    expectOk &= a.valid;
    judged &= !a.selfOverlapping;
  }
  std::vector<bool> filled(nIn, false);
  for (const CsrOperand &c : fk.csr) {
    if (c.colIdx >= nIn || !in[c.rowPtr].valid || !in[c.colIdx].valid)
      continue;
    std::vector<int32_t> rowPtr, colIdx;
    decodeCsr(r, c.rows, c.cols, ins[c.colIdx].shape[0], rowPtr, colIdx);
    for (size_t i = 0; i < rowPtr.size(); ++i)
      *reinterpret_cast<int32_t *>(in[c.rowPtr].at(int64_t(i))) = rowPtr[i];
    for (size_t i = 0; i < colIdx.size(); ++i)
      *reinterpret_cast<int32_t *>(in[c.colIdx].at(int64_t(i))) = colIdx[i];
    filled[c.rowPtr] = filled[c.colIdx] = true;
  }
  for (size_t i = 0; i < nIn; ++i) {
    if (!in[i].valid || filled[i])
      continue;
    int64_t n = elementCount(in[i].view.shape);
    for (int64_t e = 0; e < n; ++e)
      *reinterpret_cast<float *>(in[i].at(e)) = r.smallValue();
  }
  // Read the CSRs back through their views (a broadcast stride leaves
  // fewer distinct values than were written).
  if (expectOk)
    for (const CsrOperand &c : fk.csr)
      expectOk &= csrValid(in[c.rowPtr], in[c.colIdx], c.rows, c.cols);
  bool dynamic = false;
  for (const ArgInfo &o : outs)
    dynamic |= o.isDynamic();
  expectOk &= allocating || !dynamic;

  std::vector<TensorView> inViews, outViews;
  for (const Arg &a : in)
    inViews.push_back(a.view);
  for (const Arg &a : out)
    outViews.push_back(a.view);
  Status s;
  Result<std::vector<Tensor>> owned = std::vector<Tensor>();
  if (allocating) {
    owned = fk.kernel.runAllocating(inViews);
    if (!owned)
      s = owned.status();
  } else {
    s = fk.kernel.run(inViews, outViews);
  }

  if (!s.isOk() && s.message().empty())
    violated(std::string(fk.name) + ": an error without a message");
  if (!judged)
    return 0;
  if (s.isOk() != expectOk) {
    std::string call = std::string(fk.name) +
                       (allocating ? ".runAllocating(" : ".run(");
    for (const Arg &a : in)
      call += "\n  in  " + a.describe();
    for (const Arg &a : out)
      call += "\n  out " + a.describe();
    call += device ? "\n  (a device view)" : "";
    violated(call + "\n) " +
             (s.isOk() ? std::string("succeeded; expected an error")
                       : "failed: '" + s.message() + "'" +
                             (expectOk ? "; expected success" : "")));
  }
  static const std::vector<Tensor> none;
  if (s.isOk())
    checkResult(fk, in, out, allocating ? *owned : none, allocating);
  return 0;
}
