/**
 * The tape and the one place every primitive runs through (`bind`).
 *
 * A tape is a flat array of entries appended in execution order while a transform runs; execution order is
 * already a valid order for the backward pass, which is one reverse loop (see `transforms.ts`). Tapes stack
 * for nested transforms: each has its own set of watched tensor ids, and an op is recorded on a tape only
 * when one of its inputs is watched by that tape. Outside every transform `bind` records nothing.
 *
 * A primitive may have several outputs (`bindMulti`: fused cell math returns a<t> and c<t> from one kernel);
 * its entry lists them all and its VJP gets one cotangent per output. A VJP rule may return an `OuterSum`
 * (a deferred `aᵀ b`) instead of a tensor, so a weight used at every time step is differentiated with one
 * product over all steps.
 */
import { NonFiniteError, ArgumentError } from "../core/errors.js";
import { dataOf, type Tensor } from "../core/tensor.js";

/**
 * A cotangent `Σ_i a_iᵀ b_i` of 2-D terms (`a_i` `[R_i, M]`, `b_i` `[R_i, N]`), kept as its terms by the backward
 * loop until the cotangent is read: a weight used at every time step then gets ONE product with inner size
 * `Σ R_i` (T·B) instead of T small products and T - 1 sums of weight-sized tensors. Rules return it for a
 * 2-D `aᵀ b` cotangent (`outerSum`); the loop turns it into a tensor with differentiable ops.
 */
export class OuterSum {
  readonly shape: readonly number[];
  readonly dtype: Tensor["dtype"];
  constructor(readonly a: Tensor, readonly b: Tensor) {
    this.shape = [a.shape[1]!, b.shape[1]!];
    this.dtype = a.dtype;
  }
}

/**
 * A cotangent that is `x` placed at `begin` in zeros of `shape` (a slice's VJP), kept as its term by the backward
 * loop until the cotangent is read: T slices of one `[T, B, G]` tensor then give ONE buffer with T blocks added
 * in (`padSum`), instead of T zero-padded `[T, B, G]` tensors and T - 1 full-size sums.
 */
export class PadSum {
  readonly dtype: Tensor["dtype"];
  constructor(readonly x: Tensor, readonly begin: readonly number[], readonly shape: readonly number[]) {
    this.dtype = x.dtype;
  }
}

/** What a VJP rule may return for one input: a tensor, or a deferred `aᵀ b` product or placed slice. */
export type Cotangent = Tensor | OuterSum | PadSum;

/** A VJP rule: one cotangent per input (or null for inputs with no gradient / not needed). */
export type VjpRule<P> = (dy: Tensor, inputs: readonly Tensor[], out: Tensor, params: P, needs: readonly boolean[]) => readonly (Cotangent | null)[];

/** The part of a primitive the tape needs. */
export interface Differentiable<P> {
  readonly name: string;
  readonly vjp: VjpRule<P>;
}

/**
 * A VJP rule of a primitive with several outputs (fused cell math returns `a` and `c` from one kernel): one
 * cotangent per input from one cotangent per output, `null` for an output no cotangent reached.
 */
export type MultiVjpRule<P> = (
  dys: readonly (Tensor | null)[], inputs: readonly Tensor[], outs: readonly Tensor[], params: P, needs: readonly boolean[],
) => readonly (Cotangent | null)[];

/** The part of a multi-output primitive the tape needs. */
export interface MultiDifferentiable<P> {
  readonly name: string;
  readonly vjpMulti: MultiVjpRule<P>;
}

/** One recorded op: `outs` is null for a single-output rule, else every output of a multi-output one (`out` is the first). */
export type TapeEntry =
  | { readonly rule: Differentiable<any>; readonly inputs: readonly Tensor[]; readonly out: Tensor; readonly outs: null; readonly params: unknown }
  | { readonly rule: MultiDifferentiable<any>; readonly inputs: readonly Tensor[]; readonly out: Tensor; readonly outs: readonly Tensor[]; readonly params: unknown };

export interface Tape {
  readonly level: number;
  readonly watched: Set<number>;
  readonly entries: TapeEntry[];
}

const active: Tape[] = [];

export const isRecording = (): boolean => active.length > 0;

/** The active tapes, innermost last: a read-only view for transforms that rewrite what they recorded (`checkpoint`). */
export const activeTapes = (): readonly Tape[] => active;

export const pushTape = (): Tape => {
  const t: Tape = { level: active.length, watched: new Set(), entries: [] };
  active.push(t);
  return t;
};

export const popTape = (t: Tape): void => {
  const top = active.pop();
  if (top !== t) throw new Error("seqgrad internal error: tapes popped out of order");
};

/** Runs `f` with every tape suspended (used by customVjp and stopGradient-like regions). */
export const withoutTapes = <A>(f: () => A): A => {
  const saved = active.splice(0, active.length);
  try {
    return f();
  } finally {
    active.push(...saved);
  }
};

const watchesAny = (tape: Tape, inputs: readonly Tensor[]): boolean => {
  for (let i = 0; i < inputs.length; i++) if (tape.watched.has(inputs[i]!.id)) return true;
  return false;
};

/**
 * Appends an entry to every active tape that watches one of `inputs`. The entry keeps its own copy of the
 * inputs array: `concat(parts)` must not change its recorded inputs when the caller later reuses `parts`.
 */
export const record = (rule: Differentiable<any>, inputs: readonly Tensor[], out: Tensor, params: unknown): void => {
  let own: readonly Tensor[] | null = null;
  for (let t = 0; t < active.length; t++) {
    const tape = active[t]!;
    if (!watchesAny(tape, inputs)) continue;
    own ??= inputs.slice();
    tape.entries.push({ rule, inputs: own, out, outs: null, params });
    tape.watched.add(out.id);
  }
};

/** `record` for a multi-output primitive: every output becomes watched. */
export const recordMulti = (rule: MultiDifferentiable<any>, inputs: readonly Tensor[], outs: readonly Tensor[], params: unknown): void => {
  let own: readonly Tensor[] | null = null;
  for (let t = 0; t < active.length; t++) {
    const tape = active[t]!;
    if (!watchesAny(tape, inputs)) continue;
    own ??= inputs.slice();
    tape.entries.push({ rule, inputs: own, out: outs[0]!, outs, params });
    for (let i = 0; i < outs.length; i++) tape.watched.add(outs[i]!.id);
  }
};

// ---- debugNans -------------------------------------------------------------------------------------------

let debugNansOn = false;
let backwardOf: string | null = null;

/** Turns debugNans mode on or off: every op then checks that finite inputs gave a finite output. */
export const setDebugNans = (on: boolean): void => {
  debugNansOn = on;
};
export const debugNansEnabled = (): boolean => debugNansOn;

/** Runs `f` with debugNans on, restoring the previous mode afterwards. */
export const withDebugNans = <A>(f: () => A): A => {
  const prev = debugNansOn;
  debugNansOn = true;
  try {
    return f();
  } finally {
    debugNansOn = prev;
  }
};

/** Marks the ops run by `f` as belonging to the backward pass of `name` (for debugNans messages). */
export const inBackwardOf = <A>(name: string, f: () => A): A => {
  const prev = backwardOf;
  backwardOf = name;
  try {
    return f();
  } finally {
    backwardOf = prev;
  }
};

const firstNonFinite = (t: Tensor): number => {
  const d = dataOf(t);
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return i;
  return -1;
};

const checkFinite = (name: string, inputs: readonly Tensor[], out: Tensor): void => {
  const j = firstNonFinite(out);
  if (j < 0) return;
  for (const x of inputs) if (firstNonFinite(x) >= 0) return; // not the first op to go non-finite
  const op = backwardOf === null ? name : `${name} (in the backward pass of ${backwardOf})`;
  throw new NonFiniteError(op, backwardOf === null ? "forward" : "backward", inputs.map((x) => x.shape), j, dataOf(out)[j]!);
};

/** A primitive: its forward kernel call and its VJP rule, side by side. */
export interface Primitive<P> extends Differentiable<P> {
  readonly forward: (inputs: readonly Tensor[], params: P) => Tensor;
}

/** Runs a primitive: forward kernel, optional NaN check, and a tape entry when a transform is watching. */
export const bind = <P>(prim: Primitive<P>, inputs: readonly Tensor[], params: P): Tensor => {
  const out = prim.forward(inputs, params);
  if (debugNansOn) checkFinite(prim.name, inputs, out);
  if (active.length !== 0) record(prim, inputs, out, params);
  return out;
};

/** A primitive with several outputs computed by one kernel; its VJP receives one cotangent (or null) per output. */
export interface MultiPrimitive<P> extends MultiDifferentiable<P> {
  readonly forwardMulti: (inputs: readonly Tensor[], params: P) => Tensor[];
}

/** `bind` for a multi-output primitive: forward kernel, optional NaN check per output, one tape entry for all outputs. */
export const bindMulti = <P>(prim: MultiPrimitive<P>, inputs: readonly Tensor[], params: P): Tensor[] => {
  const outs = prim.forwardMulti(inputs, params);
  if (debugNansOn) for (const out of outs) checkFinite(prim.name, inputs, out);
  if (active.length !== 0) recordMulti(prim, inputs, outs, params);
  return outs;
};

/** Dtype agreement for ops with several tensor operands. */
export const sameDType = (op: string, names: readonly string[], xs: readonly Tensor[]): void => {
  for (let i = 1; i < xs.length; i++)
    if (xs[i]!.dtype !== xs[0]!.dtype)
      throw new ArgumentError(
        op,
        `arguments ${names[0]} and ${names[i]}`,
        `have different dtypes (${xs[0]!.dtype} and ${xs[i]!.dtype}); convert one with cast(x, '${xs[0]!.dtype}')`,
      );
};
