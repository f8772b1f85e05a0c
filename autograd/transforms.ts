/**
 * Function transforms: vjp, grad, valueAndGrad, jvp, stopGradient, customVjp.
 *
 * `vjp` gives each input leaf a fresh identity (an `identity` op, itself recorded on any outer tape), pushes
 * a tape watching those identities, runs `f`, and pops the tape. The pullback walks that tape once from the
 * end with a Map from tensor id to cotangent. Because every level watches only its own fresh identities,
 * nested transforms never confuse their levels (no perturbation confusion), and because the pullback runs
 * differentiable ops while outer tapes are active, `grad(grad(f))` works. Deferred `aᵀ b` cotangents
 * (`OuterSum`) and placed slices (`PadSum`) are collected per tensor and summed out, with differentiable ops, when first read.
 */
import { ArgumentError, ShapeError, fmtShape } from "../core/errors.js";
import { dataOf, fromData, isTensor, zeros, ones, type Data, type Tensor } from "../core/tensor.js";
import { OuterSum, PadSum, bind, inBackwardOf, popTape, pushTape, record, withoutTapes, type Cotangent, type Differentiable, type Tape } from "./tape.js";
import { add } from "./primitives/binary.js";
import { outerSum, outerSumBegin } from "./primitives/matmul.js";
import { padSum } from "./primitives/shape.js";
import { identity } from "./primitives/unary.js";
import { assertTensorTree, flatten, map, unflatten, TreeMismatchError, type Tree } from "./tree.js";

export type Pullback = (cotangent: Tree) => Tree[];

const sameShape = (a: readonly number[], b: readonly number[]): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/**
 * A cotangent being summed by the backward loop: a tensor part and deferred `aᵀ b` terms (see `OuterSum`) and placed slices (`PadSum`).
 * Owned by the loop, so appending to it is safe; rules only ever see the tensor it becomes.
 */
class Pending {
  acc: Tensor | null = null;
  as: Tensor[] = [];
  bs: Tensor[] = [];
  /** rows Σ R_i of the deferred terms in `as`/`bs` */
  rows = 0;
  /** earlier terms whose product is already begun (outerSumBegin), in order: added when the cotangent is read */
  chunks: { as: Tensor[]; bs: Tensor[]; later: { result(): Data } }[] = [];
  /** deferred placed slices (`PadSum`): their blocks and where they go */
  pads: Tensor[] = [];
  padBegins: (readonly number[])[] = [];
  size = 0;
  constructor(readonly shape: readonly number[]) {}
}

/** Deferred terms are multiplied out once they hold this many elements, so memory stays bounded on long sequences. */
export const OUTER_SUM_FLUSH_ELEMENTS = 1 << 22;
let flushElements = OUTER_SUM_FLUSH_ELEMENTS;

/** @internal Sets the element count at which deferred `aᵀ b` terms are multiplied out (tests); returns the previous one. */
export const setOuterSumFlushElements = (n: number): number => {
  const prev = flushElements;
  flushElements = n;
  return prev;
};

/**
 * Deferred `aᵀ b` terms are begun as one product (a chunk) once they hold this many rows and the product this
 * many multiply-adds, and read when the cotangent is: a large product may then run on a second thread while
 * the backward pass goes on (K.matmulLater), and a recurrent weight's gradient is mostly computed by the time
 * the loop reaches the first step. Chunks are cut at the same terms whatever runs them, so the result does not
 * depend on the thread count; smaller problems are never cut (one product, as before).
 */
export const OUTER_SUM_CHUNK = { rows: 512, work: 1 << 24 } as const;
let chunk: { rows: number; work: number } = OUTER_SUM_CHUNK;

/** @internal Sets when deferred terms are begun as a chunk (tests); returns the previous setting. */
export const setOuterSumChunk = (c: { rows: number; work: number }): { rows: number; work: number } => {
  const prev = chunk;
  chunk = c;
  return prev;
};

/** Begins the product of the terms collected so far when they make a chunk. */
const maybeBegin = (p: Pending): void => {
  const M = p.as[0]!.shape[1]!, N = p.bs[0]!.shape[1]!;
  if (p.rows < chunk.rows || p.rows * M * N < chunk.work) return;
  p.chunks.push({ as: p.as, bs: p.bs, later: outerSumBegin(p.as, p.bs) });
  p.as = [];
  p.bs = [];
  p.rows = 0;
};

/**
 * The pending terms made one tensor, added to the tensor part: begun chunks in order, then `Σ aᵢᵀ bᵢ` of the rest
 * as one product over the rows of all of them, placed slices as one `padSum` buffer.
 */
const flush = (p: Pending): void => {
  for (const c of p.chunks) {
    const prod = outerSum(c.as, c.bs, c.later);
    p.acc = p.acc === null ? prod : add(p.acc, prod);
  }
  p.chunks = [];
  if (p.as.length > 0) {
    const prod = outerSum(p.as, p.bs);
    p.acc = p.acc === null ? prod : add(p.acc, prod);
  }
  if (p.pads.length > 0) {
    const placed = padSum(p.pads, p.padBegins, p.shape);
    p.acc = p.acc === null ? placed : add(p.acc, placed);
  }
  // new arrays rather than truncated ones, so nothing that saw the old ones ever sees them change
  p.as = [];
  p.bs = [];
  p.rows = 0;
  p.pads = [];
  p.padBegins = [];
  p.size = 0;
};

const resolve = (c: Tensor | Pending): Tensor => {
  if (!(c instanceof Pending)) return c;
  flush(c);
  return c.acc!;
};

/** Sums `dx` into the cotangent slot `prev` (undefined when empty). Tensors add; deferred terms collect. */
const accumulate = (prev: Tensor | Pending | undefined, dx: Cotangent): Tensor | Pending => {
  if (dx instanceof OuterSum || dx instanceof PadSum) {
    const p = prev instanceof Pending ? prev : new Pending(dx.shape);
    if (prev !== undefined && !(prev instanceof Pending)) p.acc = prev;
    if (dx instanceof OuterSum) {
      p.as.push(dx.a);
      p.bs.push(dx.b);
      p.rows += dx.a.shape[0]!;
      p.size += dx.a.size + dx.b.size;
      maybeBegin(p);
    } else {
      p.pads.push(dx.x);
      p.padBegins.push(dx.begin);
      p.size += dx.x.size;
    }
    if (p.size >= flushElements) flush(p);
    return p;
  }
  if (prev === undefined) return dx;
  if (prev instanceof Pending) {
    prev.acc = prev.acc === null ? dx : add(prev.acc, dx);
    return prev;
  }
  return add(prev, dx);
};

/** Runs the backward pass of `tape` for output cotangents `seeds`; returns the cotangents of `wrt`. */
export const backward = (tape: Tape, seeds: Map<number, Tensor>, wrt: readonly Tensor[]): Tensor[] => {
  const ct = new Map<number, Tensor | Pending>(seeds);
  const entries = tape.entries;
  const watched = tape.watched;
  // a cotangent read by a rule: taken out of the map, deferred terms multiplied out (as part of that rule's backward)
  const take = (id: number, name: string): Tensor | undefined => {
    const c = ct.get(id);
    if (c === undefined) return undefined;
    ct.delete(id);
    return c instanceof Pending ? inBackwardOf(name, () => resolve(c)) : c;
  };
  for (let e = entries.length - 1; e >= 0; e--) {
    const entry = entries[e]!;
    const inputs = entry.inputs;
    const name = entry.rule.name;
    let dxs: readonly (Cotangent | null)[];
    const needs = inputs.map((x) => watched.has(x.id));
    if (entry.outs === null) {
      const dy = take(entry.out.id, name);
      if (dy === undefined) continue;
      const { rule, out, params } = entry;
      dxs = inBackwardOf(name, () => rule.vjp(dy, inputs, out, params, needs));
    } else {
      // several outputs: the rule gets one cotangent per output, null for those no cotangent reached
      const { rule, outs, params } = entry;
      let reached = false;
      const dys = outs.map((o) => {
        const d = take(o.id, name);
        if (d === undefined) return null;
        reached = true;
        return d;
      });
      if (!reached) continue;
      dxs = inBackwardOf(name, () => rule.vjpMulti(dys, inputs, outs, params, needs));
    }
    for (let i = 0; i < inputs.length; i++) {
      const dx = dxs[i];
      if (!dx || !needs[i]) continue;
      const x = inputs[i]!;
      if (!sameShape(dx.shape, x.shape))
        throw new ShapeError(name, [x.shape, dx.shape], `the VJP returned a gradient of shape ${fmtShape(dx.shape)} for input ${i} of shape ${fmtShape(x.shape)}`);
      // sum, never overwrite: shared weights add up (the sum is part of this rule's backward pass for debugNans)
      const prev = ct.get(x.id);
      ct.set(x.id, prev === undefined && !(dx instanceof OuterSum || dx instanceof PadSum) ? dx : inBackwardOf(name, () => accumulate(prev, dx)));
    }
  }
  return wrt.map((x) => {
    const c = ct.get(x.id);
    return c === undefined ? zeros(x.shape, x.dtype) : resolve(c);
  });
};

/** Transforms take functions; anything else is named here rather than failing as "f is not a function". */
const expectFunction = (op: string, name: string, f: unknown): void => {
  if (typeof f !== "function") throw new ArgumentError(op, name, `must be a function, got ${f === null ? "null" : Array.isArray(f) ? "an array" : typeof f}`);
};

/**
 * `vjp(f, ...primals) => [out, pullback]`: `pullback(ct)` gives one cotangent tree per primal, each the
 * same shape as its primal. `out` may be any tree of tensors; `ct` must have its structure.
 */
export function vjp<Out extends Tree>(f: (...args: any[]) => Out, ...primals: Tree[]): [Out, Pullback] {
  expectFunction("vjp", "f", f);
  primals.forEach((p, i) => assertTensorTree("vjp", `argument ${i}`, p));
  const flat = flatten(primals as Tree);
  const fresh = flat.leaves.map(identity);
  const tape = pushTape();
  let out: Out;
  try {
    for (const t of fresh) tape.watched.add(t.id);
    out = f(...(unflatten(flat.def, fresh) as Tree[]));
  } finally {
    popTape(tape);
  }
  assertTensorTree("vjp", "the function's result", out);
  const outFlat = flatten(out as Tree);
  const pullback: Pullback = (cotangent) => {
    assertTensorTree("vjp pullback", "the cotangent", cotangent);
    const given = flatten(cotangent).leaves.length;
    if (given !== outFlat.leaves.length)
      throw new ArgumentError("vjp pullback", "the cotangent", `has ${given} leaves but the output has ${outFlat.leaves.length}`);
    // align by structure and object keys, not by key order: {z, y} must not feed y's cotangent to z
    let aligned: Tree;
    try {
      aligned = map((_o: Tensor, c: Tensor) => c, out as Tree, cotangent);
    } catch (e) {
      if (e instanceof TreeMismatchError) throw new TreeMismatchError("vjp pullback", e.left, e.right, e.path);
      throw e;
    }
    const cts = flatten(aligned).leaves;
    const seeds = new Map<number, Tensor>();
    outFlat.leaves.forEach((o, i) => {
      const c = cts[i]!;
      if (c.shape.length !== o.shape.length || c.shape.some((d, j) => d !== o.shape[j]))
        throw new ShapeError("vjp pullback", [o.shape, c.shape], `cotangent ${outFlat.paths[i] || "(root)"} has shape ${fmtShape(c.shape)} but the output has ${fmtShape(o.shape)}`);
      const prev = seeds.get(o.id);
      seeds.set(o.id, prev === undefined ? c : add(prev, c));
    });
    const grads = backward(tape, seeds, fresh);
    return unflatten(flat.def, grads) as Tree[];
  };
  return [out!, pullback];
}

export interface GradOptions {
  /** Which argument(s) to differentiate: an index, or an array of indices (then the gradient is an array). Default 0. */
  argnums?: number | readonly number[];
}
export interface ValueAndGradOptions extends GradOptions {
  /** `f` returns `[value, aux]`; aux is passed through undifferentiated. */
  hasAux?: boolean;
}

const selectArgs = (op: string, argnums: number | readonly number[], args: unknown[]): number[] => {
  const list = typeof argnums === "number" ? [argnums] : Array.from(argnums);
  for (const a of list)
    if (!Number.isInteger(a) || a < 0 || a >= args.length)
      throw new ArgumentError(op, "argnums", `asks for argument ${a} but the function was called with ${args.length} argument(s)`);
  // a repeat would differentiate two copies and give the first one a zero gradient
  const dup = list.find((a, i) => list.indexOf(a) !== i);
  if (dup !== undefined) throw new ArgumentError(op, "argnums", `lists argument ${dup} more than once (${JSON.stringify(list)})`);
  return list;
};

const expectScalar = (op: string, v: unknown): Tensor => {
  if (!isTensor(v)) throw new ArgumentError(op, "the function's result", `must be a scalar Tensor, got ${v === null ? "null" : typeof v}${Array.isArray(v) ? " array (use hasAux: true to return [value, aux])" : ""}`);
  if (v.size !== 1)
    throw new ShapeError(op, [v.shape], `the function must return a scalar (one element) to take a gradient, got shape ${fmtShape(v.shape)}; reduce it (sum, mean) or use vjp for non-scalar outputs`);
  return v;
};

const valueAndGradImpl = (op: string, f: (...args: any[]) => any, opts: ValueAndGradOptions) => (...args: any[]): [any, any] => {
  expectFunction(op, "f", f);
  const argnums = opts.argnums ?? 0;
  const which = selectArgs(op, argnums, args);
  which.forEach((i) => assertTensorTree(op, `argument ${i}`, args[i]));
  let aux: unknown;
  const [value, pb] = vjp((...sel: Tree[]) => {
    const full = args.slice();
    which.forEach((a, j) => (full[a] = sel[j]));
    const r = f(...full);
    if (opts.hasAux) {
      if (!Array.isArray(r) || r.length !== 2) throw new ArgumentError(op, "the function's result", "must be [value, aux] when hasAux is true");
      aux = r[1];
      return expectScalar(op, r[0]);
    }
    return expectScalar(op, r);
  }, ...which.map((i) => args[i] as Tree));
  const grads = pb(ones(value.shape, value.dtype));
  const g = typeof argnums === "number" ? grads[0] : grads;
  return [opts.hasAux ? [value, aux] : value, g];
};

/** `grad(f)(...args)`: the gradient of scalar `f` with respect to argument `argnums` (a tree like it). */
export const grad = (f: (...args: any[]) => Tensor, opts: GradOptions = {}) => {
  const vg = valueAndGradImpl("grad", f, opts);
  return (...args: any[]): any => vg(...args)[1];
};

/** `valueAndGrad(f)(...args) => [value, grad]` (or `[[value, aux], grad]` with hasAux). */
export const valueAndGrad = (f: (...args: any[]) => any, opts: ValueAndGradOptions = {}) => valueAndGradImpl("valueAndGrad", f, opts);

/**
 * `jvp(f, primals, tangents) => [out, tangentOut]`: forward-mode derivative, computed as the transpose of the
 * (linear) pullback — the pullback is differentiated with respect to its cotangent.
 */
export function jvp<Out extends Tree>(f: (...args: any[]) => Out, primals: readonly Tree[], tangents: readonly Tree[]): [Out, Tree] {
  expectFunction("jvp", "f", f);
  if (!Array.isArray(primals) || !Array.isArray(tangents) || primals.length !== tangents.length)
    throw new ArgumentError("jvp", "primals/tangents", "must be arrays of the same length (one tangent per primal)");
  const [out, pb] = vjp(f, ...primals);
  const u0 = map((o: Tensor) => zeros(o.shape, o.dtype), out as Tree);
  const [, pb2] = vjp((u: Tree) => pb(u) as Tree, u0);
  const [tOut] = pb2(tangents as Tree);
  return [out, tOut!];
}

/** `stopGradient(x)`: the same values, seen as a constant by every transform (gradient 0). */
export const stopGradient = <T extends Tree>(x: T): T => map((t: Tensor) => (isTensor(t) ? fromData(dataOf(t), t.shape, t.dtype) : t), x as Tree) as T;

/**
 * `customVjp(f, bwd, name?)`: a function that computes `f(...xs)` but differentiates with
 * `bwd(dy, xs, y) => [dx0, dx1, ...]` (null for no gradient). Arguments and the result are tensors.
 */
export const customVjp = <Args extends Tensor[]>(
  f: (...xs: Args) => Tensor,
  bwd: (dy: Tensor, xs: Args, y: Tensor) => readonly (Tensor | null)[],
  name = "customVjp",
) => {
  expectFunction(name, "f", f);
  expectFunction(name, "bwd", bwd);
  const rule: Differentiable<null> = { name, vjp: (dy, xs, y) => bwd(dy, xs as Args, y) };
  return (...xs: Args): Tensor => {
    xs.forEach((x, i) => assertTensorTree(name, `argument ${i}`, x));
    const y = withoutTapes(() => f(...xs));
    if (!isTensor(y)) throw new ArgumentError(name, "the function's result", "must be a Tensor");
    // a fresh identity so the tape entry belongs to this call even if f returned an input unchanged
    const out = withoutTapes(() => identity(y));
    record(rule, xs, out, null);
    return out;
  };
};

export { bind };
