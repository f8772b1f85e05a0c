import { describe, expect, it } from "vitest";
import { tensor, zeros, type Tensor } from "../../core/tensor.js";
import { ArgumentError, ShapeError } from "../../core/errors.js";
import { randomKey } from "../../core/random.js";
import { add, grad, matmul, mul, slice, sub, sum, tanh, vjp } from "../../autograd/index.js";
import { rnn, bidirectional, stacked } from "../../layers/sequence.js";
import { rnnCell } from "../../layers/cells/rnn.js";
import { gruCell } from "../../layers/cells/gru.js";
import { lstmCell } from "../../layers/cells/lstm.js";
import type { Cell } from "../../layers/cells/types.js";
import { checkGrad, formatReport, seededUniform } from "../../proofs/checkGrad.js";

type A3 = number[][][];
const f64 = (v: unknown) => tensor(v as number[], { dtype: "float64" });
const key = randomKey(21);
const T = 4, B = 2, D = 3, H = 2;
const rand = seededUniform(17);
const xsArr: A3 = Array.from({ length: T }, () => Array.from({ length: B }, () => Array.from({ length: D }, () => 2 * rand() - 1)));
const xs = f64(xsArr);

/** The test's own loop over time: cell.step called T times, outputs collected as nested arrays. */
const unroll = (cell: Cell, p: unknown, x: A3, carry0?: unknown): { ys: A3; carry: unknown } => {
  let c = carry0 ?? cell.initialCarry(p, x[0]!.length);
  const ys: A3 = [];
  for (const xt of x) {
    const [n, y] = cell.step(p, c, f64(xt));
    c = n;
    ys.push((y as Tensor).toArray() as number[][]);
  }
  return { ys, carry: c };
};
const maxAbs = (a: unknown, b: unknown): number => {
  const fa = [a].flat(Infinity) as number[], fb = [b].flat(Infinity) as number[];
  return fa.length !== fb.length ? Infinity : fa.reduce((m, v, i) => Math.max(m, Math.abs(v - fb[i]!)), 0);
};
const reverseTime = (x: A3): A3 => x.slice().reverse();
const lastAxis = (y: A3, from: number, n: number): A3 => y.map((r) => r.map((v) => v.slice(from, from + n)));

describe("rnn(cell)", () => {
  it("gives the outputs and final carry of calling the cell's step at every time step", () => {
    const cell = lstmCell();
    const layer = rnn(cell);
    const p = layer.init(key, D, H, "float64");
    const [carry, ys] = layer.apply(p, xs);
    const ref = unroll(cell, p, xsArr);
    expect(ys.shape).toEqual([T, B, H]);
    expect(maxAbs(ys.toArray(), ref.ys)).toBe(0);
    expect(carry.a.toArray()).toEqual((ref.carry as { a: Tensor }).a.toArray());
    expect(layer.outputSize(H)).toBe(H);
  });

  it("starts from options.carry0 when given, and reads right to left with reverse", () => {
    const cell = gruCell();
    const p = cell.init(key, D, H, "float64");
    const c0 = f64([[0.5, -0.5], [0.1, 0.2]]);
    expect(maxAbs(rnn(cell).apply(p, xs, { carry0: c0 })[1].toArray(), unroll(cell, p, xsArr, c0).ys)).toBe(0);
    const back = rnn(cell, { reverse: true }).apply(p, xs)[1].toArray() as A3;
    expect(maxAbs(back, reverseTime(unroll(cell, p, reverseTime(xsArr)).ys))).toBe(0);
  });

  it("runs a user-written cell, which needs only init, initialCarry and step", () => {
    // a leaky integrator a<t> = λ a<t-1> + (1 - λ) tanh(x<t> w), written here, not in the library
    const leaky: Cell<{ w: Tensor; lambda: Tensor }, Tensor> = {
      init: (_k, d, h, dtype) => ({ w: tensor(Array.from({ length: d }, (_, i) => Array.from({ length: h }, (_, j) => (i + 1) / (j + 2))), { dtype }), lambda: tensor(0.25, { dtype }) }),
      initialCarry: (p, b) => zeros([b, p.w.shape[1]!], p.w.dtype),
      step: (p, a, x) => {
        const y = add(mul(p.lambda, a), mul(sub(1, p.lambda), tanh(matmul(x, p.w))));
        return [y, y];
      },
    };
    const layer = rnn(leaky);
    const p = layer.init(key, D, H, "float64");
    const [, ys] = layer.apply(p, xs);
    let a = [0, 0].map(() => [0, 0]);
    const w = p.w.toArray() as number[][];
    xsArr.forEach((xt, t) => {
      a = a.map((row, b) => row.map((v, j) => 0.25 * v + 0.75 * Math.tanh(xt[b]!.reduce((s, xv, i) => s + xv * w[i]![j]!, 0))));
      expect(maxAbs((ys.toArray() as A3)[t], a)).toBeLessThanOrEqual(1e-15);
    });
    const g = grad((p: { w: Tensor; lambda: Tensor }) => sum(layer.apply(p, xs)[1]))(p);
    expect(g.lambda.shape).toEqual([]);
  });

  it("refuses a non-cell and a non-time-major input, saying what it expects", () => {
    expect(() => rnn({ apply: () => 0 } as never)).toThrow(/rnn: cell must be a cell: an object with step\(params, carry, x\)/);
    const layer = rnn(rnnCell());
    const p = layer.init(key, D, H);
    expect(() => layer.apply(p, zeros([T, D]))).toThrow(ShapeError);
    expect(() => layer.apply(p, zeros([T, D]))).toThrow(/rnn\.apply: xs must be time-major \[T, B, D\], got shape \[4,3\]/);
  });
});

describe("bidirectional(fwd, bwd)", () => {
  it("concatenates a left-to-right and a right-to-left pass on the last axis", () => {
    const fwd = lstmCell(), bwd = gruCell({ variant: "full" });
    const layer = bidirectional(fwd, bwd);
    const p = layer.init(key, D, H, "float64");
    const [carry, ys] = layer.apply(p, xs);
    expect(ys.shape).toEqual([T, B, 2 * H]);
    expect(layer.outputSize(H)).toBe(2 * H);
    const y = ys.toArray() as A3;
    const f = unroll(fwd, p.fwd, xsArr), b = unroll(bwd, p.bwd, reverseTime(xsArr));
    expect(maxAbs(lastAxis(y, 0, H), f.ys)).toBe(0);
    expect(maxAbs(lastAxis(y, H, H), reverseTime(b.ys))).toBe(0);
    expect(carry.bwd.toArray()).toEqual((b.carry as Tensor).toArray());
  });

  it("sums the two directions with merge 'sum'", () => {
    const cell = rnnCell();
    const layer = bidirectional(cell, cell, { merge: "sum" });
    const p = layer.init(key, D, H, "float64");
    const [, ys] = layer.apply(p, xs);
    expect(ys.shape).toEqual([T, B, H]);
    expect(layer.outputSize(H)).toBe(H);
    const f = unroll(cell, p.fwd, xsArr).ys, b = reverseTime(unroll(cell, p.bwd, reverseTime(xsArr)).ys);
    expect(maxAbs(ys.toArray(), f.map((r, t) => r.map((v, i) => v.map((u, j) => u + b[t]![i]![j]!))))).toBeLessThanOrEqual(1e-15);
  });

  it("lets the first output see the last input, which a one-way rnn cannot", () => {
    const cell = rnnCell();
    const bi = bidirectional(cell, cell);
    const p = bi.init(key, D, H, "float64");
    const firstOut = (layerYs: (xs: Tensor) => Tensor) => (xs: Tensor) => sum(slice(layerYs(xs), [0, 0, 0], [1, B, -1]));
    const dBi = grad(firstOut((x) => bi.apply(p, x)[1]))(xs) as Tensor;
    const dUni = grad(firstOut((x) => rnn(cell).apply(p.fwd, x)[1]))(xs) as Tensor;
    const lastStep = (g: Tensor) => (g.toArray() as A3)[T - 1]!.flat();
    expect(lastStep(dBi).some((v) => v !== 0)).toBe(true);
    expect(lastStep(dUni).every((v) => v === 0)).toBe(true);
  });

  it("with a mask, runs each padded row's backward pass from its own last real step", () => {
    const cell = gruCell();
    const layer = bidirectional(cell, cell);
    const p = layer.init(key, D, H, "float64");
    const mask = [[1, 1], [1, 1], [1, 0], [1, 0]]; // row 1 has length 2
    const [, ys] = layer.apply(p, xs, { mask });
    const row1 = xsArr.slice(0, 2).map((r) => [r[1]!]);
    const b = reverseTime(unroll(cell, p.bwd, reverseTime(row1)).ys);
    const y = ys.toArray() as A3;
    expect(maxAbs([y[0]![1]!.slice(H), y[1]![1]!.slice(H)], b.map((r) => r[0]!))).toBeLessThanOrEqual(1e-15);
    expect([y[2]![1], y[3]![1]]).toEqual([[0, 0, 0, 0], [0, 0, 0, 0]]);
  });

  it("refuses an unknown merge", () => {
    expect(() => bidirectional(rnnCell(), rnnCell(), { merge: "mean" as never })).toThrow(/bidirectional: options\.merge must be 'concat' or 'sum'/);
  });
});

describe("stacked(layers)", () => {
  it("feeds layer l's outputs to layer l+1 and sizes each layer's input from the one below", () => {
    const cells = [lstmCell(), bidirectional(gruCell(), gruCell()), rnnCell()] as const;
    const deep = stacked([...cells]);
    const p = deep.init(key, D, H, "float64");
    expect(p).toHaveLength(3);
    expect((p[0] as { W: Tensor }).W.shape).toEqual([4 * H, H + D]);
    expect((p[1] as { fwd: { W_x: Tensor } }).fwd.W_x.shape).toEqual([3 * H, H]);
    expect((p[2] as { W_a: Tensor }).W_a.shape).toEqual([H, H + 2 * H]);
    const [carries, ys] = deep.apply(p, xs);
    expect(carries).toHaveLength(3);
    const y1 = rnn(cells[0]).apply(p[0], xs)[1];
    const y2 = cells[1].apply(p[1], y1)[1];
    const y3 = rnn(cells[2]).apply(p[2], y2)[1];
    expect(ys.toArray()).toEqual(y3.toArray());
    expect(deep.outputSize(H)).toBe(H);
  });

  it("takes one hidden size per layer", () => {
    const deep = stacked([rnnCell(), lstmCell()]);
    const p = deep.init(key, D, [5, 3], "float64");
    expect((p[0] as { W_a: Tensor }).W_a.shape).toEqual([5, 5 + D]);
    expect((p[1] as { W: Tensor }).W.shape).toEqual([12, 3 + 5]);
    expect(deep.apply(p, xs)[1].shape).toEqual([T, B, 3]);
    expect(deep.outputSize([5, 3])).toBe(3);
    expect(() => deep.init(key, D, [5])).toThrow(/stacked\.init: hiddenSize must be a number or one number per layer \(2\)/);
  });

  it("has BPTT gradients through every layer that agree with central differences, with a mask", () => {
    const deep = stacked([gruCell({ variant: "minimal" }), bidirectional(rnnCell(), lstmCell(), { merge: "sum" })]);
    const p = deep.init(key, 2, 2, "float64");
    const x = f64([[[0.5, -0.2]], [[0.1, 0.9]], [[-0.7, 0.3]]]);
    const c0 = deep.initialCarry(p, 1);
    const r = checkGrad((p: any, x: Tensor) => sum(mul(deep.apply(p, x, { mask: [[1], [1], [0]], carry0: c0 })[1], 1.5)), [p, x]);
    expect(r.ok, formatReport(r)).toBe(true);
  });

  it("passes options.carry0 layer by layer and checks there is one per layer", () => {
    const deep = stacked([rnnCell(), rnnCell()]);
    const p = deep.init(key, D, H, "float64");
    const c0 = [f64([[1, 1], [1, 1]]), f64([[-1, 0], [0, -1]])];
    const [, ys] = deep.apply(p, xs, { carry0: c0 });
    const y1 = rnn(rnnCell()).apply(p[0], xs, { carry0: c0[0] })[1];
    expect(ys.toArray()).toEqual(rnn(rnnCell()).apply(p[1], y1, { carry0: c0[1] })[1].toArray());
    expect(() => deep.apply(p, xs, { carry0: [c0[0]] })).toThrow(/stacked\.apply: options\.carry0 must be an array with one entry per layer \(2\)/);
    expect(() => stacked([])).toThrow(ArgumentError);
    expect(() => stacked([{} as never])).toThrow(/stacked: cellsOrLayers\[0\] must be a cell/);
  });
});

describe("sequence layers as pure functions", () => {
  it("leave params and inputs unchanged and give the same result twice", () => {
    const layer = stacked([lstmCell(), rnnCell()]);
    const p = layer.init(key, D, H, "float64");
    const snap = () => JSON.stringify([p.map((q) => Object.values(q as Record<string, Tensor>).map((t) => t.toArray())), xs.toArray()]);
    const before = snap();
    const [, y1] = layer.apply(p, xs);
    const [out, pb] = vjp((xs: Tensor) => layer.apply(p, xs)[1], xs);
    pb(out);
    expect(layer.apply(p, xs)[1].toArray()).toEqual(y1.toArray());
    expect(snap()).toEqual(before);
  });
});
