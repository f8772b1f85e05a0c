/**
 * Float32 elementwise kernels in WebAssembly SIMD (core/wasm/elementwise.as): exp, sigmoid and tanh, the
 * transcendental part of LSTM/GRU gate math, and the whole gate math of one LSTM step and of one
 * reset-after GRU step (forward and backward) in one call each, and add, sub, mul, div, maximum and minimum
 * over equal shapes, a scalar or a row repeated over leading axes. Operands are copied into the module's memory once and each result out once
 * into a fresh Float32Array. Accuracy of exp/sigmoid/tanh against the correctly rounded value (which is
 * what the TypeScript reference kernels return): ELEMENTWISE_MAX_ULPS, tested in tests/core/wasm.test.ts.
 * The step kernels use those same functions and otherwise the reference's float64 arithmetic, so they equal
 * the TypeScript kernels of core/kernels-fused.ts bit for bit when those run on the WebAssembly
 * activations (tests/core/kernels-fused.test.ts). The binary ops equal core/kernels.ts binary bit for bit: a float32
 * +, -, × or ÷ evaluated in float64 and rounded to float32 is the float32 operation (53 >= 2·24 + 2), and
 * maximum/minimum select an operand as the reference does (tests/core/wasm.test.ts).
 */
import { ELEMENTWISE_SMALL_WASM_BASE64, ELEMENTWISE_WASM_BASE64 } from "./kernels.generated.js";
import { decodeBase64, view, wasmChosenFor } from "./backend.js";
import { ArgumentError } from "../errors.js";
import { copyData, type Data } from "../tensor.js";

/** The ops the elementwise module computes. */
export type WasmUnaryOp = "exp" | "sigmoid" | "tanh";

const OPS: Record<WasmUnaryOp, number> = { exp: 0, sigmoid: 1, tanh: 2 };

/**
 * Largest distance, in float32 steps (ulps; 2^-149 where the result is subnormal), of each op from the
 * correctly rounded value. Measured maxima over every 997th float32 bit pattern (4.3 million inputs):
 * exp 1, sigmoid 3, tanh 1; the bounds leave one step for inputs that sweep missed.
 */
export const ELEMENTWISE_MAX_ULPS: Readonly<Record<WasmUnaryOp, number>> = { exp: 2, sigmoid: 4, tanh: 2 };

/**
 * Smallest float32 array worth copying into WebAssembly for exp/sigmoid/tanh under 'auto': measured
 * (CPU time, this machine) 0.6-1.1x the TypeScript kernels at 4-32 elements, 1.1-1.8x at 64 and
 * 2.4-3.3x at 256; 4-8x from 4096 up.
 */
export const ELEMENTWISE_WASM_MIN_SIZE = 256;

/** Whether `unary(op)` on n float32 values should use unaryWasm under the current kernel choice (setKernelBackend). */
export function unaryPrefersWasm(op: string, n: number): op is WasmUnaryOp {
  if (op !== "exp" && op !== "sigmoid" && op !== "tanh") return false;
  return wasmChosenFor(n, ELEMENTWISE_WASM_MIN_SIZE);
}

/**
 * Smallest input (values) of a sum over a middle axis worth copying into WebAssembly under 'auto' (both dtypes).
 * Measured against core/kernels.ts sumMiddle, same process, best of 5: 1.1-1.4x the time at 512 values, 0.6-0.9x at
 * 2048-4096, 0.3-0.5x from 16K up (`[32, 512]`, the LSTM bias gradient at H = 128: 7.1 against 14.8 µs).
 */
export const SUM_WASM_MIN_SIZE = 2048;

/** Whether a sum over a middle axis of n values should use sumMiddleWasm under the current kernel choice (setKernelBackend). */
export function sumPrefersWasm(n: number): boolean {
  return wasmChosenFor(n, SUM_WASM_MIN_SIZE);
}

/** The binary ops the elementwise module computes (core/kernels.ts binary's semantics, bit for bit). */
export type WasmBinaryOp = "add" | "sub" | "mul" | "div" | "maximum" | "minimum";

const BINARY_OPS: Record<WasmBinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5 };

/**
 * Smallest float32 output worth copying into WebAssembly for a binary op under 'auto'. Measured with
 * `bench/wasm-matmul.ts --binary` (CPU time, TypeScript ÷ WebAssembly, the six ops): equal shapes 0.6-0.9x at 64
 * values, 1.1-1.2x at 128, 1.0-1.4x at 256, 1.6-2.0x at 512 and 2.6-4.3x at 4096-16384; a row over a batch
 * ([n/64, 64] + [64], which the reference first materialises) 1.5-1.9x from 64 up, 3.4-4.9x at 4096-16384.
 */
export const BINARY_WASM_MIN_SIZE = 256;
let binaryMinSize = BINARY_WASM_MIN_SIZE;

/** Sets the binary threshold (output values; default BINARY_WASM_MIN_SIZE, Infinity for never), for benchmarks that compare both paths; returns the previous one. */
export function setBinaryWasmMinSize(n: number): number {
  if (!(n >= 0)) throw new ArgumentError("setBinaryWasmMinSize", "n", `must be a number >= 0, got ${String(n)}`);
  const previous = binaryMinSize;
  binaryMinSize = n;
  return previous;
}

/** Whether `binary(op)` with n float32 outputs should use binaryWasm under the current kernel choice (setKernelBackend). */
export function binaryPrefersWasm(op: string, n: number): op is WasmBinaryOp {
  return Object.hasOwn(BINARY_OPS, op) && n > 0 && wasmChosenFor(n, binaryMinSize);
}

interface Exports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  unaryF32(op: number, x: number, y: number, n: number): void;
  repackF32(src: number, dst: number, rows: number, w: number, from: number, to: number): void;
  lstmForwardF32(z: number, cPrev: number, a: number, c: number, tc: number, B: number, Hp: number): void;
  lstmBackwardF32(dA: number, dC: number, gates: number, tc: number, cPrev: number, B: number, Hp: number): void;
  gruResetAfterForwardF32(zx: number, za: number, a: number, B: number, Hp: number): void;
  gruResetAfterBackwardF32(dNext: number, acts: number, za: number, a: number, B: number, Hp: number): void;
  binaryF32(op: number, a: number, b: number, y: number, rows: number, cols: number, aRow: number, bRow: number, aStep: number, bStep: number): void;
  /** The full build's; a no-op in the small one. */
  softmaxRowsF32(z: number, p: number, ms: number, rows: number, V: number): void;
  /** The full build's; a no-op in the small one. */
  sumMiddle(x: number, y: number, outer: number, n: number, inner: number, f64: number): void;
}

let k: Exports | null = null;
let tried = false;
let small = false;

/**
 * Compiles the full module, or where that is refused (a browser's main thread compiles at most 4096 bytes
 * synchronously) the small one, which lacks only the softmax kernel.
 */
function load(): Exports | null {
  if (tried) return k;
  tried = true;
  const instance = (base64: string): Exports => new WebAssembly.Instance(new WebAssembly.Module(decodeBase64(base64)), {}).exports as unknown as Exports;
  try {
    k = instance(ELEMENTWISE_WASM_BASE64);
  } catch {
    try {
      k = instance(ELEMENTWISE_SMALL_WASM_BASE64);
      small = true;
    } catch {
      k = null;
    }
  }
  return k;
}

/** Whether the small elementwise build was loaded (no softmax kernel: softmax cross-entropy runs in TypeScript). */
export function elementwiseSmallBuild(): boolean {
  load();
  return small;
}

/** Whether the elementwise WebAssembly kernels loaded. */
export function elementwiseWasmAvailable(): boolean {
  return load() !== null;
}

/** y = op(x) elementwise for float32 x (exp, sigmoid(x) = 1/(1+e^-x), tanh); null when WebAssembly is unavailable. */
export function unaryWasm(op: WasmUnaryOp, x: Float32Array): Float32Array | null {
  const e = load();
  if (!e) return null;
  const n = x.length;
  const ptrs = layout(e, [n, n]);
  if (!ptrs) return null;
  const [xPtr, yPtr] = ptrs as [number, number];
  const buf = e.memory.buffer;
  new Float32Array(buf, xPtr, n).set(x);
  e.unaryF32(OPS[op], xPtr, yPtr, n);
  return copyData(new Float32Array(buf, yPtr, n)) as Float32Array;
}

/** How an operand of binaryWasm covers the `[rows, cols]` output: every value once, one row of cols repeated for every row, or one value. */
export type BinaryLayout = "full" | "row" | "scalar";

let binaryCalls = 0;

/**
 * Softmax rows of float32 z `[rows, V]` (V >= 4) for softmax cross-entropy, as core/kernels-fused.ts
 * softmaxCrossEntropyForward computes them when its exp runs in WebAssembly: p, and per row the shift m and
 * the sum s (as `ms`: m, s for each row), bit for bit. Null where the kernel is not loaded (the small build).
 */
export function softmaxRowsWasm(z: Float32Array, rows: number, V: number): { p: Float32Array; ms: Float64Array } | null {
  const e = load();
  if (!e || small || V < 4) return null;
  const n = rows * V;
  // one vector more for z and p: the last row's last vector reaches up to 3 values past them
  const ptrs = layout(e, [n + 4, n + 4, 4 * rows]);
  if (!ptrs) return null;
  const [zPtr, pPtr, msPtr] = ptrs as [number, number, number];
  new Float32Array(e.memory.buffer, zPtr, n).set(z);
  e.softmaxRowsF32(zPtr, pPtr, msPtr, rows, V);
  const buf = e.memory.buffer;
  return { p: copyData(new Float32Array(buf, pPtr, n)) as Float32Array, ms: new Float64Array(buf, msPtr, 2 * rows).slice() };
}

let sumCalls = 0;

/**
 * x viewed as `[outer, n, inner]` summed over its middle axis, `[outer, inner]`, as core/kernels.ts sumMiddle computes
 * it (each output a float64 sum in order, rounded once): the same bits, for float32 or float64 x. Null where the kernel
 * is not loaded (the small build) or the memory cannot grow.
 */
export function sumMiddleWasm(x: Data, outer: number, n: number, inner: number): Data | null {
  const e = load();
  if (!e || small) return null;
  const f64 = x instanceof Float64Array, m = outer * inner, dtype = f64 ? "float64" : "float32";
  // layout counts float32 slots: two per float64
  const ptrs = layout(e, f64 ? [2 * x.length, 2 * m] : [x.length, m]);
  if (!ptrs) return null;
  const [px, py] = ptrs as [number, number];
  const buf = e.memory.buffer;
  view(buf, px, x.length, dtype).set(x);
  e.sumMiddle(px, py, outer, n, inner, f64 ? 1 : 0);
  sumCalls++;
  return copyData(view(buf, py, m, dtype));
}

/** How many sums sumMiddleWasm has computed (tests check which path ran). */
export function wasmSumCount(): number {
  return sumCalls;
}

/** How many binary ops binaryWasm has computed (tests check which path ran). */
export function wasmBinaryCount(): number {
  return binaryCalls;
}

/**
 * y = a op b for float32 operands laid out over a `[rows, cols]` output as `aLayout`, `bLayout` say; the same
 * values as core/kernels.ts binary bit for bit (NaN payloads aside); null when WebAssembly is unavailable.
 */
export function binaryWasm(op: WasmBinaryOp, a: Float32Array, aLayout: BinaryLayout, b: Float32Array, bLayout: BinaryLayout, rows: number, cols: number): Float32Array | null {
  const e = load();
  if (!e) return null;
  const n = rows * cols;
  const ptrs = layout(e, [storedLength(aLayout, n, cols), storedLength(bLayout, n, cols), n]);
  if (!ptrs) return null;
  const [pa, pb, py] = ptrs as [number, number, number];
  putOperand(e, pa, a, aLayout);
  putOperand(e, pb, b, bLayout);
  // a full operand advances a row per row and a vector per vector; a row only the vector; a scalar neither
  const aRow = aLayout === "full" ? cols * 4 : 0, bRow = bLayout === "full" ? cols * 4 : 0;
  e.binaryF32(BINARY_OPS[op], pa, pb, py, rows, cols, aRow, bRow, aLayout === "scalar" ? 0 : 16, bLayout === "scalar" ? 0 : 16);
  binaryCalls++;
  return copyData(new Float32Array(e.memory.buffer, py, n)) as Float32Array;
}

// Module-level rather than closures in binaryWasm: a closure is allocated at every call (and tsx's keepNames
// wraps each in a defineProperty), which cost more than the whole kernel at a few hundred values.
const storedLength = (l: BinaryLayout, n: number, cols: number): number => (l === "full" ? n : l === "row" ? cols : 4);

/** Copies an operand of binaryWasm to byte offset p: a scalar fills the whole vector that is read for every vector. */
function putOperand(e: Exports, p: number, x: Float32Array, l: BinaryLayout): void {
  if (l === "scalar") new Float32Array(e.memory.buffer, p, 4).fill(x[0]!);
  else new Float32Array(e.memory.buffer, p, x.length).set(x);
}

/**
 * Byte offsets, 64-aligned above heapBase, of consecutive float32 regions of the given lengths, growing the
 * memory to hold them; null when it cannot grow. Each region extends to a multiple of 64 bytes, which the
 * kernels rely on: they run whole 4-lane vectors, reading and writing up to 3 values past a region's length.
 */
function layout(e: Exports, lengths: readonly number[]): number[] | null {
  const ptrs: number[] = [];
  let p = Math.ceil(e.heapBase() / 64) * 64;
  for (const n of lengths) {
    ptrs.push(p);
    p += Math.ceil((n * 4) / 64) * 64;
  }
  const have = e.memory.buffer.byteLength;
  if (p > have) {
    try {
      e.memory.grow(Math.ceil((p - have) / 65536));
    } catch {
      return null;
    }
  }
  return ptrs;
}

/**
 * Copies x `[B, k·H]` into memory at byte offset p with each H-wide block padded to Hp columns: one set()
 * when H = Hp (the common case), else one set() into the staging region and one repack inside WebAssembly
 * (a JavaScript subarray per row costs more than the kernel).
 */
function put(e: Exports, p: number, stage: number, x: Float32Array, rows: number, H: number, Hp: number): void {
  new Float32Array(e.memory.buffer, H === Hp ? p : stage, x.length).set(x);
  if (H !== Hp) e.repackF32(stage, p, rows, H, H, Hp);
}

/** The inverse of put: `rows` blocks of H columns of a padded region, as a fresh array. */
function take(e: Exports, p: number, stage: number, rows: number, H: number, Hp: number): Float32Array {
  if (H !== Hp) e.repackF32(p, stage, rows, H, Hp, H);
  return copyData(new Float32Array(e.memory.buffer, H === Hp ? p : stage, rows * H)) as Float32Array;
}

/**
 * One LSTM step forward in one call, as core/kernels-fused.ts lstmForward for float32: z `[B, 4H]`,
 * c_prev `[B, H]` give a, c, tc = tanh(c) `[B, H]` and gates `[B, 4H]` = Γu, Γf, c̃, Γo; null when
 * WebAssembly is unavailable.
 */
export function lstmForwardWasm(z: Float32Array, cPrev: Float32Array, B: number, H: number): { a: Float32Array; c: Float32Array; gates: Float32Array; tc: Float32Array } | null {
  const e = load();
  if (!e) return null;
  const Hp = (H + 3) & ~3, n = B * Hp;
  const ptrs = layout(e, [4 * n, n, n, n, n, H === Hp ? 0 : 4 * B * H]);
  if (!ptrs) return null;
  const [pz, pc0, pa, pc, pt, ps] = ptrs as [number, number, number, number, number, number];
  put(e, pz, ps, z, 4 * B, H, Hp);
  put(e, pc0, ps, cPrev, B, H, Hp);
  e.lstmForwardF32(pz, pc0, pa, pc, pt, B, Hp);
  return { a: take(e, pa, ps, B, H, Hp), c: take(e, pc, ps, B, H, Hp), gates: take(e, pz, ps, 4 * B, H, Hp), tc: take(e, pt, ps, B, H, Hp) };
}

/**
 * Backward of lstmForwardWasm in one call, as core/kernels-fused.ts lstmBackward for float32: from dA, dC,
 * tc, c_prev `[B, H]` and gates `[B, 4H]`, dz `[B, 4H]` and dc_prev `[B, H]`; null when WebAssembly is unavailable.
 */
export function lstmBackwardWasm(
  dA: Float32Array, dC: Float32Array, gates: Float32Array, tc: Float32Array, cPrev: Float32Array, B: number, H: number,
): { dz: Float32Array; dcPrev: Float32Array } | null {
  const e = load();
  if (!e) return null;
  const Hp = (H + 3) & ~3, n = B * Hp;
  const ptrs = layout(e, [n, n, 4 * n, n, n, H === Hp ? 0 : 4 * B * H]);
  if (!ptrs) return null;
  const [pa, pd, pg, pt, pc, ps] = ptrs as [number, number, number, number, number, number];
  put(e, pa, ps, dA, B, H, Hp);
  put(e, pd, ps, dC, B, H, Hp);
  put(e, pg, ps, gates, 4 * B, H, Hp);
  put(e, pt, ps, tc, B, H, Hp);
  put(e, pc, ps, cPrev, B, H, Hp);
  e.lstmBackwardF32(pa, pd, pg, pt, pc, B, Hp);
  return { dz: take(e, pg, ps, 4 * B, H, Hp), dcPrev: take(e, pd, ps, B, H, Hp) };
}

/**
 * One reset-after GRU step forward in one call, as core/kernels-fused.ts gruResetAfterForward for float32:
 * zx, za `[B, 3H]` and a `[B, H]` give next `[B, H]` and acts `[B, 3H]` = r, u, n; null when WebAssembly is unavailable.
 */
export function gruResetAfterForwardWasm(zx: Float32Array, za: Float32Array, a: Float32Array, B: number, H: number): { next: Float32Array; acts: Float32Array } | null {
  const e = load();
  if (!e) return null;
  const Hp = (H + 3) & ~3, n = B * Hp;
  const ptrs = layout(e, [3 * n, 3 * n, n, H === Hp ? 0 : 3 * B * H]);
  if (!ptrs) return null;
  const [px, pz, pa, ps] = ptrs as [number, number, number, number];
  put(e, px, ps, zx, 3 * B, H, Hp);
  put(e, pz, ps, za, 3 * B, H, Hp);
  put(e, pa, ps, a, B, H, Hp);
  e.gruResetAfterForwardF32(px, pz, pa, B, Hp);
  return { next: take(e, pa, ps, B, H, Hp), acts: take(e, px, ps, 3 * B, H, Hp) };
}

/**
 * Backward of gruResetAfterForwardWasm in one call, as core/kernels-fused.ts gruResetAfterBackward for float32:
 * from dA' `[B, H]`, acts and za `[B, 3H]` and a, dzx and dza `[B, 3H]` and da `[B, H]`; null when WebAssembly is unavailable.
 */
export function gruResetAfterBackwardWasm(
  dNext: Float32Array, acts: Float32Array, za: Float32Array, a: Float32Array, B: number, H: number,
): { dzx: Float32Array; dza: Float32Array; da: Float32Array } | null {
  const e = load();
  if (!e) return null;
  const Hp = (H + 3) & ~3, n = B * Hp;
  const ptrs = layout(e, [n, 3 * n, 3 * n, n, H === Hp ? 0 : 3 * B * H]);
  if (!ptrs) return null;
  const [pd, pg, pz, pa, ps] = ptrs as [number, number, number, number, number];
  put(e, pd, ps, dNext, B, H, Hp);
  put(e, pg, ps, acts, 3 * B, H, Hp);
  put(e, pz, ps, za, 3 * B, H, Hp);
  put(e, pa, ps, a, B, H, Hp);
  e.gruResetAfterBackwardF32(pd, pg, pz, pa, B, Hp);
  return { dzx: take(e, pg, ps, 3 * B, H, Hp), dza: take(e, pz, ps, 3 * B, H, Hp), da: take(e, pd, ps, B, H, Hp) };
}
