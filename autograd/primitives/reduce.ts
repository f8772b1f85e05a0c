/** Reductions (sum, max), broadcasting (broadcastTo, unbroadcast) and the softmax family built on them. */
import * as K from "../../core/kernels.js";
import { ShapeError, fmtShape } from "../../core/errors.js";
import { broadcastShapes, normAxes, normAxis, orThrow, shapesEqual, validateShape, type Shape } from "../../core/shape.js";
import { dataOf, fromData, scalarLike, type Tensor } from "../../core/tensor.js";
import { bind } from "../tape.js";
import type { RuleTable } from "./table.js";
import { constBinary, expectTensor } from "./operand.js";
import { add, div, mul, sub } from "./binary.js";
import { exp, log } from "./unary.js";
import { reshape } from "./shape.js";

/** The shape a reduction gives, with or without the reduced dims kept as 1. */
const reducedShape = (shape: Shape, axes: readonly number[], keepDims: boolean): number[] =>
  keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));

export const reduceRules = {
  // d sum(x) = broadcast(dy) back over the reduced axes
  sum: {
    name: "sum",
    forward: ([x], { axes, keepDims }) => fromData(K.reduce("sum", dataOf(x!), x!.shape, axes, x!.dtype), reducedShape(x!.shape, axes, keepDims), x!.dtype),
    vjp: (dy, [x], _y, { axes }) => [broadcastTo(reshape(dy, reducedShape(x!.shape, axes, true)), x!.shape)],
  },
  // d max(x) = dy at the arg-max entries, split evenly between ties
  max: {
    name: "max",
    forward: ([x], { axes, keepDims }) => fromData(K.reduce("max", dataOf(x!), x!.shape, axes, x!.dtype), reducedShape(x!.shape, axes, keepDims), x!.dtype),
    vjp: (dy, [x], y, { axes }) => {
      const keep = reducedShape(x!.shape, axes, true);
      const hit = constBinary("equal", x!, reshape(y, keep));
      const count = fromData(K.reduce("sum", dataOf(hit), hit.shape, axes, hit.dtype), keep, hit.dtype);
      return [mul(reshape(dy, keep), constBinary("div", hit, count))];
    },
  },
  // broadcastTo(x, s): d = sum of dy over the broadcast axes
  broadcastTo: {
    name: "broadcastTo",
    forward: ([x], { shape }) => {
      const zero = new Float64Array(1);
      return fromData(K.binary("add", dataOf(x!), x!.shape, zero, [], shape, x!.dtype), shape, x!.dtype);
    },
    vjp: (dy, [x]) => [unbroadcast(dy, x!.shape)],
  },
} satisfies Pick<RuleTable, "sum" | "max" | "broadcastTo">;

/** `sum(x, axis?, keepDims = false)`: Σ over `axis` (all axes when omitted). */
export const sum = (x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor => {
  expectTensor("sum", "x", x);
  const axes = orThrow(normAxes("sum", axis, x.shape));
  return bind(reduceRules.sum, [x], { axes, keepDims });
};

/** `max(x, axis?, keepDims = false)`: the largest entry over `axis` (all axes when omitted); ties share the gradient. */
export const max = (x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor => {
  expectTensor("max", "x", x);
  const axes = orThrow(normAxes("max", axis, x.shape));
  for (const a of axes) if (x.shape[a] === 0) throw new ShapeError("max", [x.shape], `cannot take the max over axis ${a} of size 0 (shape ${fmtShape(x.shape)})`);
  return bind(reduceRules.max, [x], { axes, keepDims });
};

/** `mean(x, axis?, keepDims = false) = sum(x, axis) / n` */
export const mean = (x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor => {
  expectTensor("mean", "x", x);
  const axes = orThrow(normAxes("mean", axis, x.shape));
  const n = axes.reduce((p, a) => p * x.shape[a]!, 1);
  return div(sum(x, axes, keepDims), n);
};

/** `broadcastTo(x, shape)`: `x` repeated along broadcast dimensions (NumPy rules). */
export const broadcastTo = (x: Tensor, shape: readonly number[]): Tensor => {
  expectTensor("broadcastTo", "x", x);
  const s = orThrow(validateShape("broadcastTo", shape));
  const b = orThrow(broadcastShapes("broadcastTo", x.shape, s));
  if (!shapesEqual(b, s)) throw new ShapeError("broadcastTo", [x.shape, s], `cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(s)}`);
  return shapesEqual(x.shape, s) ? x : bind(reduceRules.broadcastTo, [x], { shape: s });
};

/** Sums a broadcast cotangent back to `shape`: over leading extra axes and axes where `shape` has 1. */
export const unbroadcast = (dx: Tensor, shape: Shape): Tensor => {
  if (shapesEqual(dx.shape, shape)) return dx;
  const lead = dx.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dx.shape.length; i++) if (i < lead || (shape[i - lead] === 1 && dx.shape[i] !== 1)) axes.push(i);
  const s = axes.length ? sum(dx, axes, true) : dx;
  return reshape(s, shape);
};

/** A constant max over `axis` with non-finite values replaced by 0, for shifting before exp. */
const stableShift = (x: Tensor, axis: number): Tensor => {
  const m = K.reduce("max", dataOf(x), x.shape, [axis], x.dtype);
  for (let i = 0; i < m.length; i++) if (!Number.isFinite(m[i]!)) m[i] = 0; // m is ours until wrapped
  return fromData(m, reducedShape(x.shape, [axis], true), x.dtype);
};

/** `logSumExp(x, axis = -1, keepDims = false) = log Σ exp(x)`, shifted by the max so it never overflows. */
export const logSumExp = (x: Tensor, axis = -1, keepDims = false): Tensor => {
  expectTensor("logSumExp", "x", x);
  const ax = orThrow(normAxis("logSumExp", axis, x.shape.length, x.shape));
  const m = stableShift(x, ax); // a constant: the gradient of lse does not depend on the shift
  const out = add(log(sum(exp(sub(x, m)), ax, true)), m);
  return keepDims ? out : reshape(out, reducedShape(x.shape, [ax], false));
};

/** `logSoftmax(x, axis = -1) = x - logSumExp(x) = (x - max) - log Σ exp(x - max)` */
export const logSoftmax = (x: Tensor, axis = -1): Tensor => {
  expectTensor("logSoftmax", "x", x);
  const ax = orThrow(normAxis("logSoftmax", axis, x.shape.length, x.shape));
  // Subtract from the shifted logits, not from x: x - logSumExp(x) cancels at large logits (float32 at 1e4
  // lost 2e-4, three orders of magnitude over its precision); the max is a constant, so the gradient is unchanged.
  const shifted = sub(x, stableShift(x, ax));
  return sub(shifted, log(sum(exp(shifted), ax, true)));
};

/** `softmax(x, axis = -1) = exp(x - max) / Σ exp(x - max)` */
export const softmax = (x: Tensor, axis = -1): Tensor => {
  expectTensor("softmax", "x", x);
  const ax = orThrow(normAxis("softmax", axis, x.shape.length, x.shape));
  const e = exp(sub(x, stableShift(x, ax)));
  return div(e, sum(e, ax, true));
};

/** Index of the largest entry along the last axis, as a tensor of integers in x's dtype (no gradient). */
export const argmax = (x: Tensor): Tensor => {
  expectTensor("argmax", "x", x);
  if (x.shape.length === 0) return scalarLike(0, x.dtype);
  const n = x.shape[x.shape.length - 1]!;
  if (n === 0) throw new ShapeError("argmax", [x.shape], "the last axis has size 0");
  const rows = x.size / n;
  const idx = K.argmaxLast(dataOf(x), rows, n);
  const d = x.dtype === "float64" ? Float64Array.from(idx) : Float32Array.from(idx);
  return fromData(d, x.shape.slice(0, -1), x.dtype);
};

