/**
 * Losses, computed from logits so they stay finite at any logit: softmax cross-entropy via log-sum-exp,
 * the logistic (binary) loss in its `max(z, 0) - z y + log(1 + e^{-|z|})` form, and the course's sequence
 * loss `L = Σ_t L<t>` with a mask for padded steps.
 */
import { ArgumentError, ShapeError, fmtShape } from "../core/errors.js";
import { describe, shapesEqual, sizeOf, type Shape } from "../core/shape.js";
import { allocData, dataOf, fromData, isTensor, tensor, type DType, type NestedArray, type Tensor } from "../core/tensor.js";
import { abs, cast, exp, log, neg } from "../autograd/primitives/unary.js";
import { add, clip, maximum, mul, sub, where } from "../autograd/primitives/binary.js";
import { logSoftmax, mean, sum } from "../autograd/primitives/reduce.js";
import { expandDims } from "../autograd/primitives/shape.js";
import { expectTensor } from "../autograd/primitives/operand.js";
import { softmaxCrossEntropyIndices } from "../autograd/primitives/fused.js";

/** Class indices (integers) or a probability distribution: a Tensor, an Int32Array or nested arrays of numbers. */
export type LossTargets = Tensor | Int32Array | NestedArray | readonly unknown[];

/** Flat numbers and shape of a targets/mask argument given as a tensor, typed array, number or nested arrays. */
const flatOf = (op: string, name: string, v: unknown): { flat: ArrayLike<number>; shape: number[] } => {
  if (isTensor(v)) return { flat: dataOf(v), shape: v.shape.slice() };
  if (v instanceof Int32Array || v instanceof Float32Array || v instanceof Float64Array || v instanceof Uint8Array) return { flat: v, shape: [v.length] };
  if (typeof v === "number" || typeof v === "boolean") return { flat: [Number(v)], shape: [] };
  if (Array.isArray(v)) {
    const shape: number[] = [];
    let p: unknown = v;
    while (Array.isArray(p)) {
      shape.push(p.length);
      p = p[0];
    }
    const flat = (v as unknown[]).flat(Infinity) as unknown[];
    if (flat.length !== sizeOf(shape)) throw new ShapeError(op, [shape], `${name} is ragged nested arrays (first row suggests shape ${fmtShape(shape)})`);
    return { flat: flat.map((x) => (typeof x === "boolean" ? Number(x) : (x as number))), shape };
  }
  throw new ArgumentError(op, name, `must be a Tensor, an Int32Array or nested arrays of numbers, got ${describe(v)}`);
};

/**
 * Integer class indices of shape `shape`, each in [0, depth); entries where `keep` is 0 are ignored (set to
 * -1, so padded steps may hold any placeholder target).
 */
const classIndices = (op: string, targets: unknown, depth: number, shape: Shape, keep?: ArrayLike<number>): Int32Array => {
  const { flat, shape: got } = flatOf(op, "targets", targets);
  if (!shapesEqual(got, shape))
    throw new ShapeError(op, [shape, got], `targets have shape ${fmtShape(got)}; class indices need shape ${fmtShape(shape)} (the logits' shape without its last axis), a distribution needs the logits' own shape`);
  const idx = new Int32Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    if (keep && keep[i] === 0) {
      idx[i] = -1;
      continue;
    }
    const v = flat[i]!;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= depth)
      throw new ArgumentError(op, "targets", `entry ${i} is ${describe(v)}; a class index must be an integer in [0, ${depth})`);
    idx[i] = v;
  }
  return idx;
};

/** Probability targets as a tensor in the logits' dtype (targets are data: they are cast, not rejected). */
const asDistribution = (t: Tensor, dtype: DType): Tensor => (t.dtype === dtype ? t : cast(t, dtype));

const isDistribution = (targets: unknown, logitsShape: Shape): boolean => {
  if (isTensor(targets)) return shapesEqual(targets.shape, logitsShape);
  if (!Array.isArray(targets)) return false;
  const shape: number[] = [];
  let p: unknown = targets;
  while (Array.isArray(p)) {
    shape.push(p.length);
    p = p[0];
  }
  return shapesEqual(shape, logitsShape);
};

const checkLogits = (op: string, logits: unknown): Tensor => {
  const z = expectTensor(op, "logits", logits);
  if (z.shape.length === 0) throw new ShapeError(op, [z.shape], "logits must have a class axis (rank >= 1), got a scalar");
  if (z.shape[z.shape.length - 1] === 0) throw new ShapeError(op, [z.shape], `logits ${fmtShape(z.shape)} have no classes (last axis of size 0)`);
  return z;
};

/**
 * Cross-entropy per row, `-Σ_k y_k log softmax(z)_k`; `keep` (flat 0/1 over rows) marks rows whose indices are ignored.
 * Class indices take the fused primitive (`logSumExp(z) - z_y`, one pass forward and one backward, ignored rows 0 with
 * gradient exactly 0); it equals the composed one-hot form to rounding (`tests/layers/losses.test.ts`).
 */
const crossEntropy = (op: string, z: Tensor, targets: LossTargets, keep?: ArrayLike<number>): Tensor => {
  if (isDistribution(targets, z.shape)) {
    const y = asDistribution(isTensor(targets) ? targets : tensor(targets as NestedArray, { dtype: z.dtype }), z.dtype);
    return neg(sum(mul(y, logSoftmax(z, -1)), -1));
  }
  const V = z.shape[z.shape.length - 1]!;
  return softmaxCrossEntropyIndices(z, classIndices(op, targets, V, z.shape.slice(0, -1), keep));
};

/**
 * `softmaxCrossEntropy(z, y) = -Σ_k y_k log softmax(z)_k = logSumExp(z) - z_y` per example, shape `z.shape[:-1]`.
 * `targets` are class indices of shape `z.shape[:-1]` or a distribution of `z`'s shape; ∂L/∂z = ŷ - y.
 */
export const softmaxCrossEntropy = (logits: Tensor, targets: LossTargets): Tensor => crossEntropy("softmaxCrossEntropy", checkLogits("softmaxCrossEntropy", logits), targets);

export interface BinaryCrossEntropyOptions {
  /** `true` (default): the first argument holds logits z; `false`: it holds probabilities p in [0, 1]. */
  fromLogits?: boolean;
  /** Probabilities are clamped to [eps, 1 - eps] before the log (only when fromLogits is false). Default 1e-7. */
  eps?: number;
}

/**
 * `binaryCrossEntropy(z, y) = max(z, 0) - z y + log(1 + e^{-|z|})` per element (= -y log σ(z) - (1-y) log(1-σ(z)),
 * finite at any z, ∂L/∂z = σ(z) - y); with `fromLogits: false`, `-y log p - (1-y) log(1-p)` with p clamped to [eps, 1-eps].
 */
export const binaryCrossEntropy = (logitsOrProbs: Tensor, targets: Tensor | NestedArray, options: BinaryCrossEntropyOptions = {}): Tensor => {
  const op = "binaryCrossEntropy";
  const x = expectTensor(op, "logitsOrProbs", logitsOrProbs);
  const { fromLogits = true, eps = 1e-7 } = options;
  if (typeof fromLogits !== "boolean") throw new ArgumentError(op, "option fromLogits", `must be a boolean, got ${describe(fromLogits)}`);
  let y: Tensor;
  if (isTensor(targets)) y = asDistribution(targets, x.dtype);
  else if (typeof targets === "number" || Array.isArray(targets)) y = tensor(targets, { dtype: x.dtype });
  else throw new ArgumentError(op, "targets", `must be a Tensor or nested arrays of numbers, got ${describe(targets)}`);
  if (!shapesEqual(y.shape, x.shape))
    throw new ShapeError(op, [x.shape, y.shape], `targets have shape ${fmtShape(y.shape)} but ${fromLogits ? "logits" : "probabilities"} have ${fmtShape(x.shape)}; they must match`);
  if (fromLogits) {
    // softplus(z) - z y, with softplus(z) = max(z, 0) + log(1 + e^{-|z|}): the exp never overflows.
    // At z = 0 maximum splits the tie (1/2) and |z|' is 0, so the gradient there is still σ(0) - y.
    return add(sub(maximum(x, 0), mul(x, y)), log(add(exp(neg(abs(x))), 1)));
  }
  if (typeof eps !== "number" || !(eps > 0 && eps < 0.5)) throw new ArgumentError(op, "option eps", `must be a number in (0, 0.5), got ${describe(eps)}`);
  const p = dataOf(x);
  for (let i = 0; i < p.length; i++)
    if (!(p[i]! >= 0 && p[i]! <= 1))
      throw new ArgumentError(op, "logitsOrProbs", `entry ${i} is ${p[i]}, not a probability in [0, 1] (pass logits with fromLogits: true, which is also more accurate)`);
  // The clamp keeps log finite at p = 0 or 1; outside [eps, 1-eps] the gradient w.r.t. p is 0.
  const pc = clip(x, eps, 1 - eps);
  return neg(add(mul(y, log(pc)), mul(sub(1, y), log(sub(1, pc)))));
};

export type LossReduction = "mean" | "sum" | "none";

export interface SequenceLossOptions {
  /** Over the batch, after summing over time: 'mean' (default) = Σ_b Σ_t / B, 'sum' = Σ_b Σ_t, 'none' = per sequence [B]. */
  reduction?: LossReduction;
}

/**
 * `sequenceLoss(z, y, mask) = (1/B) Σ_b Σ_t m<t>_b L<t>_b` (reduction 'mean'), where L<t> is the softmax cross-entropy of
 * step t: the course's `L = Σ_t L<t>` per sequence, averaged over the batch ('sum' adds, 'none' returns the [B] sums).
 * Masked steps (m = 0) contribute exactly 0 to the value and gradient, whatever their logits or targets hold.
 */
export const sequenceLoss = (logits: Tensor, targets: LossTargets, mask?: Tensor | NestedArray, options: SequenceLossOptions = {}): Tensor => {
  const op = "sequenceLoss";
  const z = expectTensor(op, "logits", logits);
  if (z.shape.length !== 3) throw new ShapeError(op, [z.shape], `logits must be time-major [T, B, V], got ${fmtShape(z.shape)}`);
  checkLogits(op, z);
  const { reduction = "mean" } = options;
  if (reduction !== "mean" && reduction !== "sum" && reduction !== "none")
    throw new ArgumentError(op, "option reduction", `must be 'mean', 'sum' or 'none', got ${describe(reduction)}`);
  const tb = z.shape.slice(0, 2);
  let perStep: Tensor;
  if (mask === undefined || mask === null) perStep = crossEntropy(op, z, targets);
  else {
    const { flat, shape } = flatOf(op, "mask", mask);
    if (!shapesEqual(shape, tb)) throw new ShapeError(op, [tb, shape], `mask has shape ${fmtShape(shape)} but logits ${fmtShape(z.shape)} need a [T, B] mask ${fmtShape(tb)}`);
    const m = allocData(z.dtype, flat.length);
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i]!;
      if (v !== 0 && v !== 1) throw new ArgumentError(op, "mask", `entry ${i} is ${describe(v)}; a mask holds 0 (padding) or 1 (a real step)`);
      m[i] = v;
    }
    const mt = fromData(m, tb, z.dtype);
    // Zero the logits of padded steps first (where, not mul: no 0·NaN), so their gradient is exactly 0 even if they are not finite;
    // targets of padded steps are ignored, so any placeholder index is fine there.
    // (The outer where is for distribution targets: index targets of padded steps are ignored rows, already 0.)
    const zm = where(expandDims(mt, -1), z, 0);
    perStep = where(mt, crossEntropy(op, zm, targets, m), 0);
  }
  const perSequence = sum(perStep, 0); // L = Σ_t L<t>, shape [B]
  return reduction === "none" ? perSequence : reduction === "sum" ? sum(perSequence) : mean(perSequence);
};
