import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor, type Tensor } from "../../core/tensor.js";
import { grad, mul, sigmoid, sub, sum, tanh } from "../../autograd/index.js";
import { sigmoidBwd, tanhBwd } from "../../autograd/primitives/unary.js";
import { checkGrad, checkGradSecondOrder, formatReport, seededUniform } from "../../proofs/checkGrad.js";

// tanh's and sigmoid's VJPs are one kernel each (tanhBwd, sigmoidBwd) instead of three binary ops. These tests pin
// down what that kernel computes, that the VJPs use it, and that its own VJP is right (second and third order).

const values = (rand: () => number, n: number, scale: number): number[] => Array.from({ length: n }, () => scale * (2 * rand() - 1));
const cases = fc.record({ n: fc.integer({ min: 1, max: 40 }), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }) });

/** The composed VJPs these kernels replace. */
const composed = {
  tanh: (dy: Tensor, y: Tensor) => mul(dy, sub(1, mul(y, y))),
  sigmoid: (dy: Tensor, y: Tensor) => mul(dy, mul(y, sub(1, y))),
};
const fused = { tanh: tanhBwd, sigmoid: sigmoidBwd };
const activation = { tanh, sigmoid };

describe.each(["tanh", "sigmoid"] as const)("%sBwd", (name) => {
  it("equals the composed ops bit for bit in float64 (the same operations in the same order)", () => {
    fc.assert(
      fc.property(cases, ({ n, seed }) => {
        const rand = seededUniform(seed);
        const dy = tensor(values(rand, n, 3), { dtype: "float64" });
        const y = activation[name](tensor(values(rand, n, 4), { dtype: "float64" }));
        expect(fused[name](dy, y).toFlatArray()).toEqual(composed[name](dy, y).toFlatArray());
      }),
    );
  });

  it("rounds once in float32: the float64 value of the same expression, rounded to float32", () => {
    fc.assert(
      fc.property(cases, ({ n, seed }) => {
        const rand = seededUniform(seed);
        const dy = tensor(values(rand, n, 3), { dtype: "float32" });
        const y = activation[name](tensor(values(rand, n, 4), { dtype: "float32" }));
        const d = dy.toFlatArray(), v = y.toFlatArray();
        const exact = v.map((vi, i) => Math.fround(name === "tanh" ? d[i]! * (1 - vi * vi) : d[i]! * (vi * (1 - vi))));
        const out = fused[name](dy, y);
        expect(out.dtype).toBe("float32");
        expect(out.toFlatArray()).toEqual(exact);
      }),
    );
  });

  it(`is what ${name}'s VJP returns`, () => {
    const rand = seededUniform(name === "tanh" ? 11 : 12);
    const x = tensor(values(rand, 6, 3), { dtype: "float32", shape: [2, 3] });
    const w = tensor(values(rand, 6, 2), { dtype: "float32", shape: [2, 3] });
    const g = grad((xx: Tensor) => sum(mul(activation[name](xx), w)))(x) as Tensor;
    expect(g.toFlatArray()).toEqual(fused[name](w, activation[name](x)).toFlatArray());
  });

  it("has first, second and third derivatives that agree with central differences (float64)", () => {
    const rand = seededUniform(name === "tanh" ? 21 : 22);
    const dy = tensor(values(rand, 6, 2), { dtype: "float64", shape: [2, 3] });
    const x = tensor(values(rand, 6, 2), { dtype: "float64", shape: [2, 3] });
    const w = tensor(values(rand, 6, 1), { dtype: "float64", shape: [2, 3] });
    // the kernel's own VJP, in both inputs (y through the activation so that it stays in (-1, 1) or (0, 1))
    const f = (d: Tensor, xx: Tensor) => sum(mul(fused[name](d, activation[name](xx)), w));
    const r1 = checkGrad(f, [dy, x]);
    expect(r1.ok, formatReport(r1)).toBe(true);
    const r2 = checkGradSecondOrder(f, [dy, x], { argnums: [0, 1] });
    expect(r2.ok, formatReport(r2)).toBe(true);
    // the activation's second derivative goes through the kernel's VJP; its third, through that VJP's ops
    const h = (xx: Tensor) => sum(mul(grad((z: Tensor) => sum(mul(activation[name](z), w)))(xx) as Tensor, w));
    const r3 = checkGradSecondOrder(h, [x]);
    expect(r3.ok, formatReport(r3)).toBe(true);
  });
});
