/*
 * fork_threads.c - fork while other threads are inside malloc.
 *
 * Why: fork copies only the calling thread. If another thread held one of
 * the allocator's locks at that moment, the child inherits the lock held
 * by a thread that does not exist there, and its first malloc deadlocks;
 * per-thread caches and arena bookkeeping copied mid-update break in the
 * same way. glibc's malloc guards against this for itself; a malloc that
 * replaces it through LD_PRELOAD must do it too (pthread_atfork or the
 * like).
 *
 * Four threads allocate, reallocate and free without pause (16 B to
 * 256 KiB, so that some blocks are large enough to be mapped on their
 * own), while the main thread forks 50 times. Each child, under alarm(20)
 * so that a deadlock ends it with SIGALRM instead of hanging:
 *  - checks a block the parent filled before forking, reallocs and frees
 *    it (memory allocated before the fork, released in the child);
 *  - mallocs, callocs and frees blocks of several sizes;
 *  - starts a thread that allocates too, and joins it;
 *  - ends with _exit(0), or _exit(2) when a check failed.
 * The parent waits for each child and requires exit status 0; it prints
 * one line, and exits 1 if a child failed, with the reason on stderr.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 4
#define FORKS 50
#define PARENT_BLOCK 100000

static atomic_int stop;
static unsigned char *parent_block;

static uint64_t next(uint64_t *s) {
    uint64_t x = (*s += 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void *worker(void *arg) {
    uint64_t rng = (uint64_t)(uintptr_t)arg * 7919 + 1;
    unsigned char *slots[64] = {0};
    size_t sizes[64] = {0};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t r = next(&rng);
        unsigned i = (unsigned)(r % 64);
        size_t size = (r >> 20) % 100 == 0 ? 256 * 1024 : 16 + (size_t)((r >> 8) % 4000);
        if (slots[i] && slots[i][0] != (unsigned char)sizes[i]) {
            fprintf(stderr, "fork_threads: worker block corrupted\n");
            exit(1);
        }
        if (!slots[i]) {
            slots[i] = malloc(size);
        } else if (r & 1) {
            free(slots[i]);
            slots[i] = NULL;
            continue;
        } else {
            slots[i] = realloc(slots[i], size);
        }
        if (!slots[i]) {
            fprintf(stderr, "fork_threads: worker allocation failed\n");
            exit(1);
        }
        sizes[i] = size;
        memset(slots[i], (unsigned char)size, size < 64 ? size : 64);
    }
    for (unsigned i = 0; i < 64; i++) free(slots[i]);
    return NULL;
}

static void *child_thread(void *arg) {
    (void)arg;
    void *blocks[32];
    for (int i = 0; i < 32; i++) {
        blocks[i] = malloc((size_t)(i + 1) * 100);
        if (!blocks[i]) return (void *)1;
        memset(blocks[i], i, (size_t)(i + 1) * 100);
    }
    for (int i = 0; i < 32; i++) free(blocks[i]);
    return NULL;
}

/* The child's work; returns its exit status. */
static int child(void) {
    alarm(20);
    for (size_t i = 0; i < PARENT_BLOCK; i++)
        if (parent_block[i] != (unsigned char)(i % 253)) return 2;
    unsigned char *moved = realloc(parent_block, 2 * PARENT_BLOCK);
    if (!moved) return 2;
    for (size_t i = 0; i < PARENT_BLOCK; i++)
        if (moved[i] != (unsigned char)(i % 253)) return 2;
    free(moved);
    static const size_t sizes[] = {8, 100, 5000, 70000, 1 << 20};
    for (int i = 0; i < 5; i++) {
        unsigned char *p = malloc(sizes[i]);
        unsigned char *z = calloc(sizes[i], 1);
        if (!p || !z) return 2;
        memset(p, 0xee, sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            if (z[j]) return 2;
        free(z);
        free(p);
    }
    pthread_t t;
    void *result;
    if (pthread_create(&t, NULL, child_thread, NULL)) return 2;
    if (pthread_join(t, &result) || result) return 2;
    return 0;
}

int main(void) {
    parent_block = malloc(PARENT_BLOCK);
    if (!parent_block) return 1;
    for (size_t i = 0; i < PARENT_BLOCK; i++) parent_block[i] = (unsigned char)(i % 253);

    pthread_t workers[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        if (pthread_create(&workers[i], NULL, worker, (void *)(uintptr_t)i)) return 1;

    int failed = 0;
    for (int n = 0; n < FORKS; n++) {
        usleep(2000); /* let the workers get going between forks */
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            failed++;
            break;
        }
        if (pid == 0) _exit(child());
        int status;
        if (waitpid(pid, &status, 0) != pid) {
            perror("waitpid");
            failed++;
            continue;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
        failed++;
        if (WIFSIGNALED(status))
            fprintf(stderr, "fork_threads: child %d killed by signal %d (%s)%s\n", n,
                    WTERMSIG(status), strsignal(WTERMSIG(status)),
                    WTERMSIG(status) == SIGALRM ? ": deadlocked in the child" : "");
        else
            fprintf(stderr, "fork_threads: child %d exited with status %d\n", n,
                    WEXITSTATUS(status));
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < WORKERS; i++) pthread_join(workers[i], NULL);
    free(parent_block);
    printf("fork_threads: %d forks with %d threads allocating, %d children failed\n", FORKS,
           WORKERS, failed);
    return failed ? 1 : 0;
}
