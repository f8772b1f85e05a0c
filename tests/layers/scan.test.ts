import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor, zeros, type Tensor } from "../../core/tensor.js";
import { ArgumentError, ShapeError } from "../../core/errors.js";
import { randomKey } from "../../core/random.js";
import { add, concat, grad, matmul, mul, slice, sum, tanh, valueAndGrad } from "../../autograd/index.js";
import { TreeMismatchError } from "../../autograd/tree.js";
import { scan } from "../../layers/scan.js";
import { rnnCell } from "../../layers/cells/rnn.js";
import { lstmCell } from "../../layers/cells/lstm.js";
import { checkGrad, formatReport, seededUniform } from "../../proofs/checkGrad.js";

const f64 = (v: unknown) => tensor(v as number[], { dtype: "float64" });
/** A running sum: carry<t> = carry<t-1> + x<t>, y<t> = 2 carry<t>. */
const runningSum = (c: Tensor, x: Tensor) => {
  const n = add(c, x);
  return [n, mul(n, 2)] as const;
};

describe("scan", () => {
  it("threads the carry through time and stacks the outputs to [T, B, H]", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: -100, max: 100 }), { minLength: 2, maxLength: 2 }), { minLength: 1, maxLength: 8 }), (rows) => {
        const xs = f64(rows.map((r) => r.map((v) => [v]))); // [T, 2, 1]
        const [cT, ys] = scan(runningSum, zeros([2, 1], "float64"), xs);
        const acc = [0, 0];
        const want = rows.map((r) => r.map((v, b) => [2 * (acc[b] = acc[b]! + v)]));
        expect(ys.shape).toEqual([rows.length, 2, 1]);
        expect(ys.toArray()).toEqual(want);
        expect(cT.toArray()).toEqual(acc.map((v) => [v]));
      }),
      { numRuns: 50 },
    );
  });

  it("runs right to left with reverse and still returns ys in the original time order", () => {
    const xs = f64([[[1]], [[10]], [[100]]]);
    const [cT, ys] = scan(runningSum, zeros([1, 1], "float64"), xs, { reverse: true });
    // suffix sums: y<3> = 2·100, y<2> = 2·110, y<1> = 2·111
    expect(ys.toArray()).toEqual([[[222]], [[220]], [[200]]]);
    expect(cT.toArray()).toEqual([[111]]);
    const order: number[] = [];
    scan((c: Tensor, x: Tensor) => (order.push(x.item()), [c, x] as const), zeros([1, 1]), xs, { reverse: true });
    expect(order).toEqual([100, 10, 1]);
  });

  it("accepts trees of inputs, carries and outputs", () => {
    const xs = { u: f64([[[1]], [[2]]]), v: [f64([[[1, 2]], [[3, 4]]])] };
    const step = (c: { s: Tensor; n: Tensor }, x: { u: Tensor; v: Tensor[] }) => {
      const s = add(c.s, sum(x.v[0]!, 1, true));
      return [{ n: add(c.n, x.u), s }, { total: add(s, c.n), pair: [x.u, s] }] as const;
    };
    const [cT, ys] = scan(step, { s: zeros([1, 1], "float64"), n: zeros([1, 1], "float64") }, xs);
    expect(cT.s.toArray()).toEqual([[10]]);
    expect(cT.n.toArray()).toEqual([[3]]);
    expect(ys.total.toArray()).toEqual([[[3]], [[11]]]);
    expect(ys.pair[0]!.toArray()).toEqual([[[1]], [[2]]]);
    expect(ys.pair[1]!.toArray()).toEqual([[[3]], [[10]]]);
  });

  it("freezes the carry and zeroes the output of each batch row at its padded steps", () => {
    const xs = f64([[[1], [2]], [[3], [4]], [[5], [6]], [[7], [8]]]); // [T=4, B=2, 1]
    const mask = [[1, 1], [1, 0], [0, 1], [1, 0]]; // a hole in the middle of row 0, gaps in row 1
    const [cT, ys] = scan(runningSum, zeros([2, 1], "float64"), xs, { mask });
    // row 0 adds x at t = 0, 1, 3: 1, 4, 4 (frozen), 11; row 1 adds at t = 0, 2: 2, 2, 8, 8
    expect(ys.toArray()).toEqual([[[2], [4]], [[8], [0]], [[0], [16]], [[22], [0]]]);
    expect(cT.toArray()).toEqual([[11], [8]]);
    // booleans and tensors work as masks too
    const asBool = scan(runningSum, zeros([2, 1], "float64"), xs, { mask: mask.map((r) => r.map((v) => v === 1)) });
    expect(asBool[1].toArray()).toEqual(ys.toArray());
    expect(scan(runningSum, zeros([2, 1], "float64"), xs, { mask: f64(mask) })[1].toArray()).toEqual(ys.toArray());
  });

  it("gives padded steps exactly zero gradient, and each sequence the loss and gradients it has alone", () => {
    const cell = rnnCell();
    const p = cell.init(randomKey(1), 2, 3, "float64");
    const rand = seededUniform(9);
    const xs = f64(Array.from({ length: 5 }, () => [0, 1].map(() => [rand() * 2 - 1, rand() * 2 - 1])));
    const lengths = [5, 3];
    const mask = Array.from({ length: 5 }, (_, t) => lengths.map((L) => (t < L ? 1 : 0)));
    const loss = (p: any, xs: Tensor) => sum(scan((a: Tensor, x: Tensor) => cell.step(p, a, x), cell.initialCarry(p, 2), xs, { mask })[1]);
    const [L, [gp, gx]] = valueAndGrad(loss, { argnums: [0, 1] })(p, xs);
    const gxs = gx.toArray() as number[][][];
    for (let t = 3; t < 5; t++) expect(gxs[t]![1]).toEqual([0, 0]); // exactly zero, not just small
    // each row alone, unpadded
    let Lsum = 0;
    const gsum = { W_a: zeros([3, 5], "float64"), b_a: zeros([3], "float64") };
    lengths.forEach((len, b) => {
      const xb = slice(xs, [0, b, 0], [len, 1, 2]);
      const single = (p: any, xb: Tensor) => sum(scan((a: Tensor, x: Tensor) => cell.step(p, a, x), cell.initialCarry(p, 1), xb)[1]);
      const [Lb, [gpb, gxb]] = valueAndGrad(single, { argnums: [0, 1] })(p, xb);
      Lsum += Lb.item();
      gsum.W_a = add(gsum.W_a, gpb.W_a);
      gsum.b_a = add(gsum.b_a, gpb.b_a);
      const rowGrad = gxs.slice(0, len).map((r) => [r[b]!]);
      expect(maxAbs(rowGrad.flat(2), (gxb.toArray() as number[][][]).flat(2))).toBeLessThanOrEqual(1e-15);
    });
    expect(Math.abs(L.item() - Lsum)).toBeLessThanOrEqual(1e-14);
    expect(maxAbs(gp.W_a.toFlatArray(), gsum.W_a.toFlatArray())).toBeLessThanOrEqual(1e-14);
    expect(maxAbs(gp.b_a.toFlatArray(), gsum.b_a.toFlatArray())).toBeLessThanOrEqual(1e-14);
  });

  it("with reverse and trailing padding, starts each row's backward pass at its own last real step", () => {
    const xs = f64([[[1], [2]], [[3], [4]], [[5], [6]]]);
    const [, ys] = scan(runningSum, zeros([2, 1], "float64"), xs, { mask: [[1, 1], [1, 1], [1, 0]], reverse: true });
    // row 1 has length 2: its suffix sums are 6, 4 and the padded step outputs 0
    expect(ys.toArray()).toEqual([[[18], [12]], [[16], [8]], [[10], [0]]]);
  });

  it("sums a shared weight's gradient over every time step (BPTT through a linear recurrence)", () => {
    // a<t> = w a<t-1> + x<t>, L = a<T>: dL/dw = Σ_t (T-t) w^(T-t-1) a<t-1>  — computed here in plain numbers
    const xsArr = [0.5, -1, 2, 0.25, 1.5];
    const w0 = 0.9;
    const a: number[] = [0];
    xsArr.forEach((x) => a.push(w0 * a[a.length - 1]! + x));
    const T = xsArr.length;
    let want = 0;
    for (let t = 1; t <= T; t++) want += w0 ** (T - t) * a[t - 1]!;
    const L = (w: Tensor) => sum(scan((c: Tensor, x: Tensor) => {
      const n = add(mul(w, c), x);
      return [n, n] as const;
    }, zeros([1, 1], "float64"), f64(xsArr.map((v) => [[v]])))[0]);
    expect(Math.abs((grad(L)(f64([[w0]])) as Tensor).item() - want)).toBeLessThanOrEqual(1e-14);
  });

  it("differentiates a user closure over time in agreement with central differences, with a mask and reverse", () => {
    const W = f64([[0.5, -0.3], [0.2, 0.8], [0.1, 0.4]]); // [a; x] -> a, H = 2, D = 1
    const xs = f64([[[0.3], [1]], [[-0.5], [0.2]], [[0.7], [-0.4]]]);
    const f = (W: Tensor, xs: Tensor, a0: Tensor) =>
      sum(mul(scan((a: Tensor, x: Tensor) => {
        const n = tanh(matmul(concat([a, x], 1), W));
        return [n, n] as const;
      }, a0, xs, { mask: [[1, 1], [1, 0], [0, 1]], reverse: true })[1], f64([[[1, 2]], [[3, -1]], [[0.5, 0.5]]])));
    const r = checkGrad(f, [W, xs, f64([[0.1, -0.2], [0.3, 0.4]])]);
    expect(r.ok, formatReport(r)).toBe(true);
  });

  it("backpropagates through 100,000 steps without overflowing the stack, matching a plain reverse loop", () => {
    const T = 100_000;
    const xsArr = Array.from({ length: T }, (_, t) => Math.sin(t) * 0.5);
    const xs = tensor(xsArr, { dtype: "float64", shape: [T, 1, 1] });
    const w0 = 0.7;
    const f = (w: Tensor) => sum(scan((a: Tensor, x: Tensor) => {
      const n = tanh(add(mul(a, w), x));
      return [n, n] as const;
    }, zeros([1, 1], "float64"), xs)[1]);
    const g = (grad(f)(f64([[w0]])) as Tensor).item();
    // reference: forward in numbers, then BPTT by hand: L = Σ a<t>, a<t> = tanh(w a<t-1> + x<t>)
    const a = new Float64Array(T + 1);
    for (let t = 0; t < T; t++) a[t + 1] = Math.tanh(w0 * a[t]! + xsArr[t]!);
    let da = 0, dw = 0;
    for (let t = T; t >= 1; t--) {
      da += 1; // ∂L/∂a<t> from the loss term
      const dz = da * (1 - a[t]! * a[t]!);
      dw += dz * a[t - 1]!;
      da = dz * w0;
    }
    expect(Number.isFinite(g)).toBe(true);
    expect(Math.abs(g - dw) / Math.abs(dw)).toBeLessThanOrEqual(1e-9);
  });
});

const maxAbs = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), a.length === b.length ? 0 : Infinity);

describe("scan errors", () => {
  const xs = f64([[[1]], [[2]], [[3]]]);

  it("refuses a misspelt option instead of ignoring it", () => {
    const step = (c: Tensor, x: Tensor) => [add(c, x), c] as const;
    expect(() => scan(step, zeros([1, 1], "float64"), xs, { reversed: true } as never)).toThrow('scan: options has an unknown key "reversed"; known: mask, reverse, checkpointEvery');
    expect(() => scan(step, zeros([1, 1], "float64"), xs, [] as never)).toThrow("scan: options must be an object like { mask, reverse }, got an array of length 0");
  });

  it("names the time step when the step changes the carry's structure, shape or dtype", () => {
    expect(() => scan((c: any, x: Tensor) => [{ a: c }, x] as const, zeros([1, 1], "float64"), xs)).toThrow(TreeMismatchError);
    expect(() => scan((c: any, x: Tensor) => [{ a: c }, x] as const, zeros([1, 1], "float64"), xs)).toThrow(/carry at time step 0/);
    const growing = (c: Tensor, x: Tensor) => [x.item() === 2 ? concat([c, c], 1) : c, x] as const;
    expect(() => scan(growing, zeros([1, 1], "float64"), xs)).toThrow(ShapeError);
    expect(() => scan(growing, zeros([1, 1], "float64"), xs)).toThrow(/time step 1: the step returned carry of shape \[1,2\], but carry0 has shape \[1,1\]/);
    expect(() => scan((c: Tensor, x: Tensor) => [tensor([[0]]), x] as const, zeros([1, 1], "float64"), xs)).toThrow(/carry at time step 0 is float32, but carry0 is float64/);
  });

  it("names the time step when the outputs change shape between steps", () => {
    const ragged = (c: Tensor, x: Tensor) => [c, x.item() === 3 ? concat([x, x], 1) : x] as const;
    expect(() => scan(ragged, zeros([1, 1], "float64"), xs)).toThrow(/time step 2: the step returned output y of shape \[1,2\]/);
  });

  it("adds the time step to errors raised inside the step, keeping their class and fields", () => {
    const cell = lstmCell();
    const p = cell.init(randomKey(0), 2, 3, "float64");
    let err: unknown;
    try {
      scan((c: any, x: Tensor) => cell.step(p, c, x), cell.initialCarry(p, 1), xs);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as ShapeError).op).toBe("lstmCell.step");
    expect((err as Error).message).toMatch(/x must have shape \[B, 2\][\s\S]*in scan at time step t = 0 of T = 3/);
  });

  it("refuses empty, ragged or non-time-major inputs and bad masks with the shapes in the message", () => {
    expect(() => scan(runningSum, zeros([1, 1]), zeros([0, 1, 1]))).toThrow(/xs has T = 0 time steps/);
    expect(() => scan(runningSum as any, zeros([1, 1]), { a: zeros([3, 1, 1]), b: zeros([2, 1, 1]) })).toThrow(/same T on axis 0; xs b has shape \[2,1,1\] but xs a has T = 3/);
    expect(() => scan(runningSum, zeros([1, 1], "float64"), xs, { mask: [[1], [1]] })).toThrow(/options\.mask must have shape \[T, B\] = \[3, 1\].*got \[2,1\]/);
    expect(() => scan(runningSum, zeros([1, 1], "float64"), xs, { mask: [[1], [0.5], [1]] })).toThrow(/only 0 \(padding\) and 1 \(real step\); entry \[1, 0\] is 0\.5/);
    expect(() => scan(runningSum, zeros([2, 1], "float64"), xs, { mask: [[1], [1], [1]] })).toThrow(/carry tensor must have the batch B = 1 on axis 0; carry0 has shape \[2,1\]/);
    expect(() => scan((c: Tensor) => c as never, zeros([1, 1], "float64"), xs)).toThrow(ArgumentError);
    expect(() => scan((c: Tensor) => c as never, zeros([1, 1], "float64"), xs)).toThrow(/step must return \[carry, y\]; at time step 0/);
    expect(() => scan(42 as never, zeros([1, 1]), xs)).toThrow(/scan: step must be a function/);
  });
});

describe("scan keeps inputs intact", () => {
  it("leaves xs, carry0 and the mask unchanged", () => {
    const xs = f64([[[1], [2]], [[3], [4]]]);
    const c0 = f64([[0.5], [-0.5]]);
    const mask = f64([[1, 0], [1, 1]]);
    const before = [xs.toArray(), c0.toArray(), mask.toArray()];
    scan(runningSum, c0, xs, { mask });
    scan(runningSum, c0, xs, { mask, reverse: true });
    expect([xs.toArray(), c0.toArray(), mask.toArray()]).toEqual(before);
  });
});
