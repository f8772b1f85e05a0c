import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor, type Tensor } from "../../core/tensor.js";
import { ArgumentError, ShapeError } from "../../core/errors.js";
import { expandDims, grad, logSoftmax, mul, neg, slice, sum, valueAndGrad, where } from "../../autograd/index.js";
import { binaryCrossEntropy, sequenceLoss, softmaxCrossEntropy } from "../../layers/losses.js";
import { checkGrad, formatReport } from "../../proofs/checkGrad.js";

const f64 = (v: number[] | number[][] | number[][][]) => tensor(v, { dtype: "float64" });
const flat = (t: Tensor) => t.toFlatArray();

/** Plain-JS softmax of one row, independent of the library. */
const softmaxRow = (z: number[]): number[] => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const logSumExpRow = (z: number[]): number => {
  const m = Math.max(...z);
  return m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
};
const sigmoidJs = (z: number) => 1 / (1 + Math.exp(-z));

describe("softmaxCrossEntropy", () => {
  it("gives logSumExp(z) - z_y per example for class-index targets", () => {
    const z = [[1, 2, 3], [0.5, -1, 0]];
    const loss = softmaxCrossEntropy(f64(z), [2, 0]);
    expect(loss.shape).toEqual([2]);
    const want = [Math.log(Math.E + Math.E ** 2 + Math.E ** 3) - 3, Math.log(Math.exp(0.5) + Math.exp(-1) + 1) - 0.5];
    flat(loss).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 12));
  });

  it("accepts targets as a tensor of integer values, an Int32Array or nested arrays alike", () => {
    const z = f64([[[1, 2], [3, -1]], [[0, 0], [2, 2.5]]]);
    const a = flat(softmaxCrossEntropy(z, [[0, 1], [1, 0]]));
    // against plain-JS log-sum-exp: the two evaluation orders agree to a few ulp, so 1e-14 is the stated bound
    const want = [logSumExpRow([1, 2]) - 1, logSumExpRow([3, -1]) + 1, logSumExpRow([0, 0]), logSumExpRow([2, 2.5]) - 2];
    expect(a).toHaveLength(want.length);
    want.forEach((w, i) => expect(Math.abs(a[i]! - w)).toBeLessThanOrEqual(1e-14 * Math.abs(w)));
    expect(flat(softmaxCrossEntropy(z, tensor([[0, 1], [1, 0]])))).toEqual(a);
    const z2 = f64([[1, 2, 3], [0, 1, 0]]);
    expect(flat(softmaxCrossEntropy(z2, new Int32Array([2, 1])))).toEqual(flat(softmaxCrossEntropy(z2, [2, 1])));
    expect(softmaxCrossEntropy(f64([1, 2, 3]), 1).item()).toBeCloseTo(logSumExpRow([1, 2, 3]) - 2, 14);
  });

  it("gives -Σ y log softmax(z) for distribution targets, equal to the index form for one-hot rows", () => {
    const z = [[1, 2, 3], [0.5, -1, 0]];
    const y = [[0.2, 0.3, 0.5], [0, 0, 1]];
    const loss = flat(softmaxCrossEntropy(f64(z), f64(y)));
    z.forEach((row, i) => {
      const lse = logSumExpRow(row);
      const want = -row.reduce((a, v, k) => a + y[i]![k]! * (v - lse), 0);
      expect(loss[i]).toBeCloseTo(want, 12);
    });
    expect(loss[1]).toBe(flat(softmaxCrossEntropy(f64(z), [0, 2]))[1]);
  });

  it("stays finite and exact for logits of ±1000", () => {
    const loss = flat(softmaxCrossEntropy(f64([[1000, 0], [-1000, 1000]]), [1, 0]));
    expect(loss).toEqual([1000, 2000]);
    const g = grad((z: Tensor) => sum(softmaxCrossEntropy(z, [1, 0])))(f64([[1000, 0], [-1000, 1000]]));
    expect(flat(g)).toEqual([1, -1, -1, 1]);
  });

  it("has gradient ŷ - y with respect to the logits (index and distribution targets, vs plain-JS softmax)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 2, max: 6 }),
        fc.infiniteStream(fc.double({ min: -5, max: 5, noNaN: true })),
        fc.infiniteStream(fc.nat()),
        (B, V, values, picks) => {
          const zs = Array.from({ length: B }, () => Array.from({ length: V }, () => values.next().value as number));
          const idx = Array.from({ length: B }, () => (picks.next().value as number) % V);
          const g = grad((z: Tensor) => sum(softmaxCrossEntropy(z, idx)))(f64(zs)).toArray() as number[][];
          zs.forEach((row, b) => softmaxRow(row).forEach((p, k) => expect(Math.abs(g[b]![k]! - (p - (k === idx[b] ? 1 : 0)))).toBeLessThan(1e-14)));
          // a soft target distribution: ∂/∂z = ŷ - y still (Σ y = 1)
          const ys = zs.map((_, b) => {
            const w = Array.from({ length: V }, (_, k) => 1 + ((picks.next().value as number) % 5) + (k === idx[b] ? 3 : 0));
            const s = w.reduce((a, v) => a + v, 0);
            return w.map((v) => v / s);
          });
          const g2 = grad((z: Tensor) => sum(softmaxCrossEntropy(z, f64(ys))))(f64(zs)).toArray() as number[][];
          zs.forEach((row, b) => softmaxRow(row).forEach((p, k) => expect(Math.abs(g2[b]![k]! - (p - ys[b]![k]!))).toBeLessThan(1e-14)));
        },
      ),
      { numRuns: 40, seed: 1234 },
    );
  });

  it("agrees with central finite differences in float64", () => {
    const z = f64([[0.3, -1.2, 2.0, 0.1], [1.5, 0.2, -0.7, 0.0], [-2, 1, 0.5, 3]]);
    const r = checkGrad((z: Tensor) => sum(softmaxCrossEntropy(z, [3, 0, 2])), [z]);
    expect(r.ok, formatReport(r)).toBe(true);
    expect(r.maxRelError).toBeLessThan(1e-6);
    const y = f64([[0.1, 0.2, 0.3, 0.4], [1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]]);
    const r2 = checkGrad((z: Tensor, y: Tensor) => sum(softmaxCrossEntropy(z, y)), [z, y]);
    expect(r2.ok, formatReport(r2)).toBe(true);
  });

  it("names the op and both shapes when targets fit neither form, and rejects out-of-range classes", () => {
    const z = f64([[1, 2, 3], [4, 5, 6]]);
    let err: unknown;
    try {
      softmaxCrossEntropy(z, [0, 1, 2]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as ShapeError).op).toBe("softmaxCrossEntropy");
    expect((err as ShapeError).shapes).toEqual([[2], [3]]);
    expect(() => softmaxCrossEntropy(z, [0, 3])).toThrow(/softmaxCrossEntropy: targets entry 1 is 3; a class index must be an integer in \[0, 3\)/);
    expect(() => softmaxCrossEntropy(z, [0, 1.5])).toThrow(ArgumentError);
    expect(() => softmaxCrossEntropy(tensor(3), [0])).toThrow(/class axis/);
  });
});

describe("binaryCrossEntropy", () => {
  it("equals -y log σ(z) - (1-y) log(1-σ(z)) for moderate logits", () => {
    const z = [-3, -0.5, 0, 0.7, 4];
    const y = [0, 1, 1, 0.25, 1];
    const loss = flat(binaryCrossEntropy(f64(z), f64(y)));
    z.forEach((v, i) => {
      const s = sigmoidJs(v);
      expect(loss[i]).toBeCloseTo(-y[i]! * Math.log(s) - (1 - y[i]!) * Math.log(1 - s), 12);
    });
  });

  it("is finite at any logit: ±1000 give 0 or 1000, not NaN or Inf", () => {
    expect(flat(binaryCrossEntropy(f64([1000, 1000, -1000, -1000]), [1, 0, 0, 1]))).toEqual([0, 1000, 0, 1000]);
    const f32 = binaryCrossEntropy(tensor([88, 100, -100]), [0, 1, 1]);
    expect(flat(f32).every(Number.isFinite)).toBe(true);
    expect(flat(f32)[2]).toBeCloseTo(100, 4);
  });

  it("has gradient σ(z) - y, including at z = 0 exactly and at ±1000", () => {
    const z = [-1000, -2, 0, 0, 1.5, 1000];
    const y = [1, 0, 1, 0, 0.3, 0];
    const g = flat(grad((z: Tensor) => sum(binaryCrossEntropy(z, f64(y))))(f64(z)));
    z.forEach((v, i) => expect(g[i]).toBeCloseTo(sigmoidJs(v) - y[i]!, 14));
  });

  it("agrees with central finite differences in float64 (logits and targets)", () => {
    const z = f64([[0.3, -1.2, 2.0], [4.5, -3.3, 0.01]]);
    const y = f64([[1, 0, 0.5], [0, 1, 0.9]]);
    const r = checkGrad((z: Tensor, y: Tensor) => sum(binaryCrossEntropy(z, y)), [z, y]);
    expect(r.ok, formatReport(r)).toBe(true);
  });

  it("takes probabilities with fromLogits: false, clamping them to [eps, 1-eps] so p = 0 or 1 stays finite", () => {
    const loss = flat(binaryCrossEntropy(f64([0.9, 0.2, 0, 1]), f64([1, 0, 1, 0]), { fromLogits: false }));
    expect(loss[0]).toBeCloseTo(-Math.log(0.9), 12);
    expect(loss[1]).toBeCloseTo(-Math.log(0.8), 12);
    expect(loss[2]).toBeCloseTo(-Math.log(1e-7), 8);
    expect(loss[3]).toBeCloseTo(-Math.log(1e-7), 6); // log(1 - (1 - 1e-7)) in float64
    const custom = flat(binaryCrossEntropy(f64([0]), f64([1]), { fromLogits: false, eps: 1e-3 }));
    expect(custom[0]).toBeCloseTo(-Math.log(1e-3), 10);
    const r = checkGrad((p: Tensor) => sum(binaryCrossEntropy(p, f64([1, 0, 0.4]), { fromLogits: false })), [f64([0.3, 0.6, 0.55])]);
    expect(r.ok, formatReport(r)).toBe(true);
  });

  it("rejects probabilities outside [0, 1], mismatched shapes and bad options with the op's name", () => {
    expect(() => binaryCrossEntropy(f64([0.5, 1.5]), [1, 0], { fromLogits: false })).toThrow(/binaryCrossEntropy: logitsOrProbs entry 1 is 1.5/);
    expect(() => binaryCrossEntropy(f64([0.5, 1.5]), [1, 0, 1])).toThrow(ShapeError);
    expect(() => binaryCrossEntropy(f64([0.5]), [1], { fromLogits: false, eps: 0 })).toThrow(/eps/);
  });
});

describe("sequenceLoss", () => {
  // T = 3, B = 2, V = 3
  const Z = [
    [[1, 2, 0], [0.5, 0.5, -1]],
    [[0, -1, 3], [2, 1, 0]],
    [[0.3, 0.2, 0.1], [-2, 4, 1]],
  ];
  const Y = [[1, 2], [2, 0], [0, 1]];
  const stepLoss = (t: number, b: number) => logSumExpRow(Z[t]![b]!) - Z[t]![b]![Y[t]![b]!]!;

  it("sums the per-step losses over time and averages over the batch by default (L = Σ_t L<t>)", () => {
    const perSeq = [0, 1].map((b) => stepLoss(0, b) + stepLoss(1, b) + stepLoss(2, b));
    expect(sequenceLoss(f64(Z), Y).item()).toBeCloseTo((perSeq[0]! + perSeq[1]!) / 2, 12);
    expect(sequenceLoss(f64(Z), Y, undefined, { reduction: "sum" }).item()).toBeCloseTo(perSeq[0]! + perSeq[1]!, 12);
    const none = sequenceLoss(f64(Z), Y, undefined, { reduction: "none" });
    expect(none.shape).toEqual([2]);
    flat(none).forEach((v, b) => expect(v).toBeCloseTo(perSeq[b]!, 12));
  });

  it("counts only unmasked steps, and masked steps may hold any placeholder target", () => {
    const mask = [[1, 1], [1, 0], [0, 0]];
    const Yp = [[1, 2], [2, -1], [99, -1]];
    const none = flat(sequenceLoss(f64(Z), Yp, mask, { reduction: "none" }));
    expect(none[0]).toBeCloseTo(stepLoss(0, 0) + stepLoss(1, 0), 12);
    expect(none[1]).toBeCloseTo(stepLoss(0, 1), 12);
    expect(sequenceLoss(f64(Z), Yp, mask).item()).toBeCloseTo((none[0]! + none[1]!) / 2, 12);
  });

  it("gives masked steps exactly zero gradient, even where their logits are NaN or Inf", () => {
    const mask = [[1, 1], [1, 0], [0, 0]];
    const bad = Z.map((row, t) => row.map((v, b) => (mask[t]![b] ? v : [NaN, Infinity, -Infinity])));
    const [value, g] = [sequenceLoss(f64(bad), Y, mask), grad((z: Tensor) => sequenceLoss(z, Y, mask))(f64(bad))];
    expect(Number.isFinite(value.item())).toBe(true);
    const ga = g.toArray() as number[][][];
    mask.forEach((row, t) => row.forEach((m, b) => ga[t]![b]!.forEach((v) => (m ? expect(v).not.toBe(0) : expect(Math.abs(v)).toBe(0)))));
  });

  it("gives each sequence of a padded batch the loss and gradient it has alone, unpadded", () => {
    const mask = [[1, 1], [1, 0], [1, 0]];
    const gBatch = grad((z: Tensor) => sequenceLoss(z, Y, mask, { reduction: "sum" }))(f64(Z)).toArray() as number[][][];
    const none = flat(sequenceLoss(f64(Z), Y, mask, { reduction: "none" }));
    // sequence 1 alone has length 1
    const alone = f64([[Z[0]![1]!]]);
    expect(none[1]).toBeCloseTo(sequenceLoss(alone, [[Y[0]![1]!]], undefined, { reduction: "sum" }).item(), 14);
    const gAlone = grad((z: Tensor) => sequenceLoss(z, [[Y[0]![1]!]], undefined, { reduction: "sum" }))(alone).toArray() as number[][][];
    gAlone[0]![0]!.forEach((v, k) => expect(gBatch[0]![1]![k]).toBeCloseTo(v, 14));
    // sequence 0 alone has length 3
    const z0 = f64(Z.map((row) => [row[0]!]));
    const g0 = grad((z: Tensor) => sequenceLoss(z, Y.map((r) => [r[0]!]), undefined, { reduction: "sum" }))(z0).toArray() as number[][][];
    g0.forEach((row, t) => row[0]!.forEach((v, k) => expect(gBatch[t]![0]![k]).toBeCloseTo(v, 14)));
  });

  it("equals the composed one-hot form (log-softmax, mul, sum, neg) in value and gradient, masked rows included", () => {
    // The index path runs the fused softmax cross-entropy; the reference below is the form it replaced, from plain ops.
    const composed = (z: Tensor, y: number[][], mask: number[][]): Tensor => {
      const [T, B, V] = z.shape as [number, number, number];
      const oh = y.flatMap((row, t) => row.flatMap((c, b) => Array.from({ length: V }, (_, k) => (mask[t]![b] && k === c ? 1 : 0))));
      const m = f64(mask);
      const zm = where(expandDims(m, -1), z, 0);
      const perStep = where(m, neg(sum(mul(tensor(oh, { shape: [T, B, V], dtype: "float64" }), logSoftmax(zm, -1)), -1)), 0);
      return sum(sum(perStep, 0));
    };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (T, B, V, seed) => {
        let s = seed >>> 0;
        const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
        const mask = Array.from({ length: T }, () => Array.from({ length: B }, () => (rand() < 0.3 ? 0 : 1)));
        // padded steps hold non-finite logits and out-of-range placeholder targets
        const zs = mask.map((row) => row.map((m) => Array.from({ length: V }, (_, k) => (m ? 10 * rand() - 5 : [NaN, Infinity, -Infinity][k % 3]!))));
        const y = mask.map((row) => row.map((m) => (m ? Math.floor(rand() * V) : -7)));
        const [v, g] = valueAndGrad((z: Tensor) => sequenceLoss(z, y, mask, { reduction: "sum" }))(f64(zs));
        const [vr, gr] = valueAndGrad((z: Tensor) => composed(z, y, mask))(f64(zs));
        // both are logSumExp(z) - z_y per row in float64, summed: they agree to a few ulp of the total
        expect(Math.abs(v.item() - vr.item())).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(vr.item())));
        const ga = flat(g), gra = flat(gr);
        ga.forEach((x, i) => expect(Math.abs(x - gra[i]!)).toBeLessThanOrEqual(1e-14));
        // masked rows: exactly zero gradient, not merely small
        mask.flat().forEach((m, r) => m || ga.slice(r * V, (r + 1) * V).forEach((x) => expect(x).toBe(0)));
        // no mask: the same comparison with every row kept
        const all = mask.map((row) => row.map(() => 1)), zf = zs.map((row) => row.map((r) => r.map((x) => (Number.isFinite(x) ? x : 0.5))));
        const yf = y.map((row) => row.map((c) => (c < 0 ? 0 : c)));
        const [v2, g2] = valueAndGrad((z: Tensor) => sequenceLoss(z, yf, undefined, { reduction: "sum" }))(f64(zf));
        const [v2r, g2r] = valueAndGrad((z: Tensor) => composed(z, yf, all))(f64(zf));
        expect(Math.abs(v2.item() - v2r.item())).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(v2r.item())));
        const g2a = flat(g2r);
        flat(g2).forEach((x, i) => expect(Math.abs(x - g2a[i]!)).toBeLessThanOrEqual(1e-14));
      }),
      { numRuns: 60, seed: 4321 },
    );
  });

  it("agrees with central finite differences in float64 with a mask", () => {
    const r = checkGrad((z: Tensor) => sequenceLoss(z, Y, [[1, 1], [1, 0], [1, 1]]), [f64(Z)]);
    expect(r.ok, formatReport(r)).toBe(true);
  });

  it("explains wrong ranks, mask shapes, mask values and reductions", () => {
    expect(() => sequenceLoss(f64([[1, 2]]), [0])).toThrow(/sequenceLoss: logits must be time-major \[T, B, V\], got \[1,2\]/);
    expect(() => sequenceLoss(f64(Z), Y, [[1, 1]])).toThrow(/sequenceLoss: mask has shape \[1,2\]/);
    expect(() => sequenceLoss(f64(Z), Y, [[1, 1], [1, 0.5], [1, 1]])).toThrow(/mask entry 3 is 0.5/);
    expect(() => sequenceLoss(f64(Z), Y, undefined, { reduction: "avg" as "mean" })).toThrow(/reduction/);
    expect(() => sequenceLoss(f64(Z), [[1, 2]])).toThrow(ShapeError);
  });
});
