#!/usr/bin/env node
// Drives the speed modules (src/, one build per allocator) under Node:
//  - the native benchmark's pair, churn and realloc-churn workloads, with
//    its counts: one warm-up round, then ROUNDS timed rounds, each round
//    starting with a different allocator so drift of a shared machine
//    spreads over all; the median ns per step is kept. Every module must
//    return the same checksum (the tags it verified) as the others;
//  - the fixed-heap fill: each module again, with its memory capped at
//    FILL_MIB, allocating until the first null. The score is the peak of
//    live bytes over the heap (the capped memory above __heap_base, the
//    same for every module but for a few bytes of static data). A trap
//    instead of null is reported in the table.
// Prints the two Markdown tables on stdout, progress on stderr. The first
// module is ours: ratios are peer time / ours (above 1: ours is faster).
// Exits 1 on a failed check (a trap in a timed workload or in our own
// fill, or a checksum mismatch).
// --quick: a hundredth of the steps (at least 100) and at most 1000 live
// blocks, one timed round; it proves every workload runs and verifies, and
// its times mean nothing.
// Usage: node bench.mjs [--quick] [--rounds N] name=module.wasm ...
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";

// Compile every function with the optimising compiler at once: with the
// baseline compiler first, a workload's single long call would run in
// baseline code and only later calls in optimised code.
setFlagsFromString("--no-liftoff");

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const roundsAt = args.indexOf("--rounds");
const ROUNDS = quick ? 1 : roundsAt >= 0 ? Number(args[roundsAt + 1]) : 5;
const modules = args
    .filter((a, i) => a.includes("=") && args[i - 1] !== "--rounds")
    .map((a) => {
        const [name, file] = a.split("=");
        return { name, bytes: readFileSync(file) };
    });
if (modules.length < 2) {
    console.error("usage: node bench.mjs [--quick] [--rounds N] ours=a.wasm peer=b.wasm ...");
    process.exit(2);
}

// A run longer than this stops at its deadline (inside the module) and
// that allocator keeps the one round, as in the native runner.
const BUDGET_MS = quick ? 20000 : 1000;
const FILL_MIB = 16;
const KIB = 1024;

// The native benchmark's workloads (bench/harness/src/workloads.rs) that
// exist without threads, its step counts and, in a quick run, its scaling.
const steps = (full) => (quick ? Math.max(Math.floor(full / 100), 100) : full);
const liveOf = (live) => (quick ? Math.min(live, 1000) : live);
const size = (n) => (n >= KIB ? `${n / KIB} KiB` : `${n} B`);
const workloads = [];
for (const n of [16, 64, 256, KIB, 4 * KIB]) {
    workloads.push({
        name: `alloc/free pair, ${size(n)}`,
        run: (e, budget) => e.pairs(n, steps(1_000_000), budget),
    });
}
for (const [realloc, lo, hi, live] of [
    [false, 16, 128, 1000],
    [false, 16, KIB, 1000],
    [false, KIB, 64 * KIB, 1000],
    [true, 16, KIB, 1000],
    [true, KIB, 64 * KIB, 1000],
    [false, 16, KIB, 100_000],
    [true, 16, KIB, 100_000],
]) {
    const full = hi > 4096 ? 200_000 : live > 1000 ? 300_000 : 500_000;
    const what = realloc ? "realloc churn" : "churn";
    const fn = realloc ? "realloc_churn" : "churn";
    workloads.push({
        name: `${what} ${size(lo)}-${size(hi)}, ${live >= 1000 ? `${live / 1000}k` : live} live`,
        run: (e, budget) => e[fn](lo, hi, liveOf(live), steps(full), budget),
    });
}
const fills = [
    [16, KIB],
    [16, 4 * KIB],
    [KIB, 64 * KIB],
];

// The modules' one import: the clock their deadlines use (src/clock.rs).
const imports = { bench: { now_ms: () => performance.now() } };
// A fresh instance of a module (compiled once: the workloads take one
// instance each).
const compiled = new Map();
async function instantiate(bytes) {
    if (!compiled.has(bytes)) compiled.set(bytes, await WebAssembly.compile(bytes));
    return (await WebAssembly.instantiate(compiled.get(bytes), imports)).exports;
}

// The middle of the rounds' times (the mean of the two middle ones for an
// even count).
const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const CAPPED = 1, LEAKED = 2, TABLE_FULL = 4;
// A failed check is reported at once and fails the run at the end, after
// the tables.
let failed = false;
const fail = (msg) => {
    console.error(`bench: ${msg}`);
    failed = true;
};

// ---------------------------------------------------------------- speed

const started = performance.now();
const rows = [];
for (const w of workloads) {
    // A fresh instance per workload, so what one workload left in the
    // heap does not shape the next.
    const inst = await Promise.all(modules.map((m) => instantiate(m.bytes)));
    const cells = modules.map(() => ({ ns: [], note: "", sums: new Set(), dead: false }));
    for (let round = -1; round < ROUNDS; round++) {
        for (let k = 0; k < modules.length; k++) {
            const i = (k + round + 1) % modules.length;
            const cell = cells[i];
            if (cell.dead || cell.note.includes("capped")) continue;
            let sum, ns;
            try {
                const t0 = process.hrtime.bigint();
                sum = w.run(inst[i], BUDGET_MS) >>> 0;
                ns = Number(process.hrtime.bigint() - t0);
            } catch (e) {
                fail(`${modules[i].name} / ${w.name}: ${e}`);
                cell.dead = true;
                cell.note = "trap";
                continue;
            }
            const done = inst[i].last_steps();
            const flags = inst[i].last_flags();
            if (flags & LEAKED) cell.note = "leaked";
            if (flags & CAPPED) {
                // Keeps this round only, warm-up or not: later rounds
                // would stop at the deadline again.
                cell.note = `capped at ${done} steps`;
                cell.ns = [ns / done];
                continue;
            }
            cell.sums.add(sum);
            if (round >= 0) cell.ns.push(ns / done);
        }
    }
    const sums = new Set(cells.flatMap((c) => [...c.sums]));
    if (sums.size > 1) {
        fail(`${w.name}: checksums differ: ${modules.map((m, i) => `${m.name} ${[...cells[i].sums]}`).join(", ")}`);
    }
    rows.push({ name: w.name, cells: cells.map((c) => ({ ns: c.ns.length ? median(c.ns) : NaN, note: c.note })) });
    console.error(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] ${w.name}: checksum ${[...sums].join(", ")}`);
}

// ---------------------------------------------------------------- fill

// The module with its memory's maximum set to `pages`: the memory section
// (id 5) of a wasm binary holds one memory's limits, flags 0 (minimum
// only) or 1 (minimum and maximum), then LEB128 numbers.
function capMemory(bytes, pages) {
    const leb = (at) => {
        let value = 0, shift = 0, b;
        do {
            b = bytes[at++];
            value += (b & 0x7f) * 2 ** shift;
            shift += 7;
        } while (b & 0x80);
        return [value, at];
    };
    const enc = (n) => {
        const out = [];
        do {
            let b = n % 128;
            n = Math.floor(n / 128);
            if (n) b |= 0x80;
            out.push(b);
        } while (n);
        return out;
    };
    let at = 8; // magic and version
    while (at < bytes.length) {
        const id = bytes[at];
        const [len, body] = leb(at + 1);
        if (id === 5) {
            const [count, flagsAt] = leb(body);
            const flags = bytes[flagsAt];
            if (count !== 1 || flags > 1) throw new Error(`memory section: ${count} memories, flags ${flags}`);
            const [min] = leb(flagsAt + 1);
            if (min > pages) throw new Error(`memory minimum ${min} pages is above the cap ${pages}`);
            const section = [1, 1, ...enc(min), ...enc(pages)];
            return Buffer.concat([
                bytes.subarray(0, at),
                Buffer.from([5, ...enc(section.length), ...section]),
                bytes.subarray(body + len),
            ]);
        }
        at = body + len;
    }
    throw new Error("no memory section (an imported memory?)");
}

const LIMIT = FILL_MIB << 20;
const fillRows = [];
for (const [lo, hi] of fills) {
    const cells = [];
    for (const m of modules) {
        const e = await instantiate(capMemory(m.bytes, LIMIT / 65536));
        const heap = LIMIT - e.heap_base();
        try {
            const peak = e.fill(lo, hi);
            const note = [];
            if (e.last_flags() & TABLE_FULL) fail(`${m.name} / fill ${size(lo)}-${size(hi)}: table full`);
            const mem = e.memory.buffer.byteLength;
            if (mem < LIMIT) note.push(`memory ${(mem / (1 << 20)).toFixed(2)} MiB at null`);
            cells.push({ text: `${((100 * peak) / heap).toFixed(1)}%`, note });
        } catch (err) {
            if (m === modules[0]) fail(`${m.name} / fill ${size(lo)}-${size(hi)}: ${err}`);
            cells.push({ text: "trap", note: [`${err.message}`] });
        }
    }
    fillRows.push({ name: `${size(lo)}-${size(hi)}`, cells });
}
console.error(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] fixed-heap fills`);

// ---------------------------------------------------------------- tables

// Three significant digits or so.
const fmt = (ns) => (ns < 10 ? ns.toFixed(2) : ns < 100 ? ns.toFixed(1) : ns.toFixed(0));
// Footnotes for capped, leaked and trapped cells; mark returns the
// reference to put after the cell.
const notes = [];
const mark = (note) => {
    if (!note) return "";
    notes.push(note);
    return ` [${notes.length}]`;
};
const names = modules.map((m) => m.name);
if (quick) console.log("Quick run (--quick): a hundredth of the steps, one round; the times mean nothing.\n");
console.log(`| workload | ${names.map((n) => `${n} ns/step`).join(" | ")} |`);
console.log(`|---|${names.map(() => "---:").join("|")}|`);
for (const r of rows) {
    const cells = r.cells.map((c, i) => (Number.isNaN(c.ns) ? c.note : fmt(c.ns) + mark(c.note && `${names[i]}, ${r.name}: ${c.note}`)));
    console.log(`| ${r.name} | ${cells.join(" | ")} |`);
}
console.log();
const peers = names.slice(1);
console.log(`| peer time / ours (above 1: ours faster) | ${peers.join(" | ")} |`);
console.log(`|---|${peers.map(() => "---:").join("|")}|`);
const logs = peers.map(() => []);
for (const r of rows) {
    const ours = r.cells[0];
    const cells = r.cells.slice(1).map((c, j) => {
        const x = c.ns / ours.ns;
        if (!Number.isFinite(x)) return "-";
        logs[j].push(Math.log(x));
        return x.toFixed(2);
    });
    console.log(`| ${r.name} | ${cells.join(" | ")} |`);
}
const geo = logs.map((l) => Math.exp(l.reduce((a, b) => a + b, 0) / l.length).toFixed(2));
console.log(`| geometric mean, ${rows.length} workloads | ${geo.join(" | ")} |`);
console.log();
console.log(`| peak live / heap, fill of ${FILL_MIB} MiB, block sizes | ${names.join(" | ")} |`);
console.log(`|---|${names.map(() => "---:").join("|")}|`);
for (const r of fillRows) {
    const cells = r.cells.map((c, i) => c.text + mark(c.note.length && `${names[i]}, fill ${r.name}: ${c.note.join("; ")}`));
    console.log(`| ${r.name} | ${cells.join(" | ")} |`);
}
if (notes.length) {
    console.log();
    notes.forEach((n, i) => console.log(`${i + 1}. ${n}`));
}
console.error(`bench: ${((performance.now() - started) / 1000).toFixed(1)} s${failed ? ", FAILED" : ""}`);
process.exit(failed ? 1 : 0);
