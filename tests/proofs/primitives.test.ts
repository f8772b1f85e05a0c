import { describe, expect, it } from "vitest";
import { tensor, type Tensor } from "../../core/tensor.js";
import { broadcastTo, gather, matmul, sum, mul } from "../../autograd/index.js";
import { checkGrad, formatReport } from "../../proofs/checkGrad.js";
import { allSuites, primitiveSuites, secondOrderSuites } from "../../proofs/suites/index.js";
import type { SuiteResult } from "../../proofs/suites/suite.js";

/** One fixed seed so a failure here replays with `seqgrad proofs --only <name> --seed 20240`. */
const SEED = 20240;

const explain = (r: SuiteResult): string =>
  r.ok ? "" : `${r.name}: ${r.failure?.message}\n${r.failure?.check ? formatReport(r.failure.check.report) : ""}\ncounterexample ${r.failure?.counterexample}`;

const PRIMITIVES = [
  "neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "cast",
  "add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "clip",
  "sum", "mean", "max", "broadcastTo", "logSumExp", "softmax", "logSoftmax",
  "reshape", "transpose", "slice", "concat", "stack", "expandDims", "squeeze", "gather", "matmul",
];
const SECOND_ORDER = ["exp", "log", "tanh", "sigmoid", "mul", "div", "matmul", "logSumExp", "softmax"];

describe("the suite registry", () => {
  it("has a first-order suite for every differentiable primitive", () => {
    const names = primitiveSuites.map((s) => s.name);
    for (const p of PRIMITIVES) expect(names, `no suite proves ${p}`).toContain(p);
  });

  it("has a second-order suite for every smooth primitive", () => {
    const names = secondOrderSuites.map((s) => s.name);
    for (const p of SECOND_ORDER) expect(names, `no second-order suite for ${p}`).toContain(`${p} (2nd order)`);
  });

  it("gives every suite a unique name", () => {
    const names = allSuites.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("every primitive's VJP matches central finite differences in float64", () => {
  // the primitive families only: cells and identities registered by other modules have their own test files
  for (const suite of [...primitiveSuites, ...secondOrderSuites])
    it(`proves ${suite.name} (${suite.family}) over ${suite.cases} random cases`, () => {
      const r = suite.run(SEED);
      expect(r.ok, explain(r)).toBe(true);
      expect(r.runs).toBe(suite.cases);
      expect(r.checks).toBeGreaterThanOrEqual(suite.cases);
      expect(r.entries).toBeGreaterThan(0);
    });
});

describe("regressions the suites found", () => {
  const f64 = (v: number | number[] | number[][]) => tensor(v, { dtype: "float64" });

  it("broadcasts a scalar to every entry and differentiates it", () => {
    expect(broadcastTo(f64(0.5), [2, 3]).toArray()).toEqual([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]);
    expect(broadcastTo(tensor([[1.5]], { dtype: "float64" }), [1, 1, 2]).toArray()).toEqual([[[1.5, 1.5]]]);
    const w = f64([[1, -2, 3], [0.5, 0.25, -1]]);
    const r = checkGrad((x: Tensor) => sum(mul(broadcastTo(x, [2, 3]), w)), [f64(0.5)]);
    expect(r.ok, formatReport(r)).toBe(true);
    expect(r.worst!.analytic).toBeCloseTo(1.75, 12); // Σ w
  });

  it("multiplies two vectors to their dot product, a scalar", () => {
    const y = matmul(f64([1, 2, 3]), f64([4, -5, 6]));
    expect(y.shape).toEqual([]);
    expect(y.item()).toBe(12);
    expect(checkGrad((a: Tensor, b: Tensor) => matmul(a, b), [f64([1, 2, 3]), f64([4, -5, 6])]).ok).toBe(true);
  });

  it("adds up the gradient of a row gathered several times", () => {
    const x = f64([[1, 2], [3, 4], [5, 6]]);
    const w = f64([[1, 10], [100, 1000], [0.5, 0.25], [2, 3]]);
    const r = checkGrad((x: Tensor) => sum(mul(gather(x, [0, 2, 0, 0]), w)), [x]);
    expect(r.ok, formatReport(r)).toBe(true);
    expect(r.failures).toBe(0);
  });
});
