/** Batched matrix multiplication with broadcasting over leading dimensions. */
import * as K from "../../core/kernels.js";
import { ShapeError, fmtShape } from "../../core/errors.js";
import { MAX_ELEMENTS, broadcastShapes, orThrow, sizeOf, stridesOf, type Shape } from "../../core/shape.js";
import { allocData, dataOf, fromData, type Tensor } from "../../core/tensor.js";
import { bind, sameDType } from "../tape.js";
import type { RuleTable } from "./table.js";
import { expectTensor } from "./operand.js";
import { unbroadcast } from "./reduce.js";
import { reshape, transpose } from "./shape.js";

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

const swapLast = (x: Tensor): Tensor => {
  const r = x.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(x, perm);
};

export const matmulRules = {
  // C = A B: dA = dC Bᵀ, dB = Aᵀ dC, each summed over broadcast batch dims
  matmul: {
    name: "matmul",
    forward: ([a, b]) => {
      const M = a!.shape[a!.shape.length - 2]!, Kd = a!.shape[a!.shape.length - 1]!, N = b!.shape[b!.shape.length - 1]!;
      const aB = a!.shape.slice(0, -2), bB = b!.shape.slice(0, -2);
      const outB = orThrow(broadcastShapes("matmul", aB, bB));
      const batches = sizeOf(outB);
      // zero-size output: skip the batch maps, which would be as long as a possibly huge batch count
      if (batches * M * N === 0) return fromData(allocData(a!.dtype, 0), [...outB, M, N], a!.dtype);
      const data = K.matmul(dataOf(a!), dataOf(b!), M, Kd, N, batches, batchMap(outB, aB), batchMap(outB, bB), a!.dtype);
      return fromData(data, [...outB, M, N], a!.dtype);
    },
    vjp: (dy, [a, b], _y, _p, n) => [
      n[0] ? unbroadcast(matmul(dy, swapLast(b!)), a!.shape) : null,
      n[1] ? unbroadcast(matmul(swapLast(a!), dy), b!.shape) : null,
    ],
  },
} satisfies Pick<RuleTable, "matmul">;

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
  return bind(matmulRules.matmul, [a, b], {});
};
