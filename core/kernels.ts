/**
 * Numeric kernels on flat row-major typed arrays. Every kernel allocates its output and is the only
 * code that writes to it. No per-element closures: each op has its own loop.
 * This is the reference (pure TypeScript) backend.
 */
import { allocData, type Data, type DType } from "./tensor.js";
import { sizeOf, stridesOf, shapesEqual, type Shape } from "./shape.js";
import { matmulPrefersWasm, matmulWasm, matmulWasmStart, operandData, type Operand } from "./wasm/backend.js";
export type { Operand } from "./wasm/backend.js";
import {
  binaryPrefersWasm, binaryWasm, sumMiddleWasm, sumPrefersWasm, unaryPrefersWasm, unaryWasm, type BinaryLayout, type WasmBinaryOp,
} from "./wasm/elementwise.js";

export type UnaryOp = "neg" | "exp" | "log" | "sqrt" | "tanh" | "sigmoid" | "relu" | "abs" | "sign" | "step" | "square" | "reciprocal" | "log1p" | "isFinite";

/**
 * Elementwise unary kernel. `step(x) = x > 0 ? 1 : 0` (the relu derivative). float32 exp, sigmoid and tanh of
 * ELEMENTWISE_WASM_MIN_SIZE values or more run the WebAssembly SIMD functions under 'auto' (within
 * ELEMENTWISE_MAX_ULPS of the correctly rounded value, as the fused cell kernels already do); the rest is this loop.
 */
export function unary(op: UnaryOp, x: Data, dtype: DType): Data {
  const n = x.length;
  if (dtype === "float32" && x instanceof Float32Array && unaryPrefersWasm(op, n)) {
    const y = unaryWasm(op, x);
    if (y) return y;
  }
  const y = allocData(dtype, n);
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) y[i] = -x[i]!;
      break;
    case "exp":
      for (let i = 0; i < n; i++) y[i] = Math.exp(x[i]!);
      break;
    case "log":
      for (let i = 0; i < n; i++) y[i] = Math.log(x[i]!);
      break;
    case "sqrt":
      for (let i = 0; i < n; i++) y[i] = Math.sqrt(x[i]!);
      break;
    case "tanh":
      for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]!);
      break;
    case "sigmoid":
      // Stable on both sides: never exponentiates a large positive number.
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        if (v >= 0) y[i] = 1 / (1 + Math.exp(-v));
        else {
          const e = Math.exp(v);
          y[i] = e / (1 + e);
        }
      }
      break;
    case "relu":
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        y[i] = v > 0 ? v : v === v ? 0 : v;
      }
      break;
    case "abs":
      for (let i = 0; i < n; i++) y[i] = Math.abs(x[i]!);
      break;
    case "sign":
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        y[i] = v > 0 ? 1 : v < 0 ? -1 : v === v ? 0 : v;
      }
      break;
    case "step":
      for (let i = 0; i < n; i++) y[i] = x[i]! > 0 ? 1 : 0;
      break;
    case "square":
      for (let i = 0; i < n; i++) y[i] = x[i]! * x[i]!;
      break;
    case "reciprocal":
      for (let i = 0; i < n; i++) y[i] = 1 / x[i]!;
      break;
    case "log1p":
      for (let i = 0; i < n; i++) y[i] = Math.log1p(x[i]!);
      break;
    case "isFinite":
      for (let i = 0; i < n; i++) y[i] = Number.isFinite(x[i]!) ? 1 : 0;
      break;
  }
  return y;
}

export type BinaryOp = "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum" | "greater" | "greaterEqual" | "less" | "lessEqual" | "equal";

const indexCache = new Map<string, Int32Array>();

/** For each flat index of `out`, the flat index into an operand of shape `inShape` under broadcasting. */
export function broadcastIndex(outShape: Shape, inShape: Shape): Int32Array {
  const key = `${outShape.join(",")}|${inShape.join(",")}`;
  const hit = indexCache.get(key);
  if (hit) return hit;
  const n = sizeOf(outShape);
  const rank = outShape.length;
  const offset = rank - inShape.length;
  const inStrides = stridesOf(inShape);
  // stride per output dim into the input (0 where broadcast)
  const st = new Array<number>(rank).fill(0);
  for (let d = 0; d < inShape.length; d++) st[d + offset] = inShape[d] === 1 ? 0 : inStrides[d]!;
  const idx = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let cur = 0;
  for (let i = 0; i < n; i++) {
    idx[i] = cur;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]!++;
      cur += st[d]!;
      if (counter[d]! < outShape[d]!) break;
      cur -= st[d]! * counter[d]!;
      counter[d] = 0;
    }
  }
  if (indexCache.size > 512) indexCache.clear();
  indexCache.set(key, idx);
  return idx;
}

/**
 * Elementwise binary kernel with NumPy broadcasting; `outShape` is the broadcast shape. float32 add, sub, mul,
 * div, maximum and minimum of BINARY_WASM_MIN_SIZE outputs or more run the WebAssembly SIMD function under 'auto'
 * (the same bits) when each operand is the whole output, a scalar or a row of it (the same row, if both are).
 */
export function binary(op: BinaryOp, a: Data, aShape: Shape, b: Data, bShape: Shape, outShape: Shape, dtype: DType): Data {
  const n = sizeOf(outShape);
  if (dtype === "float32" && a instanceof Float32Array && b instanceof Float32Array && binaryPrefersWasm(op, n)) {
    const y = binaryViaWasm(op, a, aShape, b, bShape, outShape, n);
    if (y) return y;
  }
  const y = allocData(dtype, n);
  // equal operand shapes take the fast loop only when nothing broadcasts (broadcastTo passes a scalar zero as b)
  if (shapesEqual(aShape, bShape) && shapesEqual(aShape, outShape)) {
    binarySame(op, a, b, y, n);
    return y;
  }
  // Materialise the broadcast operand(s), then run the same-shape loop: one loop per op, not five.
  const A = shapesEqual(aShape, outShape) ? a : expand(a, aShape, outShape, dtype);
  const B = shapesEqual(bShape, outShape) ? b : expand(b, bShape, outShape, dtype);
  binarySame(op, A, B, y, n);
  return y;
}

/**
 * a op b (n outputs) through binaryWasm when each operand is the whole output, a scalar or a row of it, else null.
 * A row and a scalar is broadcastTo's [C] + 0 to [R, C]; two rows of one length both repeat as the output does.
 */
function binaryViaWasm(op: WasmBinaryOp, a: Float32Array, aShape: Shape, b: Float32Array, bShape: Shape, outShape: Shape, n: number): Float32Array | null {
  const la = layoutIn(a.length, aShape, outShape, n), lb = layoutIn(b.length, bShape, outShape, n);
  if (la === null || lb === null || (la === "row" && lb === "row" && a.length !== b.length)) return null;
  const cols = la === "row" ? a.length : lb === "row" ? b.length : n;
  return binaryWasm(op, a, la, b, lb, n / cols, cols);
}

/** How an operand of `length` values and shape `xShape` covers an output of n values, for binaryWasm; null for other broadcasts. */
function layoutIn(length: number, xShape: Shape, outShape: Shape, n: number): BinaryLayout | null {
  // as many values as the output means the same layout: every axis it broadcasts has extent 1
  return length === n ? "full" : length === 1 ? "scalar" : isRow(xShape, outShape) ? "row" : null;
}

/** Whether x broadcast to `outShape` is x repeated whole: x equals the output on a suffix of axes and is 1 before it (a bias `[N]` over `[B, N]`). */
function isRow(xShape: Shape, outShape: Shape): boolean {
  const off = outShape.length - xShape.length;
  // axes from the last while x's extent equals the output's, then extent 1 (or absent) on all the rest
  let d = outShape.length - 1;
  while (d >= off && d >= 0 && xShape[d - off] === outShape[d]) d--;
  for (; d >= off && d >= 0; d--) if (xShape[d - off] !== 1) return false;
  return true;
}

/**
 * `x` broadcast to `outShape`, materialised. The layouts cells and losses use most are copied with native
 * fills and block copies, no index array: a scalar, a row repeated over leading axes (a bias `[N]` over
 * `[B, N]`), and a column repeated over trailing axes (a `[T, B, 1]` max over `[T, B, V]`); anything else
 * gathers through `broadcastIndex`.
 */
function expand(x: Data, xShape: Shape, outShape: Shape, dtype: DType): Data {
  const n = sizeOf(outShape);
  const y = allocData(dtype, n);
  if (n === 0) return y;
  if (x.length === 1) {
    y.fill(x[0]!);
    return y;
  }
  if (isRow(xShape, outShape)) {
    for (let o = 0; o < n; o += x.length) y.set(x, o);
    return y;
  }
  const rank = outShape.length, off = rank - xShape.length;
  const dim = (d: number): number => (d < off ? 1 : xShape[d - off]!); // x's extent on output axis d
  // a column: x equals the output on a prefix of axes and is 1 after it
  let p = 0;
  while (p < rank && dim(p) === outShape[p]) p++;
  let col = true;
  for (let d = p; d < rank; d++) if (dim(d) !== 1) col = false;
  if (col) {
    const inner = n / x.length;
    for (let i = 0; i < x.length; i++) y.fill(x[i]!, i * inner, (i + 1) * inner);
    return y;
  }
  const idx = broadcastIndex(outShape, xShape);
  for (let i = 0; i < n; i++) y[i] = x[idx[i]!]!;
  return y;
}

function binarySame(op: BinaryOp, a: Data, b: Data, y: Data, n: number): void {
  switch (op) {
    case "add":
      for (let i = 0; i < n; i++) y[i] = a[i]! + b[i]!;
      return;
    case "sub":
      for (let i = 0; i < n; i++) y[i] = a[i]! - b[i]!;
      return;
    case "mul":
      for (let i = 0; i < n; i++) y[i] = a[i]! * b[i]!;
      return;
    case "div":
      for (let i = 0; i < n; i++) y[i] = a[i]! / b[i]!;
      return;
    case "pow":
      for (let i = 0; i < n; i++) y[i] = Math.pow(a[i]!, b[i]!);
      return;
    case "maximum":
      for (let i = 0; i < n; i++) {
        const u = a[i]!, v = b[i]!;
        y[i] = u >= v || u !== u ? u : v;
      }
      return;
    case "minimum":
      for (let i = 0; i < n; i++) {
        const u = a[i]!, v = b[i]!;
        y[i] = u <= v || u !== u ? u : v;
      }
      return;
    case "greater":
      for (let i = 0; i < n; i++) y[i] = a[i]! > b[i]! ? 1 : 0;
      return;
    case "greaterEqual":
      for (let i = 0; i < n; i++) y[i] = a[i]! >= b[i]! ? 1 : 0;
      return;
    case "less":
      for (let i = 0; i < n; i++) y[i] = a[i]! < b[i]! ? 1 : 0;
      return;
    case "lessEqual":
      for (let i = 0; i < n; i++) y[i] = a[i]! <= b[i]! ? 1 : 0;
      return;
    case "equal":
      for (let i = 0; i < n; i++) y[i] = a[i]! === b[i]! ? 1 : 0;
      return;
  }
}

/** `where(c, a, b)`: a where c != 0, else b; all three broadcast to `outShape`. */
export function where(c: Data, cShape: Shape, a: Data, aShape: Shape, b: Data, bShape: Shape, outShape: Shape, dtype: DType): Data {
  const n = sizeOf(outShape);
  const C = shapesEqual(cShape, outShape) ? c : expand(c, cShape, outShape, dtype);
  const A = shapesEqual(aShape, outShape) ? a : expand(a, aShape, outShape, dtype);
  const B = shapesEqual(bShape, outShape) ? b : expand(b, bShape, outShape, dtype);
  const y = allocData(dtype, n);
  for (let i = 0; i < n; i++) y[i] = C[i] !== 0 ? A[i]! : B[i]!;
  return y;
}

export type ReduceOp = "sum" | "max" | "min";

/** Reduces sorted distinct `axes` of `x`; output keeps the reduced dims as size 1. */
export function reduce(op: ReduceOp, x: Data, shape: Shape, axes: readonly number[], dtype: DType): Data {
  let data = x;
  const cur = shape.slice();
  // Reduce axes one at a time, last first; each pass views the tensor as [outer, n, inner].
  for (let k = axes.length - 1; k >= 0; k--) {
    const ax = axes[k]!;
    const n = cur[ax]!;
    let outer = 1;
    for (let d = 0; d < ax; d++) outer *= cur[d]!;
    let inner = 1;
    for (let d = ax + 1; d < cur.length; d++) inner *= cur[d]!;
    data = reduceAxis(op, data, outer, n, inner, dtype);
    cur[ax] = 1;
  }
  return data === x ? data.slice() : data;
}

function reduceAxis(op: ReduceOp, x: Data, outer: number, n: number, inner: number, dtype: DType): Data {
  // a sum over a middle axis: in WebAssembly from SUM_WASM_MIN_SIZE values (sumMiddle's sums, the same bits)
  if (op === "sum" && inner > 1)
    return (sumPrefersWasm(outer * n * inner) ? sumMiddleWasm(x, outer, n, inner) : null) ?? sumMiddle(x, outer, n, inner, allocData(dtype, outer * inner));
  const y = allocData(dtype, outer * inner);
  if (op === "sum") {
    if (inner === 1) {
      for (let o = 0; o < outer; o++) {
        let s = 0;
        const base = o * n;
        for (let i = 0; i < n; i++) s += x[base + i]!;
        y[o] = s;
      }
    } else {
      const acc = new Float64Array(inner);
      for (let o = 0; o < outer; o++) {
        acc.fill(0);
        for (let i = 0; i < n; i++) {
          const base = (o * n + i) * inner;
          for (let j = 0; j < inner; j++) acc[j] = acc[j]! + x[base + j]!;
        }
        y.set(acc, o * inner);
      }
    }
    return y;
  }
  const isMax = op === "max";
  const init = isMax ? -Infinity : Infinity;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let m = init;
      for (let i = 0; i < n; i++) {
        const v = x[(o * n + i) * inner + j]!;
        if (v !== v) {
          m = v;
          break;
        }
        if (isMax ? v > m : v < m) m = v;
      }
      y[o * inner + j] = m;
    }
  }
  return y;
}

/**
 * Sums `x` viewed as `[outer, n, inner]` over its middle axis into `y` `[outer, inner]`: each output in a register, over
 * i = 0..n-1 in order in float64 (the order of the row-at-a-time loop this replaced, so the same bits, ~3x faster:
 * that loop read and wrote a float64 accumulator array for every element, e.g. the bias gradient `sum(dz, 0)`).
 * core/wasm/elementwise.as sumMiddle is its WebAssembly twin (the same bits), used from SUM_WASM_MIN_SIZE values.
 */
function sumMiddle(x: Data, outer: number, n: number, inner: number, y: Data): Data {
  for (let o = 0; o < outer; o++) {
    const ob = o * n * inner, yb = o * inner;
    let j = 0;
    for (; j + 4 <= inner; j += 4) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let i = 0, p = ob + j; i < n; i++, p += inner) {
        s0 += x[p]!;
        s1 += x[p + 1]!;
        s2 += x[p + 2]!;
        s3 += x[p + 3]!;
      }
      y[yb + j] = s0;
      y[yb + j + 1] = s1;
      y[yb + j + 2] = s2;
      y[yb + j + 3] = s3;
    }
    for (; j < inner; j++) {
      let s = 0;
      for (let i = 0, p = ob + j; i < n; i++, p += inner) s += x[p]!;
      y[yb + j] = s;
    }
  }
  return y;
}

/**
 * `Σ_i a_iᵀ b_i` for column vectors `b_i` `[R_i, 1]` and `a_i` `[R_i, M]`, as `[M]`: one pass over each `a_i`
 * (no concatenated copy), summed over all rows of all terms in order in float64. A bias gradient `Σ_t dz_tᵀ 1` is this.
 */
export function outerSumColumn(as: readonly Data[], bs: readonly Data[], M: number, dtype: DType): Data {
  const acc = new Float64Array(M);
  for (let t = 0; t < as.length; t++) {
    const a = as[t]!, b = bs[t]!, R = b.length;
    let j = 0;
    // 8 columns at a time: each pass uses half of every cache line it pulls in (the terms are usually cold by now)
    for (; j + 8 <= M; j += 8) {
      let s0 = acc[j]!, s1 = acc[j + 1]!, s2 = acc[j + 2]!, s3 = acc[j + 3]!, s4 = acc[j + 4]!, s5 = acc[j + 5]!, s6 = acc[j + 6]!, s7 = acc[j + 7]!;
      for (let r = 0, p = j; r < R; r++, p += M) {
        const w = b[r]!;
        s0 += a[p]! * w;
        s1 += a[p + 1]! * w;
        s2 += a[p + 2]! * w;
        s3 += a[p + 3]! * w;
        s4 += a[p + 4]! * w;
        s5 += a[p + 5]! * w;
        s6 += a[p + 6]! * w;
        s7 += a[p + 7]! * w;
      }
      acc[j] = s0;
      acc[j + 1] = s1;
      acc[j + 2] = s2;
      acc[j + 3] = s3;
      acc[j + 4] = s4;
      acc[j + 5] = s5;
      acc[j + 6] = s6;
      acc[j + 7] = s7;
    }
    for (; j < M; j++) {
      let s = acc[j]!;
      for (let r = 0, p = j; r < R; r++, p += M) s += a[p]! * b[r]!;
      acc[j] = s;
    }
  }
  const y = allocData(dtype, M);
  y.set(acc);
  return y;
}

/** Index of the largest entry along the last axis (first one on ties; the first NaN, as max propagates NaN). */
export function argmaxLast(x: Data, rows: number, n: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bv = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = x[r * n + i]!;
      if (v !== v) {
        best = i;
        break;
      }
      if (v > bv) {
        bv = v;
        best = i;
      }
    }
    out[r] = best;
  }
  return out;
}

/** Copies `x` with its axes permuted: out.shape[i] = shape[perm[i]]. */
export function transpose(x: Data, shape: Shape, perm: readonly number[], dtype: DType): Data {
  const rank = shape.length;
  const n = x.length;
  const y = allocData(dtype, n);
  if (n === 0) return y; // zero-size: the blocked loop below would still walk a huge non-zero dimension
  if (rank === 2 && perm[0] === 1) {
    const R = shape[0]!, C = shape[1]!;
    const BS = 32;
    // Rows of y a multiple of 4 KiB apart (R = 1024 or 2048 float32 values: an LSTM's [4H, D] weight at H = 256, 512)
    // fall into one L1 set, and the 32 rows a block writes at once evict each other: measured 6.8-19 ns per value
    // against 1.5-2.4 otherwise. There a block goes through a small tile instead, read row by row and written out
    // row by row (2.7-3.5 ns per value at any shape, but slower than the direct loop where there is no conflict).
    if ((R * y.BYTES_PER_ELEMENT) % 4096 === 0) {
      const tile = new Float64Array(BS * BS);
      for (let i0 = 0; i0 < R; i0 += BS)
        for (let j0 = 0; j0 < C; j0 += BS) {
          const h = Math.min(BS, R - i0), w = Math.min(BS, C - j0);
          for (let i = 0; i < h; i++) for (let j = 0, xi = (i0 + i) * C + j0; j < w; j++) tile[j * BS + i] = x[xi + j]!;
          for (let j = 0; j < w; j++) for (let i = 0, yi = (j0 + j) * R + i0; i < h; i++) y[yi + i] = tile[j * BS + i]!;
        }
      return y;
    }
    for (let i0 = 0; i0 < R; i0 += BS)
      for (let j0 = 0; j0 < C; j0 += BS) {
        const iMax = Math.min(i0 + BS, R), jMax = Math.min(j0 + BS, C);
        for (let i = i0; i < iMax; i++) for (let j = j0; j < jMax; j++) y[j * R + i] = x[i * C + j]!;
      }
    return y;
  }
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]!);
  const st = perm.map((p) => inStrides[p]!);
  const counter = new Array<number>(rank).fill(0);
  let cur = 0;
  for (let i = 0; i < n; i++) {
    y[i] = x[cur]!;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]!++;
      cur += st[d]!;
      if (counter[d]! < outShape[d]!) break;
      cur -= st[d]! * counter[d]!;
      counter[d] = 0;
    }
  }
  return y;
}

/**
 * Where the rows of a box lie in a row-major tensor of shape `full`: the box starts at `begin` and has extent
 * `size` (rank >= 1, at least one element); row r of the box (its r-th run along the last axis, `size[-1]` long,
 * in row-major order) starts at flat offset `offsets[r]` of `full`. slice, pad and padAddInto all walk a box this way.
 */
function boxRowOffsets(full: Shape, begin: readonly number[], size: readonly number[]): Float64Array {
  const rank = full.length;
  const strides = stridesOf(full);
  const rows = sizeOf(size) / size[rank - 1]!;
  const offsets = new Float64Array(rows);
  const counter = new Array<number>(rank - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    let off = begin[rank - 1]!;
    for (let d = 0; d < rank - 1; d++) off += (begin[d]! + counter[d]!) * strides[d]!;
    offsets[r] = off;
    for (let d = rank - 2; d >= 0; d--) {
      counter[d]!++;
      if (counter[d]! < size[d]!) break;
      counter[d] = 0;
    }
  }
  return offsets;
}

/** Strided copy of the box starting at `begin` with extent `size`. */
export function slice(x: Data, shape: Shape, begin: readonly number[], size: readonly number[], dtype: DType): Data {
  const n = sizeOf(size);
  const y = allocData(dtype, n);
  if (n === 0) return y;
  if (shape.length === 0) {
    y[0] = x[0]!;
    return y;
  }
  // Copy contiguous runs along the last axis.
  const last = size[size.length - 1]!;
  const offsets = boxRowOffsets(shape, begin, size);
  for (let r = 0; r < offsets.length; r++) y.set(x.subarray(offsets[r]!, offsets[r]! + last), r * last);
  return y;
}

/**
 * Adds `x` (shape `xShape`) into the block of `y` (shape `outShape`, owned by the caller) that starts at `begin`:
 * the in-place sum behind `padSum`, which places many slices' cotangents into one buffer.
 */
export function padAddInto(y: Data, x: Data, xShape: Shape, outShape: Shape, begin: readonly number[]): void {
  if (x.length === 0) return;
  if (outShape.length === 0) {
    y[0] = y[0]! + x[0]!;
    return;
  }
  const last = xShape[xShape.length - 1]!;
  const offsets = boxRowOffsets(outShape, begin, xShape);
  for (let r = 0; r < offsets.length; r++) {
    const dst = offsets[r]!, src = r * last;
    for (let j = 0; j < last; j++) y[dst + j] = y[dst + j]! + x[src + j]!;
  }
}

/** Inverse of slice: zeros of `outShape` with `x` placed at `begin`. */
export function pad(x: Data, xShape: Shape, outShape: Shape, begin: readonly number[], dtype: DType): Data {
  const y = allocData(dtype, sizeOf(outShape));
  if (x.length === 0) return y;
  if (outShape.length === 0) {
    y[0] = x[0]!;
    return y;
  }
  const last = xShape[xShape.length - 1]!;
  const offsets = boxRowOffsets(outShape, begin, xShape);
  for (let r = 0; r < offsets.length; r++) y.set(x.subarray(r * last, r * last + last), offsets[r]!);
  return y;
}

/** Concatenates along `axis`; every part has the same shape except at `axis`. */
export function concat(parts: readonly Data[], shapes: readonly Shape[], axis: number, outShape: Shape, dtype: DType): Data {
  const y = allocData(dtype, sizeOf(outShape));
  if (y.length === 0) return y; // zero-size: no loop over a possibly huge leading dimension
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= outShape[d]!;
  const rowOut = sizeOf(outShape) / (outer || 1);
  let colOff = 0;
  for (let p = 0; p < parts.length; p++) {
    const x = parts[p]!;
    const row = outer ? x.length / outer : 0;
    for (let o = 0; o < outer; o++) y.set(x.subarray(o * row, o * row + row), o * rowOut + colOff);
    colOff += row;
  }
  void shapes;
  return y;
}

/** `gather(x, idx, axis)`: out[..., i, ...] = x[..., idx[i], ...] with idx flattened. */
export function gather(x: Data, shape: Shape, idx: Int32Array, axis: number, dtype: DType): Data {
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  const n = shape[axis]!;
  const m = idx.length;
  const y = allocData(dtype, outer * m * inner);
  if (y.length === 0) return y; // zero-size: no loop over a possibly huge outer dimension
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < m; i++) {
      const src = (o * n + idx[i]!) * inner;
      y.set(x.subarray(src, src + inner), (o * m + i) * inner);
    }
  return y;
}

/** Transpose of gather: sums rows of `dy` into zeros of `shape` at `idx` (repeated indices add). */
export function scatterAdd(dy: Data, shape: Shape, idx: Int32Array, axis: number, dtype: DType): Data {
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  const n = shape[axis]!;
  const m = idx.length;
  const y = allocData(dtype, sizeOf(shape));
  if (dy.length === 0) return y; // nothing to add: no loop over a possibly huge outer dimension
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < m; i++) {
      const dst = (o * n + idx[i]!) * inner;
      const src = (o * m + i) * inner;
      for (let j = 0; j < inner; j++) y[dst + j] = y[dst + j]! + dy[src + j]!;
    }
  return y;
}

/**
 * Batched matmul C[b] = A[aBatch[b]] @ B[bBatch[b]] with A [..., M, K], B [..., K, N]; `aBatch`/`bBatch`
 * map each output batch to its operand batches (broadcasting). Runs the WebAssembly SIMD kernel when it
 * is loaded and the problem is big enough to pay for copying (see core/wasm/backend.ts), else matmulRef.
 * `reuseB`: `b` is an immutable operand cached by the caller and passed again (a weight at every time
 * step), which the WebAssembly kernel may keep packed between calls; never set it for a buffer that is
 * written afterwards. An operand may come as row blocks that stack to it (`Operand`), and `transA` says A's
 * batches are stored transposed, [K, M]: the WebAssembly kernel reads both as they are, with no copy made to
 * rearrange them, and gives the very sums of the rearranged operands.
 */
export function matmul(
  a: Operand, b: Operand, M: number, K: number, N: number,
  batches: number, aBatch: Int32Array, bBatch: Int32Array, dtype: DType, reuseB = false, transA = false,
): Data {
  if (matmulPrefersWasm(batches * M * K * N)) {
    const c = matmulWasm(a, b, M, K, N, batches, aBatch, bBatch, dtype, reuseB, transA);
    if (c) return c;
  }
  return matmulRefOf(a, b, M, K, N, batches, aBatch, bBatch, dtype, transA);
}

/** matmulRef on operands as `matmul` takes them: blocks joined, and A's batches transposed back from [*, K, M] when `transA`. */
function matmulRefOf(
  a: Operand, b: Operand, M: number, K: number, N: number,
  batches: number, aBatch: Int32Array, bBatch: Int32Array, dtype: DType, transA: boolean,
): Data {
  const d = operandData(a, dtype);
  const A = transA && d.length > 0 ? transpose(d, [d.length / (M * K), K, M], [0, 2, 1], dtype) : d;
  return matmulRef(A, operandData(b, dtype), M, K, N, batches, aBatch, bBatch, dtype);
}

/**
 * C = A @ B (A [M, K], or [K, M] when `transA`; B [K, N]) begun now and read later with `result()`: where the
 * WebAssembly kernels have a free second thread it runs there while this thread goes on (core/wasm/backend.ts
 * matmulWasmStart); anywhere else it is computed here, now. Either way the result is exactly `matmul`'s.
 */
export function matmulLater(a: Operand, b: Operand, M: number, K: number, N: number, dtype: DType, transA = false): { result(): Data } {
  const one = new Int32Array(1);
  if (matmulPrefersWasm(M * K * N)) {
    const s = matmulWasmStart(a, b, M, K, N, dtype, transA);
    if (s) return { result: () => s.result() ?? matmulRefOf(a, b, M, K, N, 1, one, one, dtype, transA) };
  }
  const c = matmul(a, b, M, K, N, 1, one, one, dtype, false, transA);
  return { result: () => c };
}

/**
 * Reference batched matmul C[b] = A[aBatch[b]] @ B[bBatch[b]], the pure-TypeScript kernel the
 * WebAssembly one is proved against: cache-blocked i-k-j loop, accumulating in float64.
 */
export function matmulRef(
  a: Data, b: Data, M: number, K: number, N: number,
  batches: number, aBatch: Int32Array, bBatch: Int32Array, dtype: DType,
): Data {
  const c = allocData(dtype, batches * M * N);
  const acc = new Float64Array(N);
  const KB = 256;
  for (let bt = 0; bt < batches; bt++) {
    const aOff = aBatch[bt]! * M * K;
    const bOff = bBatch[bt]! * K * N;
    const cOff = bt * M * N;
    for (let i = 0; i < M; i++) {
      acc.fill(0);
      const aRow = aOff + i * K;
      for (let k0 = 0; k0 < K; k0 += KB) {
        const kMax = Math.min(k0 + KB, K);
        for (let k = k0; k < kMax; k++) {
          const aik = a[aRow + k]!;
          const bRow = bOff + k * N;
          for (let j = 0; j < N; j++) acc[j] = acc[j]! + aik * b[bRow + j]!;
        }
      }
      for (let j = 0; j < N; j++) c[cOff + i * N + j] = acc[j]!;
    }
  }
  return c;
}

/** Converts between dtypes (a copy). */
export function cast(x: Data, dtype: DType): Data {
  const y = allocData(dtype, x.length);
  y.set(x);
  return y;
}
