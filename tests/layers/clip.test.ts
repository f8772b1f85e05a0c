import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor, type DType, type Tensor } from "../../core/tensor.js";
import { ArgumentError } from "../../core/errors.js";
import { tree } from "../../autograd/index.js";
import { clipByGlobalNorm, clipByValue, globalNorm } from "../../layers/clip.js";
import { checkGrad, formatReport } from "../../proofs/checkGrad.js";

type G = { layer: { W: Tensor; b: Tensor }; out: Tensor[] };

/** A gradient tree built from plain numbers: W [2, k], b [k], out [[m]]. */
const makeTree = (xs: number[], k: number, dtype: DType): G => ({
  layer: { W: tensor([xs.slice(0, k), xs.slice(k, 2 * k)], { dtype }), b: tensor(xs.slice(2 * k, 3 * k), { dtype }) },
  out: [tensor(xs.slice(3 * k), { dtype })],
});
const all = (t: G): number[] => tree.leaves(t as never).flatMap((l) => (l as Tensor).toFlatArray());
/** ‖v‖ in plain float64, scaled so nothing overflows. */
const normJs = (v: number[]): number => {
  const m = Math.max(...v.map(Math.abs));
  return m === 0 ? 0 : m * Math.sqrt(v.reduce((s, x) => s + (x / m) ** 2, 0));
};
const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + (x / normJs(a)) * (b[i]! / normJs(b)), 0);

/** k, values (3k + m of them, each a mantissa times 10^exponent), and a max norm. */
const arbCase = fc
  .record({
    k: fc.integer({ min: 1, max: 3 }),
    m: fc.integer({ min: 1, max: 3 }),
    mant: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 12, maxLength: 12 }),
    exp: fc.integer({ min: -3, max: 6 }),
    maxNorm: fc.double({ min: 1e-3, max: 100, noNaN: true }),
  })
  .map(({ k, m, mant, exp, maxNorm }) => ({ k, xs: mant.slice(0, 3 * k + m).map((x) => x * 10 ** exp), maxNorm }));

describe("globalNorm", () => {
  it("is sqrt of the sum of squares over every leaf", () => {
    fc.assert(
      fc.property(arbCase, ({ k, xs }) => {
        const n = globalNorm(makeTree(xs, k, "float64")).item();
        const want = normJs(xs);
        expect(Math.abs(n - want)).toBeLessThanOrEqual(1e-12 * want);
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it("does not overflow for float32 gradients near 1e30, and is 0 for an all-zero or empty tree", () => {
    const g = makeTree([3e30, 4e30, 0, 0], 1, "float32");
    expect(globalNorm(g).item() / 5e30).toBeCloseTo(1, 6);
    expect(globalNorm(makeTree([0, 0, 0, 0], 1, "float32")).item()).toBe(0);
    expect(globalNorm({}).item()).toBe(0);
  });

  it("has gradient g / ‖g‖ (checked against central differences in float64)", () => {
    const g = makeTree([0.3, -1.2, 2.0, 0.5, 0.1, -0.7, 1.1], 2, "float64");
    const r = checkGrad((t: G) => globalNorm(t as never), [g]);
    expect(r.ok, formatReport(r)).toBe(true);
  });
});

describe("clipByGlobalNorm", () => {
  it("bounds the global norm by maxNorm and preserves the direction (cosine 1)", () => {
    fc.assert(
      fc.property(arbCase, ({ k, xs, maxNorm }) => {
        const g = makeTree(xs, k, "float64");
        const [clipped, norm] = clipByGlobalNorm(g, maxNorm);
        const before = all(g), after = all(clipped);
        expect(Math.abs(norm.item() - normJs(before))).toBeLessThanOrEqual(1e-12 * normJs(before));
        expect(normJs(after)).toBeLessThanOrEqual(maxNorm * (1 + 1e-12));
        if (normJs(before) > 0) expect(Math.abs(cosine(before, after) - 1)).toBeLessThan(1e-12);
        if (normJs(before) > maxNorm) expect(normJs(after)).toBeCloseTo(maxNorm, 10);
      }),
      { numRuns: 80, seed: 11 },
    );
  });

  it("bounds float32 trees too, within float32 rounding", () => {
    fc.assert(
      fc.property(arbCase, ({ k, xs, maxNorm }) => {
        const [clipped] = clipByGlobalNorm(makeTree(xs, k, "float32"), maxNorm);
        expect(normJs(all(clipped))).toBeLessThanOrEqual(maxNorm * (1 + 1e-6));
      }),
      { numRuns: 40, seed: 12 },
    );
  });

  it("returns the very same tree when the norm is already within maxNorm", () => {
    fc.assert(
      fc.property(arbCase, ({ k, xs }) => {
        const g = makeTree(xs, k, "float64");
        const n = normJs(xs);
        const [clipped, norm] = clipByGlobalNorm(g, n > 0 ? n * 1.5 : 1);
        expect(clipped).toBe(g);
        expect(all(clipped)).toEqual(xs);
        expect(norm.item()).toBeCloseTo(n, 10);
      }),
      { numRuns: 40, seed: 13 },
    );
  });

  it("scales [3, 4] with maxNorm 1 to [0.6, 0.8] and reports the norm 5", () => {
    const [c, n] = clipByGlobalNorm({ g: tensor([3, 4], { dtype: "float64" }) }, 1);
    expect(n.item()).toBe(5);
    c.g.toFlatArray().forEach((v, i) => expect(v).toBeCloseTo([0.6, 0.8][i]!, 15));
  });

  it("rejects a maxNorm that is not a positive finite number", () => {
    expect(() => clipByGlobalNorm({ g: tensor([1]) }, 0)).toThrow(/clipByGlobalNorm: maxNorm must be a positive finite number, got 0/);
    expect(() => clipByGlobalNorm({ g: tensor([1]) }, Number.POSITIVE_INFINITY)).toThrow(ArgumentError);
  });
});

describe("clipByValue", () => {
  it("clamps every entry to [lo, hi] and leaves the ones inside untouched", () => {
    fc.assert(
      fc.property(arbCase, fc.double({ min: -5, max: 0, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true }), ({ k, xs }, lo, hi) => {
        const g = makeTree(xs, k, "float64");
        const after = all(clipByValue(g, lo, hi));
        after.forEach((v, i) => {
          expect(v).toBeGreaterThanOrEqual(lo);
          expect(v).toBeLessThanOrEqual(hi);
          if (xs[i]! >= lo && xs[i]! <= hi) expect(v).toBe(xs[i]);
          else expect(v).toBe(xs[i]! < lo ? lo : hi);
        });
      }),
      { numRuns: 50, seed: 14 },
    );
  });

  it("keeps the tree's structure and rejects lo > hi", () => {
    const g = makeTree([1, -2, 3, 4], 1, "float64");
    const c = clipByValue(g, -1, 1);
    expect(Object.keys(c)).toEqual(["layer", "out"]);
    expect(c.out).toHaveLength(1);
    expect(() => clipByValue(g, 2, 1)).toThrow(/clipByValue: lo \(2\) must not exceed hi \(1\)/);
  });
});
