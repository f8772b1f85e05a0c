import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor, type Tensor } from "../../core/tensor.js";
import { ArgumentError, ShapeError } from "../../core/errors.js";
import { grad, mul, square, sub, sum, TreeMismatchError } from "../../autograd/index.js";
import { adagrad, adam, momentum, rmsprop, sgd, type Optimizer } from "../../layers/optimizers.js";

const f64 = (v: number[] | number[][]) => tensor(v, { dtype: "float64" });
type P = { W: Tensor; b: Tensor };
const params0 = (): P => ({ W: f64([[1, -2]]), b: f64([0.5]) });
const grads0 = (): P => ({ W: f64([[0.1, -0.3]]), b: f64([2]) });
const neg = (g: P): P => ({ W: mul(g.W, -1), b: mul(g.b, -1) });
const vals = (p: P) => [...p.W.toFlatArray(), ...p.b.toFlatArray()];
/** Values of a tree as JSON (tensors by their values, not their ids). */
const show = (tree: unknown) => JSON.stringify(tree, (_k, v) => (v && typeof v === "object" && "toFlatArray" in v ? [v.dtype, v.shape, v.toFlatArray()] : v));
const expectClose = (got: number[], want: number[], digits = 12) => {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, digits));
};

/** Two steps of `opt` from params0: the first with grads0, the second with `second(grads0)`. */
const twoSteps = <S>(opt: Optimizer<S>, second: (g: P) => P = (g) => g) => {
  const s0 = opt.init(params0());
  const [p1, s1] = opt.update(grads0(), s0, params0());
  const [p2, s2] = opt.update(second(grads0()), s1, p1);
  return { p1, s1, p2, s2 };
};

describe("optimizers: first steps against the published update rules", () => {
  it("sgd: p ← p − lr·g", () => {
    const { p1, p2 } = twoSteps(sgd(0.1));
    expectClose(vals(p1), [0.99, -1.97, 0.3]);
    expectClose(vals(p2), [0.98, -1.94, 0.1]);
  });

  it("momentum: v ← βv + g, p ← p − lr·v", () => {
    const { p1, s1, p2, s2 } = twoSteps(momentum(0.1, 0.9));
    expectClose(vals(p1), [0.99, -1.97, 0.3]);
    expectClose(vals(s1.velocity as P), [0.1, -0.3, 2]);
    expectClose(vals(s2.velocity as P), [0.19, -0.57, 3.8]);
    expectClose(vals(p2), [0.971, -1.913, -0.08]);
  });

  it("adagrad: G ← G + g², p ← p − lr·g/(√G + ε)", () => {
    const eps = 1e-10;
    const { p1, s1, p2 } = twoSteps(adagrad(0.1, eps));
    expectClose(vals(s1.sumSquares as P), [0.01, 0.09, 4]);
    expectClose(vals(p1), [1 - 0.01 / (0.1 + eps), -2 + 0.03 / (0.3 + eps), 0.5 - 0.2 / (2 + eps)]);
    // second step: G = 2g², so every entry moves lr/√2 against its gradient's sign
    expectClose(vals(p2), [0.9 - 0.1 / Math.SQRT2, -1.9 + 0.1 / Math.SQRT2, 0.4 - 0.1 / Math.SQRT2], 8);
  });

  it("rmsprop: s ← ρs + (1−ρ)g², p ← p − lr·g/(√s + ε)", () => {
    const eps = 1e-8;
    const { p1, s1, p2, s2 } = twoSteps(rmsprop(0.1, { decay: 0.9, eps }));
    expectClose(vals(s1.meanSquares as P), [0.001, 0.009, 0.4]);
    expectClose(vals(p1), [1 - 0.01 / (Math.sqrt(0.001) + eps), -2 + 0.03 / (Math.sqrt(0.009) + eps), 0.5 - 0.2 / (Math.sqrt(0.4) + eps)]);
    expectClose(vals(s2.meanSquares as P), [0.0019, 0.0171, 0.76]);
    const p1v = vals(p1);
    expectClose(vals(p2), [p1v[0]! - 0.01 / (Math.sqrt(0.0019) + eps), p1v[1]! + 0.03 / (Math.sqrt(0.0171) + eps), p1v[2]! - 0.2 / (Math.sqrt(0.76) + eps)]);
  });

  it("adam: bias-corrected moments m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), p ← p − lr·m̂/(√v̂ + ε)", () => {
    const eps = 1e-8;
    // second gradient is −g: m = 0.9·0.1g − 0.1g = −0.01g, m̂ = −0.01g/0.19; v = 0.001999g², v̂ = g²
    const { p1, s1, p2, s2 } = twoSteps(adam(0.1, { beta1: 0.9, beta2: 0.999, eps }), neg);
    expect(s1.step.item()).toBe(1);
    expect(s2.step.item()).toBe(2);
    expect(s1.step.dtype).toBe("float64");
    expectClose(vals(s1.m as P), [0.01, -0.03, 0.2]);
    expectClose(vals(s1.v as P), [0.00001, 0.00009, 0.004]);
    // step 1: m̂ = g, v̂ = g², so each entry moves lr·g/(|g| + ε)
    expectClose(vals(p1), [1 - 0.1 * (0.1 / (0.1 + eps)), -2 + 0.1 * (0.3 / (0.3 + eps)), 0.5 - 0.1 * (2 / (2 + eps))]);
    expectClose(vals(s2.m as P), [-0.001, 0.003, -0.02]);
    expectClose(vals(s2.v as P), [0.00001999, 0.00017991, 0.007996]);
    const back = (g: number) => 0.1 * ((0.01 * Math.abs(g)) / 0.19) / (Math.abs(g) + eps);
    const p1v = vals(p1);
    expectClose(vals(p2), [p1v[0]! + back(0.1), p1v[1]! - back(0.3), p1v[2]! + back(2)]);
  });
});

const allOptimizers: [string, () => Optimizer<any>][] = [
  ["sgd", () => sgd(0.05)],
  ["momentum", () => momentum(0.05)],
  ["adagrad", () => adagrad(0.3)],
  ["rmsprop", () => rmsprop(0.02)],
  ["adam", () => adam(0.05)],
];

describe("optimizers: pure values over parameter trees", () => {
  const nested = () => ({
    embed: { E: f64([[0.1, 0.2], [0.3, 0.4]]) },
    layers: [{ W: f64([[1, 2], [3, 4]]), b: f64([0, 1]) }, { W: f64([[5, 6]]), b: f64([2]) }],
  });
  const gradsFor = () => ({
    embed: { E: f64([[0, 0], [0, 0]]) },
    layers: [{ W: f64([[0.5, -0.5], [1, 2]]), b: f64([0.1, 0.2]) }, { W: f64([[0, 0]]), b: f64([0]) }],
  });

  for (const [name, make] of allOptimizers) {
    it(`${name} leaves params, grads and state unchanged and returns frozen trees`, () => {
      const opt = make();
      const p = nested(), g = gradsFor();
      const s = opt.init(p);
      const before = show([p, g, s]);
      const refs = [p.embed.E, p.layers[0]!.W, g.layers[0]!.W];
      const [p1, s1] = opt.update(g, s, p);
      expect(show([p, g, s])).toBe(before);
      expect([p.embed.E, p.layers[0]!.W, g.layers[0]!.W]).toEqual(refs);
      expect(Object.isFrozen(p1)).toBe(true);
      expect(Object.isFrozen(p1.layers)).toBe(true);
      expect(Object.isFrozen(p1.layers[0])).toBe(true);
      expect(Object.isFrozen(s1)).toBe(true);
      expect(Object.isFrozen(s)).toBe(true);
      expect(() => {
        (p1.layers[0] as { W: Tensor }).W = f64([[0, 0], [0, 0]]);
      }).toThrow(TypeError);
      expect(p1.layers[0]!.W).not.toBe(p.layers[0]!.W);
    });
  }

  it("keeps the identity of subtrees whose gradient is zero (sgd, momentum from rest)", () => {
    for (const opt of [sgd(0.1), momentum(0.1)] as Optimizer<any>[]) {
      const p = nested();
      const [p1] = opt.update(gradsFor(), opt.init(p), p);
      expect(p1.embed).toBe(p.embed);
      expect(p1.layers[1]).toBe(p.layers[1]);
      expect(p1.layers[0]).not.toBe(p.layers[0]);
      expect(p1).not.toBe(p);
    }
  });

  it("accepts a single tensor as the whole parameter tree, and float32 params with float32 state", () => {
    const opt = adam(0.1);
    const p = tensor([1, 2, 3]);
    const s = opt.init(p);
    expect((s.m as Tensor).dtype).toBe("float32");
    const [p1, s1] = opt.update(tensor([1, -1, 0]), s, p);
    expect(p1.dtype).toBe("float32");
    expect(p1.toFlatArray()[0]).toBeCloseTo(0.9, 6);
    expect(p1.toFlatArray()[2]).toBe(3);
    expect(s1.step.item()).toBe(1);
  });

  for (const [name, make] of allOptimizers) {
    it(`${name} rejects grads shaped unlike the params with a TreeMismatchError, and the old params and state still work`, () => {
      const opt = make();
      const p = params0();
      const s = opt.init(p);
      let err: unknown;
      try {
        opt.update({ W: grads0().W } as unknown as P, s, p);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TreeMismatchError);
      expect((err as TreeMismatchError).op).toBe(`${name}.update`);
      expect((err as Error).message).toContain("{W: *, b: *}");
      expect((err as Error).message).toContain("{W: *}");
      // a leaf of the wrong shape is a ShapeError naming its path
      expect(() => opt.update({ W: f64([1, 2]), b: f64([1]) }, s, p)).toThrow(/W: param \[1,2\] float64, grads \[2\] float64/);
      // the failed calls changed nothing: the same update as from scratch
      const [pa, sa] = opt.update(grads0(), s, p);
      const [pb, sb] = opt.update(grads0(), opt.init(params0()), params0());
      expect(vals(pa)).toEqual(vals(pb));
      expect(show(sa)).toBe(show(sb));
    });
  }

  it("names the optimizer when handed another optimizer's state or bad hyperparameters", () => {
    const p = params0();
    expect(() => adam(0.1).update(grads0(), momentum(0.1).init(p) as never, p)).toThrow(/adam.update: state has no 'm'/);
    expect(() => sgd(-1)).toThrow(ArgumentError);
    expect(() => momentum(0.1, 1)).toThrow(/momentum: beta must be a number in \[0, 1\)/);
    expect(() => adam(0.1, { beta2: 1.5 })).toThrow(/adam: beta2/);
    expect(() => rmsprop(0.1, { eps: 0 })).toThrow(/rmsprop: eps/);
    expect(() => adagrad(Number.NaN)).toThrow(/adagrad: lr/);
    expect(() => sgd(0.1).update({ W: tensor([[0.1, -0.3]]), b: tensor([2]) }, {}, p)).toThrow(ShapeError);
  });

  it("every optimizer lowers ½‖p − c‖² over 30 steps from any start", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 2, maxLength: 5 }), fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 5, maxLength: 5 }), (start, target) => {
        const c = f64(target.slice(0, start.length));
        const loss = (p: { x: Tensor }) => mul(sum(square(sub(p.x, c))), 0.5);
        const l0 = loss({ x: f64(start) }).item();
        fc.pre(l0 > 1e-3);
        for (const [, make] of allOptimizers) {
          const opt = make();
          let p: { x: Tensor } = { x: f64(start) };
          let s = opt.init(p);
          for (let i = 0; i < 30; i++) [p, s] = opt.update(grad(loss)(p), s, p);
          expect(loss(p).item()).toBeLessThan(l0);
        }
      }),
      { numRuns: 20, seed: 42 },
    );
  });
});
