/*
 * tls_module.c - a shared library with thread-local variables, loaded by
 * tls_destructors with dlopen.
 *
 * Why: the thread-local storage of a library loaded with dlopen is not
 * laid out with the thread's stack; the dynamic loader allocates it with
 * malloc the first time a thread touches it, and frees it when the thread
 * exits, after the thread's TLS and pthread key destructors have run. With
 * LD_PRELOAD those calls reach the replacement malloc, from inside the
 * loader, late in a thread's life. The 64 KiB array is too large for the
 * loader's spare static TLS, so it is always allocated this way.
 */
#include <stdio.h>
#include <string.h>

static __thread char module_big[64 * 1024];
static __thread unsigned module_calls;

/* Writes a pattern for `id` over the whole TLS array and checks what an
 * earlier call of the same thread left; returns this thread's call count
 * or 0 when the array did not hold what was written. */
unsigned tls_module_touch(unsigned id) {
    if (module_calls > 0) {
        for (size_t i = 0; i < sizeof module_big; i++)
            if (module_big[i] != (char)(id * 7 + i % 251)) return 0;
    }
    for (size_t i = 0; i < sizeof module_big; i++) module_big[i] = (char)(id * 7 + i % 251);
    return ++module_calls;
}
