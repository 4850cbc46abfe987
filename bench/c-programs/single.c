/*
 * single.c: one thread doing the mixed allocation work of an ordinary
 * program, the case every allocator must get right first.
 *
 * Models a program that keeps a string-keyed hash table (a symbol table, a
 * cache), an ordered tree of records and a few growing buffers (text read
 * or built piece by piece) all alive at once: a random mix of inserts,
 * lookups and deletes on the table, inserts and deletes on the tree, and
 * appends to buffers through realloc, so blocks of many sizes (8 B to
 * 4 KiB, most of them small) and lifetimes interleave in one heap. Each
 * round builds these structures up and tears them all down, so the heap
 * grows, fragments, and empties again.
 *
 * Usage: single [ops_per_round [rounds]]   (defaults 50000 40)
 *
 * Every key, value, tree record and buffer byte carries a pattern derived
 * from its id or key; it is checked on lookup, before every free and after
 * every realloc. The check value folds in the sequence of operations and
 * their outcomes (hits, misses, keys), not addresses.
 */
#include "common.h"

/* --- hash table of strings ------------------------------------------------ */

typedef struct entry {
    struct entry *next;
    uint64_t id;
    uint64_t hash;
    uint8_t *val;
    uint32_t key_len;
    uint32_t val_len;
    uint8_t key[]; /* key_len bytes */
} entry_t;

typedef struct {
    entry_t **buckets;
    size_t mask; /* bucket count - 1; the count is a power of two */
    size_t count;
} table_t;

static uint64_t key_tag(uint64_t id) { return mix64(id ^ 0x6b65796b65796b65ULL); }
static uint64_t val_tag(uint64_t id) { return mix64(id ^ 0x76616c7576616c75ULL); }

/* The key of an id: its length (8 to 512 bytes, most short) and bytes are
 * functions of the id, so a lookup can rebuild it. */
static size_t key_len_of(uint64_t id)
{
    rng_t r = rng_seeded(id ^ 0x1e);
    return rng_size_skewed(&r, 8, 512);
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = (uint64_t)n * 0x9e3779b97f4a7c15ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return mix64(h);
}

static void table_init(table_t *t)
{
    t->mask = 63;
    t->count = 0;
    t->buckets = xmalloc(64 * sizeof(entry_t *));
    memset(t->buckets, 0, 64 * sizeof(entry_t *));
}

static void table_grow(table_t *t)
{
    size_t n = (t->mask + 1) * 2;
    entry_t **nb = xmalloc(n * sizeof(entry_t *));
    memset(nb, 0, n * sizeof(entry_t *));
    for (size_t b = 0; b <= t->mask; b++) {
        entry_t *e = t->buckets[b];
        while (e) {
            entry_t *next = e->next;
            size_t nbk = e->hash & (n - 1);
            e->next = nb[nbk];
            nb[nbk] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->mask = n - 1;
}

static void table_insert(table_t *t, uint64_t id, size_t val_len)
{
    size_t kl = key_len_of(id);
    entry_t *e = xmalloc(sizeof(entry_t) + kl);
    e->id = id;
    e->key_len = (uint32_t)kl;
    fill_range(e->key, 0, kl, key_tag(id));
    e->hash = hash_bytes(e->key, kl);
    e->val_len = (uint32_t)val_len;
    e->val = xmalloc(val_len);
    stamp(e->val, val_len, val_tag(id));
    if (t->count >= t->mask + 1)
        table_grow(t);
    size_t b = e->hash & t->mask;
    e->next = t->buckets[b];
    t->buckets[b] = e;
    t->count++;
}

static void entry_check_free(entry_t *e)
{
    if (!range_ok(e->key, 0, e->key_len, key_tag(e->id)))
        fail("key of id %llu corrupted", (unsigned long long)e->id);
    check_free(e->val, e->val_len, val_tag(e->id), "hash value");
    free(e);
}

/* Finds the entry of id by its key's bytes; returns the link that points
 * to it, or NULL. */
static entry_t **table_find(table_t *t, uint64_t id, uint8_t *scratch)
{
    size_t kl = key_len_of(id);
    fill_range(scratch, 0, kl, key_tag(id));
    uint64_t h = hash_bytes(scratch, kl);
    entry_t **link = &t->buckets[h & t->mask];
    for (; *link; link = &(*link)->next) {
        entry_t *e = *link;
        if (e->hash == h && e->key_len == kl && memcmp(e->key, scratch, kl) == 0)
            return link;
    }
    return NULL;
}

/* --- binary search tree of records ---------------------------------------- */

typedef struct node {
    struct node *left, *right;
    uint64_t key;
    uint32_t len;
    uint8_t payload[];
} node_t;

static void tree_insert(node_t **root, uint64_t key, size_t len)
{
    node_t *n = xmalloc(sizeof(node_t) + len);
    n->left = n->right = NULL;
    n->key = key;
    n->len = (uint32_t)len;
    stamp(n->payload, len, key);
    while (*root)
        root = key < (*root)->key ? &(*root)->left : &(*root)->right;
    *root = n;
}

static void node_check_free(node_t *n)
{
    if (!stamp_ok(n->payload, n->len, n->key))
        fail("tree record with key %016llx corrupted", (unsigned long long)n->key);
    free(n);
}

/* Removes the record with the smallest key >= probe (or the largest key if
 * none is); returns its key, or 0 on an empty tree. */
static uint64_t tree_delete_near(node_t **root, uint64_t probe)
{
    if (!*root)
        return 0;
    node_t **link = root, **found = NULL;
    while (*link) {
        if ((*link)->key >= probe) {
            found = link;
            link = &(*link)->left;
        } else {
            link = &(*link)->right;
        }
    }
    if (!found) { /* every key is below probe: take the largest */
        found = root;
        while ((*found)->right)
            found = &(*found)->right;
    }
    node_t *n = *found;
    if (!n->left) {
        *found = n->right;
    } else if (!n->right) {
        *found = n->left;
    } else {
        node_t **sl = &n->right;
        while ((*sl)->left)
            sl = &(*sl)->left;
        node_t *s = *sl;
        *sl = s->right;
        s->left = n->left;
        s->right = n->right;
        *found = s;
    }
    uint64_t key = n->key;
    node_check_free(n);
    return key;
}

/* Frees the whole tree in key order; folds the keys into *check. */
static void tree_free(node_t *n, uint64_t *check, size_t *count)
{
    while (n) {
        tree_free(n->left, check, count);
        node_t *right = n->right;
        *check = mix64(*check ^ n->key);
        ++*count;
        node_check_free(n);
        n = right;
    }
}

/* --- realloc-grown buffers --------------------------------------------------- */

#define NBUF 64
#define BUF_LIMIT (64 * 1024)

typedef struct {
    uint8_t *p;
    size_t len, cap;
    uint64_t tag;
} buf_t;

/* Appends chunk pattern bytes. Even buffers grow to the exact length on
 * every append (naive code); odd ones double their capacity (a vector).
 * A buffer past BUF_LIMIT is checked whole, freed and started again. */
static void buf_append(buf_t *b, size_t chunk, uint64_t *next_tag, int exact)
{
    if (b->len + chunk > BUF_LIMIT) {
        if (!range_ok(b->p, 0, b->len, b->tag))
            fail("buffer of %zu bytes corrupted", b->len);
        free(b->p);
        b->p = NULL;
        b->len = b->cap = 0;
    }
    if (!b->p)
        b->tag = mix64(++*next_tag);
    size_t need = b->len + chunk;
    if (need > b->cap) {
        size_t cap = exact ? need : (b->cap ? b->cap * 2 : 64);
        while (cap < need)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
        /* the copy kept the old bytes: check both ends of them */
        size_t head = b->len < 64 ? b->len : 64;
        size_t tail = b->len > 64 ? b->len - 64 : 0;
        if (!range_ok(b->p, 0, head, b->tag) || !range_ok(b->p, tail, b->len, b->tag))
            fail("buffer lost its bytes on realloc to %zu", cap);
    }
    fill_range(b->p, b->len, need, b->tag);
    b->len = need;
}

int main(int argc, char **argv)
{
    prog_name = "single";
    long ops = arg_long(argc, argv, 1, 50000, 1, 1L << 40, "ops_per_round");
    long rounds = arg_long(argc, argv, 2, 40, 1, 1L << 20, "rounds");

    uint8_t *scratch = xmalloc(512);
    uint64_t check = 0;
    uint64_t next_tag = 0;
    double start = now_ms();
    for (long round = 0; round < rounds; round++) {
        rng_t r = rng_seeded((uint64_t)round);
        table_t t;
        table_init(&t);
        node_t *root = NULL;
        buf_t bufs[NBUF];
        memset(bufs, 0, sizeof bufs);
        uint64_t next_id = 0;
        uint64_t hits = 0, misses = 0;

        for (long op = 0; op < ops; op++) {
            uint64_t dice = rng_below(&r, 100);
            if (dice < 30) {
                table_insert(&t, next_id++, rng_size_skewed(&r, 8, 4096));
            } else if (dice < 45) {
                if (!next_id)
                    continue;
                uint64_t id = rng_below(&r, next_id);
                entry_t **link = table_find(&t, id, scratch);
                if (link) {
                    entry_t *e = *link;
                    *link = e->next;
                    t.count--;
                    entry_check_free(e);
                    hits++;
                } else {
                    misses++;
                }
                check = mix64(check ^ id ^ (link ? 1ULL << 63 : 0));
            } else if (dice < 55) {
                if (!next_id)
                    continue;
                uint64_t id = rng_below(&r, next_id);
                entry_t **link = table_find(&t, id, scratch);
                if (link) {
                    entry_t *e = *link;
                    size_t n = e->val_len < 64 ? e->val_len : 64;
                    if (!range_ok(e->val, 0, n, val_tag(id)))
                        fail("value of id %llu corrupted", (unsigned long long)id);
                    hits++;
                } else {
                    misses++;
                }
            } else if (dice < 80) {
                tree_insert(&root, rng_next(&r), rng_size_skewed(&r, 8, 4096));
            } else if (dice < 92) {
                uint64_t key = tree_delete_near(&root, rng_next(&r));
                check = mix64(check ^ key);
            } else {
                size_t b = rng_below(&r, NBUF);
                buf_append(&bufs[b], rng_range(&r, 1, 512), &next_tag, !(b & 1));
            }
        }

        /* tear everything down, checking every block */
        size_t entries = 0;
        for (size_t b = 0; b <= t.mask; b++) {
            entry_t *e = t.buckets[b];
            while (e) {
                entry_t *next = e->next;
                check = mix64(check ^ e->id);
                entry_check_free(e);
                entries++;
                e = next;
            }
        }
        if (entries != t.count)
            fail("hash table lost entries: %zu walked, %zu counted", entries, t.count);
        free(t.buckets);
        size_t nodes = 0;
        tree_free(root, &check, &nodes);
        for (int b = 0; b < NBUF; b++) {
            if (bufs[b].p) {
                if (!range_ok(bufs[b].p, 0, bufs[b].len, bufs[b].tag))
                    fail("buffer %d of %zu bytes corrupted", b, bufs[b].len);
                check = mix64(check ^ bufs[b].len);
                free(bufs[b].p);
            }
        }
        check = mix64(check ^ hits ^ (misses << 20) ^ ((uint64_t)entries << 40) ^ nodes);
    }
    double ms = now_ms() - start;
    free(scratch);
    print_result(check, ms);
    return 0;
}
