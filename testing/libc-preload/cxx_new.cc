/*
 * cxx_new.cc - C++ allocation through a replaced malloc.
 *
 * Why: libstdc++'s operator new and delete call malloc and free, its
 * aligned operator new (for over-aligned types) calls aligned_alloc, and
 * sized delete passes the size back; the containers allocate and free in
 * patterns of their own (vector growth by doubling, string small-buffer
 * and heap switches, node-based map and unordered_map, rehashing). With
 * LD_PRELOAD all of these reach the replacement. thread_local objects with
 * destructors free their memory when a thread exits, through
 * __cxa_thread_atexit_impl, and objects with static storage are destroyed
 * after main returns.
 *
 * Prints a checksum of the containers' contents, the same for any correct
 * malloc; misaligned over-aligned objects or lost contents make it print
 * an error and exit 1.
 */
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

uint64_t mix(uint64_t x) {
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    return x;
}

[[noreturn]] void fail(const char *what) {
    std::fprintf(stderr, "cxx_new: %s\n", what);
    std::exit(1);
}

struct alignas(64) CacheLine {
    uint64_t words[8];
};

struct alignas(4096) Page {
    unsigned char bytes[4096];
};

struct Node {
    std::string name;
    std::vector<int> values;
    std::unique_ptr<Node> next;
};

// Destroyed after main returns.
std::map<std::string, std::vector<std::string>> global_index;

thread_local std::string thread_name;
thread_local std::vector<std::unique_ptr<std::string>> thread_log;

uint64_t work(unsigned seed) {
    uint64_t sum = seed;
    thread_name = "thread-" + std::to_string(seed);
    // vector growth and shrinking
    std::vector<uint64_t> v;
    for (unsigned i = 0; i < 200000; i++) v.push_back(mix(i + seed));
    v.resize(1000);
    v.shrink_to_fit();
    for (auto x : v) sum += x;
    // strings: short (in place) and long (on the heap), appended and copied
    std::vector<std::string> strings;
    for (unsigned i = 0; i < 20000; i++) {
        std::string s = std::to_string(mix(i ^ seed));
        if (i % 3 == 0) s += std::string(i % 500, char('a' + i % 26));
        strings.push_back(s);
        if (i % 1000 == 0) thread_log.push_back(std::make_unique<std::string>(s));
    }
    for (const auto &s : strings) sum = sum * 31 + s.size() + static_cast<unsigned char>(s[0]);
    // map and unordered_map: many nodes, erase half, rehash
    std::map<uint64_t, std::string> tree;
    std::unordered_map<std::string, uint64_t> hash;
    for (unsigned i = 0; i < 30000; i++) {
        tree[mix(i * 7 + seed) % 100000] = strings[i % strings.size()];
        hash[strings[i % strings.size()]] += i;
    }
    for (auto it = tree.begin(); it != tree.end();) it = (it->first & 1) ? tree.erase(it) : ++it;
    hash.rehash(hash.size() * 4);
    for (const auto &[k, s] : tree) sum += k * s.size();
    uint64_t hash_sum = 0;
    for (const auto &[s, n] : hash) hash_sum += mix(n) ^ s.size(); // order-independent
    sum += hash_sum;
    // plain new/delete, arrays, over-aligned types (aligned new/delete)
    std::vector<CacheLine *> lines;
    for (unsigned i = 0; i < 1000; i++) {
        auto *c = new CacheLine{};
        if (reinterpret_cast<uintptr_t>(c) % alignof(CacheLine)) fail("new CacheLine misaligned");
        c->words[7] = i;
        lines.push_back(c);
    }
    for (auto *c : lines) {
        sum += c->words[7];
        delete c;
    }
    auto *pages = new Page[8];
    if (reinterpret_cast<uintptr_t>(pages) % alignof(Page)) fail("new Page[] misaligned");
    pages[7].bytes[4095] = 7;
    sum += pages[7].bytes[4095];
    delete[] pages;
    auto *ints = new int[100000]();
    for (int i = 0; i < 100000; i++) sum += static_cast<uint64_t>(ints[i]);
    delete[] ints;
    // a linked list of owning pointers, torn down recursively
    std::unique_ptr<Node> head;
    for (unsigned i = 0; i < 2000; i++) {
        auto n = std::make_unique<Node>();
        n->name = "node" + std::to_string(i);
        n->values.assign(i % 50, static_cast<int>(i));
        n->next = std::move(head);
        head = std::move(n);
    }
    for (Node *n = head.get(); n; n = n->next.get()) sum += n->name.size() + n->values.size();
    while (head) head = std::move(head->next);
    if (thread_name != "thread-" + std::to_string(seed)) fail("thread_local string lost");
    return sum;
}

} // namespace

int main() {
    uint64_t total = work(1);
    // Threads whose thread_local objects are destroyed when they exit.
    for (int round = 0; round < 3; round++) {
        uint64_t results[4] = {};
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < 4; t++)
            threads.emplace_back([t, round, &results] { results[t] = work(10 + round * 4 + t); });
        for (auto &t : threads) t.join();
        for (auto r : results) total += r;
    }
    for (unsigned i = 0; i < 5000; i++)
        global_index["key" + std::to_string(i % 700)].push_back(std::string(i % 100, 'x'));
    std::printf("cxx_new: checksum %016llx, %zu index keys\n", static_cast<unsigned long long>(total),
                global_index.size());
    return 0;
}
