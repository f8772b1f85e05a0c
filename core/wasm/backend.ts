/**
 * Loads the WebAssembly SIMD kernels (core/wasm/kernels.as, embedded base64 in kernels.generated.ts)
 * and runs them on typed arrays: operands are copied into the module's linear memory, the kernel
 * runs, and the result is copied out into a fresh typed array the caller owns. A float32 B operand the
 * caller marks as reused (`reuseB`: an immutable weight operand passed again at every time step) is the
 * exception: it is packed into micro-panels once, kept in a resident region of linear memory keyed by
 * the identity of its array, and later calls with the same array skip both the copy and the packing
 * (WASM_RESIDENT_BYTES; the region is emptied when full). Results are bit-for-bit those of packing anew.
 *
 * Loading is synchronous on first use (`new WebAssembly.Module`), which Node always allows. Browsers
 * refuse synchronous compilation of modules over 4 KB on the main thread; there a small single-thread build
 * (KERNELS_SMALL_WASM_BYTES, at most 4096; it lacks only zero-step skipping) is loaded instead, and
 * `wasmReady()` compiles the full one asynchronously and swaps it in.
 * Where the engine supports relaxed SIMD, a build whose float32 micro-kernel fuses each multiply-add is
 * loaded instead (about twice the float32 throughput on FMA hardware; float64 is never fused).
 * Wherever WebAssembly or SIMD is missing the kernels report unavailable and callers use the
 * TypeScript reference kernels.
 *
 * Two threads: in Node, where shared WebAssembly memory and worker_threads exist, the kernels run on a
 * shared memory and a large matmul is split in two parts (columns, or rows when C is tall), one
 * computed here and one by a helper worker running the same module on the same memory, woken and
 * awaited with Atomics. Every entry is summed exactly as in one thread, so results do not depend on the
 * split. Anywhere else (browsers without cross-origin isolation, `setKernelThreads(1)`) one thread runs.
 */
import { allocData, copyData, type Data, type DType } from "../tensor.js";
import { ArgumentError } from "../errors.js";
import {
  KERNELS_FMA_WASM_BASE64, KERNELS_SHARED_FMA_WASM_BASE64, KERNELS_SHARED_MAX_PAGES, KERNELS_SHARED_WASM_BASE64,
  KERNELS_SMALL_FMA_WASM_BASE64, KERNELS_SMALL_WASM_BASE64, KERNELS_WASM_BASE64,
} from "./kernels.generated.js";

/** Returns the multiply-adds it left out (float32; undefined from float64, which never skips). */
type PartFn = (
  a: number, b: number, c: number, M: number, K: number, N: number, batches: number,
  aMap: number, bMap: number, work: number, i0: number, i1: number, j0: number, j1: number, packedB: number, skip: number,
  transA: number,
) => number | undefined;

/**
 * A matmul operand as the kernels take it: one buffer, or row blocks that stack in order to the operand
 * (`concat(parts, 0)`, copied into linear memory block by block with no concatenated copy in between).
 */
export type Operand = Data | readonly Data[];

/** How many values an operand holds. */
export const operandLength = (x: Operand): number => {
  if (!Array.isArray(x)) return (x as Data).length;
  let n = 0;
  for (const p of x as readonly Data[]) n += p.length;
  return n;
};

/** Writes an operand's values into `to` from its start, block after block. */
const setOperand = (to: Data, x: Operand): void => {
  if (!Array.isArray(x)) return to.set(x as Data);
  let at = 0;
  for (const p of x as readonly Data[]) {
    to.set(p, at);
    at += p.length;
  }
};

/** The operand as one buffer: itself, or its blocks concatenated (for code that needs one array). */
export const operandData = (x: Operand, dtype: DType): Data => {
  if (!Array.isArray(x)) return x as Data;
  const parts = x as readonly Data[];
  if (parts.length === 1) return parts[0]!;
  const out = allocData(dtype, operandLength(parts));
  setOperand(out, parts);
  return out;
};

interface KernelExports {
  heapBase(): number;
  workBytesF32(): number;
  workBytesF64(): number;
  matmulPartF32: PartFn;
  /** Ignores packedB and skip (float64 always packs B itself and never skips). */
  matmulPartF64: PartFn;
  /** Returns 1 when every value it packed is finite. */
  packB32(dst: number, b: number, ldb: number, kc: number, nc: number, steps: number): number;
}

/** A loaded module: its exports, its memory, and (shared memory only) a helper thread once started. */
interface Engine {
  readonly k: KernelExports;
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  /** Whether float32 multiply-adds are fused (the relaxed-SIMD build). */
  readonly fused: boolean;
  /** Whether this is the small single-thread build (no zero-step skipping) that `wasmReady()` replaces. */
  readonly small: boolean;
  readonly module: WebAssembly.Module;
  helper: Helper | null;
}

// ---------------------------------------------------------------------------------------------
// Choices

/** Which kernels run: `'auto'` uses WebAssembly where it pays, `'ts'` forces the reference, `'wasm'` forces WebAssembly. */
export type KernelBackend = "auto" | "ts" | "wasm";

const env = (name: string): string | undefined =>
  typeof process === "object" && process !== null ? process.env?.[name] : undefined;

function initialBackend(): KernelBackend {
  const v = env("SEQGRAD_KERNELS");
  return v === "ts" || v === "wasm" ? v : "auto";
}
let backend: KernelBackend = initialBackend();

/** Chooses the kernels (default `'auto'`, or the SEQGRAD_KERNELS environment variable); returns the previous choice. */
export function setKernelBackend(choice: KernelBackend): KernelBackend {
  if (choice !== "auto" && choice !== "ts" && choice !== "wasm")
    throw new ArgumentError("setKernelBackend", "choice", `must be 'auto', 'ts' or 'wasm', got ${String(choice)}`);
  const previous = backend;
  backend = choice;
  return previous;
}

/** The current kernel choice. */
export function getKernelBackend(): KernelBackend {
  return backend;
}

/**
 * Smallest matmul (batches * M * K * N multiply-adds) worth copying into WebAssembly under 'auto'.
 * Measured with `bench/wasm-matmul.ts --crossover`: WebAssembly is 0.3-0.9x the TypeScript loop at
 * 8-64 multiply-adds, 0.9-1.8x at 256, and 1.2-2x from 512 up (both dtypes, square and skinny shapes).
 */
export const WASM_MATMUL_MIN_WORK = 512;

/** Whether a kernel call of `size` (elements or multiply-adds) should try WebAssembly: always under 'wasm', never under 'ts', from `autoMin` under 'auto'. */
export function wasmChosenFor(size: number, autoMin: number): boolean {
  return backend === "wasm" || (backend === "auto" && size >= autoMin);
}

/** Whether a matmul of `work` multiply-adds should try WebAssembly under the current choice. */
export function matmulPrefersWasm(work: number): boolean {
  return wasmChosenFor(work, WASM_MATMUL_MIN_WORK);
}

function initialThreads(): 1 | 2 {
  const v = env("SEQGRAD_THREADS");
  if (v === "1") return 1;
  if (v === "2") return 2;
  const os = nodeBuiltin<{ availableParallelism?: () => number }>("node:os");
  return os?.availableParallelism && os.availableParallelism() >= 2 ? 2 : 1;
}
let threads: 1 | 2 | undefined;

/** Threads a large WebAssembly matmul may use: 2 (default where the machine has 2+ cores, or SEQGRAD_THREADS) or 1; returns the previous value. */
export function setKernelThreads(n: 1 | 2): 1 | 2 {
  if (n !== 1 && n !== 2) throw new ArgumentError("setKernelThreads", "n", `must be 1 or 2, got ${String(n)}`);
  const previous = getKernelThreads();
  threads = n;
  return previous;
}

/** The current thread count for WebAssembly matmul (1 or 2). */
export function getKernelThreads(): 1 | 2 {
  return (threads ??= initialThreads());
}

/**
 * Smallest matmul (multiply-adds) split across two threads: waking the helper and waiting for it costs
 * tens of microseconds (45-90 µs on the 2-core VM of the README's figures). There, with the 4 x 8 kernel,
 * `npx tsx bench/ab.ts --knob threads --a 1 --b 2` and `bench/wasm-matmul.ts --threads` put the break-even
 * near 2.5M for products whose B is resident (a weight) and near 4M where B is copied in: a 128³ or
 * 32×128×512 product (2.1M) ran 0.91-1.04× as fast split. The threshold sits between the two, and splits
 * above it are still judged as they run (below) and stop where they do not pay. Raising it from 2^20 took
 * 0.94× the time at 128³, 0.90× at 32×128×512 and 0.97× (quartiles 0.91-1.05) for the H = 128 LSTM step
 * (`bench/ab.ts --knob split-min-work`).
 */
export const WASM_SPLIT_MIN_WORK = 5 << 19;
let splitMinWork = WASM_SPLIT_MIN_WORK;

/** Sets the split threshold (multiply-adds; default WASM_SPLIT_MIN_WORK), for benchmarks and tests; returns the previous one. */
export function setWasmSplitMinWork(work: number): number {
  if (!(work >= 0)) throw new ArgumentError("setWasmSplitMinWork", "work", `must be a number >= 0, got ${String(work)}`);
  const previous = splitMinWork;
  splitMinWork = work;
  return previous;
}

let skipZeroSteps = env("SEQGRAD_SKIP_ZERO_STEPS") !== "0";

/**
 * Whether float32 matmul leaves out the k-steps where a whole micro-panel of A is zero (default on;
 * SEQGRAD_SKIP_ZERO_STEPS=0 turns it off); returns the previous setting. Results are the same bit for bit
 * either way (core/wasm/kernels.as, gemm32); only the time differs.
 */
export function setWasmSkipZeroSteps(on: boolean): boolean {
  const previous = skipZeroSteps;
  skipZeroSteps = on;
  return previous;
}

let skippedMacs = 0;
let f32Macs = 0;

/** Multiply-adds float32 WebAssembly matmuls were asked for (macs) and how many of them zero-step skipping left out (for benchmarks). */
export function wasmSkipStats(): { skippedMacs: number; macs: number } {
  return { skippedMacs, macs: f32Macs };
}

// ---------------------------------------------------------------------------------------------
// Loading

const PAGE = 65536;
/** Linear memory this backend will grow to at most; larger problems fall back to TypeScript. */
const MAX_MEMORY_BYTES = KERNELS_SHARED_MAX_PAGES * PAGE;
const ALIGN = 64;

let engine: Engine | null = null;
let loadError: unknown = undefined;
let tried = false;

function nodeBuiltin<T>(id: string): T | undefined {
  const p = typeof process === "object" && process !== null ? (process as { getBuiltinModule?: (id: string) => unknown }) : undefined;
  try {
    return p?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined;
  }
}

/** Decodes standard base64 (no Buffer or atob needed, so it runs the same in Node and browsers). */
export function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const table = new Int8Array(128).fill(-1);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < 64; i++) table[alphabet.charCodeAt(i)] = i;
  let len = s.length;
  while (len > 0 && s[len - 1] === "=") len--;
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < len; i++) {
    const v = table[s.charCodeAt(i)]!;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/**
 * Builds an engine from the fused (relaxed-SIMD) build where this engine validates and compiles it
 * (Node 22+, current browsers), else from the plain SIMD build. SEQGRAD_FMA=0 refuses the fused build.
 */
function fusedOrPlain<T>(plain: string, fused: string, make: (bytes: Uint8Array<ArrayBuffer>, fused: boolean) => T): T {
  if (env("SEQGRAD_FMA") !== "0") {
    const bytes = decodeBase64(fused);
    if (WebAssembly.validate(bytes)) {
      try {
        return make(bytes, true);
      } catch {
        // fall through to the plain build
      }
    }
  }
  return make(decodeBase64(plain), false);
}

function singleEngine(module: WebAssembly.Module, fused: boolean, small = false): Engine {
  const exports = new WebAssembly.Instance(module, {}).exports as unknown as KernelExports & { memory: WebAssembly.Memory };
  return { k: exports, memory: exports.memory, shared: false, fused, small, module, helper: null };
}

/** The shared-memory engine, when this runtime can also start a worker on it (Node). */
function sharedEngine(): Engine | null {
  if (typeof SharedArrayBuffer !== "function" || !nodeBuiltin("node:worker_threads")) return null;
  try {
    return fusedOrPlain(KERNELS_SHARED_WASM_BASE64, KERNELS_SHARED_FMA_WASM_BASE64, (bytes, fused) => {
      const module = new WebAssembly.Module(bytes);
      const memory = new WebAssembly.Memory({ initial: 1, maximum: KERNELS_SHARED_MAX_PAGES, shared: true });
      const k = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
      return { k, memory, shared: true, fused, small: false, module, helper: null };
    });
  } catch {
    return null;
  }
}

function load(): Engine | null {
  if (tried) return engine;
  tried = true;
  try {
    if (typeof WebAssembly !== "object") throw new Error("WebAssembly is not available");
    engine = sharedEngine() ?? singleEngineNow();
  } catch (e) {
    loadError = e;
    engine = null;
  }
  return engine;
}

/**
 * The single-thread engine, compiled synchronously: the full build where the engine allows it (Node), else
 * the small one without zero-step skipping (a browser's main thread compiles at most 4096 bytes this way).
 */
function singleEngineNow(): Engine {
  const compile = (small: boolean) => (bytes: Uint8Array<ArrayBuffer>, fused: boolean): Engine => singleEngine(new WebAssembly.Module(bytes), fused, small);
  try {
    return fusedOrPlain(KERNELS_WASM_BASE64, KERNELS_FMA_WASM_BASE64, compile(false));
  } catch {
    return fusedOrPlain(KERNELS_SMALL_WASM_BASE64, KERNELS_SMALL_FMA_WASM_BASE64, compile(true));
  }
}

/**
 * Compiles the kernels asynchronously (use in browsers before the first big matmul), replacing the small
 * build a synchronous load fell back to with the full one; resolves to whether they loaded.
 */
export async function wasmReady(): Promise<boolean> {
  // a small engine has no helper and no product in flight, so it can be swapped out between calls
  if (engine && !engine.small) return true;
  try {
    const compile = async (b64: string, fused: boolean): Promise<Engine> => singleEngine(await WebAssembly.compile(decodeBase64(b64)), fused);
    const fusedOk = env("SEQGRAD_FMA") !== "0" && WebAssembly.validate(decodeBase64(KERNELS_FMA_WASM_BASE64));
    engine =
      sharedEngine() ??
      (fusedOk ? await compile(KERNELS_FMA_WASM_BASE64, true).catch(() => null) : null) ??
      (await compile(KERNELS_WASM_BASE64, false));
    tried = true;
    loadError = undefined;
  } catch (e) {
    // keep a small engine already loaded
    if (!engine) loadError = e;
  }
  return engine !== null;
}

/** Whether the WebAssembly kernels are loaded (loading them synchronously on first call). */
export function wasmAvailable(): boolean {
  return load() !== null;
}

/** Why the WebAssembly kernels failed to load, or undefined. */
export function wasmLoadError(): unknown {
  load();
  return loadError;
}

/** Whether the loaded kernels are the small build without zero-step skipping (until `wasmReady()` replaces it). */
export function wasmSmallBuild(): boolean {
  return load()?.small ?? false;
}

/** Whether the loaded float32 matmul fuses multiply-adds (relaxed SIMD); float64 never does. */
export function wasmFusedMultiplyAdd(): boolean {
  return load()?.fused ?? false;
}

/** Current size of the kernels' linear memory in bytes (0 when not loaded). */
export function wasmMemoryBytes(): number {
  return engine ? engine.memory.buffer.byteLength : 0;
}

let splits = 0;

/** How many matmuls have been split across two threads so far (for tests and benchmarks). */
export function wasmSplitCount(): number {
  return splits;
}

/**
 * Whether a large matmul can run on two threads here (shared memory and a helper worker): starts the
 * helper if needed and waits up to `timeoutMs` for it to be ready. Until it is, matmuls run on one thread.
 */
export function wasmThreadsAvailable(timeoutMs = 10_000): boolean {
  const e = load();
  const h = e && e.shared ? helperOf(e) : null;
  if (!h) return false;
  Atomics.wait(h.ctrl, CTRL_READY, 0, timeoutMs);
  return Atomics.load(h.ctrl, CTRL_READY) === 1;
}

const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** Grows linear memory to at least `bytes`; false when that is over the cap or the engine refuses. */
function ensureMemory(e: Engine, bytes: number): boolean {
  if (bytes > MAX_MEMORY_BYTES) return false;
  const have = e.memory.buffer.byteLength;
  if (bytes <= have) return true;
  try {
    e.memory.grow(Math.ceil((bytes - have) / PAGE));
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The helper thread

// Control block (a SharedArrayBuffer): Int32 [0] job number posted, [1] job number finished, [2] 1 if
// the finished job threw, [3] 1 once the helper has instantiated the module; Float64 [2..20] the job:
// dtype bits, then matmulPart's 16 arguments, then (written by the helper) the ms it computed and what it returned.
const CTRL_POSTED = 0;
const CTRL_DONE = 1;
const CTRL_FAILED = 2;
const CTRL_READY = 3;
const CTRL_ARGS = 2; // Float64 index (byte 16)
/** Float64 slots after the Int32 header: dtype bits, 17 arguments, the helper's ms, the result. */
const CTRL_SLOTS = 20;
/** Longest wait for the helper before the caller computes the helper's part itself and stops using it. */
const HELPER_TIMEOUT_MS = 60_000;

const HELPER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, ctrl } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const c = new Int32Array(ctrl, 0, 4);
const a = new Float64Array(ctrl, 16, ${CTRL_SLOTS});
Atomics.store(c, 3, 1);
Atomics.notify(c, 3);
let seen = 0;
for (;;) {
  while (Atomics.load(c, 0) === seen) Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  let failed = 0;
  const t0 = performance.now();
  try {
    a[${CTRL_SLOTS - 1}] = (a[0] === 32 ? k.matmulPartF32 : k.matmulPartF64)(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17]) ?? 0;
  } catch (e) {
    failed = 1;
  }
  a[${CTRL_SLOTS - 2}] = performance.now() - t0;
  Atomics.store(c, 2, failed);
  Atomics.store(c, 1, seen);
  Atomics.notify(c, 1);
}
`;

interface Helper {
  readonly ctrl: Int32Array;
  readonly args: Float64Array;
  readonly worker: { terminate(): unknown; unref(): void };
  job: number;
}

interface WorkerCtor {
  new (code: string, options: { eval: true; workerData: unknown }): { terminate(): unknown; unref(): void; on(event: string, f: () => void): unknown };
}

let helperFailed = false;

/** The helper worker of a shared engine, started on first use; null when it cannot run. */
function helperOf(e: Engine): Helper | null {
  if (e.helper || helperFailed || !e.shared) return e.helper;
  const wt = nodeBuiltin<{ Worker: WorkerCtor }>("node:worker_threads");
  if (!wt) return null;
  try {
    const sab = new SharedArrayBuffer(16 + CTRL_SLOTS * 8);
    const worker = new wt.Worker(HELPER_SOURCE, { eval: true, workerData: { module: e.module, memory: e.memory, ctrl: sab } });
    worker.on("error", () => {
      helperFailed = true;
    });
    worker.unref(); // a parked helper never keeps the process alive
    e.helper = { ctrl: new Int32Array(sab, 0, 4), args: new Float64Array(sab, 16, CTRL_SLOTS), worker, job: 0 };
  } catch {
    helperFailed = true;
  }
  return e.helper;
}

function postPart(h: Helper, bits: number, args: readonly number[]): void {
  h.args[0] = bits;
  for (let i = 0; i < args.length; i++) h.args[i + 1] = args[i]!;
  h.job++;
  Atomics.store(h.ctrl, CTRL_POSTED, h.job);
  Atomics.notify(h.ctrl, CTRL_POSTED);
}

/** How long the helper's finished job computed, in ms. */
function partMs(h: Helper): number {
  return h.args[CTRL_SLOTS - 2]!;
}

/** What the helper's finished job returned (multiply-adds a float32 part left out, else 0). */
function partResult(h: Helper): number {
  return h.args[CTRL_SLOTS - 1]!;
}

/** Waits for the helper's current job; false if it failed or timed out (the helper is then retired). */
function awaitPart(e: Engine, h: Helper): boolean {
  const deadline = Date.now() + HELPER_TIMEOUT_MS;
  for (;;) {
    const done = Atomics.load(h.ctrl, CTRL_DONE);
    if (done === h.job) return Atomics.load(h.ctrl, CTRL_FAILED) === 0;
    const left = deadline - Date.now();
    if (left <= 0) {
      // Retire the helper and this engine's memory: should the helper still be running, it can only
      // write into memory that no later call uses.
      helperFailed = true;
      e.helper = null;
      void h.worker.terminate();
      engine = null;
      tried = false;
      return false;
    }
    Atomics.wait(h.ctrl, CTRL_DONE, done, left);
  }
}

// ---------------------------------------------------------------------------------------------
// Whether splitting pays, judged from the splits themselves
//
// On a machine whose cores are busy with other work the helper may wait for a core while this thread
// waits for the helper, and two threads are slower than one. After each split, the time this thread
// spent on its half (mine) and then waiting for the helper's (wait) tell: one thread would have taken
// about 2·mine, two took mine + wait, so the split paid if wait < 0.8·mine. Each split that did not
// pay doubles how many large matmuls of its size class then run on one thread before splitting is tried
// again (up to 64); one that paid resets it. Small and large splits are judged apart (WASM_SPLIT_LARGE_WORK):
// the cost of waking the helper is fixed, so per-step products of a recurrent cell can stop paying on a busy
// machine while a weight gradient of 200M multiply-adds still halves, and one judgement for both would keep
// the large products on one thread whenever the small ones back off.

const now = (): number => (typeof performance === "object" ? performance.now() : Date.now());
const MAX_BACKOFF = 64;

/** Splits of this many multiply-adds or more are judged apart from smaller ones. */
export const WASM_SPLIT_LARGE_WORK = 1 << 24;
const backoff = [0, 0];
const skipped = [0, 0];
const sizeClass = (work: number): 0 | 1 => (work >= WASM_SPLIT_LARGE_WORK ? 1 : 0);

/** Whether a large matmul of `work` multiply-adds should split; counts the ones of its class that run on one thread while backing off. */
function splitPays(work: number): boolean {
  const k = sizeClass(work);
  if (backoff[k] === 0) return true;
  if (skipped[k]! < backoff[k]!) {
    skipped[k]!++;
    return false;
  }
  skipped[k] = 0;
  return true;
}

/** Records one split's timings (ms this thread computed, ms it then waited) for splits of `work` multiply-adds' class; exported for tests. */
export function judgeSplit(mineMs: number, waitMs: number, work = 0): void {
  const k = sizeClass(work);
  skipped[k] = 0;
  backoff[k] = waitMs < 0.8 * mineMs ? 0 : Math.min(MAX_BACKOFF, Math.max(1, backoff[k]! * 2));
}

/** Resets the judgement of whether splitting pays (tests and benchmarks that force splits call it). */
export function resetSplitJudgement(): void {
  backoff.fill(0);
  skipped.fill(0);
  for (const r of rates) r.main = r.helper = r.touch = 0;
}

// How a split is shared. After its part this thread allocates C's output array and writes it once, so that its
// fresh pages fault in while the helper is still computing (measured here: a fresh 1 MB array costs 2-3 ms of
// page faults, as much as half a 512³ product on one thread), and copies C into it once the helper is done.
// So this thread takes less than half the columns: the share that makes both finish together, from the rates
// the last splits ran at (multiply-adds per ms on each thread, output bytes per ms for the touch). Where the
// helper is slowed by other work its rate falls and its share with it. Any cut gives the same sums. Small and
// large products keep their own rates, as they keep their own judgement: a recurrent step's products run at
// a lower rate than a 512³ one.
const rates = [
  { main: 0, helper: 0, touch: 0 },
  { main: 0, helper: 0, touch: 0 },
];

/**
 * This thread's share of a split's columns (or rows) such that `share·work/main + bytes/touch` equals
 * `(1 − share)·work/helper`: rates in multiply-adds (bytes) per ms, 0 for unknown (then the rates are taken
 * equal and the touch free). Between 0.1 and 0.9; exported for tests.
 */
export function splitShare(work: number, bytes: number, r: { main: number; helper: number; touch: number }): number {
  if (!(r.main > 0 && r.helper > 0)) return 0.5;
  const tMain = work / r.main, tHelper = work / r.helper, tTouch = r.touch > 0 ? bytes / r.touch : 0;
  return Math.min(0.9, Math.max(0.1, (tHelper - tTouch) / (tMain + tHelper)));
}

/** @internal Sets the split rates of both size classes (tests that force uneven cuts). */
export function setSplitRates(r: { main: number; helper: number; touch: number }): void {
  for (const c of rates) Object.assign(c, r);
}

/** Folds one split's measured rates into the running ones of its size class (half the weight each time: the machine drifts). */
function recordRates(work: number, mainRate: number, helperRate: number, touchRate: number): void {
  const fold = (old: number, x: number): number => (!(x > 0) || !Number.isFinite(x) ? old : old > 0 ? (old + x) / 2 : x);
  const r = rates[sizeClass(work)]!;
  r.main = fold(r.main, mainRate);
  r.helper = fold(r.helper, helperRate);
  r.touch = fold(r.touch, touchRate);
}

// ---------------------------------------------------------------------------------------------
// Packed B operands kept in linear memory across calls
//
// An LSTM step multiplies by the same weight operand (one Data array cached per weight tensor) at every
// time step. The caller says so with `reuseB`; the first such call packs B into micro-panels in a
// resident region of linear memory, and later calls with the same Data object (and the same engine,
// shape and region epoch) run on those panels without copying or packing B again. Keying on the
// object is sound only because such operands are never written after they are made (tensors and the
// arrays cached from them are immutable); callers must not pass `reuseB` for anything else.
//
// Layout from heapBase: two work areas (this thread's, the helper's), the resident region, then the
// per-call buffers (A, B, C, batch maps). The helper only reads the region, and only during a call, so
// nothing it does overlaps a write here. A full region is emptied at once (a new epoch): a training step
// packs each weight operand once, so the next ones start over.

/**
 * Bytes of linear memory kept for packed, reused B operands (float32); larger operands are not kept.
 * 8 MiB holds one packed weight operand of an LSTM with H = 512 (4.7 MB forward, 4.3 MB backward).
 */
export const WASM_RESIDENT_BYTES = 8 << 20;
/** float32 micro-panel width and K block of kernels.as (NR32, KC32); a packed K block pc starts pc·(N + 7) floats in. */
const NR32 = 8;
/** float64 micro-panel width of kernels.as (NR64). */
const NR64 = 4;
const KC32 = 256;

interface Resident {
  readonly engine: Engine;
  readonly epoch: number;
  readonly ptr: number;
  readonly K: number;
  readonly N: number;
  /** Whether every value of B is finite (packB32's result), which zero-step skipping needs. */
  readonly finite: boolean;
}
const resident = new WeakMap<Data, Resident>();
let residentEngine: Engine | null = null;
let residentEpoch = 0;
let residentUsed = 0;
let residentHits = 0;
let residentPacks = 0;

/** How many float32 matmuls ran on resident packed B panels (hits) and how many packed one there (for tests and benchmarks). */
export function wasmResidentStats(): { hits: number; packs: number; bytesUsed: number } {
  return { hits: residentHits, packs: residentPacks, bytesUsed: residentUsed };
}

/** Empties the resident region (every later call packs its B again); for tests and benchmarks. */
export function resetWasmResident(): void {
  residentEpoch++;
  residentUsed = 0;
}

const packedBytes = (K: number, N: number): number => alignUp(K * (N + NR32 - 1) * 4);

/** The resident panels of b [K, N] in engine e, or undefined. */
function residentOf(e: Engine, b: Data, K: number, N: number): Resident | undefined {
  const r = resident.get(b);
  return r !== undefined && r.engine === e && r.epoch === residentEpoch && r.K === K && r.N === N ? r : undefined;
}

/** Where in the region to pack K x N panels now (starting a new epoch when full), or -1 when they cannot be kept. */
function residentSlot(e: Engine, base: number, K: number, N: number): number {
  const bytes = packedBytes(K, N);
  if (bytes > WASM_RESIDENT_BYTES) return -1;
  if (residentEngine !== e || residentUsed + bytes > WASM_RESIDENT_BYTES) {
    residentEngine = e;
    resetWasmResident();
  }
  const ptr = base + residentUsed;
  residentUsed += bytes;
  return ptr;
}

// ---------------------------------------------------------------------------------------------
// matmul

/** This thread's and the helper's work areas and the resident region, from heapBase up (one layout for every call). */
function areas(e: Engine): { work0: number; work1: number; region: number } {
  const workBytes = Math.max(e.k.workBytesF32(), e.k.workBytesF64());
  const work0 = alignUp(e.k.heapBase());
  const work1 = alignUp(work0 + workBytes);
  return { work0, work1, region: alignUp(work1 + workBytes) };
}

/** A view of `n` values of `dtype` at byte `ptr` of linear memory, to copy operands in and results out. */
export function view(buf: ArrayBufferLike, ptr: number, n: number, dtype: DType): Data {
  return dtype === "float32" ? new Float32Array(buf, ptr, n) : new Float64Array(buf, ptr, n);
}

/** Copies an operand into linear memory at byte `ptr`, block after block. */
function put(buf: ArrayBufferLike, ptr: number, x: Operand, dtype: DType): void {
  setOperand(view(buf, ptr, operandLength(x), dtype), x);
}

/** Whether batch b uses A batch b and every batch the same B batch, with A's batches starting at 0. */
function foldsIntoRows(aBatch: Int32Array, bBatch: Int32Array, batches: number): boolean {
  const b0 = bBatch[0];
  for (let i = 0; i < batches; i++) if (aBatch[i] !== i || bBatch[i] !== b0) return false;
  return true;
}

/**
 * Batched matmul C[b] = A[aBatch[b]] @ B[bBatch[b]] in WebAssembly (A [*, M, K], B [*, K, N], row-major);
 * returns null when the kernels are unavailable or the problem does not fit in linear memory. `reuseB`:
 * the caller promises `b` is never written again and will be passed again (a cached weight operand), so
 * a float32 B of one [K, N] matrix is packed once into resident memory and reused by later calls.
 * `transA`: each A batch is stored transposed, [K, M] row-major (C = Aᵀ B with A as stored); the kernel packs
 * the same panels from it, so C is bit for bit the product with a transposed copy.
 */
export function matmulWasm(
  a: Operand, b: Operand, M: number, K: number, N: number,
  batches: number, aBatch: Int32Array, bBatch: Int32Array, dtype: DType, reuseB = false, transA = false,
): Data | null {
  const e = load();
  if (!e) return null;
  const { k } = e;
  const f32 = dtype === "float32";
  const cLen = batches * M * N;
  // An empty sum: the kernels take K > 0.
  if (K === 0) return allocData(dtype, cLen);
  const bytesPer = f32 ? 4 : 8;
  const work = batches * M * K * N;
  // a product begun with matmulWasmStart keeps the helper (and its arena) until it is read
  const split = e.shared && getKernelThreads() === 2 && work >= splitMinWork && inFlight === null && splitPays(work);
  const { work0, work1, region } = areas(e);
  const aLen = operandLength(a), bLen = operandLength(b);
  const keep = reuseB && f32 && !Array.isArray(b) && bLen === K * N && M > 0 && N > 0;
  const hit = keep ? residentOf(e, b as Data, K, N) : undefined;
  const aPtr = alignUp(inFlight?.end ?? region + WASM_RESIDENT_BYTES);
  const bPtr = alignUp(aPtr + aLen * bytesPer);
  const cPtr = alignUp(bPtr + (hit ? 0 : bLen * bytesPer));
  const aMapPtr = alignUp(cPtr + cLen * bytesPer);
  const bMapPtr = alignUp(aMapPtr + batches * 4);
  const end = bMapPtr + batches * 4;
  if (!ensureMemory(e, end)) return null;
  const buf = e.memory.buffer;
  let packed = hit?.ptr ?? 0;
  let finite = hit?.finite ?? true;
  put(buf, aPtr, a, dtype);
  if (!hit) put(buf, bPtr, b, dtype);
  if (keep && !hit) {
    const ptr = residentSlot(e, region, K, N);
    if (ptr >= 0) {
      for (let pc = 0; pc < K; pc += KC32) finite = k.packB32(ptr + pc * (N + NR32 - 1) * 4, bPtr + pc * N * 4, N, Math.min(KC32, K - pc), N, 0) === 1 && finite;
      resident.set(b as Data, { engine: e, epoch: residentEpoch, ptr, K, N, finite });
      residentPacks++;
      packed = ptr;
    }
  } else if (hit) residentHits++;
  new Int32Array(buf, aMapPtr, batches).set(aBatch.subarray(0, batches));
  new Int32Array(buf, bMapPtr, batches).set(bBatch.subarray(0, batches));
  // [..., M, K] @ [K, N] (every batch of A, in order, against one B) is one [batches·M, K] @ [K, N]:
  // B is packed once and the micro-kernel runs on taller panels. Each entry's sum is unchanged. (Not with
  // transposed A batches: their rows are not one after another.)
  let rows = M;
  let calls = batches;
  if (batches > 1 && !transA && foldsIntoRows(aBatch, bBatch, batches)) {
    rows = batches * M;
    calls = 1;
  }
  const part = f32 ? k.matmulPartF32 : k.matmulPartF64;
  // Packed-ahead panels are checked for finiteness once, when packed; B packed by the kernel is checked there.
  const skip = f32 && skipZeroSteps && (packed === 0 || finite) ? 1 : 0;
  if (f32) f32Macs += work;
  // A helper that is still starting (or failed to start) is not waited for: this thread does it all.
  const helper = split ? helperOf(e) : null;
  if (helper && Atomics.load(helper.ctrl, CTRL_READY) === 1) {
    // Split the dimension whose other operand is cheaper to pack twice: columns re-pack A, rows re-pack B.
    // Resident B panels are packed already, so a row split then packs nothing twice; both threads only read
    // all of B. That beats packing all of A twice unless A is much shorter than B is wide: with resident B,
    // rows took 0.87-0.93 of the time of columns at 192³-512³ and 384×256×512, 0.96 at 256×256×512, and
    // 1.04 at 32×576×2048, where each thread would stream 4.7 MB of panels to save packing 18K values.
    // Cut at a multiple of the micro-tile (8 or 4 columns, 4 rows) so neither part gains an edge tile
    // (and a column part of resident panels starts on a panel).
    const byCols = packed !== 0 ? 2 * rows < N : rows <= N;
    const step = byCols ? (f32 ? NR32 : NR64) : 4;
    const extent = byCols ? N : rows;
    const share = splitShare(work, cLen * bytesPer, rates[sizeClass(work)]!);
    const cut = Math.min(extent - step, Math.max(step, Math.round((extent * share) / step) * step));
    if (cut > 0 && cut < extent) {
      const [mine, theirs] = byCols
        ? [[0, rows, 0, cut], [0, rows, cut, N]]
        : [[0, cut, 0, N], [cut, rows, 0, N]];
      const common = [aPtr, bPtr, cPtr, rows, K, N, calls, aMapPtr, bMapPtr] as const;
      const tA = transA ? 1 : 0;
      postPart(helper, f32 ? 32 : 64, [...common, work1, ...theirs!, packed, skip, tA]);
      splits++;
      const t0 = now();
      skippedMacs += part(...common, work0, mine![0]!, mine![1]!, mine![2]!, mine![3]!, packed, skip, tA) ?? 0;
      const t1 = now();
      const out = allocData(dtype, cLen);
      out.fill(0); // fault its pages in now, while the helper computes
      const t2 = now();
      // If the helper failed or timed out, its part is computed here, in this thread's own work area.
      const helped = awaitPart(e, helper);
      const t3 = now();
      if (helped) skippedMacs += partResult(helper);
      else skippedMacs += part(...common, work0, theirs![0]!, theirs![1]!, theirs![2]!, theirs![3]!, packed, skip, tA) ?? 0;
      const mineShare = cut / extent;
      if (helped) recordRates(work, (work * mineShare) / (t1 - t0), (work * (1 - mineShare)) / partMs(helper), (cLen * bytesPer) / (t2 - t1));
      // one thread would have taken about its own part over its share, plus the touch; the judgement's rule
      // (paid if wait < 0.8·mine) is "two threads took under 0.9 of one", written for halves
      const one = (t1 - t0) / mineShare + (t2 - t1);
      judgeSplit(one / 2, t3 - t0 - one / 2, work);
      out.set(view(buf, cPtr, cLen, dtype));
      return out;
    }
  }
  skippedMacs += part(aPtr, bPtr, cPtr, rows, K, N, calls, aMapPtr, bMapPtr, work0, 0, rows, 0, N, packed, skip, transA ? 1 : 0) ?? 0;
  return copyData(view(buf, cPtr, cLen, dtype));
}

// ---------------------------------------------------------------------------------------------
// A product begun on the helper thread and read later
//
// A recurrent network's weight gradient is one large product per chunk of time steps (autograd's deferred
// outer sums), and nothing else in the backward pass waits for it until the gradient is read at the end. So
// the helper can compute it while this thread goes on with the backward pass of the earlier steps. The
// operands are copied into an arena just above the resident region, which later calls lay their own buffers
// above (the helper is the only writer of the arena's C until the product is read), and while the product is
// in flight this thread splits nothing (the helper is busy). One product is in flight at a time: beginning
// another first reads the one before if the helper is done with it, and otherwise declines (the caller then
// computes the new one itself, which is better than waiting: two weights' chunks often fall due together).
// The helper computes the whole product with the same kernel and panels as one thread here, so the result is
// the one `matmulWasm` gives, bit for bit.

interface Started {
  readonly e: Engine;
  readonly helper: Helper;
  readonly a: Operand;
  readonly b: Operand;
  readonly M: number;
  readonly K: number;
  readonly N: number;
  readonly dtype: DType;
  readonly transA: boolean;
  readonly cPtr: number;
  /** First byte above the arena: later calls lay out their buffers from here while this one is in flight. */
  readonly end: number;
  c: Data | null;
}
let inFlight: Started | null = null;
let started = 0;

/** How many products have been begun on the helper thread (for tests and benchmarks). */
export function wasmStartedCount(): number {
  return started;
}

/** Waits for the product in flight and copies C out; computes it on this thread if the helper failed. */
function finish(s: Started): void {
  if (inFlight === s) inFlight = null;
  if (awaitPart(s.e, s.helper)) {
    // counted here, where the helper's product is read: if it failed, matmulWasm below counts its own
    if (s.dtype === "float32") f32Macs += s.M * s.K * s.N;
    skippedMacs += partResult(s.helper);
    const buf = s.e.memory.buffer;
    s.c = copyData(view(buf, s.cPtr, s.M * s.N, s.dtype));
  } else {
    const one = new Int32Array(1);
    s.c = matmulWasm(s.a, s.b, s.M, s.K, s.N, 1, one, one, s.dtype, false, s.transA);
  }
}

/**
 * Begins C = A @ B (A [M, K], B [K, N], row-major; `transA`: A stored as [K, M]) on the helper thread and
 * returns at once; `result()` waits for it and returns C (null when WebAssembly failed meanwhile: compute it
 * elsewhere). Null when no helper is free (one thread, no shared memory, a helper still starting or busy with
 * an earlier product) or the operands do not fit: compute it now.
 */
export function matmulWasmStart(a: Operand, b: Operand, M: number, K: number, N: number, dtype: DType, transA = false): { result(): Data | null } | null {
  const e = load();
  if (!e || !e.shared || getKernelThreads() !== 2 || K === 0 || M === 0 || N === 0) return null;
  const helper = helperOf(e);
  if (!helper || Atomics.load(helper.ctrl, CTRL_READY) !== 1) return null;
  // the helper still busy with the one before: this product is computed here, rather than waited for
  if (inFlight) {
    if (Atomics.load(helper.ctrl, CTRL_DONE) !== helper.job) return null;
    finish(inFlight);
  }
  const f32 = dtype === "float32";
  const bytesPer = f32 ? 4 : 8;
  const { work1, region } = areas(e);
  const aPtr = alignUp(region + WASM_RESIDENT_BYTES);
  const bPtr = alignUp(aPtr + operandLength(a) * bytesPer);
  const cPtr = alignUp(bPtr + operandLength(b) * bytesPer);
  const mapPtr = alignUp(cPtr + M * N * bytesPer);
  const end = mapPtr + 8;
  if (!ensureMemory(e, end)) return null;
  const buf = e.memory.buffer;
  put(buf, aPtr, a, dtype);
  put(buf, bPtr, b, dtype);
  new Int32Array(buf, mapPtr, 2).fill(0); // batch maps: the one A and the one B
  // B is packed by the kernel (no packedB), which checks it for finiteness itself
  const skip = f32 && skipZeroSteps ? 1 : 0;
  postPart(helper, f32 ? 32 : 64, [aPtr, bPtr, cPtr, M, K, N, 1, mapPtr, mapPtr + 4, work1, 0, M, 0, N, 0, skip, transA ? 1 : 0]);
  started++;
  const s: Started = { e, helper, a, b, M, K, N, dtype, transA, cPtr, end, c: null };
  inFlight = s;
  return {
    result: () => {
      if (s.c === null && inFlight === s) finish(s);
      return s.c;
    },
  };
}
