/** Batched matrix multiplication with broadcasting over leading dimensions. */
import * as K from "../../core/kernels.js";
import { ShapeError, fmtShape } from "../../core/errors.js";
import { MAX_ELEMENTS, broadcastShapes, orThrow, sizeOf, stridesOf, type Shape } from "../../core/shape.js";
import { allocData, dataOf, fromData, type Data, type Tensor } from "../../core/tensor.js";
import { OuterSum, bind, sameDType, type Cotangent } from "../tape.js";
import type { RuleTable } from "./table.js";
import { expectTensor } from "./operand.js";
import { unbroadcast } from "./reduce.js";
import { reshape } from "./shape.js";

const NN = { transA: false, transB: false } as const;

/** For each output batch, the flat batch index of an operand with batch shape `inB` broadcast to `outB`. */
const batchMap = (outB: Shape, inB: Shape): Int32Array => {
  const n = sizeOf(outB);
  const m = new Int32Array(n);
  const off = outB.length - inB.length;
  const st = stridesOf(inB);
  for (let i = 0; i < n; i++) {
    let rem = i, idx = 0;
    for (let d = outB.length - 1; d >= 0; d--) {
      const coord = rem % outB[d]!;
      rem = (rem - coord) / outB[d]!;
      const di = d - off;
      if (di >= 0 && inB[di] !== 1) idx += coord * st[di]!;
    }
    m[i] = idx;
  }
  return m;
};

/** `x` with its last two axes swapped, as data (a copy; cached per tensor when `cache`, which is sound since tensors are immutable). */
const transposedCache = new WeakMap<Tensor, Data>();
export const swappedData = (x: Tensor, cache: boolean): Data => {
  const hit = cache ? transposedCache.get(x) : undefined;
  if (hit !== undefined) return hit;
  const r = x.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  const d = K.transpose(dataOf(x), x.shape, perm, x.dtype);
  if (cache) transposedCache.set(x, d);
  return d;
};

/** The [rows, cols] of an operand's last two axes as the product sees them (swapped when transposed). */
const mat = (x: Tensor, trans: boolean): [number, number] => {
  const r = x.shape.length, p = x.shape[r - 2]!, q = x.shape[r - 1]!;
  return trans ? [q, p] : [p, q];
};

/** `x` reshaped to 2-D `[rows, last]`, folding every leading axis into the rows. */
const fold = (x: Tensor): Tensor => {
  // rows as the product of the leading axes, not size / last: a zero-size last axis would give 0 / 0
  const last = x.shape[x.shape.length - 1]!;
  return reshape(x, [x.shape.slice(0, -1).reduce((p, d) => p * d, 1), last]);
};

export const matmulRules = {
  // C = op(A) op(B) with op(X) = X or Xᵀ (last two axes): for C = A B, dA = dC Bᵀ and dB = Aᵀ dC; the other
  // three cases follow by transposing those (C = A Bᵀ: dA = dC B, dB = dCᵀ A; C = Aᵀ B: dA = B dCᵀ, dB = A dC;
  // C = Aᵀ Bᵀ: dA = Bᵀ dCᵀ, dB = dCᵀ Aᵀ), each summed over broadcast batch dims. A flag costs no tape entry.
  matmul: {
    name: "matmul",
    forward: ([a, b], { transA, transB }) => {
      const [M, Kd] = mat(a!, transA), N = mat(b!, transB)[1];
      const aB = a!.shape.slice(0, -2), bB = b!.shape.slice(0, -2);
      const outB = orThrow(broadcastShapes("matmul", aB, bB));
      const batches = sizeOf(outB);
      // zero-size output: skip the batch maps, which would be as long as a possibly huge batch count
      if (batches * M * N === 0) return fromData(allocData(a!.dtype, 0), [...outB, M, N], a!.dtype);
      // a 2-D B is almost always a weight reused at every time step: keep its transpose, and let the kernel
      // keep it packed (a tensor's data and the cached transpose are immutable, so that is sound); a
      // transposed A the kernel reads as it is stored
      const keepB = b!.shape.length === 2;
      const B = transB ? swappedData(b!, keepB) : dataOf(b!);
      const data = K.matmul(dataOf(a!), B, M, Kd, N, batches, batchMap(outB, aB), batchMap(outB, bB), a!.dtype, keepB, transA);
      return fromData(data, [...outB, M, N], a!.dtype);
    },
    vjp: (dy, [a, b], _y, { transA, transB }, n) => {
      // a 2-D B shared by a batched A (the [T,B,H] @ [H,V] read-out): fold the batch into rows, one product with K = T·B
      const foldB = b!.shape.length === 2 && a!.shape.length > 2 && !transA;
      let da: Tensor | null = null, db: Cotangent | null = null;
      if (n[0]) {
        if (!transA) da = transB ? matmulT(dy, b!, false, false) : matmulT(dy, b!, false, true);
        else da = transB ? matmulT(b!, dy, true, true) : matmulT(b!, dy, false, true);
        da = unbroadcast(da, a!.shape);
      }
      if (n[1]) {
        // a 2-D dB = aᵀ dy (or dyᵀ a) is left to the backward loop as an OuterSum: a weight used at T steps gets one product
        if (foldB || (a!.shape.length === 2 && b!.shape.length === 2 && !transA))
          return [da, transB ? new OuterSum(fold(dy), fold(a!)) : new OuterSum(fold(a!), fold(dy))];
        if (!transB) db = transA ? matmulT(a!, dy, false, false) : matmulT(a!, dy, true, false);
        else db = transA ? matmulT(dy, a!, true, true) : matmulT(dy, a!, true, false);
        db = unbroadcast(db, b!.shape);
      }
      return [da, db];
    },
  },
  // C = Σ_i a_iᵀ b_i over inputs [a_0 … a_{n-1}, b_0 … b_{n-1}] (a_i [R_i, M], b_i [R_i, N]): one product with
  // inner size Σ R_i. dC = Σ ... is linear in each term: da_i = b_i dCᵀ, db_i = a_i dC.
  outerSum: {
    name: "outerSum",
    forward: (xs, { later }) => {
      const n = xs.length / 2, M = xs[0]!.shape[1]!, N = xs[n]!.shape[1]!, dt = xs[0]!.dtype;
      return fromData((later ?? outerSumBegin(xs.slice(0, n), xs.slice(n), productNow)).result(), [M, N], dt);
    },
    vjp: (dy, xs, _y, _p, needs) => {
      const n = xs.length / 2;
      return xs.map((x, i) => (!needs[i] ? null : i < n ? matmulT(xs[n + i]!, dy, false, true) : matmulT(xs[i - n]!, dy, false, false)));
    },
  },
} satisfies Pick<RuleTable, "matmul" | "outerSum">;

const ONE = new Int32Array(1);

type Product = (a: K.Operand, b: K.Operand, M: number, inner: number, N: number, dtype: Tensor["dtype"], transA: boolean) => { result(): Data };
/** A product begun (K.matmulLater) or computed here and now (`productNow`, with both threads where a split pays). */
const productNow: Product = (a, b, M, inner, N, dt, transA) => {
  const c = K.matmul(a, b, M, inner, N, 1, ONE, ONE, dt, false, transA);
  return { result: () => c };
};

/**
 * The data of `Σ_i a_iᵀ b_i` (`outerSum`) begun now and read with `result()`: a large product may run on a second
 * thread meanwhile (K.matmulLater), so the backward loop begins a chunk of a weight's gradient as soon as its
 * terms are in and reads it when the gradient is read. The result is the same whenever it is read. outerSum's own
 * forward passes `productNow`, which computes at once.
 */
export const outerSumBegin = (as: readonly Tensor[], bs: readonly Tensor[], product: Product = K.matmulLater): { result(): Data } => {
  const n = as.length, M = as[0]!.shape[1]!, N = bs[0]!.shape[1]!, dt = as[0]!.dtype;
  const R = as.reduce((s, a) => s + a.shape[0]!, 0);
  const now = (d: Data) => ({ result: () => d });
  if (M * N === 0) return now(allocData(dt, 0));
  // a column on either side (a bias's dzᵀ 1): a weighted sum of rows, no concatenated copy, no product to pack
  if (N === 1) return now(K.outerSumColumn(as.map(dataOf), bs.map(dataOf), M, dt));
  if (M === 1) return now(K.outerSumColumn(bs.map(dataOf), as.map(dataOf), N, dt));
  // C = Aᵀ B with A the a's stacked [R, M] and B the b's stacked [R, N]: the kernels take the terms as row blocks
  // and read A transposed as it is stored, so neither a concatenated nor a transposed copy is made here
  return product(as.map(dataOf), bs.map(dataOf), M, R, N, dt, true);
};

/**
 * `outerSum(as, bs) = Σ_i a_iᵀ b_i` for 2-D `a_i` `[R_i, M]`, `b_i` `[R_i, N]`: one product, one tape entry. `later`:
 * the product of these very terms already begun by `outerSumBegin` (the backward loop's), read instead of computed.
 */
export const outerSum = (as: readonly Tensor[], bs: readonly Tensor[], later?: { result(): Data }): Tensor => {
  if (as.length === 0 || as.length !== bs.length) throw new ShapeError("outerSum", [], `needs as many a as b terms (at least one), got ${as.length} and ${bs.length}`);
  const M = as[0]!.shape[1], N = bs[0]!.shape[1];
  as.forEach((a, i) => {
    const b = bs[i]!;
    if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== M || b.shape[1] !== N || a.shape[0] !== b.shape[0])
      throw new ShapeError("outerSum", [a.shape, b.shape], `term ${i}: needs a [R, ${M}] and b [R, ${N}], got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  });
  sameDType("outerSum", [...as.map((_, i) => `as[${i}]`), ...bs.map((_, i) => `bs[${i}]`)], [...as, ...bs]);
  return bind(matmulRules.outerSum, [...as, ...bs], later === undefined ? {} : { later });
};

/**
 * `matmulT(a, b, transA, transB) = op(a) op(b)` over the last two axes (op = transpose when its flag is set),
 * batched and broadcast like `matmul`, for operands of rank >= 2; the transposes are never separate ops.
 */
export const matmulT = (a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor => {
  if (a.shape.length < 2 || b.shape.length < 2) throw new ShapeError("matmul", [a.shape, b.shape], `matmulT needs operands of rank >= 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  sameDType("matmul", ["a", "b"], [a, b]);
  const k1 = mat(a, transA)[1], k2 = mat(b, transB)[0];
  if (k1 !== k2)
    throw new ShapeError("matmul", [a.shape, b.shape], `inner dimensions differ, got ${fmtShape(a.shape)}${transA ? "ᵀ" : ""} and ${fmtShape(b.shape)}${transB ? "ᵀ" : ""} (${k1} vs ${k2})`);
  orThrow(broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2)));
  return bind(matmulRules.matmul, [a, b], { transA, transB });
};

/**
 * `matmul(a, b)`: matrix product over the last two axes, batched and broadcast over leading ones
 * (`[T,B,H] @ [H,V]` works). A 1-D operand is treated as a row (a) or column (b) vector and that axis dropped.
 */
export const matmul = (a: Tensor, b: Tensor): Tensor => {
  expectTensor("matmul", "a", a);
  expectTensor("matmul", "b", b);
  sameDType("matmul", ["a", "b"], [a, b]);
  if (a.shape.length === 0 || b.shape.length === 0) throw new ShapeError("matmul", [a.shape, b.shape], `needs tensors of rank >= 1, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}; use mul for scalars`);
  if (a.shape.length === 1) {
    // [K] @ [..., K, N] drops the row axis; [K] @ [K] (the inner call already dropped b's column axis) is a scalar
    const r = matmul(reshape(a, [1, a.shape[0]!]), b);
    return reshape(r, b.shape.length === 1 ? [] : [...r.shape.slice(0, -2), r.shape[r.shape.length - 1]!]);
  }
  if (b.shape.length === 1) return reshape(matmul(a, reshape(b, [b.shape[0]!, 1])), a.shape.slice(0, -1));
  const k1 = a.shape[a.shape.length - 1], k2 = b.shape[b.shape.length - 2];
  if (k1 !== k2) throw new ShapeError("matmul", [a.shape, b.shape], `inner dimensions differ, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)} (${k1} vs ${k2})`);
  const batch = orThrow(broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2)));
  const out = [...batch, a.shape[a.shape.length - 2]!, b.shape[b.shape.length - 1]!];
  if (sizeOf(out) > MAX_ELEMENTS)
    throw new ShapeError("matmul", [a.shape, b.shape], `the product of ${fmtShape(a.shape)} and ${fmtShape(b.shape)} would have shape ${fmtShape(out)}, ${sizeOf(out)} elements, over the limit of ${MAX_ELEMENTS}`);
  return bind(matmulRules.matmul, [a, b], NN);
};
