/*
 * aligned_api.c - the edges of the malloc API, checked one by one.
 *
 * Why: programs rely on the exact contract of each entry point, not only
 * on malloc and free: the alignment of posix_memalign, aligned_alloc,
 * memalign, valloc and pvalloc; malloc_usable_size reporting at least
 * what was asked; calloc returning zeroed memory even when it reuses a
 * freed block; overflow in calloc and reallocarray caught (NULL, errno
 * ENOMEM) instead of a short block; invalid alignments refused with
 * EINVAL; malloc(0) returning a unique pointer that free accepts; free
 * and malloc_usable_size of NULL. Also calls mallopt, malloc_trim,
 * mallinfo2 and malloc_stats, which must not crash (their results are
 * the implementation's own).
 *
 * Checks itself: prints each failed check on stdout, then "ok" or
 * "FAILED (N checks)"; exits 0 only when all passed. So its output under
 * glibc and under a correct replacement is the same single line "ok".
 *
 * An entry point that the library defining malloc does not define itself
 * (a partial replacement: then the call would reach glibc's version with
 * a foreign block) is skipped, with a note on stderr; scripts/libc_preload.sh
 * separately requires our library to define all of them.
 *
 * One point differs between C library versions: C17 says aligned_alloc
 * with an alignment the implementation does not support returns NULL;
 * glibc before 2.38 instead treats it like memalign (rounds the alignment
 * up to a power of two). When the malloc in use is glibc's own and older
 * than 2.38, that behaviour is accepted; any other malloc must return
 * NULL with errno EINVAL.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

/* Hides a constant from the compiler, so that it neither warns about nor
 * folds the deliberately impossible sizes below. */
static size_t opaque(size_t x) {
    volatile size_t v = x;
    return v;
}

/* The file of the object that defines `name` for this process. */
static const char *definer(const char *name) {
    Dl_info info;
    void *fn = dlsym(RTLD_DEFAULT, name);
    if (!fn || !dladdr(fn, &info) || !info.dli_fname) return "(none)";
    return info.dli_fname;
}

/* Does the object that defines malloc define `name` too? If not, says so
 * on stderr and the caller skips its checks. */
static int provided(const char *name) {
    const char *lib = definer("malloc"), *other = definer(name);
    if (strcmp(lib, other) == 0) return 1;
    fprintf(stderr, "aligned_api: skipping %s: defined by %s, not by %s like malloc\n", name, other,
            lib);
    return 0;
}

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            failures++;                                    \
            printf("check failed at line %d: ", __LINE__); \
            printf(__VA_ARGS__);                           \
            printf(" (%s)\n", #cond);                      \
        }                                                  \
    } while (0)

static int aligned(const void *p, size_t alignment) {
    return ((uintptr_t)p & (alignment - 1)) == 0;
}

/* Calls through these are opaque to the compiler, which otherwise warns
 * that a block is used after a realloc (one that failed, on purpose). */
static void *(*volatile realloc_opaque)(void *, size_t) = realloc;
static void *(*volatile reallocarray_opaque)(void *, size_t, size_t) = reallocarray;

static int have_usable;

/* malloc_usable_size, or SIZE_MAX (every check passes) when skipped. */
static size_t usable(void *p) { return have_usable ? malloc_usable_size(p) : SIZE_MAX; }

/* Writes every byte of a block, so that a short block shows up as heap
 * corruption later (or under a checker). */
static void touch(void *p, size_t size) { memset(p, 0xc3, size); }

/* Is the malloc in use glibc's own, in a version before 2.38? */
static int legacy_glibc_aligned_alloc(void) {
    const char *file = definer("aligned_alloc"), *slash = strrchr(file, '/');
    const char *base = slash ? slash + 1 : file;
    if (strncmp(base, "libc.so", 7) != 0) return 0; /* not libdlmalloc_libc.so */
    int major = 0, minor = 0;
    if (sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor) != 2) return 0;
    return major == 2 && minor < 38;
}

static void test_posix_memalign(void) {
    for (size_t alignment = sizeof(void *); alignment <= (1u << 20); alignment *= 2) {
        static const size_t sizes[] = {1, 7, 64, 1000, 4096, 100000};
        for (int i = 0; i < 6; i++) {
            void *p = NULL;
            int rc = posix_memalign(&p, alignment, sizes[i]);
            CHECK(rc == 0 && p, "posix_memalign(%zu, %zu) = %d", alignment, sizes[i], rc);
            if (rc || !p) continue;
            CHECK(aligned(p, alignment), "posix_memalign(%zu, %zu) gave %p", alignment, sizes[i], p);
            CHECK(usable(p) >= sizes[i], "usable %zu < %zu", usable(p),
                  sizes[i]);
            touch(p, sizes[i]);
            free(p);
        }
    }
    /* Invalid alignments: 0, not a power of two, not a multiple of
     * sizeof(void *). *memptr is left alone (or set to NULL). */
    static const size_t bad[] = {0, 1, 3, 4, 12, 24, 48, 100, 4097};
    for (int i = 0; i < 9; i++) {
        void *p = (void *)&failures;
        int rc = posix_memalign(&p, bad[i], 64);
        CHECK(rc == EINVAL, "posix_memalign(alignment %zu) = %d, want EINVAL", bad[i], rc);
        CHECK(p == (void *)&failures || p == NULL, "posix_memalign(alignment %zu) changed *memptr",
              bad[i]);
        if (rc == 0 && p != (void *)&failures) free(p);
    }
    void *p = (void *)&failures;
    int rc = posix_memalign(&p, 64, opaque(SIZE_MAX - 4096));
    CHECK(rc == ENOMEM, "posix_memalign(64, SIZE_MAX - 4096) = %d, want ENOMEM", rc);
    if (rc == 0) free(p);
}

static void test_aligned_alloc(void) {
    for (size_t alignment = 1; alignment <= (1u << 16); alignment *= 2) {
        size_t size = alignment * 3; /* a multiple of the alignment */
        void *p = aligned_alloc(alignment, size);
        CHECK(p && aligned(p, alignment), "aligned_alloc(%zu, %zu) = %p", alignment, size, p);
        if (!p) continue;
        CHECK(usable(p) >= size, "usable %zu < %zu", usable(p), size);
        touch(p, size);
        free(p);
    }
    /* Sizes that are not a multiple of the alignment are accepted since
     * C17 (DR 460). */
    void *p = aligned_alloc(256, 10);
    CHECK(p && aligned(p, 256), "aligned_alloc(256, 10) = %p", p);
    free(p);
    int legacy = legacy_glibc_aligned_alloc();
    static const size_t bad[] = {0, 3, 24, 100, 4097};
    for (int i = 0; i < 5; i++) {
        errno = 0;
        p = aligned_alloc(bad[i], 96);
        if (legacy) {
            /* glibc < 2.38: like memalign, the alignment rounded up. */
            size_t up = 1;
            while (up < bad[i]) up *= 2;
            CHECK(p && aligned(p, up), "glibc aligned_alloc(%zu) = %p", bad[i], p);
        } else {
            CHECK(p == NULL && errno == EINVAL, "aligned_alloc(%zu, 96) = %p, errno %d, want NULL and EINVAL",
                  bad[i], p, errno);
        }
        free(p);
    }
    errno = 0;
    p = aligned_alloc(64, opaque(SIZE_MAX - 4096));
    CHECK(p == NULL && errno == ENOMEM, "aligned_alloc(64, SIZE_MAX - 4096) = %p, errno %d", p, errno);
}

static void test_memalign(void) {
    for (size_t alignment = 1; alignment <= (1u << 20); alignment *= 2) {
        void *p = memalign(alignment, 1000);
        CHECK(p && aligned(p, alignment), "memalign(%zu, 1000) = %p", alignment, p);
        if (!p) continue;
        CHECK(usable(p) >= 1000, "usable %zu < 1000", usable(p));
        touch(p, 1000);
        free(p);
    }
    errno = 0;
    void *p = memalign(4096, opaque(SIZE_MAX - 4096));
    CHECK(p == NULL && errno == ENOMEM, "memalign(4096, SIZE_MAX - 4096) = %p, errno %d", p, errno);
}

static const size_t page_sizes[] = {1, 100, 4096, 5000, 300000};

static void test_valloc(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < 5; i++) {
        void *p = valloc(page_sizes[i]);
        CHECK(p && aligned(p, page), "valloc(%zu) = %p", page_sizes[i], p);
        if (!p) continue;
        CHECK(usable(p) >= page_sizes[i], "usable %zu < %zu", usable(p), page_sizes[i]);
        touch(p, page_sizes[i]);
        free(p);
    }
}

static void test_pvalloc(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < 5; i++) {
        /* pvalloc rounds the size up to whole pages. */
        size_t rounded = (page_sizes[i] + page - 1) / page * page;
        void *p = pvalloc(page_sizes[i]);
        CHECK(p && aligned(p, page), "pvalloc(%zu) = %p", page_sizes[i], p);
        if (!p) continue;
        CHECK(usable(p) >= rounded, "pvalloc(%zu): usable %zu < %zu", page_sizes[i], usable(p),
              rounded);
        touch(p, rounded);
        free(p);
    }
}

static void test_calloc(void) {
    /* Dirty a block, free it, calloc the same size: zero all the same.
     * Sizes from tiny to large (mapped on their own by most mallocs). */
    static const size_t sizes[] = {1, 24, 100, 1000, 4096, 65536, 200000, 1 << 21};
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 8; i++) {
            unsigned char *dirty = malloc(sizes[i]);
            CHECK(dirty != NULL, "malloc(%zu)", sizes[i]);
            if (!dirty) continue;
            memset(dirty, 0xff, sizes[i]);
            free(dirty);
            unsigned char *z = calloc(1, sizes[i]);
            CHECK(z != NULL, "calloc(1, %zu)", sizes[i]);
            if (!z) continue;
            size_t nonzero = 0;
            for (size_t j = 0; j < sizes[i]; j++) nonzero += z[j] != 0;
            CHECK(nonzero == 0, "calloc(1, %zu): %zu non-zero bytes", sizes[i], nonzero);
            z[sizes[i] - 1] = 1;
            free(z);
        }
    /* calloc with count and size swapped, and many small elements. */
    int *ints = calloc(100000, sizeof(int));
    CHECK(ints != NULL, "calloc(100000, 4)");
    if (ints) {
        long sum = 0;
        for (int i = 0; i < 100000; i++) sum += ints[i];
        CHECK(sum == 0, "calloc(100000, 4) not zero");
        free(ints);
    }
    /* Overflow of count * size. */
    errno = 0;
    void *p = calloc(opaque(SIZE_MAX / 2), 3);
    CHECK(p == NULL && errno == ENOMEM, "calloc(SIZE_MAX / 2, 3) = %p, errno %d", p, errno);
    errno = 0;
    p = calloc(3, opaque(SIZE_MAX / 2));
    CHECK(p == NULL && errno == ENOMEM, "calloc(3, SIZE_MAX / 2) = %p, errno %d", p, errno);
    errno = 0;
    p = calloc(opaque((size_t)1 << 33), (size_t)1 << 33);
    CHECK(p == NULL && errno == ENOMEM, "calloc(2^33, 2^33) = %p, errno %d", p, errno);
    p = calloc(0, 100);
    CHECK(p != NULL, "calloc(0, 100) = NULL");
    free(p);
}

static void test_realloc(void) {
    unsigned *a = realloc(NULL, 1000 * sizeof(unsigned)); /* realloc(NULL, n) is malloc(n) */
    CHECK(a != NULL, "realloc(NULL, 4000)");
    if (!a) return;
    for (unsigned i = 0; i < 1000; i++) a[i] = i * 2654435761u;
    /* Grow in steps (small to mapped sizes), keeping the contents. */
    for (size_t n = 1500; n <= 1000000; n = n * 5 / 2) {
        unsigned *b = realloc(a, n * sizeof(unsigned));
        CHECK(b != NULL, "realloc grow to %zu", n * sizeof(unsigned));
        if (!b) break;
        a = b;
        int same = 1;
        for (unsigned i = 0; i < 1000; i++) same &= a[i] == i * 2654435761u;
        CHECK(same, "growing realloc to %zu lost the contents", n * sizeof(unsigned));
    }
    /* realloc that cannot be satisfied: NULL, ENOMEM, block intact. */
    errno = 0;
    unsigned *b = realloc_opaque(a, opaque(SIZE_MAX - 4096));
    CHECK(b == NULL && errno == ENOMEM, "realloc(p, SIZE_MAX - 4096) = %p, errno %d", (void *)b, errno);
    int same = 1;
    for (unsigned i = 0; i < 1000; i++) same &= a[i] == i * 2654435761u;
    CHECK(same, "a failed realloc changed the block");
    /* Shrink in steps, keeping the prefix. */
    for (size_t n = 50000; n >= 10; n /= 3) {
        b = realloc(a, n * sizeof(unsigned));
        CHECK(b != NULL, "realloc shrink to %zu", n);
        if (!b) break;
        a = b;
        CHECK(a[0] == 0 && a[9] == 9 * 2654435761u, "shrinking realloc lost the contents");
    }
    free(a);
}

static void test_reallocarray(void) {
    /* Grows, keeps contents, refuses overflow and then leaves the block as
     * it was. */
    unsigned *a = reallocarray(NULL, 1000, sizeof(unsigned));
    CHECK(a != NULL, "reallocarray(NULL, 1000, 4)");
    if (!a) return;
    for (unsigned i = 0; i < 1000; i++) a[i] = i * 2654435761u;
    unsigned *b = reallocarray(a, 50000, sizeof(unsigned));
    CHECK(b != NULL, "reallocarray(p, 50000, 4)");
    if (!b) {
        free(a);
        return;
    }
    a = b;
    int same = 1;
    for (unsigned i = 0; i < 1000; i++) same &= a[i] == i * 2654435761u;
    CHECK(same, "reallocarray lost the contents");
    errno = 0;
    b = reallocarray_opaque(a, opaque(SIZE_MAX / 2), 3);
    CHECK(b == NULL && errno == ENOMEM, "reallocarray(p, SIZE_MAX / 2, 3) = %p, errno %d", (void *)b,
          errno);
    same = 1;
    for (unsigned i = 0; i < 1000; i++) same &= a[i] == i * 2654435761u;
    CHECK(same, "a failed reallocarray changed the block");
    free(a);
}

/* The alignment malloc(size) must give: that of max_align_t, or (C23,
 * after DR 445) the largest power of two not above size when that is
 * smaller, since no object of fundamental alignment that fits needs more. */
static size_t fundamental_alignment(size_t size) {
    size_t a = _Alignof(max_align_t);
    while (a > size) a /= 2;
    return a;
}

static void test_malloc_edges(void) {
    /* malloc(0): a unique, non-NULL pointer that free accepts. */
    void *zero[16];
    for (int i = 0; i < 16; i++) {
        zero[i] = malloc(0);
        CHECK(zero[i] != NULL, "malloc(0) = NULL");
        for (int j = 0; j < i; j++) CHECK(zero[i] != zero[j], "malloc(0) returned %p twice", zero[i]);
    }
    for (int i = 0; i < 16; i++) free(zero[i]);
    free(NULL);
    if (have_usable)
        CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) = %zu", malloc_usable_size(NULL));
    errno = 0;
    void *p = malloc(opaque(SIZE_MAX));
    CHECK(p == NULL && errno == ENOMEM, "malloc(SIZE_MAX) = %p, errno %d", p, errno);
    errno = 0;
    p = malloc(opaque(SIZE_MAX / 2 + 1));
    CHECK(p == NULL && errno == ENOMEM, "malloc(SIZE_MAX / 2 + 1) = %p, errno %d", p, errno);
    /* Ordinary blocks: aligned for any type, usable at least as asked. */
    for (size_t size = 1; size < 300000; size = size * 3 / 2 + 1) {
        p = malloc(size);
        CHECK(p && aligned(p, fundamental_alignment(size)), "malloc(%zu) = %p", size, p);
        if (!p) continue;
        CHECK(usable(p) >= size, "malloc(%zu): usable %zu", size, usable(p));
        if (have_usable) memset(p, 1, usable(p)); /* all usable bytes are ours */
        free(p);
    }
}

static void test_extras(void) {
    /* Results are the implementation's; these must return and not crash. */
    void *keep[100];
    for (int i = 0; i < 100; i++) keep[i] = malloc(1000 + (size_t)i * 100);
    for (int i = 0; i < 100; i += 2) free(keep[i]);
    if (provided("mallopt")) {
        (void)mallopt(M_TRIM_THRESHOLD, 256 * 1024);
        (void)mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    }
    if (provided("malloc_trim")) (void)malloc_trim(0);
    if (provided("mallinfo2")) {
        struct mallinfo2 info = mallinfo2();
        (void)info;
    }
    if (provided("malloc_stats")) {
        /* malloc_stats writes to stderr: send it to /dev/null meanwhile. */
        fflush(stderr);
        int saved = dup(2);
        int null = open("/dev/null", O_WRONLY);
        if (saved >= 0 && null >= 0) {
            dup2(null, 2);
            malloc_stats();
            fflush(stderr);
            dup2(saved, 2);
        }
        if (null >= 0) close(null);
        if (saved >= 0) close(saved);
    }
    for (int i = 1; i < 100; i += 2) free(keep[i]);
    void *p = malloc(100);
    CHECK(p != NULL, "malloc after malloc_trim");
    free(p);
}

int main(void) {
    /* malloc, free, calloc and realloc must come from one library; the
     * others are checked when that library defines them. */
    static const char *const core[] = {"free", "calloc", "realloc"};
    for (int i = 0; i < 3; i++)
        CHECK(strcmp(definer(core[i]), definer("malloc")) == 0, "%s defined by %s, malloc by %s",
              core[i], definer(core[i]), definer("malloc"));
    have_usable = provided("malloc_usable_size");
    test_malloc_edges();
    test_calloc();
    test_realloc();
    if (provided("reallocarray")) test_reallocarray();
    if (provided("posix_memalign")) test_posix_memalign();
    if (provided("aligned_alloc")) test_aligned_alloc();
    if (provided("memalign")) test_memalign();
    if (provided("valloc")) test_valloc();
    if (provided("pvalloc")) test_pvalloc();
    test_extras();
    if (failures) {
        printf("FAILED (%d checks)\n", failures);
        return 1;
    }
    puts("ok");
    return 0;
}
