//===- InputData.cpp - valid random inputs for measuring a kjit op -------===//
#include "autotune/InputData.h"

#include <algorithm>
#include <cstring>
#include <numeric>

using namespace kjit;
using namespace kjit::autotune;

namespace {
int64_t count(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// row_ptr (M+1) and col_idx (nnz) of a random M x K CSR with `nnz` entries.
void randomCsr(int64_t m, int64_t k, int64_t nnz, int32_t *rowPtr,
               int32_t *colIdx, std::mt19937 &rng) {
  std::vector<int64_t> perRow(m, 0);
  // Each nonzero lands in a random row that still has a free column.
  int64_t placed = 0;
  if (m > 0 && k > 0) {
    std::uniform_int_distribution<int64_t> row(0, m - 1);
    for (int64_t tries = 0; placed < nnz && tries < 8 * nnz; ++tries) {
      int64_t r = row(rng);
      if (perRow[r] < k)
        ++perRow[r], ++placed;
    }
    for (int64_t r = 0; placed < nnz && r < m; ++r) // the rare remainder
      while (perRow[r] < k && placed < nnz)
        ++perRow[r], ++placed;
  }
  // More entries than distinct positions (a column count the inputs do not
  // tell, e.g. spgemm's N): duplicates, which the kernels accept and sum.
  std::vector<int64_t> dupPerRow(m, 0);
  for (int64_t r = 0; m > 0 && placed < nnz; r = (r + 1) % m)
    ++dupPerRow[r], ++placed;
  rowPtr[0] = 0;
  std::vector<int32_t> cols;
  int64_t p = 0;
  for (int64_t r = 0; r < m; ++r) {
    // perRow[r] distinct columns (Floyd's sampling), sorted.
    cols.clear();
    for (int64_t j = k - perRow[r]; j < k; ++j) {
      int32_t c = int32_t(std::uniform_int_distribution<int64_t>(0, j)(rng));
      if (std::find(cols.begin(), cols.end(), c) != cols.end())
        c = int32_t(j);
      cols.push_back(c);
    }
    for (int64_t d = 0; d < dupPerRow[r]; ++d)
      cols.push_back(int32_t(
          std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(0, k - 1))(
              rng)));
    std::sort(cols.begin(), cols.end());
    for (int32_t c : cols)
      colIdx[p++] = c;
    rowPtr[r + 1] = int32_t(p);
  }
}
} // namespace

void kjit::autotune::fillOpInputs(const std::string &opName,
                                  const std::vector<ArgInfo> &inputs,
                                  std::vector<std::vector<uint8_t>> &buffers,
                                  std::mt19937 &rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (size_t i = 0; i < inputs.size() && i < buffers.size(); ++i) {
    int64_t n = count(inputs[i].shape);
    if (inputs[i].dtype == DType::f32) {
      float *f = reinterpret_cast<float *>(buffers[i].data());
      for (int64_t e = 0; e < n; ++e)
        f[e] = dist(rng);
    } else {
      memset(buffers[i].data(), 0, size_t(n) * dtypeSize(inputs[i].dtype));
    }
  }
  // A CSR matrix is three consecutive 1-D inputs: row_ptr (i32, R + 1),
  // col_idx (i32, nnz), values (f32, nnz) (kjit.spmm's a, kjit.spgemm's a
  // and b). Zero indices are not a valid CSR (the kernels check
  // row_ptr[R] = nnz), so each gets a random valid one; its column count is
  // read from what follows: a dense 2-D operand's rows (spmm's b), the next
  // CSR's row count (spgemm's b), else the op's own (spgemm's shape is not
  // an input: 1 column is always in range).
  (void)opName;
  auto isVec = [&](size_t i, DType t) {
    return i < inputs.size() && inputs[i].dtype == t &&
           inputs[i].shape.size() == 1;
  };
  for (size_t i = 0; i + 2 < inputs.size() && i + 2 < buffers.size(); ++i) {
    if (!isVec(i, DType::i32) || !isVec(i + 1, DType::i32) ||
        !isVec(i + 2, DType::f32) || inputs[i].shape[0] < 1 ||
        inputs[i + 1].shape[0] != inputs[i + 2].shape[0])
      continue;
    int64_t cols = 1;
    if (i + 3 < inputs.size() && inputs[i + 3].dtype == DType::f32 &&
        inputs[i + 3].shape.size() == 2)
      cols = inputs[i + 3].shape[0];
    else if (isVec(i + 3, DType::i32))
      cols = inputs[i + 3].shape[0] - 1;
    randomCsr(inputs[i].shape[0] - 1, std::max<int64_t>(1, cols),
              inputs[i + 1].shape[0],
              reinterpret_cast<int32_t *>(buffers[i].data()),
              reinterpret_cast<int32_t *>(buffers[i + 1].data()), rng);
    i += 2;
  }
}
