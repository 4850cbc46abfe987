# python_work.py - a Python workload for scripts/libc_preload.sh.
#
# Why: CPython allocates constantly, from small objects to large buffers,
# and frees in orders set by reference counting and the cycle collector.
# The script runs with PYTHONMALLOC=malloc, so that every allocation,
# even the small objects normally carved from pymalloc's arenas, goes
# through malloc, realloc and free (the preloaded ones under LD_PRELOAD).
# It builds a dict of 200 000 keys, round-trips it through json, sorts,
# does string work (join, split, replace, formatting, growing bytearrays
# and lists), and runs a few threads (thread creation and exit, hashlib
# releasing the GIL on large buffers). Everything printed is deterministic
# (PYTHONHASHSEED=0 fixes the hash order of str keys), so the output under
# glibc's malloc and under the replacement must be byte-identical.
import hashlib
import json
import threading

N = 200_000


def lcg(seed):
    x = seed
    while True:
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield x


def main():
    rng = lcg(12345)
    data = {}
    for i in range(N):
        r = next(rng)
        key = f"key-{r % 1_000_003:07d}-{i}"
        kind = r % 5
        if kind == 0:
            value = r % 1000
        elif kind == 1:
            value = f"value {r:x} " * (1 + r % 3)
        elif kind == 2:
            value = [i, str(r % 97), None, True, (r % 1000) / 8]
        elif kind == 3:
            value = {"id": i, "tags": ["t%d" % (r % 13), "u%d" % (r % 17)]}
        else:
            value = "x" * (r % 200)
        data[key] = value
    print("dict:", len(data), "keys")

    text = json.dumps(data, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()
    print("json:", len(text), "chars, sha256", digest)
    for round_trip in range(2):
        again = json.loads(text)
        assert again == data, "json round trip changed the data"
        # The C encoder both times (indent would use the slow Python one).
        separators = (",", ":") if round_trip else None
        text = json.dumps(again, sort_keys=True, separators=separators)
        print("round trip", round_trip, ":", len(text), "chars, sha256",
              hashlib.sha256(text.encode()).hexdigest())
        del again

    keys = sorted(data, key=lambda k: (len(k), k[::-1]))
    print("sorted:", keys[0], keys[len(keys) // 2], keys[-1])
    numbers = sorted((next(rng) % 10_000_000 for _ in range(300_000)), reverse=True)
    print("numbers:", numbers[0], numbers[150_000], numbers[-1], sum(numbers))

    words = " ".join(k.replace("-", " ") for k in keys[:50_000]).split()
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    print("words:", len(words), "distinct", len(counts), "top", top)

    buf = bytearray()
    chunks = []
    for i in range(20_000):
        piece = ("%06d|" % i).encode() * (1 + i % 40)
        buf += piece
        chunks.append(piece)
        if i % 5000 == 4999:
            del chunks[::2]  # free half of the pieces
    print("bytearray:", len(buf), hashlib.sha256(bytes(buf)).hexdigest()[:32])
    print("chunks:", len(chunks), hashlib.sha256(b"".join(chunks)).hexdigest()[:32])

    results = [None] * 4

    def work(n):
        local = [str(j) * (n + 1) for j in range(30_000)]
        blob = "".join(local).encode() * 20
        results[n] = hashlib.sha256(blob).hexdigest()[:16] + " " + str(len(blob))

    for _ in range(3):
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print("threads:", results)


main()
