/*
 * prodcons.c: producers allocate messages, consumers on other threads
 * check and free them.
 *
 * Models a pipeline (a logger, a network stage handing parsed requests to
 * workers, a work queue): producer threads malloc messages of random size
 * (32 B to 2 KiB, most small), fill them and push them through one bounded
 * queue (a ring of pointers under a mutex, with two condition variables);
 * consumer threads pop them, check them and free them. Every free is of a
 * block another thread allocated, while that thread keeps allocating: the
 * traffic an allocator with per-thread caches sees as remote frees, and
 * one with a single lock sees as contention between the two sides.
 * Producers and consumers move up to 16 messages per lock hold, so the
 * queue's lock is not the whole cost.
 *
 * Usage: prodcons [pairs [messages_per_producer [queue_capacity]]]
 *        (defaults 1 1500000 1024)
 * pairs = P starts P producers and P consumers (so pairs=1 already runs two
 * threads). The work per producer is fixed: with 2 pairs twice the messages
 * flow.
 *
 * A message's header holds its producer, sequence number, length and a
 * tag derived from the first two; its payload carries the tag's pattern.
 * Consumers check both before the free and count the messages; the run
 * fails unless every message arrived exactly once (count and a sum of
 * sequence numbers per producer). The check value is a sum over messages,
 * so it does not depend on which consumer got which message.
 */
#include <pthread.h>

#include "common.h"

#define BATCH 16

typedef struct {
    uint32_t producer;
    uint32_t len; /* whole message, header included */
    uint64_t seq;
    uint64_t tag;
    uint8_t payload[];
} msg_t;

typedef struct {
    msg_t **ring;
    size_t cap, head, count;
    int producers_left;
    pthread_mutex_t lock;
    pthread_cond_t not_full, not_empty;
} queue_t;

typedef struct {
    queue_t *q;
    int index;
    long messages;
    uint64_t check;
    uint64_t received;
    uint64_t *seq_sums; /* per producer, consumers only */
    int producers;
    pthread_t thread;
} role_t;

static uint64_t msg_tag(uint32_t producer, uint64_t seq)
{
    return mix64(((uint64_t)producer << 40) ^ seq ^ 0x6d73670000000000ULL);
}

static void push_batch(queue_t *q, msg_t **batch, size_t n)
{
    pthread_mutex_lock(&q->lock);
    while (q->cap - q->count < n)
        pthread_cond_wait(&q->not_full, &q->lock);
    for (size_t i = 0; i < n; i++)
        q->ring[(q->head + q->count + i) % q->cap] = batch[i];
    q->count += n;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

/* Pops up to BATCH messages; returns 0 once the queue is empty and every
 * producer is done. */
static size_t pop_batch(queue_t *q, msg_t **batch)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && q->producers_left > 0)
        pthread_cond_wait(&q->not_empty, &q->lock);
    size_t n = q->count < BATCH ? q->count : BATCH;
    for (size_t i = 0; i < n; i++)
        batch[i] = q->ring[(q->head + i) % q->cap];
    q->head = (q->head + n) % q->cap;
    q->count -= n;
    if (n)
        pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return n;
}

static void *producer(void *arg)
{
    role_t *p = arg;
    rng_t r = rng_seeded(0x70726f6400000000ULL + (uint64_t)p->index);
    msg_t *batch[BATCH];
    size_t n = 0;
    for (long s = 0; s < p->messages; s++) {
        size_t len = rng_size_skewed(&r, 32, 2048);
        msg_t *m = xmalloc(len);
        m->producer = (uint32_t)p->index;
        m->len = (uint32_t)len;
        m->seq = (uint64_t)s;
        m->tag = msg_tag(m->producer, m->seq);
        stamp(m->payload, len - sizeof(msg_t), m->tag);
        batch[n++] = m;
        if (n == BATCH) {
            push_batch(p->q, batch, n);
            n = 0;
        }
    }
    if (n)
        push_batch(p->q, batch, n);
    pthread_mutex_lock(&p->q->lock);
    p->q->producers_left--;
    pthread_cond_broadcast(&p->q->not_empty);
    pthread_mutex_unlock(&p->q->lock);
    return NULL;
}

static void *consumer(void *arg)
{
    role_t *c = arg;
    msg_t *batch[BATCH];
    size_t n;
    while ((n = pop_batch(c->q, batch)) > 0) {
        for (size_t i = 0; i < n; i++) {
            msg_t *m = batch[i];
            if (m->producer >= (uint32_t)c->producers || m->len < 32 || m->len > 2048 ||
                m->tag != msg_tag(m->producer, m->seq))
                fail("message header corrupted (producer %u, len %u, seq %llu)", m->producer,
                     m->len, (unsigned long long)m->seq);
            c->seq_sums[m->producer] += m->seq;
            c->check += mix64(m->tag ^ m->len);
            c->received++;
            if (!stamp_ok(m->payload, m->len - sizeof(msg_t), m->tag))
                fail("payload of message %llu from producer %u corrupted",
                     (unsigned long long)m->seq, m->producer);
            free(m);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    prog_name = "prodcons";
    long pairs = arg_long(argc, argv, 1, 1, 1, 512, "pairs");
    long messages = arg_long(argc, argv, 2, 1500000, 1, 1L << 40, "messages_per_producer");
    long cap = arg_long(argc, argv, 3, 1024, BATCH, 1L << 24, "queue_capacity");

    queue_t q;
    memset(&q, 0, sizeof q);
    q.cap = (size_t)cap;
    q.ring = xmalloc(q.cap * sizeof(msg_t *));
    q.producers_left = (int)pairs;
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.not_full, NULL);
    pthread_cond_init(&q.not_empty, NULL);

    role_t *prods = calloc((size_t)pairs, sizeof(role_t));
    role_t *cons = calloc((size_t)pairs, sizeof(role_t));
    if (!prods || !cons)
        fail("calloc of the thread tables failed");
    for (long i = 0; i < pairs; i++) {
        cons[i].seq_sums = calloc((size_t)pairs, sizeof(uint64_t));
        if (!cons[i].seq_sums)
            fail("calloc of the sums failed");
    }

    double start = now_ms();
    for (long i = 0; i < pairs; i++) {
        cons[i].q = &q;
        cons[i].index = (int)i;
        cons[i].producers = (int)pairs;
        if (pthread_create(&cons[i].thread, NULL, consumer, &cons[i]))
            fail("pthread_create failed");
    }
    for (long i = 0; i < pairs; i++) {
        prods[i].q = &q;
        prods[i].index = (int)i;
        prods[i].messages = messages;
        if (pthread_create(&prods[i].thread, NULL, producer, &prods[i]))
            fail("pthread_create failed");
    }
    for (long i = 0; i < pairs; i++)
        pthread_join(prods[i].thread, NULL);
    for (long i = 0; i < pairs; i++)
        pthread_join(cons[i].thread, NULL);
    double ms = now_ms() - start;

    uint64_t check = 0, received = 0;
    uint64_t want_sum = (uint64_t)messages * (uint64_t)(messages - 1) / 2;
    for (long i = 0; i < pairs; i++) {
        check += cons[i].check;
        received += cons[i].received;
    }
    if (received != (uint64_t)pairs * (uint64_t)messages)
        fail("%llu messages received, %llu sent", (unsigned long long)received,
             (unsigned long long)pairs * (unsigned long long)messages);
    for (long p = 0; p < pairs; p++) {
        uint64_t sum = 0;
        for (long i = 0; i < pairs; i++)
            sum += cons[i].seq_sums[p];
        if (sum != want_sum)
            fail("producer %ld: the sequence numbers received do not add up", p);
    }
    for (long i = 0; i < pairs; i++)
        free(cons[i].seq_sums);
    free(prods);
    free(cons);
    free(q.ring);
    print_result(check + received, ms);
    return 0;
}
