/**
 * `scan`: the one loop over time. It unrolls any step function `(carry, x<t>) => [carry, y<t>]` over a
 * time-major input, recording every step on the active tapes, so backpropagation through time is plain
 * `grad` through `scan` (the tape's backward is a loop, so 100,000 steps do not grow the stack).
 *
 * Memory: until the pullback runs, the tape keeps every step's intermediate tensors. For the library LSTM
 * that is 11 tensors' worth of [B, H] per step (the gate pre-activations [B, 4H], a, c and the saved gate
 * activations [B, 5H]: ≈ 180 KiB per step in float32 at H = 128, B = 32); the slices x<t> are views of xs,
 * and the weights are shared by all steps and never copied per step.
 */
import { ArgumentError, ShapeError, fmtShape } from "../core/errors.js";
import { describe, optionsObject, type Shape } from "../core/shape.js";
import { allocData, dataOf, fromData, isTensor, tensor, type DType, type NestedArray, type Tensor } from "../core/tensor.js";
import { concat, reshape, slice, stack, where } from "../autograd/index.js";
import { checkpoint } from "../autograd/remat.js";
import { unstack } from "../autograd/primitives/fused.js";
import { TreeMismatchError, assertTensorTree, flatten, map, unflatten, type Tree, type TreeDef } from "../autograd/tree.js";

/** Options of `scan`: a padding mask and the direction. */
export interface ScanOptions {
  /**
   * `[T, B]`, 1 for a real step of sequence b and 0 for padding (numbers, booleans or a tensor). At a padded
   * step the carry of that batch row is left unchanged and its output is 0, through `where`, so padding
   * contributes exactly zero gradient. Every carry and output tensor must have the batch B as axis 0.
   */
  readonly mask?: Tensor | NestedArray | readonly (readonly boolean[])[];
  /** Run right to left (t = T-1 … 0); `ys` still come back in the original time order. */
  readonly reverse?: boolean;
  /**
   * Rematerialise with segments of k steps, each run under `checkpoint`: the tape keeps the carry entering
   * each segment and the outputs, and the backward pass recomputes one segment at a time (memory O(T/k + k)
   * steps of intermediates instead of O(T), for one extra forward pass). Same values as plain `scan`; the
   * gradients too, up to the order in which a weight's per-step gradients are summed (segment by segment).
   */
  readonly checkpointEvery?: number;
}

/** A step function: one time step, `(carry, x<t>) => [carry<t>, y<t>]`. */
export type StepFn<C, X, Y> = (carry: C, x: X) => readonly [C, Y];

/** Structure of a tree as text with object keys sorted, so `{a, c}` and `{c, a}` compare equal. */
const canonical = (d: TreeDef): string =>
  d.kind === "leaf"
    ? "*"
    : d.kind === "array"
      ? `[${d.children.map(canonical).join(",")}]`
      : `{${d.keys
          .map((k, i) => [k, canonical(d.children[i]!)] as const)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, v]) => `${k}:${v}`)
          .join(",")}}`;

interface Layout {
  readonly canon: string;
  readonly def: TreeDef;
  readonly byPath: Map<string, { shape: Shape; dtype: DType }>;
  readonly leaves: readonly Tensor[];
  readonly paths: readonly string[];
}

const layoutOf = (tree: Tree): Layout => {
  const f = flatten(tree);
  const byPath = new Map<string, { shape: Shape; dtype: DType }>();
  f.leaves.forEach((l, i) => byPath.set(f.paths[i]!, { shape: l.shape, dtype: l.dtype }));
  return { canon: canonical(f.def), def: f.def, byPath, leaves: f.leaves, paths: f.paths };
};

const sameShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
const at = (path: string) => (path ? ` ${path}` : "");

/** Checks `tree` has the structure, shapes and dtypes of `ref`; `what` names it in errors. */
const checkLike = (what: string, t: number, tree: unknown, ref: Layout, refName: string): void => {
  assertTensorTree("scan", `${what} at time step ${t}`, tree);
  const l = layoutOf(tree as Tree);
  if (l.canon !== ref.canon) throw new TreeMismatchError(`scan (${what} at time step ${t} vs ${refName})`, l.def, ref.def, "");
  l.paths.forEach((p, i) => {
    const want = ref.byPath.get(p)!, got = l.leaves[i]!;
    if (!sameShape(got.shape, want.shape))
      throw new ShapeError("scan", [want.shape, got.shape],
        `time step ${t}: the step returned ${what}${at(p)} of shape ${fmtShape(got.shape)}, but ${refName}${at(p)} has shape ${fmtShape(want.shape)}; the shapes must stay the same at every step`);
    if (got.dtype !== want.dtype)
      throw new ArgumentError("scan", `${what}${at(p)}`, `at time step ${t} is ${got.dtype}, but ${refName}${at(p)} is ${want.dtype}`);
  });
};

const sameMeta = (x: Tensor, ref: Tensor): boolean => x.dtype === ref.dtype && sameShape(x.shape, ref.shape);

/**
 * `checkLike`'s answer for the layouts cells return at every step, without building the layout: one tensor, or
 * a plain record of tensors with the reference's keys in its order. False means "not sure": run `checkLike`.
 */
const quickLike = (tree: unknown, ref: Layout): boolean => {
  const d = ref.def;
  if (d.kind === "leaf") return isTensor(tree) && sameMeta(tree, ref.leaves[0]!);
  if (d.kind !== "object" || tree === null || typeof tree !== "object" || Object.getPrototypeOf(tree) !== Object.prototype) return false;
  const rec = tree as Record<string, unknown>;
  const keys = Object.keys(rec);
  if (keys.length !== d.keys.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const v = rec[keys[i]!];
    if (keys[i] !== d.keys[i] || d.children[i]!.kind !== "leaf" || !isTensor(v) || !sameMeta(v, ref.leaves[i]!)) return false;
  }
  return true;
};

/** Reads and checks the mask: 0/1 values of shape [T, B]. Returns its rows as flat arrays. */
const readMask = (mask: ScanOptions["mask"], T: number, B: number | undefined, dtype: DType): Float64Array[] => {
  let m: Tensor;
  if (isTensor(mask)) m = mask;
  else if (Array.isArray(mask)) {
    const numeric = (mask as unknown[]).map((row) => (Array.isArray(row) ? row.map((v) => (typeof v === "boolean" ? Number(v) : v)) : row));
    try {
      m = tensor(numeric as NestedArray, { dtype });
    } catch (e) {
      throw new ArgumentError("scan", "options.mask", `must be [T, B] numbers or booleans: ${(e as Error).message}`);
    }
  } else throw new ArgumentError("scan", "options.mask", `must be a [T, B] Tensor or nested arrays of 0/1, got ${describe(mask)}`);
  if (m.shape.length !== 2 || m.shape[0] !== T || (B !== undefined && m.shape[1] !== B))
    throw new ShapeError("scan", [m.shape], `options.mask must have shape [T, B] = [${T}, ${B ?? "B"}] (time-major, like xs), got ${fmtShape(m.shape)}`);
  const d = dataOf(m);
  const Bm = m.shape[1]!;
  const rows: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    const row = new Float64Array(Bm);
    for (let b = 0; b < Bm; b++) {
      const v = d[t * Bm + b]!;
      if (v !== 0 && v !== 1) throw new ArgumentError("scan", "options.mask", `must hold only 0 (padding) and 1 (real step); entry [${t}, ${b}] is ${v}`);
      row[b] = v;
    }
    rows.push(row);
  }
  return rows;
};

const noteStep = Symbol("seqgrad.scanStep");

/**
 * `scan(step, carry0, xs, { mask?, reverse? }) => [carryT, ys]`:
 * `carry<t>, y<t> = step(carry<t-1>, x<t>)` for t = 1…T over time-major `xs` `[T, B, D]` (or a tree of
 * `[T, …]` tensors, sliced together); `ys` stacks every `y<t>` to `[T, B, H]` (or a tree of such).
 */
export function scan<C, X, Y>(step: StepFn<C, X, Y>, carry0: C, xs: X, options: ScanOptions = {}): [C, Y] {
  if (typeof step !== "function") throw new ArgumentError("scan", "step", `must be a function (carry, x) => [carry, y], got ${describe(step)}`);
  optionsObject("scan", "options", options, "{ mask, reverse }", ["mask", "reverse", "checkpointEvery"]);
  assertTensorTree("scan", "carry0", carry0);
  assertTensorTree("scan", "xs", xs);
  const xf = flatten(xs as Tree);
  if (xf.leaves.length === 0) throw new ArgumentError("scan", "xs", "has no tensors; pass a time-major [T, B, D] tensor");
  const T = xf.leaves[0]!.shape[0];
  xf.leaves.forEach((l, i) => {
    if (l.shape.length === 0 || l.shape[0] !== T)
      throw new ShapeError("scan", xf.leaves.map((x) => x.shape),
        `every xs tensor must be time-major with the same T on axis 0; xs${at(xf.paths[i]!)} has shape ${fmtShape(l.shape)}${i > 0 ? ` but xs${at(xf.paths[0]!)} has T = ${T}` : ""}`);
  });
  if (T === undefined || T === 0) throw new ShapeError("scan", [xf.leaves[0]!.shape], "xs has T = 0 time steps; there is nothing to scan (the outputs' shapes would be unknown)");
  const reverse = options.reverse ?? false;
  if (typeof reverse !== "boolean") throw new ArgumentError("scan", "options.reverse", `must be a boolean, got ${describe(reverse)}`);

  const c0 = layoutOf(carry0 as Tree);
  let maskRows: Float64Array[] | undefined;
  let B: number | undefined;
  if (options.mask !== undefined) {
    const x0 = xf.leaves[0]!;
    B = x0.shape.length >= 2 ? x0.shape[1] : undefined;
    maskRows = readMask(options.mask, T, B, c0.leaves[0]?.dtype ?? x0.dtype);
    B = maskRows[0]!.length;
    xf.leaves.forEach((l, i) => {
      if (l.shape.length < 2 || l.shape[1] !== B)
        throw new ShapeError("scan", [l.shape], `with a [T, B] mask every xs tensor must be [T, B, …] with B = ${B}; xs${at(xf.paths[i]!)} has shape ${fmtShape(l.shape)}`);
    });
    c0.leaves.forEach((l, i) => {
      if (l.shape.length < 1 || l.shape[0] !== B)
        throw new ShapeError("scan", [l.shape], `with a [T, B] mask every carry tensor must have the batch B = ${B} on axis 0; carry0${at(c0.paths[i]!)} has shape ${fmtShape(l.shape)}`);
    });
  }

  if (options.checkpointEvery !== undefined) return scanSegments(step, carry0, xf, T, reverse, maskRows, options.checkpointEvery);

  // x<t> for every leaf: one unstack op per leaf gives all T slices with the time axis dropped (no copies).
  const xsAt = xf.leaves.map(unstack);
  // The mask of step t as a [B, 1, …, 1] column for a tensor of `rank`, in `dtype` (a constant: no gradient).
  const maskFor = (t: number, rank: number, dtype: DType): Tensor => {
    const row = maskRows![t]!;
    const d = allocData(dtype, row.length);
    d.set(row);
    return fromData(d, [row.length, ...new Array<number>(Math.max(0, rank - 1)).fill(1)], dtype);
  };

  let carry = carry0;
  let yRef: Layout | undefined;
  const ysByStep: Tensor[][] = new Array(T);
  for (let i = 0; i < T; i++) {
    const t = reverse ? T - 1 - i : i;
    const x = unflatten(xf.def, xsAt.map((u) => u[t]!)) as X;
    let out: readonly [C, Y];
    try {
      out = step(carry, x);
    } catch (e) {
      if (e instanceof Error && !(e as any)[noteStep]) {
        (e as any)[noteStep] = t;
        e.message += `\n  (raised by the step function in scan at time step t = ${t} of T = ${T}${reverse ? ", running in reverse" : ""})`;
      }
      throw e;
    }
    if (!Array.isArray(out) || out.length !== 2)
      throw new ArgumentError("scan", "step", `must return [carry, y]; at time step ${t} it returned ${describe(out)}`);
    let [next, y] = out as [C, Y];
    if (!quickLike(next, c0)) checkLike("carry", t, next, c0, "carry0");
    if (yRef === undefined) {
      assertTensorTree("scan", `the output y at time step ${t}`, y);
      yRef = layoutOf(y as Tree);
      const ref = yRef;
      if (B !== undefined)
        ref.leaves.forEach((l, j) => {
          if (l.shape.length < 1 || l.shape[0] !== B)
            throw new ShapeError("scan", [l.shape], `with a [T, B] mask every output tensor must have the batch B = ${B} on axis 0; y${at(ref.paths[j]!)} has shape ${fmtShape(l.shape)}`);
        });
    } else if (!quickLike(y, yRef)) checkLike("output y", t, y, yRef, `the output at time step ${reverse ? T - 1 : 0}`);
    if (maskRows !== undefined && !maskRows[t]!.every((v) => v === 1)) {
      const prev = carry;
      next = map((n: Tensor, p: Tensor) => where(maskFor(t, n.shape.length, n.dtype), n, p), next as Tree, prev as Tree) as C;
      y = map((v: Tensor) => where(maskFor(t, v.shape.length, v.dtype), v, 0), y as Tree) as Y;
    }
    // Leaves in the order of the first output's flatten, so every step's leaves line up by path.
    if (yRef.def.kind === "leaf" && isTensor(y)) ysByStep[t] = [y];
    else {
      const yf = flatten(y as Tree), refPaths = yRef.paths;
      ysByStep[t] = yf.paths.every((p, j) => p === refPaths[j]) ? yf.leaves : refPaths.map((p) => yf.leaves[yf.paths.indexOf(p)]!);
    }
    carry = next;
  }
  const ref = yRef!;
  const ys = unflatten(ref.def, ref.paths.map((_, j) => stack(ysByStep.map((s) => s[j]!), 0))) as Y;
  return [carry, ys];
}

/**
 * `scan` with `checkpointEvery: k`: `[carry<t0+n>, ys<t0..t0+n-1>] = checkpoint(scan over steps t0…t0+n-1)`
 * for each segment of n ≤ k steps, threading the carry; errors still name the global time step.
 */
const scanSegments = <C, X, Y>(
  step: StepFn<C, X, Y>, carry0: C, xf: ReturnType<typeof flatten<Tensor>>, T: number, reverse: boolean, maskRows: Float64Array[] | undefined, k: unknown,
): [C, Y] => {
  if (typeof k !== "number" || !Number.isInteger(k) || k < 1)
    throw new ArgumentError("scan", "options.checkpointEvery", `must be a positive integer (steps per recomputed segment, e.g. Math.round(Math.sqrt(T))), got ${describe(k)}`);
  const starts: number[] = [];
  for (let s = 0; s < T; s += k) starts.push(s);
  const ysBySegment: Layout[] = new Array(starts.length);
  let carry = carry0;
  let yRef: Layout | undefined;
  for (let j = 0; j < starts.length; j++) {
    const s = reverse ? starts.length - 1 - j : j;
    const t0 = starts[s]!, n = Math.min(k, T - t0);
    const xsSeg = unflatten(xf.def, xf.leaves.map((l) => slice(l, [t0, ...l.shape.slice(1).map(() => 0)], [n, ...l.shape.slice(1)]))) as X;
    let mask: Tensor | undefined;
    if (maskRows !== undefined) {
      const B = maskRows[0]!.length, d = allocData("float64", n * B);
      for (let i = 0; i < n; i++) d.set(maskRows[t0 + i]!, i * B);
      mask = fromData(d, [n, B], "float64");
    }
    const segment = checkpoint((c: C, x: X): [C, Y] => {
      let i = 0;
      const stepAt: StepFn<C, X, Y> = (cc, xx) => {
        const t = reverse ? t0 + n - 1 - i : t0 + i;
        i++;
        try {
          return step(cc, xx);
        } catch (e) {
          if (e instanceof Error && !(e as any)[noteStep]) {
            (e as any)[noteStep] = t;
            e.message += `\n  (raised by the step function in scan at time step t = ${t} of T = ${T}${reverse ? ", running in reverse" : ""}, checkpointEvery = ${k})`;
          }
          throw e;
        }
      };
      try {
        return scan(stepAt, c, x, mask === undefined ? { reverse } : { mask, reverse });
      } catch (e) {
        if (e instanceof Error && !(e as any)[noteStep]) e.message += `\n  (time steps counted within the segment t = ${t0}…${t0 + n - 1}, checkpointEvery = ${k})`;
        throw e;
      }
    }, "scan (checkpointEvery)");
    const [next, ys] = segment(carry, xsSeg);
    carry = next;
    const l = layoutOf(ys as Tree);
    if (yRef === undefined) yRef = l;
    else {
      const ref = yRef;
      if (l.canon !== ref.canon) throw new TreeMismatchError(`scan (outputs of time steps ${t0}…${t0 + n - 1} vs the first segment, checkpointEvery = ${k})`, l.def, ref.def, "");
      l.paths.forEach((p, i) => {
        const want = ref.byPath.get(p)!, got = l.leaves[i]!;
        if (!sameShape(got.shape.slice(1), want.shape.slice(1)) || got.dtype !== want.dtype)
          throw new ShapeError("scan", [want.shape, got.shape],
            `time steps ${t0}…${t0 + n - 1}: the outputs${at(p)} are ${got.dtype} ${fmtShape(got.shape.slice(1))} per step, but earlier steps gave ${want.dtype} ${fmtShape(want.shape.slice(1))}; the shapes must stay the same at every step`);
      });
    }
    ysBySegment[s] = l;
  }
  const ref = yRef!;
  if (starts.length === 1) return [carry, unflatten(ref.def, ref.leaves) as Y];
  const ys = unflatten(ref.def, ref.paths.map((p) => concat(ysBySegment.map((seg) => seg.leaves[seg.paths.indexOf(p)]!), 0))) as Y;
  return [carry, ys];
};
