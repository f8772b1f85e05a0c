import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor, type Tensor } from "../../core/tensor.js";
import { ShapeError } from "../../core/errors.js";
import { add, concat, matmul, mul, relu, sum, tanh, transpose, vjp } from "../../autograd/index.js";
import {
  affine, gruMinimalPointwise, gruMinimalPointwiseComposed, gruResetAfterPointwise, gruResetAfterPointwiseComposed,
  lstmPointwise, lstmPointwiseComposed, softmaxCrossEntropyComposed, softmaxCrossEntropyIndices,
} from "../../autograd/primitives/fused.js";
import { matmulT, outerSum } from "../../autograd/primitives/matmul.js";
import { setOuterSumChunk, setOuterSumFlushElements } from "../../autograd/transforms.js";
import { setKernelThreads, wasmStartedCount, wasmThreadsAvailable } from "../../core/wasm/backend.js";
import { checkGrad, checkGradSecondOrder, formatReport, seededUniform } from "../../proofs/checkGrad.js";

const RUNS = 25;
const f64 = (rand: () => number, shape: readonly number[], scale = 2): Tensor => {
  const n = shape.reduce((p, d) => p * d, 1);
  return tensor(Array.from({ length: n }, () => scale * (2 * rand() - 1)), { dtype: "float64", shape });
};
/** Largest |x - y| over two tensors of the same shape (fails on a shape mismatch). */
const maxAbsDiff = (x: Tensor, y: Tensor): number => {
  expect(x.shape).toEqual(y.shape);
  const a = x.toFlatArray(), b = y.toFlatArray();
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
};
const sizes = fc.record({ B: fc.integer({ min: 1, max: 4 }), H: fc.integer({ min: 1, max: 5 }), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }) });

// Tolerances, stated: forward values are the same float64 operations in the same order as the composed ops
// (1e-15 allows for the fused kernel rounding c once where the composed ops round twice); cotangents are
// different but algebraically equal expressions of the same values (1e-13 absolute at magnitudes ~1-10).
const FWD_TOL = 1e-15;
const VJP_TOL = 1e-13;

/** Runs fused and composed through `vjp` with the same random cotangents; returns the worst output and cotangent differences. */
const compare = (
  fused: (...xs: Tensor[]) => Tensor | { a: Tensor; c: Tensor },
  composed: (...xs: Tensor[]) => Tensor | { a: Tensor; c: Tensor },
  xs: Tensor[],
  ct: (out: Tensor | { a: Tensor; c: Tensor }) => Tensor | { a: Tensor; c: Tensor },
): { fwd: number; bwd: number } => {
  const [yf, pbf] = vjp(fused as (...xs: Tensor[]) => Tensor, ...xs);
  const [yc, pbc] = vjp(composed as (...xs: Tensor[]) => Tensor, ...xs);
  const leaves = (y: unknown): Tensor[] => ("a" in (y as object) && !(y as Tensor).shape ? [(y as { a: Tensor }).a, (y as { c: Tensor }).c] : [y as Tensor]);
  const fwd = Math.max(...leaves(yf).map((l, i) => maxAbsDiff(l, leaves(yc)[i]!)));
  const c = ct(yf);
  const gf = pbf(c) as Tensor[], gc = pbc(c) as Tensor[];
  return { fwd, bwd: Math.max(...gf.map((g, i) => maxAbsDiff(g, gc[i]!))) };
};

describe("lstmPointwise", () => {
  it("computes the same a and c as the composed ops, and the same VJP for any cotangent", () => {
    fc.assert(
      fc.property(sizes, ({ B, H, seed }) => {
        const rand = seededUniform(seed);
        const z = f64(rand, [B, 4 * H], 4), c0 = f64(rand, [B, H]);
        const da = f64(rand, [B, H]), dc = f64(rand, [B, H]);
        const r = compare(lstmPointwise, lstmPointwiseComposed, [z, c0], () => ({ a: da, c: dc }));
        expect(r.fwd).toBeLessThanOrEqual(FWD_TOL);
        expect(r.bwd).toBeLessThanOrEqual(VJP_TOL);
      }),
      { numRuns: RUNS, seed: 51 },
    );
  });

  it("gives the composed VJP when only a (or only c) receives a cotangent", () => {
    const rand = seededUniform(3);
    const z = f64(rand, [3, 8], 3), c0 = f64(rand, [3, 2]);
    for (const pick of ["a", "c"] as const) {
      const loss = (f: typeof lstmPointwise) => (zz: Tensor, cc: Tensor) => sum(mul(f(zz, cc)[pick], f64(seededUniform(9), [3, 2])));
      const [, pf] = vjp(loss(lstmPointwise), z, c0), [, pc] = vjp(loss(lstmPointwiseComposed), z, c0);
      const one = tensor(1, { dtype: "float64" });
      const gf = pf(one) as Tensor[], gc = pc(one) as Tensor[];
      gf.forEach((g, i) => expect(maxAbsDiff(g, gc[i]!), `${pick}: input ${i}`).toBeLessThanOrEqual(VJP_TOL));
    }
  });

  it("has second derivatives (through its fused backward) that agree with central differences", () => {
    const rand = seededUniform(4);
    const z = f64(rand, [2, 12], 2), c0 = f64(rand, [2, 3]);
    const ra = f64(rand, [2, 3]), rc = f64(rand, [2, 3]);
    const f = (zz: Tensor, cc: Tensor) => {
      const { a, c } = lstmPointwise(zz, cc);
      return add(sum(mul(a, ra)), sum(mul(mul(c, c), rc)));
    };
    const r1 = checkGrad(f, [z, c0]);
    expect(r1.ok, formatReport(r1)).toBe(true);
    const r2 = checkGradSecondOrder(f, [z, c0]);
    expect(r2.ok, formatReport(r2)).toBe(true);
  });

  it("names the op and the shapes when z is not [B, 4H]", () => {
    const rand = seededUniform(5);
    expect(() => lstmPointwise(f64(rand, [2, 7]), f64(rand, [2, 2]))).toThrow(ShapeError);
    expect(() => lstmPointwise(f64(rand, [2, 7]), f64(rand, [2, 2]))).toThrow(/lstmPointwise: z must have shape \[2,8\]/);
  });
});

describe("gruResetAfterPointwise", () => {
  it("computes the same a' as the composed ops, and the same VJP", () => {
    fc.assert(
      fc.property(sizes, ({ B, H, seed }) => {
        const rand = seededUniform(seed);
        const zx = f64(rand, [B, 3 * H], 3), za = f64(rand, [B, 3 * H], 3), a = f64(rand, [B, H]), d = f64(rand, [B, H]);
        const r = compare(gruResetAfterPointwise, gruResetAfterPointwiseComposed, [zx, za, a], () => d);
        expect(r.fwd).toBeLessThanOrEqual(FWD_TOL);
        expect(r.bwd).toBeLessThanOrEqual(VJP_TOL);
      }),
      { numRuns: RUNS, seed: 52 },
    );
  });

  it("has second derivatives that agree with central differences", () => {
    const rand = seededUniform(6);
    const zx = f64(rand, [2, 6]), za = f64(rand, [2, 6]), a = f64(rand, [2, 2]), r = f64(rand, [2, 2]);
    const f = (x: Tensor, y: Tensor, s: Tensor) => sum(mul(gruResetAfterPointwise(x, y, s), r));
    const r2 = checkGradSecondOrder(f, [zx, za, a], { argnums: [0, 1, 2] });
    expect(r2.ok, formatReport(r2)).toBe(true);
  });

  it("refuses operands of different dtypes, naming both", () => {
    const rand = seededUniform(7);
    const zx32 = tensor(f64(rand, [1, 3]).toFlatArray(), { shape: [1, 3] });
    expect(() => gruResetAfterPointwise(zx32, f64(rand, [1, 3]), f64(rand, [1, 1]))).toThrow(/gruResetAfterPointwise.*zx and za.*float32 and float64/);
  });
});

describe("gruMinimalPointwise", () => {
  it("computes the same a' as the composed ops, and the same VJP", () => {
    fc.assert(
      fc.property(sizes, ({ B, H, seed }) => {
        const rand = seededUniform(seed);
        const g = f64(rand, [B, 2 * H], 3), a = f64(rand, [B, H]), d = f64(rand, [B, H]);
        const r = compare(gruMinimalPointwise, gruMinimalPointwiseComposed, [g, a], () => d);
        expect(r.fwd).toBeLessThanOrEqual(FWD_TOL);
        expect(r.bwd).toBeLessThanOrEqual(VJP_TOL);
      }),
      { numRuns: RUNS, seed: 53 },
    );
  });

  it("has second derivatives that agree with central differences", () => {
    const rand = seededUniform(8);
    const g = f64(rand, [3, 4]), a = f64(rand, [3, 2]), r = f64(rand, [3, 2]);
    const f = (x: Tensor, s: Tensor) => sum(mul(mul(gruMinimalPointwise(x, s), gruMinimalPointwise(x, s)), r));
    const r2 = checkGradSecondOrder(f, [g, a], { argnums: [0, 1] });
    expect(r2.ok, formatReport(r2)).toBe(true);
  });
});

describe("affine", () => {
  const composed = (v: Tensor, W: Tensor, b: Tensor) => add(matmul(v, transpose(W)), b);

  it("computes v Wᵀ + b with the VJP of the composed ops", () => {
    fc.assert(
      fc.property(sizes, fc.integer({ min: 1, max: 6 }), ({ B, H, seed }, Kd) => {
        const rand = seededUniform(seed);
        const v = f64(rand, [B, Kd]), W = f64(rand, [H, Kd]), b = f64(rand, [H]), d = f64(rand, [B, H]);
        const r = compare((v, W, b) => affine(v!, W!, b!), composed, [v, W, b], () => d);
        expect(r.fwd).toBeLessThanOrEqual(1e-14);
        expect(r.bwd).toBeLessThanOrEqual(1e-13);
      }),
      { numRuns: RUNS, seed: 54 },
    );
  });

  it("applies tanh or relu inside, with the VJP of the composed activation", () => {
    fc.assert(
      fc.property(sizes, fc.integer({ min: 1, max: 6 }), fc.constantFrom("tanh", "relu") as fc.Arbitrary<"tanh" | "relu">, ({ B, H, seed }, Kd, act) => {
        const rand = seededUniform(seed);
        const v = f64(rand, [B, Kd]), W = f64(rand, [H, Kd]), b = f64(rand, [H]), d = f64(rand, [B, H]);
        const g = act === "tanh" ? tanh : relu;
        const r = compare((v, W, b) => affine(v!, W!, b!, act), (v, W, b) => g(composed(v!, W!, b!)), [v, W, b], () => d);
        expect(r.fwd).toBeLessThanOrEqual(1e-14);
        expect(r.bwd).toBeLessThanOrEqual(1e-13);
      }),
      { numRuns: RUNS, seed: 57 },
    );
  });

  it("has second derivatives through its tanh that agree with central differences", () => {
    // two layers, so the Hessian couples W1 with W2 through the inner tanh
    const rand = seededUniform(17);
    const v = f64(rand, [2, 3]), W1 = f64(rand, [4, 3]), b1 = f64(rand, [4]), W2 = f64(rand, [2, 4]), b2 = f64(rand, [2]), r = f64(rand, [2, 2]);
    const f = (w1: Tensor, bb1: Tensor, w2: Tensor) => sum(mul(affine(affine(v, w1, bb1, "tanh"), w2, b2, "tanh"), r));
    const r2 = checkGradSecondOrder(f, [W1, b1, W2], { argnums: [0, 1, 2] });
    expect(r2.ok, formatReport(r2)).toBe(true);
  });

  it("sums the gradient of a weight used at many steps exactly as the step-by-step products do", () => {
    // W used 5 times: the backward loop collects the five dyᵀ v terms and multiplies them out once
    const rand = seededUniform(10);
    const W = f64(rand, [3, 4]), b = f64(rand, [3]), vs = Array.from({ length: 5 }, () => f64(rand, [2, 4])), r = f64(rand, [2, 3]);
    const chain = (aff: (v: Tensor, W: Tensor, b: Tensor) => Tensor) => (w: Tensor) => vs.reduce((s, v) => add(s, sum(mul(aff(v, w, b), r))), tensor(0, { dtype: "float64" }));
    const [, pf] = vjp(chain((v, w, bb) => affine(v, w, bb)), W), [, pc] = vjp(chain(composed), W);
    const one = tensor(1, { dtype: "float64" });
    expect(maxAbsDiff((pf(one) as Tensor[])[0]!, (pc(one) as Tensor[])[0]!)).toBeLessThanOrEqual(1e-13);
  });

  it("takes v as parts joined along columns, with the VJP of concat then affine, for every activation", () => {
    fc.assert(
      fc.property(sizes, fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }), fc.constantFrom("identity", "tanh", "relu") as fc.Arbitrary<"identity" | "tanh" | "relu">,
        ({ B, H, seed }, widths, act) => {
          const rand = seededUniform(seed);
          const parts = widths.map((w) => f64(rand, [B, w])), K = widths.reduce((a, w) => a + w, 0);
          const W = f64(rand, [H, K]), b = f64(rand, [H]), d = f64(rand, [B, H]);
          const k = parts.length;
          const r = compare((...xs) => affine(xs.slice(0, k), xs[k]!, xs[k + 1]!, act), (...xs) => affine(concat(xs.slice(0, k), 1), xs[k]!, xs[k + 1]!, act), [...parts, W, b], () => d);
          expect(r.fwd).toBe(0);
          expect(r.bwd).toBeLessThanOrEqual(1e-13);
        }),
      { numRuns: RUNS, seed: 58 },
    );
  });

  it("computes no gradient for a constant part and the right one for the others", () => {
    const rand = seededUniform(18);
    const a = f64(rand, [3, 2]), x = f64(rand, [3, 4]), W = f64(rand, [5, 6]), b = f64(rand, [5]), r = f64(rand, [3, 5]);
    const [, pb] = vjp((aa: Tensor, w: Tensor) => sum(mul(affine([aa, x], w, b, "tanh"), r)), a, W);
    const [, pc] = vjp((aa: Tensor, w: Tensor) => sum(mul(tanh(add(matmul(concat([aa, x], 1), transpose(w)), b)), r)), a, W);
    const one = tensor(1, { dtype: "float64" });
    const gf = pb(one) as Tensor[], gc = pc(one) as Tensor[];
    gf.forEach((g, i) => expect(maxAbsDiff(g, gc[i]!)).toBeLessThanOrEqual(1e-13));
  });

  it("has second derivatives through its parts that agree with central differences", () => {
    const rand = seededUniform(19);
    const a = f64(rand, [2, 2]), x = f64(rand, [2, 3]), W = f64(rand, [3, 5]), b = f64(rand, [3]), r = f64(rand, [2, 3]);
    const f = (aa: Tensor, xx: Tensor, w: Tensor) => { const y = affine([aa, xx], w, b, "tanh"); return sum(mul(mul(y, y), r)); };
    const r2 = checkGradSecondOrder(f, [a, x, W], { argnums: [0, 1, 2] });
    expect(r2.ok, formatReport(r2)).toBe(true);
  });

  it("names the op and all three shapes when they do not fit", () => {
    const rand = seededUniform(11);
    expect(() => affine(f64(rand, [2, 3]), f64(rand, [4, 2]), f64(rand, [4]))).toThrow(/affine: needs v \[B, K\] \(or parts \[B, K_i\] with Σ K_i = K\), W \[N, K\], b \[N\], got \[2,3\], \[4,2\], \[4\]/);
    expect(() => affine([f64(rand, [2, 3]), f64(rand, [3, 1])], f64(rand, [4, 4]), f64(rand, [4]))).toThrow(/got \[2,3\] \| \[3,1\], \[4,4\], \[4\]/);
  });
});

describe("matmulT", () => {
  const swap = (x: Tensor) => transpose(x, [...x.shape.keys()].map((i, _, all) => (i === all.length - 2 ? all.length - 1 : i === all.length - 1 ? all.length - 2 : i)));

  it("equals matmul of explicit transposes, value and VJP, for every flag pair and broadcast batches", () => {
    const shapes = fc.record({
      M: fc.integer({ min: 1, max: 4 }), K: fc.integer({ min: 1, max: 4 }), N: fc.integer({ min: 1, max: 4 }),
      batchA: fc.constantFrom([], [2], [1], [3, 1]), batchB: fc.constantFrom([], [2], [1], [3, 2]),
      tA: fc.boolean(), tB: fc.boolean(), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    });
    fc.assert(
      fc.property(shapes, ({ M, K, N, batchA, batchB, tA, tB, seed }) => {
        // only batch shapes that broadcast
        const ok = [...batchA].reverse().every((d, i) => { const e = [...batchB].reverse()[i]; return e === undefined || d === e || d === 1 || e === 1; });
        fc.pre(ok);
        const rand = seededUniform(seed);
        const a = f64(rand, [...batchA, ...(tA ? [K, M] : [M, K])]), b = f64(rand, [...batchB, ...(tB ? [N, K] : [K, N])]);
        const ref = (x: Tensor, y: Tensor) => matmul(tA ? swap(x) : x, tB ? swap(y) : y);
        const fused = (x: Tensor, y: Tensor) => matmulT(x, y, tA, tB);
        const outShape = ref(a, b).shape;
        const d = f64(rand, outShape);
        const r = compare(fused, ref, [a, b], () => d);
        expect(r.fwd).toBeLessThanOrEqual(1e-14);
        expect(r.bwd).toBeLessThanOrEqual(1e-13);
      }),
      { numRuns: 60, seed: 55 },
    );
  });

  it("has second derivatives that agree with central differences with both operands transposed", () => {
    const rand = seededUniform(12);
    const a = f64(rand, [3, 2]), b = f64(rand, [4, 3]), r = f64(rand, [2, 4]);
    const f = (x: Tensor, y: Tensor) => sum(mul(mul(matmulT(x, y, true, true), matmulT(x, y, true, true)), r));
    const r2 = checkGradSecondOrder(f, [a, b], { argnums: [0, 1] });
    expect(r2.ok, formatReport(r2)).toBe(true);
  });

  it("names both shapes and the transposes when inner dimensions differ", () => {
    const rand = seededUniform(13);
    expect(() => matmulT(f64(rand, [2, 3]), f64(rand, [2, 3]), false, false)).toThrow(/matmul: inner dimensions differ, got \[2,3\] and \[2,3\]/);
    expect(() => matmulT(f64(rand, [2, 3]), f64(rand, [4, 3]), true, true)).toThrow(/\[2,3\]ᵀ and \[4,3\]ᵀ \(2 vs 3\)/);
  });
});

describe("outerSum", () => {
  const composed = (n: number) => (...xs: Tensor[]) =>
    xs.slice(0, n).reduce<Tensor | null>((s, a, i) => { const p = matmul(transpose(a), xs[n + i]!); return s === null ? p : add(s, p); }, null)!;

  it("equals Σ aᵢᵀ bᵢ from separate products, value and VJP", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (rows, M, N, seed) => {
        const rand = seededUniform(seed);
        const as = rows.map((r) => f64(rand, [r, M])), bs = rows.map((r) => f64(rand, [r, N])), d = f64(rand, [M, N]);
        const n = rows.length;
        const r = compare((...xs: Tensor[]) => outerSum(xs.slice(0, n), xs.slice(n)), composed(n), [...as, ...bs], () => d);
        expect(r.fwd).toBeLessThanOrEqual(1e-13);
        expect(r.bwd).toBeLessThanOrEqual(1e-13);
      }),
      { numRuns: RUNS, seed: 56 },
    );
  });

  it("has second derivatives that agree with central differences", () => {
    const rand = seededUniform(14);
    const a0 = f64(rand, [2, 3]), a1 = f64(rand, [1, 3]), b0 = f64(rand, [2, 2]), b1 = f64(rand, [1, 2]), r = f64(rand, [3, 2]);
    const f = (x0: Tensor, x1: Tensor, y0: Tensor, y1: Tensor) => { const c = outerSum([x0, x1], [y0, y1]); return sum(mul(mul(c, c), r)); };
    const r2 = checkGradSecondOrder(f, [a0, a1, b0, b1], { argnums: [0, 1, 2, 3] });
    expect(r2.ok, formatReport(r2)).toBe(true);
  });

  it("gives a weight the same gradient whether its terms are multiplied out at once or every few steps", () => {
    // 7 steps of a shared W; a flush threshold of 1 element multiplies out every term as it arrives
    const rand = seededUniform(15);
    const W = f64(rand, [4, 3]), vs = Array.from({ length: 7 }, () => f64(rand, [2, 3])), r = f64(rand, [2, 4]);
    const loss = (w: Tensor) => vs.reduce((s, v) => add(s, sum(mul(matmul(v, transpose(w)), r))), tensor(0, { dtype: "float64" }));
    const one = tensor(1, { dtype: "float64" });
    const once = (vjp(loss, W)[1](one) as Tensor[])[0]!;
    const prev = setOuterSumFlushElements(1);
    let eager: Tensor;
    try {
      eager = (vjp(loss, W)[1](one) as Tensor[])[0]!;
    } finally {
      setOuterSumFlushElements(prev);
    }
    // the reference: Σ_t rᵀ v_t by plain products, nothing deferred
    const ref = vs.reduce<Tensor | null>((s, v) => { const p = matmul(transpose(r), v); return s === null ? p : add(s, p); }, null)!;
    expect(maxAbsDiff(once, ref)).toBeLessThanOrEqual(1e-13);
    expect(maxAbsDiff(eager, ref)).toBeLessThanOrEqual(1e-13);
  });

  it("begins a weight's terms in chunks, on the helper thread where there is one, with the same gradient on one or two threads", () => {
    // 12 steps of a shared float32 W through affine (the cell's fused map); chunks of 32 rows: 6 products
    const rand = seededUniform(17);
    const f32 = (shape: number[]) => tensor(f64(rand, shape).toFlatArray(), { dtype: "float32", shape });
    const W = f32([40, 48]), b = f32([40]), vs = Array.from({ length: 12 }, () => f32([16, 48])), rs = vs.map(() => f32([16, 40]));
    const loss = (w: Tensor) => vs.reduce((s, v, t) => add(s, sum(mul(affine(v, w, b), rs[t]!))), tensor(0, { dtype: "float32" }));
    const gradOf = (threads: 1 | 2, chunk: { rows: number; work: number }): Tensor => {
      const prevThreads = setKernelThreads(threads), prevChunk = setOuterSumChunk(chunk);
      try {
        return (vjp(loss, W)[1](tensor(1, { dtype: "float32" })) as Tensor[])[0]!;
      } finally {
        setKernelThreads(prevThreads);
        setOuterSumChunk(prevChunk);
      }
    };
    expect(wasmThreadsAvailable()).toBe(true);
    const chunks = { rows: 32, work: 0 };
    const begun = wasmStartedCount();
    const two = gradOf(2, chunks);
    // the first chunk goes to the idle helper; a later one the helper is still busy for is computed here
    const onHelper = wasmStartedCount() - begun;
    expect(onHelper).toBeGreaterThanOrEqual(1);
    expect(onHelper).toBeLessThanOrEqual(6);
    const oneThread = gradOf(1, chunks);
    expect(wasmStartedCount() - begun).toBe(onHelper); // one thread computes each chunk at once
    expect(two.toFlatArray()).toEqual(oneThread.toFlatArray());
    // the reference: Σ_t rᵀ v_t in float64, and the unchunked single product, agree to float32 rounding
    const ref = vs.reduce<Tensor | null>((s, v, t) => {
      const p = matmul(transpose(tensor(rs[t]!.toFlatArray(), { dtype: "float64", shape: [16, 40] })), tensor(v.toFlatArray(), { dtype: "float64", shape: [16, 48] }));
      return s === null ? p : add(s, p);
    }, null)!;
    const whole = gradOf(2, { rows: Infinity, work: Infinity });
    const scale = Math.max(...ref.toFlatArray().map(Math.abs));
    expect(maxAbsDiff(two, ref) / scale).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(whole, ref) / scale).toBeLessThanOrEqual(1e-5);
  });

  it("names the term whose shapes do not fit", () => {
    const rand = seededUniform(16);
    expect(() => outerSum([f64(rand, [2, 3]), f64(rand, [2, 3])], [f64(rand, [2, 4]), f64(rand, [3, 4])])).toThrow(/outerSum: term 1: needs a \[R, 3\] and b \[R, 4\], got \[2,3\] and \[3,4\]/);
  });
});

describe("softmaxCrossEntropyIndices", () => {
  it("gives the composed loss and VJP per row, ignored rows included", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (T, B, V, seed) => {
        const rand = seededUniform(seed);
        const z = f64(rand, [T, B, V], 5), d = f64(rand, [T, B]);
        const y = Int32Array.from({ length: T * B }, () => Math.floor(rand() * (V + 1)) - 1); // -1 .. V-1
        const r = compare((zz) => softmaxCrossEntropyIndices(zz, y), (zz) => softmaxCrossEntropyComposed(zz, y), [z], () => d);
        expect(r.fwd).toBeLessThanOrEqual(1e-14);
        expect(r.bwd).toBeLessThanOrEqual(1e-14);
      }),
      { numRuns: RUNS, seed: 59 },
    );
  });

  it("has second derivatives that agree with central differences", () => {
    const rand = seededUniform(20);
    const z = f64(rand, [3, 4], 2), w = f64(rand, [3]);
    const f = (zz: Tensor) => sum(mul(mul(softmaxCrossEntropyIndices(zz, Int32Array.from([2, -1, 0])), w), softmaxCrossEntropyIndices(zz, Int32Array.from([1, 3, 3]))));
    const r2 = checkGradSecondOrder(f, [z]);
    expect(r2.ok, formatReport(r2)).toBe(true);
  });

  it("stays within float32 rounding of the float64 loss at sizes that use the WebAssembly exp", () => {
    const rand = seededUniform(21);
    const z64 = f64(rand, [64, 32], 8), y = Int32Array.from({ length: 64 }, (_, i) => i % 32);
    const z32 = tensor(z64.toFlatArray(), { shape: [64, 32] });
    const l64 = softmaxCrossEntropyIndices(z64, y).toFlatArray(), l32 = softmaxCrossEntropyIndices(z32, y).toFlatArray();
    // losses up to ~20 here; float32 carries ~1e-6 relative, the SIMD exp adds a few ulp per term
    l64.forEach((v, i) => expect(Math.abs(v - l32[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
  });

  it("names the bad target and the valid range", () => {
    const rand = seededUniform(22);
    expect(() => softmaxCrossEntropyIndices(f64(rand, [2, 3]), Int32Array.from([0, 3]))).toThrow(/softmaxCrossEntropy.*entry 1 is 3; a class index must be in \[0, 3\)/);
    expect(() => softmaxCrossEntropyIndices(f64(rand, [2, 3]), Int32Array.from([0]))).toThrow(/must be an Int32Array of 2 class indices/);
  });
});
