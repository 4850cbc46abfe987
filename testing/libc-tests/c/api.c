/*
 * api.c - C's allocation functions as C code calls them, linked against
 * dlmalloc-libc's rlib. Each c_* case returns 0 when every check passed,
 * or the line of the first failed check (CHECK), so a failure names itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) return __LINE__; \
    } while (0)

/* Fills n bytes of p with a pattern derived from seed. */
static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed * 31u + i * 7u);
}

/* Whether n bytes of p still hold fill's pattern for seed. */
static int intact(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed * 31u + i * 7u)) return 0;
    return 1;
}

/* Sizes too large for any heap, hidden from the compiler (which would warn
 * about the constant) so the calls reach the library. */
static volatile size_t huge = SIZE_MAX;

static int aligned_to(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

int c_malloc_free(void) {
    static const size_t sizes[] = {0, 1, 7, 8, 15, 16, 24, 100, 1000, 1024, 4096, 40000, 300000, 1 << 20};
    enum { N = sizeof sizes / sizeof sizes[0] };
    unsigned char *blocks[N];
    for (unsigned i = 0; i < N; i++) {
        blocks[i] = malloc(sizes[i]);
        CHECK(blocks[i] != NULL);
        CHECK(aligned_to(blocks[i], 2 * sizeof(void *)));
        fill(blocks[i], sizes[i], i);
    }
    for (unsigned i = 0; i < N; i++) CHECK(intact(blocks[i], sizes[i], i));
    CHECK(blocks[0] != blocks[1]); /* malloc(0) is a block of its own */
    void *zero2 = malloc(0);
    CHECK(zero2 != NULL && zero2 != blocks[0]);
    free(zero2);
    for (unsigned i = 0; i < N; i++) free(blocks[i]);
    free(NULL);
    return 0;
}

int c_calloc(void) {
    /* Dirty memory first, so a calloc that reuses it must clear it. */
    for (size_t size = 16; size <= (1u << 20); size *= 4) {
        unsigned char *dirty = malloc(size);
        CHECK(dirty != NULL);
        memset(dirty, 0xA5, size);
        free(dirty);
        unsigned char *zeroed = calloc(1, size);
        CHECK(zeroed != NULL);
        for (size_t i = 0; i < size; i++) CHECK(zeroed[i] == 0);
        free(zeroed);
    }
    void *none = calloc(0, 0);
    CHECK(none != NULL);
    free(none);
    errno = 0;
    CHECK(calloc(huge / 2, 3) == NULL);
    CHECK(errno == ENOMEM);
    errno = 0;
    CHECK(calloc(huge, huge) == NULL);
    CHECK(errno == ENOMEM);
    return 0;
}

int c_realloc(void) {
    unsigned char *p = realloc(NULL, 10); /* realloc(NULL, n) is malloc(n) */
    CHECK(p != NULL);
    fill(p, 10, 1);
    size_t kept = 10;
    static const size_t steps[] = {20, 100, 5000, 300000, 2000000, 64, 8, 70000, 16};
    for (unsigned i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t n = steps[i];
        unsigned char *q = realloc(p, n);
        CHECK(q != NULL);
        size_t common = kept < n ? kept : n;
        CHECK(intact(q, common, 1));
        fill(q, n, 1);
        p = q;
        kept = n;
    }
    /* Too large: NULL, ENOMEM, and the block untouched. */
    errno = 0;
    CHECK(realloc(p, huge - 4096) == NULL);
    CHECK(errno == ENOMEM);
    CHECK(intact(p, kept, 1));
    /* realloc(p, 0) frees p and returns NULL, as glibc's does. */
    CHECK(realloc(p, 0) == NULL);
    return 0;
}

int c_reallocarray(void) {
    unsigned *a = reallocarray(NULL, 100, sizeof(unsigned));
    CHECK(a != NULL);
    for (unsigned i = 0; i < 100; i++) a[i] = i;
    a = reallocarray(a, 10000, sizeof(unsigned));
    CHECK(a != NULL);
    for (unsigned i = 0; i < 100; i++) CHECK(a[i] == i);
    errno = 0;
    CHECK(reallocarray(a, huge / 2, 4) == NULL);
    CHECK(errno == ENOMEM);
    CHECK(a[99] == 99); /* still ours, unchanged */
    free(a);
    return 0;
}

int c_aligned(void) {
    for (size_t align = sizeof(void *); align <= 65536; align *= 2) {
        void *p = (void *)1;
        CHECK(posix_memalign(&p, align, 100) == 0);
        CHECK(p != NULL && aligned_to(p, align));
        memset(p, 1, 100);
        free(p);
        void *q = aligned_alloc(align, 3 * align);
        CHECK(q != NULL && aligned_to(q, align));
        memset(q, 2, 3 * align);
        free(q);
        void *r = memalign(align, 1);
        CHECK(r != NULL && aligned_to(r, align));
        free(r);
    }
    void *untouched = (void *)1;
    CHECK(posix_memalign(&untouched, 0, 8) == EINVAL);
    CHECK(posix_memalign(&untouched, 3, 8) == EINVAL);
    CHECK(posix_memalign(&untouched, sizeof(void *) / 2, 8) == EINVAL); /* not a multiple of sizeof(void *) */
    CHECK(untouched == (void *)1);
    CHECK(posix_memalign(&untouched, 64, huge - 100) == ENOMEM);
    CHECK(untouched == (void *)1);
    errno = 0;
    CHECK(aligned_alloc(48, 96) == NULL);
    CHECK(errno == EINVAL);
    void *rounded = memalign(48, 10); /* glibc's rule: rounded up to 64 */
    CHECK(rounded != NULL && aligned_to(rounded, 64));
    free(rounded);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *v = valloc(10);
    CHECK(v != NULL && aligned_to(v, page));
    free(v);
    void *pv = pvalloc(page + 1);
    CHECK(pv != NULL && aligned_to(pv, page));
    CHECK(malloc_usable_size(pv) >= 2 * page);
    free(pv);
    return 0;
}

int c_usable_size(void) {
    CHECK(malloc_usable_size(NULL) == 0);
    for (size_t n = 1; n < 70000; n = n * 3 + 1) {
        unsigned char *p = malloc(n);
        CHECK(p != NULL);
        size_t usable = malloc_usable_size(p);
        CHECK(usable >= n);
        fill(p, usable, 3); /* every usable byte is the program's */
        CHECK(intact(p, usable, 3));
        free(p);
    }
    return 0;
}

int c_libc_internal(void) {
    /* strdup and open_memstream allocate inside the C library: with this
     * allocator linked in, their blocks are ours, and free takes them. */
    char *copy = strdup("a string the C library copies");
    CHECK(copy != NULL && strcmp(copy, "a string the C library copies") == 0);
    CHECK(malloc_usable_size(copy) >= strlen(copy) + 1);
    free(copy);
    char *buffer = NULL;
    size_t length = 0;
    FILE *stream = open_memstream(&buffer, &length);
    CHECK(stream != NULL);
    for (int i = 0; i < 10000; i++) fprintf(stream, "%d,", i);
    CHECK(fclose(stream) == 0);
    CHECK(buffer != NULL && length > 40000 && strncmp(buffer, "0,1,2,", 6) == 0);
    free(buffer);
    return 0;
}

int c_glibc_extras(void) {
    CHECK(mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1);
    CHECK(mallopt(M_TRIM_THRESHOLD, 1024 * 1024) == 1);
    CHECK(mallopt(M_ARENA_MAX, 2) == 1); /* accepted, no effect here */
    CHECK(mallopt(12345, 1) == 0);       /* unknown parameter */
    void *big[64];
    for (int i = 0; i < 64; i++) {
        big[i] = malloc(100000);
        CHECK(big[i] != NULL);
        memset(big[i], i, 100000);
    }
    struct mallinfo2 during = mallinfo2();
    CHECK(during.uordblks >= 64 * 100000);
    CHECK(during.arena + during.hblkhd >= during.uordblks);
    for (int i = 0; i < 64; i++) free(big[i]);
    struct mallinfo2 after = mallinfo2();
    CHECK(after.uordblks + 64 * 100000 <= during.uordblks + 4096);
    malloc_trim(0);
    struct mallinfo2 trimmed = mallinfo2();
    CHECK(trimmed.arena <= after.arena);
    return 0;
}

void c_double_free(void) {
    void *p = malloc(4000);
    free(p);
    free(p);
}

void c_free_interior(void) {
    char *p = malloc(4000);
    free(p + 64);
}

void *c_malloc(size_t bytes) { return malloc(bytes); }

void c_free(void *block) { free(block); }
