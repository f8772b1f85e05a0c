/** Turning user arguments into tensors, and ops that carry no gradient (masks, comparisons). */
import { ArgumentError } from "../../core/errors.js";
import { describe } from "../../core/shape.js";
import { dataOf, fromData, isTensor, scalarLike, type DType, type Tensor } from "../../core/tensor.js";
import * as K from "../../core/kernels.js";
import { broadcastShapes, orThrow } from "../../core/shape.js";

export type TensorLike = Tensor | number;

/** Checks an argument is a Tensor; names the op and argument otherwise. */
export const expectTensor = (op: string, name: string, x: unknown): Tensor => {
  if (isTensor(x)) return x;
  throw new ArgumentError(op, `argument ${name}`, `must be a Tensor, got ${describe(x)}${Array.isArray(x) || typeof x === "number" ? " (wrap it with tensor(...))" : ""}`);
};

/** Converts tensor-or-number operands; a number takes the dtype of the first tensor operand. */
export const operands = (op: string, names: readonly string[], xs: readonly unknown[], fallback?: DType): Tensor[] => {
  let dtype: DType | undefined;
  for (const x of xs) if (isTensor(x)) { dtype = x.dtype; break; }
  return xs.map((x, i) => {
    if (isTensor(x)) return x;
    if (typeof x === "number") return scalarLike(x, dtype ?? fallback ?? "float32");
    throw new ArgumentError(op, `argument ${names[i]}`, `must be a Tensor or a number, got ${describe(x)}`);
  });
};

/** Elementwise unary kernel with no gradient (sign, step, isFinite...). */
export const constUnary = (op: K.UnaryOp, x: Tensor): Tensor => fromData(K.unary(op, dataOf(x), x.dtype), x.shape, x.dtype);

/** Comparison / binary kernel with no gradient, broadcasting. */
export const constBinary = (op: K.BinaryOp, a: Tensor, b: Tensor): Tensor => {
  const shape = orThrow(broadcastShapes(op, a.shape, b.shape));
  return fromData(K.binary(op, dataOf(a), a.shape, dataOf(b), b.shape, shape, a.dtype), shape, a.dtype);
};
