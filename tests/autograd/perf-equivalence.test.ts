import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor, type Tensor } from "../../core/tensor.js";
import { add, concat, matmul, mul, sigmoid, slice, stack, sub, sum, tanh, transpose, valueAndGrad, vjp, where } from "../../autograd/index.js";
import { unstack } from "../../autograd/primitives/fused.js";
import { lstmCell } from "../../layers/cells/lstm.js";
import { gruCell } from "../../layers/cells/gru.js";
import { scan } from "../../layers/scan.js";
import { randomKey } from "../../core/random.js";
import { seededUniform } from "../../proofs/checkGrad.js";

// The speed work (fused cell primitives, deferred weight gradients, broadcast fast paths, unstack in scan,
// cached parameter checks) must not change a single result beyond rounding. Each test computes the same
// thing the slow, obvious way and compares, with the tolerance stated where it is used.

const rnd = (rand: () => number, shape: readonly number[], dtype: "float32" | "float64" = "float64", scale = 1): Tensor => {
  const n = shape.reduce((p, d) => p * d, 1);
  return tensor(Array.from({ length: n }, () => scale * (2 * rand() - 1)), { dtype, shape });
};
const maxAbsDiff = (x: Tensor, y: Tensor): number => {
  expect(x.shape).toEqual(y.shape);
  const a = x.toFlatArray(), b = y.toFlatArray();
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
};

describe("broadcasting in the binary kernels", () => {
  /** a + b by explicit index arithmetic on nested positions (NumPy rules), independent of the kernels. */
  const refAdd = (a: Tensor, b: Tensor, out: readonly number[]): number[] => {
    const at = (t: Tensor, pos: number[]): number => {
      const off = pos.length - t.shape.length;
      let flat = 0;
      t.shape.forEach((d, i) => (flat = flat * d + (d === 1 ? 0 : pos[i + off]!)));
      return t.toFlatArray()[flat]!;
    };
    const n = out.reduce((p, d) => p * d, 1), res: number[] = [];
    for (let i = 0; i < n; i++) {
      const pos: number[] = [];
      let r = i;
      for (let d = out.length - 1; d >= 0; d--) {
        pos.unshift(r % out[d]!);
        r = Math.floor(r / out[d]!);
      }
      res.push(at(a, pos) + at(b, pos));
    }
    return res;
  };

  it("gives NumPy's result for scalars, rows, columns and mixed layouts, either operand broadcast", () => {
    const dims = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(dims, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (out, ones, drop, swap, seed) => {
        // b: out with some axes set to 1 and some leading axes dropped (rows, columns, scalars and mixtures arise)
        const bShape = out.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, out.length - 1));
        const rand = seededUniform(seed);
        const a = rnd(rand, out), b = rnd(rand, bShape);
        const got = swap ? add(b, a) : add(a, b);
        expect(got.shape).toEqual(out);
        expect(got.toFlatArray()).toEqual(refAdd(a, b, out));
        // where broadcasts its three operands through the same path
        const w = where(tensor(1, { dtype: "float64" }), b, a);
        expect(w.toFlatArray()).toEqual(refAdd(b, tensor(0, { dtype: "float64" }), out));
      }),
      { numRuns: 120, seed: 61 },
    );
  });
});

describe("unstack", () => {
  it("gives the same slices as slice along axis 0, and stack's inverse as its VJP", () => {
    const rand = seededUniform(1);
    const x = rnd(rand, [4, 2, 3]);
    const parts = unstack(x);
    expect(parts).toHaveLength(4);
    parts.forEach((p, t) => expect(p.toArray()).toEqual((slice(x, [t, 0, 0], [1, 2, 3]).toArray() as number[][][])[0]));
    const r = rnd(rand, [4, 2, 3]);
    // only steps 1 and 3 are used: the others get zero cotangent
    const f = (v: Tensor) => { const u = unstack(v); return add(sum(mul(u[1]!, slice(r, [1, 0, 0], [1, 2, 3]))), sum(mul(u[3]!, u[3]!))); };
    const [, pb] = vjp(f, x);
    const g = (pb(tensor(1, { dtype: "float64" })) as Tensor[])[0]!;
    const expected = stack([0, 1, 2, 3].map((t) => (t === 1 ? slice(r, [1, 0, 0], [1, 2, 3]) : t === 3 ? mul(slice(x, [3, 0, 0], [1, 2, 3]), 2) : mul(slice(x, [t, 0, 0], [1, 2, 3]), 0))).map((s) => s.toArray() as number[][][]).map((s) => tensor(s[0]!, { dtype: "float64" })));
    expect(maxAbsDiff(g, expected)).toBe(0);
  });

  it("leaves the stacked tensor unchanged (its slices share its buffer and are never written)", () => {
    const x = tensor([[1, 2], [3, 4]]);
    const [a, b] = unstack(x);
    add(a!, 1);
    mul(b!, b!);
    expect(x.toArray()).toEqual([[1, 2], [3, 4]]);
  });
});

describe("library cells through scan against the same cell written with plain ops", () => {
  // The course's LSTM from slices, sigmoid, tanh, mul, add and matmul: what lstmCell computed before fusion.
  const plainLstm = (p: { W: Tensor; b: Tensor }, s: { a: Tensor; c: Tensor }, x: Tensor): [{ a: Tensor; c: Tensor }, Tensor] => {
    const H = s.a.shape[1]!, B = x.shape[0]!;
    const z = add(matmul(concat([s.a, x], 1), transpose(p.W)), p.b);
    const blk = (k: number) => slice(z, [0, k * H], [B, H]);
    const c = add(mul(sigmoid(blk(0)), tanh(blk(2))), mul(sigmoid(blk(1)), s.c));
    const a = mul(sigmoid(blk(3)), tanh(c));
    return [{ a, c }, a];
  };
  const plainGru = (p: { W_x: Tensor; W_a: Tensor; b_x: Tensor; b_a: Tensor }, a: Tensor, x: Tensor): [Tensor, Tensor] => {
    const H = a.shape[1]!, B = x.shape[0]!;
    const zx = add(matmul(x, transpose(p.W_x)), p.b_x), za = add(matmul(a, transpose(p.W_a)), p.b_a);
    const blk = (z: Tensor, k: number) => slice(z, [0, k * H], [B, H]);
    const r = sigmoid(add(blk(zx, 0), blk(za, 0))), u = sigmoid(add(blk(zx, 1), blk(za, 1)));
    const n = tanh(add(blk(zx, 2), mul(r, blk(za, 2))));
    const next = add(mul(sub(1, u), n), mul(u, a));
    return [next, next];
  };

  const loss = (step: (p: any, c: any, x: Tensor) => readonly [any, Tensor], carry0: unknown, xs: Tensor, r: Tensor) => (p: unknown) => {
    const [, ys] = scan((c: any, x: Tensor) => step(p, c, x), carry0, xs);
    return sum(mul(ys as Tensor, r));
  };

  for (const dtype of ["float64", "float32"] as const) {
    // float64: the same operations up to summation order (1e-12); float32: the fused kernels use the
    // WebAssembly sigmoid/tanh (a few ulp) and sum weight gradients in a different order (2e-4 relative to the largest entry)
    const tol = dtype === "float64" ? 1e-12 : 2e-4;
    // float32 at sizes where the gate activations go to the WebAssembly kernels (B·4H >= 256)
    const [B, H] = dtype === "float64" ? [3, 7] : [8, 40];

    it(`gives the LSTM loss and gradient of the plain-op cell over 6 steps in ${dtype}`, () => {
      const rand = seededUniform(2);
      const cell = lstmCell();
      const p = cell.init(randomKey(3), 5, H, dtype);
      const xs = rnd(rand, [6, B, 5], dtype), r = rnd(rand, [6, B, H], dtype);
      const carry0 = { a: rnd(rand, [B, H], dtype), c: rnd(rand, [B, H], dtype) };
      const [v1, g1] = valueAndGrad(loss(cell.step, carry0, xs, r))(p) as [Tensor, { W: Tensor; b: Tensor }];
      const [v2, g2] = valueAndGrad(loss(plainLstm as any, carry0, xs, r))(p) as [Tensor, { W: Tensor; b: Tensor }];
      const scale = Math.max(1, ...g2.W.toFlatArray().map(Math.abs));
      expect(Math.abs(v1.item() - v2.item())).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(v2.item())));
      expect(maxAbsDiff(g1.W, g2.W)).toBeLessThanOrEqual(tol * scale);
      expect(maxAbsDiff(g1.b, g2.b)).toBeLessThanOrEqual(tol * scale);
    });

    it(`gives the reset-after GRU loss and gradient of the plain-op cell over 6 steps in ${dtype}`, () => {
      const rand = seededUniform(4);
      const cell = gruCell();
      const p = cell.init(randomKey(5), 4, H, dtype);
      const xs = rnd(rand, [6, B, 4], dtype), r = rnd(rand, [6, B, H], dtype), a0 = rnd(rand, [B, H], dtype);
      const [v1, g1] = valueAndGrad(loss(cell.step, a0, xs, r))(p) as [Tensor, Record<string, Tensor>];
      const [v2, g2] = valueAndGrad(loss(plainGru as any, a0, xs, r))(p) as [Tensor, Record<string, Tensor>];
      expect(Math.abs(v1.item() - v2.item())).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(v2.item())));
      for (const k of ["W_x", "W_a", "b_x", "b_a"]) {
        const scale = Math.max(1, ...g2[k]!.toFlatArray().map(Math.abs));
        expect(maxAbsDiff(g1[k]!, g2[k]!), k).toBeLessThanOrEqual(tol * scale);
      }
    });
  }
});

describe("the cached parameter check of a cell step", () => {
  it("still refuses a record that changed between steps: a wrong-shaped weight or an extra key", () => {
    const cell = lstmCell();
    const p = cell.init(randomKey(6), 3, 2, "float64");
    const carry = cell.initialCarry(p, 1), x = tensor([[1, 2, 3]], { dtype: "float64" });
    cell.step(p, carry, x); // checked and remembered
    const mutable = { ...p };
    cell.step(mutable, carry, x);
    (mutable as Record<string, Tensor>).W = tensor([[1, 2]], { dtype: "float64" });
    expect(() => cell.step(mutable, carry, x)).toThrow(/W has shape \[1,2\]/);
    const extra = { ...p } as Record<string, Tensor>;
    cell.step(extra as typeof p, carry, x);
    extra.U = p.W;
    expect(() => cell.step(extra as typeof p, carry, x)).toThrow(/unexpected key U/);
  });
});
