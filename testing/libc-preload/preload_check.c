/*
 * preload_check.c - which library defines each malloc entry point.
 *
 * Why: if LD_PRELOAD names a library that cannot be loaded, the dynamic
 * loader only prints a warning and runs the program with glibc's malloc:
 * every comparison would then pass without testing anything. And a
 * replacement that leaves out one entry point (say malloc_usable_size or
 * reallocarray) lets programs call glibc's version on its blocks, which
 * corrupts or crashes. So scripts/libc_preload.sh runs this first, under
 * LD_PRELOAD, and checks that each name resolves to the preloaded file.
 *
 * Prints one line per entry point: its name and the file of the object
 * that defines it for this process (dlsym with RTLD_DEFAULT follows the
 * same lookup order as the program's own calls).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

int main(void) {
    static const char *const names[] = {
        "malloc",         "free",          "calloc",   "realloc", "reallocarray",
        "posix_memalign", "aligned_alloc", "memalign", "valloc",  "pvalloc",
        "malloc_usable_size", "mallopt",   "malloc_trim", "mallinfo2", "malloc_stats",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        Dl_info info;
        void *fn = dlsym(RTLD_DEFAULT, names[i]);
        const char *file = "(undefined)";
        if (fn && dladdr(fn, &info) && info.dli_fname) file = info.dli_fname;
        printf("%s %s\n", names[i], file);
    }
    return 0;
}
