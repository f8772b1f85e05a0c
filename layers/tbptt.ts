/**
 * Truncated backpropagation through time, for training on texts too long to unroll at once.
 *
 * A time-major stream (any tree of `[T, …]` tensors: inputs `[T, B, D]`, targets `[T, B]`, a mask) is cut into
 * chunks of K steps. Chunk i runs from the carry chunk i-1 ended with, but that carry enters through
 * `stopGradient`: the forward pass sees the whole history (the LM's state flows on across the text), the
 * backward pass stops at the chunk boundary. So memory is O(K) however long the text is, and
 *
 *   grads_i = ∂L_i(params, sg(carry<t_i>), chunk_i) / ∂params,   carry<t_{i+1}> = sg(carry out of chunk i)
 *
 * (sg = stopGradient). `tbpttStep` does one chunk (update the params between chunks with any optimizer);
 * `tbpttGrads` runs every chunk with the params fixed and sums the chunk gradients; `timeChunks` does the
 * cutting. The chunk loss is yours: `(params, carry, chunk) => [loss, carryOut]`, usually a `scan` of a
 * cell over `chunk`, a projection and `sequenceLoss`.
 */
import { ArgumentError, ShapeError, fmtShape } from "../core/errors.js";
import { describe } from "../core/shape.js";
import { isTensor, type Tensor } from "../core/tensor.js";
import { add, slice, stopGradient, valueAndGrad } from "../autograd/index.js";
import { assertTensorTree, flatten, map, unflatten, type Tree, type TreeDef } from "../autograd/tree.js";

/** The loss of one chunk: `(params, carry entering the chunk, chunk) => [L_chunk (a scalar), carry leaving it]`. */
export type ChunkLoss<P, C, D> = (params: P, carry: C, chunk: D) => readonly [Tensor, C];

/** One chunk of a time-major stream: steps `start … start + length - 1`, every leaf sliced to `[length, …]`. */
export interface TimeChunk<D> {
  readonly index: number;
  readonly start: number;
  readonly length: number;
  readonly data: D;
}

/** What one chunk gives: its loss, the gradient of that loss w.r.t. the params, and the detached carry. */
export interface TbpttStepResult<P, C> {
  readonly loss: Tensor;
  /** `∂L_chunk/∂params` with the entering carry held constant (the same tree shape as the params). */
  readonly grads: P;
  /** The carry leaving the chunk, through `stopGradient`: pass it to the next chunk. */
  readonly carry: C;
}

/** What `tbpttGrads` gives: every chunk's loss, the sum of the chunk gradients, and the final carry. */
export interface TbpttGradsResult<P, C> {
  readonly losses: readonly Tensor[];
  /** `Σ_i ∂L_i/∂params`: the truncated-BPTT gradient of `Σ_i L_i`. */
  readonly grads: P;
  readonly carry: C;
}

const expectChunkLength = (op: string, K: unknown): number => {
  if (typeof K !== "number" || !Number.isInteger(K) || K < 1)
    throw new ArgumentError(op, "K", `must be a positive integer (time steps per chunk), got ${describe(K)}`);
  return K;
};

/** The number of time steps T shared by every leaf of `data` (time-major, axis 0). */
const timeLength = (op: string, data: unknown): number => {
  assertTensorTree(op, "data", data);
  const { leaves, paths } = flatten(data as Tree);
  if (leaves.length === 0) throw new ArgumentError(op, "data", "has no tensors; pass a time-major [T, B, …] tensor or a tree of them");
  const T = leaves[0]!.shape[0];
  leaves.forEach((l, i) => {
    if (l.shape.length === 0 || l.shape[0] !== T)
      throw new ShapeError(op, leaves.map((x) => x.shape),
        `every data tensor must be time-major with the same T on axis 0; data${paths[i] ? ` ${paths[i]}` : ""} has shape ${fmtShape(l.shape)}${i > 0 ? ` but data${paths[0] ? ` ${paths[0]}` : ""} has T = ${T}` : ""}`);
  });
  if (T === undefined || T === 0) throw new ShapeError(op, [leaves[0]!.shape], "data has T = 0 time steps; there is nothing to cut into chunks");
  return T;
};

const chunkAt = <D>(leaves: readonly Tensor[], def: TreeDef, index: number, start: number, length: number): TimeChunk<D> => ({
  index, start, length,
  data: unflatten(def, leaves.map((l) => slice(l, [start, ...l.shape.slice(1).map(() => 0)], [length, ...l.shape.slice(1)]))) as D,
});

/** `timeChunks(data, K)`: chunks `data[iK : min((i+1)K, T)]` of a tree of time-major tensors, in time order (the last may be shorter). */
export const timeChunks = <D>(data: D, K: number): TimeChunk<D>[] => {
  const k = expectChunkLength("timeChunks", K);
  const T = timeLength("timeChunks", data);
  const { leaves, def } = flatten(data as Tree);
  const chunks: TimeChunk<D>[] = [];
  for (let start = 0; start < T; start += k) chunks.push(chunkAt(leaves, def, chunks.length, start, Math.min(k, T - start)));
  return chunks;
};

const runChunk = <P, C, D>(op: string, chunkLoss: ChunkLoss<P, C, D>, params: P, carry: C, chunk: D): TbpttStepResult<P, C> => {
  // the carry comes in detached, whatever the caller passed: no gradient crosses into the previous chunk
  const carryIn = stopGradient(carry as Tree) as C;
  const [[loss, carryOut], grads] = valueAndGrad((p: P) => {
    const r = chunkLoss(p, carryIn, chunk);
    if (!Array.isArray(r) || r.length !== 2 || !isTensor(r[0]))
      throw new ArgumentError(op, "chunkLoss", `must return [loss, carry] with a scalar Tensor loss, got ${describe(r)}`);
    assertTensorTree(op, "the carry returned by chunkLoss", r[1]);
    return [r[0], r[1]];
  }, { hasAux: true })(params) as [[Tensor, C], P];
  return { loss, grads, carry: stopGradient(carryOut as Tree) as C };
};

/**
 * `tbpttStep(chunkLoss)(params, carry, chunk) => { loss, grads, carry }`: `L = chunkLoss(params, sg(carry), chunk)`,
 * `grads = ∂L/∂params`, and the carry out of the chunk through `stopGradient`.
 */
export const tbpttStep = <P, C, D>(chunkLoss: ChunkLoss<P, C, D>) => {
  if (typeof chunkLoss !== "function")
    throw new ArgumentError("tbpttStep", "chunkLoss", `must be a function (params, carry, chunk) => [loss, carry], got ${describe(chunkLoss)}`);
  return (params: P, carry: C, chunk: D): TbpttStepResult<P, C> => {
    assertTensorTree("tbpttStep", "carry", carry);
    return runChunk("tbpttStep", chunkLoss, params, carry, chunk);
  };
};

/**
 * `tbpttGrads(chunkLoss, params, carry0, data, K)`: chunks of K steps run in order with fixed params, each from
 * the previous chunk's detached carry; `grads = Σ_i ∂L_i/∂params` (truncated BPTT), memory O(K) in T.
 */
export const tbpttGrads = <P, C, D>(chunkLoss: ChunkLoss<P, C, D>, params: P, carry0: C, data: D, K: number): TbpttGradsResult<P, C> => {
  if (typeof chunkLoss !== "function")
    throw new ArgumentError("tbpttGrads", "chunkLoss", `must be a function (params, carry, chunk) => [loss, carry], got ${describe(chunkLoss)}`);
  assertTensorTree("tbpttGrads", "carry0", carry0);
  const k = expectChunkLength("tbpttGrads", K);
  const T = timeLength("tbpttGrads", data);
  const { leaves, def } = flatten(data as Tree);
  const losses: Tensor[] = [];
  let carry = carry0;
  let total: Tree | undefined;
  // one chunk sliced at a time, so only the current chunk's copy and tape are alive
  for (let start = 0; start < T; start += k) {
    const chunk = chunkAt<D>(leaves, def, losses.length, start, Math.min(k, T - start));
    const r = runChunk("tbpttGrads", chunkLoss, params, carry, chunk.data);
    losses.push(r.loss);
    total = total === undefined ? (r.grads as Tree) : map((a: Tensor, b: Tensor) => add(a, b), total, r.grads as Tree);
    carry = r.carry;
  }
  return { losses, grads: total as P, carry };
};
