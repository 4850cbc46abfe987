#!/usr/bin/env node
// Runs `run(n)` once in each size-comparison module given on the command
// line (wasm32-unknown-unknown, no imports) and checks that every result
// equals the checksum computed here the same way as common.rs.
// Prints "name checksum" per module; exits 1 on a trap or a mismatch.
// Usage: node check.mjs N a.wasm [b.wasm ...]
import { readFileSync } from "node:fs";
import { basename } from "node:path";

const [n, ...files] = [Number(process.argv[2]), ...process.argv.slice(3)];

// common.rs's run(n), in u32 arithmetic.
function expected(n) {
    const v = [];
    for (let i = 0; i < n; i++) v.push(Math.imul(i, 2654435761) >>> 0);
    let s = "";
    for (let i = 0; i < n; i++) {
        s += String.fromCharCode(97 + (i % 26));
        if (i % 10 === 9) s += " word ";
    }
    const m = new Map();
    v.forEach((k, i) => m.set(k, i));
    for (let i = 0; i < n; i += 2) m.delete(v[i]);
    let sum = m.size >>> 0;
    for (const k of [...m.keys()].sort((a, b) => a - b)) {
        sum = (Math.imul(sum, 31) + ((k ^ m.get(k)) >>> 0)) >>> 0;
    }
    for (let j = 0; j < s.length; j++) sum = (Math.imul(sum, 31) + s.charCodeAt(j)) >>> 0;
    return sum;
}

const want = expected(n);
let failed = false;
for (const file of files) {
    const name = basename(file, ".wasm");
    try {
        const { instance } = await WebAssembly.instantiate(readFileSync(file), {});
        const got = instance.exports.run(n) >>> 0;
        console.log(`${name} ${got}`);
        if (got !== want) {
            console.error(`check: ${name}: run(${n}) = ${got}, expected ${want}`);
            failed = true;
        }
    } catch (e) {
        console.error(`check: ${name}: ${e}`);
        failed = true;
    }
}
process.exit(failed ? 1 : 0);
