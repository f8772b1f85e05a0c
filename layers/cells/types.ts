/**
 * The cell contract (DESIGN.md), the PyTorch state-dict types, and the pieces every library cell shares:
 * the fused affine map `v Wᵀ + b`, boundary validation that collects every problem, and the initializer.
 *
 * A cell is a pure function of one time step, `step(params, carry, x) => [carry, y]`, plus `init` and
 * `initialCarry`. Nothing here loops over time: `scan` does that, and BPTT is `grad` through `scan`.
 */
import * as E from "fp-ts/lib/Either.js";
import * as RA from "fp-ts/lib/ReadonlyArray.js";
import { sequenceS } from "fp-ts/lib/Apply.js";
import { pipe } from "fp-ts/lib/function.js";
import { ArgumentError, ShapeError, fmtShape } from "../../core/errors.js";
import { describe } from "../../core/shape.js";
import { isTensor, tensor, zeros, type DType, type NestedArray, type Tensor } from "../../core/tensor.js";
import { uniform, type Key } from "../../core/random.js";
import { affine as fusedAffine, type AffineActivation } from "../../autograd/primitives/fused.js";

export type { AffineActivation };

export type { Key };

/**
 * A recurrent cell: `step(params, carry, x<t>) => [carry<t>, y<t>]` for one time step over a batch.
 * `x` is `[B, D]`; the library cells carry `a` `[B, H]` (rnn, gru) or `{ a, c }` (lstm) and output `y = a<t>`.
 * Any object of this shape is a cell: `scan`, `rnn`, `bidirectional` and `stacked` need nothing more.
 */
export interface Cell<P = any, C = any, Y = Tensor> {
  /** Fresh parameters for inputs of size D and hidden size H (explicit key, default dtype float32). */
  readonly init: (key: Key, inputSize: number, hiddenSize: number, dtype?: DType) => P;
  /** The carry before the first step: zeros for a batch of `batch` sequences. */
  readonly initialCarry: (params: P, batch: number) => C;
  /** One time step; pure: same inputs, same outputs, inputs untouched. */
  readonly step: (params: P, carry: C, x: Tensor) => readonly [C, Y];
  /** Parameters from a `torch.nn.RNNCell` / `GRUCell` / `LSTMCell` state dict (library cells). */
  readonly fromTorch?: (stateDict: TorchStateDict, dtype?: DType) => P;
  /** Parameters (or, with `{ gradient: true }`, their gradient) as a PyTorch state dict. */
  readonly toTorch?: (params: P, options?: ToTorchOptions) => TorchTensors;
}

/** A cell that also speaks PyTorch state dicts (every library cell). */
export interface TorchCell<P, C> extends Cell<P, C, Tensor> {
  readonly fromTorch: (stateDict: TorchStateDict, dtype?: DType) => P;
  readonly toTorch: (params: P, options?: ToTorchOptions) => TorchTensors;
}

/** A PyTorch cell state dict: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` as nested number arrays or tensors. */
export type TorchStateDict = { readonly [name: string]: Tensor | NestedArray };
/** What `toTorch` returns: the four PyTorch entries as tensors. */
export type TorchTensors = {
  readonly weight_ih: Tensor;
  readonly weight_hh: Tensor;
  readonly bias_ih: Tensor;
  readonly bias_hh: Tensor;
};

/** Options of `toTorch`. */
export interface ToTorchOptions {
  /**
   * Map a gradient instead of parameters. The course form has one bias `b = bias_ih + bias_hh`; as a
   * parameter it goes to `bias_ih` (with `bias_hh = 0`, so `fromTorch(toTorch(p))` is `p`), but as a
   * gradient it goes to both, since `∂L/∂bias_ih = ∂L/∂bias_hh = ∂L/∂b`.
   */
  readonly gradient?: boolean;
}

/** A state dict or parameter tree with problems; `problems` lists every one of them, not just the first. */
export class StateDictError extends ArgumentError {
  readonly problems: readonly string[];
  constructor(op: string, argument: string, problems: readonly string[]) {
    super(op, argument, `has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n  - ${problems.join("\n  - ")}`);
    this.problems = problems;
  }
}

// ---- validation ----------------------------------------------------------------------------------------

/** Either a value or every problem found while reading it. */
export type Checked<A> = E.Either<readonly string[], A>;

/** Validation that accumulates problems (fp-ts applicative validation). */
const V = E.getApplicativeValidation(RA.getSemigroup<string>());
/** `collect({ a: Checked<A>, b: Checked<B> })`: both values, or the problems of both. */
export const collect = sequenceS(V);

/** Throws a StateDictError listing every problem, or returns the value. */
export const orThrowAll = <A>(op: string, argument: string, c: Checked<A>): A => {
  if (E.isLeft(c)) throw new StateDictError(op, argument, c.left);
  return c.right;
};

/**
 * The shapes a cell's params must have, in units of H and D: `{ W: [4, "H+D"], b: [4] }` means
 * `W` `[4H, H + D]` and `b` `[4H]`. The first entry fixes H (from its rows) and D.
 */
export type ParamSpec = { readonly [name: string]: readonly [number, "H+D" | "D" | "H"] | readonly [number] };

/** Hidden size, input size and dtype of a valid parameter record. */
export interface ParamInfo {
  readonly H: number;
  readonly D: number;
  readonly dtype: DType;
}

/** Checks params against a spec, collecting every problem (missing or extra keys, shapes, dtypes). */
export const checkParams = (p: unknown, spec: ParamSpec): Checked<ParamInfo> => {
  const names = Object.keys(spec);
  if (p === null || typeof p !== "object" || isTensor(p) || Array.isArray(p))
    return E.left([`must be a record of tensors with keys ${names.join(", ")}, got ${describe(p)}`]);
  const rec = p as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(rec)) if (!(k in spec)) problems.push(`unexpected key ${k} (expected ${names.join(", ")})`);
  const show = ([k, c]: readonly [number, string?]) => `[${k === 1 ? "" : k}H${c === undefined ? "" : `, ${c === "H+D" ? "H + D" : c}`}]`;
  let H = -1, D = -1, dtype: DType | undefined, first = "";
  for (const name of names) {
    const s = spec[name]!;
    const v = rec[name];
    if (v === undefined) {
      problems.push(`${name} is missing (expected shape ${show(s)})`);
      continue;
    }
    if (!isTensor(v)) {
      problems.push(`${name} must be a Tensor of shape ${show(s)}, got ${describe(v)}`);
      continue;
    }
    if (dtype === undefined) [dtype, first] = [v.dtype, name];
    else if (v.dtype !== dtype) problems.push(`${name} is ${v.dtype} but ${first} is ${dtype}; cast them to one dtype`);
    const rows = v.shape[0];
    if (H < 0 && v.shape.length === s.length && rows !== undefined && rows % s[0] === 0 && rows > 0) {
      H = rows / s[0];
      const c = s[1], cols = v.shape[1];
      if (c !== undefined && cols !== undefined) D = c === "H+D" ? cols - H : c === "D" ? cols : D;
    }
    const want = s.length === 1 ? [s[0] * H] : [s[0] * H, s[1] === "H+D" ? H + D : s[1] === "D" ? D : H];
    if (H < 1 || D < 1 || v.shape.length !== want.length || v.shape.some((d, i) => d !== want[i]))
      problems.push(`${name} has shape ${fmtShape(v.shape)}, expected ${show(s)}${H >= 1 && D >= 1 ? ` = ${fmtShape(want)} (H = ${H}, D = ${D})` : ""}`);
  }
  return problems.length ? E.left(problems) : E.right({ H, D, dtype: dtype! });
};

/**
 * The last valid record seen per params object, with the tensors it held: `scan` calls `step` with the same
 * params at every time step, and tensors are immutable, so the same spec and the same tensor under every
 * key (and no other key) means the same shapes and dtypes. Anything else is checked again.
 */
const checked = new WeakMap<object, { readonly spec: ParamSpec; readonly values: readonly unknown[]; readonly info: ParamInfo }>();

const stillValid = (p: object, spec: ParamSpec): ParamInfo | undefined => {
  const hit = checked.get(p);
  if (hit === undefined || hit.spec !== spec) return undefined;
  const names = Object.keys(p);
  if (names.length !== hit.values.length) return undefined;
  const rec = p as Record<string, unknown>;
  let i = 0;
  for (const name in spec) if (rec[name] !== hit.values[i++]) return undefined;
  return hit.info;
};

/** `checkParams`, throwing a StateDictError that lists every problem. */
export const paramInfo = (op: string, p: unknown, spec: ParamSpec): ParamInfo => {
  const isRecord = p !== null && typeof p === "object";
  const hit = isRecord ? stillValid(p, spec) : undefined;
  if (hit !== undefined) return hit;
  const info = orThrowAll(op, "params", checkParams(p, spec));
  if (isRecord) checked.set(p, { spec, values: Object.keys(spec).map((k) => (p as Record<string, unknown>)[k]), info });
  return info;
};

/** Checks a positive integer size argument (`inputSize`, `hiddenSize`, `batch`). */
export const expectSize = (op: string, argument: string, n: unknown, min = 1): number => {
  if (typeof n !== "number" || !Number.isInteger(n) || n < min)
    throw new ArgumentError(op, argument, `must be an integer >= ${min}, got ${describe(n)}`);
  return n;
};

/** Checks the carry and input of one step: `x` `[B, D]`, every carry tensor `[B, H]`. */
export const checkStep = (op: string, x: unknown, D: number, H: number, carry: Record<string, unknown>): void => {
  if (!isTensor(x)) throw new ArgumentError(op, "x", `must be a Tensor of shape [B, ${D}], got ${describe(x)}`);
  if (x.shape.length !== 2 || x.shape[1] !== D)
    throw new ShapeError(op, [x.shape], `x must have shape [B, ${D}] (batch, input size), got ${fmtShape(x.shape)}; scan feeds a step one time slice of a time-major [T, B, D] input`);
  const B = x.shape[0]!;
  for (const [name, c] of Object.entries(carry)) {
    if (!isTensor(c)) throw new ArgumentError(op, `carry ${name}`, `must be a Tensor of shape [${B}, ${H}], got ${describe(c)}`);
    if (c.shape.length !== 2 || c.shape[0] !== B || c.shape[1] !== H)
      throw new ShapeError(op, [c.shape, x.shape], `carry ${name} must have shape [${B}, ${H}] (batch of x, hidden size), got ${fmtShape(c.shape)} with x ${fmtShape(x.shape)}`);
    if (c.dtype !== x.dtype) throw new ArgumentError(op, `carry ${name}`, `is ${c.dtype} but x is ${x.dtype}`);
  }
};

// ---- PyTorch state dicts -------------------------------------------------------------------------------

const TORCH_KEYS = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] as const;

/** A torch cell's four entries as tensors, with its hidden size H and input size D. */
export type TorchEntries = TorchTensors & {
  readonly H: number;
  readonly D: number;
};

const readEntry = (name: string, v: unknown, dtype: DType): Checked<Tensor> => {
  if (v === undefined) return E.left([`${name} is missing`]);
  if (!isTensor(v) && !Array.isArray(v)) return E.left([`${name} must be nested number arrays or a Tensor, got ${describe(v)}`]);
  try {
    return E.right(tensor(v as Tensor | NestedArray, { dtype }));
  } catch (e) {
    return E.left([`${name}: ${(e as Error).message}`]);
  }
};

/**
 * Reads a `torch.nn.{RNN,GRU,LSTM}Cell` state dict with `gates` row blocks (1, 3, 4): `weight_ih` `[gH, D]`,
 * `weight_hh` `[gH, H]`, `bias_ih` and `bias_hh` `[gH]` (both absent for `bias=False`). Collects every problem.
 */
export const readTorchStateDict = (op: string, sd: unknown, gates: number, dtype?: DType): TorchEntries => {
  if (sd === null || typeof sd !== "object" || Array.isArray(sd) || isTensor(sd))
    throw new ArgumentError(op, "stateDict", `must be an object with keys ${TORCH_KEYS.join(", ")}, got ${describe(sd)}`);
  const dict = sd as Record<string, unknown>;
  const firstTensor = TORCH_KEYS.map((k) => dict[k]).find(isTensor);
  const dt: DType = dtype ?? firstTensor?.dtype ?? "float32";
  const noBias = dict["bias_ih"] === undefined && dict["bias_hh"] === undefined;
  const extra: Checked<null> = pipe(Object.keys(dict).filter((k) => !(TORCH_KEYS as readonly string[]).includes(k)), (ks) =>
    ks.length === 0
      ? E.right(null)
      : E.left(
          ks.map((k) =>
            /_l\d+(_reverse)?$/.test(k)
              ? `unexpected key ${k}: this looks like a torch.nn.RNN/GRU/LSTM (layer) state dict; take one layer's entries and drop the _l0 suffix`
              : `unexpected key ${k} (a torch cell state dict has ${TORCH_KEYS.join(", ")})`,
          ),
        ),
  );
  const entries = {
    weight_ih: readEntry("weight_ih", dict["weight_ih"], dt),
    weight_hh: readEntry("weight_hh", dict["weight_hh"], dt),
    bias_ih: noBias ? E.right(null) : readEntry("bias_ih", dict["bias_ih"], dt),
    bias_hh: noBias ? E.right(null) : readEntry("bias_hh", dict["bias_hh"], dt),
  };
  const got = (c: Checked<Tensor | null>): Tensor | null => (E.isRight(c) ? c.right : null);
  const ih = got(entries.weight_ih), hh = got(entries.weight_hh);
  // Shape problems of the entries that could be read, reported alongside the missing and unreadable ones.
  const shapes: string[] = [];
  const hhOk = hh !== null && hh.shape.length === 2 && hh.shape[1]! >= 1 && hh.shape[0] === gates * hh.shape[1]!;
  const H = hhOk ? hh.shape[1]! : -1;
  const rows = H >= 1 ? `${gates * H}` : `${gates}H`;
  if (hh !== null && !hhOk)
    shapes.push(`weight_hh has shape ${fmtShape(hh.shape)}, expected [${gates === 1 ? "" : gates}H, H] (hidden size H${gates > 1 ? `; ${gates} gates stacked by rows` : ""})`);
  if (ih !== null && (ih.shape.length !== 2 || ih.shape[1]! < 1 || ih.shape[0]! % gates !== 0 || ih.shape[0]! < 1 || (H >= 1 && ih.shape[0] !== gates * H)))
    shapes.push(`weight_ih has shape ${fmtShape(ih.shape)}, expected [${rows}, D] (D = input size${H >= 1 ? `, rows as weight_hh ${fmtShape(hh!.shape)}` : ""})`);
  for (const k of ["bias_ih", "bias_hh"] as const) {
    const b = got(entries[k]);
    if (b !== null && (b.shape.length !== 1 || b.shape[0]! % gates !== 0 || b.shape[0]! < 1 || (H >= 1 && b.shape[0] !== gates * H))) shapes.push(`${k} has shape ${fmtShape(b.shape)}, expected [${rows}]`);
  }
  const checked = pipe(
    collect({ ...entries, extra, shapes: shapes.length ? E.left(shapes) : E.right(null) }),
    E.map(({ weight_ih, weight_hh, bias_ih, bias_hh }): TorchEntries => ({
      weight_ih,
      weight_hh,
      bias_ih: bias_ih ?? zeros([gates * H], dt),
      bias_hh: bias_hh ?? zeros([gates * H], dt),
      H,
      D: weight_ih.shape[1]!,
    })),
  );
  return orThrowAll(op, "stateDict", checked);
};

// ---- the fused affine map --------------------------------------------------------------------------------

/**
 * `affine(v, W, b, g = identity) = g(v Wᵀ + b)` for `v` `[B, K]`, `W` `[N, K]`, `b` `[N]`: one matmul for all
 * gates of a cell. It is one primitive (autograd/primitives/fused.ts): one tape entry holding only `v`, `W`,
 * `b` and the result, `Wᵀ` computed once per weight tensor, the bias (and g = tanh | relu) applied to the
 * fresh product. Its VJP is written with differentiable ops, so `grad(grad(...))` goes through it:
 * dz = dy g'(z), dv = dz W, dW = dzᵀ v, db = Σ_batch dz. `v` may be the list `[a<t-1>, x<t>]`: joined inside, and a
 * constant `x<t>` gets no gradient computed.
 */
export const affine: (v: Tensor | readonly Tensor[], W: Tensor, b: Tensor, activation?: AffineActivation) => Tensor = fusedAffine;

// ---- initialisation ------------------------------------------------------------------------------------

/** `W ~ U(-1/√H, 1/√H)`, PyTorch's default for its recurrent cells. */
export const uniformWeight = (key: Key, shape: readonly number[], H: number, dtype: DType): Tensor => {
  const k = 1 / Math.sqrt(H);
  return uniform(key, shape, { dtype, low: -k, high: k });
};
