/*
 * processprng.c - a stand-in for bcryptprimitives.dll, which Wine 8 lacks.
 *
 * Rust's standard library on Windows imports ProcessPrng from that DLL to
 * seed its hash maps; without it a Rust program fails to start under Wine
 * (status c0000135). This DLL provides the one function, filled from
 * RtlGenRandom (exported by advapi32 as SystemFunction036).
 * scripts/windows.sh builds it with mingw-w64 and copies it into Wine's
 * system32. Test set-up only; never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    /* RtlGenRandom takes a 32-bit length: fill in slices. */
    while (len > 0) {
        ULONG part = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, part)) return FALSE;
        data += part;
        len -= part;
    }
    return TRUE;
}
