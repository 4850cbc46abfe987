// Runs the example module built with atomics (shared memory) on several
// Node worker threads at once, to exercise the platform's spin lock: each
// worker allocates, verifies and frees blocks through the one heap, with
// a stack of its own. The main thread checks every result and walks the
// heap at the end. Usage: node threads.mjs path/to/atomics/module.wasm
// Prints one line per check and a PASS line; exits non-zero on failure.
import { readFile } from 'node:fs/promises';
import { argv, exit } from 'node:process';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const WORKERS = 4;
const ROUNDS = 300;
const STACK = 256 * 1024;

// The byte sum of blocks_checksum(n, size) (the module's pattern).
function expectedChecksum(n, size) {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const len = size + (i % 17);
    for (let j = 0; j < len; j++) sum = (sum + ((i * 31 + j * 7) & 0xff)) >>> 0;
  }
  return sum;
}

// The (n, size) of round r of worker w: sizes from small to direct mappings.
function run(w, r) {
  const sizes = [16, 200, 1000, 5000, 40000, 300000];
  const size = sizes[(w + r) % sizes.length];
  return [Math.max(1, Math.floor(200000 / size)), size];
}

if (isMainThread) {
  const module = await WebAssembly.compile(await readFile(argv[2]));
  if (!WebAssembly.Module.imports(module).some((i) => i.kind === 'memory')) {
    console.log('FAIL the module does not import a (shared) memory: build it with atomics');
    exit(1);
  }
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 1024, shared: true });
  const { exports: m } = await WebAssembly.instantiate(module, { env: { memory } });
  // Each worker's stack: a block of this heap (the stack grows down).
  const stacks = [];
  for (let w = 0; w < WORKERS; w++) {
    const base = m.try_alloc(STACK) >>> 0;
    if (base === 0) exit(1);
    stacks.push((base + STACK) & ~15);
  }
  const results = await Promise.all(stacks.map((stackTop, w) => new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { module, memory, stackTop, w } });
    worker.once('message', resolve);
    worker.once('error', reject);
  })));
  let ok = true;
  for (const { w, bad, rounds } of results) {
    console.log(`${bad === 0 ? 'ok  ' : 'FAIL'} worker ${w}: ${rounds} rounds, ${bad} wrong checksum(s)`);
    ok &&= bad === 0 && rounds === ROUNDS;
  }
  const clean = m.heap_check() === 1;
  console.log(`${clean ? 'ok  ' : 'FAIL'} heap_check after the workers`);
  if (!ok || !clean) exit(1);
  console.log(`PASS threads: ${WORKERS} workers x ${ROUNDS} rounds on one heap (spin lock), footprint ${m.footprint() >>> 0} bytes`);
} else {
  const { module, memory, stackTop, w } = workerData;
  const { exports: m } = await WebAssembly.instantiate(module, { env: { memory } });
  m.__stack_pointer.value = stackTop;
  let bad = 0;
  let rounds = 0;
  for (let r = 0; r < ROUNDS; r++, rounds++) {
    const [n, size] = run(w, r);
    if ((m.blocks_checksum(n, size) >>> 0) !== expectedChecksum(n, size)) bad++;
  }
  parentPort.postMessage({ w, bad, rounds });
}
