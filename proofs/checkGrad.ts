/**
 * `checkGrad`: proves a function's reverse-mode gradient against central finite differences.
 *
 * For a scalar function f and every checked entry x_i of its (float64) arguments:
 *   analytic a_i = (∂f/∂x_i from `grad`),   numeric n_i = (f(x + ε e_i) - f(x - ε e_i)) / 2ε
 *   relErr_i = |a_i - n_i| / max(|a_i| + |n_i|, tiny),   the entry passes when relErr_i <= rtol or |a_i - n_i| <= atol.
 * Central differences have truncation error O(ε² f''') and rounding error O(u |f| / ε) (u = 2⁻⁵³), so with
 * ε = 1e-6 a correct float64 gradient of a well-scaled function agrees to about 1e-9 relative; a wrong VJP
 * rule is off by O(1). float32 arguments are REFUSED (float32 rounding error / ε would swamp the check):
 * cast them first, e.g. `tree.map((t) => cast(t, 'float64'), params)`.
 */
import { ArgumentError, ShapeError, fmtShape } from "../core/errors.js";
import { isTensor, tensor, withScratchBuffers, type Data, type Tensor } from "../core/tensor.js";
import { add, mul, sum } from "../autograd/index.js";
import { grad } from "../autograd/transforms.js";
import { flatten, unflatten, type Tree } from "../autograd/tree.js";

export interface CheckGradOptions {
  /** Finite-difference step ε (absolute). Default 1e-6. */
  eps?: number;
  /** Relative tolerance on |a - n| / (|a| + |n|). Default 1e-6. */
  rtol?: number;
  /** Absolute tolerance on |a - n| (for entries whose true gradient is ~0). Default 1e-9. */
  atol?: number;
  /** Which arguments to differentiate: an index or an array of indices. Default: all of them. */
  argnums?: number | readonly number[];
  /** Check at most this many entries, a seeded random subset of all entries of the differentiated arguments. */
  maxEntries?: number;
  /** Seed for the subset choice (and for the probe directions of `checkGradSecondOrder`). Default 0. */
  seed?: number;
  /** A name for the report. */
  label?: string;
}

/** One checked entry: where it is and how analytic and numeric derivatives compare. */
export interface GradEntry {
  /** Tree path of the leaf: `arg0`, `arg1.W_a`, `arg0.layers.0.b`. */
  readonly path: string;
  /** Flat (row-major) index into the leaf. */
  readonly index: number;
  /** The same position as one index per axis. */
  readonly multiIndex: readonly number[];
  readonly analytic: number;
  readonly numeric: number;
  /** |a - n| / max(|a| + |n|, tiny); Infinity when either value is not finite. */
  readonly relError: number;
  /** |a - n|; Infinity when either value is not finite. */
  readonly absError: number;
}

/** The outcome of a gradient check. */
export interface GradReport {
  readonly ok: boolean;
  readonly label?: string;
  /** Largest relError over all checked entries (entries with ~0 gradient may pass through atol with a large one). */
  readonly maxRelError: number;
  /** Largest |a - n| over all checked entries. */
  readonly maxAbsError: number;
  /** The entry furthest outside its tolerance: argmax of min(relErr / rtol, absErr / atol); null when nothing was checked. */
  readonly worst: GradEntry | null;
  readonly entriesChecked: number;
  readonly entriesTotal: number;
  readonly tolerance: { readonly eps: number; readonly rtol: number; readonly atol: number };
  /** Number of checked entries outside both tolerances. */
  readonly failures: number;
}

export type ScalarFn = (...args: any[]) => Tensor;

/** Smallest denominator of the relative error (avoids 0/0 when both derivatives are exactly 0). */
const TINY = 1e-300;

// ---- deterministic randomness (no Math.random) ------------------------------------------------------------

/** A small seeded PRNG (mulberry32) giving floats in [0, 1); same seed, same sequence, on every machine. */
export const seededUniform = (seed: number): (() => number) => {
  let s = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** `k` distinct indices of [0, n), sorted, chosen by a seeded partial Fisher–Yates shuffle. */
const chooseSubset = (n: number, k: number, seed: number): number[] => {
  const rand = seededUniform(seed);
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k).sort((a, b) => a - b);
};

// ---- helpers ----------------------------------------------------------------------------------------------

const multiIndexOf = (flat: number, shape: readonly number[]): number[] => {
  const out = new Array<number>(shape.length);
  let rem = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d]!;
    out[d] = n === 0 ? 0 : rem % n;
    rem = n === 0 ? 0 : Math.floor(rem / n);
  }
  return out;
};

const joinPath = (arg: number, path: string): string => (path === "" ? `arg${arg}` : `arg${arg}.${path}`);

const resolveArgnums = (op: string, argnums: CheckGradOptions["argnums"], nArgs: number): number[] => {
  const list = argnums === undefined ? Array.from({ length: nArgs }, (_, i) => i) : typeof argnums === "number" ? [argnums] : Array.from(argnums);
  if (list.length === 0) throw new ArgumentError(op, "opts.argnums", "selects no argument; leave it out to check all arguments");
  for (const a of list)
    if (!Number.isInteger(a) || a < 0 || a >= nArgs)
      throw new ArgumentError(op, "opts.argnums", `asks for argument ${a} but ${nArgs} argument(s) were given`);
  if (new Set(list).size !== list.length) throw new ArgumentError(op, "opts.argnums", `repeats an argument: ${JSON.stringify(list)}`);
  return list;
};

const positive = (op: string, name: string, v: number): number => {
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) throw new ArgumentError(op, `opts.${name}`, `must be a positive finite number, got ${String(v)}`);
  return v;
};

/** Evaluates f and reads its single value, with an error that says what f returned instead. */
const evalScalar = (op: string, f: ScalarFn, args: unknown[]): number => {
  const y = f(...args);
  if (!isTensor(y)) throw new ArgumentError(op, "the function's result", `must be a scalar Tensor, got ${y === null ? "null" : typeof y}`);
  if (y.size !== 1) throw new ShapeError(op, [y.shape], `the function must return a scalar (one element), got shape ${fmtShape(y.shape)}; reduce it with sum or mean`);
  return y.item();
};

/** The leaves of the differentiated arguments, with their paths; refuses anything but float64 tensors. */
const collectLeaves = (op: string, args: readonly unknown[], which: readonly number[]) => {
  const out: { arg: number; leafIndex: number; path: string; leaf: Tensor }[] = [];
  for (const a of which) {
    const { leaves, paths } = flatten(args[a] as Tree<unknown>);
    leaves.forEach((leaf, j) => {
      const path = joinPath(a, paths[j]!);
      if (!isTensor(leaf)) throw new ArgumentError(op, `argument ${path}`, `must be a Tensor leaf, got ${leaf === null ? "null" : typeof leaf}`);
      if (leaf.dtype !== "float64")
        throw new ArgumentError(
          op,
          `argument ${path}`,
          `is ${leaf.dtype} with shape ${fmtShape(leaf.shape)}; gradient checks need float64 (float32 rounding swamps finite differences): cast it with cast(x, 'float64') or tree.map((t) => cast(t, 'float64'), params)`,
        );
      out.push({ arg: a, leafIndex: j, path, leaf });
    });
  }
  return out;
};

/** Replaces leaf `leafIndex` of argument `arg` (flattened once by the caller as `flat`) with `replacement`, leaving every other argument untouched. */
const withLeaf = (args: readonly unknown[], arg: number, flat: ReturnType<typeof flatten>, leafIndex: number, replacement: Tensor): unknown[] => {
  const copy = args.slice();
  const leaves = flat.leaves.slice();
  leaves[leafIndex] = replacement;
  copy[arg] = unflatten(flat.def, leaves);
  return copy;
};

// ---- checkGrad --------------------------------------------------------------------------------------------

/**
 * `checkGrad(f, args, opts?)`: compares `grad(f)` with central differences `(f(x+εeᵢ) - f(x-εeᵢ)) / 2ε` on every
 * entry (or a seeded subset) of the float64 leaves of `args`; see the module comment for the pass rule.
 */
export function checkGrad(f: ScalarFn, args: readonly unknown[], opts: CheckGradOptions = {}): GradReport {
  const op = opts.label ? `checkGrad(${opts.label})` : "checkGrad";
  if (typeof f !== "function") throw new ArgumentError(op, "f", `must be a function returning a scalar Tensor, got ${typeof f}`);
  if (!Array.isArray(args)) throw new ArgumentError(op, "args", "must be an array of arguments (one parameter tree per argument of f)");
  const eps = positive(op, "eps", opts.eps ?? 1e-6);
  const rtol = positive(op, "rtol", opts.rtol ?? 1e-6);
  const atol = positive(op, "atol", opts.atol ?? 1e-9);
  const which = resolveArgnums(op, opts.argnums, args.length);
  const leafList = collectLeaves(op, args, which);

  // analytic: one reverse pass for all differentiated arguments
  const grads = grad(f, { argnums: which })(...args) as Tree[];
  const analyticLeaves = grads.flatMap((g) => flatten(g).leaves);

  // global entry numbering over the differentiated leaves, then the (sub)set to check
  const starts: number[] = [];
  let total = 0;
  for (const l of leafList) {
    starts.push(total);
    total += l.leaf.size;
  }
  let chosen: number[];
  if (opts.maxEntries !== undefined && opts.maxEntries < total) {
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 1) throw new ArgumentError(op, "opts.maxEntries", `must be a positive integer, got ${String(opts.maxEntries)}`);
    chosen = chooseSubset(total, opts.maxEntries, opts.seed ?? 0);
  } else chosen = Array.from({ length: total }, (_, i) => i);

  let maxRel = 0, maxAbs = 0, failures = 0, worstScore = -1;
  let worst: GradEntry | null = null;
  // per leaf, read once: the argument's flattened tree, the leaf's values (perturbed one entry at a time and
  // restored) and its analytic gradient
  const flats = new Map(which.map((a) => [a, flatten(args[a] as Tree<unknown>)] as const));
  let li = -1;
  let base: Data = new Float64Array(0), analyticData: Data = new Float64Array(0);
  for (const g of chosen) {
    const before = li;
    while (li + 1 < leafList.length && starts[li + 1]! <= g) li++;
    const { arg, leafIndex, path, leaf } = leafList[li]!;
    if (li !== before) {
      const aLeaf = analyticLeaves[li];
      if (!aLeaf || !isTensor(aLeaf) || aLeaf.size !== leaf.size)
        throw new ShapeError(op, [leaf.shape, aLeaf && isTensor(aLeaf) ? aLeaf.shape : []], `grad returned no matching gradient for ${path}`);
      base = leaf.toTypedArray(); // a copy of its own (float64: collectLeaves refuses anything else)
      analyticData = aLeaf.toTypedArray();
    }
    const index = g - starts[li]!;
    const flat = flats.get(arg)!;
    const x0 = base[index]!;
    // f's tensors are garbage once its value is read: small ones come from scratch slabs (core/tensor.ts)
    const fAt = (x: number): number =>
      withScratchBuffers(() => {
        base[index] = x;
        return evalScalar(op, f, withLeaf(args, arg, flat, leafIndex, tensor(base, { shape: leaf.shape, dtype: "float64" })));
      });
    const fPlus = fAt(x0 + eps);
    const fMinus = fAt(x0 - eps);
    base[index] = x0;
    const numeric = (fPlus - fMinus) / (2 * eps);
    const analytic = analyticData[index]!;
    const finite = Number.isFinite(analytic) && Number.isFinite(numeric);
    const absError = finite ? Math.abs(analytic - numeric) : Infinity;
    const relError = finite ? absError / Math.max(Math.abs(analytic) + Math.abs(numeric), TINY) : Infinity;
    const pass = relError <= rtol || absError <= atol;
    if (!pass) failures++;
    maxRel = Math.max(maxRel, relError);
    maxAbs = Math.max(maxAbs, absError);
    const score = Math.min(relError / rtol, absError / atol);
    if (score > worstScore) {
      worstScore = score;
      worst = { path, index, multiIndex: multiIndexOf(index, leaf.shape), analytic, numeric, relError, absError };
    }
  }
  return {
    ok: failures === 0,
    ...(opts.label !== undefined ? { label: opts.label } : {}),
    maxRelError: maxRel,
    maxAbsError: maxAbs,
    worst,
    entriesChecked: chosen.length,
    entriesTotal: total,
    tolerance: { eps, rtol, atol },
    failures,
  };
}

// ---- second order -----------------------------------------------------------------------------------------

/** Σ over leaves of Σ(g ⊙ v): the inner product of two trees of the same structure. */
const treeDot = (g: Tree, v: Tree): Tensor => {
  const gs = flatten(g).leaves, vs = flatten(v).leaves;
  let acc: Tensor | null = null;
  gs.forEach((gl, i) => {
    const term = sum(mul(gl, vs[i]!));
    acc = acc === null ? term : add(acc, term);
  });
  return acc ?? tensor(0, { dtype: "float64" });
};

/** A random float64 tree shaped like `tree`, entries uniform in [-1, 1), from a seeded PRNG. */
const probeLike = (tree: Tree, rand: () => number): Tree => {
  const { leaves, def } = flatten(tree);
  return unflatten(def, leaves.map((l) => tensor(Float64Array.from({ length: l.size }, () => 2 * rand() - 1), { shape: l.shape, dtype: "float64" })));
};

/**
 * `checkGradSecondOrder(f, args, opts?)`: checks second derivatives by running `checkGrad` on
 * `h(x) = Σ ∇f(x) · v` for a fixed seeded probe v, whose gradient is the Hessian-vector product `H v`
 * (computed by `grad(grad(f))`-style nesting) and whose finite differences use only first derivatives.
 */
export function checkGradSecondOrder(f: ScalarFn, args: readonly unknown[], opts: CheckGradOptions = {}): GradReport {
  const op = opts.label ? `checkGradSecondOrder(${opts.label})` : "checkGradSecondOrder";
  if (!Array.isArray(args)) throw new ArgumentError(op, "args", "must be an array of arguments (one parameter tree per argument of f)");
  const which = resolveArgnums(op, opts.argnums, args.length);
  collectLeaves(op, args, which); // the float64 rule, with the path in the message
  const rand = seededUniform((opts.seed ?? 0) + 0x5eed);
  const probes = which.map((a) => probeLike(args[a] as Tree, rand));
  const gradF = grad(f, { argnums: which });
  const h = (...xs: unknown[]): Tensor => {
    const gs = gradF(...xs) as Tree[];
    let acc: Tensor | null = null;
    gs.forEach((g, j) => {
      const d = treeDot(g, probes[j]!);
      acc = acc === null ? d : add(acc, d);
    });
    return acc!;
  };
  return checkGrad(h, args, { ...opts, label: opts.label ?? "second order (H·v)" });
}

// ---- formatting -------------------------------------------------------------------------------------------

const num = (v: number): string => (Number.isFinite(v) ? (v === 0 ? "0" : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(6) : v.toExponential(2)) : String(v));

/** One readable line: verdict, entries, worst entry (path[index], analytic vs numeric), errors and tolerances. */
export const formatReport = (r: GradReport): string => {
  const head = `${r.label ? `${r.label}: ` : ""}${r.ok ? "ok" : `FAIL (${r.failures} of ${r.entriesChecked} entries)`}`;
  const entries = r.entriesChecked === r.entriesTotal ? `${r.entriesChecked} entries` : `${r.entriesChecked} of ${r.entriesTotal} entries (seeded subset)`;
  const w = r.worst
    ? `worst ${r.worst.path}[${r.worst.multiIndex.join(",")}] analytic ${num(r.worst.analytic)} vs numeric ${num(r.worst.numeric)} (rel ${num(r.worst.relError)}, abs ${num(r.worst.absError)})`
    : "nothing checked";
  const t = r.tolerance;
  return `${head}; ${entries}; ${w}; max rel ${num(r.maxRelError)}, max abs ${num(r.maxAbsError)}; tol rtol ${num(t.rtol)} atol ${num(t.atol)} eps ${num(t.eps)}`;
};
