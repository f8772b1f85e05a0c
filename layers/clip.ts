/**
 * Gradient clipping over whole parameter trees: the global norm, rescaling to a maximum global norm (the
 * course's remedy for exploding gradients), and elementwise clipping to a range.
 */
import { ArgumentError } from "../core/errors.js";
import { describe } from "../core/shape.js";
import { dataOf, scalarLike, type DType, type Tensor } from "../core/tensor.js";
import { cast, sqrt } from "../autograd/primitives/unary.js";
import { add, clip, div, maximum, mul } from "../autograd/primitives/binary.js";
import { sum } from "../autograd/primitives/reduce.js";
import { assertTensorTree, flatten, map, type Tree } from "../autograd/tree.js";

/** The common dtype of a tree's leaves: theirs when they agree, float64 when they are mixed, float32 when empty. */
const commonDType = (ls: readonly Tensor[]): DType => {
  if (ls.length === 0) return "float32";
  const d = ls[0]!.dtype;
  return ls.every((t) => t.dtype === d) ? d : "float64";
};

/**
 * `globalNorm(tree) = sqrt(Σ_leaves Σ g²)`, a scalar tensor. Computed as `m · sqrt(Σ (g/m)²)` with `m` the
 * largest |g| (a constant), so float32 gradients as large as 1e30 do not overflow to Inf.
 */
export const globalNorm = (tree: Tree): Tensor => {
  assertTensorTree("globalNorm", "tree", tree);
  const ls = flatten(tree).leaves;
  const dtype = commonDType(ls);
  let m = 0;
  for (const t of ls) {
    const d = dataOf(t);
    for (let i = 0; i < d.length; i++) if (Math.abs(d[i]!) > m) m = Math.abs(d[i]!);
  }
  if (m === 0 || !Number.isFinite(m)) m = 1; // all zeros: nothing to rescale; Inf and NaN propagate through the sum
  const scale = scalarLike(m, dtype);
  let total: Tensor = scalarLike(0, dtype);
  for (const t of ls) {
    const g = t.dtype === dtype ? t : cast(t, dtype);
    const r = div(g, scale);
    total = add(total, sum(mul(r, r)));
  }
  return mul(sqrt(total), scale);
};

const checkPositive = (op: string, name: string, v: unknown): number => {
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) throw new ArgumentError(op, name, `must be a positive finite number, got ${describe(v)}`);
  return v;
};

/**
 * `clipByGlobalNorm(tree, c) => [tree · c / max(‖tree‖, c), ‖tree‖]`: bounds the global norm by `c` and keeps
 * the direction. When `‖tree‖ <= c` the same tree (same tensors) comes back.
 */
export const clipByGlobalNorm = <T extends Tree>(tree: T, maxNorm: number): [T, Tensor] => {
  checkPositive("clipByGlobalNorm", "maxNorm", maxNorm);
  const norm = globalNorm(tree);
  const n = norm.item();
  if (n <= maxNorm) return [tree, norm];
  // n > maxNorm here (or n is NaN, which then propagates): scale = c / max(n, c) as a differentiable tensor
  const scale = div(scalarLike(maxNorm, norm.dtype), maximum(norm, maxNorm));
  const clipped = map((g: Tensor) => mul(g, g.dtype === scale.dtype ? scale : cast(scale, g.dtype)), tree) as T;
  return [clipped, norm];
};

/** `clipByValue(tree, lo, hi) = min(max(g, lo), hi)` on every leaf. */
export const clipByValue = <T extends Tree>(tree: T, lo: number, hi: number): T => {
  const op = "clipByValue";
  assertTensorTree(op, "tree", tree);
  if (typeof lo !== "number" || Number.isNaN(lo)) throw new ArgumentError(op, "lo", `must be a number, got ${describe(lo)}`);
  if (typeof hi !== "number" || Number.isNaN(hi)) throw new ArgumentError(op, "hi", `must be a number, got ${describe(hi)}`);
  if (lo > hi) throw new ArgumentError(op, "lo", `(${lo}) must not exceed hi (${hi})`);
  return map((g: Tensor) => clip(g, lo, hi), tree) as T;
};
