/**
 * Stateless building blocks with explicit parameters: an affine (dense) layer, an embedding lookup and
 * inverted dropout. Each layer is `{ init(key, ...) => params, apply(params, input) }`.
 */
import { ArgumentError, ShapeError, fmtShape } from "../core/errors.js";
import { describe } from "../core/shape.js";
import { zeros, type DType, type Tensor } from "../core/tensor.js";
import { bernoulli, type Key } from "../core/random.js";
import { add, mul } from "../autograd/primitives/binary.js";
import { matmul } from "../autograd/primitives/matmul.js";
import { gather, type Indices } from "../autograd/primitives/shape.js";
import { expectTensor } from "../autograd/primitives/operand.js";
import { glorotUniform, normalInit } from "./init.js";

/** Parameters of `dense`: W `[inputSize, outputSize]` and b `[outputSize]`. */
export interface DenseParams {
  readonly W: Tensor;
  readonly b: Tensor;
}

const size = (op: string, name: string, v: unknown): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new ArgumentError(op, name, `must be a positive integer, got ${describe(v)}`);
  return v;
};

/**
 * `dense.apply({ W, b }, x) = x W + b` over the last axis of `x` `[..., inputSize]` → `[..., outputSize]`
 * (the course's `W_ya a + b_y` with row vectors, so W is stored transposed: `[in, out]`).
 */
export const dense = {
  /** W ~ glorotUniform, b = 0. */
  init(key: Key, inputSize: number, outputSize: number, dtype: DType = "float32"): DenseParams {
    size("dense.init", "inputSize", inputSize);
    size("dense.init", "outputSize", outputSize);
    return { W: glorotUniform(key, [inputSize, outputSize], dtype), b: zeros([outputSize], dtype) };
  },
  /** `x W + b`. */
  apply(params: DenseParams, x: Tensor): Tensor {
    const op = "dense.apply";
    if (params === null || typeof params !== "object") throw new ArgumentError(op, "params", `must be { W, b } from dense.init, got ${describe(params)}`);
    const W = expectTensor(op, "params.W", params.W);
    const b = expectTensor(op, "params.b", params.b);
    expectTensor(op, "x", x);
    if (W.shape.length !== 2 || b.shape.length !== 1 || b.shape[0] !== W.shape[1])
      throw new ShapeError(op, [W.shape, b.shape], `params need W [in, out] and b [out], got W ${fmtShape(W.shape)} and b ${fmtShape(b.shape)}`);
    if (x.shape.length === 0 || x.shape[x.shape.length - 1] !== W.shape[0])
      throw new ShapeError(op, [x.shape, W.shape], `x ${fmtShape(x.shape)} must end in the input size ${W.shape[0]} (W is ${fmtShape(W.shape)})`);
    return add(matmul(x, W), b);
  },
};

/** Parameters of `embedding`: E `[vocabSize, dim]`, one row per token (the course's E, transposed). */
export interface EmbeddingParams {
  readonly E: Tensor;
}

/**
 * `embedding.apply({ E }, idx) = E[idx]` `[...idx.shape, dim]`: a row lookup, equal to `oneHot(idx, V) E`; its
 * gradient is the scatter-add of the incoming rows into E (repeated tokens add up).
 */
export const embedding = {
  /** E ~ N(0, 1), as PyTorch's nn.Embedding. */
  init(key: Key, vocabSize: number, dim: number, dtype: DType = "float32"): EmbeddingParams {
    size("embedding.init", "vocabSize", vocabSize);
    size("embedding.init", "dim", dim);
    return { E: normalInit(1)(key, [vocabSize, dim], dtype) };
  },
  /** `E[indices]`. */
  apply(params: EmbeddingParams, indices: Indices): Tensor {
    const op = "embedding.apply";
    if (params === null || typeof params !== "object") throw new ArgumentError(op, "params", `must be { E } from embedding.init, got ${describe(params)}`);
    const E = expectTensor(op, "params.E", params.E);
    if (E.shape.length !== 2) throw new ShapeError(op, [E.shape], `E must be [vocabSize, dim], got ${fmtShape(E.shape)}`);
    return gather(E, indices, 0);
  },
};

/**
 * `dropout(key, rate)(x) = x · m / (1 - rate)` with m ~ Bernoulli(1 - rate) elementwise (inverted dropout: the
 * expectation is x, so nothing changes at test time). rate 0 is the identity. The mask depends only on the key
 * and x's shape: the same function applied at every time step drops the same units (variational dropout);
 * split the key for fresh masks.
 */
export const dropout = (key: Key, rate: number): ((x: Tensor) => Tensor) => {
  if (typeof rate !== "number" || !(rate >= 0 && rate < 1))
    throw new ArgumentError("dropout", "rate", `must be a number in [0, 1) (the fraction of units dropped), got ${describe(rate)}`);
  if (rate === 0) return (x) => expectTensor("dropout", "x", x);
  return (x) => {
    expectTensor("dropout", "x", x);
    const keep = bernoulli(key, 1 - rate, x.shape, x.dtype); // a constant: no gradient flows to the mask
    return mul(x, mul(keep, 1 / (1 - rate)));
  };
};
