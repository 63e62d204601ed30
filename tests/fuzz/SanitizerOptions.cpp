//===- SanitizerOptions.cpp - ASan defaults of the kjit-fuzz-* targets ----===//
//
// allow_user_poisoning=0: LLVM's BumpPtrAllocator (llvm/Support/Allocator.h)
// poisons the unused part of its slabs when the including code is built
// with ASan. kjit's code is, libMLIR.so is not: a slab of an MLIRContext's
// uniquer that kjit's inlined copy allocated stays poisoned where
// libMLIR's uninstrumented copy later hands out memory, and ASan reports
// MLIR's own writes there as use-after-poison (a false positive of the
// mixed build, e.g. in FileLineColRange::get). Heap, stack and global
// checks are unaffected. $ASAN_OPTIONS still overrides this.
//
//===----------------------------------------------------------------------===//

extern "C" const char *__asan_default_options() {
  return "allow_user_poisoning=0";
}
