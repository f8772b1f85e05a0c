import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { type Tensor } from "../../core/tensor.js";
import { ShapeError } from "../../core/errors.js";
import { normal, randomKey, splitKey } from "../../core/random.js";
import { glorotUniform, normalInit, orthogonal, zerosInit } from "../../layers/init.js";

const key = randomKey(0);
const stats = (t: Tensor) => {
  const v = t.toFlatArray();
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  return { mean, sd, maxAbs: Math.max(...v.map(Math.abs)) };
};
/** Row-major plain-JS product of a [m, k] and [k, n]. */
const matmulJs = (a: number[], b: number[], m: number, k: number, n: number) => {
  const out = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return out;
};
const transposeJs = (a: number[], m: number, n: number) => Array.from({ length: m * n }, (_, idx) => a[(idx % m) * n + Math.floor(idx / m)]!);
/** max |A - I| for an n×n row-major A. */
const offIdentity = (a: number[], n: number) => Math.max(...a.map((v, idx) => Math.abs(v - (Math.floor(idx / n) === idx % n ? 1 : 0))));

describe("initializers", () => {
  it("draw the same weights from the same key and different weights from different keys, in the asked dtype", () => {
    const [k1, k2] = splitKey(key);
    for (const init of [normalInit(0.1), glorotUniform, orthogonal]) {
      const a = init(k1!, [4, 3], "float64");
      expect(a.dtype).toBe("float64");
      expect(a.shape).toEqual([4, 3]);
      expect(init(k1!, [4, 3], "float64").toFlatArray()).toEqual(a.toFlatArray());
      expect(init(k2!, [4, 3], "float64").toFlatArray()).not.toEqual(a.toFlatArray());
      expect(init(k1!, [4, 3]).dtype).toBe("float32");
    }
  });

  it("zerosInit gives zeros of the shape and dtype", () => {
    const z = zerosInit(key, [2, 5], "float64");
    expect(z.dtype).toBe("float64");
    expect(z.toFlatArray()).toEqual(new Array(10).fill(0));
  });

  it("normalInit(std) has mean 0 and standard deviation std (20,000 draws, 3% tolerance)", () => {
    const s = stats(normalInit(0.05)(key, [200, 100], "float64"));
    expect(Math.abs(s.mean)).toBeLessThan(0.05 * 0.03);
    expect(Math.abs(s.sd / 0.05 - 1)).toBeLessThan(0.03);
    expect(() => normalInit(-1)).toThrow(/normalInit: std must be a finite number >= 0/);
  });

  it("glorotUniform stays within ±√(6 / (fanIn + fanOut)) and has variance l²/3", () => {
    const l = Math.sqrt(6 / (300 + 100));
    const s = stats(glorotUniform(key, [300, 100], "float64"));
    expect(s.maxAbs).toBeLessThanOrEqual(l);
    expect(s.maxAbs).toBeGreaterThan(0.99 * l);
    expect(Math.abs(s.sd / (l / Math.sqrt(3)) - 1)).toBeLessThan(0.03);
  });

  it("orthogonal gives WᵀW = I for tall and square shapes and WWᵀ = I for wide ones (float64 to 1e-12, float32 to 1e-5)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.nat({ max: 1e6 }), (rows, cols, seed) => {
        for (const [dtype, tol] of [["float64", 1e-12], ["float32", 1e-5]] as const) {
          const w = orthogonal(randomKey(seed), [rows, cols], dtype).toFlatArray();
          const gram = rows >= cols ? matmulJs(transposeJs(w, rows, cols), w, cols, rows, cols) : matmulJs(w, transposeJs(w, rows, cols), rows, cols, rows);
          expect(offIdentity(gram, Math.min(rows, cols))).toBeLessThan(tol);
        }
      }),
      { numRuns: 40, seed: 21 },
    );
  });

  it("orthogonal is the sign-corrected Q of a normal matrix A = QR: QᵀA is upper triangular with a positive diagonal", () => {
    const k = randomKey(5);
    const [m, n] = [6, 4];
    const q = orthogonal(k, [m, n], "float64").toFlatArray();
    const a = normal(k, [m, n], { dtype: "float64" }).toFlatArray();
    const r = matmulJs(transposeJs(q, m, n), a, n, m, n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (i > j) expect(Math.abs(r[i * n + j]!)).toBeLessThan(1e-12);
        if (i === j) expect(r[i * n + j]!).toBeGreaterThan(0);
      }
    // and Q R reproduces A
    const back = matmulJs(q, r, m, n, n);
    back.forEach((v, i) => expect(v).toBeCloseTo(a[i]!, 12));
  });

  it("orthogonal folds leading axes into rows and refuses vectors", () => {
    const w = orthogonal(key, [2, 3, 4], "float64");
    expect(w.shape).toEqual([2, 3, 4]);
    const g = matmulJs(transposeJs(w.toFlatArray(), 6, 4), w.toFlatArray(), 4, 6, 4);
    expect(offIdentity(g, 4)).toBeLessThan(1e-12);
    expect(() => orthogonal(key, [5])).toThrow(ShapeError);
  });
});
