/**
 * The immutable Tensor. Its data lives in a private typed array that only the kernel that created it
 * writes; nothing public hands that array out. `tensor()` copies what it is given, `toArray()` returns a
 * fresh nested copy, so no user-held reference can change a tensor after it exists.
 */

import { ArgumentError, ShapeError, fmtShape } from "./errors.js";
import { MAX_ELEMENTS, orThrow, sizeOf, validateShape, describe, optionsObject, type Shape } from "./shape.js";
import { hintAllocator } from "./allocator.js";

hintAllocator(); // once per process, before the first tensor: see core/allocator.ts

export type DType = "float32" | "float64";
export type Data = Float32Array | Float64Array;
/** A nested array of numbers (a number for rank 0). */
export type NestedArray = number | NestedArray[];

let nextId = 1;

/** Reads a tensor's data; internal to seqgrad (not exported from the package). Never write through it. */
export let dataOf: (t: Tensor) => Data;

/** An immutable n-dimensional array of float32 or float64 numbers. */
export class Tensor {
  /** Unique identity, used by the tape to find this value's cotangent. */
  readonly id: number;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly size: number;
  readonly #data: Data;

  static {
    dataOf = (t: Tensor) => t.#data;
  }

  /** @internal Use `tensor()`, `zeros()`... This constructor takes ownership of `data` without copying. */
  constructor(data: Data, shape: Shape, dtype: DType) {
    this.#data = data;
    this.shape = Object.freeze(shape.slice());
    this.dtype = dtype;
    this.size = data.length;
    this.id = nextId++;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** A fresh nested-array copy of the values (a plain number for a scalar). */
  toArray(): NestedArray {
    const d = this.#data;
    const shape = this.shape;
    if (shape.length === 0) return d[0]!;
    const build = (dim: number, offset: number, stride: number): NestedArray[] => {
      const n = shape[dim]!;
      const inner = stride / (n || 1);
      const out = new Array<NestedArray>(n);
      if (dim === shape.length - 1) for (let i = 0; i < n; i++) out[i] = d[offset + i]!;
      else for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * inner, inner);
      return out;
    };
    return build(0, 0, sizeOf(shape));
  }

  /** A fresh flat copy of the values, row-major, in this tensor's dtype. */
  toTypedArray(): Data {
    return this.#data.slice();
  }

  /** A fresh flat copy of the values as a plain number array. */
  toFlatArray(): number[] {
    return Array.from(this.#data);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError("item", [this.shape], `needs a tensor with exactly one element, got shape ${fmtShape(this.shape)}`);
    return this.#data[0]!;
  }

  toString(): string {
    // plain JSON would print NaN and ±Infinity as null, hiding exactly the values people print tensors to find
    const nonFinite = (_k: string, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? `#${x}#` : x);
    const v = this.size <= 64 ? JSON.stringify(this.toArray(), nonFinite).replace(/"#([^#"]+)#"/g, "$1") : `${this.size} values`;
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}, ${v})`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

export const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;

/** A zeroed buffer of n values: its own, or carved from a scratch slab inside `withScratchBuffers`. */
export const allocData = (dtype: DType, n: number): Data => {
  const bytes = n * (dtype === "float64" ? 8 : 4);
  if (carvable(bytes)) return carve(dtype, n, bytes);
  return dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
};

// ---- scratch buffers --------------------------------------------------------------------------------------
//
// V8 gives every typed array of more than 64 bytes its own backing store from the C allocator, and a background
// thread frees it after the array dies. Code that makes many small tensors pays for that more than for its
// arithmetic: in the bench's float64 gradient check of an LSTM cell ([4, 20] values, 640 bytes) malloc, free
// and the lock they share between the two threads were over a quarter of the time (perf). Inside
// `withScratchBuffers(f)`, buffers of 65 bytes to SCRATCH_MAX_BYTES are instead carved, in order, from shared
// ArrayBuffers of SCRATCH_SLAB_BYTES: one allocation per slab, and views that the garbage collector frees with
// their slab. A fresh slab is zeroed and no byte of it is handed out twice, so every buffer starts at zero.
//
// A slab stays alive until the last buffer carved from it dies. So scratch buffers are for code whose tensors
// are all garbage when it returns, like checkGrad's evaluations of f (it reads one number from each): a
// tensor that outlived its scope would keep its whole slab alive (256 KiB at most). One kind of survivor is
// expected: a cache entry made in the scope for a tensor that outlives it (the transpose of an unperturbed weight
// in matmul.ts and fused.ts), a few entries per such tensor, each keeping at most one slab. Scratch buffers are
// never used elsewhere, where lifetimes are unknown: a training loop that kept one small tensor per step would
// then keep one slab per step. Callers of Data must use byteOffset and byteLength with `.buffer` (models/checkpoint.ts does).

/** Largest buffer carved from a scratch slab; larger ones get their own. */
export const SCRATCH_MAX_BYTES = 16 * 1024;
/** Bytes of one scratch slab. */
export const SCRATCH_SLAB_BYTES = 256 * 1024;
/** V8 keeps typed arrays of at most this many bytes on its own heap: no backing store to save. */
const SCRATCH_MIN_BYTES = 64;

let scratchDepth = 0;
let slab = new ArrayBuffer(0);
let slabUsed = 0;

/** Whether a buffer of `bytes` comes from a scratch slab now: inside `withScratchBuffers`, and of a size that gains. */
const carvable = (bytes: number): boolean => scratchDepth > 0 && bytes > SCRATCH_MIN_BYTES && bytes <= SCRATCH_MAX_BYTES;

function carve(dtype: DType, n: number, bytes: number): Data {
  if (slabUsed + bytes > slab.byteLength) {
    slab = new ArrayBuffer(SCRATCH_SLAB_BYTES);
    slabUsed = 0;
  }
  const at = slabUsed;
  slabUsed += (bytes + 15) & ~15; // 16-byte aligned, as the backing stores they replace
  return dtype === "float64" ? new Float64Array(slab, at, n) : new Float32Array(slab, at, n);
}

// `slice()` zeroes its new buffer and then copies into it. Node's `Buffer.allocUnsafeSlow` hands out a backing
// store of its own without zeroing it, and a copy overwrites every byte, so large copies (a matmul's result
// out of WebAssembly memory) take that and skip a pass: 0.986x the time of a 256^3 product on one thread,
// 0.987x at 32x192x512 (in-process paired medians). Below UNINIT_MIN_BYTES the gain is lost in the noise of
// the extra objects. Browsers have no such allocator and keep `slice()`.
const UNINIT_MIN_BYTES = 32 * 1024;
const uninitBytes: ((n: number) => ArrayBuffer) | null = (() => {
  const B = (globalThis as { Buffer?: { allocUnsafeSlow?: (n: number) => { buffer: ArrayBufferLike } } }).Buffer;
  if (typeof B?.allocUnsafeSlow !== "function") return null;
  return (n: number) => {
    const buf = B.allocUnsafeSlow!(n).buffer;
    // a polyfill could hand out a slice of a shared pool: then a zeroed buffer of its own, as slice() would
    return buf instanceof ArrayBuffer && buf.byteLength === n ? buf : new ArrayBuffer(n);
  };
})();

/**
 * A copy of `v` in a buffer of its own: unzeroed where that is available and pays (above), carved from a scratch
 * slab inside `withScratchBuffers`, else `v.slice()`.
 */
export function copyData(v: Data): Data {
  const f64 = v instanceof Float64Array, bytes = v.byteLength;
  let out: Data;
  if (uninitBytes !== null && bytes >= UNINIT_MIN_BYTES) out = f64 ? new Float64Array(uninitBytes(bytes)) : new Float32Array(uninitBytes(bytes));
  else if (carvable(bytes)) out = carve(f64 ? "float64" : "float32", v.length, bytes);
  else return v.slice();
  out.set(v);
  return out;
}

/**
 * @internal Runs `f` with small tensor buffers carved from shared slabs (see above). Only for code whose
 * tensors are all garbage once it returns; nests.
 */
export function withScratchBuffers<T>(f: () => T): T {
  scratchDepth++;
  try {
    return f();
  } finally {
    scratchDepth--;
  }
}

/** @internal Wraps freshly computed data (ownership passes to the tensor). */
export const fromData = (data: Data, shape: Shape, dtype: DType = data instanceof Float64Array ? "float64" : "float32"): Tensor =>
  new Tensor(data, shape, dtype);

const checkDType = (op: string, dtype: unknown): DType => {
  if (dtype === undefined) return "float32";
  if (dtype === "float32" || dtype === "float64") return dtype;
  throw new ArgumentError(op, "dtype", `must be 'float32' or 'float64', got ${describe(dtype)}`);
};

export interface TensorOptions {
  dtype?: DType;
  shape?: readonly number[];
}

const INT_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array];

/**
 * Makes a tensor from a number, nested number arrays, a Float32Array/Float64Array, or another tensor.
 * Always copies: changing the source afterwards never changes the tensor. Default dtype: float32
 * (float64 for a Float64Array source).
 */
export function tensor(values: NestedArray | Data | Tensor | ArrayLike<number>, options: TensorOptions = {}): Tensor {
  const op = "tensor";
  // the shape goes in the options: tensor(values, [2, 3]) (TensorFlow.js's form) would otherwise make a 1-D tensor
  optionsObject(op, "options", options, "{ shape: [2, 3], dtype: 'float32' }", ["dtype", "shape"]);
  let flat: ArrayLike<number>;
  let inferred: number[];
  let dtype: DType;
  if (values instanceof Tensor) {
    flat = dataOf(values);
    inferred = values.shape.slice();
    dtype = options.dtype === undefined ? values.dtype : checkDType(op, options.dtype);
  } else if (values instanceof Float32Array || values instanceof Float64Array) {
    flat = values;
    inferred = [values.length];
    dtype = options.dtype === undefined ? (values instanceof Float64Array ? "float64" : "float32") : checkDType(op, options.dtype);
  } else if (INT_ARRAYS.some((C) => values instanceof C)) {
    if (options.dtype === undefined)
      throw new ArgumentError(op, "values", `is an ${(values as object).constructor.name}; seqgrad tensors hold floats, so say which: tensor(values, { dtype: 'float32' })`);
    flat = values as ArrayLike<number>;
    inferred = [(values as ArrayLike<number>).length];
    dtype = checkDType(op, options.dtype);
  } else if (typeof values === "number") {
    flat = [values];
    inferred = [];
    dtype = checkDType(op, options.dtype);
  } else if (Array.isArray(values)) {
    const r = flattenNested(values);
    flat = r.flat;
    inferred = r.shape;
    dtype = checkDType(op, options.dtype);
  } else {
    throw new ArgumentError(op, "values", `must be a number, nested arrays of numbers, a Float32Array/Float64Array or a Tensor, got ${describe(values)}`);
  }
  let shape = inferred;
  if (options.shape !== undefined) {
    shape = orThrow(validateShape(op, options.shape));
    if (sizeOf(shape) !== flat.length)
      throw new ShapeError(op, [shape, inferred], `shape ${fmtShape(shape)} holds ${sizeOf(shape)} values but ${flat.length} were given`);
  }
  const data = allocData(dtype, flat.length);
  // one set(): the same conversion per value as assigning them one by one (a float64 source rounds to
  // float32 the same way), at memcpy speed for a typed array of the same kind
  data.set(flat);
  return new Tensor(data, shape, dtype);
}

/** Flattens nested arrays, checking every row has the same length and every leaf is a number. */
const flattenNested = (values: NestedArray[]): { flat: number[]; shape: number[] } => {
  const shape: number[] = [];
  let probe: unknown = values;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  if (sizeOf(shape) > MAX_ELEMENTS) throw new ShapeError("tensor", [shape], `nested arrays of shape ${fmtShape(shape)} exceed the element limit`);
  const flat: number[] = [];
  // Explicit stack rather than recursion so deeply nested junk cannot overflow the stack.
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: values, depth: 0, path: "values" }];
  while (stack.length) {
    const { v, depth, path } = stack.pop()!;
    if (depth === shape.length) {
      if (typeof v !== "number") throw new ArgumentError("tensor", path, `must be a number, got ${describe(v)}`);
      flat.push(v);
      continue;
    }
    if (!Array.isArray(v) || v.length !== shape[depth])
      throw new ShapeError(
        "tensor",
        [shape],
        `ragged nested arrays: ${path} is ${Array.isArray(v) ? `an array of length ${v.length}` : describe(v)} but its siblings have length ${shape[depth]}`,
      );
    for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth: depth + 1, path: `${path}[${i}]` });
  }
  return { flat, shape };
};

const filled = (op: string, shape: readonly number[], value: number, dtype?: DType): Tensor => {
  const s = orThrow(validateShape(op, shape));
  const dt = checkDType(op, dtype);
  if (typeof value !== "number") throw new ArgumentError(op, "value", `must be a number, got ${describe(value)}`);
  const data = allocData(dt, sizeOf(s));
  if (value !== 0) data.fill(value);
  return new Tensor(data, s, dt);
};

/** A tensor of zeros. */
export const zeros = (shape: readonly number[], dtype?: DType): Tensor => filled("zeros", shape, 0, dtype);
/** A tensor of ones. */
export const ones = (shape: readonly number[], dtype?: DType): Tensor => filled("ones", shape, 1, dtype);
/** A tensor with every entry equal to `value`. */
export const full = (shape: readonly number[], value: number, dtype?: DType): Tensor => filled("full", shape, value, dtype);

/** The n×m identity (m defaults to n). */
export const eye = (n: number, m: number = n, dtype?: DType): Tensor => {
  const s = orThrow(validateShape("eye", [n, m], "[n, m]"));
  const t = allocData(checkDType("eye", dtype), s[0]! * s[1]!);
  for (let i = 0; i < Math.min(s[0]!, s[1]!); i++) t[i * s[1]! + i] = 1;
  return new Tensor(t, s, checkDType("eye", dtype));
};

/** `arange(stop)` or `arange(start, stop, step = 1)`: evenly spaced values in [start, stop). */
export const arange = (start: number, stop?: number, step = 1, dtype?: DType): Tensor => {
  if (stop === undefined) [start, stop] = [0, start];
  for (const [name, v] of [["start", start], ["stop", stop], ["step", step]] as const)
    if (typeof v !== "number" || !Number.isFinite(v)) throw new ArgumentError("arange", name, `must be a finite number, got ${describe(v)}`);
  if (step === 0) throw new ArgumentError("arange", "step", "must not be 0");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > MAX_ELEMENTS) throw new ShapeError("arange", [[n]], `would make ${n} elements, over the limit of ${MAX_ELEMENTS}`);
  const dt = checkDType("arange", dtype);
  const data = allocData(dt, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return new Tensor(data, [n], dt);
};

export const scalarLike = (value: number, dtype: DType): Tensor => {
  const d = allocData(dtype, 1);
  d[0] = value;
  return new Tensor(d, [], dtype);
};

