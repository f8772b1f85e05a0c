import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import * as A from "../../autograd/index.js";
import { tensor, type DType, type Tensor } from "../../core/tensor.js";
import { binaryCrossEntropy, softmaxCrossEntropy } from "../../layers/losses.js";

// Numerical edge cases with exact expectations. Expected values come from closed forms evaluated in float64
// here, never from the code under test. Tolerances are stated in units of the dtype's machine epsilon.

const EPS: Record<DType, number> = { float32: 2 ** -23, float64: 2 ** -52 };
const DTYPES: DType[] = ["float64", "float32"];
const t = (v: number[] | number[][], dtype: DType) => tensor(v, { dtype });
const flat = (x: unknown) => (x as Tensor).toFlatArray();

/** Each |got - want| must be ≤ ulps · eps · max(|want|, 1); infinities and zeros (of either sign) must match exactly. */
const expectClose = (got: number[], want: number[], dtype: DType, ulps = 4, what = "") => {
  expect(got.length, what).toBe(want.length);
  got.forEach((g, i) => {
    const w = want[i]!;
    if (w === 0) return void expect(Math.abs(g), `${what}[${i}] = ${g}`).toBe(0); // either sign of zero
    if (!Number.isFinite(w)) return void expect(g, `${what}[${i}]`).toBe(w);
    expect(Number.isFinite(g), `${what}[${i}] = ${g} is finite`).toBe(true);
    expect(Math.abs(g - w), `${what}[${i}]: got ${g}, want ${w}`).toBeLessThanOrEqual(ulps * EPS[dtype] * Math.max(Math.abs(w), 1));
  });
};

describe("the softmax family at logits of ±1e4", () => {
  const L = Math.log1p(Math.exp(-1)); // log(1 + e⁻¹)
  const p0 = 1 / (1 + Math.exp(-1)), p1 = Math.exp(-1) / (1 + Math.exp(-1));
  const cases: { x: number[]; lse: number; softmax: number[]; logSoftmax: number[] }[] = [
    { x: [1e4, 1e4 - 1, -1e4], lse: 1e4 + L, softmax: [p0, p1, 0], logSoftmax: [-L, -1 - L, -2e4 - L] },
    { x: [-1e4, -1e4], lse: -1e4 + Math.LN2, softmax: [0.5, 0.5], logSoftmax: [-Math.LN2, -Math.LN2] },
    { x: [1e4, -1e4], lse: 1e4, softmax: [1, 0], logSoftmax: [0, -2e4] },
    { x: [-1e4], lse: -1e4, softmax: [1], logSoftmax: [0] },
  ];

  for (const dtype of DTYPES)
    it(`give finite values exact to the precision of ${dtype}, along any axis`, () => {
      for (const c of cases) {
        const x = t(c.x, dtype);
        expectClose([A.logSumExp(x).item()], [c.lse], dtype, 4, "logSumExp");
        expectClose(flat(A.softmax(x)), c.softmax, dtype, 4, "softmax");
        expectClose(flat(A.logSoftmax(x)), c.logSoftmax, dtype, 4, "logSoftmax");
        // the same numbers down a column (axis 0 of a [n, 2] tensor whose second column is the first reversed)
        const col = t(c.x.map((v, i) => [v, c.x[c.x.length - 1 - i]!]), dtype);
        expectClose(flat(A.logSumExp(col, 0)), [c.lse, c.lse], dtype, 4, "logSumExp axis 0");
        expectClose(flat(A.slice(A.softmax(col, 0), [0, 0], [-1, 1])), c.softmax, dtype, 4, "softmax axis 0");
        expectClose(flat(A.slice(A.logSoftmax(col, 0), [0, 0], [-1, 1])), c.logSoftmax, dtype, 4, "logSoftmax axis 0");
      }
    });

  for (const dtype of DTYPES)
    it(`have finite, exact gradients at ±1e4 in ${dtype}: ∂lse = softmax, ∂logSoftmax₀ = e₀ - softmax, ∂softmax₀ = p₀(e₀ - p)`, () => {
      for (const c of cases) {
        const x = t(c.x, dtype);
        const e0 = c.x.map((_, i) => (i === 0 ? 1 : 0));
        const pick0 = (y: Tensor) => A.sum(A.mul(y, t(e0, dtype)));
        expectClose(flat(A.grad((v: Tensor) => A.logSumExp(v))(x)), c.softmax, dtype, 4, "∂logSumExp");
        expectClose(flat(A.grad((v: Tensor) => pick0(A.logSoftmax(v)))(x)), e0.map((e, i) => e - c.softmax[i]!), dtype, 4, "∂logSoftmax₀");
        expectClose(flat(A.grad((v: Tensor) => pick0(A.softmax(v)))(x)), e0.map((e, i) => c.softmax[0]! * (e - c.softmax[i]!)), dtype, 4, "∂softmax₀");
      }
    });

  it("keep the documented values on rows of -Infinity: logSumExp -Infinity, softmax and logSoftmax NaN (0/0)", () => {
    const x = t([[-Infinity, 0], [-Infinity, -Infinity]], "float64");
    expect(flat(A.logSumExp(x))).toEqual([0, -Infinity]);
    expect(flat(A.softmax(x))).toEqual([0, 1, NaN, NaN]);
    expect(flat(A.logSoftmax(x))).toEqual([-Infinity, 0, NaN, NaN]);
  });

  for (const dtype of DTYPES)
    it(`give finite cross-entropy losses and gradients from logits at probabilities 0 and 1 in ${dtype}`, () => {
      // softmax cross-entropy: logits [1e4, -1e4] put probability 1 on class 0 and 0 on class 1
      const z = t([[1e4, -1e4], [1e4, -1e4]], dtype);
      expectClose(flat(softmaxCrossEntropy(z, [0, 1])), [0, 2e4], dtype, 4, "softmaxCrossEntropy");
      const dz = A.grad((v: Tensor) => A.sum(softmaxCrossEntropy(v, [0, 1])))(z);
      expectClose(flat(dz), [0, 0, 1, -1], dtype, 4, "∂softmaxCrossEntropy = ŷ - y");
      // logistic loss at σ(z) = 1 and 0: L = softplus(z) - z y, ∂L/∂z = σ(z) - y
      const b = t([1000, 1000, -1000, -1000], dtype);
      const y = t([1, 0, 1, 0], dtype);
      expectClose(flat(binaryCrossEntropy(b, y)), [0, 1000, 1000, 0], dtype, 4, "binaryCrossEntropy");
      expectClose(flat(A.grad((v: Tensor) => A.sum(binaryCrossEntropy(v, y)))(b)), [0, 1, -1, 0], dtype, 4, "∂binaryCrossEntropy");
      // from probabilities 0 and 1 the documented clamp to [1e-7, 1 - 1e-7] keeps the loss finite
      const p = binaryCrossEntropy(t([1, 0, 0, 1], dtype), y, { fromLogits: false });
      for (const v of flat(p)) expect(Number.isFinite(v)).toBe(true);
      // p = 0 for y = 1 and p = 1 for y = 0 cost -log(1e-7) ≈ 16.1 (float32 rounds 1 - 1e-7, giving ≈ 15.9)
      expect(flat(p)[2]).toBeGreaterThan(15);
      expect(flat(p)[3]).toBeGreaterThan(15);
    });
});

describe("saturating activations", () => {
  for (const dtype of DTYPES)
    it(`sigmoid and tanh reach exactly 0, ±1 at ±1000 and ±Infinity in ${dtype}, with gradients exactly 0`, () => {
      const x = t([1000, -1000, Infinity, -Infinity, 1e30, -1e30], dtype);
      expect(flat(A.sigmoid(x))).toEqual([1, 0, 1, 0, 1, 0]);
      expect(flat(A.tanh(x))).toEqual([1, -1, 1, -1, 1, -1]);
      // σ' = σ(1 - σ) and tanh' = 1 - tanh² are 0 there, never NaN
      expect(flat(A.grad((v: Tensor) => A.sum(A.sigmoid(v)))(x)).map(Math.abs)).toEqual([0, 0, 0, 0, 0, 0]);
      expect(flat(A.grad((v: Tensor) => A.sum(A.tanh(v)))(x))).toEqual([0, 0, 0, 0, 0, 0]);
    });

  for (const dtype of DTYPES)
    it(`sigmoid keeps full relative precision in its small tail, and its gradient is within eps of σ(1-σ) elsewhere in ${dtype}`, () => {
      const xs = [-30, -15, -5, 0, 5, 15, 30];
      const sig = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
      const x = t(xs, dtype);
      // the tail σ(-30) ≈ 9.4e-14 is a relative, not absolute, match (no 1 - e^x cancellation)
      flat(A.sigmoid(x)).forEach((g, i) => expect(Math.abs(g - sig(xs[i]!)), `σ(${xs[i]})`).toBeLessThanOrEqual(4 * EPS[dtype] * sig(xs[i]!)));
      // σ'(x) from the output y is exact to eps absolutely (for x ≫ 0, 1 - y rounds, so a relative bound is not promised)
      flat(A.grad((v: Tensor) => A.sum(A.sigmoid(v)))(x)).forEach((g, i) => {
        const w = sig(xs[i]!) * sig(-xs[i]!);
        expect(Math.abs(g - w), `σ'(${xs[i]})`).toBeLessThanOrEqual(xs[i]! <= 0 ? 4 * EPS[dtype] * w : 2 * EPS[dtype]);
      });
    });
});

describe("log and sqrt at 0", () => {
  for (const dtype of DTYPES)
    it(`give -Infinity and 0 with the documented infinite gradients in ${dtype}: log'(0) = +Inf, log'(-0) = -Inf, sqrt'(0) = +Inf`, () => {
      const x = t([0, -0, 1], dtype);
      expect(flat(A.log(x))).toEqual([-Infinity, -Infinity, 0]);
      expect(flat(A.grad((v: Tensor) => A.sum(A.log(v)))(x))).toEqual([Infinity, -Infinity, 1]);
      expect(flat(A.sqrt(x))).toEqual([0, -0, 1]);
      expect(flat(A.grad((v: Tensor) => A.sum(A.sqrt(v)))(x))).toEqual([Infinity, -Infinity, 0.5]);
      // outside their domain they give NaN, as IEEE does, rather than a made-up number
      expect(flat(A.log(t([-1], dtype)))).toEqual([NaN]);
      expect(flat(A.sqrt(t([-1], dtype)))).toEqual([NaN]);
    });
});

// ---- float32 against float64 ---------------------------------------------------------------------------

const worst: Record<string, number> = {};
afterAll(() => {
  for (const [op, r] of Object.entries(worst)) console.log(`float32 vs float64: ${op}: worst error ${r.toFixed(3)} of the stated bound`);
});
/** Checks |a32 - a64| ≤ bound for every entry and records the worst ratio. */
const within = (op: string, a32: number[], a64: number[], bound: (i: number) => number) => {
  a32.forEach((v, i) => {
    const b = bound(i);
    const err = Math.abs(v - a64[i]!);
    expect(err, `${op}[${i}]: float32 ${v}, float64 ${a64[i]}, bound ${b}`).toBeLessThanOrEqual(b);
    worst[op] = Math.max(worst[op] ?? 0, b > 0 ? err / b : 0);
  });
};

describe("float32 against float64", () => {
  const E = EPS.float32;
  // inputs exactly representable in float32 (and away from subnormals), so both dtypes see the same numbers
  const val = fc.float({ min: -20, max: 20, noNaN: true }).map((v) => (Math.abs(v) < 1e-30 ? 0 : v));
  const vec = fc.array(val, { minLength: 1, maxLength: 12 });
  const both = (v: number[], f: (x: Tensor) => Tensor) => [flat(f(t(v, "float32"))), flat(f(t(v, "float64")))] as const;

  it("agree elementwise within 4 float32 ulps for exp, tanh, sigmoid and log, and 1 ulp for sqrt", () => {
    fc.assert(
      fc.property(vec, (v) => {
        for (const [op, f, ulps] of [["exp", A.exp, 4], ["tanh", A.tanh, 4], ["sigmoid", A.sigmoid, 4]] as const) {
          const [a, b] = both(v, f);
          within(op, a, b, (i) => ulps * E * Math.abs(b[i]!));
        }
        const pos = v.map((x) => Math.fround(Math.abs(x) + 0.25));
        for (const [op, f, ulps] of [["log", A.log, 4], ["sqrt", A.sqrt, 1]] as const) {
          const [a, b] = both(pos, f);
          within(op, a, b, (i) => ulps * E * Math.abs(b[i]!));
        }
      }),
      { numRuns: 100 },
    );
  });

  it("agree for the softmax family within (spread + n + 8) float32 eps, the rounding of the shifted logits included", () => {
    fc.assert(
      fc.property(vec, (v) => {
        const n = v.length;
        const spread = Math.max(...v) - Math.min(...v);
        const [s, s64] = both(v, (x) => A.softmax(x));
        within("softmax", s, s64, (i) => (spread + 8) * E * s64[i]!);
        const [l, l64] = both(v, (x) => A.logSumExp(x));
        within("logSumExp", l, l64, () => (spread + n + 8 + Math.abs(l64[0]!)) * E);
        const [ls, ls64] = both(v, (x) => A.logSoftmax(x));
        within("logSoftmax", ls, ls64, (i) => (spread + n + 8 + Math.abs(ls64[i]!)) * E);
        const [g, g64] = both(v, (x) => A.grad((u: Tensor) => A.logSumExp(u))(x) as Tensor);
        within("∂logSumExp", g, g64, (i) => (spread + 8) * E * g64[i]!);
      }),
      { numRuns: 100 },
    );
  });

  it("agree for sum within (n + 1) eps Σ|x|, matmul within (k + 2) eps (|A||B|) + k·2⁻¹²⁶, and activation gradients within 8 eps", () => {
    const dims = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 }));
    fc.assert(
      fc.property(dims.chain(([m, k, n]) => fc.tuple(fc.constant([m, k, n]), fc.array(val, { minLength: m * k, maxLength: m * k }), fc.array(val, { minLength: k * n, maxLength: k * n }))), ([[m, k, n], a, b]) => {
        const [s, s64] = both(a, (x) => A.sum(x));
        within("sum", s, s64, () => (a.length + 1) * E * a.reduce((p, x) => p + Math.abs(x), 0));
        const mm = (dtype: DType) => flat(A.matmul(A.reshape(t(a, dtype), [m!, k!]), A.reshape(t(b, dtype), [k!, n!])));
        const absProd = (i: number) => {
          const r = Math.floor(i / n!), c = i % n!;
          let acc = 0;
          for (let j = 0; j < k!; j++) acc += Math.abs(a[r * k! + j]! * b[j * n! + c]!);
          return acc;
        };
        // plus k times the smallest normal float32, for products that underflow in float32 but not in float64
        within("matmul", mm("float32"), mm("float64"), (i) => (k! + 2) * E * absProd(i) + k! * 2 ** -126);
        for (const [op, f] of [["∂tanh", A.tanh], ["∂sigmoid", A.sigmoid]] as const) {
          const [g, g64] = both(a, (x) => A.grad((u: Tensor) => A.sum(f(u)))(x) as Tensor);
          within(op, g, g64, () => 8 * E);
        }
      }),
      { numRuns: 100 },
    );
  });
});
