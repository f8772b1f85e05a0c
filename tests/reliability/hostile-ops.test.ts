import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import * as A from "../../autograd/index.js";
import { ArgumentError, ShapeError } from "../../core/errors.js";
import { MAX_ELEMENTS } from "../../core/shape.js";
import { Tensor, arange, eye, full, ones, tensor, zeros, type DType } from "../../core/tensor.js";

// Every public op and constructor fed generated junk. Each call either computes the right result or throws a
// ShapeError/ArgumentError whose message starts with the name of the op the user called. Zero-size tensors
// are legal and must work forward and backward. Shapes over MAX_ELEMENTS are refused before any allocation:
// the oversized cases here all exceed 2^32 elements, the longest typed array this engine can make, so an
// op that tried to allocate would throw a RangeError instead of the ShapeError the tests require.

const tried: Record<string, number> = {};
const tally = (property: string) => (tried[property] = (tried[property] ?? 0) + 1);
afterAll(() => {
  for (const [p, n] of Object.entries(tried)) console.log(`hostile ops: ${p}: ${n} inputs`);
});

/** Runs f; a throw must be a ShapeError/ArgumentError naming `op`. Returns the result or undefined. */
const resultOrNamedError = <R>(op: string, f: () => R): R | undefined => {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof ShapeError || e instanceof ArgumentError)) throw new Error(`${op} threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    if (!e.message.startsWith(`${op}: `)) throw new Error(`${op} threw an error that does not name it: ${e.message}`);
    expect(e.op).toBe(op);
    return undefined;
  }
};
/** f must throw a ShapeError/ArgumentError naming `op`. */
const refusedBy = (op: string, f: () => unknown): void => {
  let r: unknown;
  expect(() => (r = resultOrNamedError(op, f))).not.toThrow();
  expect(r, `${op} accepted junk`).toBeUndefined();
};

const f64 = (shape: number[], start = 0) => A.reshape(arange(start, start + shape.reduce((p, d) => p * d, 1), 1, "float64"), shape);
const sizeOf = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

const JUNK: unknown[] = [undefined, null, "abc", "", true, {}, { shape: [2], dtype: "float32" }, [], [1, 2], [[1], [2, 3]], 3n, Symbol("s"), () => 1, new Int32Array(2), new Map(), new Date(0)];
const junkArb = fc.constantFrom(...JUNK);
const INDEX_JUNK: unknown[] = [undefined, null, "abc", true, {}, [[1], [2, 3]], [0.5], [-1], [NaN], [99], [Infinity], ["0"], 3n, Symbol("s"), () => 1, tensor([0.5])];

/** A public op with the tensor arguments it takes; `call` receives them in order. */
interface OpCase {
  name: string;
  args: number;
  call: (...xs: unknown[]) => unknown;
}
const x22 = () => f64([2, 2]);
const OPS: OpCase[] = [
  ...(["neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "square"] as const).map((n) => ({ name: n, args: 1, call: (x: unknown) => (A[n] as (t: unknown) => Tensor)(x) })),
  { name: "cast", args: 1, call: (x) => A.cast(x as Tensor, "float32") },
  ...(["add", "sub", "mul", "div", "pow", "maximum", "minimum", "greater", "greaterEqual", "less", "lessEqual", "equal"] as const).map((n) => ({
    name: n,
    args: 2,
    call: (a: unknown, b: unknown) => (A[n] as (a: unknown, b: unknown) => Tensor)(a, b),
  })),
  { name: "where", args: 3, call: (c, a, b) => A.where(c as Tensor, a as Tensor, b as Tensor) },
  { name: "clip", args: 3, call: (x, lo, hi) => A.clip(x as Tensor, lo as Tensor, hi as Tensor) },
  { name: "sum", args: 1, call: (x) => A.sum(x as Tensor) },
  { name: "mean", args: 1, call: (x) => A.mean(x as Tensor) },
  { name: "max", args: 1, call: (x) => A.max(x as Tensor) },
  { name: "logSumExp", args: 1, call: (x) => A.logSumExp(x as Tensor) },
  { name: "softmax", args: 1, call: (x) => A.softmax(x as Tensor) },
  { name: "logSoftmax", args: 1, call: (x) => A.logSoftmax(x as Tensor) },
  { name: "argmax", args: 1, call: (x) => A.argmax(x as Tensor) },
  { name: "broadcastTo", args: 1, call: (x) => A.broadcastTo(x as Tensor, [2, 2]) },
  { name: "reshape", args: 1, call: (x) => A.reshape(x as Tensor, [-1]) },
  { name: "transpose", args: 1, call: (x) => A.transpose(x as Tensor) },
  { name: "slice", args: 1, call: (x) => A.slice(x as Tensor, [0, 0], [1, 1]) },
  { name: "concat", args: 2, call: (a, b) => A.concat([a as Tensor, b as Tensor], 0) },
  { name: "stack", args: 2, call: (a, b) => A.stack([a as Tensor, b as Tensor], 0) },
  { name: "expandDims", args: 1, call: (x) => A.expandDims(x as Tensor, 0) },
  { name: "squeeze", args: 1, call: (x) => A.squeeze(x as Tensor) },
  { name: "gather", args: 1, call: (x) => A.gather(x as Tensor, [0], 0) },
  { name: "matmul", args: 2, call: (a, b) => A.matmul(a as Tensor, b as Tensor) },
];

describe("every public op fed non-tensor arguments", () => {
  it("refuses junk in any tensor position with an error that names the op", () => {
    const positions = OPS.flatMap((op) => Array.from({ length: op.args }, (_, i) => [op, i] as const));
    fc.assert(
      fc.property(fc.constantFrom(...positions), junkArb, ([op, pos], junk) => {
        tally("non-tensor arguments");
        const args: unknown[] = Array.from({ length: op.args }, () => x22());
        args[pos] = junk;
        refusedBy(op.name, () => op.call(...args));
      }),
      { numRuns: 400 },
    );
  });

  it("refuses junk indices to gather and oneHot, and accepts every integer index in range", () => {
    fc.assert(
      fc.property(fc.constantFrom(...INDEX_JUNK), (junk) => {
        tally("junk indices");
        refusedBy("gather", () => A.gather(f64([3, 2]), junk as number[], 0));
        refusedBy("oneHot", () => A.oneHot(junk as number[], 3));
      }),
      { numRuns: 50 },
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 5 }), (idx) => {
        tally("valid indices");
        const g = A.gather(f64([3, 2]), idx, 0);
        expect(g.shape).toEqual([idx.length, 2]);
        expect(g.toFlatArray()).toEqual(idx.flatMap((i) => [2 * i, 2 * i + 1]));
        expect(A.oneHot(idx, 3).toArray()).toEqual(idx.map((i) => [0, 1, 2].map((j) => (j === i ? 1 : 0))));
      }),
      { numRuns: 50 },
    );
  });

  it("refuses junk dtypes in every constructor and in cast and oneHot", () => {
    fc.assert(
      fc.property(fc.constantFrom<unknown>("int8", "float16", "Float32", "", null, 3, {}, "bfloat16"), (dt) => {
        tally("junk dtypes");
        const d = dt as DType;
        refusedBy("zeros", () => zeros([2], d));
        refusedBy("ones", () => ones([2], d));
        refusedBy("full", () => full([2], 1, d));
        refusedBy("eye", () => eye(2, 2, d));
        refusedBy("arange", () => arange(0, 3, 1, d));
        refusedBy("tensor", () => tensor([1, 2], { dtype: d }));
        refusedBy("cast", () => A.cast(x22(), d));
        refusedBy("oneHot", () => A.oneHot([0, 1], 2, d));
      }),
      { numRuns: 30 },
    );
  });

  it("refuses float32 mixed with float64 in every op with several tensor operands", () => {
    const multi = OPS.filter((op) => op.args > 1);
    fc.assert(
      fc.property(fc.constantFrom(...multi), fc.nat(), (op, which) => {
        tally("mixed dtypes");
        const args: unknown[] = Array.from({ length: op.args }, () => x22());
        args[which % op.args] = A.cast(x22(), "float32");
        if (op.name === "where" && which % op.args === 0) {
          // the condition is a mask: it is converted to the values' dtype, not refused
          expect((op.call(...args) as Tensor).dtype).toBe("float64");
          return;
        }
        refusedBy(op.name, () => op.call(...args));
      }),
      { numRuns: 100 },
    );
  });

  it("refuses non-functions in every transform", () => {
    for (const junk of JUNK.filter((j) => typeof j !== "function")) {
      tally("non-function transforms");
      refusedBy("grad", () => A.grad(junk as never)(x22()));
      refusedBy("valueAndGrad", () => A.valueAndGrad(junk as never)(x22()));
      refusedBy("vjp", () => A.vjp(junk as never, x22()));
      refusedBy("jvp", () => A.jvp(junk as never, [x22()], [x22()]));
      refusedBy("customVjp", () => A.customVjp(junk as never, () => []));
    }
  });
});

// ---- shapes --------------------------------------------------------------------------------------------

const BAD_DIMS = [-1, -0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, "2", null, undefined, true, [2], {}];
/** A shape with at least one bad entry among valid ones. */
const badShapeArb = fc
  .tuple(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 5 }), fc.constantFrom(...BAD_DIMS), fc.nat())
  .map(([good, bad, at]) => {
    const s: unknown[] = good.slice();
    s.splice(at % (good.length + 1), 0, bad);
    return s;
  });

describe("shape arguments full of junk", () => {
  it("refuses negative, fractional, NaN, infinite, huge and non-number dimensions in every op that takes a shape", () => {
    fc.assert(
      fc.property(fc.oneof(badShapeArb, fc.constantFrom<unknown>(null, undefined, 3, "2,2", { length: 2 })), (shape) => {
        tally("bad shapes");
        const s = shape as number[];
        refusedBy("zeros", () => zeros(s));
        refusedBy("ones", () => ones(s, "float64"));
        refusedBy("full", () => full(s, 2));
        if (s !== undefined) refusedBy("tensor", () => tensor([1], { shape: s })); // an absent shape means "infer it"
        refusedBy("broadcastTo", () => A.broadcastTo(f64([1]), s));
        // reshape gives -1 a meaning (infer this dimension) when it is the only one
        const r = resultOrNamedError("reshape", () => A.reshape(f64([0]), s));
        if (r !== undefined) expect(s.filter((d) => d === -1).length).toBe(1);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses junk sizes, bounds, steps and fill values in eye, arange and full", () => {
    const junkNumber = fc.constantFrom<unknown>(NaN, Infinity, -Infinity, -1, 1.5, "3", null, {}, [2], 2 ** 31);
    fc.assert(
      fc.property(junkNumber, fc.constantFrom(0, 1, 2), (j, at) => {
        tally("junk scalar arguments");
        const n = j as number;
        // eye(n, m): sizes must be non-negative integers within the limit
        refusedBy("eye", () => (at === 0 ? eye(n) : eye(2, n)));
        // arange(start, stop, step): finite numbers, a non-zero step (-1 and 1.5 are legal bounds and steps)
        const args = [0, 5, 1];
        args[at] = n;
        const r = resultOrNamedError("arange", () => arange(args[0]!, args[1]!, args[2]!));
        if (r !== undefined) {
          expect(typeof n === "number" && Number.isFinite(n)).toBe(true);
          const [a, b, st] = args as [number, number, number];
          expect(r.size).toBe(Math.max(0, Math.ceil((b - a) / st)));
          r.toFlatArray().forEach((v, i) => expect(v).toBe(Math.fround(a + i * st)));
        }
        // full(shape, value): any number is a legal value (NaN and ±Infinity included), anything else is refused
        const f = resultOrNamedError("full", () => full([2], n, "float64"));
        if (typeof n === "number") expect(f!.toFlatArray()).toEqual([n, n]);
        else expect(f).toBeUndefined();
      }),
      { numRuns: 60 },
    );
  });

  it("refuses any shape whose element count exceeds MAX_ELEMENTS before allocating it", () => {
    // dims whose product is over 2^32 (so an unchecked allocation would fail loudly) but each dim is legal
    const hugeArb = fc.tuple(fc.integer({ min: 2 ** 16 + 1, max: 2 ** 20 }), fc.integer({ min: 2 ** 16 + 1, max: 2 ** 20 }), fc.integer({ min: 1, max: 3 }));
    fc.assert(
      fc.property(hugeArb, ([a, b, c]) => {
        tally("over MAX_ELEMENTS");
        expect(a * b * c).toBeGreaterThan(MAX_ELEMENTS);
        refusedBy("zeros", () => zeros([a, b, c]));
        refusedBy("full", () => full([c, a, b], 1));
        refusedBy("eye", () => eye(a, b));
        refusedBy("arange", () => arange(0, a * b * c));
        refusedBy("tensor", () => tensor([], { shape: [a, b, c] }));
        refusedBy("broadcastTo", () => A.broadcastTo(zeros([1]), [a, b, c]));
        refusedBy("reshape", () => A.reshape(zeros([0]), [a, b, c]));
        const col = zeros([a, 1]), row = zeros([1, b]);
        refusedBy("add", () => A.add(col, row));
        refusedBy("mul", () => A.mul(row, col));
        refusedBy("where", () => A.where(col, row, 0));
        refusedBy("clip", () => A.clip(col, row, 1));
        refusedBy("matmul", () => A.matmul(col, row));
        refusedBy("matmul", () => A.matmul(zeros([a, 1, 1, 1]), zeros([b, 1, 1])));
        refusedBy("gather", () => A.gather(zeros([1, b]), new Int32Array(a), 0));
        refusedBy("oneHot", () => A.oneHot(new Int32Array(a), b));
      }),
      { numRuns: 20 },
    );
  });

  it("builds tensors from nested arrays exactly when they are rectangular arrays of numbers", () => {
    const leaf = fc.oneof(fc.double({ noNaN: false }), fc.constantFrom<unknown>("1", null, undefined, [], {}));
    const nested = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof({ depthSize: "small", maxDepth: 5 }, leaf, fc.array(tie("node"), { maxLength: 3 })),
    })).node;
    /** Independent oracle: the shape of a rectangular nested array of numbers, or null. */
    const shapeOf = (v: unknown): number[] | null => {
      if (typeof v === "number") return [];
      if (!Array.isArray(v)) return null;
      if (v.length === 0) return [0];
      const inner = v.map(shapeOf);
      if (inner.some((s) => s === null || JSON.stringify(s) !== JSON.stringify(inner[0]))) return null;
      return [v.length, ...inner[0]!];
    };
    fc.assert(
      fc.property(nested, (v) => {
        tally("nested arrays");
        const want = shapeOf(v);
        const t = resultOrNamedError("tensor", () => tensor(v as number[], { dtype: "float64" }));
        if (want === null) expect(t, `tensor accepted ${JSON.stringify(v)}`).toBeUndefined();
        else {
          expect(t).toBeDefined();
          expect(t!.shape).toEqual(want);
          expect(t!.toFlatArray()).toEqual(typeof v === "number" ? [v] : (v as unknown[]).flat(Infinity));
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ---- axes and boxes ------------------------------------------------------------------------------------

const axisArb = fc.oneof(fc.integer({ min: -7, max: 7 }), fc.constantFrom<unknown>(0.5, NaN, Infinity, "0", null, [0, 0], [], [-1, 0], [9]));
const shapeArb = (maxRank: number, maxDim = 3) => fc.array(fc.integer({ min: 0, max: maxDim }), { maxLength: maxRank });

/** Naive sum over `axes` by walking every element (the oracle for sum and mean). */
const sumRef = (x: Tensor, axes: number[], keep: boolean): { shape: number[]; values: number[] } => {
  const shape = x.shape.slice();
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Array<number>(sizeOf(outShape)).fill(0);
  const vals = x.toFlatArray();
  for (let f = 0; f < vals.length; f++) {
    let rem = f, o = 0, stride = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const c = rem % shape[d]!;
      rem = Math.floor(rem / shape[d]!);
      if (!axes.includes(d)) o += c * stride;
      stride *= outShape[d]!;
    }
    out[o]! += vals[f]!;
  }
  return { shape: keep ? outShape : shape.filter((_, i) => !axes.includes(i)), values: out };
};
const normalizeAxes = (axis: unknown, rank: number): number[] | null => {
  const list = typeof axis === "number" ? [axis] : Array.isArray(axis) ? axis : null;
  if (list === null) return null;
  const out: number[] = [];
  for (const a of list) {
    if (typeof a !== "number" || !Number.isInteger(a) || a < -rank || a >= rank) return null;
    const n = a < 0 ? a + rank : a;
    if (out.includes(n)) return null;
    out.push(n);
  }
  return out;
};

describe("axes full of junk", () => {
  it("sum, mean and max reduce the right axes of tensors of rank 0 to 6 (zero-size ones included) or name the op", () => {
    fc.assert(
      fc.property(shapeArb(6), axisArb, fc.boolean(), (shape, axis, keep) => {
        tally("reduction axes");
        const x = f64(shape, -3);
        const axes = normalizeAxes(axis, shape.length);
        const s = resultOrNamedError("sum", () => A.sum(x, axis as number, keep));
        const m = resultOrNamedError("mean", () => A.mean(x, axis as number, keep));
        const mx = resultOrNamedError("max", () => A.max(x, axis as number, keep));
        if (axes === null) return void expect([s, m, mx]).toEqual([undefined, undefined, undefined]);
        const ref = sumRef(x, axes, keep);
        expect(s!.shape).toEqual(ref.shape);
        expect(s!.toFlatArray()).toEqual(ref.values);
        const n = axes.reduce((p, a) => p * shape[a]!, 1);
        expect(m!.shape).toEqual(ref.shape);
        m!.toFlatArray().forEach((v, i) => (n === 0 ? expect(v).toBeNaN() : expect(v).toBeCloseTo(ref.values[i]! / n, 12)));
        // max over an empty axis has no value: refused; otherwise the shape matches
        if (axes.some((a) => shape[a] === 0)) expect(mx).toBeUndefined();
        else expect(mx!.shape).toEqual(ref.shape);
      }),
      { numRuns: 300 },
    );
  });

  it("softmax, logSoftmax and logSumExp accept exactly the valid single axes", () => {
    fc.assert(
      fc.property(shapeArb(5), axisArb, (shape, axis) => {
        tally("softmax axes");
        const x = f64(shape, -2);
        const ok = typeof axis === "number" && Number.isInteger(axis) && axis >= -shape.length && axis < shape.length;
        for (const [name, f] of [["softmax", A.softmax], ["logSoftmax", A.logSoftmax], ["logSumExp", A.logSumExp]] as const) {
          const y = resultOrNamedError(name, () => f(x, axis as number));
          if (!ok) expect(y, `${name} accepted axis ${String(axis)}`).toBeUndefined();
          else {
            expect(y).toBeDefined();
            const ax = (axis as number) < 0 ? (axis as number) + shape.length : (axis as number);
            expect(y!.shape).toEqual(name === "logSumExp" ? shape.filter((_, i) => i !== ax) : shape);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it("concat, stack, expandDims, squeeze, gather and transpose accept exactly the valid axes", () => {
    fc.assert(
      fc.property(shapeArb(4), axisArb, (shape, axis) => {
        tally("shape-op axes");
        const x = f64(shape);
        const r = shape.length;
        const valid = (lo: number, hi: number) => typeof axis === "number" && Number.isInteger(axis) && axis >= lo && axis < hi;
        const norm = (n: number) => ((axis as number) < 0 ? (axis as number) + n : (axis as number));
        const check = (name: string, ok: boolean, f: () => Tensor, shapeIfOk: () => number[]) => {
          const y = resultOrNamedError(name, f);
          if (!ok) expect(y, `${name} accepted axis ${String(axis)} for shape ${JSON.stringify(shape)}`).toBeUndefined();
          else expect(y!.shape).toEqual(shapeIfOk());
        };
        check("concat", r > 0 && valid(-r, r), () => A.concat([x, x], axis as number), () => shape.map((d, i) => (i === norm(r) ? 2 * d : d)));
        check("stack", valid(-r - 1, r + 1), () => A.stack([x, x], axis as number), () => {
          const s = shape.slice();
          s.splice(norm(r + 1), 0, 2);
          return s;
        });
        check("expandDims", valid(-r - 1, r + 1), () => A.expandDims(x, axis as number), () => {
          const s = shape.slice();
          s.splice(norm(r + 1), 0, 1);
          return s;
        });
        check("squeeze", valid(-r, r) && shape[norm(r)] === 1, () => A.squeeze(x, axis as number), () => shape.filter((_, i) => i !== norm(r)));
        check("gather", valid(-r, r) && shape[norm(r)]! > 0, () => A.gather(x, [0, 0], axis as number), () => shape.map((d, i) => (i === norm(r) ? 2 : d)));
        const perm = Array.from({ length: r }, (_, i) => i).reverse();
        if (r > 0) perm[0] = axis as number;
        const permOk = r === 0 || (valid(-r, r) && new Set(perm.map((p) => (p < 0 ? p + r : p))).size === r);
        check("transpose", permOk, () => A.transpose(x, perm), () => perm.map((p) => shape[p < 0 ? p + r : p]!));
      }),
      { numRuns: 200 },
    );
  });

  it("slice returns exactly the requested box or refuses a box that does not fit", () => {
    const entry = fc.oneof(fc.integer({ min: -2, max: 4 }), fc.constantFrom(0.5, NaN, Infinity));
    fc.assert(
      fc.property(shapeArb(3, 3), fc.array(entry, { maxLength: 4 }), fc.array(entry, { maxLength: 4 }), (shape, begin, size) => {
        tally("slice boxes");
        const x = f64(shape);
        const y = resultOrNamedError("slice", () => A.slice(x, begin, size));
        const r = shape.length;
        const ext = size.map((s, i) => (s === -1 ? shape[i]! - begin[i]! : s));
        const fits = begin.length === r && size.length === r && begin.every((b, i) => Number.isInteger(b) && b >= 0 && Number.isInteger(ext[i]) && ext[i]! >= 0 && b + ext[i]! <= shape[i]!);
        if (!fits) return void expect(y, `slice accepted begin ${JSON.stringify(begin)} size ${JSON.stringify(size)} of ${JSON.stringify(shape)}`).toBeUndefined();
        expect(y!.shape).toEqual(ext);
        // oracle: element at box index j equals x at begin + j
        const strides = shape.map((_, i) => sizeOf(shape.slice(i + 1)));
        const want: number[] = [];
        for (let f = 0; f < sizeOf(ext); f++) {
          let rem = f, src = 0;
          for (let d = r - 1; d >= 0; d--) {
            const c = rem % ext[d]!;
            rem = Math.floor(rem / ext[d]!);
            src += (begin[d]! + c) * strides[d]!;
          }
          want.push(src);
        }
        expect(y!.toFlatArray()).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- zero-size tensors forward and backward ------------------------------------------------------------

/** Ops run on a random (often zero-size) tensor of rank 0..6: the output shape they must give, and the op. */
interface ZeroCase {
  name: string;
  applies?: (s: number[]) => boolean;
  out: (s: number[]) => number[];
  run: (x: Tensor) => Tensor;
}
const ZERO_CASES: ZeroCase[] = [
  ...(["neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "square"] as const).map((n) => ({ name: n, out: (s: number[]) => s, run: (x: Tensor) => A[n](x) })),
  ...(["add", "sub", "mul", "div", "pow", "maximum", "minimum"] as const).map((n) => ({ name: n, out: (s: number[]) => s, run: (x: Tensor) => A[n](x, A.add(x, 1)) })),
  { name: "add (broadcast against [1])", out: (s) => (s.length ? s : [1]), run: (x) => A.add(x, tensor([1], { dtype: "float64" })) },
  { name: "cast", out: (s) => s, run: (x) => A.cast(A.cast(x, "float32"), "float64") },
  { name: "where", out: (s) => s, run: (x) => A.where(A.greater(x, 0), x, A.neg(x)) },
  { name: "clip", out: (s) => s, run: (x) => A.clip(x, -1, 1) },
  { name: "sum", out: () => [], run: (x) => A.sum(x) },
  { name: "sum (first axis, keepDims)", applies: (s) => s.length > 0, out: (s) => [1, ...s.slice(1)], run: (x) => A.sum(x, 0, true) },
  { name: "mean (last axis)", applies: (s) => s.length > 0, out: (s) => s.slice(0, -1), run: (x) => A.mean(x, -1) },
  { name: "max (axes of size > 0)", out: (s) => s.filter((d) => d === 0), run: (x) => A.max(x, x.shape.flatMap((d, i) => (d > 0 ? [i] : []))) },
  { name: "logSumExp", applies: (s) => s.length > 0, out: (s) => s.slice(0, -1), run: (x) => A.logSumExp(x) },
  { name: "softmax", applies: (s) => s.length > 0, out: (s) => s, run: (x) => A.softmax(x) },
  { name: "logSoftmax", applies: (s) => s.length > 0, out: (s) => s, run: (x) => A.logSoftmax(x, 0) },
  { name: "broadcastTo", out: (s) => [2, ...s], run: (x) => A.broadcastTo(x, [2, ...x.shape]) },
  { name: "reshape", out: (s) => [sizeOf(s)], run: (x) => A.reshape(x, [-1]) },
  { name: "transpose", out: (s) => s.slice().reverse(), run: (x) => A.transpose(x) },
  { name: "slice (all)", out: (s) => s, run: (x) => A.slice(x, x.shape.map(() => 0), x.shape.map(() => -1)) },
  { name: "slice (empty box)", applies: (s) => s.length > 0, out: (s) => [0, ...s.slice(1)], run: (x) => A.slice(x, x.shape.map(() => 0), x.shape.map((d, i) => (i === 0 ? 0 : d))) },
  { name: "concat", applies: (s) => s.length > 0, out: (s) => [2 * s[0]!, ...s.slice(1)], run: (x) => A.concat([x, x], 0) },
  { name: "stack", out: (s) => [...s, 2], run: (x) => A.stack([x, x], -1) },
  { name: "expandDims", out: (s) => [1, ...s], run: (x) => A.expandDims(x, 0) },
  { name: "squeeze", out: (s) => s.filter((d) => d !== 1), run: (x) => A.squeeze(x) },
  { name: "gather (no indices)", applies: (s) => s.length > 0, out: (s) => [0, ...s.slice(1)], run: (x) => A.gather(x, [], 0) },
  { name: "matmul (x @ xᵀ)", applies: (s) => s.length >= 2, out: (s) => [...s.slice(0, -1), s[s.length - 2]!], run: (x) => A.matmul(x, A.transpose(x, [...x.shape.keys()].map((i, _, a) => (i < a.length - 2 ? i : i === a.length - 2 ? a.length - 1 : a.length - 2)))) },
  { name: "matmul (contracting the empty axis)", applies: (s) => s.length >= 1, out: (s) => [...s.slice(0, -1), 3], run: (x) => A.matmul(x, f64([x.shape[x.shape.length - 1]!, 3])) },
];

describe("zero-size tensors", () => {
  const zeroShapeArb = fc
    .tuple(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 6 }), fc.nat(), fc.boolean())
    .map(([s, at, force]) => (force && s.length ? s.map((d, i) => (i === at % s.length ? 0 : d)) : s));

  it("flow forward and backward through every op, for ranks 0 to 6, with outputs and gradients of the right shapes", () => {
    fc.assert(
      fc.property(zeroShapeArb, fc.constantFrom(...ZERO_CASES), (shape, c) => {
        if (c.applies && !c.applies(shape)) return;
        tally("zero-size forward and backward");
        const x = A.add(f64(shape), 0.5); // positive values: log, sqrt and pow stay real
        const [y, pullback] = A.vjp(c.run, x);
        expect(y.shape, c.name).toEqual(c.out(shape));
        const [dx] = pullback(ones(y.shape, y.dtype)) as [Tensor];
        expect(dx.shape, c.name).toEqual(shape);
        // a gradient through the sum of the output: same shape, every entry finite
        const g = A.grad((t: Tensor) => A.sum(c.run(t)))(x) as Tensor;
        expect(g.shape).toEqual(shape);
        for (const v of g.toFlatArray()) expect(Number.isFinite(v), c.name).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("give the conventional values where an empty axis is reduced: sum 0, mean NaN, logSumExp -Infinity, zero gradients", () => {
    const e = zeros([3, 0], "float64");
    expect(A.sum(e, 1).toArray()).toEqual([0, 0, 0]);
    expect(A.mean(e, 1).toFlatArray().every(Number.isNaN)).toBe(true);
    expect(A.logSumExp(e).toArray()).toEqual([-Infinity, -Infinity, -Infinity]);
    expect(A.softmax(e).shape).toEqual([3, 0]);
    refusedBy("max", () => A.max(e, 1));
    refusedBy("argmax", () => A.argmax(e));
    expect(A.matmul(e, zeros([0, 2], "float64")).toArray()).toEqual([[0, 0], [0, 0], [0, 0]]);
    const [da, db] = A.grad((a: Tensor, b: Tensor) => A.sum(A.matmul(a, b)), { argnums: [0, 1] })(e, zeros([0, 2], "float64")) as Tensor[];
    expect(da!.shape).toEqual([3, 0]);
    expect(db!.shape).toEqual([0, 2]);
    expect((A.grad((a: Tensor) => A.sum(A.logSumExp(a)))(e) as Tensor).shape).toEqual([3, 0]);
  });

  it("with a huge dimension beside the zero do no work proportional to that dimension", () => {
    // [2^31-1, 0] holds no values; an op that looped over the first axis (or allocated per batch) would take
    // minutes or gigabytes, so finishing this test at all is the check
    const big = 2 ** 31 - 1;
    const z = zeros([big, 0], "float32");
    expect(A.concat([z, z], 1).shape).toEqual([big, 0]);
    expect(A.gather(z, [0, 0], 0).shape).toEqual([2, 0]);
    expect(A.gather(zeros([0, big], "float32"), [], 0).shape).toEqual([0, big]);
    expect(A.matmul(zeros([big, 0, 3], "float32"), zeros([3, 4], "float32")).shape).toEqual([big, 0, 4]);
    expect(A.transpose(z).shape).toEqual([0, big]);
    const g = A.grad((t: Tensor) => A.sum(A.concat([A.gather(t, [1, 0], 0), t], 0)))(zeros([2, 0, big], "float32")) as Tensor;
    expect(g.shape).toEqual([2, 0, big]);
  });
});
