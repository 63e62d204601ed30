//===- KernelAllocatorTest.cpp - kernels use the process's malloc -------===//
//
// Kernel::runAllocating returns memory that the kernel malloc'ed and that
// kjit::Tensor frees with std::free: both must be the process's allocator,
// which need not be glibc's (jemalloc, tcmalloc or a sanitizer interpose
// malloc). This program interposes malloc itself (glibc supports replacing
// it: the glibc manual, "Replacing malloc"), tags every block it hands out,
// and checks that freeing spgemm's kernel-allocated outputs frees only
// tagged blocks. A kernel
// that took malloc from libc behind the interposer fails here, and under
// ASan frees a block ASan never allocated. Not built with KJIT_SANITIZE:
// the sanitizers interpose malloc themselves (and the ASan run checks the
// same thing).
//
//===----------------------------------------------------------------------===//
#include "SpgemmTestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" {
void *__libc_memalign(size_t alignment, size_t size);
void *__libc_realloc(void *ptr, size_t size);
void __libc_free(void *ptr);
}

namespace {

constexpr uint64_t kTag = 0x6b6a69742d6d656dull; // "kjit-mem"

/// Just before every block this allocator hands out.
struct alignas(16) Header {
  uint64_t tag;
  void *base; ///< what __libc_memalign returned
  size_t size;
};

/// Frees of blocks that this allocator did not hand out.
std::atomic<long> foreignFrees{0};

Header *headerOf(void *p) { return static_cast<Header *>(p) - 1; }

bool isTagged(void *p) { return p && headerOf(p)->tag == kTag; }

void *allocateTagged(size_t alignment, size_t size) {
  alignment = std::max(alignment, alignof(Header));
  if (alignment & (alignment - 1)) {
    errno = EINVAL;
    return nullptr;
  }
  // A multiple of the alignment with room for the header.
  size_t offset = std::max(alignment, sizeof(Header));
  if (size > SIZE_MAX - offset) {
    errno = ENOMEM;
    return nullptr;
  }
  void *base = __libc_memalign(alignment, size + offset);
  if (!base)
    return nullptr;
  void *user = static_cast<char *>(base) + offset;
  *headerOf(user) = {kTag, base, size};
  return user;
}

} // namespace

extern "C" {
void *malloc(size_t size) noexcept { return allocateTagged(16, size); }

void free(void *p) noexcept {
  if (!p)
    return;
  if (!isTagged(p)) {
    foreignFrees.fetch_add(1);
    __libc_free(p);
    return;
  }
  Header *h = headerOf(p);
  void *base = h->base;
  h->tag = 0;
  __libc_free(base);
}

void *calloc(size_t n, size_t size) noexcept {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  void *p = allocateTagged(16, bytes);
  if (p)
    memset(p, 0, bytes);
  return p;
}

void *realloc(void *p, size_t size) noexcept {
  if (!p)
    return allocateTagged(16, size);
  if (!isTagged(p))
    return __libc_realloc(p, size);
  void *q = allocateTagged(16, size);
  if (!q)
    return nullptr;
  memcpy(q, p, std::min(size, headerOf(p)->size));
  free(p);
  return q;
}

void *memalign(size_t alignment, size_t size) noexcept {
  return allocateTagged(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) noexcept {
  return allocateTagged(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) noexcept {
  if (alignment % sizeof(void *) || (alignment & (alignment - 1)))
    return EINVAL;
  void *p = allocateTagged(alignment, size);
  if (!p)
    return ENOMEM;
  *out = p;
  return 0;
}

void *valloc(size_t size) noexcept { return allocateTagged(4096, size); }

void *pvalloc(size_t size) noexcept {
  return allocateTagged(4096, (size + 4095) & ~size_t(4095));
}

size_t malloc_usable_size(void *p) noexcept {
  return isTagged(p) ? headerOf(p)->size : 0;
}
} // extern "C"

namespace {

using namespace kjit::testing::spgemm;

TEST(KernelAllocator, KernelAllocatedOutputsComeFromTheProcessMalloc) {
  // The interposer is live: the test's own allocations carry the tag.
  std::vector<int> probe(100);
  ASSERT_TRUE(isTagged(probe.data()));

  std::mt19937_64 rng(7);
  CsrOptions o;
  Csr a = randomCsr(9, 7, o, rng), b = randomCsr(7, 11, o, rng);
  kjit::Jit jit;
  kjit::CompileOptions co;
  co.config = "#kjit.config<{accumulator = \"dense\", threads = 1}>";
  auto k = jit.compileModule(
      spgemmModule(a.rows, a.cols, b.cols, a.nnz(), b.nnz()), co);
  ASSERT_TRUE(bool(k)) << k.status().message();
  long before = foreignFrees.load();
  {
    auto out = k->runAllocating(views(a, b));
    ASSERT_TRUE(bool(out)) << out.errorMessage();
    EXPECT_EQ(compare(*out, reference(a, b)), "");
    // Their data may sit inside the block (the kernel aligns it), so the
    // check is on the frees, when the tensors go.
  }
  EXPECT_EQ(foreignFrees.load() - before, 0)
      << "kjit freed blocks that the process's malloc did not allocate";
}

} // namespace
