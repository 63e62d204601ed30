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
    nnz = std::min(nnz, m * k);
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
  // kjit.spmm(row_ptr, col_idx, values, b): a valid CSR over b's rows.
  if (opName == "kjit.spmm" && inputs.size() == 4 &&
      inputs[0].dtype == DType::i32 && inputs[1].dtype == DType::i32 &&
      inputs[0].shape.size() == 1 && inputs[1].shape.size() == 1 &&
      inputs[3].shape.size() == 2 && inputs[0].shape[0] >= 1)
    randomCsr(inputs[0].shape[0] - 1, inputs[3].shape[0], inputs[1].shape[0],
              reinterpret_cast<int32_t *>(buffers[0].data()),
              reinterpret_cast<int32_t *>(buffers[1].data()), rng);
}
