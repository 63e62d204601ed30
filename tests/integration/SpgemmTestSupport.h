//===- SpgemmTestSupport.h - CSR inputs and reference for spgemm tests -*- C++
//-*-===//
//
// Shared by the CPU (tests/integration/SpgemmTest.cpp) and GPU
// (tests/gpu/SpgemmGpuTest.cpp) spgemm tests: random CSR matrices, the
// independent reference (per row a std::map<column, double> that every
// product A(i,k) * B(k,j) adds into: duplicates summed, columns ordered),
// the MLIR module, and the comparison: row_ptr and col_idx exactly, values
// within max |c - ref| <= kRtol * (1 + max |ref|), no NaN/Inf.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_TESTS_INTEGRATION_SPGEMMTESTSUPPORT_H
#define KJIT_TESTS_INTEGRATION_SPGEMMTESTSUPPORT_H

#include "kjit/kjit.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace kjit::testing::spgemm {

constexpr double kRtol = 1e-4;

struct Csr {
  int64_t rows = 0, cols = 0;
  std::vector<int32_t> rowPtr, colIdx;
  std::vector<float> values;
  int64_t nnz() const { return int64_t(colIdx.size()); }
};

struct CsrOptions {
  double perRow = 3;       ///< mean entries per row
  bool emptyRows = false;  ///< every third row empty
  bool shuffle = false;    ///< unsorted columns within a row
  bool duplicates = false; ///< repeated columns within a row (to be summed)
};

/// `n` distinct random columns per row (sorted unless `shuffle`).
inline Csr randomCsr(int64_t rows, int64_t cols, const CsrOptions &o,
                     std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::poisson_distribution<int> count(o.perRow);
  Csr a;
  a.rows = rows, a.cols = cols;
  a.rowPtr.push_back(0);
  for (int64_t i = 0; i < rows; ++i) {
    std::vector<int32_t> c;
    if (cols > 0 && !(o.emptyRows && i % 3 == 1)) {
      int n = std::min<int64_t>(count(rng), cols);
      std::uniform_int_distribution<int64_t> col(0, cols - 1);
      std::map<int32_t, bool> seen;
      while ((int)seen.size() < n)
        seen[int32_t(col(rng))] = true;
      for (auto &[j, x] : seen)
        c.push_back(j);
      if (o.duplicates && !c.empty())
        for (int d = 0; d < std::max(1, n / 2); ++d)
          c.push_back(c[rng() % c.size()]);
      if (o.shuffle)
        std::shuffle(c.begin(), c.end(), rng);
    }
    for (int32_t j : c) {
      a.colIdx.push_back(j);
      a.values.push_back(u(rng));
    }
    a.rowPtr.push_back(int32_t(a.colIdx.size()));
  }
  return a;
}

struct RefCsr {
  std::vector<int32_t> rowPtr, colIdx;
  std::vector<double> values;
};

/// The product, row by row through std::map (ordered, duplicates summed).
inline RefCsr reference(const Csr &a, const Csr &b) {
  RefCsr c;
  c.rowPtr.push_back(0);
  for (int64_t i = 0; i < a.rows; ++i) {
    std::map<int32_t, double> row;
    for (int32_t p = a.rowPtr[i]; p < a.rowPtr[i + 1]; ++p) {
      int32_t k = a.colIdx[p];
      for (int32_t q = b.rowPtr[k]; q < b.rowPtr[k + 1]; ++q)
        row[b.colIdx[q]] += double(a.values[p]) * double(b.values[q]);
    }
    for (auto [j, v] : row) {
      c.colIdx.push_back(j);
      c.values.push_back(v);
    }
    c.rowPtr.push_back(int32_t(c.colIdx.size()));
  }
  return c;
}

inline std::string tensorT(int64_t n, const char *elem) {
  return "tensor<" + (n < 0 ? std::string("?") : std::to_string(n)) + "x" +
         elem + ">";
}

inline std::string spgemmModule(int64_t m, int64_t k, int64_t n, int64_t nnzA,
                                int64_t nnzB) {
  std::string arp = tensorT(m + 1, "i32"), aci = tensorT(nnzA, "i32"),
              av = tensorT(nnzA, "f32"), brp = tensorT(k + 1, "i32"),
              bci = tensorT(nnzB, "i32"), bv = tensorT(nnzB, "f32"),
              crp = tensorT(m + 1, "i32"), cci = tensorT(-1, "i32"),
              cv = tensorT(-1, "f32");
  std::ostringstream s;
  s << "func.func @main(%arp: " << arp << ", %aci: " << aci << ", %av: " << av
    << ", %brp: " << brp << ", %bci: " << bci << ", %bv: " << bv << ") -> ("
    << crp << ", " << cci << ", " << cv << ") {\n"
    << "  %c:3 = kjit.spgemm %arp, %aci, %av, %brp, %bci, %bv {shape = "
       "array<i64: "
    << m << ", " << k << ", " << n << ">} : " << arp << ", " << aci << ", "
    << av << ", " << brp << ", " << bci << ", " << bv << " -> " << crp << ", "
    << cci << ", " << cv << "\n"
    << "  return %c#0, %c#1, %c#2 : " << crp << ", " << cci << ", " << cv
    << "\n}\n";
  return s.str();
}

inline std::vector<kjit::TensorView> views(Csr &a, Csr &b) {
  return {kjit::TensorView(a.rowPtr.data(), {a.rows + 1}),
          kjit::TensorView(a.colIdx.data(), {a.nnz()}),
          kjit::TensorView(a.values.data(), {a.nnz()}),
          kjit::TensorView(b.rowPtr.data(), {b.rows + 1}),
          kjit::TensorView(b.colIdx.data(), {b.nnz()}),
          kjit::TensorView(b.values.data(), {b.nnz()})};
}

/// "" when the kernel's outputs match the reference, else why not.
inline std::string compare(const std::vector<kjit::Tensor> &out,
                           const RefCsr &ref) {
  if (out.size() != 3)
    return "expected 3 outputs, got " + std::to_string(out.size());
  const kjit::Tensor &rp = out[0], &ci = out[1], &v = out[2];
  if (rp.dtype() != kjit::DType::i32 || ci.dtype() != kjit::DType::i32 ||
      v.dtype() != kjit::DType::f32)
    return "wrong output dtypes";
  if (rp.shape() != std::vector<int64_t>{int64_t(ref.rowPtr.size())})
    return "row_ptr has " + std::to_string(rp.numElements()) + " entries";
  for (size_t i = 0; i < ref.rowPtr.size(); ++i)
    if (rp.data<int32_t>()[i] != ref.rowPtr[i])
      return "row_ptr[" + std::to_string(i) +
             "] = " + std::to_string(rp.data<int32_t>()[i]) + ", expected " +
             std::to_string(ref.rowPtr[i]);
  int64_t nnz = int64_t(ref.colIdx.size());
  if (ci.shape() != std::vector<int64_t>{nnz} ||
      v.shape() != std::vector<int64_t>{nnz})
    return "col_idx/values have " + std::to_string(ci.numElements()) + "/" +
           std::to_string(v.numElements()) + " entries, expected " +
           std::to_string(nnz);
  double maxRef = 0, maxErr = 0;
  for (int64_t p = 0; p < nnz; ++p) {
    if (ci.data<int32_t>()[p] != ref.colIdx[p])
      return "col_idx[" + std::to_string(p) +
             "] = " + std::to_string(ci.data<int32_t>()[p]) + ", expected " +
             std::to_string(ref.colIdx[p]);
    float x = v.data<float>()[p];
    if (!std::isfinite(x))
      return "non-finite value at " + std::to_string(p);
    maxRef = std::max(maxRef, std::fabs(ref.values[p]));
    maxErr = std::max(maxErr, std::fabs(double(x) - ref.values[p]));
  }
  double tol = kRtol * (1 + maxRef);
  if (maxErr > tol)
    return "max|c-ref| = " + std::to_string(maxErr) + " > tol " +
           std::to_string(tol);
  return "";
}

} // namespace kjit::testing::spgemm

#endif
