/*
 * glibc_misuse.c - what the C library's malloc (glibc's, with its always-on
 * checks and default tunables) does with each misuse case of the README's
 * "Safety and hardening" table. Each case runs in a forked child; the
 * parent prints the case, how the child ended and the first line the child
 * wrote to stderr (glibc's abort message).
 *
 *   cc -O0 -o /tmp/glibc_misuse scripts/glibc_misuse.c && /tmp/glibc_misuse
 *
 * Only behaviour is observed here; nothing is taken from glibc's sources.
 * Sizes: 64 and 24 bytes are served by glibc's per-thread cache (tcache),
 * 2000 bytes by its bins, which check more.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <malloc.h>

/* Every case misuses the allocator on purpose. */
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"

static volatile void *sink; /* keeps the compiler from dropping blocks */

/* The block is written from its last usable byte up to the neighbour's
 * first: the neighbour's header. `freed`: 'b' the block, 'n' the
 * neighbour, 'f' the block after the neighbour was freed first. */
static void overflow(size_t size, int fill, char freed) {
    char *a = malloc(size), *b = malloc(size), *guard = malloc(size);
    if (freed == 'f') free(b);
    size_t usable = malloc_usable_size(a); /* up to b's header word */
    memset(a + usable, fill, (size_t)(b - (a + usable)));
    free(freed == 'n' ? b : a);
    sink = malloc(size);
    sink = malloc(size);
    sink = guard;
}

static void run(const char *c) {
    if (!strcmp(c, "double free, 64 B")) {
        char *a = malloc(64), *p = malloc(64), *b = malloc(64);
        free(p); free(p); sink = a; sink = b;
    } else if (!strcmp(c, "double free, 64 B, tcache full")) {
        char *q[7], *a = malloc(64), *p = malloc(64), *b = malloc(64);
        for (int i = 0; i < 7; i++) q[i] = malloc(64);
        for (int i = 0; i < 7; i++) free(q[i]);
        free(p); free(p); sink = a; sink = b;
    } else if (!strcmp(c, "double free, 2000 B")) {
        char *a = malloc(2000), *p = malloc(2000), *b = malloc(2000);
        free(p); free(p); sink = a; sink = b;
    } else if (!strcmp(c, "free block + 16 (zeroed block)")) {
        char *p = calloc(1, 64); free(p + 16);
    } else if (!strcmp(c, "free block + 16 (text in block)")) {
        char *p = malloc(64); memset(p, 'A', 64); free(p + 16);
    } else if (!strcmp(c, "free block + 8")) {
        char *p = calloc(1, 64); free(p + 8);
    } else if (!strcmp(c, "free another allocator's block (mmap'd, zero header)")) {
        char *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        free(m + 64);
    } else if (!strcmp(c, "free a stack address (zeroed)")) {
        _Alignas(16) size_t s[8] = {0};
        sink = s;
        free((void *)sink + 16);
    } else if (!strcmp(c, "realloc a freed block, 64 B")) {
        char *a = malloc(64), *p = malloc(64), *b = malloc(64);
        free(p); sink = realloc(p, 128); sink = a; sink = b;
    } else if (!strcmp(c, "realloc a freed block, 2000 B")) {
        char *a = malloc(2000), *p = malloc(2000), *b = malloc(2000);
        free(p); sink = realloc(p, 4000); sink = a; sink = b;
    } else if (!strcmp(c, "forged chunk (consistent headers)")) {
        size_t *buf = calloc(1, 512), *chunk = buf + 4;
        chunk[1] = 64 | 1;     /* size 64, previous in use */
        chunk[8 + 1] = 32 | 1; /* the next chunk's size */
        free(chunk + 2);
        if (malloc(56) == chunk + 2) fprintf(stderr, "(next malloc returned the forged chunk)\n");
    } else {
        size_t size; char fill[8], freed;
        if (sscanf(c, "overflow %zu B, %7s over next header, free %c", &size, fill, &freed) != 3)
            abort();
        overflow(size, !strcmp(fill, "zeros") ? 0 : !strcmp(fill, "text") ? 'A' : 0xFF, freed);
    }
}

int main(void) {
    static const char *const cases[] = {
        "double free, 64 B", "double free, 64 B, tcache full", "double free, 2000 B",
        "free block + 16 (zeroed block)", "free block + 16 (text in block)", "free block + 8",
        "free another allocator's block (mmap'd, zero header)", "free a stack address (zeroed)",
        "realloc a freed block, 64 B", "realloc a freed block, 2000 B",
        "forged chunk (consistent headers)",
    };
    static const char *const fills[] = {"zeros", "text", "ones"};
    static const char freeds[] = {'b', 'n', 'f'};
    static const size_t sizes[] = {24, 2000};
    char over[96][96];
    int n = 0;
    for (size_t s = 0; s < 2; s++)
        for (int f = 0; f < 3; f++)
            for (int w = 0; w < 3; w++)
                snprintf(over[n++], sizeof over[0], "overflow %zu B, %s over next header, free %c",
                         sizes[s], fills[f], freeds[w]);
    printf("free b = the block, n = the clobbered neighbour, f = the block after its neighbour was freed\n");
    for (int i = 0; i < (int)(sizeof cases / sizeof *cases) + n; i++) {
        const char *c = i < (int)(sizeof cases / sizeof *cases) ? cases[i] : over[i - sizeof cases / sizeof *cases];
        int pipefd[2];
        if (pipe(pipefd) != 0) return 1;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            dup2(pipefd[1], 2);
            close(pipefd[0]);
            run(c);
            _exit(0);
        }
        close(pipefd[1]);
        char buf[512] = {0};
        ssize_t got = read(pipefd[0], buf, sizeof buf - 1);
        close(pipefd[0]);
        if (got > 0) buf[strcspn(buf, "\n")] = 0;
        int status;
        waitpid(pid, &status, 0);
        const char *how = WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "returned normally";
        printf("%-62s | %-18s | %s\n", c, how, buf);
    }
    return 0;
}
