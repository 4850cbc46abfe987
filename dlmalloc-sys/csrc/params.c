/*
 * params.c - process-wide parameters (page size, granularity, thresholds,
 * the footer magic), the one-time set-up of the global heap, mallopt, and
 * the state set-up every heap shares.
 */
#include "dl_internal.h"

/* ======================= one-time set-up ======================= */

/* Until the set-up the magic is 1: make_magic's values are multiples of 8
 * and a destroyed heap's is 0, so no heap state carries it, and an mspace
 * handle used before any heap exists is refused like any other bad one. */
DL_INTERNAL dl_params dl_mparams = {1, 0, 0, 0, 0, 0};

/* Returns a value that differs between processes (address-space layout) and
 * between runs; it keys the footer tags so forged chunks are unlikely to
 * carry a valid one. Not a secret against a local attacker. */
static size_t make_magic(void) {
    size_t local = 0;
    size_t x = (size_t)&local ^ ((size_t)&dl_gm << 7) ^ (size_t)0x5bd1e9955bd1e995ull;
    x ^= x >> 17;
    x *= (size_t)0x9e3779b97f4a7c15ull;
    x ^= x >> 13;
    return (x | (size_t)8) & ~(size_t)7;
}

static size_t system_page_size(void) {
    size_t page = dl_platform_page_size();
    if (page == 0 || (page & (page - 1)) != 0)
        DL_BAD_HOOK("custom_page_size returned a value that is not a power of two");
    return page;
}

DL_INTERNAL void dl_init_state(dl_state *m, unsigned flags) {
    for (unsigned i = 0; i < NSMALLBINS; ++i) {
        dl_chunk *bin = BIN_AT(m, i);
        bin->fd = bin->bk = bin;
    }
    m->mappings.prev = m->mappings.next = &m->mappings;
    m->footprint_limit = MAX_SIZE_T;
    m->trim_threshold = dl_mparams.trim_threshold;
    m->trimmed = 0;
    m->release_checks = DL_RELEASE_CHECK_RATE;
    m->magic = dl_mparams.magic;
    m->flags = flags;
    if (flags & USE_LOCK_FLAG) init_lock(&m->mutex);
}

/* First call from any thread: sets the parameters and the global heap up.
 * A thread that loses the race waits for the winner; this happens once per
 * process, before any allocation can have succeeded. */
DL_INTERNAL void dl_init_slow(void) {
    int expected = 0;
    if (__atomic_compare_exchange_n(&dl_params_ready, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        dl_mparams.page_size = system_page_size();
        dl_mparams.granularity = DL_DEFAULT_GRANULARITY > dl_mparams.page_size
                                     ? (size_t)DL_DEFAULT_GRANULARITY
                                     : dl_mparams.page_size;
        dl_mparams.mmap_threshold = DL_DEFAULT_MMAP_THRESHOLD;
        dl_mparams.trim_threshold = DL_DEFAULT_TRIM_THRESHOLD;
        dl_mparams.magic = make_magic();
        init_lock(&dl_registry_lock);
#if DL_NEVER_UNMAP
        init_lock(&dl_recycle_lock);
#endif
        dl_init_state(&dl_gm, USE_LOCK_FLAG | USE_MMAP_FLAG);
        __atomic_store_n(&dl_params_ready, 2, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&dl_params_ready, __ATOMIC_ACQUIRE) != 2) {
    }
}

/* ======================= mallopt ======================= */

DL_INTERNAL int dl_set_param(int param, int value) {
    size_t v;
    if (value == -1)
        v = MAX_SIZE_T;
    else if (value < 0)
        return 0;
    else
        v = (size_t)value;
    switch (param) {
    case M_TRIM_THRESHOLD:
        dl_mparams.trim_threshold = v;
        dl_mparams.trim_threshold_set = 1;
        return 1;
    case M_GRANULARITY:
        if (v < dl_mparams.page_size || (v & (v - 1)) != 0) return 0;
        dl_mparams.granularity = v;
        return 1;
    case M_MMAP_THRESHOLD:
        dl_mparams.mmap_threshold = v;
        return 1;
    default:
        return 0;
    }
}
