/*
 * dl_types.h - memory layout of the core: chunks, bins, segments, the heap
 * state, and the small helpers that read and write chunk headers.
 *
 * Reading order for newcomers: this file, then dl_internal.h (who defines
 * what), then dl_hooks.h (what the platform provides).
 */
#ifndef DL_TYPES_H
#define DL_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* ---- build configuration (set by build.rs) -------------------------------- */

#ifndef DL_DEFAULT_GRANULARITY
#define DL_DEFAULT_GRANULARITY ((size_t)2 << 20)
#endif
/*
 * DL_DEBUG selects the debug checks; each level adds to the one below.
 * Release builds (0) carry only the always-on corruption checks.
 *   1  cheap assertions: O(1) DL_ASSERTs on an operation's own values
 *   2  internal assertions: every chunk an operation hands out or bins is
 *      checked against its neighbours (Cargo feature `debug`)
 *   3  a whole-heap walk after every operation (feature `debug-heap-walk`)
 * build.rs defines DL_DEBUG only for those features; level 1 has no feature
 * and is chosen with CFLAGS=-DDL_DEBUG=1.
 */
#ifndef DL_DEBUG
#define DL_DEBUG 0
#endif
#ifndef DL_FOOTERS
#define DL_FOOTERS 0
#endif
/* DL_NEVER_UNMAP (Cargo feature `never-unmap`): the platform can never take
 * memory back (wasm32's linear memory only grows), so custom_munmap is
 * never called. Trimming and the release of free segments compile out, and
 * no request gets a mapping of its own: such a block could never be given
 * back either, and inside the heap its space merges with its neighbours
 * when freed. The pages of a destroyed mspace go to the next heap that
 * grows (recycle.c). */
#ifndef DL_NEVER_UNMAP
#define DL_NEVER_UNMAP 0
#endif
/* Weak references to the optional hooks (dl_hooks.h): custom_page_size
 * needs DL_WEAK_HOOKS, custom_mremap also DL_WEAK_MREMAP. */
#ifndef DL_WEAK_HOOKS
#define DL_WEAK_HOOKS 0
#endif
#ifndef DL_WEAK_MREMAP
#define DL_WEAK_MREMAP 0
#endif

#define DL_DEFAULT_MMAP_THRESHOLD ((size_t)256 << 10)
#define DL_DEFAULT_TRIM_THRESHOLD ((size_t)2 << 20)
/* The most a heap's own trim threshold grows to (sysmem.c). */
#define DL_MAX_TRIM_THRESHOLD (sizeof(size_t) == 8 ? (size_t)64 << 20 : (size_t)16 << 20)
#define DL_DEFAULT_PAGE_SIZE ((size_t)4096)
/* The first segment's size; later ones double up to the granularity. */
#define DL_MIN_GROWTH ((size_t)64 << 10)
/* Large frees between two scans for wholly free segments. */
#define DL_RELEASE_CHECK_RATE 4095

/* ---- sizes ------------------------------------------------------------------ */

#define SIZE_T_SIZE (sizeof(size_t))
#define SIZE_T_BITS (sizeof(size_t) * 8)
#define MAX_SIZE_T (~(size_t)0)

/* Every chunk and every returned pointer is aligned to two words. */
#define DL_ALIGN (2 * SIZE_T_SIZE)
#define ALIGN_MASK (DL_ALIGN - 1)

/* Bytes of a chunk that the user cannot use: the head word, and with
 * footers the owner word that follows the chunk. */
#if DL_FOOTERS
#define CHUNK_OVERHEAD (2 * SIZE_T_SIZE)
#else
#define CHUNK_OVERHEAD (SIZE_T_SIZE)
#endif

/* A free chunk needs room for its head, two links and the next chunk's
 * prev_foot: four words. */
#define MIN_CHUNK_SIZE ((4 * SIZE_T_SIZE + ALIGN_MASK) & ~ALIGN_MASK)
#define MIN_REQUEST (MIN_CHUNK_SIZE - CHUNK_OVERHEAD - 1)
/* Requests at or above this fail at once. Half the address space keeps every
 * size computation (padding, alignment, page rounding) free of overflow. */
#define MAX_REQUEST (MAX_SIZE_T >> 1)

#define PAD_REQUEST(req) (((req) + CHUNK_OVERHEAD + ALIGN_MASK) & ~ALIGN_MASK)
#define REQUEST_TO_SIZE(req) ((req) < MIN_REQUEST ? MIN_CHUNK_SIZE : PAD_REQUEST(req))

/* ---- chunks ------------------------------------------------------------------ */

/*
 * A chunk starts with two words. `head` holds the chunk size (a multiple of
 * DL_ALIGN) and three flags. `prev_foot` holds the previous chunk's size when
 * that chunk is free (boundary tag); otherwise it belongs to the previous
 * chunk (its last payload word, or its footer). The user's pointer is the
 * address just past `head`. Free chunks reuse the payload for bin links.
 */
typedef struct dl_chunk {
    size_t prev_foot;
    size_t head;
    struct dl_chunk *fd; /* free chunks only: next in bin */
    struct dl_chunk *bk; /* free chunks only: previous in bin */
} dl_chunk;

#define PINUSE_BIT ((size_t)1)  /* the previous chunk is in use */
#define CINUSE_BIT ((size_t)2)  /* this chunk is in use */
#define MMAPPED_BIT ((size_t)4) /* this chunk has its own mapping */
#define INUSE_BITS (PINUSE_BIT | CINUSE_BIT)
#define FLAG_BITS (PINUSE_BIT | CINUSE_BIT | MMAPPED_BIT)

/* The head of the one-word marker that ends every segment's chunk run. */
#define FENCEPOST_HEAD (INUSE_BITS | SIZE_T_SIZE)

#define CHUNK2MEM(p) ((void *)((char *)(p) + 2 * SIZE_T_SIZE))
#define MEM2CHUNK(mem) ((dl_chunk *)(void *)((char *)(mem) - 2 * SIZE_T_SIZE))
#define CHUNK_AT(p, offset) ((dl_chunk *)(void *)((char *)(p) + (offset)))
#define CHUNK_BEFORE(p, offset) ((dl_chunk *)(void *)((char *)(p) - (offset)))

static inline size_t chunksize(const dl_chunk *p) { return p->head & ~FLAG_BITS; }
static inline int cinuse(const dl_chunk *p) { return (p->head & CINUSE_BIT) != 0; }
static inline int pinuse(const dl_chunk *p) { return (p->head & PINUSE_BIT) != 0; }
/* Constant 0 without direct mappings, so their code compiles out. */
static inline int is_mmapped(const dl_chunk *p) {
    return !DL_NEVER_UNMAP && (p->head & MMAPPED_BIT) != 0;
}
static inline dl_chunk *next_chunk(const dl_chunk *p) { return CHUNK_AT(p, chunksize(p)); }

static inline int is_aligned(const void *p) { return ((size_t)p & ALIGN_MASK) == 0; }
/* Bytes to add to address a so that it is DL_ALIGN aligned. */
static inline size_t align_offset(const void *a) {
    return (DL_ALIGN - ((size_t)a & ALIGN_MASK)) & ALIGN_MASK;
}

/* ---- segments and direct mappings ---------------------------------------- */

#define SEG_EXTERN 1u /* caller-owned memory: never given back to the system */

/* A run of system memory the heap carves chunks from. The newest segment's
 * record lives in the heap state; older ones live in an in-use chunk at the
 * end of their own segment, just before a fencepost. */
typedef struct dl_segment {
    char *base;
    size_t size;
    struct dl_segment *next;
    size_t flags;
} dl_segment;

/* Header at the start of every direct mapping: the heap keeps these on a
 * ring so it can walk, count and release large chunks. */
typedef struct dl_mapping {
    struct dl_mapping *prev;
    struct dl_mapping *next;
    size_t size;     /* bytes mapped, this header included */
    dl_chunk *chunk; /* the chunk inside (memalign may move it forward) */
} dl_mapping;

/* A directly mapped chunk is followed by two words: the footer slot and a
 * fencepost, so it has the same shape as any other chunk. */
#define MMAP_TAIL (2 * SIZE_T_SIZE)
#define MAPPING_HEADER ((sizeof(dl_mapping) + ALIGN_MASK) & ~ALIGN_MASK)

/* The record chunk of an older segment: its head word, the record, padding. */
#define SEGMENT_RECORD_SIZE PAD_REQUEST(sizeof(dl_segment))
/* Bytes reserved past top at the end of the newest segment, so that a record
 * chunk and a fencepost fit when the next segment is added. */
#define TOP_FOOT_SIZE (SEGMENT_RECORD_SIZE + MIN_CHUNK_SIZE)

/* ---- bins -------------------------------------------------------------------- */

/* One bit per bin. A word wide, so that on 64-bit targets the small bins
 * reach 1 KiB: most requests of ordinary programs then take an exact-size
 * list (constant time) and leave the large bins to larger blocks. */
typedef size_t dl_binmap;
#define BINMAP_BITS ((unsigned)SIZE_T_BITS)

/* Small bins hold one chunk size each, one alignment step apart: 64 bins up
 * to 1008 bytes on 64-bit targets, 32 up to 248 bytes on 32-bit ones (whose
 * heaps are small, and whose state stays small). */
#define NSMALLBINS BINMAP_BITS
#if SIZE_MAX > 0xFFFFFFFFu
#define SMALLBIN_SHIFT 4u
#define LARGEBIN_SHIFT 10u
#else
#define SMALLBIN_SHIFT 3u
#define LARGEBIN_SHIFT 8u
#endif
#define MIN_LARGE_SIZE ((size_t)1 << LARGEBIN_SHIFT)
#define MAX_SMALL_SIZE (MIN_LARGE_SIZE - 1)
#define MAX_SMALL_REQUEST (MAX_SMALL_SIZE - ALIGN_MASK - CHUNK_OVERHEAD)

/* Large bins (segregated fit): each power of two from MIN_LARGE_SIZE up is
 * split into 8 bins of equal width, so a bin's sizes differ by at most an
 * eighth; the last bin also takes every size beyond the rest. Two map words
 * cover them: 16 powers of two (1 KiB to 64 MiB) on 64-bit targets, 8
 * (256 bytes to 64 KiB) on 32-bit ones. A bin is a list, newest first. */
#define LARGEBIN_SUB_BITS 3u
#define LARGEMAP_WORDS 2u
#define NLARGEBINS (LARGEMAP_WORDS * BINMAP_BITS)
#define LARGE_OCTAVES (NLARGEBINS >> LARGEBIN_SUB_BITS)

/* Compile-time checks (C99 has no static assertion): a negative array size
 * fails the build. One small bin per alignment step, and the large bins
 * start where the small bins end. */
typedef char dl_check_small_bin_step[((size_t)1 << SMALLBIN_SHIFT) == DL_ALIGN ? 1 : -1];
typedef char dl_check_large_start[(NSMALLBINS << SMALLBIN_SHIFT) == MIN_LARGE_SIZE ? 1 : -1];

static inline int is_small(size_t s) { return (s >> SMALLBIN_SHIFT) < NSMALLBINS; }
static inline unsigned small_index(size_t s) { return (unsigned)(s >> SMALLBIN_SHIFT); }
static inline size_t small_index_size(unsigned i) { return (size_t)i << SMALLBIN_SHIFT; }
static inline dl_binmap bin_bit(unsigned i) { return (dl_binmap)1 << i; }
/* Bits of all bins above bin i (none above the last one). */
static inline dl_binmap bins_above(unsigned i) { return ~((bin_bit(i) << 1) - 1); }
static inline unsigned lowest_bin(dl_binmap map) {
    if (sizeof(dl_binmap) > sizeof(unsigned)) return (unsigned)__builtin_ctzll(map);
    return (unsigned)__builtin_ctz((unsigned)map);
}
/* The number of the highest set bit of s (s > 0). */
static inline unsigned floor_log2(size_t s) {
    if (sizeof(size_t) > sizeof(unsigned))
        return (unsigned)(SIZE_T_BITS - 1) - (unsigned)__builtin_clzll(s);
    return (unsigned)(SIZE_T_BITS - 1) - (unsigned)__builtin_clz((unsigned)s);
}
/* The large bin of size s (s >= MIN_LARGE_SIZE): its power of two, then
 * the next three bits. */
static inline unsigned large_index(size_t s) {
    unsigned log = floor_log2(s);
    unsigned octave = log - LARGEBIN_SHIFT;
    if (octave >= LARGE_OCTAVES) return NLARGEBINS - 1;
    unsigned sub = (unsigned)(s >> (log - LARGEBIN_SUB_BITS)) & ((1u << LARGEBIN_SUB_BITS) - 1);
    return (octave << LARGEBIN_SUB_BITS) | sub;
}
/* The least size large bin i holds. */
static inline size_t large_bin_min_size(unsigned i) {
    unsigned octave = i >> LARGEBIN_SUB_BITS;
    size_t sub = i & ((1u << LARGEBIN_SUB_BITS) - 1);
    return ((size_t)1 << (octave + LARGEBIN_SHIFT)) |
           (sub << (octave + LARGEBIN_SHIFT - LARGEBIN_SUB_BITS));
}

/* ---- the heap state ------------------------------------------------------------ */

#define USE_LOCK_FLAG 1u
#define USE_MMAP_FLAG 2u /* large requests may get their own mapping */

/* Where a heap's pages come from: the platform's custom_mmap/custom_munmap
 * (map == NULL), or the caller's pair (create_mspace_with_source), which
 * keeps the heap inside memory the caller chose. */
typedef struct dl_page_source {
    void *(*map)(void *context, size_t length);
    int (*unmap)(void *context, void *base, size_t length);
    void *context;
} dl_page_source;

typedef struct dl_state {
    dl_binmap smallmap; /* bit i set iff small bin i is not empty */
    dl_binmap largemap[LARGEMAP_WORDS]; /* bit i set iff large bin i is not empty */
    size_t dvsize;
    size_t topsize;
    char *least_addr; /* lowest address the heap ever owned */
    dl_chunk *dv;     /* designated victim: remainder of the last small split */
    dl_chunk *top;    /* free tail of the newest segment */
    size_t trim_check;     /* a free that leaves top larger than this trims */
    size_t trim_threshold; /* this heap's own threshold, which adapts (sysmem.c) */
    int trimmed;           /* an automatic trim gave memory back since the heap last grew */
    size_t release_checks;
    size_t magic; /* equals the process magic while the state is valid */
    /* Small bin i's list head is the fd/bk pair at smallbins[2i], viewed as
     * a chunk (BIN_AT) so that lists are circular and unlink never tests
     * for the head. */
    dl_chunk *smallbins[NSMALLBINS * 2];
    /* Large bin i's first chunk; its bk points at the slot viewed as a
     * chunk (LARGE_SLOT_AT), so unlinking the first chunk needs no test. */
    dl_chunk *largebins[NLARGEBINS];
    size_t footprint;
    size_t max_footprint;
    size_t footprint_limit; /* MAX_SIZE_T: none */
    size_t mmapped_bytes;
    size_t mmapped_count;
    dl_mapping mappings; /* ring head of the direct mappings */
    unsigned flags;
    void *mutex;
    dl_segment seg; /* the newest segment (holds top) */
    dl_page_source source;
    struct dl_state *next_space; /* mspaces: the registry's link (registry.c) */
} dl_state;

#define BIN_AT(m, i) \
    ((dl_chunk *)(void *)((char *)&(m)->smallbins[(i) << 1] - offsetof(dl_chunk, fd)))

#define LARGE_SLOT_AT(m, i) \
    ((dl_chunk *)(void *)((char *)&(m)->largebins[i] - offsetof(dl_chunk, fd)))

#endif /* DL_TYPES_H */
