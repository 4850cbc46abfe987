// Drives the wasm32-unknown-unknown module of this crate from Node and
// checks its results. Usage: node drive.mjs path/to/dlmalloc_wasm_example.wasm
// Prints one line per check; exits non-zero on the first failure.
import { readFile } from 'node:fs/promises';
import { argv, exit } from 'node:process';

const bytes = await readFile(argv[2]);
const module = await WebAssembly.compile(bytes);
const KiB = 1024;

// A new instance, and its memory. A module built with atomics and
// `--shared-memory --import-memory` (scripts/wasm.sh builds one) imports a
// shared memory from `env`; the default build has its own.
async function instantiate() {
  const imports = {};
  let memory;
  if (WebAssembly.Module.imports(module).some((i) => i.kind === 'memory')) {
    memory = new WebAssembly.Memory({ initial: 32, maximum: 1024, shared: true });
    imports.env = { memory };
  }
  const instance = await WebAssembly.instantiate(module, imports);
  return { ...instance.exports, memory: instance.exports.memory ?? memory };
}

function check(what, ok) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) exit(1);
}

// A small module stays small: the first block costs one 64 KiB segment,
// taken from the memory after __heap_base, so memory grows by at most one
// wasm page.
{
  const small = await instantiate();
  const pages = small.memory.buffer.byteLength / (64 * KiB);
  check('a 100-byte block in a fresh instance', small.try_alloc(100) !== 0);
  const fp = small.footprint() >>> 0;
  const grown = small.memory.buffer.byteLength / (64 * KiB) - pages;
  check(`its heap footprint is ${fp} bytes (64 KiB), memory grew by ${grown} wasm page(s)`,
    fp === 64 * KiB && grown <= 1);
}

const m = await instantiate();
const shared = m.memory.buffer instanceof SharedArrayBuffer;

// The same pattern and sizes as the module: the sum of every byte.
function expectedChecksum(n, size) {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const len = size + (i % 17);
    for (let j = 0; j < len; j++) sum = (sum + ((i * 31 + j * 7) & 0xff)) >>> 0;
  }
  return sum;
}

const pagesAtStart = m.memory.buffer.byteLength / (64 * KiB);
check(`memory starts small (${pagesAtStart} wasm pages)`, pagesAtStart <= 32);
for (const [n, size] of [[1, 1], [100, 24], [1000, 200], [300, 5000], [8, 300 * KiB]]) {
  const got = m.blocks_checksum(n, size) >>> 0;
  check(`blocks_checksum(${n}, ${size}) = ${got}`, got === expectedChecksum(n, size));
}
check('heap_check after the runs', m.heap_check() === 1);

// Someone else grows the memory (as JavaScript or another allocator may):
// the platform must leave those pages alone and continue after them.
const foreignPage = m.memory.grow(2) * 64 * KiB;
new Uint8Array(m.memory.buffer, foreignPage, 128 * KiB).fill(0xee);
const bigRun = m.blocks_checksum(40, 100 * KiB) >>> 0;
check(`blocks_checksum(40, ${100 * KiB}) after a grow from JavaScript`,
  bigRun === expectedChecksum(40, 100 * KiB));
check('the pages JavaScript grew are untouched',
  new Uint8Array(m.memory.buffer, foreignPage, 128 * KiB).every((b) => b === 0xee));
check('heap_check after the foreign grow', m.heap_check() === 1);

const footprint = m.footprint() >>> 0;
check(`footprint ${footprint} = bytes handed out ${m.handed_out() >>> 0}`, footprint === m.handed_out() >>> 0);
const start = m.heap_start() >>> 0;
check(`heap starts after __heap_base (${start}) and fits in memory`,
  start > 0 && start + footprint <= m.memory.buffer.byteLength);

const before = m.in_use() >>> 0;
const ptrs = [];
for (let i = 0; i < 100; i++) ptrs.push(m.try_alloc(1000) >>> 0);
check('100 blocks of 1000 bytes allocated', ptrs.every((p) => p !== 0 && p % 8 === 0));
const grew = (m.in_use() >>> 0) - before;
check(`in_use grew by ${grew} (100 x 1000 bytes plus headers)`, grew >= 100000 && grew <= 102400);
for (const p of ptrs) m.free_block(p, 1000);
check('in_use back after the frees', (m.in_use() >>> 0) === before);

// Memory cannot hold 3.5 GiB next to what the module has: null, no trap.
// (Through the C API: a GlobalAlloc layout cannot exceed 2 GiB on wasm32.)
check('raw_malloc(3.5 GiB) returns 0', m.raw_malloc(3.5 * 1024 * KiB * KiB) === 0);
check('footprint unchanged by the failed request', (m.footprint() >>> 0) === footprint);
check('heap_check at the end', m.heap_check() === 1);
console.log(`PASS wasm32-unknown-unknown${shared ? ' (atomics, shared memory)' : ''}: footprint ${footprint} bytes, memory ${m.memory.buffer.byteLength} bytes`);
