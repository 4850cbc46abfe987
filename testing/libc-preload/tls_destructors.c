/*
 * tls_destructors.c - malloc and free in the last moments of threads.
 *
 * Why: when a thread ends, the C library runs, in this order, the
 * destructors of its thread_local objects (__cxa_thread_atexit_impl, what
 * C++ thread_local uses), then the pthread key destructors (up to
 * PTHREAD_DESTRUCTOR_ITERATIONS passes while values are set again), then
 * frees the thread's own resources, among which the dynamic TLS blocks
 * of libraries loaded with dlopen. User code may allocate and free in all
 * of these. A replacement malloc often keeps per-thread state (a thread
 * cache) that it tears down with one of those same mechanisms; malloc and
 * free must keep working after that teardown, and blocks freed then must
 * not be lost or corrupted.
 *
 * Each of 32 threads (in waves of 8):
 *  - grows a __thread buffer with realloc, and a _Thread_local struct
 *    holds blocks malloc'ed on the thread;
 *  - registers a thread_local destructor (__cxa_thread_atexit_impl) that
 *    checks and frees those blocks and allocates while doing so;
 *  - sets three pthread keys: one whose destructor frees a block the
 *    thread allocated (and the __thread buffer), one whose destructor
 *    allocates new blocks (small to 300 KiB) and frees them, one whose
 *    destructor sets the key again with a new block, for four passes;
 *  - touches the 64 KiB TLS array of tls_module.so (dlopen'ed; its TLS
 *    is malloc'ed by the loader and freed at thread exit);
 *  - ends by return or, for odd ones, by pthread_exit from a nested call.
 * The main thread sets the keys too and ends with pthread_exit, so the
 * process exits when its last thread does; an atexit handler then prints
 * how often each destructor ran and exits 1 if a count is wrong.
 * Usage: tls_destructors PATH/libtls_module.so
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAVES 4
#define PER_WAVE 8
#define THREADS (WAVES * PER_WAVE)
#define AGAIN_ROUNDS 4 /* passes of the key destructor that sets its key again */

extern int __cxa_thread_atexit_impl(void (*dtor)(void *), void *obj, void *dso_symbol);
extern void *__dso_handle;

static pthread_key_t key_own, key_alloc, key_again;
static unsigned (*module_touch)(unsigned);

static __thread char *tls_buf;
static __thread size_t tls_len;
static _Thread_local struct {
    unsigned id;
    void *scratch[8];
} tls_state;

static atomic_uint own_runs, alloc_runs, again_runs, tls_dtor_runs, module_ok;

static void fail(const char *what) {
    char line[160];
    int n = snprintf(line, sizeof line, "tls_destructors: %s\n", what);
    if (write(2, line, (size_t)n) < 0) {}
    _exit(1);
}

struct owned {
    unsigned id;
    unsigned char bytes[3000];
};

struct again {
    unsigned round;
    unsigned id;
    unsigned char bytes[];
};

/* Frees a block that this thread allocated, and its __thread buffer. */
static void own_dtor(void *value) {
    struct owned *b = value;
    for (size_t i = 0; i < sizeof b->bytes; i++)
        if (b->bytes[i] != (unsigned char)(b->id + i)) fail("key block corrupted");
    if (!tls_buf || tls_len != strlen(tls_buf)) fail("__thread buffer lost");
    for (size_t i = 0; i < tls_len; i++)
        if (tls_buf[i] != 'a' + (char)((b->id + i) % 26)) fail("__thread buffer corrupted");
    free(tls_buf);
    tls_buf = NULL;
    free(b);
    atomic_fetch_add(&own_runs, 1);
}

/* Allocates in a key destructor: small, medium and large blocks. */
static void alloc_dtor(void *value) {
    static const size_t sizes[] = {1, 24, 1000, 4096, 70000, 300000};
    void *blocks[6];
    for (int i = 0; i < 6; i++) {
        blocks[i] = malloc(sizes[i]);
        if (!blocks[i]) fail("malloc in a key destructor returned NULL");
        memset(blocks[i], 0x5a, sizes[i]);
    }
    char *grown = NULL;
    for (size_t size = 16; size <= 65536; size *= 4) {
        grown = realloc(grown, size);
        if (!grown) fail("realloc in a key destructor returned NULL");
        grown[size - 1] = 1;
    }
    free(grown);
    for (int i = 5; i >= 0; i--) {
        if (((unsigned char *)blocks[i])[sizes[i] - 1] != 0x5a) fail("block corrupted");
        free(blocks[i]);
    }
    free(value);
    atomic_fetch_add(&alloc_runs, 1);
}

/* Sets its key again with a new block, so that the destructors run more
 * passes; each pass frees the previous block. */
static void again_dtor(void *value) {
    struct again *a = value;
    unsigned round = a->round, id = a->id;
    for (unsigned i = 0; i < round * 1000; i++)
        if (a->bytes[i] != (unsigned char)(round + i)) fail("re-set key block corrupted");
    free(a);
    atomic_fetch_add(&again_runs, 1);
    if (round + 1 < AGAIN_ROUNDS) {
        unsigned next = round + 1;
        a = malloc(sizeof *a + next * 1000);
        if (!a) fail("malloc in a key destructor returned NULL");
        a->round = next;
        a->id = id;
        for (unsigned i = 0; i < next * 1000; i++) a->bytes[i] = (unsigned char)(next + i);
        if (pthread_setspecific(key_again, a)) fail("pthread_setspecific failed");
    }
}

/* thread_local destructor: runs before the key destructors. */
static void tls_dtor(void *obj) {
    if (obj != &tls_state) fail("thread_local destructor got the wrong object");
    char *note = malloc(200);
    if (!note) fail("malloc in a thread_local destructor returned NULL");
    snprintf(note, 200, "thread %u", tls_state.id);
    for (int i = 0; i < 8; i++) {
        unsigned char *p = tls_state.scratch[i];
        size_t size = (size_t)(i + 1) * 700;
        for (size_t j = 0; j < size; j++)
            if (p[j] != (unsigned char)(i ^ tls_state.id)) fail("thread_local block corrupted");
        free(p);
        tls_state.scratch[i] = NULL;
    }
    free(note);
    atomic_fetch_add(&tls_dtor_runs, 1);
}

static void set_keys(unsigned id) {
    struct owned *b = malloc(sizeof *b);
    if (!b) fail("malloc returned NULL");
    b->id = id;
    for (size_t i = 0; i < sizeof b->bytes; i++) b->bytes[i] = (unsigned char)(id + i);
    /* Grow the __thread buffer one letter at a time (many reallocs). */
    for (unsigned i = 0; i < 500; i++) {
        char *grown = realloc(tls_buf, tls_len + 2);
        if (!grown) fail("realloc returned NULL");
        tls_buf = grown;
        tls_buf[tls_len] = 'a' + (char)((id + tls_len) % 26);
        tls_buf[++tls_len] = '\0';
    }
    struct again *a = malloc(sizeof *a);
    void *marker = malloc(32);
    if (!a || !marker) fail("malloc returned NULL");
    a->round = 0;
    a->id = id;
    if (pthread_setspecific(key_own, b) || pthread_setspecific(key_alloc, marker) ||
        pthread_setspecific(key_again, a))
        fail("pthread_setspecific failed");
}

/* pthread_exit from a few frames down: it unwinds them. */
static void nested_exit(unsigned depth);
static void (*volatile nested_exit_again)(unsigned) = nested_exit;
static void nested_exit(unsigned depth) {
    if (depth == 0) pthread_exit(NULL);
    nested_exit_again(depth - 1);
}

static void *thread_main(void *arg) {
    unsigned id = (unsigned)(uintptr_t)arg;
    tls_state.id = id;
    for (int i = 0; i < 8; i++) {
        size_t size = (size_t)(i + 1) * 700;
        tls_state.scratch[i] = malloc(size);
        if (!tls_state.scratch[i]) fail("malloc returned NULL");
        memset(tls_state.scratch[i], i ^ (int)id, size);
    }
    if (__cxa_thread_atexit_impl(tls_dtor, &tls_state, &__dso_handle))
        fail("__cxa_thread_atexit_impl failed");
    set_keys(id);
    if (module_touch(id) == 1 && module_touch(id) == 2) atomic_fetch_add(&module_ok, 1);
    if (id % 2) nested_exit(3);
    return NULL;
}

static void report(void) {
    /* Runs in exit(), after the main thread's key destructors ran. */
    unsigned expect_threads = THREADS + 1; /* the main thread too */
    printf("own-block key destructor: %u runs\n", atomic_load(&own_runs));
    printf("allocating key destructor: %u runs\n", atomic_load(&alloc_runs));
    printf("re-setting key destructor: %u runs\n", atomic_load(&again_runs));
    printf("thread_local destructor: %u runs\n", atomic_load(&tls_dtor_runs));
    printf("dlopen'ed module TLS: %u threads ok\n", atomic_load(&module_ok));
    int ok = atomic_load(&own_runs) == expect_threads && atomic_load(&alloc_runs) == expect_threads &&
             atomic_load(&again_runs) == expect_threads * AGAIN_ROUNDS &&
             atomic_load(&tls_dtor_runs) == THREADS && atomic_load(&module_ok) == THREADS;
    puts(ok ? "ok" : "FAILED: wrong destructor counts");
    fflush(stdout);
    if (!ok) _exit(1);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/libtls_module.so\n", argv[0]);
        return 2;
    }
    void *module = dlopen(argv[1], RTLD_NOW);
    if (!module) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    module_touch = (unsigned (*)(unsigned))dlsym(module, "tls_module_touch");
    if (!module_touch) fail("tls_module_touch not found");
    if (pthread_key_create(&key_own, own_dtor) || pthread_key_create(&key_alloc, alloc_dtor) ||
        pthread_key_create(&key_again, again_dtor))
        fail("pthread_key_create failed");
    for (unsigned wave = 0; wave < WAVES; wave++) {
        pthread_t threads[PER_WAVE];
        for (unsigned i = 0; i < PER_WAVE; i++)
            if (pthread_create(&threads[i], NULL, thread_main, (void *)(uintptr_t)(wave * PER_WAVE + i)))
                fail("pthread_create failed");
        for (unsigned i = 0; i < PER_WAVE; i++) pthread_join(threads[i], NULL);
    }
    if (atexit(report)) fail("atexit failed");
    /* The main thread's key destructors run on pthread_exit, not on exit. */
    set_keys(THREADS);
    pthread_exit(NULL);
}
