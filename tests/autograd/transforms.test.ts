import { describe, expect, it } from "vitest";
import { tensor, type Tensor } from "../../core/tensor.js";
import { ArgumentError, ShapeError } from "../../core/errors.js";
import { foldIn, normal, randomKey } from "../../core/random.js";
import {
  add, customVjp, div, exp, grad, jvp, log, matmul, mean, mul, neg, sigmoid, stopGradient, sub, sum, tanh, transpose, valueAndGrad, vjp,
  TreeMismatchError, type Tree,
} from "../../autograd/index.js";

// Gradients are compared in float64 with hand-derived formulas written here in plain JS; tolerance 1e-12
// relative unless a line says otherwise.
const f64 = (v: number | number[] | number[][]) => tensor(v, { dtype: "float64" });
const key = randomKey(2718);
let draw = 0;
const randn = (shape: number[]) => normal(foldIn(key, draw++), shape, { dtype: "float64" });

const expectClose = (got: Tensor, want: number | number[] | number[][], tol = 1e-12) => {
  const w = tensor(want, { dtype: "float64" });
  expect(got.shape).toEqual(w.shape);
  const g = got.toFlatArray(), e = w.toFlatArray();
  let worst = 0;
  g.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - e[i]!) / Math.max(1, Math.abs(e[i]!)))));
  expect(worst).toBeLessThanOrEqual(tol);
};
const dot = (a: Tensor, b: Tensor) => a.toFlatArray().reduce((s, v, i) => s + v * b.toFlatArray()[i]!, 0);

describe("grad and valueAndGrad", () => {
  it("differentiates a scalar function of one tensor: d/dx Σ x³ = 3x²", () => {
    const x = f64([0.5, -1.25, 2]);
    expectClose(grad((x: Tensor) => sum(mul(x, mul(x, x))))(x), [0.75, 4.6875, 12]);
  });

  it("returns the value with the gradient", () => {
    const [v, g] = valueAndGrad((x: Tensor) => sum(mul(x, x)))(f64([1, 2]));
    expectClose(v, 5);
    expectClose(g, [2, 4]);
  });

  it("differentiates with respect to the argument named by an index", () => {
    const f = (a: Tensor, b: Tensor) => sum(mul(a, exp(b)));
    const a = f64([1, 2]), b = f64([0.5, -1]);
    expectClose(grad(f, { argnums: 1 })(a, b), [1 * Math.exp(0.5), 2 * Math.exp(-1)]);
    expectClose(grad(f)(a, b), [Math.exp(0.5), Math.exp(-1)]);
  });

  it("returns an array of gradients, in the asked order, for an array of argnums", () => {
    const f = (a: Tensor, b: Tensor, c: Tensor) => sum(mul(mul(a, b), c));
    const a = f64(2), b = f64(3), c = f64(5);
    const g = grad(f, { argnums: [2, 0] })(a, b, c) as Tensor[];
    expect(Array.isArray(g)).toBe(true);
    expect(g).toHaveLength(2);
    expectClose(g[0]!, 6);
    expectClose(g[1]!, 15);
    const one = grad(f, { argnums: [1] })(a, b, c) as Tensor[];
    expect(Array.isArray(one)).toBe(true);
    expectClose(one[0]!, 10);
  });

  it("passes aux through with hasAux and differentiates only the value", () => {
    const f = (x: Tensor) => {
      const y = mul(x, x);
      return [sum(y), { y, note: "kept" }] as const;
    };
    const [[v, aux], g] = valueAndGrad(f, { hasAux: true })(f64([1, 3]));
    expectClose(v, 10);
    expectClose((aux as { y: Tensor }).y, [1, 9]);
    expect((aux as { note: string }).note).toBe("kept");
    expectClose(g, [2, 6]);
  });

  it("gives the gradient the tree shape of its argument", () => {
    const params = { W: f64([[1, 2], [3, 4]]), b: [f64([0.5, -0.5]), f64(2)] };
    const x = f64([1, -1]);
    // f = Σ (W x + b0) · b1 ⇒ dW = b1 · 1 xᵀ, db0 = b1 · 1, db1 = Σ (W x + b0)
    const f = (p: typeof params) => sum(mul(add(matmul(p.W, x), p.b[0]!), p.b[1]!));
    const g = grad(f)(params) as typeof params;
    expect(Object.keys(g)).toEqual(["W", "b"]);
    expect(Array.isArray(g.b)).toBe(true);
    expect(g.b).toHaveLength(2);
    expectClose(g.W, [[2, -2], [2, -2]]);
    expectClose(g.b[0]!, [2, 2]);
    expectClose(g.b[1]!, -1 + 0.5 + (-1 - 0.5));
  });

  it("gives zeros for an argument the result does not depend on, and leaves closed-over tensors constant", () => {
    const c = f64([1, 2]);
    const g = grad((x: Tensor, y: Tensor) => sum(mul(x, c)), { argnums: [0, 1] })(f64([5, 6]), f64([7, 8])) as Tensor[];
    expectClose(g[0]!, [1, 2]);
    expectClose(g[1]!, [0, 0]);
  });
});

describe("vjp", () => {
  it("pulls back a tree of outputs to one cotangent tree per primal", () => {
    const f = (x: Tensor, w: { a: Tensor }) => ({ y: mul(x, w.a), z: [sum(x)] });
    const x = f64([1, 2, 3]), w = { a: f64([4, 5, 6]) };
    const [out, pb] = vjp(f, x, w);
    expectClose(out.y, [4, 10, 18]);
    const [dx, dw] = pb({ y: f64([1, 0, -1]), z: [f64(10)] }) as [Tensor, { a: Tensor }];
    // dx = dy ⊙ a + dz · 1, da = dy ⊙ x
    expectClose(dx, [14, 10, 4]);
    expectClose(dw.a, [1, 0, -3]);
  });

  it("matches cotangent objects to the output by key, not by the order the keys were written", () => {
    const [, pb] = vjp((x: Tensor) => ({ y: mul(x, 2), z: mul(x, 3) }), f64([1, 1]));
    // dx = 2·dy + 3·dz
    expectClose(pb({ z: f64([1, 0]), y: f64([0, 1]) })[0] as Tensor, [3, 2]);
  });

  it("refuses a cotangent tree with the right number of leaves but another structure, printing both", () => {
    const [, pb] = vjp((x: Tensor) => ({ y: x, z: x }), f64([1, 2]));
    expect(() => pb([f64([1, 2]), f64([1, 2])] as unknown as Tree)).toThrow(TreeMismatchError);
    expect(() => pb({ y: f64([1, 2]), w: f64([1, 2]) })).toThrow(/^vjp pullback: tree structures differ at the root:\n  \{y: \*, z: \*\}\n  \{y: \*, w: \*\}/);
  });

  it("can be pulled back more than once with different cotangents", () => {
    const [, pb] = vjp((x: Tensor) => mul(x, x), f64([1, 2]));
    expectClose(pb(f64([1, 1]))[0] as Tensor, [2, 4]);
    expectClose(pb(f64([0, 3]))[0] as Tensor, [0, 12]);
  });

  it("refuses a cotangent whose structure or shapes differ from the output, naming the leaf", () => {
    const [, pb] = vjp((x: Tensor) => ({ y: x, z: [x] }), f64([1, 2]));
    expect(() => pb(f64([1, 2]))).toThrow(/vjp pullback: the cotangent has 1 leaves but the output has 2/);
    expect(() => pb({ y: f64([1, 2]), z: [f64([1, 2, 3])] })).toThrow(ShapeError);
    expect(() => pb({ y: f64([1, 2]), z: [f64([1, 2, 3])] })).toThrow(/cotangent z\.0 has shape \[3\] but the output has \[2\]/);
  });
});

describe("jvp", () => {
  const f = (W: Tensor, x: Tensor) => tanh(matmul(W, x));

  it("equals the directional derivative read off vjp: <u, J t> = <Jᵀ u, t> (within 1e-12)", () => {
    const W = randn([3, 4]), x = randn([4]);
    const tW = randn([3, 4]), tx = randn([4]);
    const u = randn([3]);
    const [out, jt] = jvp(f, [W, x], [tW, tx]);
    expectClose(out, f(W, x).toFlatArray());
    const [gW, gx] = vjp(f, W, x)[1](u) as [Tensor, Tensor];
    const lhs = dot(u, jt as Tensor);
    const rhs = dot(gW, tW) + dot(gx, tx);
    expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(lhs)));
  });

  it("matches a central difference of the function along the tangent (within 1e-7)", () => {
    const W = randn([2, 3]), x = randn([3]);
    const tW = randn([2, 3]), tx = randn([3]);
    const h = 1e-5;
    const plus = f(add(W, mul(tW, h)), add(x, mul(tx, h))).toFlatArray();
    const minus = f(sub(W, mul(tW, h)), sub(x, mul(tx, h))).toFlatArray();
    const [, jt] = jvp(f, [W, x], [tW, tx]);
    expectClose(jt as Tensor, plus.map((p, i) => (p - minus[i]!) / (2 * h)), 1e-7);
  });

  it("matches tangent objects to the primals by key, not by the order the keys were written", () => {
    const f = (p: { a: Tensor; b: Tensor }) => mul(p.a, p.b);
    const [, t] = jvp(f, [{ a: f64([1, 2]), b: f64([3, 4]) }], [{ b: f64([0, 1]), a: f64([1, 0]) }]);
    // d(a⊙b) = da⊙b + a⊙db
    expectClose(t as Tensor, [3, 2]);
  });

  it("refuses primals and tangents of different lengths", () => {
    expect(() => jvp(f, [f64([[1]]), f64([1])], [f64([[1]])])).toThrow(/jvp: primals\/tangents must be arrays of the same length/);
  });
});

describe("stopGradient", () => {
  it("blocks the gradient through its argument: d/dx Σ sg(x)·x = x, not 2x", () => {
    expectClose(grad((x: Tensor) => sum(mul(stopGradient(x), x)))(f64([1, -2])), [1, -2]);
  });

  it("keeps values and the tree structure", () => {
    const t = { a: f64([1, 2]), b: [f64(3)] };
    const s = stopGradient(t);
    expect(s.a.toFlatArray()).toEqual([1, 2]);
    expect(s.b[0]!.item()).toBe(3);
    expectClose(grad((p: typeof t) => sum(add(stopGradient(p).a, p.a)))(t).a, [1, 1]);
  });
});

describe("customVjp", () => {
  it("uses the given backward rule even when it is deliberately wrong", () => {
    // true derivative of x² is 2x; the custom rule claims 10
    const sq = customVjp((x: Tensor) => mul(x, x), (dy) => [mul(dy, 10)], "wrongSquare");
    const x = f64([1, 2]);
    expectClose(sq(x), [1, 4]);
    expectClose(grad((x: Tensor) => sum(sq(x)))(x), [10, 10]);
  });

  it("differentiates several arguments, with null meaning no gradient", () => {
    const scaled = customVjp((x: Tensor, s: Tensor) => mul(x, s), (dy, [, s]) => [mul(dy, s!), null]);
    const g = grad((x: Tensor, s: Tensor) => sum(scaled(x, s)), { argnums: [0, 1] })(f64([1, 2]), f64([3, 4])) as Tensor[];
    expectClose(g[0]!, [3, 4]);
    expectClose(g[1]!, [0, 0]);
  });

  it("supports second derivatives when the backward rule uses differentiable ops", () => {
    // a stable softplus log(1 + eˣ) with its rule dy·σ(x); second derivative σ(x)(1 - σ(x))
    const softplus = customVjp((x: Tensor) => log(add(1, exp(x))), (dy, [x]) => [mul(dy, sigmoid(x!))], "softplus");
    const x0 = 0.7;
    const s = 1 / (1 + Math.exp(-x0));
    expectClose(grad(grad((x: Tensor) => softplus(x)))(f64(x0)), s * (1 - s));
  });

  it("names the custom op when its rule returns a gradient of the wrong shape", () => {
    const bad = customVjp((x: Tensor) => mul(x, 2), (dy) => [sum(dy)], "badShape");
    expect(() => grad((x: Tensor) => sum(bad(x)))(f64([1, 2]))).toThrow(ShapeError);
    expect(() => grad((x: Tensor) => sum(bad(x)))(f64([1, 2]))).toThrow(/^badShape: the VJP returned a gradient of shape \[\] for input 0 of shape \[2\]/);
  });
});

describe("higher derivatives", () => {
  const at = (f: (x: Tensor) => Tensor, x: number) => grad(grad(f))(f64(x)) as Tensor;

  it("gives second derivatives that match hand formulas", () => {
    const x = 0.8;
    expectClose(at((x) => mul(x, mul(x, x)), x), 6 * x); // (x³)'' = 6x
    const t = Math.tanh(x);
    expectClose(at(tanh, x), -2 * t * (1 - t * t)); // tanh'' = -2 tanh (1 - tanh²)
    expectClose(at((x) => mul(x, exp(x)), x), (x + 2) * Math.exp(x)); // (x eˣ)'' = (x + 2) eˣ
    expectClose(at(log, x), -1 / (x * x)); // log'' = -1/x²
    const s = 1 / (1 + Math.exp(-x));
    expectClose(at(sigmoid, x), s * (1 - s) * (1 - 2 * s)); // σ'' = σ(1-σ)(1-2σ)
    expectClose(at((x) => div(1, x), x), 2 / x ** 3); // (1/x)'' = 2/x³
  });

  it("gives third derivatives: (x⁴)''' = 24x", () => {
    const x4 = (x: Tensor) => mul(mul(x, x), mul(x, x));
    expectClose(grad(grad(grad(x4)))(f64(1.5)) as Tensor, 36);
  });

  it("differentiates a gradient with respect to a parameter tree (Hessian-vector product of a quadratic)", () => {
    // f(w) = ½ wᵀ A w with symmetric A ⇒ ∇f = A w ⇒ ∇(∇f · v) = A v
    const A = f64([[2, 1], [1, 3]]);
    const v = f64([1, -1]);
    const f = (p: { w: Tensor }) => mul(0.5, sum(mul(p.w, matmul(A, p.w))));
    const hvp = grad((p: { w: Tensor }) => sum(mul((grad(f)(p) as { w: Tensor }).w, v)))({ w: f64([0.3, 0.4]) }) as { w: Tensor };
    expectClose(hvp.w, [1, -2]);
  });
});

describe("perturbation confusion", () => {
  it("keeps nested levels apart: d/dx [x · d/dy (x + y)] = 1, not 2", () => {
    const g = grad((x: Tensor) => mul(x, grad((y: Tensor) => add(x, y))(x)))(f64(3.0));
    expectClose(g, 1);
  });

  it("keeps nested levels apart when the inner derivative depends on x: d/dx [x · d/dy (x·y)] = 2x", () => {
    const g = grad((x: Tensor) => mul(x, grad((y: Tensor) => mul(x, y))(x)))(f64(3.0));
    expectClose(g, 6);
  });

  it("keeps three levels apart: d/dx d/dy (x·y²) at y = x is d/dx 2x² = 4x", () => {
    const g = grad((x: Tensor) => grad((y: Tensor) => mul(x, mul(y, y)))(x))(f64(3.0));
    expectClose(g, 12);
  });
});

describe("errors for people", () => {
  it("refuses a non-scalar result, naming the shape and suggesting sum, mean or vjp", () => {
    const f = () => grad((x: Tensor) => mul(x, 2))(f64([[1, 2, 3], [4, 5, 6]]));
    expect(f).toThrow(ShapeError);
    expect(f).toThrow(/^grad: the function must return a scalar .* got shape \[2,3\]; reduce it \(sum, mean\) or use vjp/);
    expect(() => valueAndGrad((x: Tensor) => x)(f64([1, 2]))).toThrow(/^valueAndGrad: .*got shape \[2\]/);
  });

  it("refuses a result that is not a tensor, pointing at hasAux for pairs", () => {
    expect(() => grad((x: Tensor) => [sum(x), 1] as unknown as Tensor)(f64([1]))).toThrow(/use hasAux: true to return \[value, aux\]/);
    expect(() => valueAndGrad((x: Tensor) => sum(x), { hasAux: true })(f64([1]))).toThrow(/must be \[value, aux\] when hasAux is true/);
  });

  it("names the tree path of a leaf that is not a tensor", () => {
    const f = () => grad((p: { W: Tensor; b: Tensor[] }) => sum(p.W))({ W: f64([1]), b: [f64([1]), "zero" as unknown as Tensor] });
    expect(f).toThrow(ArgumentError);
    expect(f).toThrow("grad: argument 0 has a non-tensor leaf at b.1: string");
  });

  it("tells the user to wrap a JS number with tensor()", () => {
    const f = () => grad((x: Tensor) => mul(x, x))(3 as unknown as Tensor);
    expect(f).toThrow(ArgumentError);
    expect(f).toThrow(/grad: argument 0 has a non-tensor leaf: number \(wrap numbers with tensor\(3\)/);
    expect(() => grad((p: { a: Tensor }) => sum(p.a))({ a: 1.5 as unknown as Tensor })).toThrow(/at a: number \(wrap numbers with tensor\(1\.5\)/);
  });

  it("refuses argnums out of range, naming how many arguments there were", () => {
    const f = (a: Tensor, b: Tensor) => sum(mul(a, b));
    expect(() => grad(f, { argnums: 2 })(f64(1), f64(2))).toThrow("grad: argnums asks for argument 2 but the function was called with 2 argument(s)");
    expect(() => grad(f, { argnums: [0, -1] })(f64(1), f64(2))).toThrow(/asks for argument -1/);
    expect(() => valueAndGrad(f, { argnums: 1.5 })(f64(1), f64(2))).toThrow(ArgumentError);
  });

  it("refuses an argument listed twice in argnums instead of giving it a zero gradient", () => {
    const f = (a: Tensor, b: Tensor) => sum(mul(a, b));
    const call = () => grad(f, { argnums: [0, 0] })(f64(3), f64(4));
    expect(call).toThrow(ArgumentError);
    expect(call).toThrow(/grad: argnums lists argument 0 more than once/);
  });

  it("checks vjp primals too", () => {
    expect(() => vjp((x: Tensor) => x, [f64(1), null] as unknown as Tree)).toThrow(/vjp: argument 0 has a non-tensor leaf at 1: null/);
  });
});

describe("closures and constants", () => {
  it("treats tensors computed outside the transform as constants", () => {
    const x0 = f64([0.5, 1]);
    const c = exp(x0); // computed before grad: no gradient flows through its creation
    expectClose(grad((x: Tensor) => sum(mul(x, c)))(x0), c.toFlatArray());
  });

  it("differentiates through mean, transpose and negation like the hand formula", () => {
    // f(X) = mean(-(Xᵀ)) ⇒ dX = -1/n everywhere
    expectClose(grad((X: Tensor) => mean(neg(transpose(X))))(f64([[1, 2, 3], [4, 5, 6]])), [[-1 / 6, -1 / 6, -1 / 6], [-1 / 6, -1 / 6, -1 / 6]]);
  });
});
