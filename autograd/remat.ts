/**
 * Rematerialisation: `checkpoint(f)` computes `f` but keeps none of its intermediate tensors on the tape; the
 * backward pass runs `f` again to get them (trading one extra forward for memory, like `jax.checkpoint`).
 *
 * How one call records itself:
 *  1. `f` runs with the active tapes recording as usual, so we learn which tensors it read that some tape
 *     watches: the inputs of the new entries that no new entry produced. They may be explicit arguments or
 *     tensors `f` closes over (a cell's parameters), which is why closures need no special care.
 *  2. Those new entries are cut off every tape again (and their outputs unwatched), so the intermediates
 *     become garbage as soon as `f` returns.
 *  3. The result leaves are packed into one vector, and ONE entry is recorded: inputs = the dependencies found
 *     in step 1, output = the packed vector. The caller gets the leaves back through differentiable
 *     `slice`/`reshape` of that vector, so the tape stays single-output.
 *  4. Its VJP runs `f` again under a fresh tape watching the needed dependencies, seeds the unpacked
 *     cotangent on the recomputed result, and runs the ordinary reverse loop of `transforms.ts` over it.
 *
 * Because the VJP is built from differentiable ops run while any outer tape is active, `grad(grad(·))`,
 * `jvp` and nested checkpoints go through it. `f` must be pure: the same inputs give the same result (so
 * randomness comes from explicit keys), and values leave `f` only through its result — a tensor smuggled
 * out in a variable is not on the tape any more and gets no gradient.
 */
import { ArgumentError, fmtShape } from "../core/errors.js";
import { allocData, dataOf, fromData, isTensor, zeros, type Tensor } from "../core/tensor.js";
import { activeTapes, bind, popTape, pushTape, record, type Differentiable, type Primitive, type Tape, type TapeEntry } from "./tape.js";
import { backward } from "./transforms.js";
import { add } from "./primitives/binary.js";
import { concat, reshape } from "./primitives/shape.js";
import { assertTensorTree, flatten, unflatten, type Tree, type TreeDef } from "./tree.js";

interface Packing {
  readonly shapes: readonly (readonly number[])[];
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
  readonly dtype: Tensor["dtype"];
  readonly total: number;
}

interface CheckpointParams {
  readonly f: (...args: any[]) => unknown;
  readonly args: readonly unknown[];
  readonly packing: Packing;
  readonly name: string;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Leaves of `f`'s result laid end to end in one flat vector (one dtype, so one buffer). */
const packingOf = (name: string, leaves: readonly Tensor[], paths: readonly string[]): Packing => {
  const dtype = leaves[0]!.dtype;
  const offsets: number[] = [], sizes: number[] = [];
  let total = 0;
  leaves.forEach((l, i) => {
    if (l.dtype !== dtype)
      throw new ArgumentError(name, "the function's result", `mixes dtypes: ${paths[0] || "(root)"} is ${dtype} but ${paths[i] || "(root)"} is ${l.dtype}; cast the leaves to one dtype inside the checkpointed function`);
    offsets.push(total);
    sizes.push(l.size);
    total += l.size;
  });
  return { shapes: leaves.map((l) => l.shape), offsets, sizes, dtype, total };
};

const describeLeaves = (leaves: readonly unknown[]): string =>
  `${leaves.length} leaves: ${leaves.map((l) => (isTensor(l) ? `${l.dtype}${fmtShape(l.shape)}` : typeof l)).join(" ")}`;

const pack = (leaves: readonly Tensor[], p: Packing): Tensor => {
  const d = allocData(p.dtype, p.total);
  leaves.forEach((l, i) => d.set(dataOf(l), p.offsets[i]!));
  return fromData(d, [p.total], p.dtype);
};

interface UnpackParams {
  readonly offset: number;
  readonly size: number;
  readonly shape: readonly number[];
  readonly total: number;
}

/**
 * Leaf i of a packed vector as a view (no copy: tensors are immutable, so sharing the buffer is safe).
 * d packed = [0 … 0, dy (flattened), 0 … 0], written with `concat` so it is differentiable again.
 */
const unpackView: Primitive<UnpackParams> = {
  name: "checkpoint.unpack",
  forward: ([packed], { offset, size, shape }) => fromData(dataOf(packed!).subarray(offset, offset + size), shape, packed!.dtype),
  vjp: (dy, _inputs, _out, { offset, size, total }) => {
    const parts = [zeros([offset], dy.dtype), reshape(dy, [size]), zeros([total - offset - size], dy.dtype)].filter((t) => t.size > 0);
    return [parts.length === 1 ? parts[0]! : concat(parts, 0)];
  },
};

/** Leaf i of a packed vector, through a recorded op (so its gradient reaches the packed entry). */
const unpackLeaf = (packed: Tensor, p: Packing, i: number): Tensor =>
  bind(unpackView, [packed], { offset: p.offsets[i]!, size: p.sizes[i]!, shape: p.shapes[i]!, total: p.total });

/** Every output of an entry (a multi-output entry lists them in `outs`). */
const outsOf = (entry: TapeEntry): readonly Tensor[] => (entry as { readonly outs?: readonly Tensor[] | null }).outs ?? [entry.out];

/**
 * Finds the tensors the entries recorded since `starts` read from outside (watched by their tape, produced by
 * none of them) plus result leaves passed through unchanged, then cuts those entries off every tape.
 */
const cutSegment = (tapes: readonly Tape[], starts: readonly number[], resultLeaves: readonly Tensor[]): Tensor[] => {
  const deps = new Map<number, Tensor>();
  tapes.forEach((tape, k) => {
    const start = starts[k]!;
    const entries = tape.entries;
    if (entries.length === start) {
      for (const l of resultLeaves) if (tape.watched.has(l.id)) deps.set(l.id, l);
      return;
    }
    const produced = new Set<number>();
    for (let e = start; e < entries.length; e++) {
      const entry = entries[e]!;
      for (const x of entry.inputs) if (!produced.has(x.id) && tape.watched.has(x.id) && !deps.has(x.id)) deps.set(x.id, x);
      for (const o of outsOf(entry)) produced.add(o.id);
    }
    for (const l of resultLeaves) if (!produced.has(l.id) && tape.watched.has(l.id)) deps.set(l.id, l);
    for (const id of produced) tape.watched.delete(id);
    entries.length = start;
  });
  return [...deps.values()];
};

/** Cuts whatever a failed call recorded, so an exception leaves the tapes as they were. */
const dropSegment = (tapes: readonly Tape[], starts: readonly number[]): void => {
  tapes.forEach((tape, k) => {
    const entries = tape.entries;
    for (let e = starts[k]!; e < entries.length; e++) {
      for (const o of outsOf(entries[e]!)) tape.watched.delete(o.id);
    }
    entries.length = Math.min(entries.length, starts[k]!);
  });
};

/**
 * The VJP of one checkpointed call: recompute `f` under a tape watching the needed inputs, seed the unpacked
 * cotangent, run the reverse loop. `dx_i = (∂ f(args) / ∂ input_i)ᵀ dy`, the same as without the checkpoint.
 */
const checkpointVjp = (dy: Tensor, inputs: readonly Tensor[], _out: Tensor, p: CheckpointParams, needs: readonly boolean[]): (Tensor | null)[] => {
  if (!needs.some(Boolean)) return inputs.map(() => null);
  const tape = pushTape();
  let result: unknown;
  try {
    inputs.forEach((x, i) => needs[i] && tape.watched.add(x.id));
    result = p.f(...p.args);
  } finally {
    popTape(tape);
  }
  const { leaves } = flatten(result as Tree);
  const pk = p.packing;
  const same = leaves.length === pk.shapes.length && leaves.every((l, i) => isTensor(l) && sameShape(l.shape, pk.shapes[i]!) && l.dtype === pk.dtype);
  if (!same)
    throw new ArgumentError(p.name, "f",
      `returned a different result when recomputed in the backward pass (${describeLeaves(leaves)} instead of ${pk.shapes.length} ${pk.dtype} leaves of shapes ${pk.shapes.map(fmtShape).join(" ")}); a checkpointed function must be pure`);
  const seeds = new Map<number, Tensor>();
  leaves.forEach((l, i) => {
    const c = unpackLeaf(dy, pk, i);
    const prev = seeds.get(l.id);
    seeds.set(l.id, prev === undefined ? c : add(prev, c));
  });
  const grads = backward(tape, seeds, inputs);
  return grads.map((g, i) => (needs[i] ? g : null));
};

/**
 * `checkpoint(f)`: the same function, `checkpoint(f)(...args) = f(...args)`, but under a transform only its
 * inputs and result stay on the tape; the backward pass recomputes `f` (memory O(result) instead of O(ops)).
 */
export const checkpoint = <F extends (...args: any[]) => any>(f: F, name = "checkpoint"): F => {
  if (typeof f !== "function") throw new ArgumentError(name, "f", `must be a function, got ${f === null ? "null" : Array.isArray(f) ? "an array" : typeof f}`);
  const rule: Differentiable<CheckpointParams> = { name, vjp: checkpointVjp };
  const wrapped = (...args: unknown[]): unknown => {
    args.forEach((a, i) => assertTensorTree(name, `argument ${i}`, a));
    const tapes = activeTapes().slice();
    if (tapes.length === 0) return f(...args); // nothing is recording: a plain call
    const starts = tapes.map((t) => t.entries.length);
    let result: unknown;
    try {
      result = f(...args);
      assertTensorTree(name, "the function's result", result);
    } catch (e) {
      dropSegment(tapes, starts);
      throw e;
    }
    const { leaves, paths, def } = flatten(result as Tree);
    const deps = cutSegment(tapes, starts, leaves);
    if (leaves.length === 0 || deps.length === 0) return result; // nothing here depends on a watched tensor
    const packing = packingOf(name, leaves, paths);
    const packed = pack(leaves, packing);
    record(rule, deps, packed, { f, args, packing, name } satisfies CheckpointParams);
    return unflatten(def as TreeDef, leaves.map((_, i) => unpackLeaf(packed, packing, i)));
  };
  return wrapped as F;
};
