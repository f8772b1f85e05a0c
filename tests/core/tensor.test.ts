import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  SCRATCH_MAX_BYTES, SCRATCH_SLAB_BYTES, Tensor, allocData, arange, copyData, eye, full, isTensor, ones, tensor, withScratchBuffers, zeros,
  type NestedArray,
} from "../../core/tensor.js";
import { ArgumentError, ShapeError } from "../../core/errors.js";

describe("tensor()", () => {
  it("infers shape and float32 from nested number arrays", () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("float32");
    expect(t.size).toBe(6);
    expect(t.rank).toBe(2);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
  });

  it("makes a rank-0 tensor from a number and keeps empty dimensions", () => {
    const s = tensor(2.5);
    expect(s.shape).toEqual([]);
    expect(s.toArray()).toBe(2.5);
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([[], []]).shape).toEqual([2, 0]);
    expect(tensor([[], []]).toArray()).toEqual([[], []]);
  });

  it("takes float64 from a Float64Array and float32 from a Float32Array unless told otherwise", () => {
    expect(tensor(new Float64Array([1, 2])).dtype).toBe("float64");
    expect(tensor(new Float32Array([1, 2])).dtype).toBe("float32");
    expect(tensor(new Float64Array([0.1]), { dtype: "float32" }).toFlatArray()).toEqual([Math.fround(0.1)]);
    expect(tensor([0.1], { dtype: "float64" }).toFlatArray()).toEqual([0.1]);
  });

  it("rounds float32 values to float32 and keeps float64 ones exact", () => {
    expect(tensor([0.1]).item()).toBe(Math.fround(0.1));
    expect(tensor(0.1, { dtype: "float64" }).item()).toBe(0.1);
  });

  it("asks for a dtype when given an integer typed array", () => {
    const f = () => tensor(new Int32Array([1, 2]));
    expect(f).toThrow(ArgumentError);
    expect(f).toThrow(/tensor: values is an Int32Array; .*tensor\(values, \{ dtype: 'float32' \}\)/);
    expect(tensor(new Int32Array([1, 2]), { dtype: "float64" }).toFlatArray()).toEqual([1, 2]);
    expect(tensor(new Uint8Array([255]), { dtype: "float32" }).item()).toBe(255);
  });

  it("copies another tensor, optionally converting its dtype, into a new identity", () => {
    const a = tensor([1.5, 2.5], { dtype: "float64" });
    const b = tensor(a);
    expect(b).not.toBe(a);
    expect(b.id).not.toBe(a.id);
    expect(b.dtype).toBe("float64");
    expect(b.toFlatArray()).toEqual([1.5, 2.5]);
    expect(tensor(a, { dtype: "float32" }).dtype).toBe("float32");
  });

  it("reshapes with the shape option and refuses a shape that holds a different count", () => {
    expect(tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] }).toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor(7, { shape: [1, 1] }).toArray()).toEqual([[7]]);
    const f = () => tensor([1, 2, 3], { shape: [2, 2] });
    expect(f).toThrow(ShapeError);
    expect(f).toThrow("tensor: shape [2,2] holds 4 values but 3 were given");
    expect(() => tensor([1, 2], { shape: [2, -1] })).toThrow(/tensor: shape\[1\] must be a non-negative integer/);
  });

  it("names the path of a ragged row", () => {
    const f = () => tensor([[1, 2], [3]]);
    expect(f).toThrow(ShapeError);
    expect(f).toThrow("tensor: ragged nested arrays: values[1] is an array of length 1 but its siblings have length 2");
    expect(() => tensor([[[1], [2]], [[3], 4]] as NestedArray)).toThrow(/values\[1\]\[1\] is 4 but its siblings have length 1/);
  });

  it("names the path of a leaf that is not a number", () => {
    expect(() => tensor([[1, 2], [3, "a"]] as unknown as NestedArray)).toThrow('tensor: values[1][1] must be a number, got the string "a"');
    expect(() => tensor([true] as unknown as NestedArray)).toThrow("tensor: values[0] must be a number, got boolean");
    // eslint-disable-next-line no-sparse-arrays
    expect(() => tensor([1, , 3] as unknown as NestedArray)).toThrow("tensor: values[1] must be a number, got undefined");
    expect(() => tensor([1, [2]] as unknown as NestedArray)).toThrow("tensor: values[1] must be a number, got an array of length 1");
    expect(() => tensor([null] as unknown as NestedArray)).toThrow(ArgumentError);
  });

  it("refuses values, dtypes and options of the wrong kind, naming which", () => {
    expect(() => tensor("abc" as unknown as NestedArray)).toThrow(/^tensor: values must be a number, nested arrays of numbers/);
    expect(() => tensor({} as unknown as NestedArray)).toThrow(ArgumentError);
    expect(() => tensor([1], { dtype: "int32" as never })).toThrow("tensor: dtype must be 'float32' or 'float64', got the string \"int32\"");
    expect(() => tensor([1], null as never)).toThrow(/tensor: options must be an object/);
  });

  it("refuses a bare shape where the options go, and misspelt options, instead of ignoring them", () => {
    // TensorFlow.js's tf.tensor(values, shape): taken as options, the shape would be dropped and the tensor 1-D
    const flat = new Float32Array(6);
    expect(() => tensor(flat, [2, 3] as never)).toThrow("tensor: options must be an object like { shape: [2, 3], dtype: 'float32' }, got an array of length 2");
    expect(() => tensor(flat, { shap: [2, 3] } as never)).toThrow('tensor: options has an unknown key "shap"; known: dtype, shape');
    expect(tensor(flat, { shape: [2, 3] }).shape).toEqual([2, 3]);
    expect(tensor(flat, { shape: [2, 3], dtype: undefined }).dtype).toBe("float32");
  });

  it("survives very deep nesting without overflowing the stack", () => {
    let v: NestedArray = 1;
    for (let i = 0; i < 20_000; i++) v = [v];
    expect(tensor(v).size).toBe(1);
  });
});

describe("copies: no outside reference can change a tensor", () => {
  it("ignores later changes to the nested array it was built from", () => {
    const src = [[1, 2], [3, 4]];
    const t = tensor(src);
    src[0]![0] = 99;
    src[1] = [7, 7];
    expect(t.toArray()).toEqual([[1, 2], [3, 4]]);
  });

  it("ignores later changes to the typed array or shape array it was built from", () => {
    const src = new Float64Array([1, 2, 3, 4]);
    const shape = [2, 2];
    const t = tensor(src, { shape });
    src[0] = 99;
    shape[0] = 4;
    expect(t.toFlatArray()).toEqual([1, 2, 3, 4]);
    expect(t.shape).toEqual([2, 2]);
  });

  it("hands out fresh copies from toArray, toTypedArray and toFlatArray", () => {
    const t = tensor([[1, 2], [3, 4]]);
    const nested = t.toArray() as number[][];
    nested[0]![0] = 99;
    const typed = t.toTypedArray();
    typed[1] = 99;
    const flat = t.toFlatArray();
    flat[2] = 99;
    expect(t.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(t.toTypedArray()).not.toBe(t.toTypedArray());
  });

  it("keeps the shape frozen", () => {
    const t = zeros([2, 3]);
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect(() => (t.shape as number[]).push(4)).toThrow(TypeError);
    expect(t.shape).toEqual([2, 3]);
  });

  it("round-trips any nested array through tensor and toArray (float64, fast-check)", () => {
    const nested = fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 }))
      .chain(([a, b, c]) =>
        fc.array(fc.array(fc.array(fc.double({ noNaN: true }), { minLength: c, maxLength: c }), { minLength: b, maxLength: b }), {
          minLength: a,
          maxLength: a,
        }),
      );
    fc.assert(
      fc.property(nested, (v) => {
        const t = tensor(v, { dtype: "float64" });
        expect(t.toArray()).toEqual(v);
        expect(tensor(t.toTypedArray(), { shape: t.shape }).toArray()).toEqual(v);
      }),
      { numRuns: 60, seed: 4242 },
    );
  });
});

describe("constructors", () => {
  it("fills zeros, ones and full in the asked dtype", () => {
    expect(zeros([2, 2]).toArray()).toEqual([[0, 0], [0, 0]]);
    expect(ones([3], "float64").dtype).toBe("float64");
    expect(ones([3]).toFlatArray()).toEqual([1, 1, 1]);
    expect(full([2], -1.5).toFlatArray()).toEqual([-1.5, -1.5]);
    expect(zeros([]).shape).toEqual([]);
    expect(zeros([2, 0, 3]).toArray()).toEqual([[], []]);
  });

  it("refuses bad shapes, dtypes and fill values, naming the op", () => {
    expect(() => zeros([2, -1])).toThrow(/^zeros: shape\[1\] must be a non-negative integer/);
    expect(() => ones([1.5])).toThrow(ShapeError);
    expect(() => full([2], "x" as never)).toThrow('full: value must be a number, got the string "x"');
    expect(() => zeros([2], "int8" as never)).toThrow(/^zeros: dtype must be 'float32' or 'float64'/);
    expect(() => zeros(3 as never)).toThrow(/zeros: shape must be an array/);
  });

  it("builds rectangular identities", () => {
    expect(eye(2).toArray()).toEqual([[1, 0], [0, 1]]);
    expect(eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(eye(3, 1, "float64").toArray()).toEqual([[1], [0], [0]]);
  });

  it("counts with arange like NumPy, including negative steps and fractions", () => {
    expect(arange(5).toFlatArray()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(1, 2, 0.25).toFlatArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(arange(5, 0, -2).toFlatArray()).toEqual([5, 3, 1]);
    expect(arange(3, 1).size).toBe(0);
    expect(() => arange(0, 1, 0)).toThrow("arange: step must not be 0");
    expect(() => arange(0, Infinity)).toThrow(/arange: stop must be a finite number/);
  });

  it("gives every tensor its own id and recognises tensors", () => {
    const a = zeros([1]), b = zeros([1]);
    expect(a.id).not.toBe(b.id);
    expect(isTensor(a)).toBe(true);
    expect(isTensor({ shape: [1], dtype: "float32" })).toBe(false);
    expect(a).toBeInstanceOf(Tensor);
  });
});

describe("item()", () => {
  it("reads the single value of any one-element tensor", () => {
    expect(tensor(3).item()).toBe(3);
    expect(tensor([[[4]]]).item()).toBe(4);
  });

  it("names the shape when the tensor does not have exactly one element", () => {
    const f = () => tensor([[1, 2, 3]]).item();
    expect(f).toThrow(ShapeError);
    expect(f).toThrow("item: needs a tensor with exactly one element, got shape [1,3]");
    expect(() => zeros([0]).item()).toThrow(/got shape \[0\]/);
  });

  it("prints shape, dtype and values", () => {
    expect(tensor([1, 2]).toString()).toBe("Tensor([2], float32, [1,2])");
    expect(zeros([100]).toString()).toBe("Tensor([100], float32, 100 values)");
  });

  it("prints NaN and infinities as themselves, not as null", () => {
    expect(tensor([[NaN, Infinity], [-Infinity, 1]]).toString()).toBe("Tensor([2,2], float32, [[NaN,Infinity],[-Infinity,1]])");
    expect(tensor(NaN).toString()).toBe("Tensor([], float32, NaN)");
  });
});

describe("scratch buffers (withScratchBuffers)", () => {
  const bytes = (d: Float32Array | Float64Array) => [d.byteOffset, d.byteOffset + d.byteLength] as const;

  it("carves small buffers from one shared, zeroed slab, apart and 16-byte aligned", () => {
    const ds = withScratchBuffers(() => [allocData("float64", 80), allocData("float32", 17), allocData("float64", 33), allocData("float32", 1000)]);
    expect(new Set(ds.map((d) => d.buffer)).size).toBe(1);
    ds.forEach((d, i) => {
      expect(d.every((v) => v === 0)).toBe(true);
      expect(d.byteOffset % 16).toBe(0);
      for (let j = 0; j < i; j++) {
        const [a0, a1] = bytes(d), [b0, b1] = bytes(ds[j]!);
        expect(a1 <= b0 || b1 <= a0, `buffers ${j} and ${i} overlap`).toBe(true);
      }
    });
    expect(ds[1]!.length).toBe(17);
    expect(ds[1]).toBeInstanceOf(Float32Array);
  });

  it("never hands out a written byte again: buffers carved after others were filled start at zero", () => {
    const later = withScratchBuffers(() => {
      for (let i = 0; i < 200; i++) allocData("float64", 100).fill(7); // 160 KB written, then dropped
      return Array.from({ length: 200 }, () => allocData("float64", 100));
    });
    expect(later.every((d) => d.every((v) => v === 0))).toBe(true);
  });

  it("gives tiny, large and out-of-scope buffers their own memory", () => {
    const [tiny, large] = withScratchBuffers(() => [allocData("float64", 8), allocData("float32", SCRATCH_MAX_BYTES / 4 + 1)]);
    expect(tiny!.buffer.byteLength).toBe(64);
    expect(large!.buffer.byteLength).toBe(SCRATCH_MAX_BYTES + 4);
    const outside = allocData("float64", 100);
    expect(outside.byteOffset).toBe(0);
    expect(outside.buffer.byteLength).toBe(800);
  });

  it("copies into a scratch buffer inside the scope and into an own one outside it", () => {
    const src = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    const [a, b] = withScratchBuffers(() => [copyData(src), allocData("float32", 20)]);
    expect(Array.from(a!)).toEqual(Array.from(src));
    expect(a!.buffer).toBe(b!.buffer);
    const c = copyData(src);
    expect(c.buffer.byteLength).toBe(80);
    expect(c).not.toBe(src);
  });

  it("copies large arrays bit for bit into a buffer of their own (the path that skips zeroing it in Node)", () => {
    for (const n of [8192, 8193, 100_003]) {
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = (Math.imul(i + 1, 2654435761) >>> 0) | 0x7f800001 * (i % 7 === 0 ? 1 : 0); // NaN payloads too
      const src32 = new Float32Array(bits.buffer);
      const src64 = new Float64Array(n).map((_, i) => (i % 5 === 0 ? -0 : i / 3));
      for (const src of [src32, src64]) {
        // a dirty heap first, so that an unzeroed buffer would show what it held if the copy missed a byte
        for (let k = 0; k < 4; k++) new Uint8Array(src.byteLength).fill(0xa5);
        const c = copyData(src);
        expect(c.constructor).toBe(src.constructor);
        expect(c.byteOffset).toBe(0);
        expect(c.buffer.byteLength).toBe(src.byteLength);
        expect(c.buffer).not.toBe(src.buffer);
        const got = new Uint8Array(c.buffer), want = new Uint8Array(src.buffer);
        expect(got.findIndex((v, i) => v !== want[i])).toBe(-1);
      }
    }
  });

  it("ends the scope when f throws, and nests", () => {
    expect(() => withScratchBuffers(() => { throw new Error("boom"); })).toThrow("boom");
    expect(allocData("float64", 100).byteOffset).toBe(0);
    expect(allocData("float64", 100).buffer.byteLength).toBe(800);
    const inner = withScratchBuffers(() => withScratchBuffers(() => allocData("float64", 100)));
    const after = withScratchBuffers(() => {
      withScratchBuffers(() => undefined);
      return allocData("float64", 100); // still inside the outer scope
    });
    expect(inner.buffer.byteLength).toBe(SCRATCH_SLAB_BYTES);
    expect(after.buffer.byteLength).toBe(SCRATCH_SLAB_BYTES);
    expect(allocData("float64", 100).buffer.byteLength).toBe(800);
  });

  it("keeps tensors made in the scope correct: ops on them agree with the same ops outside", () => {
    const x = [[0.5, -1.25, 2], [3, 0.125, -4]];
    const run = () => {
      const t = tensor(Array.from({ length: 40 }, (_, i) => x[i % 2]![i % 3]! * (i + 1)), { dtype: "float64", shape: [5, 8] });
      return t.toFlatArray().map((v, i) => v * (i % 7));
    };
    expect(withScratchBuffers(run)).toEqual(run());
  });
});
