/** Proofs for matmul: batched over leading dims with broadcasting, and 1-D operands. */
import fc from "fast-check";
import type { Tensor } from "../../core/tensor.js";
import { matmul } from "../../autograd/index.js";
import { proveGrad } from "./check.js";
import { arrArb, broadcastableTo, fmt, propertySuite, range, seedArb, shapeArb, type Arr, type Suite } from "./suite.js";
import { toT, weighted } from "./suite.js";

export interface MatmulCase {
  readonly a: Arr;
  readonly b: Arr;
  readonly w: number;
}

/** a [...Ba, M, K] (or [K]) and b [...Bb, K, N] (or [K]) where Ba and Bb broadcast together. */
export const matmulCaseArb: fc.Arbitrary<MatmulCase> = fc
  .record({
    m: fc.integer({ min: 1, max: 4 }),
    k: fc.integer({ min: 1, max: 4 }),
    n: fc.integer({ min: 1, max: 4 }),
    batch: shapeArb(0, 2, 3),
    aVec: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 }),
    bVec: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 }),
  })
  .chain(({ m, k, n, batch, aVec, bVec }) =>
    fc.tuple(broadcastableTo(batch), broadcastableTo(batch)).chain(([ba, bb]) =>
      fc.record({
        a: arrArb(aVec ? [k] : [...ba, m, k], range(-2, 2)),
        b: arrArb(bVec ? [k] : [...bb, k, n], range(-2, 2)),
        w: seedArb,
      }),
    ),
  );

export const matmulSuites: readonly Suite[] = [
  propertySuite({
    name: "matmul",
    family: "matmul",
    description: "vjp of matmul for both operands: batched, broadcast batch dims, 1-D operands",
    cases: 40,
    arbitrary: matmulCaseArb,
    check: ({ a, b, w }, tol) => proveGrad(`matmul ${fmt(a.shape)} @ ${fmt(b.shape)}`, (x: Tensor, y: Tensor) => weighted(matmul(x, y), w), [toT(a), toT(b)], tol),
  }),
];
