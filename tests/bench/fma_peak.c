/* FMA peak of this machine, in GFLOP/s, for the training benchmark's "share of peak":
 * every OpenMP thread runs 12 independent chains of 8-float fused multiply-adds (enough
 * to cover the FMA latency on current x86 cores) and the threads' rates are summed.
 * Built by tests/bench/bench_train.sh with -O3 -mavx2 -mfma -fopenmp.
 *   OMP_NUM_THREADS=2 ./fma_peak   ->  "94.7" */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>

#define CHAINS 12

int main(void) {
  double total = 0;
#pragma omp parallel reduction(+ : total)
  {
    __m256 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps(1.0f + i * 1e-3f);
    const __m256 factor = _mm256_set1_ps(0.999999f), addend = _mm256_set1_ps(1e-7f);
    const long iterations = 100000000;
    const double start = omp_get_wtime();
    for (long k = 0; k < iterations; k++)
      for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], factor, addend);
    const double seconds = omp_get_wtime() - start;
    float sink = 0, lanes[8];
    for (int i = 0; i < CHAINS; i++) {
      _mm256_storeu_ps(lanes, acc[i]);
      sink += lanes[0];
    }
    if (sink == 12345.f) printf("#"); /* keeps the chains alive */
    total = iterations * (double)CHAINS * 8 * 2 / seconds / 1e9;
  }
  printf("%.1f\n", total);
  return 0;
}
