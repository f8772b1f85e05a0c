import { describe, expect, it } from "vitest";
import { tensor, type Tensor } from "../../core/tensor.js";
import { ArgumentError } from "../../core/errors.js";
import { add, customVjp, matmul, mul, slice, stopGradient, sub, sum, tanh } from "../../autograd/index.js";
import { checkGrad, checkGradSecondOrder, formatReport } from "../../proofs/checkGrad.js";

const f64 = (v: number[] | number[][]) => tensor(v, { dtype: "float64" });

/** tanh with a deliberately wrong VJP: twice the true derivative 1 - y². */
const badTanh = customVjp((x: Tensor) => tanh(x), (dy, _xs, y) => [mul(dy, mul(2, sub(1, mul(y, y))))], "badTanh");
/** tanh whose first derivative is right but whose VJP is not differentiable (the factor 1 - y² is frozen). */
const frozenTanh = customVjp((x: Tensor) => tanh(x), (dy, _xs, y) => [mul(dy, stopGradient(sub(1, mul(y, y))))], "frozenTanh");

describe("checkGrad", () => {
  it("passes on a cubic whose gradient 3x² is known", () => {
    const x = f64([[0.5, -1.25, 2], [0.75, 1.5, -0.3]]);
    const r = checkGrad((x: Tensor) => sum(mul(x, mul(x, x))), [x]);
    expect(r.ok).toBe(true);
    expect(r.failures).toBe(0);
    expect(r.entriesChecked).toBe(6);
    expect(r.entriesTotal).toBe(6);
    expect(r.maxRelError).toBeLessThan(1e-6);
    expect(r.tolerance).toEqual({ eps: 1e-6, rtol: 1e-6, atol: 1e-9 });
    // the worst entry carries both derivatives; 3x² by hand for that entry
    const w = r.worst!;
    const xv = (x.toArray() as number[][])[w.multiIndex[0]!]![w.multiIndex[1]!]!;
    expect(w.analytic).toBeCloseTo(3 * xv * xv, 10);
    expect(w.numeric).toBeCloseTo(3 * xv * xv, 6);
  });

  it("passes on a dense tanh layer whose parameters are a tree", () => {
    const x = f64([[0.3, -1.2, 2.0], [0.5, 0.1, -0.7]]);
    const p = { W_a: f64([[1, 2], [3, 4], [0.5, -0.5]]), b_a: f64([0.1, 0.2]) };
    const r = checkGrad((x: Tensor, p: { W_a: Tensor; b_a: Tensor }) => sum(tanh(add(matmul(x, p.W_a), p.b_a))), [x, p], { label: "dense" });
    expect(r.ok).toBe(true);
    expect(r.label).toBe("dense");
    expect(r.entriesTotal).toBe(6 + 6 + 2);
  });

  it("fails on a customVjp op that returns twice the true derivative and names the bad leaf", () => {
    const p = { W: f64([[0.2, -0.4], [0.9, 0.1]]), b: f64([0.3, -0.6]) };
    const f = (p: { W: Tensor; b: Tensor }) => add(sum(badTanh(p.W)), sum(tanh(p.b)));
    const r = checkGrad(f, [p]);
    expect(r.ok).toBe(false);
    expect(r.failures).toBe(4); // every entry of W, none of b
    expect(r.worst!.path).toBe("arg0.W");
    expect(r.worst!.analytic / r.worst!.numeric).toBeCloseTo(2, 6);
    expect(r.worst!.relError).toBeCloseTo(1 / 3, 6); // |2n - n| / (2n + n)
    expect(formatReport(r)).toMatch(/FAIL \(4 of 6 entries\).*arg0\.W\[/);
  });

  it("fails when stopGradient hides a dependence and reports the hidden argument", () => {
    const a = f64([1.5, -0.5, 2.0]);
    const b = f64([0.25, 0.75, -1.0]);
    const r = checkGrad((a: Tensor, b: Tensor) => sum(mul(stopGradient(a), b)), [a, b]);
    expect(r.ok).toBe(false);
    expect(r.failures).toBe(3);
    expect(r.worst!.path).toBe("arg0");
    expect(r.worst!.analytic).toBe(0);
    expect(r.worst!.numeric).toBeCloseTo((b.toArray() as number[])[r.worst!.index]!, 8);
  });

  it("locates a single wrong entry by flat index and multi-index", () => {
    const x = f64([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]);
    const r = checkGrad((x: Tensor) => add(sum(mul(x, x)), sum(badTanh(slice(x, [1, 2], [1, 1])))), [x]);
    expect(r.ok).toBe(false);
    expect(r.failures).toBe(1);
    expect(r.worst!.path).toBe("arg0");
    expect(r.worst!.index).toBe(5);
    expect(r.worst!.multiIndex).toEqual([1, 2]);
  });

  it("checks only the arguments named by argnums", () => {
    const a = f64([1.5, -0.5]);
    const b = f64([0.25, 0.75]);
    const f = (a: Tensor, b: Tensor) => sum(mul(badTanh(a), b));
    expect(checkGrad(f, [a, b], { argnums: 1 }).ok).toBe(true);
    const r = checkGrad(f, [a, b], { argnums: [0] });
    expect(r.ok).toBe(false);
    expect(r.entriesTotal).toBe(2);
    expect(r.worst!.path).toBe("arg0");
  });

  it("checks a seeded subset when maxEntries is below the number of entries, the same subset for the same seed", () => {
    const x = tensor(Float64Array.from({ length: 40 }, (_, i) => Math.sin(i)), { shape: [5, 8], dtype: "float64" });
    const f = (x: Tensor) => sum(badTanh(x));
    const r1 = checkGrad(f, [x], { maxEntries: 7, seed: 11 });
    const r2 = checkGrad(f, [x], { maxEntries: 7, seed: 11 });
    expect(r1.entriesChecked).toBe(7);
    expect(r1.entriesTotal).toBe(40);
    expect(r1.failures).toBe(7);
    expect(r2.worst).toEqual(r1.worst);
    expect(formatReport(r1)).toContain("7 of 40 entries (seeded subset)");
  });

  it("refuses float32 arguments and names the leaf", () => {
    const p = { W: tensor([1, 2], { dtype: "float32" }) };
    expect(() => checkGrad((p: { W: Tensor }) => sum(p.W), [p])).toThrow(ArgumentError);
    expect(() => checkGrad((p: { W: Tensor }) => sum(p.W), [p])).toThrow(/argument arg0\.W is float32.*cast\(x, 'float64'\)/);
  });

  it("refuses a function that does not return a scalar", () => {
    expect(() => checkGrad((x: Tensor) => mul(x, 2), [f64([1, 2])])).toThrow(/scalar/);
  });

  it("treats an entry as passing when it is within atol even if its relative error is large", () => {
    // d/dx of 1e-12·x is 1e-12: the finite difference is dominated by rounding, so only atol can accept it
    const x = f64([0.7, -0.2]);
    const r = checkGrad((x: Tensor) => add(sum(mul(x, 1e-12)), 3), [x]);
    expect(r.ok).toBe(true);
    expect(r.maxAbsError).toBeLessThanOrEqual(1e-9);
  });
});

describe("checkGradSecondOrder", () => {
  it("passes on smooth functions of several arguments", () => {
    const x = f64([[0.3, -1.2], [0.5, 0.1]]);
    const W = f64([[0.4, -0.3, 0.2], [0.1, 0.9, -0.5]]);
    const r = checkGradSecondOrder((x: Tensor, W: Tensor) => sum(tanh(matmul(x, W))), [x, W]);
    expect(r.ok).toBe(true);
    expect(r.entriesChecked).toBe(4 + 6);
  });

  it("fails on a VJP whose first derivative is right but which is not itself differentiable", () => {
    const x = f64([0.3, -0.8, 1.1]);
    const f = (x: Tensor) => sum(mul(frozenTanh(x), f64([0.5, -1, 2])));
    expect(checkGrad(f, [x]).ok).toBe(true);
    const r = checkGradSecondOrder(f, [x]);
    expect(r.ok).toBe(false);
    expect(r.worst!.path).toBe("arg0");
    expect(r.label).toBe("second order (H·v)");
  });
});
