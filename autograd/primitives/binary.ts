/** Elementwise binary primitives with NumPy broadcasting; every VJP ends with `unbroadcast`. */
import * as K from "../../core/kernels.js";
import { broadcastShapes, orThrow } from "../../core/shape.js";
import { dataOf, fromData, isTensor, scalarLike, type Tensor } from "../../core/tensor.js";
import { bind, sameDType, type Primitive } from "../tape.js";
import type { RuleTable } from "./table.js";
import { constBinary, expectTensor, operands, type TensorLike } from "./operand.js";
import { unbroadcast } from "./reduce.js";
import { log, neg } from "./unary.js";

type BinaryName = "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum";

const kernel = (op: K.BinaryOp) => ([a, b]: readonly Tensor[]) => {
  const shape = orThrow(broadcastShapes(op, a!.shape, b!.shape));
  return fromData(K.binary(op, dataOf(a!), a!.shape, dataOf(b!), b!.shape, shape, a!.dtype), shape, a!.dtype);
};

/** Cotangents for (a, b), each summed back to its operand's shape; skipped where not needed. */
const both = (a: Tensor, b: Tensor, needs: readonly boolean[], da: () => Tensor, db: () => Tensor) => [
  needs[0] ? unbroadcast(da(), a.shape) : null,
  needs[1] ? unbroadcast(db(), b.shape) : null,
];

export const binaryRules = {
  // d(a + b) = da + db
  add: { name: "add", forward: kernel("add"), vjp: (dy, [a, b], _y, _p, n) => both(a!, b!, n, () => dy, () => dy) },
  // d(a - b) = da - db
  sub: { name: "sub", forward: kernel("sub"), vjp: (dy, [a, b], _y, _p, n) => both(a!, b!, n, () => dy, () => neg(dy)) },
  // d(a b) = b da + a db
  mul: { name: "mul", forward: kernel("mul"), vjp: (dy, [a, b], _y, _p, n) => both(a!, b!, n, () => mul(dy, b!), () => mul(dy, a!)) },
  // d(a / b) = da / b - (a / b²) db = da / b - y db / b
  div: {
    name: "div",
    forward: kernel("div"),
    vjp: (dy, [a, b], y, _p, n) => both(a!, b!, n, () => div(dy, b!), () => neg(div(mul(dy, y), b!))),
  },
  // d(aᵇ) = b aᵇ⁻¹ da + aᵇ log(a) db; the db term is taken as 0 where a <= 0 (log undefined), as JAX does
  pow: {
    name: "pow",
    forward: kernel("pow"),
    vjp: (dy, [a, b], y, _p, n) =>
      both(a!, b!, n,
        () => mul(dy, mul(b!, pow(a!, sub(b!, 1)))),
        () => {
          const pos = constBinary("greater", a!, scalarLike(0, a!.dtype));
          return mul(dy, where(pos, mul(y, log(where(pos, a!, 1))), 0));
        }),
  },
  // d max(a, b) = [a > b] da + [b > a] db, ties split evenly (as PyTorch and JAX)
  maximum: { name: "maximum", forward: kernel("maximum"), vjp: (dy, [a, b], _y, _p, n) => minmaxVjp(dy, a!, b!, n, "greater") },
  // d min(a, b) = [a < b] da + [b < a] db, ties split evenly
  minimum: { name: "minimum", forward: kernel("minimum"), vjp: (dy, [a, b], _y, _p, n) => minmaxVjp(dy, a!, b!, n, "less") },
} satisfies Pick<RuleTable, BinaryName>;

const minmaxVjp = (dy: Tensor, a: Tensor, b: Tensor, n: readonly boolean[], wins: "greater" | "less") => {
  const aWins = constBinary(wins, a, b);
  const tie = constBinary("equal", a, b);
  // weight of a: 1 where a wins, 1/2 on ties (constants: their inputs are not watched by any tape)
  const wA = add(constBinary(wins, a, b), mul(constBinary("equal", a, b), 0.5));
  return both(a, b, n, () => mul(dy, wA), () => mul(dy, sub(1, wA)));
};

export const whereRules = {
  // where(c, a, b): d = [c] da + [¬c] db; the condition has no gradient
  where: {
    name: "where",
    forward: ([c, a, b]) => {
      const s1 = orThrow(broadcastShapes("where", a!.shape, b!.shape));
      const shape = orThrow(broadcastShapes("where", c!.shape, s1));
      return fromData(K.where(dataOf(c!), c!.shape, dataOf(a!), a!.shape, dataOf(b!), b!.shape, shape, a!.dtype), shape, a!.dtype);
    },
    vjp: (dy, [c, a, b], _y, _p, n) => [
      null,
      n[1] ? unbroadcast(where(c!, dy, 0), a!.shape) : null,
      n[2] ? unbroadcast(where(c!, 0, dy), b!.shape) : null,
    ],
  },
} satisfies Pick<RuleTable, "where">;

const bin = (prim: Primitive<Record<string, never>>) => (a: TensorLike, b: TensorLike): Tensor => {
  const xs = operands(prim.name, ["a", "b"], [a, b]);
  sameDType(prim.name, ["a", "b"], xs);
  orThrow(broadcastShapes(prim.name, xs[0]!.shape, xs[1]!.shape));
  return bind(prim, xs, {});
};

/** `add(a, b) = a + b` (broadcasting) */
export const add = bin(binaryRules.add);
/** `sub(a, b) = a - b` (broadcasting) */
export const sub = bin(binaryRules.sub);
/** `mul(a, b) = a · b` elementwise (broadcasting) */
export const mul = bin(binaryRules.mul);
/** `div(a, b) = a / b` (broadcasting) */
export const div = bin(binaryRules.div);
/** `pow(a, b) = aᵇ` (broadcasting) */
export const pow = bin(binaryRules.pow);
/** `maximum(a, b) = max(a, b)` elementwise */
export const maximum = bin(binaryRules.maximum);
/** `minimum(a, b) = min(a, b)` elementwise */
export const minimum = bin(binaryRules.minimum);

/** `where(cond, a, b)`: `a` where `cond ≠ 0`, else `b` (all three broadcast). No gradient flows to `cond`. */
export const where = (cond: TensorLike, a: TensorLike, b: TensorLike): Tensor => {
  // numbers take the dtype of the tensor values, and the condition (a mask) is converted to it
  const fallback = isTensor(cond) ? cond.dtype : undefined;
  const [x, y] = operands("where", ["a", "b"], [a, b], fallback) as [Tensor, Tensor];
  sameDType("where", ["a", "b"], [x, y]);
  let c = operands("where", ["cond"], [cond], x.dtype)[0]!;
  if (c.dtype !== x.dtype) c = fromData(K.cast(dataOf(c), x.dtype), c.shape, x.dtype);
  const s1 = orThrow(broadcastShapes("where", x.shape, y.shape));
  orThrow(broadcastShapes("where", c.shape, s1));
  return bind(whereRules.where, [c, x, y], {});
};

/** `a > b` as 0/1 values (no gradient). */
export const greater = (a: TensorLike, b: TensorLike): Tensor => cmp("greater", a, b);
/** `a >= b` as 0/1 values (no gradient). */
export const greaterEqual = (a: TensorLike, b: TensorLike): Tensor => cmp("greaterEqual", a, b);
/** `a < b` as 0/1 values (no gradient). */
export const less = (a: TensorLike, b: TensorLike): Tensor => cmp("less", a, b);
/** `a <= b` as 0/1 values (no gradient). */
export const lessEqual = (a: TensorLike, b: TensorLike): Tensor => cmp("lessEqual", a, b);
/** `a == b` as 0/1 values (no gradient). */
export const equal = (a: TensorLike, b: TensorLike): Tensor => cmp("equal", a, b);

const cmp = (op: K.BinaryOp, a: TensorLike, b: TensorLike): Tensor => {
  const xs = operands(op, ["a", "b"], [a, b]);
  sameDType(op, ["a", "b"], xs);
  return constBinary(op, xs[0]!, xs[1]!);
};

/** `clip(x, lo, hi) = min(max(x, lo), hi)` elementwise. */
export const clip = (x: Tensor, lo: TensorLike, hi: TensorLike): Tensor => {
  // checked here so a bad bound is reported as clip's, not as the maximum/minimum inside it
  const [t, l, h] = operands("clip", ["x", "lo", "hi"], [expectTensor("clip", "x", x), lo, hi]);
  sameDType("clip", ["x", "lo", "hi"], [t!, l!, h!]);
  orThrow(broadcastShapes("clip", t!.shape, l!.shape));
  orThrow(broadcastShapes("clip", t!.shape, h!.shape));
  return minimum(maximum(t!, l!), h!);
};
