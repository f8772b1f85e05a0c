import { afterEach, describe, expect, it } from "vitest";
import { tensor, type Tensor } from "../../core/tensor.js";
import { NonFiniteError } from "../../core/errors.js";
import { add, customVjp, debugNansEnabled, grad, log, matmul, mul, setDebugNans, sqrt, sum, tanh, vjp, withDebugNans } from "../../autograd/index.js";
// internal: observing the tape directly (nothing here is exported from the package)
import { isRecording, popTape, pushTape } from "../../autograd/tape.js";

const f64 = (v: number | number[] | number[][]) => tensor(v, { dtype: "float64" });

/** An identity op whose backward rule counts how often the tape visits it. */
const counted = () => {
  const state = { calls: 0 };
  const op = customVjp(
    (x: Tensor) => mul(x, 1),
    (dy) => {
      state.calls++;
      return [dy];
    },
    "counted",
  );
  return { op, state };
};

describe("recording", () => {
  it("records nothing outside a transform", () => {
    expect(isRecording()).toBe(false);
    const x = f64([1, 2]);
    mul(x, 2);
    expect(isRecording()).toBe(false);
    let inside = false;
    grad((x: Tensor) => {
      inside = isRecording();
      return sum(x);
    })(x);
    expect(inside).toBe(true);
    expect(isRecording()).toBe(false);
  });

  it("stops recording when the differentiated function throws", () => {
    expect(() =>
      grad(() => {
        throw new Error("boom");
      })(f64(1)),
    ).toThrow("boom");
    expect(isRecording()).toBe(false);
  });

  it("appends an op to a tape only when one of its inputs is watched, and never after the tape is popped", () => {
    const x = f64([1, 2]), c = f64([3, 4]);
    const tape = pushTape();
    try {
      tape.watched.add(x.id);
      const y = mul(x, 2);
      expect(tape.entries).toHaveLength(1);
      mul(c, 2); // a constant: not recorded
      expect(tape.entries).toHaveLength(1);
      add(y, c); // depends on x through y: recorded
      expect(tape.entries).toHaveLength(2);
    } finally {
      popTape(tape);
    }
    mul(x, 2);
    expect(tape.entries).toHaveLength(2);
  });

  it("does not run backward rules for constants, for results outside the transform, or for unused branches", () => {
    const { op, state } = counted();
    const x = f64([1, 2]);
    const outside = op(x); // before any transform
    grad((w: Tensor) => sum(mul(w, outside)))(x);
    expect(state.calls).toBe(0);
    grad((w: Tensor) => {
      op(w); // unused branch: no cotangent reaches it
      return sum(mul(w, op(f64([5, 6])))); // constant input: not recorded
    })(x);
    expect(state.calls).toBe(0);
    grad((w: Tensor) => sum(op(w)))(x);
    expect(state.calls).toBe(1);
  });

  it("leaves a pullback unaffected by ops run after it was made", () => {
    const [, pb] = vjp((x: Tensor) => mul(x, x), f64([1, 2]));
    const before = (pb(f64([1, 1]))[0] as Tensor).toFlatArray();
    for (let i = 0; i < 10; i++) grad((x: Tensor) => sum(tanh(x)))(f64([i]));
    mul(f64([1, 2]), 3);
    expect((pb(f64([1, 1]))[0] as Tensor).toFlatArray()).toEqual(before);
  });
});

describe("shared weights", () => {
  it("sums the gradient of a weight used at every step: d/dW Σₜ Σ W⊙xₜ = Σₜ xₜ", () => {
    const xs = [f64([1, 2]), f64([10, 20]), f64([100, 200])];
    const g = grad((W: Tensor) => xs.reduce((acc: Tensor, x) => add(acc, sum(mul(W, x))), f64(0)))(f64([0.5, 0.5])) as Tensor;
    expect(g.toFlatArray()).toEqual([111, 222]);
  });

  it("sums both contributions when one tensor is both operands of an op: d/dx Σ x⊙x = 2x", () => {
    expect((grad((x: Tensor) => sum(mul(x, x)))(f64([1.5, -2])) as Tensor).toFlatArray()).toEqual([3, -4]);
  });

  it("matches hand-written backpropagation through time for a tanh recurrence aₜ = tanh(W aₜ₋₁ + xₜ) over T = 6 steps", () => {
    const H = 3, T = 6;
    const Wv = [[0.3, -0.2, 0.5], [0.1, 0.4, -0.3], [-0.6, 0.2, 0.1]];
    const xsv = Array.from({ length: T }, (_, t) => [Math.sin(t + 1), Math.cos(2 * t), 0.3 * t - 0.5]);
    const a0 = [0.1, -0.1, 0.2];
    const f = (W: Tensor) => {
      let a = f64(a0);
      for (let t = 0; t < T; t++) a = tanh(add(matmul(W, a), f64(xsv[t]!)));
      return sum(a);
    };
    const g = (grad(f)(f64(Wv)) as Tensor).toArray() as number[][];
    // by hand: forward keeping every aₜ, then dW = Σₜ dzₜ aₜ₋₁ᵀ with dzₜ = daₜ ⊙ (1 - aₜ²), daₜ₋₁ = Wᵀ dzₜ
    const as: number[][] = [a0];
    for (let t = 0; t < T; t++) as.push(Wv.map((row, i) => Math.tanh(row.reduce((s, w, j) => s + w * as[t]![j]!, 0) + xsv[t]![i]!)));
    const dW = Wv.map((row) => row.map(() => 0));
    let da = new Array<number>(H).fill(1);
    for (let t = T; t >= 1; t--) {
      const dz = da.map((d, i) => d * (1 - as[t]![i]! ** 2));
      for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) dW[i]![j]! += dz[i]! * as[t - 1]![j]!;
      da = Array.from({ length: H }, (_, j) => Wv.reduce((s, row, i) => s + row[j]! * dz[i]!, 0));
    }
    let worst = 0;
    dW.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - g[i]![j]!) / Math.max(1, Math.abs(v))))));
    expect(worst).toBeLessThan(1e-12);
  });
});

describe("long chains", () => {
  it("backpropagates through 100,000 successive multiplications without overflowing the stack", () => {
    const c = 1.0000001, n = 100_000;
    const f = (x: Tensor) => {
      let y = x;
      for (let i = 0; i < n; i++) y = mul(y, c);
      return y;
    };
    const g = (grad(f)(f64(1)) as Tensor).item();
    let ref = 1;
    for (let i = 0; i < n; i++) ref *= c;
    expect(Math.abs(g - ref) / ref).toBeLessThan(1e-12);
  });

  it("backpropagates through 100,000 successive tanh steps, matching the product of 1 - yₜ²", () => {
    const n = 100_000;
    const f = (x: Tensor) => {
      let y = x;
      for (let i = 0; i < n; i++) y = tanh(y);
      return y;
    };
    const g = (grad(f)(f64(0.5)) as Tensor).item();
    let y = 0.5, ref = 1;
    for (let i = 0; i < n; i++) {
      y = Math.tanh(y);
      ref *= 1 - y * y;
    }
    expect(Math.abs(g - ref) / ref).toBeLessThan(1e-9);
  });
});

describe("debugNans", () => {
  afterEach(() => setDebugNans(false));

  it("names the first op that made a NaN or Inf from finite inputs in the forward pass, with its input shapes", () => {
    const run = () => withDebugNans(() => mul(log(f64([0, 1])), 0));
    expect(run).toThrow(NonFiniteError);
    try {
      run();
    } catch (e) {
      const err = e as NonFiniteError;
      expect(err.op).toBe("log");
      expect(err.phase).toBe("forward");
      expect(err.shapes).toEqual([[2]]);
      expect(err.index).toBe(0);
      expect(err.value).toBe(-Infinity);
      expect(err.message).toMatch(/^log: forward pass produced -Infinity at flat index 0 \(input shapes \[2\]\)/);
    }
  });

  it("names the op and the primitive whose backward pass made a NaN: sqrt at 0 times 0", () => {
    const run = () => withDebugNans(() => grad((x: Tensor) => sum(mul(sqrt(x), 0)))(f64([0, 1])));
    expect(run).toThrow(NonFiniteError);
    try {
      run();
    } catch (e) {
      const err = e as NonFiniteError;
      expect(err.phase).toBe("backward");
      expect(err.op).toBe("div (in the backward pass of sqrt)");
      expect(err.message).toMatch(/backward pass produced NaN at flat index 0/);
    }
  });

  it("reports an overflow while summing a shared value's gradients as part of the backward pass", () => {
    // the forward values are 1e8; each gradient contribution is 1e308 (finite) and their sum is Infinity
    const run = () => withDebugNans(() => grad((x: Tensor) => add(mul(x, 1e308), mul(x, 1e308)))(f64(1e-300)));
    expect(run).toThrow(NonFiniteError);
    try {
      run();
    } catch (e) {
      expect((e as NonFiniteError).phase).toBe("backward");
      expect((e as NonFiniteError).message).toMatch(/^add \(in the backward pass of /);
    }
  });

  it("does not blame an op whose input was already non-finite", () => {
    expect(withDebugNans(() => mul(f64([Infinity]), 2)).toFlatArray()).toEqual([Infinity]);
  });

  it("raises nothing when off, leaving NaN and Inf in the results", () => {
    expect(debugNansEnabled()).toBe(false);
    expect(mul(log(f64([0, 1])), 0).toFlatArray()).toEqual([NaN, 0]);
    expect((grad((x: Tensor) => sum(mul(sqrt(x), 0)))(f64([0, 1])) as Tensor).toFlatArray()).toEqual([NaN, 0]);
  });

  it("restores the previous mode after withDebugNans, even when it throws, and obeys setDebugNans", () => {
    expect(() => withDebugNans(() => log(f64(0)))).toThrow(NonFiniteError);
    expect(debugNansEnabled()).toBe(false);
    setDebugNans(true);
    expect(() => log(f64(0))).toThrow(NonFiniteError);
    setDebugNans(false);
    expect(log(f64(0)).item()).toBe(-Infinity);
  });
});
