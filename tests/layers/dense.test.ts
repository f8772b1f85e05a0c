import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor, type Tensor } from "../../core/tensor.js";
import { ArgumentError, ShapeError } from "../../core/errors.js";
import { randomKey, splitKey } from "../../core/random.js";
import { grad, matmul, mul, oneHot, sum } from "../../autograd/index.js";
import { dense, dropout, embedding } from "../../layers/dense.js";
import { checkGrad, formatReport } from "../../proofs/checkGrad.js";

const f64 = (v: number[] | number[][] | number[][][]) => tensor(v, { dtype: "float64" });
const key = randomKey(3);

describe("dense", () => {
  it("initializes W [in, out] from glorotUniform and b = 0, in the asked dtype", () => {
    const p = dense.init(key, 5, 3, "float64");
    expect(p.W.shape).toEqual([5, 3]);
    expect(p.b.shape).toEqual([3]);
    expect(p.W.dtype).toBe("float64");
    expect(p.b.toFlatArray()).toEqual([0, 0, 0]);
    const l = Math.sqrt(6 / 8);
    expect(p.W.toFlatArray().every((v) => Math.abs(v) <= l)).toBe(true);
    expect(dense.init(key, 5, 3).W.toFlatArray()).toEqual(dense.init(key, 5, 3).W.toFlatArray());
  });

  it("computes x W + b on [B, D], [T, B, D] and [D] inputs", () => {
    const p = { W: f64([[1, 2], [3, 4], [5, 6]]), b: f64([0.5, -1]) };
    expect(dense.apply(p, f64([[1, 0, -1], [2, 1, 0]])).toArray()).toEqual([[1 - 5 + 0.5, 2 - 6 - 1], [2 + 3 + 0.5, 4 + 4 - 1]]);
    expect(dense.apply(p, f64([1, 1, 1])).toArray()).toEqual([9.5, 11]);
    const y = dense.apply(p, f64([[[1, 0, 0]], [[0, 0, 1]]]));
    expect(y.shape).toEqual([2, 1, 2]);
    expect(y.toArray()).toEqual([[[1.5, 1]], [[5.5, 5]]]);
  });

  it("has gradients that agree with central differences in float64 (W, b and x)", () => {
    const p = dense.init(key, 3, 2, "float64");
    const x = f64([[[0.3, -1.2, 2]], [[0.5, 0.1, -0.7]]]);
    const r = checkGrad((p: { W: Tensor; b: Tensor }, x: Tensor) => sum(mul(dense.apply(p, x), dense.apply(p, x))), [p, x]);
    expect(r.ok, formatReport(r)).toBe(true);
  });

  it("names the layer and shapes when x does not end in the input size", () => {
    const p = dense.init(key, 3, 2, "float64");
    expect(() => dense.apply(p, f64([[1, 2]]))).toThrow(/dense.apply: x \[1,2\] must end in the input size 3 \(W is \[3,2\]\)/);
    expect(() => dense.apply({ W: p.W, b: f64([1, 2, 3]) }, f64([1, 2, 3]))).toThrow(ShapeError);
    expect(() => dense.init(key, 0, 2)).toThrow(/dense.init: inputSize must be a positive integer/);
  });
});

describe("embedding", () => {
  it("looks up rows: apply({ E }, idx) has shape [...idx.shape, dim]", () => {
    const E = f64([[0, 1], [10, 11], [20, 21]]);
    const y = embedding.apply({ E }, [[2, 0], [1, 1]]);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(y.toArray()).toEqual([[[20, 21], [0, 1]], [[10, 11], [10, 11]]]);
    const p = embedding.init(key, 7, 4);
    expect(p.E.shape).toEqual([7, 4]);
    expect(p.E.dtype).toBe("float32");
  });

  it("equals a one-hot input times the matrix (the course's E·o_j as a row lookup)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 5 }), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), fc.nat({ max: 1e6 }), (V, dim, raw, seed) => {
        const idx = raw.map((r) => r % V);
        const { E } = embedding.init(randomKey(seed), V, dim, "float64");
        const lookup = embedding.apply({ E }, idx).toFlatArray();
        const viaMatmul = matmul(oneHot(idx, V, "float64"), E).toFlatArray();
        expect(lookup).toEqual(viaMatmul);
      }),
      { numRuns: 60, seed: 31 },
    );
  });

  it("has the scatter-add gradient: repeated tokens add their rows, unused rows get 0", () => {
    const E = f64([[0, 1], [10, 11], [20, 21]]);
    const w = f64([[1, 2], [3, 4], [5, 6]]);
    const g = grad((E: Tensor) => sum(mul(embedding.apply({ E }, [2, 0, 2]), w)))(E);
    expect(g.toArray()).toEqual([[3, 4], [0, 0], [1 + 5, 2 + 6]]);
    const r = checkGrad((E: Tensor) => sum(mul(embedding.apply({ E }, [2, 0, 2]), embedding.apply({ E }, [1, 1, 0]))), [E]);
    expect(r.ok, formatReport(r)).toBe(true);
  });

  it("rejects out-of-range tokens", () => {
    expect(() => embedding.apply({ E: f64([[1], [2]]) }, [0, 2])).toThrow(/gather: argument indices entry 1 is 2/);
  });
});

describe("dropout", () => {
  it("is the identity at rate 0 and refuses rates outside [0, 1)", () => {
    const x = f64([1, 2, 3]);
    expect(dropout(key, 0)(x)).toBe(x);
    for (const bad of [1, -0.1, 1.5, Number.NaN]) expect(() => dropout(key, bad)).toThrow(ArgumentError);
    expect(() => dropout(key, 1)).toThrow(/dropout: rate must be a number in \[0, 1\)/);
  });

  it("zeroes about `rate` of the units and scales the rest by 1/(1-rate), keeping the mean", () => {
    const x = tensor(new Float64Array(20000).fill(2), { dtype: "float64" });
    const y = dropout(key, 0.3)(x).toFlatArray();
    const kept = y.filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 2 / 0.7) < 1e-15)).toBe(true);
    expect(Math.abs(kept.length / y.length - 0.7)).toBeLessThan(0.02);
    expect(Math.abs(y.reduce((a, b) => a + b, 0) / y.length - 2)).toBeLessThan(0.06);
  });

  it("draws the mask from its key alone: same key, same mask; split keys, different masks", () => {
    const x = f64([[1, 2, 3, 4, 5, 6, 7, 8]]);
    const [k1, k2] = splitKey(key);
    const d = dropout(k1!, 0.5);
    expect(d(x).toFlatArray()).toEqual(d(x).toFlatArray());
    expect(dropout(k1!, 0.5)(x).toFlatArray()).toEqual(d(x).toFlatArray());
    const many = f64([Array.from({ length: 64 }, (_, i) => i + 1)]);
    expect(dropout(k2!, 0.5)(many).toFlatArray()).not.toEqual(dropout(k1!, 0.5)(many).toFlatArray());
  });

  it("passes gradient m/(1-rate): kept units get 1/(1-rate), dropped ones 0", () => {
    const x = f64([[0.5, -1, 2, 3, 0.25, 1.5, -2, 4]]);
    const d = dropout(key, 0.25);
    const y = d(x).toFlatArray();
    const g: number[] = grad((x: Tensor) => sum(d(x)))(x).toFlatArray();
    g.forEach((v, i) => expect(v).toBe(y[i] === 0 ? 0 : 1 / 0.75));
  });
});
