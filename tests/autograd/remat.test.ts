import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor, zeros, type Tensor } from "../../core/tensor.js";
import { ArgumentError } from "../../core/errors.js";
import { foldIn, normal, randomKey } from "../../core/random.js";
import { add, cast, exp, grad, jvp, matmul, mul, sum, tanh, valueAndGrad, vjp } from "../../autograd/index.js";
import { checkpoint } from "../../autograd/remat.js";
import { popTape, pushTape, type Tape } from "../../autograd/tape.js";
import { flatten, type Tree } from "../../autograd/tree.js";
import { scan } from "../../layers/scan.js";
import { rnnCell } from "../../layers/cells/rnn.js";
import { gruCell } from "../../layers/cells/gru.js";
import { lstmCell } from "../../layers/cells/lstm.js";
import type { Cell } from "../../layers/cells/types.js";
import { checkGrad, formatReport } from "../../proofs/checkGrad.js";

// Everything in float64. Checkpointed and plain runs execute the same kernels on the same values, so forward
// values must be bit-identical; gradients may differ only where a sum of several contributions is grouped
// differently (a weight's per-step gradients are summed segment by segment), hence 1e-12 relative to the
// largest entry of that gradient (observed: a few 1e-16).
const f64 = (v: number | number[] | number[][]) => tensor(v, { dtype: "float64" });
const key = randomKey(4242);
let draw = 0;
const randn = (shape: number[], scale = 1) => mul(normal(foldIn(key, draw++), shape, { dtype: "float64" }), scale);

const leavesOf = (t: unknown): Tensor[] => flatten(t as Tree).leaves;
const bits = (t: unknown): number[][] => leavesOf(t).map((l) => l.toFlatArray());
/** max over leaves of |a - b| / max(1, max|b|) — the relative gap of each gradient leaf to its scale. */
const relGap = (a: unknown, b: unknown): number => {
  const la = leavesOf(a), lb = leavesOf(b);
  expect(la.map((l) => l.shape)).toEqual(lb.map((l) => l.shape));
  let worst = 0;
  la.forEach((x, i) => {
    const xs = x.toFlatArray(), ys = lb[i]!.toFlatArray();
    const scale = Math.max(1, ...ys.map(Math.abs));
    xs.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ys[j]!) / scale)));
  });
  return worst;
};
/** Runs `f` under a tape watching `watch` and returns the tape (so tests can see what was recorded). */
const recordOn = (watch: readonly Tensor[], f: () => unknown): Tape => {
  const tape = pushTape();
  try {
    for (const t of watch) tape.watched.add(t.id);
    f();
  } finally {
    popTape(tape);
  }
  return tape;
};

describe("checkpoint", () => {
  const W = randn([3, 3], 0.6);
  // a chain of ops closing over W: y = tanh(W tanh(W x)) ⊙ exp(x)/… — several intermediates to drop
  const body = (x: Tensor) => {
    const h = tanh(matmul(W, x));
    const y = tanh(matmul(W, h));
    return { y: mul(y, exp(mul(x, 0.1))), s: [sum(h)] };
  };

  it("returns the values of the function it wraps, with and without a transform", () => {
    const x = randn([3, 2]);
    const want = bits(body(x));
    expect(bits(checkpoint(body)(x))).toEqual(want);
    let inside: number[][] = [];
    grad((w: Tensor) => {
      const r = checkpoint((x: Tensor) => ({ y: mul(body(x).y, w) }))(x);
      inside = bits(r);
      return sum(r.y);
    })(f64(1));
    expect(inside).toEqual([want[0]!]);
  });

  it("gives the gradients of the plain function for an argument and for closed-over parameters", () => {
    const x = randn([3, 2]);
    const loss = (wrap: boolean) => (W2: Tensor, x: Tensor) => {
      const f = (x: Tensor) => tanh(matmul(W2, tanh(matmul(W2, x))));
      return sum(mul((wrap ? checkpoint(f) : f)(x), x));
    };
    const plain = grad(loss(false), { argnums: [0, 1] })(W, x);
    const ck = grad(loss(true), { argnums: [0, 1] })(W, x);
    expect(relGap(ck, plain)).toBeLessThanOrEqual(1e-12);
    // and against central differences (checkGrad's defaults: ε = 1e-6, rtol 1e-6, atol 1e-9)
    const r = checkGrad(loss(true), [W, x]);
    expect(r.ok, formatReport(r)).toBe(true);
  });

  it("keeps one entry and one view per result leaf on the tape instead of every op of the function", () => {
    const x = randn([3, 2]);
    const plain = recordOn([W], () => body(x));
    const ck = recordOn([W], () => checkpoint(body)(x));
    expect(plain.entries.length).toBeGreaterThanOrEqual(6);
    expect(ck.entries.map((e) => e.rule.name)).toEqual(["checkpoint", "checkpoint.unpack", "checkpoint.unpack"]);
    // the entry's inputs are the watched tensors the function read: W (closed over), not x (unwatched)
    expect(ck.entries[0]!.inputs).toEqual([W]);
    // nothing the function computed internally is still watched: only W, the packed vector and the two views
    expect(ck.watched.size).toBe(4);
  });

  it("runs the function once in the forward pass and once more in the backward pass", () => {
    let calls = 0;
    const f = checkpoint((x: Tensor) => {
      calls++;
      return tanh(mul(x, x));
    });
    f(f64([1, 2]));
    expect(calls).toBe(1); // no transform: a plain call
    calls = 0;
    const [, pb] = vjp((x: Tensor) => sum(f(x)), f64([1, 2]));
    expect(calls).toBe(1);
    pb(f64(1));
    expect(calls).toBe(2);
  });

  it("differentiates a result leaf that is an argument passed through unchanged", () => {
    const x = f64([0.3, -1.2]);
    const g = grad((x: Tensor) => {
      const [same, t] = checkpoint((x: Tensor) => [x, tanh(x)] as const)(x);
      return sum(add(mul(same, 2), t));
    })(x) as Tensor;
    // d/dx (2x + tanh x) = 2 + 1 - tanh²x
    expect(g.toFlatArray()).toEqual(x.toFlatArray().map((v) => 3 - Math.tanh(v) ** 2));
  });

  it("goes through grad of grad, jvp and a checkpoint nested in a checkpoint with the plain function's values", () => {
    const x0 = f64([0.5, 2, -0.7]);
    const inner = (x: Tensor, w: Tensor) => tanh(mul(mul(w, x), x));
    const h = (wrap: boolean, nested: boolean) => (w: Tensor) => {
      const core = (x: Tensor) => inner(x, w);
      const f = wrap ? checkpoint(nested ? (x: Tensor) => mul(checkpoint(core)(x), 1.5) : (x: Tensor) => mul(core(x), 1.5)) : (x: Tensor) => mul(core(x), 1.5);
      return sum(f(x0));
    };
    const w0 = f64([0.3, -0.7, 1.1]);
    for (const nested of [false, true]) {
      // second order: ∇_w Σ (∇_w h)²
      const gg = (wrap: boolean) => grad((w: Tensor) => sum(mul(grad(h(wrap, nested))(w), grad(h(wrap, nested))(w))))(w0) as Tensor;
      expect(relGap(gg(true), gg(false))).toBeLessThanOrEqual(1e-12);
      // forward mode
      const jv = (wrap: boolean) => jvp(h(wrap, nested), [w0], [f64([1, -2, 0.5])])[1];
      expect(relGap(jv(true), jv(false))).toBeLessThanOrEqual(1e-12);
    }
    // and the hand formula for the first derivative: ∂/∂w_i 1.5 tanh(w_i x_i²) = 1.5 (1 - tanh²) x_i²
    const g = grad(h(true, true))(w0) as Tensor;
    const want = w0.toFlatArray().map((w, i) => {
      const x = x0.toFlatArray()[i]!;
      return 1.5 * (1 - Math.tanh(w * x * x) ** 2) * x * x;
    });
    g.toFlatArray().forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want[i]!))));
  });

  it("leaves the tape as it was when the function throws", () => {
    const x = f64([0.4, 0.9]);
    const failing = checkpoint((x: Tensor) => {
      tanh(mul(x, 3)); // recorded, then the function fails
      throw new Error("boom");
    });
    const tape = recordOn([x], () => {
      expect(() => failing(x)).toThrow("boom");
      tanh(x);
    });
    expect(tape.entries.map((e) => e.rule.name)).toEqual(["tanh"]);
    expect(tape.watched.size).toBe(2);
  });

  it("records nothing for a function that reads no watched tensor", () => {
    const c = f64([1, 2]);
    const [v, g] = valueAndGrad((w: Tensor) => add(sum(checkpoint((c: Tensor) => tanh(c))(c)), mul(w, 0)))(f64(3));
    expect((g as Tensor).item()).toBe(0);
    expect(v.item()).toBeCloseTo(Math.tanh(1) + Math.tanh(2), 14);
    const tape = recordOn([W], () => checkpoint((c: Tensor) => tanh(c))(c));
    expect(tape.entries).toEqual([]);
  });

  it("refuses a non-function, a non-tensor result, mixed dtypes, and a function that changes when recomputed", () => {
    expect(() => checkpoint(42 as never)).toThrow(ArgumentError);
    expect(() => checkpoint(42 as never)).toThrow(/checkpoint: f must be a function, got number/);
    const x = f64([1, 2]);
    expect(() => grad((x: Tensor) => sum(checkpoint((() => "no") as unknown as (x: Tensor) => Tensor)(x)))(x)).toThrow(/checkpoint: the function's result/);
    expect(() => grad((x: Tensor) => sum(checkpoint((x: Tensor) => [x, cast(tanh(x), "float32")])(x)[0]!))(x))
      .toThrow(/checkpoint: the function's result mixes dtypes: 0 is float64 but 1 is float32/);
    let n = 0;
    const impure = checkpoint((x: Tensor) => (n++ === 0 ? tanh(x) : tanh(mul(x, zeros([3, 2], "float64")))));
    expect(() => grad((x: Tensor) => sum(impure(x)))(x)).toThrow(/checkpoint: f returned a different result when recomputed in the backward pass .*must be pure/);
  });
});

// ---- scan with checkpointEvery -----------------------------------------------------------------------

const cells: Record<string, () => Cell> = {
  rnn: () => rnnCell(),
  "gru minimal": () => gruCell({ variant: "minimal" }),
  "gru full": () => gruCell({ variant: "full" }),
  "gru reset-after": () => gruCell({ variant: "reset-after" }),
  lstm: () => lstmCell(),
};

describe("scan with checkpointEvery", () => {
  it("gives plain scan's values bit for bit and its gradients to 1e-12, for random T, k, masks, directions and cells", () => {
    let worst = 0, runs = 0;
    fc.assert(
      fc.property(
        fc.record({
          T: fc.integer({ min: 1, max: 14 }),
          kExtra: fc.integer({ min: 0, max: 16 }),
          B: fc.integer({ min: 1, max: 3 }),
          D: fc.integer({ min: 1, max: 3 }),
          H: fc.integer({ min: 1, max: 3 }),
          cell: fc.constantFrom(...Object.keys(cells)),
          reverse: fc.boolean(),
          masked: fc.boolean(),
          seed: fc.integer({ min: 0, max: 2 ** 30 }),
          maskBits: fc.array(fc.boolean(), { minLength: 42, maxLength: 42 }),
        }),
        ({ T, kExtra, B, D, H, cell: kind, reverse, masked, seed, maskBits }) => {
          const k = 1 + (kExtra % (T + 2)); // 1 … T + 2: one step per segment, uneven last segments, one segment
          const cell = cells[kind]!();
          const ks = randomKey(seed);
          const params = cell.init(foldIn(ks, 0), D, H, "float64");
          const xs = normal(foldIn(ks, 1), [T, B, D], { dtype: "float64" });
          const carry0 = flatten(cell.initialCarry(params, B)).leaves.length === 1
            ? normal(foldIn(ks, 2), [B, H], { dtype: "float64" })
            : { a: normal(foldIn(ks, 2), [B, H], { dtype: "float64" }), c: normal(foldIn(ks, 3), [B, H], { dtype: "float64" }) };
          const wy = normal(foldIn(ks, 4), [T, B, H], { dtype: "float64" });
          const mask = masked ? Array.from({ length: T }, (_, t) => Array.from({ length: B }, (_, b) => (maskBits[(t * B + b) % 42] ? 1 : 0))) : undefined;
          const run = (every: number | undefined) => (p: unknown, c0: unknown, x: Tensor) => {
            const [cT, ys] = scan((c: unknown, xt: Tensor) => cell.step(p, c, xt), c0, x, { mask, reverse, checkpointEvery: every });
            // L = Σ wy ⊙ ys + Σ (every leaf of the final carry)²
            return [add(sum(mul(ys as Tensor, wy)), leavesOf(cT).reduce((s: Tensor, l) => add(s, sum(mul(l, l))), f64(0))), [cT, ys]] as const;
          };
          const [[vPlain, outPlain], gPlain] = valueAndGrad(run(undefined), { argnums: [0, 1, 2], hasAux: true })(params, carry0, xs);
          const [[vCk, outCk], gCk] = valueAndGrad(run(k), { argnums: [0, 1, 2], hasAux: true })(params, carry0, xs);
          expect(bits(outCk)).toEqual(bits(outPlain));
          expect(vCk.item()).toBe(vPlain.item());
          const gap = relGap(gCk, gPlain);
          worst = Math.max(worst, gap);
          runs++;
          expect(gap).toBeLessThanOrEqual(1e-12);
        },
      ),
      { numRuns: 60 },
    );
    console.info(`scan checkpointEvery vs plain: ${runs} cases, worst gradient gap ${worst.toExponential(2)} (relative to each leaf's largest entry)`);
  });

  it("gives plain scan's second-order gradients", () => {
    const cell = rnnCell();
    const p = cell.init(randomKey(5), 2, 3, "float64");
    const xs = normal(randomKey(6), [7, 2, 2], { dtype: "float64" });
    const loss = (every?: number) => (W: Tensor) => sum(mul(scan((c: Tensor, x: Tensor) => cell.step({ ...p, W_a: W }, c, x), cell.initialCarry(p, 2), xs, { checkpointEvery: every })[1], 0.7));
    const gg = (every?: number) => grad((W: Tensor) => sum(mul(grad(loss(every))(W), grad(loss(every))(W))))(p.W_a) as Tensor;
    expect(relGap(gg(3), gg(undefined))).toBeLessThanOrEqual(1e-12);
  });

  it("keeps one entry per segment of the steps on the tape", () => {
    const cell = lstmCell();
    const p = cell.init(randomKey(7), 2, 3, "float64");
    const xs = normal(randomKey(8), [10, 1, 2], { dtype: "float64" });
    const names = (every?: number) =>
      recordOn([p.W, p.b], () => scan((c: { a: Tensor; c: Tensor }, x: Tensor) => cell.step(p, c, x), cell.initialCarry(p, 1), xs, { checkpointEvery: every })).entries.map((e) => e.rule.name);
    const ck = names(4);
    expect(ck.filter((n) => n === "scan (checkpointEvery)")).toHaveLength(3); // steps 0-3, 4-7, 8-9
    expect(ck.length).toBeLessThan(names(undefined).length);
  });

  it("refuses a checkpointEvery that is not a positive integer", () => {
    const xs = tensor([[[1]], [[2]]], { dtype: "float64" });
    const step = (c: Tensor, x: Tensor) => [add(c, x), c] as const;
    for (const bad of [0, -2, 1.5, Number.NaN, "3"] as unknown[])
      expect(() => scan(step, f64([[0]]), xs, { checkpointEvery: bad as number })).toThrow(/scan: options.checkpointEvery must be a positive integer/);
  });

  it("names the global time step when the step function throws inside a segment", () => {
    const xs = tensor(Array.from({ length: 10 }, (_, t) => t), { dtype: "float64", shape: [10, 1, 1] });
    const step = (c: Tensor, x: Tensor) => {
      if (x.item() === 7) throw new Error("bad step");
      return [add(c, x), c] as const;
    };
    for (const reverse of [false, true])
      expect(() => grad((c0: Tensor) => sum(scan(step, c0, xs, { checkpointEvery: 3, reverse })[0]))(f64([[0]])))
        .toThrow(new RegExp(`time step t = 7 of T = 10${reverse ? ", running in reverse" : ""}, checkpointEvery = 3`));
  });
});
