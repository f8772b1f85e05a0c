/** Proofs for the softmax family: logSumExp, softmax, logSoftmax (each along any axis). */
import fc from "fast-check";
import type { Tensor } from "../../core/tensor.js";
import { logSoftmax, logSumExp, softmax } from "../../autograd/index.js";
import { proveGrad } from "./check.js";
import { arrArb, axisArb, fmt, propertySuite, range, seedArb, shapeArb, toT, weighted, type Arr, type Suite } from "./suite.js";

export interface AxisCase {
  readonly x: Arr;
  readonly axis: number;
  readonly keepDims: boolean;
  readonly w: number;
}

/** A rank 1-3 tensor with values in [-5, 5], an axis (possibly negative) and keepDims. */
export const axisCaseArb: fc.Arbitrary<AxisCase> = shapeArb(1, 3).chain((s) =>
  fc.record({ x: arrArb(s, range(-5, 5)), axis: axisArb(s.length), keepDims: fc.boolean(), w: seedArb }),
);

export const SOFTMAX_OPS: readonly { name: string; op: (x: Tensor, axis: number, keepDims: boolean) => Tensor }[] = [
  { name: "logSumExp", op: (x, axis, keepDims) => logSumExp(x, axis, keepDims) },
  { name: "softmax", op: (x, axis) => softmax(x, axis) },
  { name: "logSoftmax", op: (x, axis) => logSoftmax(x, axis) },
];

export const softmaxSuites: readonly Suite[] = SOFTMAX_OPS.map(({ name, op }) =>
  propertySuite({
    name,
    family: "softmax",
    description: `vjp of ${name} along a random axis with a random cotangent`,
    cases: 40,
    arbitrary: axisCaseArb,
    check: ({ x, axis, keepDims, w }, tol) =>
      proveGrad(`${name} x${fmt(x.shape)} axis=${axis}${name === "logSumExp" ? ` keepDims=${keepDims}` : ""}`, (t: Tensor) => weighted(op(t, axis, keepDims), w), [toT(x)], tol),
  }),
);
