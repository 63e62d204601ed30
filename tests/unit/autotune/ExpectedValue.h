//===- ExpectedValue.h - an llvm::Expected's value in a test ---*- C++ -*-===//
#ifndef KJIT_TESTS_UNIT_AUTOTUNE_EXPECTEDVALUE_H
#define KJIT_TESTS_UNIT_AUTOTUNE_EXPECTEDVALUE_H

#include "llvm/Support/Error.h"

#include <gtest/gtest.h>

/// The value of `e`; an error is a test failure (with its message) and
/// gives T() (a database read in a test: never "no records" unnoticed).
template <typename T> T must(llvm::Expected<T> e) {
  if (!e) {
    ADD_FAILURE() << llvm::toString(e.takeError());
    return T();
  }
  return std::move(*e);
}

#endif
