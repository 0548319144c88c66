/* Reference C loop for benchmarks/bench_kernels.py: Curie-Weiss Metropolis sweeps.
 *
 * The same update as mc.kernels.spins.run_curie_weiss with one replica, one rung, random site
 * order and the Metropolis rule: a running magnetisation M, N uniformly random sites per sweep,
 * effective field f_i = tp * (jn * (M - s_i) + b_i) + tl * h_i, flip with probability
 * min(1, exp(-2 s_i f_i)) and exp evaluated only for uphill moves. Random numbers come from an
 * inline xoshiro256** (Blackman & Vigna 2021) with doubles from the top 53 bits and sites as
 * (int64)(u * N), exactly as mc.kernels.rng, so with the same state words, fields and initial
 * spins the chain is the same as the Numba kernel's (compile with -ffp-contract=off so that no
 * fused multiply-add changes the rounding).
 *
 * Usage: cw_metropolis INPUT N N_SWEEPS JN TP TL S0 S1 S2 S3
 *   INPUT      binary file: b (N doubles), h (N doubles), initial spins (N int8, +-1)
 *   JN         beta J / N;  TP, TL: theta_prior, theta_lik
 *   S0..S3     xoshiro256** state words (decimal)
 * Prints one line: "ns_per_attempt flips final_magnetisation".
 */
#define _POSIX_C_SOURCE 199309L
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t next_u64(uint64_t s[4]) {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static inline double uniform(uint64_t s[4]) {
    return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int64_t sweeps(int8_t *spin, int64_t *mag, int64_t n, int64_t n_sweeps, double jn, const double *b,
                      const double *h, double tp, double tl, uint64_t state[4]) {
    uint64_t s[4] = {state[0], state[1], state[2], state[3]};
    int64_t m = *mag, nf = 0;
    for (int64_t sweep = 0; sweep < n_sweeps; sweep++) {
        for (int64_t step = 0; step < n; step++) {
            const int64_t i = (int64_t)(uniform(s) * (double)n);
            const int8_t si = spin[i];
            const double f = tp * (jn * (double)(m - si) + b[i]) + tl * h[i];
            const double d = -2.0 * si * f;
            if (d >= 0.0 || uniform(s) < exp(d)) {
                spin[i] = (int8_t)-si;
                m -= 2 * si;
                nf++;
            }
        }
    }
    for (int k = 0; k < 4; k++) state[k] = s[k];
    *mag = m;
    return nf;
}

int main(int argc, char **argv) {
    if (argc != 11) {
        fprintf(stderr, "usage: %s INPUT N N_SWEEPS JN TP TL S0 S1 S2 S3\n", argv[0]);
        return 2;
    }
    const int64_t n = strtoll(argv[2], NULL, 10), n_sweeps = strtoll(argv[3], NULL, 10);
    const double jn = strtod(argv[4], NULL), tp = strtod(argv[5], NULL), tl = strtod(argv[6], NULL);
    uint64_t state[4];
    for (int k = 0; k < 4; k++) state[k] = strtoull(argv[7 + k], NULL, 10);
    double *b = malloc(n * sizeof(double)), *h = malloc(n * sizeof(double));
    int8_t *spin = malloc(n);
    FILE *fp = fopen(argv[1], "rb");
    if (!b || !h || !spin || !fp || fread(b, sizeof(double), n, fp) != (size_t)n ||
        fread(h, sizeof(double), n, fp) != (size_t)n || fread(spin, 1, n, fp) != (size_t)n) {
        fprintf(stderr, "cw_metropolis: cannot read %" PRId64 " sites from %s\n", n, argv[1]);
        return 1;
    }
    fclose(fp);
    int64_t mag = 0;
    for (int64_t i = 0; i < n; i++) mag += spin[i];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const int64_t nf = sweeps(spin, &mag, n, n_sweeps, jn, b, h, tp, tl, state);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%.4f %" PRId64 " %" PRId64 "\n", ns / ((double)n * (double)n_sweeps), nf, mag);
    return 0;
}
