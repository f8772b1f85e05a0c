/**
 * Second-order proofs for the smooth primitives: the Hessian-vector product of `Σ op(x) ⊙ w` (computed by
 * differentiating the VJP rules, which are written with differentiable ops) against finite differences of
 * the first derivative. Same cases and tolerance as the first-order suites.
 */
import fc from "fast-check";
import type { Tensor } from "../../core/tensor.js";
import { div, exp, log, logSoftmax, logSumExp, matmul, mul, pow, sigmoid, softmax, sqrt, tanh } from "../../autograd/index.js";
import { proveGrad2 } from "./check.js";
import { awayFromZero, broadcastShapesArb, fmt, propertySuite, range, seedArb, shapeArb, sizeOfShape, tensorArb, toT, valuesArb, weighted, type Arr, type Domain, type Suite } from "./suite.js";
import { axisCaseArb } from "./softmax.js";
import { matmulCaseArb } from "./matmul.js";

const CASES = 20;

const unary2 = (name: string, op: (x: Tensor) => Tensor, d: Domain): Suite =>
  propertySuite({
    name: `${name} (2nd order)`,
    family: "second-order",
    description: `Hessian-vector product of ${name}`,
    cases: CASES,
    arbitrary: fc.record({ x: tensorArb(shapeArb(0, 3), d), w: seedArb }),
    check: ({ x, w }, tol) => proveGrad2(`${name}'' x${fmt(x.shape)}`, (t: Tensor) => weighted(op(t), w), [toT(x)], tol),
  });

const binary2 = (name: string, op: (a: Tensor, b: Tensor) => Tensor, da: Domain, db: Domain): Suite =>
  propertySuite({
    name: `${name} (2nd order)`,
    family: "second-order",
    description: `Hessian-vector product of ${name} in both operands (cross terms included), broadcasting`,
    cases: CASES,
    arbitrary: fc.record({ shapes: broadcastShapesArb(2), w: seedArb }).chain(({ shapes, w }) =>
      fc.record({
        a: valuesArb(sizeOfShape(shapes[0]!), da).map((values): Arr => ({ shape: shapes[0]!, values })),
        b: valuesArb(sizeOfShape(shapes[1]!), db).map((values): Arr => ({ shape: shapes[1]!, values })),
        w: fc.constant(w),
      }),
    ),
    check: ({ a, b, w }, tol) => proveGrad2(`${name}'' a${fmt(a.shape)} b${fmt(b.shape)}`, (x: Tensor, y: Tensor) => weighted(op(x, y), w), [toT(a), toT(b)], tol),
  });

export const secondOrderSuites: readonly Suite[] = [
  unary2("exp", exp, range(-3, 3)),
  unary2("log", log, range(0.1, 5)),
  unary2("sqrt", sqrt, range(0.1, 5)),
  unary2("tanh", tanh, range(-3, 3)),
  unary2("sigmoid", sigmoid, range(-5, 5)),
  binary2("mul", mul, range(-3, 3), range(-3, 3)),
  binary2("div", div, range(-3, 3), awayFromZero(0.3, 3)),
  binary2("pow", pow, range(0.2, 3), range(-2, 2)),
  propertySuite({
    name: "matmul (2nd order)",
    family: "second-order",
    description: "Hessian-vector product of matmul (bilinear: only cross terms), batched and 1-D",
    cases: CASES,
    arbitrary: matmulCaseArb,
    check: ({ a, b, w }, tol) => proveGrad2(`matmul'' ${fmt(a.shape)} @ ${fmt(b.shape)}`, (x: Tensor, y: Tensor) => weighted(matmul(x, y), w), [toT(a), toT(b)], tol),
  }),
  ...[
    { name: "logSumExp", op: (x: Tensor, axis: number, keepDims: boolean) => logSumExp(x, axis, keepDims) },
    { name: "softmax", op: (x: Tensor, axis: number) => softmax(x, axis) },
    { name: "logSoftmax", op: (x: Tensor, axis: number) => logSoftmax(x, axis) },
  ].map(({ name, op }) =>
    propertySuite({
      name: `${name} (2nd order)`,
      family: "second-order",
      description: `Hessian-vector product of ${name} along a random axis`,
      cases: CASES,
      arbitrary: axisCaseArb,
      check: ({ x, axis, keepDims, w }, tol) => proveGrad2(`${name}'' x${fmt(x.shape)} axis=${axis}`, (t: Tensor) => weighted(op(t, axis, keepDims), w), [toT(x)], tol),
    }),
  ),
];
