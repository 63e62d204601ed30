//===- Tensor.cpp - owning host tensors ------------------------------------===//
#include "kjit/kjit.h"

#include <cstdlib>
#include <limits>

using namespace kjit;

void Tensor::Free::operator()(void *p) const { std::free(p); }

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape_)
    n *= d;
  return n;
}

Result<Tensor> Tensor::allocate(DType dtype, std::vector<int64_t> shape) {
  size_t elems = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return Status::error("Tensor::allocate: negative dimension " +
                           std::to_string(d));
    if (d != 0 && elems > std::numeric_limits<size_t>::max() / 16 / size_t(d))
      return Status::error("Tensor::allocate: the shape is too large");
    elems *= size_t(d);
  }
  size_t bytes = elems * dtypeSize(dtype);
  size_t rounded = (bytes + 63) / 64 * 64;
  void *p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p)
    return Status::error("Tensor::allocate: cannot allocate " +
                         std::to_string(bytes) + " bytes");
  return adopt(p, p, dtype, std::move(shape));
}

Tensor Tensor::adopt(void *owner, void *data, DType dtype,
                     std::vector<int64_t> shape) {
  Tensor t;
  t.owner_.reset(owner);
  t.data_ = data;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  return t;
}

TensorView Tensor::view() { return TensorView(data_, dtype_, shape_); }

void Tensor::reset() {
  owner_.reset();
  data_ = nullptr;
  shape_.clear();
}
