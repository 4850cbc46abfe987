/*
 * dl_hooks.h - the platform contract: the functions the core calls and a
 * platform defines. Names and signatures are those of `portable-dlmalloc`.
 * This comment is the one statement of the contract; the crate docs and
 * READMEs point here.
 *
 * Rules for every hook
 *  - A hook must never allocate through this allocator: it may run with a
 *    heap lock held, and would re-enter that lock.
 *  - Hooks run concurrently. Each heap (the global heap, every mspace) has
 *    its own lock, unlocked mspaces take none, and create_mspace and
 *    destroy_mspace call the page hooks under no lock at all. So two
 *    threads may be inside custom_mmap, custom_munmap or custom_mremap at
 *    once (never about the same range): a platform whose pages come from
 *    shared state (a pool, an arena, a reservation table) guards it with a
 *    lock of its own. Only custom_page_size runs alone (see below).
 *
 * Return conventions
 *  - custom_mmap and custom_mremap report failure with (void*)-1. The core
 *    takes NULL as failure too, so a platform whose page source returns
 *    NULL cannot corrupt a heap; memory at address 0 is therefore never
 *    usable. Running out of pages is not an error: the allocation that
 *    needed them returns NULL.
 *  - custom_munmap returns 0 when the range was released, -1 when it was
 *    not. After -1 the range still belongs to the core, which keeps using
 *    it; nothing is lost. (destroy_mspace is the one exception: the heap is
 *    gone, so a range it cannot release stays with the platform, and the
 *    bytes it returns count only what was released.)
 *
 * Sizes and alignment
 *  - Every length the core passes to a page hook is a non-zero multiple of
 *    the page size, and every address it passes is page aligned. The page
 *    size is custom_page_size() when the platform defines it, else 4096.
 *  - custom_mmap and custom_mremap must return page-aligned memory; an
 *    unaligned result ends in custom_abort.
 *
 * Required hooks
 *  custom_mmap(len)      len fresh bytes, readable and writable. Need not
 *                        be zeroed.
 *  custom_munmap(p, len) gives [p, p+len) back. The ranges need not match
 *                        the mappings custom_mmap returned one for one. The
 *                        core joins a new mapping to a segment that ends just
 *                        below it or starts just above it, and gives back
 *                        only these ranges:
 *                         - a whole segment or direct mapping, which may
 *                           span several adjacent mappings (minus any tail
 *                           given back earlier);
 *                         - a tail of one (trimming the heap's top, or
 *                           shrinking a large block in place), which may
 *                           cover the end of one mapping and all of the
 *                           next.
 *                        Never a head or an inner piece, and never memory
 *                        of create_mspace_with_base. A platform that cannot
 *                        release such a range returns -1.
 *  init_lock(lk)         prepares the pointer-sized slot *lk, which is 0.
 *                        In the child of a fork the core zeroes each slot
 *                        and calls init_lock again.
 *  final_lock(lk)        the slot is about to disappear: called only by
 *                        destroy_mspace, on a lock nobody holds.
 *  acquire_lock(lk)      blocks until the caller owns the lock. The core
 *                        never takes a lock it holds, but may hold several
 *                        (the fork handlers take them all).
 *  release_lock(lk)      releases it.
 *                        Empty lock bodies are right for single-threaded use.
 *  custom_abort(msg, file, line)
 *                        never returns, and must not allocate. Called on
 *                        detected heap corruption or misuse; msg is ASCII
 *                        and names the problem, file (the core's source
 *                        file) may not be ASCII.
 *  memcpy, memset        from the platform's C library or Rust's
 *                        compiler-builtins.
 *
 * Optional hooks. Used only where the target has weak symbols (ELF,
 * Mach-O; custom_mremap not on bare metal): elsewhere, and when a platform
 * does not define them, the core links and works without them.
 *  custom_page_size()    the page size, a power of two (else custom_abort).
 *                        Called once, by the first call into the allocator,
 *                        before any lock exists; other first callers wait.
 *                        The granularity is raised to it if smaller. A weak
 *                        reference does not pull an object out of an
 *                        archive, so custom_mmap should call it.
 *  custom_mremap(old, old_len, new_len, may_move)
 *                        grows a direct mapping (realloc, realloc_in_place)
 *                        without copying. old is the start of a whole
 *                        mapping that custom_mmap or this hook returned,
 *                        old_len its length now; new_len > old_len. may_move
 *                        0: extend at old or fail; 1: the mapping may move.
 *                        Returns the new start, with the first old_len bytes
 *                        unchanged and the rest readable and writable; after
 *                        a move, old no longer belongs to the core. On
 *                        failure the old mapping must be intact: the core
 *                        then copies (realloc) or fails (realloc_in_place).
 *                        Shrinking uses custom_munmap on the tail instead.
 *                        custom_mmap should refer to it (as for page size).
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
void custom_abort(const char *msg, const char *file, unsigned line);
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);

size_t custom_page_size(void);
void *custom_mremap(void *old, size_t old_len, size_t new_len, int may_move);

#endif /* DL_HOOKS_H */
