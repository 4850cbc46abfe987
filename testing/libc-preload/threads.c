/*
 * threads.c - many threads allocating, reallocating and freeing at once,
 * with blocks handed from one thread to another.
 *
 * Run by scripts/libc_preload.sh under glibc's malloc and under the
 * preloaded allocator; the two runs must print the same line.
 *
 * Why: a malloc that replaces glibc's serves every thread of the process.
 * This program puts the allocator under the patterns that break per-thread
 * caches and arena locking: 8 threads work at the same time on blocks of
 * 16 B to 64 KiB (log-uniform, so small blocks dominate while large ones
 * still come often), grow and shrink them with realloc, and pass about one
 * block in eight to the next thread through a mailbox, so that a block
 * malloc'ed on one thread is freed (or realloc'ed) on another.
 *
 * Every block is filled with a pattern derived from a tag that lives in its
 * first words; the pattern is checked whenever the block is realloc'ed (the
 * kept prefix must survive the move) and before it is freed. A mismatch
 * prints where it was found and exits 1.
 *
 * The printed checksum is the sum, over all blocks freed, of a hash of the
 * block's tag and final size. Each thread's sequence of decisions comes
 * from its own seeded generator and never depends on the others, and the
 * sum is commutative, so the line is the same whatever the scheduling and
 * whichever thread frees a block. No time is printed.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
#define SLOTS 512
#define OPS 60000
#define MAILBOX 64
#define MIN_SIZE 16
#define MAX_SIZE (64 * 1024)

/* A block starts with this header; the rest is the pattern. */
struct header {
    uint64_t tag;
    uint64_t size; /* bytes usable by the pattern check, header included */
};

struct mailbox {
    pthread_mutex_t lock;
    void *blocks[MAILBOX];
    int count;
};

static struct mailbox boxes[THREADS];
static uint64_t checksum_sum[THREADS];
static uint64_t freed_count[THREADS];
static uint64_t passed_count[THREADS];

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t next(uint64_t *state) {
    *state += 0x9e3779b97f4a7c15ULL;
    return mix(*state);
}

/* Log-uniform size in [MIN_SIZE, MAX_SIZE]. */
static size_t random_size(uint64_t *state) {
    uint64_t r = next(state);
    unsigned shift = 4 + (unsigned)(r % 13); /* 16 B .. 64 KiB */
    size_t lo = (size_t)1 << shift;
    size_t size = lo + (size_t)((r >> 8) % lo);
    if (size < MIN_SIZE) size = MIN_SIZE;
    if (size > MAX_SIZE) size = MAX_SIZE;
    return size;
}

static void die(const char *what, const void *p, size_t at) {
    fprintf(stderr, "threads: %s (block %p, byte %zu)\n", what, p, at);
    exit(1);
}

/* The pattern: byte i of a block is byte i % 8 of word i / 8, and a
 * word depends on the tag and its index only, so any range can be filled
 * or checked on its own (realloc keeps a prefix of any length). */
static uint64_t pattern_word(uint64_t tag, size_t i) {
    return mix(tag ^ ((uint64_t)(i / 8) * 0x100000001b3ULL));
}

static unsigned char pattern_byte(uint64_t tag, size_t i) {
    uint64_t w = pattern_word(tag, i);
    unsigned char b[8];
    memcpy(b, &w, 8);
    return b[i % 8];
}

/* Fills bytes [from, to) of block p (never its header) with tag's pattern. */
static void fill(unsigned char *p, uint64_t tag, size_t from, size_t to) {
    size_t i = from < sizeof(struct header) ? sizeof(struct header) : from;
    for (; i < to && (i & 7); i++) p[i] = pattern_byte(tag, i);
    for (; i + 8 <= to; i += 8) {
        uint64_t w = pattern_word(tag, i);
        memcpy(p + i, &w, 8);
    }
    for (; i < to; i++) p[i] = pattern_byte(tag, i);
}

/* Checks bytes [header, to) of block p against tag's pattern. */
static void check(const unsigned char *p, uint64_t tag, size_t to) {
    size_t i = sizeof(struct header);
    for (; i + 8 <= to; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != pattern_word(tag, i)) die("pattern mismatch", p, i);
    }
    for (; i < to; i++)
        if (p[i] != pattern_byte(tag, i)) die("pattern mismatch", p, i);
}

static void *new_block(uint64_t tag, size_t size) {
    struct header *h = malloc(size);
    if (!h) die("malloc returned NULL", NULL, size);
    if ((uintptr_t)h % 16) die("malloc result not 16-byte aligned", h, 0);
    h->tag = tag;
    h->size = size;
    fill((unsigned char *)h, tag, 0, size);
    return h;
}

/* Checks and frees a block; adds it to this thread's checksum. */
static void retire(int self, void *block) {
    struct header *h = block;
    check(block, h->tag, h->size);
    checksum_sum[self] += mix(h->tag * 31 + h->size);
    freed_count[self]++;
    free(block);
}

static void *resize(void *block, size_t size) {
    struct header *h = block;
    uint64_t tag = h->tag;
    size_t old = h->size;
    check(block, tag, old);
    h = realloc(block, size);
    if (!h) die("realloc returned NULL", block, size);
    if ((uintptr_t)h % 16) die("realloc result not 16-byte aligned", h, 0);
    if (h->tag != tag) die("realloc lost the header", h, 0);
    check((unsigned char *)h, tag, old < size ? old : size);
    h->size = size;
    if (size > old) fill((unsigned char *)h, tag, old, size);
    return h;
}

/* What happens to a block passed to another thread: it is resized there
 * (moving it, most of the time) and then freed. The sender does the same
 * when the mailbox is full, so the checksum never depends on which thread
 * got the block. */
static void consume_passed(int self, void *block) {
    struct header *h = block;
    retire(self, resize(block, h->size / 2 + 24));
}

static void *worker(void *arg) {
    int self = (int)(intptr_t)arg;
    uint64_t rng = 0x1234567ULL * (uint64_t)(self + 1);
    uint64_t serial = 0;
    void **slots = calloc(SLOTS, sizeof(void *));
    if (!slots) die("calloc returned NULL", NULL, 0);
    struct mailbox *mine = &boxes[self];
    struct mailbox *next_box = &boxes[(self + 1) % THREADS];

    for (int op = 0; op < OPS; op++) {
        uint64_t r = next(&rng);
        size_t slot = (size_t)(r % SLOTS);
        unsigned action = (unsigned)((r >> 16) % 8);
        void *block = slots[slot];
        if (!block) {
            uint64_t tag = ((uint64_t)self << 56) | ++serial;
            slots[slot] = new_block(tag, random_size(&rng));
        } else if (action < 4) {
            retire(self, block);
            slots[slot] = NULL;
        } else if (action < 7) {
            slots[slot] = resize(block, random_size(&rng));
        } else {
            /* Hand the block to the next thread; it frees or reallocs it. */
            pthread_mutex_lock(&next_box->lock);
            if (next_box->count < MAILBOX) {
                next_box->blocks[next_box->count++] = block;
                block = NULL;
            }
            pthread_mutex_unlock(&next_box->lock);
            if (block) consume_passed(self, block); /* mailbox full */
            slots[slot] = NULL;
            passed_count[self]++;
        }
        /* Now and then take what the previous thread sent. */
        if ((op & 63) == 0) {
            void *got[MAILBOX];
            int n;
            pthread_mutex_lock(&mine->lock);
            n = mine->count;
            memcpy(got, mine->blocks, (size_t)n * sizeof(void *));
            mine->count = 0;
            pthread_mutex_unlock(&mine->lock);
            for (int i = 0; i < n; i++) consume_passed(self, got[i]);
        }
    }
    for (size_t i = 0; i < SLOTS; i++)
        if (slots[i]) retire(self, slots[i]);
    free(slots);
    return NULL;
}

int main(void) {
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_mutex_init(&boxes[i].lock, NULL);
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i)) {
            fprintf(stderr, "threads: pthread_create failed\n");
            return 1;
        }
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    /* Blocks still in the mailboxes: freed by the main thread. */
    uint64_t sum = 0, freed = 0, passed = 0;
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < boxes[i].count; j++) consume_passed(i, boxes[i].blocks[j]);
        sum += checksum_sum[i];
        freed += freed_count[i];
        passed += passed_count[i];
    }
    printf("threads: %d threads, %llu blocks freed, %llu passed between threads, checksum %016llx\n",
           THREADS, (unsigned long long)freed, (unsigned long long)passed, (unsigned long long)sum);
    return 0;
}
