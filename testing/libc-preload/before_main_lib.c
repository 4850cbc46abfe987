/*
 * before_main_lib.c - a shared library whose constructor allocates.
 *
 * Built as libbefore_main_lib.so and linked into before_main (see
 * before_main.c). The dynamic loader runs the constructors of the
 * program's own libraries before those of a library given by LD_PRELOAD
 * (it initialises objects in the reverse of their load order, and the
 * preloaded one is loaded first), so this code calls the preloaded malloc
 * before that malloc's own initialisers have run. A replacement malloc
 * must work from its very first call, whatever has been set up by then.
 *
 * Likewise its destructor runs after the preloaded library's destructors
 * (finalisers run in the reverse order of initialisers): it allocates and
 * frees there, and frees what its constructor kept, so the replacement
 * must keep working after its own destructors ran.
 * (LD_DEBUG=files shows the order: "calling init" and "calling fini".)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *kept;         /* allocated here, freed in the destructor */
static unsigned lib_sum;   /* read by the program through lib_checksum() */

__attribute__((constructor)) static void lib_init(void) {
    void *blocks[64];
    for (int i = 0; i < 64; i++) {
        size_t size = (size_t)(i * 97 % 3000) + 1;
        blocks[i] = malloc(size);
        if (!blocks[i]) abort();
        memset(blocks[i], i, size);
    }
    for (int i = 0; i < 64; i += 2) free(blocks[i]);
    for (int i = 1; i < 64; i += 2) {
        unsigned char *p = realloc(blocks[i], 5000);
        if (!p || p[0] != (unsigned char)i) abort();
        lib_sum += p[0];
        free(p);
    }
    kept = strdup("allocated by a library constructor, before the preloaded malloc's own");
    if (!kept) abort();
}

__attribute__((destructor)) static void lib_fini(void) {
    char *copy = malloc(strlen(kept) + 1);
    if (!copy) abort();
    strcpy(copy, kept);
    free(kept);
    if (strncmp(copy, "allocated", 9) != 0) abort();
    free(copy);
}

const char *lib_message(void) { return kept; }
unsigned lib_checksum(void) { return lib_sum; }
