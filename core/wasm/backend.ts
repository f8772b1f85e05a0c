/**
 * Loads the WebAssembly SIMD kernels (core/wasm/kernels.as, embedded base64 in kernels.generated.ts)
 * and runs them on typed arrays: operands are copied into the module's linear memory, the kernel
 * runs, and the result is copied out into a fresh typed array the caller owns.
 *
 * Loading is synchronous on first use (`new WebAssembly.Module`), which Node always allows. Browsers
 * refuse synchronous compilation of modules over 4 KB on the main thread; the module is kept under
 * that (see KERNELS_WASM_BYTES), and `wasmReady()` compiles asynchronously for when it is not.
 * Wherever WebAssembly or SIMD is missing the kernels report unavailable and callers use the
 * TypeScript reference kernels.
 */
import type { Data, DType } from "../tensor.js";
import { ArgumentError } from "../errors.js";
import { KERNELS_WASM_BASE64 } from "./kernels.generated.js";

interface KernelExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  workBytesF32(): number;
  workBytesF64(): number;
  matmulF32(a: number, b: number, c: number, M: number, K: number, N: number, batches: number, aMap: number, bMap: number, work: number): void;
  matmulF64(a: number, b: number, c: number, M: number, K: number, N: number, batches: number, aMap: number, bMap: number, work: number): void;
}

/** Which kernels run: `'auto'` uses WebAssembly where it pays, `'ts'` forces the reference, `'wasm'` forces WebAssembly. */
export type KernelBackend = "auto" | "ts" | "wasm";

function initialBackend(): KernelBackend {
  const env = typeof process === "object" && process !== null ? process.env?.SEQGRAD_KERNELS : undefined;
  return env === "ts" || env === "wasm" ? env : "auto";
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

/** Whether a matmul of `work` multiply-adds should try WebAssembly under the current choice. */
export function matmulPrefersWasm(work: number): boolean {
  return backend === "wasm" || (backend === "auto" && work >= WASM_MATMUL_MIN_WORK);
}

const PAGE = 65536;
/** Linear memory this backend will grow to at most; larger problems fall back to TypeScript. */
const MAX_MEMORY_BYTES = 2 ** 31;
const ALIGN = 64;

let kernels: KernelExports | null = null;
let loadError: unknown = undefined;
let tried = false;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
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

function instantiate(module: WebAssembly.Module): KernelExports {
  return new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
}

function load(): KernelExports | null {
  if (tried) return kernels;
  tried = true;
  try {
    if (typeof WebAssembly !== "object") throw new Error("WebAssembly is not available");
    kernels = instantiate(new WebAssembly.Module(decodeBase64(KERNELS_WASM_BASE64)));
  } catch (e) {
    loadError = e;
    kernels = null;
  }
  return kernels;
}

/** Compiles the kernels asynchronously (use in browsers before the first big matmul); resolves to whether they loaded. */
export async function wasmReady(): Promise<boolean> {
  if (kernels) return true;
  try {
    const module = await WebAssembly.compile(decodeBase64(KERNELS_WASM_BASE64));
    kernels = instantiate(module);
    tried = true;
    loadError = undefined;
  } catch (e) {
    loadError = e;
  }
  return kernels !== null;
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

/** Current size of the kernels' linear memory in bytes (0 when not loaded). */
export function wasmMemoryBytes(): number {
  return kernels ? kernels.memory.buffer.byteLength : 0;
}

const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** Grows linear memory to at least `bytes`; false when that is over the cap or the engine refuses. */
function ensureMemory(k: KernelExports, bytes: number): boolean {
  if (bytes > MAX_MEMORY_BYTES) return false;
  const have = k.memory.buffer.byteLength;
  if (bytes <= have) return true;
  try {
    k.memory.grow(Math.ceil((bytes - have) / PAGE));
    return true;
  } catch {
    return false;
  }
}

/** Whether batch b uses A batch b and every batch the same B batch, with A's batches starting at 0. */
function foldsIntoRows(aBatch: Int32Array, bBatch: Int32Array, batches: number): boolean {
  const b0 = bBatch[0];
  for (let i = 0; i < batches; i++) if (aBatch[i] !== i || bBatch[i] !== b0) return false;
  return true;
}

/**
 * Batched matmul C[b] = A[aBatch[b]] @ B[bBatch[b]] in WebAssembly (A [*, M, K], B [*, K, N], row-major);
 * returns null when the kernels are unavailable or the problem does not fit in linear memory.
 */
export function matmulWasm(
  a: Data, b: Data, M: number, K: number, N: number,
  batches: number, aBatch: Int32Array, bBatch: Int32Array, dtype: DType,
): Data | null {
  const k = load();
  if (!k) return null;
  const f32 = dtype === "float32";
  const bytesPer = f32 ? 4 : 8;
  const work = alignUp(k.heapBase());
  const aPtr = alignUp(work + (f32 ? k.workBytesF32() : k.workBytesF64()));
  const bPtr = alignUp(aPtr + a.length * bytesPer);
  const cPtr = alignUp(bPtr + b.length * bytesPer);
  const cLen = batches * M * N;
  const aMapPtr = alignUp(cPtr + cLen * bytesPer);
  const bMapPtr = alignUp(aMapPtr + batches * 4);
  const end = bMapPtr + batches * 4;
  if (!ensureMemory(k, end)) return null;
  const buf = k.memory.buffer;
  if (f32) {
    new Float32Array(buf, aPtr, a.length).set(a);
    new Float32Array(buf, bPtr, b.length).set(b);
  } else {
    new Float64Array(buf, aPtr, a.length).set(a);
    new Float64Array(buf, bPtr, b.length).set(b);
  }
  // [..., M, K] @ [K, N] (every batch of A, in order, against one B) is one [batches·M, K] @ [K, N]:
  // B is packed once and the micro-kernel runs on taller panels. Each entry's sum is unchanged.
  let rows = M;
  let calls = batches;
  if (batches > 1 && foldsIntoRows(aBatch, bBatch, batches)) {
    rows = batches * M;
    calls = 1;
  }
  new Int32Array(buf, aMapPtr, batches).set(aBatch.subarray(0, batches));
  new Int32Array(buf, bMapPtr, batches).set(bBatch.subarray(0, batches));
  if (f32) {
    k.matmulF32(aPtr, bPtr, cPtr, rows, K, N, calls, aMapPtr, bMapPtr, work);
    return new Float32Array(buf, cPtr, cLen).slice();
  }
  k.matmulF64(aPtr, bPtr, cPtr, rows, K, N, calls, aMapPtr, bMapPtr, work);
  return new Float64Array(buf, cPtr, cLen).slice();
}
