import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor, type Tensor } from "../../core/tensor.js";
import { bernoulli, categorical, randomKey } from "../../core/random.js";
import * as A from "../../autograd/index.js";

// Typed arrays cannot be frozen, so immutability is a tested property: for every public op, random inputs keep
// their shape and every value after the op runs, after grad differentiates through it, and after its pullback
// runs (which must not write into the cotangent either); the op's own output does not change during backward.

interface Case {
  readonly name: string;
  /** Input shapes derived from a random base shape (rank 1..3, dims 1..4). */
  readonly shapes: (s: number[]) => number[][];
  readonly run: (...xs: Tensor[]) => Tensor;
  /** Values for the inputs (default: uniform-ish doubles in [0.25, 2], valid for log, sqrt and pow). */
  readonly values?: fc.Arbitrary<number>;
}

const same = (s: number[]) => [s];
const pair = (s: number[]) => [s, s];
const last = (s: number[]) => [s, [s[s.length - 1]!]];
const key = randomKey(5);

const cases: Case[] = [
  ...(["neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "square"] as const).map((n) => ({ name: n, shapes: same, run: (x: Tensor) => A[n](x) })),
  { name: "cast", shapes: same, run: (x) => A.cast(x, "float32") },
  ...(["add", "sub", "mul", "div", "pow", "maximum", "minimum", "greater", "greaterEqual", "less", "lessEqual", "equal"] as const).map((n) => ({
    name: n,
    shapes: pair,
    run: (x: Tensor, y: Tensor) => A[n](x, y),
  })),
  { name: "add (broadcast)", shapes: last, run: (x, y) => A.add(x, y) },
  { name: "mul (broadcast)", shapes: last, run: (x, y) => A.mul(y, x) },
  { name: "mul (same tensor twice)", shapes: same, run: (x) => A.mul(x, x) },
  { name: "where", shapes: (s) => [s, s, s], run: (c, x, y) => A.where(A.greater(c!, 1), x!, y!) },
  { name: "clip", shapes: same, run: (x) => A.clip(x, 0.5, 1.5) },
  { name: "sum", shapes: same, run: (x) => A.sum(x) },
  { name: "sum (axis, keepDims)", shapes: same, run: (x) => A.sum(x, -1, true) },
  { name: "mean", shapes: same, run: (x) => A.mean(x, 0) },
  { name: "max", shapes: same, run: (x) => A.max(x, -1) },
  { name: "broadcastTo", shapes: same, run: (x) => A.broadcastTo(x, [2, ...x.shape]) },
  { name: "logSumExp", shapes: same, run: (x) => A.logSumExp(x) },
  { name: "softmax", shapes: same, run: (x) => A.softmax(x) },
  { name: "logSoftmax", shapes: same, run: (x) => A.logSoftmax(x, 0) },
  { name: "argmax", shapes: same, run: (x) => A.argmax(x) },
  { name: "reshape", shapes: same, run: (x) => A.reshape(x, [-1]) },
  { name: "transpose", shapes: same, run: (x) => A.transpose(x) },
  { name: "slice", shapes: same, run: (x) => A.slice(x, x.shape.map((d) => (d > 1 ? 1 : 0)), x.shape.map(() => -1)) },
  { name: "concat", shapes: pair, run: (x, y) => A.concat([x!, y!], 0) },
  { name: "stack", shapes: pair, run: (x, y) => A.stack([x!, y!], -1) },
  { name: "expandDims", shapes: same, run: (x) => A.expandDims(x, 0) },
  { name: "squeeze", shapes: (s) => [[1, ...s]], run: (x) => A.squeeze(x, 0) },
  { name: "gather", shapes: same, run: (x) => A.gather(x, [x.shape[0]! - 1, 0, 0], 0) },
  { name: "gather (indices tensor)", shapes: (s) => [s, [3]], run: (x, i) => A.gather(x!, i!, -1), values: fc.constantFrom(0) },
  { name: "oneHot", shapes: same, run: (i) => A.oneHot(i, 3), values: fc.integer({ min: 0, max: 2 }) },
  { name: "matmul", shapes: (s) => [[s[0]!, s[s.length - 1]!], [s[s.length - 1]!, 3]], run: (a, b) => A.matmul(a, b) },
  { name: "matmul (batched, broadcast)", shapes: (s) => [[2, s[0]!, s[s.length - 1]!], [s[s.length - 1]!, 2]], run: (a, b) => A.matmul(a, b) },
  { name: "matmul (vector)", shapes: (s) => [[s[0]!], [s[0]!, 2]], run: (a, b) => A.matmul(a, b) },
  { name: "stopGradient", shapes: same, run: (x) => A.mul(A.stopGradient(x), x) },
  { name: "customVjp", shapes: same, run: A.customVjp((x: Tensor) => A.mul(x, 3), (dy) => [A.mul(dy, 3)]) },
  { name: "categorical", shapes: same, run: (x) => categorical(key, x) },
  { name: "bernoulli", shapes: same, run: (p) => bernoulli(key, A.div(p, 2), p.shape) },
];

const snapshot = (xs: readonly Tensor[]) => xs.map((x) => ({ shape: x.shape.slice(), values: x.toFlatArray() }));

const inputsFor = (c: Case) =>
  fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }).chain((base) => {
    const shapes = c.shapes(base);
    const n = shapes.reduce((acc, s) => acc + s.reduce((p, d) => p * d, 1), 0);
    const v = c.values ?? fc.double({ min: 0.25, max: 2, noNaN: true });
    return fc.array(v, { minLength: n, maxLength: n }).map((vals) => {
      let off = 0;
      return shapes.map((s) => {
        const k = s.reduce((p, d) => p * d, 1);
        const t = tensor(vals.slice(off, off + k), { dtype: "float64", shape: s });
        off += k;
        return t;
      });
    });
  });

describe("immutability", () => {
  it("covers every op exported from seqgrad/autograd", () => {
    const transforms = ["grad", "valueAndGrad", "vjp", "jvp", "stopGradient", "customVjp", "checkpoint", "setDebugNans", "withDebugNans", "debugNansEnabled", "tree", "TreeMismatchError"];
    const ops = Object.keys(A).filter((k) => !transforms.includes(k));
    const covered = new Set(cases.map((c) => c.name.split(" ")[0]));
    expect(ops.filter((o) => !covered.has(o))).toEqual([]);
  });

  for (const c of cases)
    it(`${c.name} leaves its inputs unchanged, also through grad and its pullback`, () => {
      fc.assert(
        fc.property(inputsFor(c), (xs) => {
          const before = snapshot(xs);
          const out = c.run(...xs);
          expect(snapshot(xs)).toEqual(before);
          const outBefore = snapshot([out]);
          const argnums = xs.map((_, i) => i);
          A.grad((...ys: Tensor[]) => A.sum(A.cast(c.run(...ys), "float64")), { argnums })(...xs);
          expect(snapshot(xs)).toEqual(before);
          const [y, pb] = A.vjp((...ys: Tensor[]) => c.run(...ys), ...xs);
          const ct = A.add(A.mul(y, 0), 1.5);
          const ctBefore = snapshot([ct]);
          pb(ct);
          expect(snapshot(xs)).toEqual(before);
          expect(snapshot([ct])).toEqual(ctBefore);
          expect(snapshot([out])).toEqual(outBefore);
          expect(snapshot([y])).toEqual(outBefore);
        }),
        { numRuns: 20, seed: 1701 },
      );
    });
});
