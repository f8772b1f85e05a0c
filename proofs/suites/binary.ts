/** Proofs for the broadcasting binary primitives (add sub mul div pow maximum minimum), where, and clip. */
import fc from "fast-check";
import type { Tensor } from "../../core/tensor.js";
import { add, clip, div, maximum, minimum, mul, pow, sub, where } from "../../autograd/index.js";
import { proveGrad } from "./check.js";
import {
  arrArb, awayFromZero, broadcastShapesArb, fmt, GRID, propertySuite, range, seedArb, shapeArb, sizeOfShape, tensorArb, toT, valuesArb, weighted,
  type Arr, type Domain, type Suite,
} from "./suite.js";

interface BinaryOp {
  readonly name: string;
  readonly op: (a: Tensor | number, b: Tensor | number) => Tensor;
  readonly a: Domain;
  readonly b: Domain;
  /** Draw a and b from one pool of distinct grid values, so a = b (a kink) never happens, even after broadcasting. */
  readonly distinct?: boolean;
}

export const BINARY_OPS: readonly BinaryOp[] = [
  { name: "add", op: add, a: range(-3, 3), b: range(-3, 3) },
  { name: "sub", op: sub, a: range(-3, 3), b: range(-3, 3) },
  { name: "mul", op: mul, a: range(-3, 3), b: range(-3, 3) },
  { name: "div", op: div, a: range(-3, 3), b: awayFromZero(0.3, 3) },
  { name: "pow", op: pow, a: range(0.2, 3), b: range(-2, 2) },
  { name: "maximum", op: maximum, a: GRID, b: GRID, distinct: true },
  { name: "minimum", op: minimum, a: GRID, b: GRID, distinct: true },
];

interface BinaryCase {
  readonly a: Arr;
  readonly b: Arr;
  /** b passed as a JS number (a scalar in a's dtype); then only a is differentiated. */
  readonly bNumber: boolean;
  readonly w: number;
}

const binaryCase = (o: BinaryOp): fc.Arbitrary<BinaryCase> =>
  fc.record({ shapes: broadcastShapesArb(2), bNumber: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }), w: seedArb }).chain(({ shapes, bNumber, w }) => {
    const [sa, sb] = [shapes[0]!, bNumber ? [] : shapes[1]!];
    const na = sizeOfShape(sa), nb = sizeOfShape(sb);
    const vals = o.distinct
      ? valuesArb(na + nb, GRID).map((v) => [v.slice(0, na), v.slice(na)] as const)
      : fc.tuple(valuesArb(na, o.a), valuesArb(nb, o.b));
    return vals.map(([va, vb]) => ({ a: { shape: sa, values: va }, b: { shape: sb, values: vb }, bNumber, w }));
  });

const binarySuite = (o: BinaryOp): Suite =>
  propertySuite({
    name: o.name,
    family: "binary",
    description: `vjp of ${o.name} for both operands, broadcasting across ranks and size-1 dims, or with a JS-number operand`,
    cases: 40,
    arbitrary: binaryCase(o),
    check: ({ a, b, bNumber, w }, tol) =>
      bNumber
        ? proveGrad(`${o.name} a${fmt(a.shape)} b=${b.values[0]}`, (x: Tensor) => weighted(o.op(x, b.values[0]!), w), [toT(a)], tol)
        : proveGrad(`${o.name} a${fmt(a.shape)} b${fmt(b.shape)}`, (x: Tensor, y: Tensor) => weighted(o.op(x, y), w), [toT(a), toT(b)], tol),
  });

/** where(cond, a, b) with all three operands broadcasting; cond is a 0/1 mask and gets no gradient. */
const whereSuite: Suite = propertySuite({
  name: "where",
  family: "binary",
  description: "vjp of where for both branches, condition/branches broadcasting",
  cases: 40,
  arbitrary: fc
    .record({ shapes: broadcastShapesArb(3), w: seedArb })
    .chain(({ shapes, w }) =>
      fc.record({
        c: fc.array(fc.boolean(), { minLength: sizeOfShape(shapes[0]!), maxLength: sizeOfShape(shapes[0]!) }).map((bs) => ({ shape: shapes[0]!, values: bs.map(Number) })),
        a: arrArb(shapes[1]!, range(-3, 3)),
        b: arrArb(shapes[2]!, range(-3, 3)),
        w: fc.constant(w),
      }),
    ),
  check: ({ c, a, b, w }, tol) => {
    const cond = toT(c);
    return proveGrad(`where c${fmt(c.shape)} a${fmt(a.shape)} b${fmt(b.shape)}`, (x: Tensor, y: Tensor) => weighted(where(cond, x, y), w), [toT(a), toT(b)], tol);
  },
});

/**
 * clip(x, lo, hi) with bounds at odd multiples of half the grid step, so no x sits on a bound (the kinks):
 * every x is at least 0.02 from lo and hi.
 */
const clipSuite: Suite = propertySuite({
  name: "clip",
  family: "binary",
  description: "vjp of clip(x, lo, hi) with number bounds, x away from the bounds",
  cases: 40,
  arbitrary: fc.record({
    x: tensorArb(shapeArb(0, 3), GRID),
    bounds: fc.tuple(fc.integer({ min: -60, max: 60 }), fc.integer({ min: 1, max: 80 })),
    w: seedArb,
  }),
  check: ({ x, bounds: [k, width], w }, tol) => {
    const lo = (k + 0.5) * 0.04, hi = (k + width + 0.5) * 0.04;
    return proveGrad(`clip x${fmt(x.shape)} [${lo.toFixed(2)}, ${hi.toFixed(2)}]`, (t: Tensor) => weighted(clip(t, lo, hi), w), [toT(x)], tol);
  },
});

export const binarySuites: readonly Suite[] = [...BINARY_OPS.map(binarySuite), whereSuite, clipSuite];
