/** Proofs for the elementwise unary primitives: neg exp log sqrt tanh sigmoid relu abs, and cast. */
import fc from "fast-check";
import type { Tensor } from "../../core/tensor.js";
import { abs, cast, exp, log, neg, relu, sigmoid, sqrt, tanh } from "../../autograd/index.js";
import { proveGrad } from "./check.js";
import { awayFromZero, fmt, propertySuite, range, seedArb, shapeArb, tensorArb, toT, weighted, type Domain, type Suite } from "./suite.js";

interface UnaryOp {
  readonly name: string;
  readonly op: (x: Tensor) => Tensor;
  /** Inputs where the op is smooth: positive for log/sqrt, away from the kink at 0 for relu/abs. */
  readonly domain: Domain;
}

export const UNARY_OPS: readonly UnaryOp[] = [
  { name: "neg", op: neg, domain: range(-3, 3) },
  { name: "exp", op: exp, domain: range(-3, 3) },
  { name: "log", op: log, domain: range(0.1, 5) },
  { name: "sqrt", op: sqrt, domain: range(0.1, 5) },
  { name: "tanh", op: tanh, domain: range(-3, 3) },
  { name: "sigmoid", op: sigmoid, domain: range(-5, 5) },
  { name: "relu", op: relu, domain: awayFromZero(0.05, 3) },
  { name: "abs", op: abs, domain: awayFromZero(0.05, 3) },
];

const unarySuite = (u: UnaryOp): Suite =>
  propertySuite({
    name: u.name,
    family: "unary",
    description: `vjp of ${u.name} with a random cotangent, any rank 0-3`,
    cases: 40,
    arbitrary: fc.record({ x: tensorArb(shapeArb(0, 3), u.domain), w: seedArb }),
    check: ({ x, w }, tol) => proveGrad(`${u.name} x${fmt(x.shape)}`, (x: Tensor) => weighted(u.op(x), w), [toT(x)], tol),
  });

/**
 * cast float64 → float32 → float64: the function is the identity up to float32 rounding of x ± ε, so central
 * differences are exact for it except for that rounding, ≈ 2·2⁻²⁴·|x| / 2ε. With ε = 1e-2 and |x| <= 3 that is
 * <= 1.8e-5 (absolute), and the analytic side is exact up to rounding the cotangent to float32 (6e-8 relative);
 * hence the stated rtol 1e-4 / atol 2e-5 instead of the float64 defaults.
 */
const castSuite: Suite = propertySuite({
  name: "cast",
  family: "unary",
  description: "vjp of cast through float32 and back (tolerance set by float32 resolution)",
  cases: 30,
  tolerance: { eps: 1e-2, rtol: 1e-4, atol: 2e-5 },
  arbitrary: fc.record({ x: tensorArb(shapeArb(0, 3), range(-3, 3)), w: seedArb }),
  check: ({ x, w }, tol) => proveGrad(`cast f64→f32→f64 x${fmt(x.shape)}`, (x: Tensor) => weighted(cast(cast(x, "float32"), "float64"), w), [toT(x)], tol),
});

export const unarySuites: readonly Suite[] = [...UNARY_OPS.map(unarySuite), castSuite];
