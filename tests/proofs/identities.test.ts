import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { full, zeros, type Tensor } from "../../core/tensor.js";
import { add, concat, gather, log, mean, mul, slice, softmax, sub, sum } from "../../autograd/index.js";
import { map, type Tree } from "../../autograd/tree.js";
import { rnnCell } from "../../layers/cells/rnn.js";
import { formatReport } from "../../proofs/checkGrad.js";
import type { CellUnderProof } from "../../proofs/suites/cells.js";
import {
  EXACT, clipCaseArb, clipCheck, fullFromMinimal, gruCaseArb, gruCheck, identitySuites, oneHotCaseArb, oneHotCheck, padCaseArb, paddingCheck,
  softmaxCeCaseArb, softmaxCeCheck, stackedCaseArb, stackedCheck,
} from "../../proofs/suites/identities.js";
import { allSuites } from "../../proofs/suites/index.js";
import type { CaseCheck } from "../../proofs/suites/suite.js";

const SEED = 42;
const failing = (cs: CaseCheck | readonly CaseCheck[]) => (Array.isArray(cs) ? cs : [cs as CaseCheck]).filter((c) => !c.report.ok).map((c) => c.label);
/** The first case an arbitrary draws for a fixed seed (no Math.random anywhere). */
const sample = <T>(arb: fc.Arbitrary<T>, seed = SEED): T => fc.sample(arb, { seed, numRuns: 1 })[0]!;

describe("the course's identities as proof suites", () => {
  for (const suite of identitySuites)
    it(`proves "${suite.name}" on its default cases`, () => {
      const r = suite.run(SEED);
      const why = r.failure ? `${r.failure.message}\n${r.failure.check ? formatReport(r.failure.check.report) : ""}\n${r.failure.counterexample}` : "";
      expect(r.ok, why).toBe(true);
      expect(r.runs).toBe(suite.cases);
      expect(r.entries).toBeGreaterThan(0);
    });

  it("are registered for the proofs table", () => {
    const names = allSuites.map((s) => s.name);
    for (const s of identitySuites) expect(names).toContain(s.name);
  });
});

describe("each identity check can fail", () => {
  it("stacked form: swapping the blocks [W_ax | W_aa] breaks it", () => {
    const c = { ...sample(stackedCaseArb), H: 3, D: 2 };
    expect(failing(stackedCheck(c))).toEqual([]);
    expect(failing(stackedCheck(c, (W_aa: Tensor, W_ax: Tensor) => concat([W_ax, W_aa], 1)))).not.toEqual([]);
  });

  it("one-hot lookup: an off-by-one row lookup breaks it", () => {
    const c = { ...sample(oneHotCaseArb), V: 4, dim: 2, ids: [0, 2, 2, 1] };
    expect(failing(oneHotCheck(c))).toEqual([]);
    expect(failing(oneHotCheck(c, (E, ids) => gather(E, Int32Array.from(ids, (i) => (i + 1) % 4), 0)))).toHaveLength(2);
  });

  it("softmax cross-entropy: a squared error on probabilities does not have gradient ŷ - y", () => {
    const c = { z: [[0.5, -1, 2]], w: [1], y: [2] };
    expect(failing(softmaxCeCheck(c))).toEqual([]);
    const squared = (z: Tensor) => {
      const d = sub(softmax(z), zerosOneHot());
      return sum(mul(d, d), -1);
    };
    expect(failing(softmaxCeCheck(c, squared))).toHaveLength(1);
    // and cross-entropy written as -log(softmax) passes, as it should
    const viaLog = (z: Tensor) => mul(-1, sum(mul(log(softmax(z)), zerosOneHot()), -1));
    expect(failing(softmaxCeCheck(c, viaLog))).toEqual([]);
  });

  it("full GRU: a relevance gate that is not exactly 1 (b_r = 5) breaks it", () => {
    const c = { ...sample(gruCaseArb), D: 2, H: 3, B: 2, T: 4 };
    expect(failing(gruCheck(c))).toEqual([]);
    const leaky = (p: { W: Tensor; b: Tensor }, H: number) => {
      const f = fullFromMinimal(p, H);
      return { ...f, b: concat([slice(f.b, [0], [H]), full([H], 5, "float64")], 0) };
    };
    const bad = failing(gruCheck(c, leaky));
    expect(bad.length).toBeGreaterThanOrEqual(3);
    expect(bad[0]).toMatch(/^Γr<1>/);
  });

  it("padded batch: a cell that mixes the rows of the batch breaks it", () => {
    const c = { ...sample(padCaseArb), cell: 0, T: 4, lengths: [4, 2], targets: [[0, 1], [1, 0], [0, 0], [1, 1]], V: 2 };
    const tanhRnn: CellUnderProof = { name: "rnn tanh", make: () => rnnCell() };
    expect(failing(paddingCheck(c, [tanhRnn]))).toEqual([]);
    const base = rnnCell();
    const mixing: CellUnderProof = {
      name: "mixing",
      make: () => ({ ...base, step: (p: any, a: Tensor, x: Tensor) => base.step(p, add(a, mean(a, 0)), x) }),
    };
    expect(failing(paddingCheck(c, [mixing])).some((l) => l.startsWith("per-sequence loss"))).toBe(true);
  });

  it("clipping: clipping each leaf to the bound on its own does not keep the direction", () => {
    const c = { rows: 2, cols: 2, n: 3, scale: 1000, maxNorm: 1, seed: 5 };
    expect(failing(clipCheck(c))).toEqual([]);
    const perLeaf = (t: Tree, cmax: number): [Tree, Tensor] => {
      const clipped = map((l: Tensor) => {
        const n = Math.sqrt(l.toFlatArray().reduce((p, v) => p + v * v, 0));
        return n > cmax ? mul(l, cmax / n) : l;
      }, t);
      return [clipped, zeros([], "float64")];
    };
    const bad = failing(clipCheck(c, perLeaf));
    expect(bad.some((l) => l.startsWith("clipped = g · min(1, c/‖g‖)"))).toBe(true);
    expect(bad.some((l) => l.startsWith("cos(clipped, g) = 1"))).toBe(true);
  });

  it("states the exact tolerance as the smallest double, so only bit-identical values pass", () => {
    expect(EXACT.rtol).toBe(Number.MIN_VALUE);
    expect(EXACT.atol).toBe(Number.MIN_VALUE);
  });
});

/** The one-hot target [[0, 0, 1]] of the softmax case above. */
function zerosOneHot(): Tensor {
  return concat([zeros([1, 2], "float64"), full([1, 1], 1, "float64")], 1);
}
