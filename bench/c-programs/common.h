/*
 * Shared by the C benchmark programs (single.c, threads.c, server.c,
 * prodcons.c): a seeded pseudo-random generator, block patterns that are
 * written on allocation and checked before free, argument parsing, the
 * clock and the two output lines.
 *
 * Every program prints exactly two lines on success:
 *   check <16 hex digits>   a value that depends only on the arguments
 *                           (never on addresses or thread timing), so it
 *                           must be the same whatever the allocator
 *   time_ms <float>         wall time of the work (CLOCK_MONOTONIC)
 * On a corrupted block, a NULL from malloc, a misaligned block or a lost
 * message it prints the reason on stderr and exits with status 1.
 */
#ifndef BENCH_C_COMMON_H
#define BENCH_C_COMMON_H

#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *prog_name = "bench";

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: FAILED: ", prog_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    _exit(1);
}

/* --- random numbers ------------------------------------------------------ */

/* A 64-bit finaliser (the splitmix64 output function): spreads the bits of
 * any input, used both as the generator's step and to derive tags. */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

typedef struct {
    uint64_t state;
} rng_t;

static inline rng_t rng_seeded(uint64_t seed)
{
    rng_t r = {mix64(seed ^ 0x5eed5eed5eed5eedULL)};
    return r;
}

/* splitmix64: a Weyl sequence passed through mix64. */
static inline uint64_t rng_next(rng_t *r)
{
    r->state += 0x9e3779b97f4a7c15ULL;
    return mix64(r->state);
}

/* Uniform in [0, n), n > 0 (multiply-shift; bias below 2^-32 for our n). */
static inline uint64_t rng_below(rng_t *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline uint64_t rng_range(rng_t *r, uint64_t lo, uint64_t hi)
{
    return lo + rng_below(r, hi - lo + 1);
}

/* Skewed toward small sizes, as programs' requests are: picks a power-of-two
 * ceiling between lo and hi uniformly, then a size uniformly up to it. */
static inline size_t rng_size_skewed(rng_t *r, size_t lo, size_t hi)
{
    unsigned classes = 0;
    while (((size_t)lo << (classes + 1)) <= hi)
        classes++;
    size_t ceiling = (size_t)lo << rng_below(r, classes + 1);
    if (ceiling > hi)
        ceiling = hi;
    return (size_t)rng_range(r, lo, ceiling);
}

/* --- block patterns ------------------------------------------------------ */
/* The byte at offset i of a block with tag t is byte (i % 8) (little-endian)
 * of the word t ^ (i / 8) * K. A block's tag is derived from what the
 * program knows about it (an id, a key), never from its address. */

#define PATTERN_K 0xd6e8feb86659fd93ULL

static inline uint64_t pattern_word(uint64_t tag, size_t w)
{
    return tag ^ ((uint64_t)w * PATTERN_K);
}

static inline uint8_t pattern_byte(uint64_t tag, size_t i)
{
    return (uint8_t)(pattern_word(tag, i >> 3) >> ((i & 7) * 8));
}

/* Writes the pattern over bytes [from, to) of p (every byte). */
static inline void fill_range(void *p, size_t from, size_t to, uint64_t tag)
{
    uint8_t *b = p;
    size_t i = from;
    for (; i < to && (i & 7); i++)
        b[i] = pattern_byte(tag, i);
    for (; i + 8 <= to; i += 8) {
        uint64_t w = pattern_word(tag, i >> 3);
        memcpy(b + i, &w, 8);
    }
    for (; i < to; i++)
        b[i] = pattern_byte(tag, i);
}

/* Whether bytes [from, to) of p hold the pattern. */
static inline int range_ok(const void *p, size_t from, size_t to, uint64_t tag)
{
    const uint8_t *b = p;
    size_t i = from;
    for (; i < to && (i & 7); i++)
        if (b[i] != pattern_byte(tag, i))
            return 0;
    for (; i + 8 <= to; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w != pattern_word(tag, i >> 3))
            return 0;
    }
    for (; i < to; i++)
        if (b[i] != pattern_byte(tag, i))
            return 0;
    return 1;
}

/* Blocks up to STAMP_FULL bytes get the pattern on every byte. Larger ones
 * get it on their first and last 64 bytes and on one word every
 * stamp_stride(n) bytes between: 64 bytes up to 4 KiB, so that another
 * block overlapping this one by more than 72 bytes covers one of those
 * words or a whole end and its own pattern (or the allocator's headers)
 * shows up as a mismatch; beyond 4 KiB the stride grows with the size (at
 * most 64 words in the middle), so the pattern, which touches one cache
 * line per word, does not outweigh the allocator in the work. */
#define STAMP_FULL 192

static inline size_t stamp_stride(size_t n)
{
    return 64 * ((n + 4095) / 4096);
}

static inline void stamp(void *p, size_t n, uint64_t tag)
{
    if (n <= STAMP_FULL) {
        fill_range(p, 0, n, tag);
        return;
    }
    uint8_t *b = p;
    fill_range(p, 0, 64, tag);
    size_t stride = stamp_stride(n);
    for (size_t off = stride; off + 8 <= n - 64; off += stride) {
        uint64_t w = pattern_word(tag, off >> 3);
        memcpy(b + off, &w, 8);
    }
    fill_range(p, n - 64, n, tag);
}

static inline int stamp_ok(const void *p, size_t n, uint64_t tag)
{
    if (n <= STAMP_FULL)
        return range_ok(p, 0, n, tag);
    const uint8_t *b = p;
    if (!range_ok(p, 0, 64, tag) || !range_ok(p, n - 64, n, tag))
        return 0;
    size_t stride = stamp_stride(n);
    for (size_t off = stride; off + 8 <= n - 64; off += stride) {
        uint64_t w;
        memcpy(&w, b + off, 8);
        if (w != pattern_word(tag, off >> 3))
            return 0;
    }
    return 1;
}

/* --- allocation with checks ------------------------------------------------ */

/* The alignment C asks of malloc for a block of n bytes on x86_64: that of
 * max_align_t (16), or less for a block too small to hold such an object. */
static inline size_t required_align(size_t n)
{
    size_t a = 16;
    while (a > 1 && a > n)
        a >>= 1;
    return a;
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        fail("malloc(%zu) returned NULL", n);
    if ((uintptr_t)p & (required_align(n) - 1))
        fail("malloc(%zu) returned %p, not %zu-byte aligned", n, p, required_align(n));
    return p;
}

static inline void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n);
    if (!p)
        fail("realloc(%p, %zu) returned NULL", old, n);
    if ((uintptr_t)p & (required_align(n) - 1))
        fail("realloc(.., %zu) returned %p, not %zu-byte aligned", n, p, required_align(n));
    return p;
}

/* Checks the pattern, then frees. */
static inline void check_free(void *p, size_t n, uint64_t tag, const char *what)
{
    if (!stamp_ok(p, n, tag))
        fail("%s block %p of %zu bytes (tag %016llx) corrupted before free", what, p, n,
             (unsigned long long)tag);
    free(p);
}

/* --- arguments and output ------------------------------------------------- */

static long arg_long(int argc, char **argv, int i, long dflt, long min, long max,
                     const char *name)
{
    if (i >= argc)
        return dflt;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*argv[i] == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s: %s must be an integer in [%ld, %ld], got '%s'\n", prog_name, name,
                min, max, argv[i]);
        exit(2);
    }
    return v;
}

static inline double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void print_result(uint64_t check, double ms)
{
    printf("check %016llx\n", (unsigned long long)check);
    printf("time_ms %.1f\n", ms);
    fflush(stdout);
}

#endif
