import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { MAX_ELEMENTS, broadcastShapes, describe as describeValue, normAxes, normAxis, orThrow, sizeOf, stridesOf, validateShape } from "../../core/shape.js";
import { ShapeError } from "../../core/errors.js";
import { tensor } from "../../core/tensor.js";
import { add, where } from "../../autograd/index.js";

const right = <A>(e: E.Either<Error, A>): A => {
  if (E.isLeft(e)) throw new Error(`expected Right, got Left: ${e.left.message}`);
  return e.right;
};
const left = <A>(e: E.Either<ShapeError, A>): ShapeError => {
  if (E.isRight(e)) throw new Error(`expected Left, got Right: ${JSON.stringify(e.right)}`);
  return e.left;
};

describe("broadcastShapes", () => {
  // Each expected shape is what numpy.broadcast_shapes(a, b) returns (NumPy broadcasting docs and hand-checked).
  const cases: [number[], number[], number[]][] = [
    [[], [], []],
    [[3], [], [3]],
    [[], [2, 3], [2, 3]],
    [[2, 1], [3], [2, 3]],
    [[8, 1, 6, 1], [7, 1, 5], [8, 7, 6, 5]],
    [[5, 4], [1], [5, 4]],
    [[5, 4], [4], [5, 4]],
    [[15, 3, 5], [15, 1, 5], [15, 3, 5]],
    [[15, 3, 5], [3, 5], [15, 3, 5]],
    [[15, 3, 5], [3, 1], [15, 3, 5]],
    [[256, 256, 3], [3], [256, 256, 3]],
    [[0], [1], [0]],
    [[0], [], [0]],
    [[2, 0], [1, 1], [2, 0]],
    [[1, 1, 1], [4], [1, 1, 4]],
  ];
  for (const [a, b, out] of cases)
    it(`broadcasts ${JSON.stringify(a)} with ${JSON.stringify(b)} to ${JSON.stringify(out)} as NumPy does`, () => {
      expect(right(broadcastShapes("add", a, b))).toEqual(out);
      expect(right(broadcastShapes("add", b, a))).toEqual(out);
    });

  it("refuses incompatible shapes with an error naming the op, both shapes, which argument and the dimension", () => {
    const e = left(broadcastShapes("mul", [2, 1], [8, 4, 3]));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.op).toBe("mul");
    expect(e.shapes).toEqual([[2, 1], [8, 4, 3]]);
    expect(e.message).toBe("mul: shapes [2,1] (argument a) and [8,4,3] (argument b) cannot be broadcast: dimension 1 is 2 vs 4");
    expect(left(broadcastShapes("add", [3], [4])).message).toMatch(/\[3\] \(argument a\) and \[4\] \(argument b\)/);
    expect(left(broadcastShapes("add", [0], [2])).message).toMatch(/dimension 0 is 0 vs 2/);
  });

  it("reports the same error when an op is called on tensors of those shapes", () => {
    expect(() => add(tensor([1, 2, 3]), tensor([1, 2, 3, 4]))).toThrow(ShapeError);
    expect(() => add(tensor([1, 2, 3]), tensor([1, 2, 3, 4]))).toThrow("add: shapes [3] (argument a) and [4] (argument b) cannot be broadcast");
    expect(() => where(tensor([1, 0]), tensor([1, 2, 3]), 0)).toThrow(/^where: /);
  });

  it("agrees with the rule 'align right; each pair equal or one of them 1' on random shapes", () => {
    const dim = fc.integer({ min: 0, max: 4 });
    const shape = fc.array(dim, { maxLength: 4 });
    fc.assert(
      fc.property(shape, shape, (a, b) => {
        const n = Math.max(a.length, b.length);
        const pa = [...new Array(n - a.length).fill(1), ...a];
        const pb = [...new Array(n - b.length).fill(1), ...b];
        const ok = pa.every((d, i) => d === pb[i] || d === 1 || pb[i] === 1);
        const r = broadcastShapes("op", a, b);
        expect(E.isRight(r)).toBe(ok);
        if (E.isRight(r)) expect(r.right).toEqual(pa.map((d, i) => (d === 1 ? pb[i] : d)));
      }),
      { numRuns: 100, seed: 20240607 },
    );
  });
});

describe("validateShape", () => {
  it("accepts arrays of non-negative integers and returns a copy", () => {
    const s = [2, 0, 3];
    const v = right(validateShape("zeros", s));
    expect(v).toEqual([2, 0, 3]);
    expect(v).not.toBe(s);
    expect(right(validateShape("zeros", []))).toEqual([]);
  });

  it("names the op, the argument and the bad entry", () => {
    expect(left(validateShape("zeros", [2, -1])).message).toBe("zeros: shape[1] must be a non-negative integer, got -1 in [2,-1]");
    expect(left(validateShape("ones", [1.5])).message).toMatch(/^ones: shape\[0\] must be a non-negative integer, got 1.5/);
    expect(left(validateShape("full", [NaN])).message).toMatch(/shape\[0\] must be a non-negative integer, got NaN/);
    expect(left(validateShape("full", ["3"])).message).toMatch(/shape\[0\] .* got the string "3"/);
    expect(left(validateShape("reshape", 3, "newShape")).message).toBe("reshape: newShape must be an array of non-negative integers, got 3");
  });

  it("refuses shapes with more than MAX_ELEMENTS elements before allocating", () => {
    const e = left(validateShape("zeros", [65536, 65536]));
    expect(e.message).toMatch(/has 4294967296 elements, over the limit of 2147483647/);
    expect(MAX_ELEMENTS).toBe(2 ** 31 - 1);
  });

  it("refuses a dimension over MAX_ELEMENTS even when another dimension is 0", () => {
    // [0, 2^60] has no elements, but its strides and any later reshape would overflow
    expect(left(validateShape("zeros", [0, 2 ** 60])).message).toMatch(/zeros: shape\[1\] .*at most 2147483647/);
    expect(E.isRight(validateShape("zeros", [0, MAX_ELEMENTS]))).toBe(true);
  });
});

describe("axes", () => {
  it("normalises negative axes and refuses out-of-range ones naming the rank and shape", () => {
    expect(right(normAxis("sum", -1, 3))).toBe(2);
    expect(right(normAxis("sum", 0, 3))).toBe(0);
    expect(left(normAxis("sum", 3, 3, [2, 3, 4])).message).toBe("sum: axis 3 is out of range for a tensor of rank 3 (shape [2,3,4])");
    expect(left(normAxis("sum", -4, 3, [2, 3, 4]))).toBeInstanceOf(ShapeError);
    expect(left(normAxis("sum", 0.5, 3, [2, 3, 4]))).toBeInstanceOf(ShapeError);
  });

  it("lists all axes when none are given, sorts the rest, and refuses repeats", () => {
    expect(right(normAxes("sum", undefined, [2, 3, 4]))).toEqual([0, 1, 2]);
    expect(right(normAxes("sum", [-1, 0], [2, 3, 4]))).toEqual([0, 2]);
    expect(right(normAxes("sum", 1, [2, 3, 4]))).toEqual([1]);
    expect(left(normAxes("sum", [2, -1], [2, 3, 4])).message).toMatch(/sum: axis -1 is repeated in \[2,-1\]/);
  });
});

describe("sizes and strides", () => {
  it("counts elements and row-major strides", () => {
    expect(sizeOf([2, 3, 4])).toBe(24);
    expect(sizeOf([])).toBe(1);
    expect(sizeOf([3, 0])).toBe(0);
    expect(stridesOf([2, 3, 4])).toEqual([12, 4, 1]);
    expect(stridesOf([])).toEqual([]);
    expect(stridesOf([5])).toEqual([1]);
  });

  it("throws the Left of a rule and returns the Right", () => {
    expect(orThrow(E.right(3))).toBe(3);
    expect(() => orThrow(broadcastShapes("add", [2], [3]))).toThrow(ShapeError);
  });

  it("describes bad values briefly for error messages", () => {
    expect(describeValue(null)).toBe("null");
    expect(describeValue([1, 2])).toBe("an array of length 2");
    expect(describeValue("a".repeat(30))).toBe(`the string "${"a".repeat(20)}…"`);
    expect(describeValue(new Map())).toBe("an object (Map)");
    expect(describeValue(undefined)).toBe("undefined");
  });
});
