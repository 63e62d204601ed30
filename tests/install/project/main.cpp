// JIT-compiles a 3x3 depthwise conv through the installed public API and
// checks it against a naive loop. Exit 0 on success.
#include <kjit/kjit.h>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  kjit::DepthwiseConv2d op;
  op.channels = 4;
  op.height = 6;
  op.width = 5;
  op.kernel = {3, 3};
  op.samePadding(); // NHWC, stride 1: output 1x6x5x4
  kjit::Jit jit;
  auto kernel = jit.compile(op);
  if (!kernel) {
    fprintf(stderr, "compile failed: %s\n", kernel.errorMessage().c_str());
    return 1;
  }
  const int H = 6, W = 5, C = 4;
  std::vector<float> x(H * W * C), w(C * 9), y(H * W * C, 0.f);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(i % 7) - 3.f;
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 0.25f * float(i % 5) - 0.5f;
  kjit::Status st =
      kernel->run({kjit::TensorView(x.data(), {1, H, W, C}),
                   kjit::TensorView(w.data(), {C, 3, 3})},
                  {kjit::TensorView(y.data(), {1, H, W, C})});
  if (!st) {
    fprintf(stderr, "run failed: %s\n", st.message().c_str());
    return 1;
  }
  double worst = 0;
  for (int h = 0; h < H; ++h)
    for (int j = 0; j < W; ++j)
      for (int c = 0; c < C; ++c) {
        double ref = 0;
        for (int p = 0; p < 3; ++p)
          for (int q = 0; q < 3; ++q) {
            int ih = h + p - 1, iw = j + q - 1;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
              ref += x[(ih * W + iw) * C + c] * w[c * 9 + p * 3 + q];
          }
        worst = std::fmax(worst, std::fabs(ref - y[(h * W + j) * C + c]));
      }
  printf("kjit %s: 3x3 depthwise conv from the installed package, max error "
         "%g (origin %s)\n",
         kjit::version().c_str(), worst, kernel->origin().c_str());
  return worst < 1e-4 ? 0 : 1;
}
