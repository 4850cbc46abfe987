/*
 * dl_hooks.h - the platform contract: the functions the core calls and a
 * platform defines. Names and signatures are those of `portable-dlmalloc`.
 *
 * Conventions
 *  - Every hook may be called with a heap lock held. A hook must never
 *    allocate through this allocator (it would re-enter a held lock).
 *  - Lengths passed to custom_mmap/custom_munmap/custom_mremap are multiples
 *    of the page size (custom_page_size(), or 4096 when the platform does not
 *    define it); addresses passed to custom_munmap/custom_mremap are page
 *    aligned.
 *
 * Required hooks
 *  custom_mmap(len)      len bytes, page aligned, readable and writable;
 *                        (void*)-1 on failure (not NULL). Need not be zeroed.
 *  custom_munmap(p, len) returns 0 on success, -1 on failure. The core passes
 *                        a whole mapping it got from custom_mmap (or grew
 *                        with custom_mremap), a run of adjacent whole
 *                        mappings (the core merges neighbours), the tail of
 *                        such a mapping or run (trimming top, shrinking a
 *                        large block in place), or what remains after such a
 *                        tail was given back.
 *                        On failure the core keeps using the range.
 *                        The page hooks, custom_mremap included, may run
 *                        concurrently (each heap has its own lock;
 *                        create/destroy_mspace take none): shared page state
 *                        needs its own lock.
 *  init_lock(lk)         prepares the pointer-sized slot *lk (initially 0)
 *  final_lock(lk)        the slot is no longer used (mspace destroyed)
 *  acquire_lock(lk)      blocks until the caller owns the lock (not recursive)
 *  release_lock(lk)      releases it
 *                        Empty lock bodies are fine for single-threaded use.
 *  custom_abort(msg, file, line)
 *                        never returns; msg is ASCII, file may not be. Called
 *                        on detected heap corruption or misuse.
 *  memcpy, memset        from the platform's C library or Rust's
 *                        compiler-builtins.
 *
 * Optional hooks (weak references where the target supports them; a platform
 * that does not define them links and works unchanged)
 *  custom_page_size()    the system page size, a power of two. Called once,
 *                        on the first call into the allocator; the value is
 *                        kept. custom_mmap should call it, because a weak
 *                        reference does not pull an object out of an archive.
 *  custom_mremap(old, old_len, new_len, may_move)
 *                        resizes a mapping; the core uses it to grow a
 *                        directly mapped chunk (realloc, realloc_in_place)
 *                        without copying it. Called with that heap's lock
 *                        held (when it has one). old is the page-aligned
 *                        start of a whole mapping that custom_mmap (or this
 *                        hook) returned, old_len its whole length;
 *                        new_len > old_len, both multiples of the page
 *                        size. may_move 0 (from realloc_in_place): extend at
 *                        old or fail; 1: the mapping may move elsewhere.
 *                        Returns the mapping's new start, page aligned, with
 *                        the first old_len bytes unchanged and the rest
 *                        readable and writable; after a move old no longer
 *                        belongs to the core. Returns (void*)-1 when it
 *                        cannot (no room, no memory): the old mapping must
 *                        then be intact and unchanged, and the core copies
 *                        or fails instead. Shrinking never calls it: the
 *                        core gives a tail back through custom_munmap.
 *                        Without this hook a large block grows by allocate,
 *                        copy and free, and realloc_in_place cannot grow it.
 *                        custom_mmap should refer to it (see
 *                        custom_page_size).
 */
#ifndef DL_HOOKS_H
#define DL_HOOKS_H

#include <stddef.h>

void *custom_mmap(size_t len);
int custom_munmap(void *p, size_t len);
void init_lock(void **lk);
void final_lock(void **lk);
void acquire_lock(void **lk);
void release_lock(void **lk);
#if defined(__GNUC__)
#define DL_NORETURN __attribute__((noreturn))
#else
#define DL_NORETURN
#endif
DL_NORETURN void custom_abort(const char *msg, const char *file, unsigned line);

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);

#if DL_WEAK_HOOKS
size_t custom_page_size(void) __attribute__((weak));
#define DL_HAVE_PAGE_SIZE_HOOK() (custom_page_size != 0)
#else
#define DL_HAVE_PAGE_SIZE_HOOK() 0
#define custom_page_size() ((size_t)4096)
#endif

/* custom_mremap is looked up only on hosted targets with weak symbols
 * (build.rs defines DL_WEAK_MREMAP); bare metal has no mremap. */
#if DL_WEAK_MREMAP
void *custom_mremap(void *old, size_t old_len, size_t new_len, int may_move)
    __attribute__((weak));
#define DL_HAVE_MREMAP_HOOK() (custom_mremap != 0)
#else
/* Never called: DL_HAVE_MREMAP_HOOK() guards every call. */
#define DL_HAVE_MREMAP_HOOK() 0
#define custom_mremap(old, old_len, new_len, may_move) \
    ((void)(old), (void)(old_len), (void)(new_len), (void)(may_move), DL_MMAP_FAILED)
#endif

/* The value custom_mmap returns on failure. */
#define DL_MMAP_FAILED ((void *)~(size_t)0)

#endif /* DL_HOOKS_H */
