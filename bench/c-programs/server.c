/*
 * server.c: a server whose worker threads come and go, and whose blocks
 * outlive the thread that allocated them.
 *
 * Models a server that serves requests on short-lived worker threads (a
 * pool that is resized, or a thread per connection): each worker keeps a
 * set of live blocks (sessions, cached replies) and, per request, allocates
 * a few short-lived temporaries and one block that joins its live set,
 * replacing an older one. The work runs in generations: all the threads of
 * a generation start, work and end; when a thread ends it hands about half
 * of its live blocks to a thread of the next generation (thread i to thread
 * i+1, wrapping) and frees the rest; the receiving thread frees the blocks
 * it inherited gradually over its life. So most frees of inherited blocks
 * happen on a thread other than the allocating one, after that thread has
 * exited: this is what an allocator with per-thread caches or arenas must
 * handle (returning blocks to an owner that is gone, reusing the memory of
 * dead threads) without leaking or growing without bound.
 *
 * Usage: server [threads [generations [requests_per_thread [live_per_thread]]]]
 *        (defaults 1 100 15000 2000)
 * The work per thread is fixed: with 2 threads each generation does twice
 * the work of 1 thread.
 *
 * Requests' live blocks are 32 B to 4 KiB (most small), one in a hundred a
 * 16 to 64 KiB reply buffer; temporaries are 16 to 512 B. Every block
 * carries a pattern from its generation, thread and request; it is checked
 * before every free, including the frees of inherited blocks and the main
 * thread's final frees of the last generation's hand-offs. The check value
 * sums each thread's fold of the tags it freed and handed on, so it does
 * not depend on the thread schedule.
 */
#include <pthread.h>

#include "common.h"

typedef struct {
    uint8_t *p;
    size_t n;
    uint64_t tag;
} rec_t;

/* A set of records handed from a thread to one of the next generation.
 * The array itself is malloc'ed by the giver and freed by the receiver. */
typedef struct {
    rec_t *recs;
    size_t count;
} handoff_t;

typedef struct {
    int gen, index;
    long requests, live;
    handoff_t in;  /* inherited: freed during this thread's life */
    handoff_t out; /* to the next generation */
    uint64_t check;
    pthread_t thread;
} worker_t;

static size_t live_size(rng_t *r)
{
    if (rng_below(r, 100) == 0)
        return rng_range(r, 16 * 1024, 64 * 1024);
    return rng_size_skewed(r, 32, 4096);
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    uint64_t id = ((uint64_t)w->gen << 32) | (uint64_t)w->index;
    rng_t r = rng_seeded(0x7365727665720000ULL ^ id);
    rec_t *live = xmalloc((size_t)w->live * sizeof(rec_t));
    memset(live, 0, (size_t)w->live * sizeof(rec_t));
    uint64_t check = 0;
    size_t inherited_freed = 0;

    for (long q = 0; q < w->requests; q++) {
        uint64_t base = mix64(id ^ ((uint64_t)q << 40));
        /* temporaries of the request: parsed headers, strings */
        rec_t tmp[4];
        int ntmp = 1 + (int)rng_below(&r, 4);
        for (int t = 0; t < ntmp; t++) {
            tmp[t].n = rng_size_skewed(&r, 16, 512);
            tmp[t].tag = base + 1 + (uint64_t)t;
            tmp[t].p = xmalloc(tmp[t].n);
            stamp(tmp[t].p, tmp[t].n, tmp[t].tag);
        }
        /* the block that outlives the request */
        rec_t *s = &live[rng_below(&r, (uint64_t)w->live)];
        if (s->p)
            check_free(s->p, s->n, s->tag, "live");
        s->n = live_size(&r);
        s->tag = base;
        s->p = xmalloc(s->n);
        stamp(s->p, s->n, s->tag);
        for (int t = ntmp - 1; t >= 0; t--)
            check_free(tmp[t].p, tmp[t].n, tmp[t].tag, "temporary");
        /* inherited blocks go at an even pace over the thread's life */
        size_t due = (size_t)(((unsigned __int128)w->in.count * (uint64_t)(q + 1)) /
                              (uint64_t)w->requests);
        for (; inherited_freed < due; inherited_freed++) {
            rec_t *h = &w->in.recs[inherited_freed];
            check = mix64(check ^ h->tag);
            check_free(h->p, h->n, h->tag, "inherited");
        }
    }
    free(w->in.recs);
    w->in.recs = NULL;

    /* the end of the thread: hand about half the live blocks on */
    size_t handed = 0;
    rec_t *out = xmalloc((size_t)w->live * sizeof(rec_t));
    for (long i = 0; i < w->live; i++) {
        if (!live[i].p)
            continue;
        if (rng_below(&r, 2)) {
            out[handed++] = live[i];
        } else {
            check = mix64(check ^ live[i].n);
            check_free(live[i].p, live[i].n, live[i].tag, "live");
        }
    }
    free(live);
    w->out.recs = out;
    w->out.count = handed;
    w->check = mix64(check ^ handed);
    return NULL;
}

int main(int argc, char **argv)
{
    prog_name = "server";
    long nthreads = arg_long(argc, argv, 1, 1, 1, 1024, "threads");
    long gens = arg_long(argc, argv, 2, 100, 1, 1L << 30, "generations");
    long requests = arg_long(argc, argv, 3, 15000, 1, 1L << 40, "requests_per_thread");
    long live = arg_long(argc, argv, 4, 2000, 1, 1L << 24, "live_per_thread");

    worker_t *workers = calloc((size_t)nthreads, sizeof(worker_t));
    handoff_t *pending = calloc((size_t)nthreads, sizeof(handoff_t));
    if (!workers || !pending)
        fail("calloc of the thread tables failed");
    uint64_t check = 0;
    double start = now_ms();
    for (long g = 0; g < gens; g++) {
        for (long i = 0; i < nthreads; i++) {
            worker_t *w = &workers[i];
            memset(w, 0, sizeof *w);
            w->gen = (int)g;
            w->index = (int)i;
            w->requests = requests;
            w->live = live;
            w->in = pending[i];
            if (pthread_create(&w->thread, NULL, worker, w))
                fail("pthread_create failed");
        }
        for (long i = 0; i < nthreads; i++) {
            pthread_join(workers[i].thread, NULL);
            check += workers[i].check;
        }
        /* thread i's blocks go to thread i+1 of the next generation */
        for (long i = 0; i < nthreads; i++)
            pending[(i + 1) % nthreads] = workers[i].out;
    }
    /* the last generation's hand-offs: freed by the main thread */
    for (long i = 0; i < nthreads; i++) {
        uint64_t c = 0;
        for (size_t k = 0; k < pending[i].count; k++) {
            rec_t *h = &pending[i].recs[k];
            c = mix64(c ^ h->tag);
            check_free(h->p, h->n, h->tag, "handed-off");
        }
        free(pending[i].recs);
        check += c;
    }
    double ms = now_ms() - start;
    free(workers);
    free(pending);
    print_result(check, ms);
    return 0;
}
