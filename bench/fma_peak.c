// Measures this core's fp32 FMA peak with independent AVX-512 and AVX2 FMA
// chains (12 accumulators, no loads), to know how far a kernel is from it.
// Each ISA is measured only where the CPU has it (an AVX2-only Zen 3 would
// die of SIGILL on the AVX-512 chain).
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

__attribute__((target("avx512f"))) static double peak512(long iters) {
  __m512 a[12], x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(0.9999999f);
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps((float)i);
  double t0 = now();
  for (long n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], x, y);
  double t = now() - t0;
  float s = 0;
  for (int i = 0; i < 12; ++i) s += _mm512_reduce_add_ps(a[i]);
  if (s == 1234.5f) puts("");
  return 12.0 * 16 * 2 * iters / t / 1e9;
}

__attribute__((target("avx2,fma"))) static double peak256(long iters) {
  __m256 a[12], x = _mm256_set1_ps(1.0000001f), y = _mm256_set1_ps(0.9999999f);
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps((float)i);
  double t0 = now();
  for (long n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], x, y);
  double t = now() - t0;
  float s = 0;
  for (int i = 0; i < 12; ++i) { float v[8]; _mm256_storeu_ps(v, a[i]); for (int j = 0; j < 8; ++j) s += v[j]; }
  if (s == 1234.5f) puts("");
  return 12.0 * 8 * 2 * iters / t / 1e9;
}

int main(void) {
  __builtin_cpu_init();
  int has512 = __builtin_cpu_supports("avx512f");
  int has256 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  double best512 = 0, best256 = 0;
  for (int r = 0; r < 5; ++r) {
    double a = has512 ? peak512(20000000) : 0, b = has256 ? peak256(20000000) : 0;
    if (a > best512) best512 = a;
    if (b > best256) best256 = b;
  }
  printf("fp32 FMA peak, one core:");
  if (has512)
    printf(" AVX-512 %.1f GFLOP/s,", best512);
  else
    printf(" AVX-512 not on this CPU,");
  if (has256)
    printf(" AVX2 %.1f GFLOP/s\n", best256);
  else
    printf(" AVX2+FMA not on this CPU\n");
  return 0;
}
