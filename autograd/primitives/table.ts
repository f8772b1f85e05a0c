/**
 * Every primitive's name and parameters. The rule table in `rules.ts` is a mapped type over this interface,
 * so a primitive without a forward kernel or a VJP rule fails `tsc`.
 */
import type { Data } from "../../core/tensor.js";
import type { DType } from "../../core/tensor.js";
import type { MultiPrimitive, Primitive } from "../tape.js";

type None = Record<string, never>;

export interface PrimitiveParams {
  // unary.ts
  neg: None; exp: None; log: None; sqrt: None; tanh: None; sigmoid: None; relu: None; abs: None;
  tanhBwd: None; sigmoidBwd: None;
  identity: None; cast: { dtype: DType };
  // binary.ts
  add: None; sub: None; mul: None; div: None; pow: None; maximum: None; minimum: None; where: None;
  // reduce.ts
  sum: { axes: readonly number[]; keepDims: boolean }; max: { axes: readonly number[]; keepDims: boolean };
  broadcastTo: { shape: readonly number[] };
  // shape.ts
  reshape: { shape: readonly number[] }; transpose: { perm: readonly number[] };
  slice: { begin: readonly number[]; size: readonly number[] };
  pad: { begin: readonly number[]; shape: readonly number[] };
  padSum: { begins: readonly (readonly number[])[]; shape: readonly number[] };
  concat: { axis: number };
  gather: { axis: number; indices: Int32Array; indicesShape: readonly number[] };
  scatterAdd: { axis: number; indices: Int32Array; shape: readonly number[] };
  // matmul.ts
  matmul: { transA: boolean; transB: boolean }; outerSum: { later?: { result(): Data } };
  // fused.ts
  affine: { parts: number; activation: "identity" | "tanh" | "relu" }; matmulColumns: { c0: number; c1: number };
  softmaxCrossEntropyBwd: { targets: Int32Array };
}

export type PrimitiveName = keyof PrimitiveParams;

export type RuleTable = { readonly [K in PrimitiveName]: Primitive<PrimitiveParams[K]> & { readonly name: K } };

/** Primitives with several outputs (fused cell gate math): their names and parameters. */
export interface MultiPrimitiveParams {
  // fused.ts
  lstmPointwise: None; lstmPointwiseBwd: None;
  gruResetAfterPointwise: None; gruResetAfterPointwiseBwd: None;
  gruMinimalPointwise: None; gruMinimalPointwiseBwd: None;
  unstack: None; softmaxCrossEntropy: { targets: Int32Array };
}

export type MultiPrimitiveName = keyof MultiPrimitiveParams;

export type MultiRuleTable = { readonly [K in MultiPrimitiveName]: MultiPrimitive<MultiPrimitiveParams[K]> & { readonly name: K } };
