/*
 * threads.c - threads made by C's pthread_create use the allocator: each
 * allocates and frees on its own, hands half of its blocks to the next
 * thread to free (a block outlives the thread that made it), and frees
 * blocks in pthread key destructors, which run as the thread exits.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 8, ROUNDS = 4, BLOCKS = 2000 };

static pthread_key_t key;
static unsigned char *handed[THREADS][BLOCKS / 2];
static size_t handed_size[THREADS][BLOCKS / 2];

static uint64_t next_random(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* The destructor of a key: frees the block and, to exercise allocation at
 * thread exit, allocates and frees another. */
static void destroy(void *block) {
    free(block);
    void *late = malloc(200);
    if (late != NULL) memset(late, 1, 200);
    free(late);
}

struct job {
    int index;
    int failed;
};

static void *work(void *arg) {
    struct job *job = arg;
    uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(job->index + 1);
    /* Blocks the previous thread of this slot left: check and free. */
    for (int i = 0; i < BLOCKS / 2; i++) {
        unsigned char *b = handed[job->index][i];
        if (b == NULL) continue;
        for (size_t k = 0; k < handed_size[job->index][i]; k++)
            if (b[k] != (unsigned char)(2 * i + 1 + k)) job->failed = 1; /* mine[2i+1]'s pattern */
        free(b);
        handed[job->index][i] = NULL;
    }
    unsigned char *mine[BLOCKS];
    size_t sizes[BLOCKS];
    for (int i = 0; i < BLOCKS; i++) {
        size_t n = 1 + next_random(&rng) % (next_random(&rng) % 8 == 0 ? 65536 : 512);
        mine[i] = malloc(n);
        if (mine[i] == NULL) {
            job->failed = 1;
            return NULL;
        }
        sizes[i] = n;
        for (size_t k = 0; k < n; k++) mine[i][k] = (unsigned char)(i + k);
    }
    for (int i = 0; i < BLOCKS; i += 2) free(mine[i]);
    for (int i = 1; i < BLOCKS; i += 2) {
        handed[job->index][i / 2] = mine[i];
        handed_size[job->index][i / 2] = sizes[i];
    }
    pthread_setspecific(key, malloc(1000));
    return NULL;
}

int c_threads(void) {
    if (pthread_key_create(&key, destroy) != 0) return __LINE__;
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t threads[THREADS];
        struct job jobs[THREADS];
        for (int t = 0; t < THREADS; t++) {
            /* Each slot's next thread frees what the slot's last one left:
             * rotate, so blocks cross threads. */
            jobs[t].index = (t + round) % THREADS;
            jobs[t].failed = 0;
            if (pthread_create(&threads[t], NULL, work, &jobs[t]) != 0) return __LINE__;
        }
        for (int t = 0; t < THREADS; t++) {
            pthread_join(threads[t], NULL);
            if (jobs[t].failed) return __LINE__;
        }
    }
    for (int s = 0; s < THREADS; s++)
        for (int i = 0; i < BLOCKS / 2; i++) {
            free(handed[s][i]);
            handed[s][i] = NULL;
        }
    pthread_key_delete(key);
    return 0;
}
