/**
 * `checkCell`: the battery any user can run on their own recurrent cell (any object with `init`, `initialCarry`
 * and `step`), in float64, on a fixed seeded problem of T steps, batch B, input size D and hidden size H.
 *
 * The scalar loss is `L = Σ_t Σ w_y<t> ⊙ y<t> + Σ_leaves Σ w_c ⊙ carry<T>` for fixed random weights w, computed
 * by `scan` over time-major xs `[T, B, D]` from a random (non-zero) initial carry. The checks:
 * - shape contract: `init` respects dtype (float64 and float32); the carry keeps its tree structure, shapes and
 *   dtype through a step; every carry leaf has the batch as its first axis; `y` is `[B, H]`.
 * - BPTT gradients of L w.r.t. params, xs and the initial carry vs central differences (`checkGrad`).
 * - parameter sharing: ∂L/∂θ equals Σ_t ∂L/∂θ<t>, where θ<t> is a private copy of θ used only by step t in the
 *   unrolled graph (each step's contribution), to reassociation rounding.
 * - masking: with a mask `[T, B]` (an interior hole and trailing padding), each row's final carry and outputs
 *   equal running that row alone on its unmasked steps; masked outputs are exactly 0, and so is ∂L/∂x<t> at
 *   every masked step.
 * - purity: the same inputs give bit-identical outputs (init, step, the T-step loss and its gradient), even with
 *   other calls in between; no input tensor (params, xs, carry, mask) changes.
 * - second order (opt-in): the Hessian-vector product `H v` by `grad(grad(L))` vs the central difference of the
 *   gradient along v, `(∇L(θ + εv) - ∇L(θ - εv)) / 2ε`, for a fixed random unit direction v over (params, xs, carry).
 * Every check yields a GradReport-shaped comparison (worst entry by tree path, analytic vs numeric) so the
 * suites print them in one table; a check whose code throws fails with the error's message.
 */
import { ArgumentError } from "../core/errors.js";
import { optionsObject } from "../core/shape.js";
import { isTensor, tensor, type DType, type Tensor } from "../core/tensor.js";
import { normal, randomKey, splitKey, type Key } from "../core/random.js";
import { add, div, gather, grad, mul, slice, squeeze, stack, sub, sum, valueAndGrad } from "../autograd/index.js";
import { flatten, map, showDef, unflatten, type Tree } from "../autograd/tree.js";
import { scan } from "../layers/scan.js";
import type { Cell } from "../layers/cells/types.js";
import { checkGrad, type GradEntry, type GradReport } from "./checkGrad.js";

export interface CheckCellOptions {
  /** Input size D. Default 3. */
  inputSize?: number;
  /** Hidden size H. Default 4. */
  hiddenSize?: number;
  /** Batch B. Default 2. */
  batch?: number;
  /** Time steps T. Default 5. */
  steps?: number;
  /** Seed of every random value (params, inputs, initial carry, loss weights, direction v). Default 0. */
  seed?: number;
  /** Finite-difference step ε for the gradient checks. Default 1e-6 (checkGrad's). */
  eps?: number;
  /** Relative tolerance of the finite-difference checks. Default 1e-6 (checkGrad's). */
  rtol?: number;
  /** Absolute tolerance of the finite-difference checks. Default 1e-9 (checkGrad's). */
  atol?: number;
  /** Also check second derivatives (a Hessian-vector product through the cell). Default false. */
  secondOrder?: boolean;
  /** Check at most this many entries per finite-difference gradient check (a seeded subset). Default: all. */
  maxEntries?: number;
  /** A name for the report. */
  label?: string;
}

/** One check of the battery; `report` holds its entry-by-entry comparison (analytic = the cell's side). */
export interface CellCheck {
  readonly name: string;
  readonly ok: boolean;
  /** The largest relative error of the comparison, when the check compares numbers. */
  readonly maxRelError?: number;
  /** One line: what was compared and how it came out (or every problem found, or the error thrown). */
  readonly detail: string;
  readonly report?: GradReport;
}

/** The outcome of `checkCell`. */
export interface CellReport {
  readonly ok: boolean;
  readonly label?: string;
  readonly checks: readonly CellCheck[];
  /** The worst entry over all numeric comparisons, with the check it belongs to; null when none ran. */
  readonly worst: (GradEntry & { readonly check: string }) | null;
  /** The largest relative error over the finite-difference gradient checks. */
  readonly maxRelError: number;
  readonly options: {
    readonly inputSize: number;
    readonly hiddenSize: number;
    readonly batch: number;
    readonly steps: number;
    readonly seed: number;
    readonly secondOrder: boolean;
  };
  readonly tolerance: { readonly eps: number; readonly rtol: number; readonly atol: number };
}

/**
 * Tolerance of comparisons between two computations of the same quantity that differ only by the order of
 * floating-point additions (parameter sharing, masking): |a - b| <= 1e-9 (|a| + |b|) or |a - b| <= 1e-12.
 */
export const REASSOCIATION_TOLERANCE = { rtol: 1e-9, atol: 1e-12 } as const;

const TINY = 1e-300;
/** e / t with 0 / 0 = 0 (an exact match under a zero tolerance is not a failure). */
const ratio = (e: number, t: number): number => (e === 0 ? 0 : e / t);

// ---- comparisons as reports -------------------------------------------------------------------------------

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

/**
 * `compareTrees(label, a, b, {rtol, atol})`: entry-by-entry comparison of two trees of tensors with checkGrad's
 * rule (relErr = |a-b| / (|a|+|b|), pass when relErr <= rtol or |a-b| <= atol), as a GradReport (eps 0).
 * Leaves are matched in flatten order; a structure or shape mismatch throws.
 */
export const compareTrees = (label: string, a: Tree, b: Tree, tol: { rtol: number; atol: number }, prefix = ""): GradReport => {
  const fa = flatten(a), fb = flatten(b);
  if (showDef(fa.def) !== showDef(fb.def)) throw new ArgumentError(`compareTrees(${label})`, "trees", `differ in structure: ${showDef(fa.def)} vs ${showDef(fb.def)}`);
  let maxRel = 0, maxAbs = 0, failures = 0, checked = 0, worstScore = -1;
  let worst: GradEntry | null = null;
  fa.leaves.forEach((la, i) => {
    const lb = fb.leaves[i]!;
    const path = [prefix, fa.paths[i]].filter((s) => s !== "").join(".") || "(root)";
    if (!isTensor(la) || !isTensor(lb) || la.shape.join() !== lb.shape.join())
      throw new ArgumentError(`compareTrees(${label})`, path, `has shapes ${isTensor(la) ? `[${la.shape}]` : typeof la} vs ${isTensor(lb) ? `[${lb.shape}]` : typeof lb}`);
    const da = la.toTypedArray(), db = lb.toTypedArray();
    for (let k = 0; k < da.length; k++) {
      const x = da[k]!, y = db[k]!;
      const finite = Number.isFinite(x) && Number.isFinite(y);
      const absError = finite ? Math.abs(x - y) : Object.is(x, y) ? 0 : Infinity;
      const relError = finite ? absError / Math.max(Math.abs(x) + Math.abs(y), TINY) : absError;
      if (!(relError <= tol.rtol || absError <= tol.atol)) failures++;
      checked++;
      maxRel = Math.max(maxRel, relError);
      maxAbs = Math.max(maxAbs, absError);
      const score = Math.min(ratio(relError, tol.rtol), ratio(absError, tol.atol));
      if (score > worstScore) {
        worstScore = score;
        worst = { path, index: k, multiIndex: multiIndexOf(k, la.shape), analytic: x, numeric: y, relError, absError };
      }
    }
  });
  return { ok: failures === 0, label, maxRelError: maxRel, maxAbsError: maxAbs, worst, entriesChecked: checked, entriesTotal: checked, tolerance: { eps: 0, rtol: tol.rtol, atol: tol.atol }, failures };
};

/** Bit-for-bit equality of two trees (same structure, shapes, dtypes, and Object.is on every entry). */
const bitIdentical = (a: Tree, b: Tree): string | null => {
  const fa = flatten(a), fb = flatten(b);
  if (showDef(fa.def) !== showDef(fb.def)) return `structure ${showDef(fa.def)} became ${showDef(fb.def)}`;
  for (let i = 0; i < fa.leaves.length; i++) {
    const x = fa.leaves[i]!, y = fb.leaves[i]!;
    const path = fa.paths[i] || "(root)";
    if (x.dtype !== y.dtype || x.shape.join() !== y.shape.join()) return `${path} was ${x.dtype} [${x.shape}] then ${y.dtype} [${y.shape}]`;
    const dx = x.toTypedArray(), dy = y.toTypedArray();
    for (let k = 0; k < dx.length; k++) if (!Object.is(dx[k], dy[k])) return `${path}[${multiIndexOf(k, x.shape).join(",")}] was ${dx[k]} then ${dy[k]}`;
  }
  return null;
};

/** A copy of every leaf's data, to prove later that nothing wrote to it. */
const snapshot = (tree: Tree): Tree => map((t: Tensor) => tensor(t), tree);

// ---- tree helpers ----------------------------------------------------------------------------------------

const treeAdd = (a: Tree, b: Tree): Tree => map((x: Tensor, y: Tensor) => add(x, y), a, b);
const treeAxpy = (a: Tree, s: number, v: Tree): Tree => map((x: Tensor, y: Tensor) => add(x, mul(y, s)), a, v);
const treeDot = (a: Tree, b: Tree): Tensor => {
  const la = flatten(a).leaves, lb = flatten(b).leaves;
  let acc: Tensor = tensor(0, { dtype: "float64" });
  la.forEach((x, i) => (acc = add(acc, sum(mul(x, lb[i]!)))));
  return acc;
};
const randomLike = (key: Key, tree: Tree, std: number): Tree => {
  const { leaves, def } = flatten(tree);
  const keys = splitKey(key, Math.max(leaves.length, 1));
  return unflatten(def, leaves.map((l, i) => normal(keys[i]!, l.shape, { dtype: "float64", std })));
};
/** Row `b` of every carry leaf (the batch is the first axis), keeping the axis: `[1, ...]`. */
const rowOf = (carry: Tree, b: number): Tree => map((t: Tensor) => slice(t, [b, ...t.shape.slice(1).map(() => 0)], [1, ...t.shape.slice(1)]), carry);
const fmtS = (s: readonly number[]): string => `[${s.join(",")}]`;

// ---- validation ------------------------------------------------------------------------------------------

const CELL_METHODS = ["init", "initialCarry", "step"] as const;
const CONTRACT = "a cell is { init(key, inputSize, hiddenSize, dtype?) => params, initialCarry(params, batch) => carry, step(params, carry, x) => [carry, y] }";

/** Throws an ArgumentError naming what is missing when `cell` does not have the Cell contract. */
export const assertCell = (op: string, cell: unknown): void => {
  if (typeof cell === "function")
    throw new ArgumentError(op, "cell", `is a function, not a cell; call the factory first, e.g. ${op}(rnnCell()) rather than ${op}(rnnCell) (${CONTRACT})`);
  if (cell === null || typeof cell !== "object") throw new ArgumentError(op, "cell", `must be an object, got ${cell === null ? "null" : typeof cell} (${CONTRACT})`);
  const missing = CELL_METHODS.filter((m) => typeof (cell as Record<string, unknown>)[m] !== "function");
  if (missing.length)
    throw new ArgumentError(
      op,
      "cell",
      `is missing ${missing.length === 1 ? "method" : "methods"} ${missing.map((m) => `'${m}'`).join(", ")}${missing
        .map((m) => ((cell as Record<string, unknown>)[m] === undefined ? "" : ` (${m} is ${typeof (cell as Record<string, unknown>)[m]}, not a function)`))
        .join("")} (${CONTRACT})`,
    );
};

const intOpt = (op: string, name: string, v: unknown, dflt: number, min: number): number => {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ArgumentError(op, `opts.${name}`, `must be an integer >= ${min}, got ${String(v)}`);
  return v;
};
const posOpt = (op: string, name: string, v: unknown, dflt: number): number => {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) throw new ArgumentError(op, `opts.${name}`, `must be a positive finite number, got ${String(v)}`);
  return v;
};

/**
 * The mask pattern of the masking check, `[T, B]` with 1 = real step: row 0 has an interior hole (t = 1) and
 * a padded last step, row 1 is padded after ⌈T/2⌉ steps, further rows are masked where (t + b) mod 3 = 1.
 */
export const maskPattern = (T: number, B: number): number[][] =>
  Array.from({ length: T }, (_, t) =>
    Array.from({ length: B }, (_, b) => {
      if (b === 0) return T >= 2 && (t === T - 1 || (T >= 3 && t === 1)) ? 0 : 1;
      if (b === 1) return t < Math.ceil(T / 2) ? 1 : 0;
      return (t + b) % 3 === 1 ? 0 : 1;
    }),
  );

// ---- the battery -----------------------------------------------------------------------------------------

/** `checkCell(cell, opts?)`: BPTT gradients, parameter sharing, masking, purity, shapes (and H·v) of any cell. */
export function checkCell(cell: Cell<any, any, any>, opts: CheckCellOptions = {}): CellReport {
  const op = opts.label ? `checkCell(${opts.label})` : "checkCell";
  assertCell(op, cell);
  optionsObject(op, "opts", opts, "{ inputSize, hiddenSize }");
  const D = intOpt(op, "inputSize", opts.inputSize, 3, 1);
  const H = intOpt(op, "hiddenSize", opts.hiddenSize, 4, 1);
  const B = intOpt(op, "batch", opts.batch, 2, 1);
  const T = intOpt(op, "steps", opts.steps, 5, 1);
  const seed = intOpt(op, "seed", opts.seed, 0, 0);
  const eps = posOpt(op, "eps", opts.eps, 1e-6);
  const rtol = posOpt(op, "rtol", opts.rtol, 1e-6);
  const atol = posOpt(op, "atol", opts.atol, 1e-9);
  const maxEntries = opts.maxEntries === undefined ? undefined : intOpt(op, "maxEntries", opts.maxEntries, 1, 1);
  const secondOrder = opts.secondOrder ?? false;
  const tol = { eps, rtol, atol };

  const [kParams, kXs, kCarry, kWy, kWc, kV, kOther] = splitKey(randomKey(seed), 7) as [Key, Key, Key, Key, Key, Key, Key];
  const checks: CellCheck[] = [];
  const run = (name: string, body: () => Omit<CellCheck, "name">): void => {
    try {
      checks.push({ name, ...body() });
    } catch (e) {
      checks.push({ name, ok: false, detail: `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` });
    }
  };
  const fromReport = (r: GradReport, what: string): Omit<CellCheck, "name"> => ({ ok: r.ok, maxRelError: r.maxRelError, detail: describeReport(r, what), report: r });

  const stepOf = (p: Tree) => (c: Tree, x: Tensor): [Tree, Tensor] => {
    const [c1, y] = cell.step(p, c, x);
    return [c1 as Tree, y as Tensor];
  };
  const unroll = (p: Tree, x: Tensor, c: Tree, mask?: Tensor): [Tree, Tensor] =>
    scan(stepOf(p), c, x, mask === undefined ? {} : { mask }) as [Tree, Tensor];

  // The problem. If init, initialCarry or the first unroll throw, nothing else can run: report that alone.
  let params: Tree, carry0: Tree, xs: Tensor, wy: Tensor, wc: Tree;
  try {
    params = cell.init(kParams, D, H, "float64") as Tree;
    const dtypes = [...new Set(flatten(params as Tree<unknown>).leaves.map((l) => (isTensor(l) ? l.dtype : l === null ? "null" : typeof l)))];
    if (dtypes.length !== 1 || dtypes[0] !== "float64")
      throw new ArgumentError(`${op}: init`, `(key, ${D}, ${H}, 'float64')`, `returned leaves of type ${dtypes.join(", ") || "(none)"}; checkCell runs in float64, so init must honour its dtype argument (every leaf a float64 Tensor)`);
    const zeroCarry = cell.initialCarry(params, B) as Tree;
    carry0 = randomLike(kCarry, zeroCarry, 0.5); // non-zero, so ∂/∂carry and second order see every term
    xs = normal(kXs, [T, B, D], { dtype: "float64" });
    // Loss weights shaped like what the cell actually returns (a wrong shape is reported by its own check).
    const [cT0, ys0] = unroll(params, xs, carry0);
    wy = normal(kWy, ys0.shape, { dtype: "float64" });
    wc = randomLike(kWc, cT0, 1);
  } catch (e) {
    const detail = `could not run the cell over ${T} steps: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
    return finish(opts.label, [{ name: "shape contract", ok: false, detail }], { inputSize: D, hiddenSize: H, batch: B, steps: T, seed, secondOrder }, tol);
  }
  const lossOf = (cT: Tree, ys: Tensor): Tensor => add(sum(mul(ys, wy)), treeDot(cT, wc));
  const loss = (p: Tree, x: Tensor, c: Tree): Tensor => {
    const [cT, ys] = unroll(p, x, c);
    return lossOf(cT, ys);
  };
  const mask = tensor(maskPattern(T, B), { dtype: "float64" });
  const before = snapshot({ params, xs, carry: carry0, mask });

  // (d) shape contract
  run("shape contract", () => {
    const problems: string[] = [];
    const leafDtypes = (t: Tree) => flatten(t).leaves.map((l) => (isTensor(l) ? l.dtype : typeof l));
    const leafProblems = (what: string, t: unknown) => {
      const { leaves, paths } = flatten(t as Tree<unknown>);
      leaves.forEach((l, i) => {
        if (!isTensor(l)) problems.push(`${what}${paths[i] ? `.${paths[i]}` : ""} is ${l === null ? "null" : typeof l}, not a Tensor`);
      });
      return leaves.length > 0 && leaves.every(isTensor);
    };
    if (leafProblems("init(..., 'float64')", params) && leafDtypes(params).some((d) => d !== "float64"))
      problems.push(`init(key, ${D}, ${H}, 'float64') returned leaves of dtype ${[...new Set(leafDtypes(params))].join(", ")}`);
    const p32 = cell.init(kParams, D, H, "float32") as Tree;
    if (leafProblems("init(..., 'float32')", p32) && leafDtypes(p32).some((d) => d !== "float32"))
      problems.push(`init(key, ${D}, ${H}, 'float32') returned leaves of dtype ${[...new Set(leafDtypes(p32))].join(", ")}`);
    const checkCarry = (what: string, c: Tree, batch: number, dtype: DType) => {
      if (!leafProblems(what, c)) return;
      const { leaves, paths } = flatten(c);
      leaves.forEach((l, i) => {
        const at = `${what}${paths[i] ? `.${paths[i]}` : ""}`;
        if (l.shape[0] !== batch) problems.push(`${at} has shape ${fmtS(l.shape)}; its first axis must be the batch ${batch}`);
        if (l.dtype !== dtype) problems.push(`${at} is ${l.dtype}, expected ${dtype} like the params`);
      });
    };
    const checkStepShapes = (p: Tree, batch: number, dtype: DType) => {
      const c = cell.initialCarry(p, batch) as Tree;
      checkCarry(`initialCarry(params, ${batch})`, c, batch, dtype);
      const x = normal(kOther, [batch, D], { dtype });
      const [c1, y] = cell.step(p, c, x);
      const d0 = showDef(flatten(c).def), d1 = showDef(flatten(c1 as Tree<unknown>).def);
      if (d0 !== d1) problems.push(`step changed the carry's structure from ${d0} to ${d1}`);
      else if (leafProblems("step's carry", c1)) {
        const l0 = flatten(c), l1 = flatten(c1 as Tree);
        l0.leaves.forEach((l, i) => {
          const m = l1.leaves[i]!;
          const at = `carry${l0.paths[i] ? `.${l0.paths[i]}` : ""}`;
          if (fmtS(l.shape) !== fmtS(m.shape)) problems.push(`step changed ${at} from ${fmtS(l.shape)} to ${fmtS(m.shape)} (batch ${batch})`);
          if (l.dtype !== m.dtype) problems.push(`step changed ${at} from ${l.dtype} to ${m.dtype}`);
        });
      }
      if (!isTensor(y)) problems.push(`step's y is ${y === null ? "null" : typeof y}, not a Tensor`);
      else {
        if (fmtS(y.shape) !== fmtS([batch, H])) problems.push(`step's y has shape ${fmtS(y.shape)}, expected [B, H] = ${fmtS([batch, H])}`);
        if (y.dtype !== dtype) problems.push(`step's y is ${y.dtype} with ${dtype} params and inputs`);
      }
    };
    checkStepShapes(params, B, "float64");
    checkStepShapes(params, B + 1, "float64");
    checkStepShapes(p32, B, "float32");
    const carryShapes = flatten(carry0).leaves.map((l) => fmtS(l.shape)).join(", ");
    return problems.length
      ? { ok: false, detail: problems.join("; ") }
      : { ok: true, detail: `carry ${showDef(flatten(carry0).def)} keeps ${carryShapes} and dtype through a step (batch ${B} and ${B + 1}); y is [B, H]; init honours float64 and float32` };
  });

  // (a) BPTT gradients vs central differences
  const gradOpts = { eps, rtol, atol, seed, ...(maxEntries !== undefined ? { maxEntries } : {}) };
  const wrt: [string, number][] = [["params", 0], ["inputs xs", 1], ["initial carry", 2]];
  for (const [what, argnum] of wrt)
    run(`BPTT gradient: ${what}`, () => fromReport(checkGrad(loss, [params, xs, carry0], { ...gradOpts, argnums: argnum, label: `∂L/∂${what}` }), `∂L/∂${what} through ${T} steps vs central differences`));

  // (b) parameter sharing: Σ_t of each step's own contribution equals the shared-weight gradient
  run("parameter sharing", () => {
    const shared = grad(loss)(params, xs, carry0) as Tree;
    // The unrolled graph with untied weights: step t reads only its own copy θ<t>. (An explicit loop on
    // purpose: this is the reference `scan` is compared against.)
    const untied = (perStep: Tree[], x: Tensor, c: Tree): Tensor => {
      let carry = c;
      const ys: Tensor[] = [];
      for (let t = 0; t < T; t++) {
        const [c1, y] = cell.step(perStep[t]!, carry, squeeze(slice(x, [t, 0, 0], [1, B, D]), 0));
        carry = c1 as Tree;
        ys.push(y as Tensor);
      }
      return lossOf(carry, stack(ys, 0));
    };
    const copies = Array.from({ length: T }, () => params);
    const perStep = grad(untied)(copies, xs, carry0) as Tree[];
    const total = perStep.reduce((acc, g) => treeAdd(acc, g));
    const r = compareTrees("Σ_t ∂L/∂θ<t> vs ∂L/∂θ", shared, total, REASSOCIATION_TOLERANCE);
    return fromReport(r, `∂L/∂θ (tied, via scan) vs Σ over ${T} steps of each step's own ∂L/∂θ<t> (untied copies)`);
  });

  // (e) masking
  run("masking", () => {
    const [cT, ys] = unroll(params, xs, carry0, mask);
    const m = maskPattern(T, B);
    const expectedRows: Tree[] = [], actualRows: Tree[] = [];
    const problems: string[] = [];
    for (let b = 0; b < B; b++) {
      const keep = m.map((row, t) => (row[b] ? t : -1)).filter((t) => t >= 0);
      const c0b = rowOf(carry0, b);
      const ysB = slice(ys, [0, b, 0], [T, 1, ys.shape[2]!]);
      let expected: Tree = { carry: c0b };
      let actual: Tree = { carry: rowOf(cT, b) };
      if (keep.length > 0) {
        const xsB = gather(slice(xs, [0, b, 0], [T, 1, D]), Int32Array.from(keep), 0);
        const [cTb, ysb] = unroll(params, xsB, c0b);
        expected = { carry: cTb, ys: ysb };
        actual = { carry: rowOf(cT, b), ys: gather(ysB, Int32Array.from(keep), 0) };
      }
      expectedRows.push(expected);
      actualRows.push(actual);
      const padded = m.map((row, t) => (row[b] ? -1 : t)).filter((t) => t >= 0);
      if (padded.length) {
        const z = gather(ysB, Int32Array.from(padded), 0).toTypedArray();
        const nz = z.findIndex((v) => !Object.is(v, 0));
        if (nz >= 0) problems.push(`y<${padded[Math.floor(nz / ys.shape[2]!)]}> of row ${b} is masked but holds ${z[nz]}, not 0`);
      }
    }
    const gx = grad((x: Tensor) => {
      const [c, y] = unroll(params, x, carry0, mask);
      return lossOf(c, y);
    })(xs) as Tensor;
    const gxd = gx.toTypedArray();
    for (let t = 0; t < T; t++)
      for (let b = 0; b < B; b++)
        if (!m[t]![b])
          for (let d = 0; d < D; d++) {
            const v = gxd[(t * B + b) * D + d]!;
            if (!Object.is(v, 0) && !Object.is(v, -0)) {
              problems.push(`∂L/∂x<${t}> of row ${b} is ${v} at a masked step, not 0`);
              d = D;
            }
          }
    const r = compareTrees("masked batch vs each row alone", actualRows, expectedRows, REASSOCIATION_TOLERANCE, "row");
    const pattern = Array.from({ length: B }, (_, b) => m.map((row) => row[b]).join("")).join(" ");
    const base = describeReport(r, `each row's final carry and outputs under mask ${pattern} (rows, over t) vs that row alone on its real steps`);
    return { ok: r.ok && problems.length === 0, maxRelError: r.maxRelError, detail: problems.length ? `${problems.join("; ")}; ${base}` : `${base}; masked outputs and ∂L/∂x<t> exactly 0`, report: r };
  });

  // (f) second order: H v vs central differences of the gradient along v
  if (secondOrder)
    run("second order (H·v)", () => {
      const theta: Tree[] = [params, xs, carry0];
      // A unit direction: a dense random v of norm √n would scale the truncation error ε²/6 · ∂³L[v, v, v] by n^{3/2}
      // but H v only by √n; normalising keeps the central difference's relative error at O(ε²).
      const kv = splitKey(kV, 3) as [Key, Key, Key];
      const raw = [randomLike(kv[0], params, 1), randomLike(kv[1], xs, 1), randomLike(kv[2], carry0, 1)];
      const norm = Math.sqrt(raw.flatMap((t) => flatten(t).leaves).reduce((acc, l) => acc + l.toFlatArray().reduce((a, x) => a + x * x, 0), 0));
      const v = raw.map((t) => map((l: Tensor) => div(l, norm), t));
      const g = grad(loss, { argnums: [0, 1, 2] }) as (...a: Tree[]) => Tree[];
      const hv = grad((p: Tree, x: Tensor, c: Tree) => treeDot(g(p, x, c), v), { argnums: [0, 1, 2] })(...theta) as Tree[];
      const plus = g(...(theta.map((t, i) => treeAxpy(t, eps, v[i]!)) as [Tree, Tensor, Tree]));
      const minus = g(...(theta.map((t, i) => treeAxpy(t, -eps, v[i]!)) as [Tree, Tensor, Tree]));
      const numeric = plus.map((p, i) => map((a: Tensor, b: Tensor) => div(sub(a, b), 2 * eps), p, minus[i]!));
      const r = compareTrees("H·v", { params: hv[0]!, xs: hv[1]!, carry: hv[2]! }, { params: numeric[0]!, xs: numeric[1]!, carry: numeric[2]! }, { rtol, atol });
      return fromReport({ ...r, tolerance: { eps, rtol, atol } }, `H·v by grad(grad(L)) vs (∇L(θ+εv) - ∇L(θ-εv))/2ε over params, xs and carry`);
    });

  // (c) purity: determinism (with other calls in between), then nothing written to any input
  run("purity: same inputs, same outputs", () => {
    const problems: string[] = [];
    const note = (what: string, diff: string | null) => diff !== null && problems.push(`${what}: ${diff}`);
    note("init with the same key", bitIdentical(params, cell.init(kParams, D, H, "float64") as Tree));
    const x0 = squeeze(slice(xs, [0, 0, 0], [1, B, D]), 0);
    const first = cell.step(params, carry0, x0) as [Tree, Tensor];
    cell.step(params, randomLike(kOther, carry0, 2), mul(x0, -3)); // a different call in between
    note("step", bitIdentical(first as unknown as Tree, cell.step(params, carry0, x0) as unknown as Tree));
    const [l1, g1] = valueAndGrad(loss, { argnums: [0, 1, 2] })(params, xs, carry0) as [Tensor, Tree];
    loss(randomLike(kOther, params, 1), xs, carry0);
    const [l2, g2] = valueAndGrad(loss, { argnums: [0, 1, 2] })(params, xs, carry0) as [Tensor, Tree];
    note("the T-step loss", bitIdentical(l1, l2));
    note("its gradient", bitIdentical(g1, g2));
    return problems.length ? { ok: false, detail: problems.join("; ") } : { ok: true, detail: "init, step, the T-step loss and its gradient are bit-identical when repeated" };
  });
  run("purity: inputs untouched", () => {
    const diff = bitIdentical(before, { params, xs, carry: carry0, mask });
    return diff === null
      ? { ok: true, detail: "params, xs, initial carry and mask hold the same bits after every check" }
      : { ok: false, detail: `an input changed while the cell ran: ${diff}` };
  });

  return finish(opts.label, checks, { inputSize: D, hiddenSize: H, batch: B, steps: T, seed, secondOrder }, tol);
}

const finish = (label: string | undefined, checks: CellCheck[], options: CellReport["options"], tolerance: CellReport["tolerance"]): CellReport => {
  let worst: CellReport["worst"] = null;
  let worstScore = -1;
  let maxRel = 0;
  for (const c of checks) {
    const r = c.report;
    if (!r || !r.worst) continue;
    if (c.name.startsWith("BPTT")) maxRel = Math.max(maxRel, r.maxRelError);
    const score = Math.min(r.worst.relError / r.tolerance.rtol, r.worst.absError / r.tolerance.atol);
    if (score > worstScore) {
      worstScore = score;
      worst = { ...r.worst, check: c.name };
    }
  }
  return { ok: checks.every((c) => c.ok), ...(label !== undefined ? { label } : {}), checks, worst, maxRelError: maxRel, options, tolerance };
};

// ---- formatting -------------------------------------------------------------------------------------------

const num = (v: number): string => (Number.isFinite(v) ? (v === 0 ? "0" : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(6) : v.toExponential(2)) : String(v));

const describeReport = (r: GradReport, what: string): string => {
  const entries = r.entriesChecked === r.entriesTotal ? `${r.entriesChecked} entries` : `${r.entriesChecked} of ${r.entriesTotal} entries`;
  const verdict = r.ok ? entries : `${r.failures} of ${entries} outside tolerance`;
  const w = r.worst ? `; worst ${r.worst.path}[${r.worst.multiIndex.join(",")}] ${num(r.worst.analytic)} vs ${num(r.worst.numeric)} (rel ${num(r.worst.relError)})` : "";
  return `${what}: ${verdict} (rtol ${num(r.tolerance.rtol)}, atol ${num(r.tolerance.atol)})${w}`;
};

/** The report as a small table: one line per check, verdict first, then the worst entry overall. */
export const formatCellReport = (r: CellReport): string => {
  const o = r.options;
  const head = `${r.label ? `checkCell(${r.label})` : "checkCell"}: ${r.ok ? "ok" : `FAIL (${r.checks.filter((c) => !c.ok).length} of ${r.checks.length} checks)`} — T=${o.steps} B=${o.batch} D=${o.inputSize} H=${o.hiddenSize}, seed ${o.seed}, float64, eps ${num(r.tolerance.eps)} rtol ${num(r.tolerance.rtol)} atol ${num(r.tolerance.atol)}`;
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const lines = r.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"}  ${c.name.padEnd(width)}  ${c.maxRelError !== undefined ? `max rel ${num(c.maxRelError).padEnd(9)} ` : ""}${c.detail}`);
  const w = r.worst ? [`  worst entry: ${r.worst.check}, ${r.worst.path}[${r.worst.multiIndex.join(",")}] ${num(r.worst.analytic)} vs ${num(r.worst.numeric)} (rel ${num(r.worst.relError)}, abs ${num(r.worst.absError)})`] : [];
  return [head, ...lines, ...w].join("\n");
};
