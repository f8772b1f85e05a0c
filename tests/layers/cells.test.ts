import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor, zeros, type Tensor } from "../../core/tensor.js";
import { ArgumentError, ShapeError } from "../../core/errors.js";
import { randomKey } from "../../core/random.js";
import { mul, sum, add } from "../../autograd/index.js";
import { scan } from "../../layers/scan.js";
import { rnnCell, splitRnnWeights, stackRnnWeights } from "../../layers/cells/rnn.js";
import { gruCell } from "../../layers/cells/gru.js";
import { lstmCell } from "../../layers/cells/lstm.js";
import { StateDictError, affine, type Cell } from "../../layers/cells/types.js";
import { checkGrad, checkGradSecondOrder, formatReport, seededUniform } from "../../proofs/checkGrad.js";

type M = number[][];
const f64 = (v: number[] | M | number[][][]) => tensor(v, { dtype: "float64" });
const key = randomKey(11);

// ---- an independent reference: the course's equations on plain arrays, one batch row at a time ----------

const sig = (v: number) => 1 / (1 + Math.exp(-v));
const randMat = (rand: () => number, r: number, c: number, scale = 1): M => Array.from({ length: r }, () => Array.from({ length: c }, () => scale * (2 * rand() - 1)));
const randVec = (rand: () => number, n: number, scale = 1): number[] => randMat(rand, 1, n, scale)[0]!;
/** Block k (rows kH..kH+H-1) of W v + b. */
const blk = (W: M, b: number[], v: number[], k: number, H: number): number[] =>
  Array.from({ length: H }, (_, i) => W[k * H + i]!.reduce((s, w, j) => s + w * v[j]!, 0) + b[k * H + i]!);
const ew = (f: (...xs: number[]) => number, ...vs: number[][]) => vs[0]!.map((_, i) => f(...vs.map((v) => v[i]!)));

const refRnn = (g: (v: number) => number, p: { W_a: M; b_a: number[] }, a: number[], x: number[], H: number) => ew(g, blk(p.W_a, p.b_a, [...a, ...x], 0, H));
const refGruMinimal = (p: { W: M; b: number[] }, c: number[], x: number[], H: number) => {
  const gu = ew(sig, blk(p.W, p.b, [...c, ...x], 0, H)), ct = ew(Math.tanh, blk(p.W, p.b, [...c, ...x], 1, H));
  return ew((u, t, o) => u * t + (1 - u) * o, gu, ct, c);
};
const refGruFull = (p: { W: M; b: number[]; W_c: M; b_c: number[] }, c: number[], x: number[], H: number) => {
  const gu = ew(sig, blk(p.W, p.b, [...c, ...x], 0, H)), gr = ew(sig, blk(p.W, p.b, [...c, ...x], 1, H));
  const ct = ew(Math.tanh, blk(p.W_c, p.b_c, [...ew((r, o) => r * o, gr, c), ...x], 0, H));
  return ew((u, t, o) => u * t + (1 - u) * o, gu, ct, c);
};
const refGruResetAfter = (p: { W_x: M; W_a: M; b_x: number[]; b_a: number[] }, a: number[], x: number[], H: number) => {
  const gx = (k: number) => blk(p.W_x, p.b_x, x, k, H), ga = (k: number) => blk(p.W_a, p.b_a, a, k, H);
  const r = ew((u, v) => sig(u + v), gx(0), ga(0)), z = ew((u, v) => sig(u + v), gx(1), ga(1));
  const n = ew((u, rr, v) => Math.tanh(u + rr * v), gx(2), r, ga(2));
  return ew((zz, nn, o) => (1 - zz) * nn + zz * o, z, n, a);
};
const refLstm = (p: { W: M; b: number[] }, s: { a: number[]; c: number[] }, x: number[], H: number) => {
  const v = [...s.a, ...x];
  const gu = ew(sig, blk(p.W, p.b, v, 0, H)), gf = ew(sig, blk(p.W, p.b, v, 1, H));
  const ct = ew(Math.tanh, blk(p.W, p.b, v, 2, H)), go = ew(sig, blk(p.W, p.b, v, 3, H));
  const c = ew((u, t, f, o) => u * t + f * o, gu, ct, gf, s.c);
  return { a: ew((o, cc) => o * Math.tanh(cc), go, c), c };
};

const maxDiff = (a: Tensor, b: M): number => {
  const x = a.toArray() as M;
  return Math.max(...x.flatMap((r, i) => r.map((v, j) => Math.abs(v - b[i]![j]!))));
};

const D = 3, H = 4, B = 2, T = 4;

describe("the cells follow the course's equations", () => {
  const seeds = fc.integer({ min: 0, max: 2 ** 31 - 1 });

  it("rnnCell computes a<t> = g(W_a [a<t-1>; x<t>] + b_a) for tanh and relu", () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const rand = seededUniform(seed);
        const p = { W_a: randMat(rand, H, H + D), b_a: randVec(rand, H) };
        const a = randMat(rand, B, H), x = randMat(rand, B, D);
        for (const [act, g] of [["tanh", Math.tanh], ["relu", (v: number) => Math.max(v, 0)]] as const) {
          const [next, y] = rnnCell({ activation: act }).step({ W_a: f64(p.W_a), b_a: f64(p.b_a) }, f64(a), f64(x));
          expect(y).toBe(next);
          expect(maxDiff(next, a.map((ar, i) => refRnn(g, p, ar, x[i]!, H)))).toBeLessThanOrEqual(1e-14);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("the minimal GRU computes c<t> = Γu*c̃ + (1-Γu)*c<t-1> with W rows [W_u; W_c]", () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const rand = seededUniform(seed);
        const p = { W: randMat(rand, 2 * H, H + D), b: randVec(rand, 2 * H) };
        const c = randMat(rand, B, H), x = randMat(rand, B, D);
        const [next] = gruCell({ variant: "minimal" }).step({ W: f64(p.W), b: f64(p.b) }, f64(c), f64(x));
        expect(maxDiff(next, c.map((cr, i) => refGruMinimal(p, cr, x[i]!, H)))).toBeLessThanOrEqual(1e-14);
      }),
      { numRuns: 30 },
    );
  });

  it("the full GRU applies the relevance gate Γr to c<t-1> before the candidate's matmul", () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const rand = seededUniform(seed);
        const p = { W: randMat(rand, 2 * H, H + D), b: randVec(rand, 2 * H), W_c: randMat(rand, H, H + D), b_c: randVec(rand, H) };
        const c = randMat(rand, B, H), x = randMat(rand, B, D);
        const [next] = gruCell({ variant: "full" }).step({ W: f64(p.W), b: f64(p.b), W_c: f64(p.W_c), b_c: f64(p.b_c) }, f64(c), f64(x));
        expect(maxDiff(next, c.map((cr, i) => refGruFull(p, cr, x[i]!, H)))).toBeLessThanOrEqual(1e-14);
      }),
      { numRuns: 30 },
    );
  });

  it("the reset-after GRU computes n = tanh(W_in x + b_in + r*(W_hn a + b_hn)) and a<t> = (1-z)*n + z*a<t-1>", () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const rand = seededUniform(seed);
        const p = { W_x: randMat(rand, 3 * H, D), W_a: randMat(rand, 3 * H, H), b_x: randVec(rand, 3 * H), b_a: randVec(rand, 3 * H) };
        const a = randMat(rand, B, H), x = randMat(rand, B, D);
        const [next] = gruCell({ variant: "reset-after" }).step({ W_x: f64(p.W_x), W_a: f64(p.W_a), b_x: f64(p.b_x), b_a: f64(p.b_a) }, f64(a), f64(x));
        expect(maxDiff(next, a.map((ar, i) => refGruResetAfter(p, ar, x[i]!, H)))).toBeLessThanOrEqual(1e-14);
      }),
      { numRuns: 30 },
    );
  });

  it("the LSTM computes c<t> = Γu*c̃ + Γf*c<t-1> and a<t> = Γo*tanh(c<t>) with W rows [W_u; W_f; W_c; W_o]", () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const rand = seededUniform(seed);
        const p = { W: randMat(rand, 4 * H, H + D), b: randVec(rand, 4 * H) };
        const a = randMat(rand, B, H), c = randMat(rand, B, H), x = randMat(rand, B, D);
        const [next, y] = lstmCell().step({ W: f64(p.W), b: f64(p.b) }, { a: f64(a), c: f64(c) }, f64(x));
        const ref = a.map((ar, i) => refLstm(p, { a: ar, c: c[i]! }, x[i]!, H));
        expect(maxDiff(next.c, ref.map((r) => r.c))).toBeLessThanOrEqual(1e-14);
        expect(maxDiff(next.a, ref.map((r) => r.a))).toBeLessThanOrEqual(1e-14);
        expect(y).toBe(next.a);
      }),
      { numRuns: 30 },
    );
  });

  it("the full GRU with the relevance gate held at 1 equals the minimal GRU", () => {
    const full = gruCell({ variant: "full" }).init(key, D, H, "float64");
    // b_r = 40 puts Γr = σ(40 + …) at 1 to float64 precision (1 - σ(40) ≈ 4e-18 < ulp(1)/2)
    const W_r0 = zeros([H, H + D], "float64");
    const W = stackRows(slicePart(full.W, 0, H), W_r0);
    const b = tensor([...full.b.toFlatArray().slice(0, H), ...new Array(H).fill(40)], { dtype: "float64" });
    const minimal = { W: stackRows(slicePart(full.W, 0, H), full.W_c), b: tensor([...full.b.toFlatArray().slice(0, H), ...full.b_c.toFlatArray()], { dtype: "float64" }) };
    const x = f64([[0.3, -0.2, 1], [2, 0.1, -1]]), c = f64([[0.5, -0.5, 0.1, 0], [1, -1, 0.3, 0.2]]);
    const [a1] = gruCell({ variant: "full" }).step({ ...full, W, b }, c, x);
    const [a2] = gruCell({ variant: "minimal" }).step(minimal, c, x);
    expect(a1.toArray()).toEqual(a2.toArray());
  });
});

const slicePart = (W: Tensor, r0: number, n: number) => f64((W.toArray() as M).slice(r0, r0 + n));
const stackRows = (A: Tensor, B2: Tensor) => f64([...(A.toArray() as M), ...(B2.toArray() as M)]);

describe("the compact W_a = [W_aa | W_ax]", () => {
  it("splits into W_aa [H, H] and W_ax [H, D] and stacks back to the same values", () => {
    const W_a = f64([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]);
    const { W_aa, W_ax } = splitRnnWeights(W_a);
    expect(W_aa.toArray()).toEqual([[1, 2], [6, 7]]);
    expect(W_ax.toArray()).toEqual([[3, 4, 5], [8, 9, 10]]);
    expect(stackRnnWeights(W_aa, W_ax).toArray()).toEqual(W_a.toArray());
    // a gated cell's [4H, H + D] weight splits at the hidden size
    const lstmW = lstmCell().init(key, 3, 2, "float64").W;
    const parts = splitRnnWeights(lstmW, 2);
    expect(parts.W_aa.shape).toEqual([8, 2]);
    expect(parts.W_ax.shape).toEqual([8, 3]);
  });

  it("gives the same step as the separate form W_aa a<t-1> + W_ax x<t> + b_a", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const rand = seededUniform(seed);
        const W_aa = randMat(rand, H, H), W_ax = randMat(rand, H, D), b_a = randVec(rand, H);
        const a = randMat(rand, B, H), x = randMat(rand, B, D);
        const W_a = stackRnnWeights(f64(W_aa), f64(W_ax));
        const [next] = rnnCell().step({ W_a, b_a: f64(b_a) }, f64(a), f64(x));
        const ref = a.map((ar, i) => ew(Math.tanh, ew((u, v, w) => u + v + w, blk(W_aa, b_a, ar, 0, H), blk(W_ax, new Array(H).fill(0), x[i]!, 0, H), new Array(H).fill(0))));
        expect(maxDiff(next, ref)).toBeLessThanOrEqual(1e-14);
      }),
      { numRuns: 20 },
    );
  });

  it("rejects a hidden size that does not split the columns, naming the shapes", () => {
    expect(() => splitRnnWeights(f64([[1, 2]]), 2)).toThrow(/splitRnnWeights: hiddenSize .*\[1,2\]/);
    expect(() => stackRnnWeights(f64([[1]]), f64([[1], [2]]))).toThrow(/stackRnnWeights: W_ax has 2 rows but W_aa has 1/);
  });
});

const CELLS: [string, Cell][] = [
  ["rnn tanh", rnnCell()],
  ["rnn relu", rnnCell({ activation: "relu" })],
  ["gru minimal", gruCell({ variant: "minimal" })],
  ["gru full", gruCell({ variant: "full" })],
  ["gru reset-after", gruCell({ variant: "reset-after" })],
  ["lstm", lstmCell()],
];

describe.each(CELLS)("%s", (_name, cell) => {
  it("initializes from an explicit key: same key same params, float32 by default, |W| <= 1/√H", () => {
    const p = cell.init(key, D, H);
    const q = cell.init(key, D, H);
    const r = cell.init(randomKey(12), D, H);
    for (const [k, t] of Object.entries(p as Record<string, Tensor>)) {
      expect(t.dtype).toBe("float32");
      expect(t.toArray(), k).toEqual((q as Record<string, Tensor>)[k]!.toArray());
      if (k.startsWith("W")) {
        expect(t.toArray(), k).not.toEqual((r as Record<string, Tensor>)[k]!.toArray());
        expect(Math.max(...t.toFlatArray().map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(H));
      }
    }
    const p64 = cell.init(key, D, H, "float64");
    for (const t of Object.values(p64 as Record<string, Tensor>)) expect(t.dtype).toBe("float64");
  });

  it("starts from a zero carry of shape [B, H] and keeps its shapes through a step", () => {
    const p = cell.init(key, D, H, "float64");
    const c0 = cell.initialCarry(p, B);
    const leaves = c0 instanceof Object && !("shape" in c0) ? Object.values(c0 as Record<string, Tensor>) : [c0 as Tensor];
    for (const l of leaves) {
      expect(l.shape).toEqual([B, H]);
      expect(l.dtype).toBe("float64");
      expect(l.toFlatArray().every((v) => v === 0)).toBe(true);
    }
    const [c1, y] = cell.step(p, c0, f64([[1, 2, 3], [-1, 0, 1]]));
    expect((y as Tensor).shape).toEqual([B, H]);
    expect(Object.keys(c1 as object)).toEqual(Object.keys(c0 as object));
  });

  it("has BPTT gradients through scan that agree with central differences (params, xs, initial carry)", () => {
    const p = cell.init(key, D, H, "float64");
    const rand = seededUniform(5);
    const xs = f64(Array.from({ length: T }, () => randMat(rand, B, D)));
    const w = f64(Array.from({ length: T }, () => randMat(rand, B, H)));
    const c0 = cell.initialCarry(p, B);
    const carry0 = "shape" in (c0 as object) ? f64(randMat(rand, B, H, 0.5)) : { a: f64(randMat(rand, B, H, 0.5)), c: f64(randMat(rand, B, H, 0.5)) };
    const loss = (p: unknown, xs: Tensor, carry0: unknown) => sum(mul(w, scan((c: unknown, x: Tensor) => cell.step(p, c, x), carry0, xs)[1]));
    const r = checkGrad(loss, [p, xs, carry0]);
    expect(r.ok, formatReport(r)).toBe(true);
    expect(r.entriesChecked).toBeGreaterThan(20);
  });

  it("has second derivatives (grad of grad) through two steps that agree with differences of the gradient", () => {
    const p = cell.init(key, 2, 3, "float64");
    const xs = f64([[[0.5, -1]], [[0.25, 0.75]]]);
    const loss = (p: unknown, xs: Tensor) => {
      const [, ys] = scan((c: unknown, x: Tensor) => cell.step(p, c, x), cell.initialCarry(p, 1), xs);
      return sum(mul(ys, ys));
    };
    const r = checkGradSecondOrder(loss, [p, xs]);
    expect(r.ok, formatReport(r)).toBe(true);
  });

  it("is pure: the same inputs give the same outputs, and the inputs are left unchanged", () => {
    const p = cell.init(key, D, H, "float64");
    const x = f64([[1, 2, 3], [-1, 0, 1]]);
    const c0 = cell.step(p, cell.initialCarry(p, B), x)[0];
    const snapshot = (v: unknown) => JSON.stringify(v, (_k, t) => (t && typeof t === "object" && "toArray" in t ? t.toArray() : t));
    const before = [snapshot(p), snapshot(c0), snapshot(x)];
    const [c1, y1] = cell.step(p, c0, x);
    const [c2, y2] = cell.step(p, c0, x);
    expect(snapshot(c1)).toEqual(snapshot(c2));
    expect(snapshot(y1)).toEqual(snapshot(y2));
    expect([snapshot(p), snapshot(c0), snapshot(x)]).toEqual(before);
  });

  it("names the op and the shapes when x or the carry has the wrong shape", () => {
    const p = cell.init(key, D, H, "float64");
    const c0 = cell.initialCarry(p, B);
    expect(() => cell.step(p, c0, f64([[1, 2], [3, 4]]))).toThrow(ShapeError);
    expect(() => cell.step(p, c0, f64([[1, 2], [3, 4]]))).toThrow(/\.step: x must have shape \[B, 3\].*got \[2,2\]/);
    expect(() => cell.step(p, cell.initialCarry(p, 3), f64([[1, 2, 3], [3, 4, 5]]))).toThrow(/carry a must have shape \[2, 4\].*got \[3,4\]/);
  });

  it("lists every problem of a bad parameter record", () => {
    const p = cell.init(key, D, H, "float64") as Record<string, Tensor>;
    const [first, second] = Object.keys(p) as [string, string];
    const bad = { ...p, [first]: zeros([1, 1], "float64"), [second]: undefined, extra: zeros([1]) };
    let err: unknown;
    try {
      cell.step(bad, cell.initialCarry(p, B), f64([[1, 2, 3], [-1, 0, 1]]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    const problems = (err as StateDictError).problems.join("\n");
    expect(problems).toMatch(/unexpected key extra/);
    expect(problems).toMatch(new RegExp(`${second} is missing`));
    expect(problems).toMatch(new RegExp(`${first} has shape \\[1,1\\]`));
  });
});

describe("PyTorch state dicts", () => {
  it("refuse a state dict with every problem listed, not just the first", () => {
    let err: unknown;
    try {
      lstmCell().fromTorch({ weight_ih: [[1, 2]], weight_hh: [[1], [2], [3]], bias_ih: [1, 2], foo: [1] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    expect(err).toBeInstanceOf(ArgumentError);
    const e = err as StateDictError;
    expect(e.op).toBe("lstmCell.fromTorch");
    expect(e.problems).toHaveLength(5);
    expect(e.message).toMatch(/bias_hh is missing/);
    expect(e.message).toMatch(/unexpected key foo/);
    expect(e.message).toMatch(/weight_hh has shape \[3,1\], expected \[4H, H\]/);
    expect(e.message).toMatch(/weight_ih has shape \[1,2\]/);
    expect(e.message).toMatch(/bias_ih has shape \[2\]/);
  });

  it("point a torch.nn.LSTM layer state dict at the per-layer cell entries", () => {
    expect(() => lstmCell().fromTorch({ weight_ih_l0: [[1]], weight_hh_l0: [[1]] })).toThrow(/torch\.nn\.RNN\/GRU\/LSTM \(layer\) state dict/);
  });

  it("load a bias=False cell with zero biases", () => {
    const p = rnnCell().fromTorch({ weight_ih: [[1, 2]], weight_hh: [[0.5]] }, "float64");
    expect(p.W_a.toArray()).toEqual([[0.5, 1, 2]]);
    expect(p.b_a.toArray()).toEqual([0]);
  });

  it("keep the dtype of tensor entries and default nested arrays to float32", () => {
    const sd = { weight_ih: f64([[1, 2]]), weight_hh: f64([[0.5]]), bias_ih: f64([1]), bias_hh: f64([2]) };
    expect(rnnCell().fromTorch(sd).W_a.dtype).toBe("float64");
    expect(rnnCell().fromTorch({ weight_ih: [[1, 2]], weight_hh: [[0.5]], bias_ih: [1], bias_hh: [2] }).W_a.dtype).toBe("float32");
    expect(rnnCell().fromTorch(sd).b_a.toArray()).toEqual([3]);
  });

  it("map a gradient back with the single bias's gradient on both PyTorch biases", () => {
    const g = { W_a: f64([[1, 2, 3]]), b_a: f64([7]) };
    expect(rnnCell().toTorch(g, { gradient: true }).bias_hh.toArray()).toEqual([7]);
    expect(rnnCell().toTorch(g, { gradient: true }).bias_ih.toArray()).toEqual([7]);
    expect(rnnCell().toTorch(g).bias_hh.toArray()).toEqual([0]);
    expect(rnnCell().toTorch(g).weight_hh.toArray()).toEqual([[1]]);
    expect(rnnCell().toTorch(g).weight_ih.toArray()).toEqual([[2, 3]]);
  });

  it("exist only for the reset-after GRU; the course variants say what to use instead", () => {
    for (const variant of ["minimal", "full"] as const) {
      expect(() => gruCell({ variant }).fromTorch({})).toThrow(/use gruCell\(\{ variant: 'reset-after' \}\)/);
      expect(() => gruCell({ variant }).toTorch({} as never)).toThrow(ArgumentError);
    }
  });

  it("the default GRU is the reset-after variant", () => {
    const p = gruCell().init(key, D, H);
    expect(Object.keys(p).sort()).toEqual(["W_a", "W_x", "b_a", "b_x"]);
  });
});

describe("cell options", () => {
  it("lstmCell's forgetBias sets the initial forget-gate bias b_f and nothing else", () => {
    const b = lstmCell({ forgetBias: 2.5 }).init(key, D, H, "float64").b.toFlatArray();
    expect(b).toEqual([0, 0, 0, 0, 2.5, 2.5, 2.5, 2.5, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(lstmCell().init(key, D, H, "float64").b.toFlatArray().slice(H, 2 * H)).toEqual([1, 1, 1, 1]);
    // the same weights give the same step whatever forgetBias the cell was made with
    const p = lstmCell().init(key, D, H, "float64");
    const carry = lstmCell().initialCarry(p, 1);
    const x = f64([[1, 2, 3]]);
    expect(lstmCell({ forgetBias: 5 }).step(p, carry, x)[1].toArray()).toEqual(lstmCell({ forgetBias: 0 }).step(p, carry, x)[1].toArray());
  });

  it("rejects unknown activations, variants and a non-finite forget bias", () => {
    expect(() => rnnCell({ activation: "sigmoid" as never })).toThrow(/rnnCell: activation must be 'tanh' or 'relu'/);
    expect(() => gruCell({ variant: "lite" as never })).toThrow(/gruCell: variant must be 'minimal', 'full' or 'reset-after'/);
    expect(() => lstmCell({ forgetBias: NaN })).toThrow(/lstmCell: forgetBias must be a finite number/);
    expect(() => lstmCell().init(key, 0, 4)).toThrow(/inputSize must be an integer >= 1/);
  });
});

describe("affine", () => {
  it("computes v Wᵀ + b", () => {
    const y = affine(f64([[1, 2]]), f64([[1, 0], [0, 1], [1, 1]]), f64([0.5, 0, -1]));
    expect(y.toArray()).toEqual([[1.5, 2, 2]]);
  });

  it("has first and second derivatives that agree with central differences", () => {
    const v = f64([[0.3, -0.7], [1.1, 0.2]]), W = f64([[0.5, -0.1], [0.2, 0.9], [-0.4, 0.3]]), b = f64([0.1, -0.2, 0.3]);
    const f = (v: Tensor, W: Tensor, b: Tensor) => {
      const y = affine(v, W, b);
      return sum(mul(y, add(y, 1)));
    };
    const r1 = checkGrad(f, [v, W, b]);
    expect(r1.ok, formatReport(r1)).toBe(true);
    const r2 = checkGradSecondOrder(f, [v, W, b]);
    expect(r2.ok, formatReport(r2)).toBe(true);
  });
});
