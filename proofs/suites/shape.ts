/** Proofs for the shape primitives: reshape transpose slice concat stack expandDims squeeze gather. */
import fc from "fast-check";
import { tensor, type Tensor } from "../../core/tensor.js";
import { add, concat, expandDims, gather, reshape, slice, squeeze, stack, transpose, type Indices } from "../../autograd/index.js";
import { padSum } from "../../autograd/primitives/shape.js";
import { seededUniform } from "../checkGrad.js";
import { proveGrad } from "./check.js";
import { arrArb, axisArb, fmt, propertySuite, range, seedArb, shapeArb, sizeOfShape, toT, weighted, type Arr, type Suite } from "./suite.js";

const VALUES = range(-3, 3);

/** A random shape with `n` elements: n's prime factors shuffled and grouped, 1s sprinkled in, maybe one -1. */
const reshapeTarget = (n: number, seed: number): number[] => {
  const rand = seededUniform(seed);
  const primes: number[] = [];
  let m = n;
  for (let p = 2; m > 1; p++) while (m % p === 0) (primes.push(p), (m /= p));
  for (let i = primes.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [primes[i], primes[j]] = [primes[j]!, primes[i]!];
  }
  const dims: number[] = [];
  for (const p of primes) if (dims.length > 0 && rand() < 0.5) dims[dims.length - 1]! *= p; else dims.push(p);
  while (rand() < 0.3 && dims.length < 4) dims.splice(Math.floor(rand() * (dims.length + 1)), 0, 1);
  if (dims.length > 0 && rand() < 0.3) dims[Math.floor(rand() * dims.length)] = -1;
  return dims;
};

const reshapeSuite: Suite = propertySuite({
  name: "reshape",
  family: "shape",
  description: "vjp of reshape to a random shape of the same size (with 1s and an inferred -1)",
  cases: 30,
  arbitrary: shapeArb(0, 3).chain((s) => fc.record({ x: arrArb(s, VALUES), target: seedArb, w: seedArb })),
  check: ({ x, target, w }, tol) => {
    const to = reshapeTarget(sizeOfShape(x.shape), target);
    return proveGrad(`reshape x${fmt(x.shape)} → ${fmt(to)}`, (t: Tensor) => weighted(reshape(t, to), w), [toT(x)], tol);
  },
});

const transposeSuite: Suite = propertySuite({
  name: "transpose",
  family: "shape",
  description: "vjp of transpose by a random permutation (or the default reversal), ranks 0-4",
  cases: 30,
  arbitrary: shapeArb(0, 4).chain((s) => {
    const axes = s.map((_, i) => i);
    return fc.record({
      x: arrArb(s, VALUES),
      perm: fc.option(fc.shuffledSubarray(axes, { minLength: s.length, maxLength: s.length }), { nil: undefined }),
      w: seedArb,
    });
  }),
  check: ({ x, perm, w }, tol) => proveGrad(`transpose x${fmt(x.shape)} perm=${perm ? fmt(perm) : "reverse"}`, (t: Tensor) => weighted(transpose(t, perm), w), [toT(x)], tol),
});

/** A random box inside `s`: per axis [begin, size], size >= 1 (or -1 = to the end, when `toEnd`). */
const boxArb = (s: readonly number[], toEnd: boolean) =>
  fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d - 1 }).chain((b) => {
    const size = fc.integer({ min: 1, max: d - b });
    return fc.tuple(fc.constant(b), toEnd ? fc.oneof(fc.constant(-1), size) : size);
  })));

const sliceSuite: Suite = propertySuite({
  name: "slice",
  family: "shape",
  description: "vjp of slice with random begin and size (including -1 = to the end)",
  cases: 30,
  arbitrary: shapeArb(1, 3).chain((s) =>
    fc.record({
      x: arrArb(s, VALUES),
      box: boxArb(s, true),
      w: seedArb,
    }),
  ),
  check: ({ x, box, w }, tol) => {
    const begin = box.map(([b]) => b), size = box.map(([, z]) => z);
    return proveGrad(`slice x${fmt(x.shape)} begin=${fmt(begin)} size=${fmt(size)}`, (t: Tensor) => weighted(slice(t, begin, size), w), [toT(x)], tol);
  },
});

/** 1-4 random boxes (begin, size) inside `s`, possibly overlapping. */
const boxesArb = (s: readonly number[]) => fc.array(boxArb(s, false), { minLength: 1, maxLength: 4 });

const slicesSuite: Suite = propertySuite({
  name: "slices",
  family: "shape",
  description: "vjp of a weighted sum over 1-4 (possibly overlapping) slices of one tensor: the backward loop sums their blocks in one padSum",
  cases: 30,
  arbitrary: shapeArb(1, 3).chain((s) => fc.record({ x: arrArb(s, VALUES), boxes: boxesArb(s), w: seedArb })),
  check: ({ x, boxes, w }, tol) => {
    const f = (t: Tensor) => boxes.map((bx, i) => weighted(slice(t, bx.map(([b]) => b), bx.map(([, z]) => z)), w + i)).reduce((a, b) => add(a, b));
    return proveGrad(`slices of x${fmt(x.shape)} at ${boxes.map((bx) => fmt(bx.map(([b]) => b))).join(", ")}`, f, [toT(x)], tol);
  },
});

const padSumSuite: Suite = propertySuite({
  name: "padSum",
  family: "shape",
  description: "vjp of padSum: 1-4 blocks placed (possibly overlapping) in zeros of a random shape and summed",
  cases: 30,
  arbitrary: shapeArb(1, 3).chain((s) =>
    boxesArb(s).chain((boxes) => fc.record({ s: fc.constant(s), boxes: fc.constant(boxes), xs: fc.tuple(...boxes.map((bx) => arrArb(bx.map(([, z]) => z), VALUES))), w: seedArb })),
  ),
  check: ({ s, boxes, xs, w }, tol) => {
    const begins = boxes.map((bx) => bx.map(([b]) => b));
    return proveGrad(`padSum into ${fmt(s)} at ${begins.map(fmt).join(", ")}`, (...ts: Tensor[]) => weighted(padSum(ts, begins, s), w), xs.map(toT), tol);
  },
});

const concatSuite: Suite = propertySuite({
  name: "concat",
  family: "shape",
  description: "vjp of concat of 1-3 tensors of different lengths along a random axis",
  cases: 30,
  arbitrary: shapeArb(1, 3, 3).chain((s) =>
    axisArb(s.length).chain((axis) => {
      const ax = axis < 0 ? axis + s.length : axis;
      return fc.record({
        xs: fc.array(fc.integer({ min: 1, max: 3 }).chain((len) => arrArb(s.map((d, i) => (i === ax ? len : d)), VALUES)), { minLength: 1, maxLength: 3 }),
        axis: fc.constant(axis),
        w: seedArb,
      });
    }),
  ),
  check: ({ xs, axis, w }, tol) =>
    proveGrad(`concat ${xs.map((x) => fmt(x.shape)).join("+")} axis=${axis}`, (...ts: Tensor[]) => weighted(concat(ts, axis), w), xs.map(toT), tol),
});

const stackSuite: Suite = propertySuite({
  name: "stack",
  family: "shape",
  description: "vjp of stack of 1-3 equal-shape tensors along a random new axis",
  cases: 30,
  arbitrary: shapeArb(0, 2, 3).chain((s) =>
    fc.record({ xs: fc.array(arrArb(s, VALUES), { minLength: 1, maxLength: 3 }), axis: fc.integer({ min: -(s.length + 1), max: s.length }), w: seedArb }),
  ),
  check: ({ xs, axis, w }, tol) =>
    proveGrad(`stack ${xs.length}×${fmt(xs[0]!.shape)} axis=${axis}`, (...ts: Tensor[]) => weighted(stack(ts, axis), w), xs.map(toT), tol),
});

const expandDimsSuite: Suite = propertySuite({
  name: "expandDims",
  family: "shape",
  description: "vjp of expandDims at a random (possibly negative) axis",
  cases: 30,
  arbitrary: shapeArb(0, 3).chain((s) => fc.record({ x: arrArb(s, VALUES), axis: fc.integer({ min: -(s.length + 1), max: s.length }), w: seedArb })),
  check: ({ x, axis, w }, tol) => proveGrad(`expandDims x${fmt(x.shape)} axis=${axis}`, (t: Tensor) => weighted(expandDims(t, axis), w), [toT(x)], tol),
});

const squeezeSuite: Suite = propertySuite({
  name: "squeeze",
  family: "shape",
  description: "vjp of squeeze of all size-1 axes or of one named axis",
  cases: 30,
  arbitrary: shapeArb(0, 4, 3).chain((s) => {
    const ones = s.flatMap((d, i) => (d === 1 ? [i, i - s.length] : []));
    return fc.record({ x: arrArb(s, VALUES), axis: ones.length ? fc.option(fc.constantFrom(...ones), { nil: undefined }) : fc.constant(undefined), w: seedArb });
  }),
  check: ({ x, axis, w }, tol) => proveGrad(`squeeze x${fmt(x.shape)} axis=${axis ?? "all"}`, (t: Tensor) => weighted(squeeze(t, axis), w), [toT(x)], tol),
});

/** Index formats gather accepts; each case picks one. */
type IndexFormat = "tensor" | "int32" | "nested";
const toIndices = (idx: number[], shape: number[], format: IndexFormat): Indices => {
  if (format === "tensor") return tensor(idx, { shape, dtype: "float64" });
  if (format === "int32" && shape.length === 1) return Int32Array.from(idx);
  return tensor(idx, { shape, dtype: "float64" }).toArray() as Indices;
};

const gatherSuite: Suite = propertySuite({
  name: "gather",
  family: "shape",
  description: "vjp of gather along a random axis; indices of rank 0-2 repeat often, so the vjp must scatter-ADD",
  cases: 40,
  arbitrary: shapeArb(1, 3, 3).chain((s) =>
    axisArb(s.length).chain((axis) => {
      const n = s[axis < 0 ? axis + s.length : axis]!;
      return shapeArb(0, 2, 4).chain((is) =>
        fc.record({
          x: arrArb(s, VALUES),
          axis: fc.constant(axis),
          indices: fc.array(fc.integer({ min: 0, max: n - 1 }), { minLength: sizeOfShape(is), maxLength: sizeOfShape(is) }).map((idx) => ({ idx, shape: is })),
          format: fc.constantFrom<IndexFormat>("tensor", "int32", "nested"),
          w: seedArb,
        }),
      );
    }),
  ),
  check: ({ x, axis, indices, format, w }, tol) => {
    const idx = toIndices(indices.idx, indices.shape, format);
    const repeats = new Set(indices.idx).size < indices.idx.length ? " (repeats)" : "";
    return proveGrad(`gather x${fmt(x.shape)} axis=${axis} idx${fmt(indices.shape)}=${JSON.stringify(indices.idx)}${repeats}`, (t: Tensor) => weighted(gather(t, idx, axis), w), [toT(x)], tol);
  },
});

export const shapeSuites: readonly Suite[] = [reshapeSuite, transposeSuite, sliceSuite, slicesSuite, padSumSuite, concatSuite, stackSuite, expandDimsSuite, squeezeSuite, gatherSuite];
