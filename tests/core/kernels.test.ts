import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as K from "../../core/kernels.js";
import { allocData, type Data, type DType } from "../../core/tensor.js";
import { sizeOf, stridesOf, type Shape } from "../../core/shape.js";
import { foldIn, randomKey, uniform } from "../../core/random.js";

// Every kernel is compared with a naive loop written here from the definition (multi-index arithmetic, no
// blocking). Data comes from the seeded PRNG; shapes from fast-check with fixed seeds.

const key = randomKey(31337);
let draw = 0;
const data = (n: number, dtype: DType = "float64"): Data => uniform(foldIn(key, draw++), [n], { dtype, low: -2, high: 2 }).toTypedArray();

const unravel = (i: number, shape: Shape): number[] => {
  const st = stridesOf(shape);
  return shape.map((_, d) => Math.floor(i / st[d]!) % shape[d]!);
};
const ravel = (idx: readonly number[], shape: Shape): number => idx.reduce((acc, v, d) => acc * shape[d]! + v, 0);

const shapeArb = (minRank: number, maxRank: number, maxDim = 5) => fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });
const RUNS = { numRuns: 50, seed: 7 };

describe("matmul", () => {
  const naive = (a: Data, b: Data, M: number, Kd: number, N: number, batches: number, am: Int32Array, bm: Int32Array): Float64Array => {
    const c = new Float64Array(batches * M * N);
    for (let t = 0; t < batches; t++)
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < Kd; k++) s += a[am[t]! * M * Kd + i * Kd + k]! * b[bm[t]! * Kd * N + k * N + j]!;
          c[t * M * N + i * N + j] = s;
        }
    return c;
  };
  /** |c - ref| <= tol · Σ|a_ik b_kj| per entry: 1e-12 in float64; 1e-5 in float32 (the kernel may accumulate in float32). */
  const check = (M: number, Kd: number, N: number, batches: number, aBatches: number, bBatches: number, dtype: DType) => {
    const a = data(aBatches * M * Kd, dtype), b = data(bBatches * Kd * N, dtype);
    const am = Int32Array.from({ length: batches }, (_, t) => t % aBatches);
    const bm = Int32Array.from({ length: batches }, (_, t) => t % bBatches);
    const c = K.matmul(a, b, M, Kd, N, batches, am, bm, dtype);
    expect(c).toBeInstanceOf(dtype === "float64" ? Float64Array : Float32Array);
    expect(c.length).toBe(batches * M * N);
    const ref = naive(a, b, M, Kd, N, batches, am, bm);
    const absA = a.map(Math.abs), absB = b.map(Math.abs);
    const scale = naive(absA, absB, M, Kd, N, batches, am, bm);
    const tol = dtype === "float64" ? 1e-12 : 1e-5;
    let worst = 0;
    for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(c[i]! - ref[i]!) / Math.max(scale[i]!, 1e-30));
    expect(worst).toBeLessThanOrEqual(tol);
  };

  it("equals a naive triple loop on random sizes in both dtypes (fast-check)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), (M, Kd, N, bt, f64) => {
        check(M, Kd, N, bt, bt, 1, f64 ? "float64" : "float32");
      }),
      RUNS,
    );
  });

  it("equals the naive loop when K is not a multiple of the 256-wide block (K = 255, 257, 300, 513)", () => {
    for (const Kd of [255, 256, 257, 300, 513]) {
      check(3, Kd, 5, 1, 1, 1, "float64");
      check(3, Kd, 5, 1, 1, 1, "float32");
    }
  });

  it("equals the naive loop on sizes large enough for any accelerated path (64 x 300 x 70, batched and broadcast)", () => {
    check(64, 300, 70, 1, 1, 1, "float32");
    check(64, 300, 70, 1, 1, 1, "float64");
    check(17, 33, 65, 4, 4, 1, "float32");
    check(17, 33, 65, 4, 1, 4, "float64");
  });

  it("gives zeros when the inner dimension is 0 and nothing when M or N is 0", () => {
    const c = K.matmul(new Float64Array(0), new Float64Array(0), 2, 0, 3, 1, new Int32Array([0]), new Int32Array([0]), "float64");
    expect(Array.from(c)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(K.matmul(new Float32Array(0), new Float32Array(6), 0, 2, 3, 1, new Int32Array([0]), new Int32Array([0]), "float32").length).toBe(0);
  });
});

describe("transpose", () => {
  const naive = (x: Data, shape: Shape, perm: readonly number[]): Float64Array => {
    const out = perm.map((p) => shape[p]!);
    const y = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const o = unravel(i, out);
      const src = new Array<number>(shape.length);
      perm.forEach((p, d) => (src[p] = o[d]!));
      y[i] = x[ravel(src, shape)]!;
    }
    return y;
  };
  const permArb = (r: number) => fc.shuffledSubarray(Array.from({ length: r }, (_, i) => i), { minLength: r, maxLength: r });

  it("permutes axes like the definition out[i...] = x[perm⁻¹ i...] on random shapes and perms", () => {
    fc.assert(
      fc.property(shapeArb(1, 4).chain((s) => fc.tuple(fc.constant(s), permArb(s.length))), ([shape, perm]) => {
        const x = data(sizeOf(shape));
        expect(Array.from(K.transpose(x, shape, perm, "float64"))).toEqual(Array.from(naive(x, shape, perm)));
      }),
      RUNS,
    );
  });

  it("handles the blocked 2-D path with sides that are not multiples of the 32 block, and inverts itself", () => {
    const shape = [33, 70];
    const x = data(sizeOf(shape));
    const y = K.transpose(x, shape, [1, 0], "float64");
    expect(Array.from(y)).toEqual(Array.from(naive(x, shape, [1, 0])));
    expect(Array.from(K.transpose(y, [70, 33], [1, 0], "float64"))).toEqual(Array.from(x));
  });

  it("takes the tiled 2-D path where the output's rows are a multiple of 4 KiB apart, with the same result", () => {
    for (const [R, C, dtype] of [[512, 70, "float64"], [1024, 37, "float32"], [2048, 5, "float32"], [1536, 33, "float32"]] as const) {
      const x64 = data(R * C);
      const x = dtype === "float32" ? Float32Array.from(x64) : x64;
      const y = K.transpose(x, [R, C], [1, 0], dtype);
      expect(y).toBeInstanceOf(dtype === "float32" ? Float32Array : Float64Array);
      const want = naive(x, [R, C], [1, 0]);
      expect(y.findIndex((v, i) => !Object.is(v, want[i])), `[${R}, ${C}] ${dtype}`).toBe(-1);
    }
  });
});

describe("slice, pad and concat", () => {
  const boxArb = shapeArb(1, 4, 6).chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      fc.tuple(...shape.map((d) => fc.integer({ min: 0, max: d }).chain((b) => fc.tuple(fc.constant(b), fc.integer({ min: 0, max: d - b }))))),
    ),
  );

  it("slices the box [begin, begin + size) like the definition, and pad puts it back among zeros", () => {
    fc.assert(
      fc.property(boxArb, ([shape, box]) => {
        const begin = box.map(([b]) => b), size = box.map(([, s]) => s);
        const x = data(sizeOf(shape));
        const y = K.slice(x, shape, begin, size, "float64");
        const ref: number[] = [];
        for (let i = 0; i < sizeOf(size); i++) ref.push(x[ravel(unravel(i, size).map((v, d) => v + begin[d]!), shape)]!);
        expect(Array.from(y)).toEqual(ref);
        // pad(slice(x)) keeps x inside the box and zeros outside
        const p = K.pad(y, size, shape, begin, "float64");
        for (let i = 0; i < x.length; i++) {
          const idx = unravel(i, shape);
          const inside = idx.every((v, d) => v >= begin[d]! && v < begin[d]! + size[d]!);
          expect(p[i]).toBe(inside ? x[i] : 0);
        }
        // slice(pad(y)) gives y back
        expect(Array.from(K.slice(p, shape, begin, size, "float64"))).toEqual(Array.from(y));
      }),
      RUNS,
    );
  });

  it("concatenates along any axis like the definition, and slicing the result gives the parts back", () => {
    const arb = shapeArb(1, 3, 4).chain((shape) =>
      fc.tuple(fc.constant(shape), fc.integer({ min: 0, max: shape.length - 1 }), fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 })),
    );
    fc.assert(
      fc.property(arb, ([base, axis, widths]) => {
        const shapes = widths.map((w) => base.map((d, i) => (i === axis ? w : d)));
        const parts = shapes.map((s) => data(sizeOf(s)));
        const outShape = base.map((d, i) => (i === axis ? widths.reduce((a, b) => a + b, 0) : d));
        const y = K.concat(parts, shapes, axis, outShape, "float64");
        expect(y.length).toBe(sizeOf(outShape));
        let off = 0;
        shapes.forEach((s, p) => {
          const begin = s.map((_, d) => (d === axis ? off : 0));
          expect(Array.from(K.slice(y, outShape, begin, s, "float64"))).toEqual(Array.from(parts[p]!));
          off += s[axis]!;
        });
      }),
      RUNS,
    );
  });
});

describe("gather and scatterAdd", () => {
  const arb = shapeArb(1, 3, 4).chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
        fc.tuple(fc.constant(axis), fc.array(fc.integer({ min: 0, max: shape[axis]! - 1 }), { minLength: 0, maxLength: 7 })),
      ),
    ),
  );

  it("gathers slices along an axis like the definition, repeated indices included", () => {
    fc.assert(
      fc.property(arb, ([shape, [axis, indices]]) => {
        const x = data(sizeOf(shape));
        const idx = Int32Array.from(indices);
        const outShape = shape.map((d, i) => (i === axis ? idx.length : d));
        const y = K.gather(x, shape, idx, axis, "float64");
        const ref: number[] = [];
        for (let i = 0; i < sizeOf(outShape); i++) {
          const o = unravel(i, outShape);
          o[axis] = idx[o[axis]!]!;
          ref.push(x[ravel(o, shape)]!);
        }
        expect(Array.from(y)).toEqual(ref);
      }),
      RUNS,
    );
  });

  it("makes scatterAdd the adjoint of gather: <gather(x), g> = <x, scatterAdd(g)> (repeated indices add up)", () => {
    fc.assert(
      fc.property(arb, ([shape, [axis, indices]]) => {
        const idx = Int32Array.from(indices);
        const outShape = shape.map((d, i) => (i === axis ? idx.length : d));
        const x = data(sizeOf(shape)), g = data(sizeOf(outShape));
        const lhs = Array.from(K.gather(x, shape, idx, axis, "float64")).reduce((s, v, i) => s + v * g[i]!, 0);
        const sc = K.scatterAdd(g, shape, idx, axis, "float64");
        const rhs = Array.from(sc).reduce((s, v, i) => s + v * x[i]!, 0);
        expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(lhs)));
      }),
      RUNS,
    );
  });

  it("sums rows sent to the same index", () => {
    const y = K.scatterAdd(new Float64Array([1, 2, 10, 20, 100, 200]), [2, 2], new Int32Array([1, 1, 0]), 0, "float64");
    expect(Array.from(y)).toEqual([100, 200, 11, 22]);
  });
});

describe("reductions", () => {
  const naive = (op: K.ReduceOp, x: Data, shape: Shape, axes: readonly number[]): Float64Array => {
    const out = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const y = new Float64Array(sizeOf(out)).fill(op === "sum" ? 0 : op === "max" ? -Infinity : Infinity);
    for (let i = 0; i < x.length; i++) {
      const j = ravel(unravel(i, shape).map((v, d) => (axes.includes(d) ? 0 : v)), out);
      const v = x[i]!;
      y[j] = op === "sum" ? y[j]! + v : op === "max" ? Math.max(y[j]!, v) : Math.min(y[j]!, v);
    }
    return y;
  };
  const arb = shapeArb(0, 4).chain((shape) => fc.tuple(fc.constant(shape), fc.subarray(shape.map((_, i) => i)), fc.constantFrom<K.ReduceOp>("sum", "max", "min")));

  it("sums, maxes and mins over any set of axes like a naive loop (sums within 1e-12)", () => {
    fc.assert(
      fc.property(arb, ([shape, axes, op]) => {
        const x = data(sizeOf(shape));
        const y = K.reduce(op, x, shape, axes, "float64");
        const ref = naive(op, x, shape, axes);
        expect(y.length).toBe(ref.length);
        ref.forEach((r, i) => expect(Math.abs(y[i]! - r)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(r))));
      }),
      RUNS,
    );
  });

  it("sums over one axis in float64 in index order, bit for bit as the naive loop (inner sizes off the 4-wide blocks too)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 11 }), fc.constantFrom<DType>("float32", "float64"), (outer, n, inner, dtype) => {
        const shape = [outer, n, inner], x = data(outer * n * inner, dtype);
        const y = K.reduce("sum", x, shape, [1], dtype);
        const ref = naive("sum", x, shape, [1]);
        expect(Array.from(y)).toEqual(Array.from(dtype === "float32" ? Float32Array.from(ref) : ref));
      }),
      RUNS,
    );
  });

  it("sums Σ_i a_iᵀ b_i for columns b_i (outerSumColumn) like the naive double loop, within 1e-13", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 19 }), (rows, M) => {
        const as = rows.map((r) => data(r * M)), bs = rows.map((r) => data(r));
        const y = K.outerSumColumn(as, bs, M, "float64");
        const ref = new Float64Array(M);
        rows.forEach((R, t) => {
          for (let r = 0; r < R; r++) for (let m = 0; m < M; m++) ref[m] = ref[m]! + as[t]![r * M + m]! * bs[t]![r]!;
        });
        ref.forEach((v, m) => expect(Math.abs(y[m]! - v)).toBeLessThanOrEqual(1e-13 * (1 + Math.abs(v))));
      }),
      RUNS,
    );
  });

  it("returns a copy, never its input, when no axes are reduced", () => {
    const x = new Float64Array([1, 2]);
    const y = K.reduce("sum", x, [2], [], "float64");
    expect(y).not.toBe(x);
    expect(Array.from(y)).toEqual([1, 2]);
  });

  it("propagates NaN through max and min", () => {
    expect(Array.from(K.reduce("max", new Float64Array([1, NaN, 3]), [3], [0], "float64"))).toEqual([NaN]);
    expect(Array.from(K.reduce("min", new Float64Array([1, NaN, 3]), [3], [0], "float64"))).toEqual([NaN]);
  });

  it("accumulates float32 sums in float64 (a million 0.1s sum to 100000 within float32 rounding)", () => {
    const x = new Float32Array(1_000_000).fill(0.1);
    const s = K.reduce("sum", x, [x.length], [0], "float32")[0]!;
    expect(Math.abs(s - 100_000)).toBeLessThan(0.01);
  });

  it("points argmaxLast at the first NaN of a row, as max propagates it (NumPy and JAX agree)", () => {
    expect(Array.from(K.argmaxLast(new Float64Array([1, NaN, 3, NaN, 0, 2]), 2, 3))).toEqual([1, 0]);
  });

  it("finds the first largest entry of each row with argmaxLast", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), (rows, n) => {
        const x = data(rows * n).map((v) => Math.round(v * 2)); // rounding makes ties common
        const got = K.argmaxLast(x, rows, n);
        for (let r = 0; r < rows; r++) {
          const row = Array.from(x.subarray(r * n, r * n + n));
          expect(got[r]).toBe(row.indexOf(Math.max(...row)));
        }
      }),
      RUNS,
    );
  });
});

describe("elementwise", () => {
  it("broadcasts binary ops like a naive multi-index loop", () => {
    const arb = shapeArb(0, 3, 3).chain((out) =>
      fc.tuple(
        fc.constant(out),
        fc.tuple(...out.map((d) => fc.constantFrom(d, 1))).chain((a) => fc.tuple(fc.constant(a), fc.integer({ min: 0, max: a.length }))),
        fc.tuple(...out.map((d) => fc.constantFrom(d, 1))),
        fc.constantFrom<K.BinaryOp>("add", "sub", "mul", "div", "maximum", "greater"),
      ),
    );
    const apply = (op: K.BinaryOp, u: number, v: number) =>
      op === "add" ? u + v : op === "sub" ? u - v : op === "mul" ? u * v : op === "div" ? u / v : op === "maximum" ? Math.max(u, v) : u > v ? 1 : 0;
    fc.assert(
      fc.property(arb, ([out, [aFull, drop], bShape, op]) => {
        const aShape = aFull.slice(drop); // fewer leading dims: aligned on the right
        const a = data(sizeOf(aShape)), b = data(sizeOf(bShape));
        const y = K.binary(op, a, aShape, b, bShape, out, "float64");
        for (let i = 0; i < sizeOf(out); i++) {
          const o = unravel(i, out);
          const ia = ravel(o.slice(out.length - aShape.length).map((v, d) => (aShape[d] === 1 ? 0 : v)), aShape);
          const ib = ravel(o.slice(out.length - bShape.length).map((v, d) => (bShape[d] === 1 ? 0 : v)), bShape);
          expect(y[i]).toBe(apply(op, a[ia]!, b[ib]!));
        }
      }),
      RUNS,
    );
  });

  it("fills a larger output from two same-shape broadcast operands (a scalar broadcast to [2,3])", () => {
    const y = K.binary("add", new Float64Array([1.5]), [], new Float64Array([0]), [], [2, 3], "float64");
    expect(Array.from(y)).toEqual([1.5, 1.5, 1.5, 1.5, 1.5, 1.5]);
  });

  it("selects with where from a broadcast condition", () => {
    const y = K.where(new Float64Array([1, 0]), [2, 1], new Float64Array([1, 2, 3]), [3], new Float64Array([-1]), [], [2, 3], "float64");
    expect(Array.from(y)).toEqual([1, 2, 3, -1, -1, -1]);
  });

  it("computes sigmoid without overflow at ±1000 and keeps NaN through relu", () => {
    const y = K.unary("sigmoid", new Float64Array([-1000, 0, 1000]), "float64");
    expect(Array.from(y)).toEqual([0, 0.5, 1]);
    expect(Array.from(K.unary("relu", new Float64Array([-1, NaN, 2]), "float64"))).toEqual([0, NaN, 2]);
    expect(Array.from(K.unary("step", new Float64Array([-1, 0, 2]), "float64"))).toEqual([0, 0, 1]);
  });

  it("casts between dtypes by rounding into a fresh array", () => {
    const x = new Float64Array([0.1, 2]);
    const y = K.cast(x, "float32");
    expect(y).toBeInstanceOf(Float32Array);
    expect(Array.from(y)).toEqual([Math.fround(0.1), 2]);
    expect(K.cast(x, "float64")).not.toBe(x);
  });

  it("allocates zeroed output in the asked dtype", () => {
    expect(allocData("float32", 3)).toBeInstanceOf(Float32Array);
    expect(Array.from(allocData("float64", 2))).toEqual([0, 0]);
  });
});
