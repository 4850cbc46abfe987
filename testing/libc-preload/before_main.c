/*
 * before_main.c - allocation before main and after it.
 *
 * Why: a program's constructors, atexit handlers and destructors run
 * while the C library is still starting or already shutting down; a
 * malloc given by LD_PRELOAD must work in all of them, and a block
 * allocated in one phase must be usable and freeable in another.
 *
 *  - libbefore_main_lib.so (before_main_lib.c), linked in, allocates in
 *    its constructor, which runs even before the preloaded library's own
 *    constructors;
 *  - this program's constructor mallocs, reallocs, callocs and frees,
 *    keeps blocks for main, and registers an atexit handler;
 *  - main checks the kept blocks, frees some, keeps others for later;
 *  - the atexit handler allocates, prints and frees;
 *  - the destructor frees what is left, allocating again while doing so.
 *
 * Output (stdout, through stdio, which itself allocates its buffer) is
 * the same under any correct malloc; a wrong content aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lib_message(void);
unsigned lib_checksum(void);

static char *from_constructor;  /* freed in main */
static int *table;              /* freed in the destructor */
static size_t table_len;
static void *volatile left_for_exit; /* never freed: the process ends with it */

static void at_exit_handler(void) {
    char *line = malloc(64);
    if (!line) abort();
    snprintf(line, 64, "atexit: table[%zu] = %d", table_len - 1, table[table_len - 1]);
    puts(line);
    free(line);
    /* Grow the table once more: realloc after main returned. */
    int *bigger = realloc(table, 2 * table_len * sizeof(int));
    if (!bigger) abort();
    for (size_t i = table_len; i < 2 * table_len; i++) bigger[i] = (int)i;
    table = bigger;
    table_len *= 2;
}

__attribute__((constructor)) static void before(void) {
    /* Grow a block step by step: most steps move it. */
    table_len = 16;
    table = malloc(table_len * sizeof(int));
    if (!table) abort();
    for (size_t i = 0; i < table_len; i++) table[i] = (int)i;
    while (table_len < 100000) {
        int *bigger = realloc(table, 2 * table_len * sizeof(int));
        if (!bigger) abort();
        for (size_t i = 0; i < table_len; i++)
            if (bigger[i] != (int)i) abort();
        for (size_t i = table_len; i < 2 * table_len; i++) bigger[i] = (int)i;
        table = bigger;
        table_len *= 2;
    }
    /* calloc'ed blocks must be zero even when they reuse freed memory. */
    for (int round = 0; round < 20; round++) {
        size_t size = 1000 + (size_t)round * 3000;
        unsigned char *dirty = malloc(size);
        if (!dirty) abort();
        memset(dirty, 0xa5, size);
        free(dirty);
        unsigned char *clean = calloc(size, 1);
        if (!clean) abort();
        for (size_t i = 0; i < size; i++)
            if (clean[i]) abort();
        free(clean);
    }
    from_constructor = malloc(100);
    if (!from_constructor) abort();
    strcpy(from_constructor, "allocated in a constructor");
    if (atexit(at_exit_handler) != 0) abort();
}

__attribute__((destructor)) static void after(void) {
    /* Runs after the atexit handler (it was registered later). */
    long sum = 0;
    for (size_t i = 0; i < table_len; i++) {
        if (table[i] != (int)i) abort();
        sum += table[i];
    }
    char *copy = strdup("destructor");
    if (!copy) abort();
    printf("%s: %zu ints, sum %ld\n", copy, table_len, sum);
    free(copy);
    free(table);
    table = NULL;
}

int main(void) {
    printf("main: %s\n", from_constructor);
    printf("main: library says: %s (checksum %u)\n", lib_message(), lib_checksum());
    printf("main: table of %zu ints from the constructor, table[12345] = %d\n", table_len,
           table[12345]);
    free(from_constructor);
    /* Allocate a little in main too and leave one block for exit. */
    char *left = malloc(4096);
    if (!left) abort();
    memset(left, 1, 4096);
    left_for_exit = left;
    return 0;
}
