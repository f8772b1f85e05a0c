/** Elementwise unary primitives and the functions users call. */
import * as K from "../../core/kernels.js";
import * as F from "../../core/kernels-fused.js";
import { dataOf, fromData, type DType, type Tensor } from "../../core/tensor.js";
import { ArgumentError } from "../../core/errors.js";
import { bind, type Primitive } from "../tape.js";
import type { RuleTable } from "./table.js";
import { constUnary, expectTensor } from "./operand.js";
import { div, mul, sub } from "./binary.js";

type UnaryName = "neg" | "exp" | "log" | "sqrt" | "tanh" | "sigmoid" | "relu" | "abs";

const kernel = (op: K.UnaryOp) => (xs: readonly Tensor[]) => fromData(K.unary(op, dataOf(xs[0]!), xs[0]!.dtype), xs[0]!.shape, xs[0]!.dtype);

/**
 * The VJPs of tanh and sigmoid from their outputs, one kernel each instead of three binary ops (a recurrent
 * cell's backward pass runs them at every gate of every step). Their own VJPs make higher orders work.
 */
export const unaryBackwardRules = {
  // dz = dy (1 - y²) from tanh's output y; d/d(dy) = g (1 - y²), d/dy = -2 g dy y
  tanhBwd: {
    name: "tanhBwd",
    forward: ([dy, y]) => fromData(F.tanhBackward(dataOf(dy!), dataOf(y!), y!.dtype), y!.shape, y!.dtype),
    vjp: (g, [dy, y], _o, _p, n) => [n[0] ? tanhBwd(g, y!) : null, n[1] ? mul(mul(g, dy!), mul(y!, -2)) : null],
  },
  // dz = dy y (1 - y) from σ's output y; d/d(dy) = g y (1 - y), d/dy = g dy (1 - 2y)
  sigmoidBwd: {
    name: "sigmoidBwd",
    forward: ([dy, y]) => fromData(F.sigmoidBackward(dataOf(dy!), dataOf(y!), y!.dtype), y!.shape, y!.dtype),
    vjp: (g, [dy, y], _o, _p, n) => [n[0] ? sigmoidBwd(g, y!) : null, n[1] ? mul(mul(g, dy!), sub(1, mul(y!, 2))) : null],
  },
} satisfies Pick<RuleTable, "tanhBwd" | "sigmoidBwd">;

/** `dy·(1 - y²)`, the cotangent of tanh's input from its output y (same shape and dtype as dy). */
export const tanhBwd = (dy: Tensor, y: Tensor): Tensor => bind(unaryBackwardRules.tanhBwd, [dy, y], {});
/** `dy·y·(1 - y)`, the cotangent of sigmoid's input from its output y (same shape and dtype as dy). */
export const sigmoidBwd = (dy: Tensor, y: Tensor): Tensor => bind(unaryBackwardRules.sigmoidBwd, [dy, y], {});

export const unaryRules = {
  // d(-x) = -dx
  neg: { name: "neg", forward: kernel("neg"), vjp: (dy) => [neg(dy)] },
  // d exp(x) = exp(x) dx = y dx
  exp: { name: "exp", forward: kernel("exp"), vjp: (dy, _x, y) => [mul(dy, y)] },
  // d log(x) = dx / x  (at x = 0 the gradient is ±Inf, as in JAX and PyTorch)
  log: { name: "log", forward: kernel("log"), vjp: (dy, [x]) => [div(dy, x!)] },
  // d sqrt(x) = dx / (2 sqrt(x)) = dx / (2y)  (+Inf at x = 0)
  sqrt: { name: "sqrt", forward: kernel("sqrt"), vjp: (dy, _x, y) => [div(dy, mul(y, 2))] },
  // d tanh(x) = (1 - y²) dx
  tanh: { name: "tanh", forward: kernel("tanh"), vjp: (dy, _x, y) => [tanhBwd(dy, y)] },
  // d σ(x) = y (1 - y) dx
  sigmoid: { name: "sigmoid", forward: kernel("sigmoid"), vjp: (dy, _x, y) => [sigmoidBwd(dy, y)] },
  // d relu(x) = [x > 0] dx  (0 at x = 0, as in PyTorch and JAX)
  relu: { name: "relu", forward: kernel("relu"), vjp: (dy, [x]) => [mul(dy, constUnary("step", x!))] },
  // d |x| = sign(x) dx  (0 at x = 0)
  abs: { name: "abs", forward: kernel("abs"), vjp: (dy, [x]) => [mul(dy, constUnary("sign", x!))] },
} satisfies Pick<RuleTable, UnaryName>;

export const identityRules = {
  // A new identity for the same values (shares the immutable buffer); d id(x) = dx.
  identity: { name: "identity", forward: ([x]) => fromData(dataOf(x!), x!.shape, x!.dtype), vjp: (dy) => [dy] },
  // d cast(x) = cast(dx) back to x's dtype
  cast: {
    name: "cast",
    forward: ([x], { dtype }) => fromData(K.cast(dataOf(x!), dtype), x!.shape, dtype),
    vjp: (dy, [x]) => [cast(dy, x!.dtype)],
  },
} satisfies Pick<RuleTable, "identity" | "cast">;

const un = (prim: Primitive<Record<string, never>>) => (x: Tensor): Tensor => bind(prim, [expectTensor(prim.name, "x", x)], {});

/** `neg(x) = -x` */
export const neg = un(unaryRules.neg);
/** `exp(x) = eˣ` */
export const exp = un(unaryRules.exp);
/** `log(x)`, the natural logarithm */
export const log = un(unaryRules.log);
/** `sqrt(x) = √x` */
export const sqrt = un(unaryRules.sqrt);
/** `tanh(x) = (eˣ - e⁻ˣ) / (eˣ + e⁻ˣ)` */
export const tanh = un(unaryRules.tanh);
/** `sigmoid(x) = σ(x) = 1 / (1 + e⁻ˣ)`, computed stably for large |x| */
export const sigmoid = un(unaryRules.sigmoid);
/** `relu(x) = max(x, 0)` */
export const relu = un(unaryRules.relu);
/** `abs(x) = |x|` */
export const abs = un(unaryRules.abs);

/** `cast(x, dtype)`: the same values in another dtype (float32 ↔ float64); differentiable. */
export const cast = (x: Tensor, dtype: DType): Tensor => {
  expectTensor("cast", "x", x);
  if (dtype !== "float32" && dtype !== "float64") throw new ArgumentError("cast", "dtype", `must be 'float32' or 'float64', got ${String(dtype)}`);
  return x.dtype === dtype ? x : bind(identityRules.cast, [x], { dtype });
};

/** A new tensor identity for the same values (used to separate transform levels). */
export const identity = (x: Tensor): Tensor => bind(identityRules.identity, [x], {});

/** `square(x) = x²` */
export const square = (x: Tensor): Tensor => mul(expectTensor("square", "x", x), x);

