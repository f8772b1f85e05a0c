/** Proofs for the reductions (sum, mean, max) and broadcastTo. */
import fc from "fast-check";
import type { Tensor } from "../../core/tensor.js";
import { broadcastTo, max, mean, sum } from "../../autograd/index.js";
import { proveGrad } from "./check.js";
import { arrArb, broadcastableTo, fmt, GRID, propertySuite, range, seedArb, shapeArb, toT, weighted, type Arr, type Domain, type Suite } from "./suite.js";

/** Axis argument of a reduction over a rank-r tensor: all (undefined), one axis, or a set; negatives included. */
export const reduceAxesArb = (rank: number): fc.Arbitrary<number | number[] | undefined> =>
  rank === 0
    ? fc.constantFrom<number[] | undefined>(undefined, [])
    : fc.oneof(
        fc.constant(undefined),
        fc.integer({ min: -rank, max: rank - 1 }),
        fc.uniqueArray(fc.integer({ min: 0, max: rank - 1 }), { minLength: 1, maxLength: rank }).chain((axes) =>
          fc.array(fc.boolean(), { minLength: axes.length, maxLength: axes.length }).map((neg) => axes.map((a, i) => (neg[i] ? a - rank : a))),
        ),
      );

interface ReduceCase {
  readonly x: Arr;
  readonly axis: number | number[] | undefined;
  readonly keepDims: boolean;
  readonly w: number;
}

const reduceCase = (d: Domain): fc.Arbitrary<ReduceCase> =>
  shapeArb(0, 3).chain((s) => fc.record({ x: arrArb(s, d), axis: reduceAxesArb(s.length), keepDims: fc.boolean(), w: seedArb }));

const reduceSuite = (name: string, op: (x: Tensor, axis?: number | number[], keepDims?: boolean) => Tensor, d: Domain, why: string): Suite =>
  propertySuite({
    name,
    family: "reduce",
    description: `vjp of ${name} over random axes (none, one, several, negative), keepDims either way${why}`,
    cases: 40,
    arbitrary: reduceCase(d),
    check: ({ x, axis, keepDims, w }, tol) =>
      proveGrad(`${name} x${fmt(x.shape)} axis=${JSON.stringify(axis) ?? "all"} keepDims=${keepDims}`, (t: Tensor) => weighted(op(t, axis, keepDims), w), [toT(x)], tol),
  });

const broadcastToSuite: Suite = propertySuite({
  name: "broadcastTo",
  family: "reduce",
  description: "vjp of broadcastTo (sums the cotangent over new leading axes and size-1 dims)",
  cases: 40,
  arbitrary: shapeArb(0, 3).chain((out) => broadcastableTo(out).chain((s) => fc.record({ x: arrArb(s, range(-3, 3)), out: fc.constant(out), w: seedArb }))),
  check: ({ x, out, w }, tol) => proveGrad(`broadcastTo x${fmt(x.shape)} → ${fmt(out)}`, (t: Tensor) => weighted(broadcastTo(t, out), w), [toT(x)], tol),
});

export const reduceSuites: readonly Suite[] = [
  reduceSuite("sum", sum, range(-3, 3), ""),
  reduceSuite("mean", mean, range(-3, 3), ""),
  // distinct grid values: the arg-max of every reduced group is unique and 0.04 clear of the runner-up
  reduceSuite("max", max, GRID, "; values distinct so the arg-max is unique"),
  broadcastToSuite,
];
