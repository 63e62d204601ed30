// The README's C++ example (tests/readme_snippet_test.py checks they match).
#include "kjit/kjit.h"
#include <cstdio>
#include <vector>

int main() {
  kjit::Jit jit; // the host CPU; kernel cache in ~/.cache/kjit
  kjit::DepthwiseConv2d op{.channels = 64, .height = 56, .width = 56,
                           .kernel = {13, 13}};
  auto kernel = jit.compile(op.samePadding()); // NHWC, "same" padding
  if (!kernel)
    return std::fprintf(stderr, "%s\n", kernel.errorMessage().c_str()), 1;
  std::vector<float> x(56 * 56 * 64, 1.0f), w(64 * 13 * 13, 0.5f), y(x.size());
  kjit::Status s = kernel->run({kjit::TensorView(x.data(), {1, 56, 56, 64}),
                                kjit::TensorView(w.data(), {64, 13, 13})},
                               {kjit::TensorView(y.data(), {1, 56, 56, 64})});
  if (!s)
    return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;
  std::printf("y[center] = %g (expect %g)\n", y[(28 * 56 + 28) * 64], 13 * 13 * 0.5);
  return y[(28 * 56 + 28) * 64] == 13 * 13 * 0.5f ? 0 : 1;
}
