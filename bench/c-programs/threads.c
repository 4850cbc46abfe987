/*
 * threads.c: N threads allocating and freeing in parallel, each in its own
 * blocks (nothing is shared).
 *
 * Models the worker threads of a parallel program that each build and drop
 * their own data: every thread keeps a working set of slots and, step by
 * step, replaces the block in a random slot with a new one of random size
 * (16 B to 1 KiB mostly, one step in twenty 1 KiB to 64 KiB), or reallocs
 * it to a new size. It measures how an allocator scales when the threads
 * never touch each other's blocks: any slow-down from one thread to two is
 * the allocator's own contention (shared locks, shared cache lines), since
 * the machine has two cores and each thread does the same work.
 *
 * Usage: threads [threads [steps_per_thread [working_set]]]
 *        (defaults 1 1500000 4096)
 * The work per thread is fixed: with 2 threads the program does twice the
 * work of 1 thread, in the same time if the allocator scales perfectly.
 *
 * Every block carries a pattern derived from its thread, slot and step;
 * it is checked before every free and, on its first bytes, after every
 * realloc. The check value sums each thread's fold of its block tags and
 * sizes, so it does not depend on the thread schedule.
 */
#include <pthread.h>

#include "common.h"

typedef struct {
    uint8_t *p;
    size_t n;
    uint64_t tag;
} slot_t;

typedef struct {
    int index;
    long steps;
    long working_set;
    uint64_t check;
    pthread_t thread;
} worker_t;

static size_t pick_size(rng_t *r)
{
    if (rng_below(r, 20) == 0)
        return rng_range(r, 1025, 64 * 1024);
    return rng_range(r, 16, 1024);
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    rng_t r = rng_seeded(0x7468726561647300ULL + (uint64_t)w->index);
    slot_t *slots = xmalloc((size_t)w->working_set * sizeof(slot_t));
    memset(slots, 0, (size_t)w->working_set * sizeof(slot_t));
    uint64_t check = 0;
    uint64_t base = (uint64_t)w->index << 48;

    for (long step = 0; step < w->steps; step++) {
        slot_t *s = &slots[rng_below(&r, (uint64_t)w->working_set)];
        size_t n = pick_size(&r);
        uint64_t tag = mix64(base ^ (uint64_t)step);
        if (s->p && rng_below(&r, 10) == 0) {
            /* realloc: the first bytes must survive the move */
            size_t keep = s->n < n ? s->n : n;
            if (keep > 64)
                keep = 64;
            if (!stamp_ok(s->p, s->n, s->tag))
                fail("thread %d: block of %zu bytes corrupted before realloc", w->index, s->n);
            s->p = xrealloc(s->p, n);
            if (!range_ok(s->p, 0, keep, s->tag))
                fail("thread %d: realloc from %zu to %zu bytes lost the block's first bytes",
                     w->index, s->n, n);
        } else {
            if (s->p)
                check_free(s->p, s->n, s->tag, "thread");
            s->p = xmalloc(n);
        }
        s->n = n;
        s->tag = tag;
        stamp(s->p, n, tag);
        check = mix64(check ^ tag ^ n);
    }
    for (long i = 0; i < w->working_set; i++) {
        if (slots[i].p) {
            check = mix64(check ^ slots[i].n);
            check_free(slots[i].p, slots[i].n, slots[i].tag, "thread");
        }
    }
    free(slots);
    w->check = check;
    return NULL;
}

int main(int argc, char **argv)
{
    prog_name = "threads";
    long nthreads = arg_long(argc, argv, 1, 1, 1, 1024, "threads");
    long steps = arg_long(argc, argv, 2, 1500000, 1, 1L << 40, "steps_per_thread");
    long working_set = arg_long(argc, argv, 3, 4096, 1, 1L << 24, "working_set");

    worker_t *workers = calloc((size_t)nthreads, sizeof(worker_t));
    if (!workers)
        fail("calloc of the thread table failed");
    double start = now_ms();
    for (long i = 0; i < nthreads; i++) {
        workers[i].index = (int)i;
        workers[i].steps = steps;
        workers[i].working_set = working_set;
        if (pthread_create(&workers[i].thread, NULL, worker, &workers[i]))
            fail("pthread_create failed");
    }
    uint64_t check = 0;
    for (long i = 0; i < nthreads; i++) {
        pthread_join(workers[i].thread, NULL);
        check += workers[i].check;
    }
    double ms = now_ms() - start;
    free(workers);
    print_result(check, ms);
    return 0;
}
