/*
 * c_heap.c - C code on bare metal calling malloc and free, as a C library
 * inside firmware does (lwIP, mbedTLS). The functions come from
 * dlmalloc-libc (default features off) over the program's static arena,
 * the same heap as Rust's collections. Freestanding: no C library is
 * linked, only these declarations.
 *
 * c_heap_check() returns 0 when every check passed, or the line of the
 * first one that failed.
 */
#include <stddef.h>
#include <stdint.h>

void *malloc(size_t size);
void free(void *block);
void *calloc(size_t count, size_t size);
void *realloc(void *block, size_t size);
int posix_memalign(void **out, size_t align, size_t size);
void *aligned_alloc(size_t align, size_t size);
size_t malloc_usable_size(void *block);

#define CHECK(cond) \
    do { \
        if (!(cond)) return __LINE__; \
    } while (0)

/* A size far beyond the 64 KiB arena, hidden from the compiler. */
static volatile size_t huge = (size_t)1 << 30;

static unsigned char pattern(unsigned seed, size_t i) { return (unsigned char)(seed * 37u + i * 11u); }

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = pattern(seed, i);
}

static int intact(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(seed, i)) return 0;
    return 1;
}

int c_heap_check(void) {
    enum { BLOCKS = 24 };
    unsigned char *blocks[BLOCKS];
    for (unsigned i = 0; i < BLOCKS; i++) {
        size_t n = 1 + i * 97;
        blocks[i] = malloc(n);
        CHECK(blocks[i] != NULL);
        CHECK(((uintptr_t)blocks[i] & (2 * sizeof(void *) - 1)) == 0);
        CHECK(malloc_usable_size(blocks[i]) >= n);
        fill(blocks[i], n, i);
    }
    for (unsigned i = 0; i < BLOCKS; i += 2) free(blocks[i]);
    for (unsigned i = 1; i < BLOCKS; i += 2) {
        size_t n = 1 + i * 97;
        CHECK(intact(blocks[i], n, i));
        unsigned char *grown = realloc(blocks[i], 3 * n);
        CHECK(grown != NULL && intact(grown, n, i));
        free(grown);
    }
    unsigned *zeroed = calloc(100, sizeof(unsigned));
    CHECK(zeroed != NULL);
    for (int i = 0; i < 100; i++) CHECK(zeroed[i] == 0);
    free(zeroed);
    void *aligned = NULL;
    CHECK(posix_memalign(&aligned, 256, 100) == 0 && ((uintptr_t)aligned & 255) == 0);
    free(aligned);
    void *page = aligned_alloc(1024, 1024);
    CHECK(page != NULL && ((uintptr_t)page & 1023) == 0);
    free(page);
    CHECK(malloc(huge) == NULL);                 /* refused: the arena is 64 KiB */
    CHECK(calloc(huge, huge) == NULL);           /* the product overflows */
    CHECK(aligned_alloc(24, 64) == NULL);        /* not a power of two */
    void *zero = malloc(0);
    CHECK(zero != NULL);
    free(zero);
    free(NULL);
    return 0;
}
