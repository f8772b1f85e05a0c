/** Shape primitives: reshape, transpose, slice/pad, concat, gather/scatterAdd; and stack, oneHot built on them. */
import * as K from "../../core/kernels.js";
import { ArgumentError, ShapeError, fmtShape } from "../../core/errors.js";
import { MAX_ELEMENTS, describe, normAxis, orThrow, sizeOf, validateShape, type Shape } from "../../core/shape.js";
import { dataOf, fromData, isTensor, allocData, type DType, type Tensor } from "../../core/tensor.js";
import { PadSum, bind, sameDType } from "../tape.js";
import type { RuleTable } from "./table.js";
import { expectTensor } from "./operand.js";

export const shapeRules: Pick<RuleTable, "reshape" | "transpose" | "slice" | "pad" | "padSum" | "concat" | "gather" | "scatterAdd"> = {
  // reshape only relabels: d = reshape(dy, x.shape)
  reshape: {
    name: "reshape",
    forward: ([x], { shape }) => fromData(dataOf(x!), shape, x!.dtype),
    vjp: (dy, [x]) => [reshape(dy, x!.shape)],
  },
  // d transpose(x, p) = transpose(dy, p⁻¹)
  transpose: {
    name: "transpose",
    forward: ([x], { perm }) => fromData(K.transpose(dataOf(x!), x!.shape, perm, x!.dtype), perm.map((p) => x!.shape[p]!), x!.dtype),
    vjp: (dy, _x, _y, { perm }) => {
      const inv = new Array<number>(perm.length);
      perm.forEach((p, i) => (inv[p] = i));
      return [transpose(dy, inv)];
    },
  },
  // d slice(x) = dy placed back into zeros of x.shape
  slice: {
    name: "slice",
    forward: ([x], { begin, size }) => fromData(K.slice(dataOf(x!), x!.shape, begin, size, x!.dtype), size, x!.dtype),
    // deferred: the backward loop sums every slice's block of one tensor into one buffer (padSum)
    vjp: (dy, [x], _y, { begin }) => [new PadSum(dy, begin, x!.shape)],
  },
  // padSum(xs) = Σ_i pad(x_i at begins[i]) into zeros of `shape`: d x_i = slice(dy at begins[i], x_i.shape)
  padSum: {
    name: "padSum",
    forward: (xs, { begins, shape }) => {
      const dt = xs[0]!.dtype, y = allocData(dt, sizeOf(shape));
      xs.forEach((x, i) => K.padAddInto(y, dataOf(x), x.shape, shape, begins[i]!));
      return fromData(y, shape, dt);
    },
    vjp: (dy, xs, _y, { begins }, needs) => xs.map((x, i) => (needs[i] ? slice(dy, begins[i]!, x.shape) : null)),
  },
  // pad is slice's transpose: d = slice(dy)
  pad: {
    name: "pad",
    forward: ([x], { begin, shape }) => fromData(K.pad(dataOf(x!), x!.shape, shape, begin, x!.dtype), shape, x!.dtype),
    vjp: (dy, [x], _y, { begin }) => [bind(shapeRules.slice, [dy], { begin, size: x!.shape })],
  },
  // d concat(xs) = the matching slices of dy
  concat: {
    name: "concat",
    forward: (xs, { axis }) => {
      const shape = xs[0]!.shape.slice();
      shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
      return fromData(K.concat(xs.map(dataOf), xs.map((x) => x.shape), axis, shape, xs[0]!.dtype), shape, xs[0]!.dtype);
    },
    vjp: (dy, xs, _y, { axis }, needs) => {
      let off = 0;
      return xs.map((x, i) => {
        const begin = dy.shape.map((_, d) => (d === axis ? off : 0));
        off += x.shape[axis]!;
        return needs[i] ? bind(shapeRules.slice, [dy], { begin, size: x.shape }) : null;
      });
    },
  },
  // d gather(x, idx) = scatter-add of dy into zeros at idx (repeated indices add up)
  gather: {
    name: "gather",
    forward: ([x], { axis, indices, indicesShape }) => {
      const shape = [...x!.shape.slice(0, axis), ...indicesShape, ...x!.shape.slice(axis + 1)];
      return fromData(K.gather(dataOf(x!), x!.shape, indices, axis, x!.dtype), shape, x!.dtype);
    },
    vjp: (dy, [x], _y, { axis, indices }) => [bind(shapeRules.scatterAdd, [dy], { axis, indices, shape: x!.shape })],
  },
  // scatterAdd is gather's transpose: d = gather(dy, idx)
  scatterAdd: {
    name: "scatterAdd",
    forward: ([dy], { axis, indices, shape }) => fromData(K.scatterAdd(dataOf(dy!), shape, indices, axis, dy!.dtype), shape, dy!.dtype),
    vjp: (g, [dy], _y, { axis, indices }) => [reshape(bind(shapeRules.gather, [g], { axis, indices, indicesShape: [indices.length] }), dy!.shape)],
  },
};

/** `reshape(x, shape)`: same values, new shape; one entry may be -1 (inferred). */
export const reshape = (x: Tensor, shape: readonly number[]): Tensor => {
  expectTensor("reshape", "x", x);
  if (!Array.isArray(shape)) throw new ShapeError("reshape", [x.shape], `shape must be an array, got ${describe(shape)}`);
  const s = shape.slice();
  const free = s.indexOf(-1);
  if (free >= 0 && s.indexOf(-1, free + 1) < 0) {
    const rest = s.reduce((p, d, i) => (i === free ? p : p * d), 1);
    if (rest === 0 || x.size % rest !== 0)
      throw new ShapeError("reshape", [x.shape, s], `cannot infer the -1 in ${JSON.stringify(s)} for ${x.size} elements (shape ${fmtShape(x.shape)})`);
    s[free] = x.size / rest;
  }
  const v = orThrow(validateShape("reshape", s));
  if (sizeOf(v) !== x.size)
    throw new ShapeError("reshape", [x.shape, v], `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(v)} (${sizeOf(v)} elements)`);
  if (v.length === x.shape.length && v.every((d, i) => d === x.shape[i])) return x;
  return bind(shapeRules.reshape, [x], { shape: v });
};

/** `transpose(x, perm?)`: permutes axes (reverses them when `perm` is omitted). */
export const transpose = (x: Tensor, perm?: readonly number[]): Tensor => {
  expectTensor("transpose", "x", x);
  const r = x.shape.length;
  if (perm !== undefined && !Array.isArray(perm)) throw new ShapeError("transpose", [x.shape], `perm must be an array of axes, got ${describe(perm)}`);
  const p = perm === undefined ? Array.from({ length: r }, (_, i) => r - 1 - i) : perm.map((a) => orThrow(normAxis("transpose", a, r, x.shape)));
  if (p.length !== r || new Set(p).size !== r)
    throw new ShapeError("transpose", [x.shape], `perm ${JSON.stringify(perm)} is not a permutation of the ${r} axes of ${fmtShape(x.shape)}`);
  if (p.every((a, i) => a === i)) return x;
  return bind(shapeRules.transpose, [x], { perm: p });
};

/** `slice(x, begin, size)`: the box starting at `begin`; a size of -1 runs to the end of that axis. */
/** `padSum(xs, begins, shape)`: each `xs[i]` placed at `begins[i]` in zeros of `shape`, summed (one buffer, one tape entry). */
export const padSum = (xs: readonly Tensor[], begins: readonly (readonly number[])[], shape: readonly number[]): Tensor => {
  if (xs.length === 0 || xs.length !== begins.length) throw new ShapeError("padSum", [shape], `needs one begin per term (at least one term), got ${xs.length} terms and ${begins.length} begins`);
  xs.forEach((x, i) => {
    const b = begins[i]!;
    if (x.shape.length !== shape.length || b.length !== shape.length || x.shape.some((d, k) => !(b[k]! >= 0 && b[k]! + d <= shape[k]!)))
      throw new ShapeError("padSum", [x.shape, shape], `term ${i} of shape ${fmtShape(x.shape)} at ${JSON.stringify(b)} does not fit in ${fmtShape(shape)}`);
  });
  sameDType("padSum", xs.map((_, i) => `xs[${i}]`), xs);
  return bind(shapeRules.padSum, xs, { begins, shape });
};

export const slice = (x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor => {
  expectTensor("slice", "x", x);
  const r = x.shape.length;
  if (!Array.isArray(begin) || begin.length !== r)
    throw new ShapeError("slice", [x.shape], `begin must list one start per axis (${r}), got ${JSON.stringify(begin)}`);
  if (size !== undefined && !Array.isArray(size)) throw new ShapeError("slice", [x.shape], `size must list one extent per axis (${r}), got ${describe(size)}`);
  const sz = size === undefined ? begin.map((b, i) => x.shape[i]! - b) : size.map((s, i) => (s === -1 ? x.shape[i]! - begin[i]! : s));
  if (sz.length !== r) throw new ShapeError("slice", [x.shape], `size must list one extent per axis (${r}), got ${JSON.stringify(size)}`);
  for (let i = 0; i < r; i++) {
    const b = begin[i]!, s = sz[i]!;
    if (!Number.isInteger(b) || !Number.isInteger(s) || b < 0 || s < 0 || b + s > x.shape[i]!)
      throw new ShapeError("slice", [x.shape], `axis ${i}: begin ${b} with size ${s} does not fit in dimension ${x.shape[i]} of ${fmtShape(x.shape)}`);
  }
  if (sz.every((s, i) => s === x.shape[i])) return x;
  return bind(shapeRules.slice, [x], { begin: begin.slice(), size: sz });
};

/** `concat(tensors, axis = 0)`: joins along an existing axis. */
export const concat = (tensors: readonly Tensor[], axis = 0): Tensor => {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new ArgumentError("concat", "argument tensors", `must be a non-empty array of tensors, got ${describe(tensors)}`);
  tensors.forEach((t, i) => expectTensor("concat", `tensors[${i}]`, t));
  sameDType("concat", tensors.map((_, i) => `tensors[${i}]`), tensors);
  const first = tensors[0]!;
  const ax = orThrow(normAxis("concat", axis, first.shape.length, first.shape));
  tensors.forEach((t, i) => {
    if (t.shape.length !== first.shape.length || t.shape.some((d: number, j: number) => j !== ax && d !== first.shape[j]))
      throw new ShapeError("concat", tensors.map((x) => x.shape), `tensors[${i}] has shape ${fmtShape(t.shape)}, which differs from tensors[0] ${fmtShape(first.shape)} outside axis ${ax}`);
  });
  if (tensors.length === 1) return first;
  const joined = tensors.reduce((n, t) => n + t.shape[ax]!, 0);
  const out = first.shape.map((d: number, j: number) => (j === ax ? joined : d));
  if (sizeOf(out) > MAX_ELEMENTS) throw new ShapeError("concat", tensors.map((t) => t.shape), `the result would have shape ${fmtShape(out)}, over the limit of ${MAX_ELEMENTS} elements`);
  return bind(shapeRules.concat, tensors, { axis: ax });
};

/** `stack(tensors, axis = 0)`: joins along a new axis. */
export const stack = (tensors: readonly Tensor[], axis = 0): Tensor => {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new ArgumentError("stack", "argument tensors", `must be a non-empty array of tensors, got ${describe(tensors)}`);
  tensors.forEach((t, i) => expectTensor("stack", `tensors[${i}]`, t));
  sameDType("stack", tensors.map((_, i) => `tensors[${i}]`), tensors);
  const s0 = tensors[0]!.shape;
  tensors.forEach((t, i) => {
    if (t.shape.length !== s0.length || t.shape.some((d: number, j: number) => d !== s0[j]))
      throw new ShapeError("stack", tensors.map((x) => x.shape), `tensors[${i}] has shape ${fmtShape(t.shape)} but tensors[0] has ${fmtShape(s0)}; stack needs equal shapes`);
  });
  const ax = orThrow(normAxis("stack", axis, s0.length + 1, s0));
  const expanded = s0.slice();
  expanded.splice(ax, 0, 1);
  return concat(tensors.map((t) => reshape(t, expanded)), ax);
};

/** `expandDims(x, axis)`: inserts a size-1 axis. */
export const expandDims = (x: Tensor, axis: number): Tensor => {
  expectTensor("expandDims", "x", x);
  const ax = orThrow(normAxis("expandDims", axis, x.shape.length + 1, x.shape));
  const s = x.shape.slice();
  s.splice(ax, 0, 1);
  return reshape(x, s);
};

/** `squeeze(x, axis?)`: drops size-1 axes (all of them, or the one named). */
export const squeeze = (x: Tensor, axis?: number): Tensor => {
  expectTensor("squeeze", "x", x);
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const ax = orThrow(normAxis("squeeze", axis, x.shape.length, x.shape));
  if (x.shape[ax] !== 1) throw new ShapeError("squeeze", [x.shape], `axis ${axis} has size ${x.shape[ax]}, not 1`);
  return reshape(x, x.shape.filter((_, i) => i !== ax));
};

/** Index input accepted by gather and oneHot: a tensor or (nested) arrays of integers, or an Int32Array. */
export type Indices = Tensor | Int32Array | number | readonly unknown[];

/** Validates integer indices in [0, n); returns them flat with their shape. */
export const toIndices = (op: string, indices: Indices, n: number): { idx: Int32Array; shape: number[] } => {
  let flat: ArrayLike<number>;
  let shape: number[];
  if (isTensor(indices)) {
    flat = dataOf(indices);
    shape = indices.shape.slice();
  } else if (indices instanceof Int32Array) {
    flat = indices;
    shape = [indices.length];
  } else if (typeof indices === "number") {
    flat = [indices];
    shape = [];
  } else if (Array.isArray(indices)) {
    const shp: number[] = [];
    let p: unknown = indices;
    while (Array.isArray(p)) {
      shp.push(p.length);
      p = p[0];
    }
    const f = (indices as unknown[]).flat(Infinity) as unknown[];
    if (f.length !== sizeOf(shp)) throw new ShapeError(op, [shp], "indices are ragged nested arrays");
    flat = f as number[];
    shape = shp;
  } else throw new ArgumentError(op, "argument indices", `must be a tensor or array of integers, got ${describe(indices)}`);
  const idx = new Int32Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i]!;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= n)
      throw new ArgumentError(op, "argument indices", `entry ${i} is ${describe(v)}; every index must be an integer in [0, ${n})`);
    idx[i] = v;
  }
  return { idx, shape };
};

/** `gather(x, indices, axis = 0)`: picks slices of `x` along `axis` (an embedding lookup when axis = 0). */
export const gather = (x: Tensor, indices: Indices, axis = 0): Tensor => {
  expectTensor("gather", "x", x);
  const ax = orThrow(normAxis("gather", axis, x.shape.length, x.shape));
  const { idx, shape } = toIndices("gather", indices, x.shape[ax]!);
  const out = [...x.shape.slice(0, ax), ...shape, ...x.shape.slice(ax + 1)];
  if (sizeOf(out) > MAX_ELEMENTS) throw new ShapeError("gather", [x.shape, shape], `the result would have shape ${fmtShape(out)}, over the limit of ${MAX_ELEMENTS} elements`);
  return bind(shapeRules.gather, [x], { axis: ax, indices: idx, indicesShape: shape });
};

/** `oneHot(indices, depth, dtype = 'float32')`: shape `[...indices.shape, depth]`, 1 at each index (no gradient). */
export const oneHot = (indices: Indices, depth: number, dtype: DType = isTensor(indices) ? indices.dtype : "float32"): Tensor => {
  if (dtype !== "float32" && dtype !== "float64") throw new ArgumentError("oneHot", "dtype", `must be 'float32' or 'float64', got ${describe(dtype)}`);
  if (!Number.isInteger(depth) || depth < 0) throw new ArgumentError("oneHot", "argument depth", `must be a non-negative integer, got ${describe(depth)}`);
  const { idx, shape } = toIndices("oneHot", indices, depth);
  const out = orThrow(validateShape("oneHot", [...shape, depth]));
  const d = allocData(dtype, sizeOf(out));
  for (let i = 0; i < idx.length; i++) d[i * depth + idx[i]!] = 1;
  return fromData(d, out, dtype);
};

export type { Shape };
