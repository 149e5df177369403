#pragma once
// Matrix products on the process's BLAS (the sgemm LibTorch's libblas.so.3 brings; found at run time, so this
// library links no BLAS itself), else plain loops: correct, slower. Used by the hand-written CPU kernels
// (lib/encoder/fused, lib/generators/siren_kernel) from inside their own parallel regions.
#include <dlfcn.h>

#include <cstdint>

namespace sne::blas {

using SgemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                         const int*, const float*, const int*, const float*, float*, const int*);

inline SgemmFn blas_sgemm() {
  static const SgemmFn f = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return f;
}

/// Column-major C[m,n] = beta C + alpha op(A)[m,k] op(B)[k,n] (BLAS conventions; beta 0 never reads C).
inline void gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float beta, float* c, int64_t ldc, float alpha = 1.0f) {
  if (const SgemmFn f = blas_sgemm()) {
    const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k), LDA = static_cast<int>(lda),
              LDB = static_cast<int>(ldb), LDC = static_cast<int>(ldc);
    f(&ta, &tb, &M, &N, &K, &alpha, a, &LDA, b, &LDB, &beta, c, &LDC);
    return;
  }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) {
      float acc = 0;
      for (int64_t l = 0; l < k; ++l)
        acc += (ta == 'N' ? a[i + l * lda] : a[l + i * lda]) * (tb == 'N' ? b[l + j * ldb] : b[j + l * ldb]);
      c[i + j * ldc] = alpha * acc + (beta == 0.0f ? 0.0f : beta * c[i + j * ldc]);
    }
}

}  // namespace sne::blas
