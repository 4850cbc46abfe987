#!/usr/bin/env -S node --no-warnings
// Runs a wasm32-wasip1 program under Node's WASI: the cargo runner of this
// workspace (.cargo/config.toml), so `cargo test --target wasm32-wasip1`
// and `cargo run --target wasm32-wasip1` work.
// Usage: run.mjs program.wasm [args...]; exits with the program's status.
import { readFile } from 'node:fs/promises';
import { argv, env, exit } from 'node:process';
import { WASI } from 'node:wasi';

const [program, ...args] = argv.slice(2);
const wasi = new WASI({
  version: 'preview1',
  args: [program, ...args],
  env,
  preopens: { '/': '/' },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
