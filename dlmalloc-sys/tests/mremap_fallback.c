/*
 * mremap_fallback.c - a platform written in C, linked with the core
 * (dl_all.c) by tests/mremap_fallback.rs, that grows a directly mapped
 * block from 1 MiB to 64 MiB by doubling and checks how the core did it:
 * with the hook the mapping grows; without it the block moves into the
 * heap (a copy), where a block at the top can grow in place and whose
 * memory the heap keeps for the next one that grows.
 *
 * Built three ways:
 * (DL_WEAK_MREMAP=1 goes with DL_WEAK_HOOKS=1, as build.rs sets them on
 * hosted targets.)
 *   WITH_MREMAP=0, DL_WEAK_HOOKS=1  no custom_mremap (a portable-dlmalloc
 *                                   platform): growth copies into the
 *                                   heap, realloc_in_place cannot grow
 *   WITH_MREMAP=1, DL_WEAK_HOOKS=1  custom_mremap defined: growth remaps
 *   WITH_MREMAP=1, DL_WEAK_HOOKS=0  a target without weak symbols: the hook
 *                                   exists but the core cannot know, so it
 *                                   copies and never calls it
 *
 * Prints "maps M remaps R copied C" and exits 0, or prints what failed and
 * exits 1.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dlmalloc.h"

#define MIB ((size_t)1 << 20)

static size_t maps, unmaps, remaps;

void *custom_mmap(size_t len) {
    void *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return (void *)-1;
    maps++;
    return p;
}

int custom_munmap(void *p, size_t len) {
    if (munmap(p, len) != 0) return -1;
    unmaps++;
    return 0;
}

size_t custom_page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

#if WITH_MREMAP
void *custom_mremap(void *old, size_t old_len, size_t new_len, int may_move) {
    void *p = mremap(old, old_len, new_len, may_move ? MREMAP_MAYMOVE : 0);
    if (p == MAP_FAILED) return (void *)-1;
    remaps++;
    return p;
}
#endif

void init_lock(void **lk) { (void)lk; }
void final_lock(void **lk) { (void)lk; }
void acquire_lock(void **lk) { (void)lk; }
void release_lock(void **lk) { (void)lk; }

void custom_abort(const char *msg, const char *file, unsigned line) {
    fprintf(stderr, "custom_abort: %s (%s:%u)\n", msg, file, line);
    abort();
}

static int failures;

#define EXPECT(cond, ...)                                   \
    do {                                                    \
        if (!(cond)) {                                      \
            fprintf(stderr, "FAILED %s: ", #cond);          \
            fprintf(stderr, __VA_ARGS__);                   \
            fputc('\n', stderr);                            \
            failures++;                                     \
        }                                                   \
    } while (0)

static unsigned char pattern(size_t i) { return (unsigned char)(i ^ (i >> 8) * 31 ^ (i >> 16) * 7); }

static void fill(unsigned char *p, size_t from, size_t to) {
    for (size_t i = from; i < to; i++) p[i] = pattern(i);
}

static size_t first_mismatch(const unsigned char *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != pattern(i)) return i;
    return len;
}

int main(void) {
    /* The core copies exactly when it cannot remap. */
    const int expect_remap = WITH_MREMAP && DL_WEAK_MREMAP;
    size_t size = MIB, copied = 0;
    unsigned char *p = dlmalloc(size);
    EXPECT(p != 0, "malloc(1 MiB)");
    if (p == 0) return 1;
    EXPECT(dlmallinfo().hblks == 1, "the 1 MiB block is not directly mapped");
    fill(p, 0, size);
    size_t maps0 = maps, remaps0 = remaps;

    /* realloc_in_place cannot grow without the hook; the block stays. */
    if (!expect_remap) {
        EXPECT(dlrealloc_in_place(p, 2 * MIB) == 0, "realloc_in_place grew without custom_mremap");
        EXPECT(dlmalloc_usable_size(p) < 2 * MIB, "the block changed size");
        EXPECT(first_mismatch(p, size) == size, "the block changed contents");
    }

    while (size < 64 * MIB) {
        size_t new_size = 2 * size, remaps_before = remaps;
        unsigned char *q = dlrealloc(p, new_size);
        EXPECT(q != 0, "realloc(%zu -> %zu)", size, new_size);
        if (q == 0) return 1;
        if (q != p && remaps == remaps_before) copied += size;
        size_t bad = first_mismatch(q, size);
        EXPECT(bad == size, "growing to %zu lost byte %zu", new_size, bad);
        fill(q, size, new_size);
        EXPECT(dlmalloc_check(0, 0) == 0, "heap check after growing to %zu", new_size);
        if (expect_remap) {
            EXPECT(dlmallinfo().hblks == 1, "%zu mapped chunks", (size_t)dlmallinfo().hblks);
            EXPECT(dlmallinfo().hblkhd >= new_size, "hblkhd %zu", (size_t)dlmallinfo().hblkhd);
        } else {
            EXPECT(dlmallinfo().hblks == 0, "%zu mapped chunks: the block is not in the heap",
                   (size_t)dlmallinfo().hblks);
            EXPECT(dlmallinfo().arena >= new_size, "arena %zu", (size_t)dlmallinfo().arena);
        }
        p = q;
        size = new_size;
    }
    if (expect_remap) {
        EXPECT(maps == maps0, "%zu new mappings despite custom_mremap", maps - maps0);
        EXPECT(remaps - remaps0 == 6, "%zu remaps for 6 doublings", remaps - remaps0);
        EXPECT(copied == 0, "%zu bytes copied", copied);
    } else {
        EXPECT(maps - maps0 == 6, "%zu new mappings (the heap's) for 6 doublings", maps - maps0);
        EXPECT(remaps == 0, "custom_mremap called %zu times", remaps);
        EXPECT(copied == 63 * MIB, "%zu bytes copied", copied);
    }

    /* Shrinking needs no hook either way: the tail goes back in place. */
    unsigned char *r = dlrealloc(p, 8 * MIB);
    EXPECT(r == p, "shrinking a large block moved it");
    EXPECT(first_mismatch(p, 8 * MIB) == 8 * MIB, "shrinking lost contents");
    dlfree(p);
    EXPECT(dlmallinfo().hblks == 0 && dlmallinfo().hblkhd == 0, "a mapping is left");
    EXPECT(dlmalloc_check(0, 0) == 0, "heap check at the end");
    printf("maps %zu remaps %zu copied %zu\n", maps - maps0, remaps - remaps0, copied);
    return failures != 0;
}
