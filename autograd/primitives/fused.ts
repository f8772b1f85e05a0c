/**
 * Fused primitives for recurrent cells: the affine map `v Wᵀ + b` and the elementwise gate math of one LSTM
 * or GRU step, each one kernel call and one tape entry instead of a dozen.
 *
 * The gate primitives have several outputs (the new state, and the gate activations kept for the backward
 * pass, which callers never see). Their VJP is itself a primitive (`*Bwd`), a fused kernel too, so the
 * first-order backward pass of a cell step is one loop. The VJP of each `*Bwd` primitive is the VJP of the
 * same backward written with composed ops (`*Composed` below), taken with the `vjp` transform: so
 * `grad(grad(...))` goes through the fused ops, and the second-order rules are correct by construction.
 * `tests/autograd/fused.test.ts` proves forward and VJP equal to the composed ops'.
 */
import * as K from "../../core/kernels.js";
import * as F from "../../core/kernels-fused.js";
import { ArgumentError, ShapeError, fmtShape } from "../../core/errors.js";
import { sizeOf } from "../../core/shape.js";
import { allocData, dataOf, fromData, zeros, type Data, type Tensor } from "../../core/tensor.js";
import { OuterSum, bind, bindMulti, sameDType, type MultiPrimitive, type Primitive } from "../tape.js";
import { vjp } from "../transforms.js";
import { add, mul, sub } from "./binary.js";
import { neg, sigmoid, tanh, tanhBwd } from "./unary.js";
import { concat, slice, stack } from "./shape.js";
import { logSoftmax, sum } from "./reduce.js";
import { matmulT } from "./matmul.js";
import { constUnary, expectTensor } from "./operand.js";
import type { MultiRuleTable, RuleTable } from "./table.js";

const ONE_BATCH = new Int32Array(1);
type None = Record<string, never>;

// ---- composed references (the second-order rules, and what the tests compare against) ------------------

const block = (z: Tensor, k: number, H: number): Tensor => slice(z, [0, k * H], [z.shape[0]!, H]);

/** The LSTM gate math from composed ops: `c = σ(z_u)·tanh(z_c̃) + σ(z_f)·c_prev`, `a = σ(z_o)·tanh(c)`. */
export const lstmPointwiseComposed = (z: Tensor, cPrev: Tensor): { a: Tensor; c: Tensor } => {
  const H = cPrev.shape[1]!;
  const gu = sigmoid(block(z, 0, H)), gf = sigmoid(block(z, 1, H)), ct = tanh(block(z, 2, H)), go = sigmoid(block(z, 3, H));
  const c = add(mul(gu, ct), mul(gf, cPrev));
  return { a: mul(go, tanh(c)), c };
};

/** The reset-after GRU gate math from composed ops: `a' = (1 - u)·n + u·a` with r, u, n as in `gruResetAfterPointwise`. */
export const gruResetAfterPointwiseComposed = (zx: Tensor, za: Tensor, a: Tensor): Tensor => {
  const H = a.shape[1]!;
  const r = sigmoid(add(block(zx, 0, H), block(za, 0, H)));
  const u = sigmoid(add(block(zx, 1, H), block(za, 1, H)));
  const n = tanh(add(block(zx, 2, H), mul(r, block(za, 2, H))));
  return add(mul(sub(1, u), n), mul(u, a));
};

/** The minimal GRU gate math from composed ops: `a' = σ(g_u)·tanh(g_c̃) + (1 - σ(g_u))·a`. */
export const gruMinimalPointwiseComposed = (g: Tensor, a: Tensor): Tensor => {
  const H = a.shape[1]!;
  const gu = sigmoid(block(g, 0, H));
  return add(mul(gu, tanh(block(g, 1, H))), mul(sub(1, gu), a));
};

/** Softmax cross-entropy per row from composed ops: `-Σ_k onehot(y)_k log softmax(z)_k` (rows with y = -1 give 0). */
export const softmaxCrossEntropyComposed = (z: Tensor, targets: Int32Array): Tensor => {
  const V = z.shape[z.shape.length - 1]!;
  const d = allocData(z.dtype, targets.length * V);
  targets.forEach((y, r) => y >= 0 && (d[r * V + y] = 1));
  return neg(sum(mul(fromData(d, z.shape, z.dtype), logSoftmax(z, -1)), -1));
};

/** The VJP of `*Bwd` = the VJP of the composed backward `(dys, xs) => pullback_composed(dys)` at the same point. */
const secondOrder = (
  composed: (...xs: Tensor[]) => Tensor | { a: Tensor; c: Tensor },
  ct: (dys: readonly Tensor[]) => Tensor | { a: Tensor; c: Tensor },
  nDys: number,
  primals: readonly Tensor[],
  ddxs: readonly (Tensor | null)[],
): Tensor[] => {
  const composedBackward = (...args: Tensor[]): Tensor[] => {
    const [, pb] = vjp(composed as (...xs: Tensor[]) => Tensor, ...args.slice(nDys));
    return pb(ct(args.slice(0, nDys))) as Tensor[];
  };
  const [outs, pb] = vjp(composedBackward, ...primals);
  return pb(outs.map((o, i) => ddxs[i] ?? zeros(o.shape, o.dtype))) as Tensor[];
};

const shapeErr = (op: string, shapes: readonly (readonly number[])[], detail: string) => new ShapeError(op, shapes, detail);

// ---- primitives -----------------------------------------------------------------------------------------

const dims = (x: Tensor): [number, number] => [x.shape[0]!, x.shape[1]!];

/** Columns `[c0, c1)` of a 2-D weight as contiguous data, cached per tensor (sound: tensors are immutable). */
const columnCache = new WeakMap<Tensor, Map<number, Data>>();
const columnsOf = (W: Tensor, c0: number, c1: number): Data => {
  const [N, Kd] = dims(W);
  if (c0 === 0 && c1 === Kd) return dataOf(W);
  let m = columnCache.get(W);
  if (m === undefined) columnCache.set(W, (m = new Map()));
  const key = c0 * (Kd + 1) + c1;
  let d = m.get(key);
  if (d === undefined) {
    d = K.slice(dataOf(W), W.shape, [0, c0], [N, c1 - c0], W.dtype);
    m.set(key, d);
  }
  return d;
};

/** `[Wᵀ; b]` `[K + 1, N]` as data, cached per weight tensor for the bias tensor it was built with (both immutable). */
const biasedCache = new WeakMap<Tensor, { readonly b: Tensor; readonly data: Data }>();
const biasedTranspose = (W: Tensor, b: Tensor): Data => {
  const hit = biasedCache.get(W);
  if (hit !== undefined && hit.b === b) return hit.data;
  const [N, Kd] = dims(W);
  const data = allocData(W.dtype, (Kd + 1) * N);
  data.set(K.transpose(dataOf(W), W.shape, [1, 0], W.dtype));
  data.set(dataOf(b), Kd * N);
  biasedCache.set(W, { b, data });
  return data;
};

const helperRules = {
  // y = dz W[:, c0:c1] (the cotangent of one part of affine's input): d dz = g W[:, c0:c1]ᵀ, dW = [0 | dzᵀ g | 0]
  matmulColumns: {
    name: "matmulColumns",
    forward: ([dz, W], { c0, c1 }) => {
      const [B, N] = dims(dz!), dt = dz!.dtype;
      // columnsOf's data is immutable and the same object at every step: the kernel may keep it packed
      return fromData(K.matmul(dataOf(dz!), columnsOf(W!, c0, c1), B, N, c1 - c0, 1, ONE_BATCH, ONE_BATCH, dt, true), [B, c1 - c0], dt);
    },
    vjp: (g, [dz, W], _y, { c0, c1 }, n) => {
      const [N, Kd] = dims(W!);
      const block = slice(W!, [0, c0], [N, c1 - c0]);
      const parts = [matmulT(dz!, g, true, false)];
      if (c0 > 0) parts.unshift(zeros([N, c0], W!.dtype));
      if (c1 < Kd) parts.push(zeros([N, Kd - c1], W!.dtype));
      return [n[0] ? matmulT(g, block, false, true) : null, n[1] ? concat(parts, 1) : null];
    },
  },
  // dz = dl (p - onehot(y)) per row; its own VJP is the composed backward's (p is a cache of softmax(z))
  softmaxCrossEntropyBwd: {
    name: "softmaxCrossEntropyBwd",
    forward: ([dl, z, p], { targets }) => {
      const V = z!.shape[z!.shape.length - 1]!;
      return fromData(F.softmaxCrossEntropyBackward(dataOf(dl!), dataOf(p!), targets, targets.length, V, z!.dtype), z!.shape, z!.dtype);
    },
    vjp: (g, [dl, z], _y, { targets }) => [...secondOrder((zz) => softmaxCrossEntropyComposed(zz, targets), ([d]) => d!, 1, [dl!, z!], [g]), null],
  },
} satisfies Pick<RuleTable, "matmulColumns" | "softmaxCrossEntropyBwd">;

export const fusedRules = {
  ...helperRules,
  // y = g(z), z = [v_0 | … | v_{k-1}] Wᵀ + b (the parts joined along columns): dz = dy g'(z) (from y),
  // dv_i = dz W[:, columns of v_i] (only for parts that need it: a constant x costs nothing), dW = dzᵀ v,
  // db = Σ_rows dz. The transposes are matmul flags or cached, never ops.
  affine: {
    name: "affine",
    forward: (xs, { parts, activation }) => {
      const W = xs[parts]!, b = xs[parts + 1]!, B = xs[0]!.shape[0]!, N = W.shape[0]!, Kd = W.shape[1]!, dt = W.dtype;
      // [v | 1] [Wᵀ; b]: the bias rides in the product as one more inner row, no separate pass over the output
      const v1 = F.rowsWithOne(xs.slice(0, parts).map(dataOf), xs.slice(0, parts).map((x) => x.shape[1]!), B, dt);
      // biasedTranspose's data is cached and never written: the kernel may keep it packed across steps
      let c = K.matmul(v1, biasedTranspose(W, b), B, Kd + 1, N, 1, ONE_BATCH, ONE_BATCH, dt, true);
      if (activation === "tanh") c = K.unary("tanh", c, dt);
      else if (activation === "relu") F.reluInPlace(c);
      return fromData(c, [B, N], dt);
    },
    vjp: (dy, xs, y, { parts, activation }, n) => {
      const W = xs[parts]!, vs = xs.slice(0, parts);
      const dz = activation === "tanh" ? tanhBwd(dy, y) : activation === "relu" ? mul(dy, constUnary("step", y)) : dy;
      let c0 = 0;
      const dvs = vs.map((v, i) => {
        const c1 = c0 + v.shape[1]!;
        const d = !n[i] ? null : parts === 1 ? matmulT(dz, W, false, false) : bind(helperRules.matmulColumns, [dz, W], { c0, c1 });
        c0 = c1;
        return d;
      });
      return [
        ...dvs,
        n[parts] ? new OuterSum(dz, parts === 1 ? vs[0]! : concat(vs, 1)) : null, // dzᵀ v, summed over all steps in one product by the backward loop
        n[parts + 1] ? sum(dz, 0) : null,
      ];
    },
  },
} satisfies Pick<RuleTable, "affine" | "matmulColumns" | "softmaxCrossEntropyBwd">;

/** The fused backward kernels; each one's own VJP is the composed backward's. */
const bwdRules = {
  // (dA, dC, z, c_prev; gates, tanh c) → (dz, dc_prev); its own VJP is the composed backward's (gates and
  // tanh c are a cache of z and c_prev)
  lstmPointwiseBwd: {
    name: "lstmPointwiseBwd",
    forwardMulti: ([dA, dC, , cPrev, gates, tc]) => {
      const [B, H] = dims(cPrev!), dt = cPrev!.dtype;
      const r = F.lstmBackward(dataOf(dA!), dataOf(dC!), dataOf(gates!), dataOf(tc!), dataOf(cPrev!), B, H, dt);
      return [fromData(r.dz, [B, 4 * H], dt), fromData(r.dcPrev, [B, H], dt)];
    },
    vjpMulti: (dys, [dA, dC, z, cPrev]) => [
      ...secondOrder(lstmPointwiseComposed, ([a, c]) => ({ a: a!, c: c! }), 2, [dA!, dC!, z!, cPrev!], dys),
      null,
      null,
    ],
  },
  gruResetAfterPointwiseBwd: {
    name: "gruResetAfterPointwiseBwd",
    forwardMulti: ([dNext, , za, a, acts]) => {
      const [B, H] = dims(a!), dt = a!.dtype;
      const r = F.gruResetAfterBackward(dataOf(dNext!), dataOf(acts!), dataOf(za!), dataOf(a!), B, H, dt);
      return [fromData(r.dzx, [B, 3 * H], dt), fromData(r.dza, [B, 3 * H], dt), fromData(r.da, [B, H], dt)];
    },
    vjpMulti: (dys, [dNext, zx, za, a]) => [...secondOrder(gruResetAfterPointwiseComposed, ([d]) => d!, 1, [dNext!, zx!, za!, a!], dys), null],
  },
  gruMinimalPointwiseBwd: {
    name: "gruMinimalPointwiseBwd",
    forwardMulti: ([dNext, , a, acts]) => {
      const [B, H] = dims(a!), dt = a!.dtype;
      const r = F.gruMinimalBackward(dataOf(dNext!), dataOf(acts!), dataOf(a!), B, H, dt);
      return [fromData(r.dg, [B, 2 * H], dt), fromData(r.da, [B, H], dt)];
    },
    vjpMulti: (dys, [dNext, g, a]) => [...secondOrder(gruMinimalPointwiseComposed, ([d]) => d!, 1, [dNext!, g!, a!], dys), null],
  },
} satisfies Pick<MultiRuleTable, "lstmPointwiseBwd" | "gruResetAfterPointwiseBwd" | "gruMinimalPointwiseBwd">;

export const fusedMultiRules = {
  ...bwdRules,
  // outputs the per-row loss and (hidden) the probabilities; d loss → dz is softmaxCrossEntropyBwd
  softmaxCrossEntropy: {
    name: "softmaxCrossEntropy",
    forwardMulti: ([z], { targets }) => {
      const V = z!.shape[z!.shape.length - 1]!, lead = z!.shape.slice(0, -1), dt = z!.dtype;
      const r = F.softmaxCrossEntropyForward(dataOf(z!), targets, targets.length, V, dt);
      return [fromData(r.loss, lead, dt), fromData(r.p, z!.shape, dt)];
    },
    vjpMulti: ([dl], [z], [, p], { targets }) => [dl ? bind(helperRules.softmaxCrossEntropyBwd, [dl, z!, p!], { targets }) : null],
  },
  // x [T, ...] → T tensors x[t] (views of x's buffer: tensors are never written); d = stack of the cotangents
  unstack: {
    name: "unstack",
    forwardMulti: ([x]) => {
      const rest = x!.shape.slice(1), m = sizeOf(rest), d = dataOf(x!);
      return Array.from({ length: x!.shape[0]! }, (_, t) => fromData(d.subarray(t * m, (t + 1) * m), rest, x!.dtype));
    },
    vjpMulti: (dys, [x]) => [stack(dys.map((d) => d ?? zeros(x!.shape.slice(1), x!.dtype)), 0)],
  },
  // outputs a, c and (hidden) the gate activations and tanh c; d(a, c) → (dz, dc_prev) is lstmPointwiseBwd
  lstmPointwise: {
    name: "lstmPointwise",
    forwardMulti: ([z, cPrev]) => {
      const [B, H] = dims(cPrev!), dt = cPrev!.dtype;
      const r = F.lstmForward(dataOf(z!), dataOf(cPrev!), B, H, dt);
      return [fromData(r.a, [B, H], dt), fromData(r.c, [B, H], dt), fromData(r.gates, [B, 4 * H], dt), fromData(r.tc, [B, H], dt)];
    },
    vjpMulti: ([dA, dC], [z, cPrev], [a, , gates, tc], _p, n) => {
      const [dz, dcPrev] = bindMulti(bwdRules.lstmPointwiseBwd, [dA ?? zeros(a!.shape, a!.dtype), dC ?? zeros(a!.shape, a!.dtype), z!, cPrev!, gates!, tc!], {});
      return [n[0] ? dz! : null, n[1] ? dcPrev! : null];
    },
  },
  // outputs a' and the activations r, u, n; d a' → (dzx, dza, da) is gruResetAfterPointwiseBwd
  gruResetAfterPointwise: {
    name: "gruResetAfterPointwise",
    forwardMulti: ([zx, za, a]) => {
      const [B, H] = dims(a!), dt = a!.dtype;
      const r = F.gruResetAfterForward(dataOf(zx!), dataOf(za!), dataOf(a!), B, H, dt);
      return [fromData(r.next, [B, H], dt), fromData(r.acts, [B, 3 * H], dt)];
    },
    vjpMulti: ([dNext], [zx, za, a], [, acts], _p, n) => {
      const d = bindMulti(bwdRules.gruResetAfterPointwiseBwd, [dNext!, zx!, za!, a!, acts!], {});
      return d.map((t, i) => (n[i] ? t : null));
    },
  },
  // outputs a' and the activations Γu, c̃; d a' → (dg, da) is gruMinimalPointwiseBwd
  gruMinimalPointwise: {
    name: "gruMinimalPointwise",
    forwardMulti: ([g, a]) => {
      const [B, H] = dims(a!), dt = a!.dtype;
      const r = F.gruMinimalForward(dataOf(g!), dataOf(a!), B, H, dt);
      return [fromData(r.next, [B, H], dt), fromData(r.acts, [B, 2 * H], dt)];
    },
    vjpMulti: ([dNext], [g, a], [, acts], _p, n) => {
      const d = bindMulti(bwdRules.gruMinimalPointwiseBwd, [dNext!, g!, a!, acts!], {});
      return d.map((t, i) => (n[i] ? t : null));
    },
  },
} satisfies MultiRuleTable;

// ---- the functions cells call ---------------------------------------------------------------------------

/** Checks `[rows, k·H]` operands against the state `[B, H]`; names the op and every shape. */
const expectGates = (op: string, names: readonly string[], xs: readonly Tensor[], widths: readonly number[], state: Tensor): void => {
  xs.forEach((x, i) => expectTensor(op, names[i]!, x));
  sameDType(op, names, xs);
  if (state.shape.length !== 2) throw shapeErr(op, xs.map((x) => x.shape), `${names[names.length - 1]} must be [B, H], got ${fmtShape(state.shape)}`);
  const [B, H] = dims(state);
  xs.forEach((x, i) => {
    const want = [B, widths[i]! * H];
    if (x.shape.length !== 2 || x.shape[0] !== want[0] || x.shape[1] !== want[1])
      throw shapeErr(op, xs.map((t) => t.shape), `${names[i]} must have shape ${fmtShape(want)} for a state of shape ${fmtShape(state.shape)}, got ${fmtShape(x.shape)}`);
  });
};

/** The activation `affine` may apply to its result: `'identity'`, `'tanh'` or `'relu'`. */
export type AffineActivation = "identity" | "tanh" | "relu";

/**
 * `affine(v, W, b, g = identity) = g(v Wᵀ + b)` for `v` `[B, K]`, `W` `[N, K]`, `b` `[N]`: one matmul, the bias
 * and the activation in one primitive and one tape entry. `v` may be a list of parts `[v_0, …]` joined
 * along columns (a cell's `[a<t-1>, x<t>]`): no concat op, and no gradient computed for a constant part.
 */
export const affine = (v: Tensor | readonly Tensor[], W: Tensor, b: Tensor, activation: AffineActivation = "identity"): Tensor => {
  const op = "affine";
  const vs = Array.isArray(v) ? (v as readonly Tensor[]) : [v as Tensor];
  if (vs.length === 0) throw new ArgumentError(op, "v", "must be a tensor or a non-empty list of tensors");
  const names = vs.length === 1 && !Array.isArray(v) ? ["v"] : vs.map((_, i) => `v[${i}]`);
  vs.forEach((x, i) => expectTensor(op, names[i]!, x));
  expectTensor(op, "W", W);
  expectTensor(op, "b", b);
  sameDType(op, [...names, "W", "b"], [...vs, W, b]);
  const B = vs[0]!.shape[0], width = vs.reduce((s, x) => s + (x.shape[1] ?? NaN), 0);
  if (vs.some((x) => x.shape.length !== 2 || x.shape[0] !== B) || W.shape.length !== 2 || b.shape.length !== 1 || width !== W.shape[1] || b.shape[0] !== W.shape[0])
    throw shapeErr(op, [...vs.map((x) => x.shape), W.shape, b.shape],
      `needs v [B, K] (or parts [B, K_i] with Σ K_i = K), W [N, K], b [N], got ${vs.map((x) => fmtShape(x.shape)).join(" | ")}, ${fmtShape(W.shape)}, ${fmtShape(b.shape)}`);
  if (activation !== "identity" && activation !== "tanh" && activation !== "relu")
    throw new ArgumentError(op, "activation", `must be 'identity', 'tanh' or 'relu', got ${JSON.stringify(activation)}`);
  return bind(fusedRules.affine, [...vs, W, b], { parts: vs.length, activation });
};

/**
 * `lstmPointwise(z, c_prev) = { c: σ(z_u)·tanh(z_c̃) + σ(z_f)·c_prev, a: σ(z_o)·tanh(c) }` for `z` `[B, 4H]`
 * (blocks u, f, c̃, o) and `c_prev` `[B, H]`.
 */
export const lstmPointwise = (z: Tensor, cPrev: Tensor): { a: Tensor; c: Tensor } => {
  expectGates("lstmPointwise", ["z", "cPrev"], [z, cPrev], [4, 1], cPrev);
  const [a, c] = bindMulti(fusedMultiRules.lstmPointwise, [z, cPrev], {});
  return { a: a!, c: c! };
};

/**
 * `gruResetAfterPointwise(zx, za, a) = (1 - u)·n + u·a` with `r = σ(zx_r + za_r)`, `u = σ(zx_z + za_z)`,
 * `n = tanh(zx_n + r·za_n)`, for `zx`, `za` `[B, 3H]` (blocks r, z, n) and `a` `[B, H]`.
 */
export const gruResetAfterPointwise = (zx: Tensor, za: Tensor, a: Tensor): Tensor => {
  expectGates("gruResetAfterPointwise", ["zx", "za", "a"], [zx, za, a], [3, 3, 1], a);
  return bindMulti(fusedMultiRules.gruResetAfterPointwise, [zx, za, a], {})[0]!;
};

/** `gruMinimalPointwise(g, a) = σ(g_u)·tanh(g_c̃) + (1 - σ(g_u))·a` for `g` `[B, 2H]` (blocks u, c̃) and `a` `[B, H]`. */
export const gruMinimalPointwise = (g: Tensor, a: Tensor): Tensor => {
  expectGates("gruMinimalPointwise", ["g", "a"], [g, a], [2, 1], a);
  return bindMulti(fusedMultiRules.gruMinimalPointwise, [g, a], {})[0]!;
};

/**
 * `softmaxCrossEntropyIndices(z, y) = logSumExp(z) - z_y` per row of `z` `[..., V]` for class indices `y` (one per
 * row, flat; `-1` marks an ignored row: loss 0, no gradient): one kernel forward, one backward (∂/∂z = softmax(z) - onehot(y)).
 */
export const softmaxCrossEntropyIndices = (z: Tensor, targets: Int32Array): Tensor => {
  const op = "softmaxCrossEntropy";
  expectTensor(op, "logits", z);
  if (z.shape.length === 0 || z.shape[z.shape.length - 1] === 0) throw shapeErr(op, [z.shape], `logits need a non-empty class axis, got ${fmtShape(z.shape)}`);
  const V = z.shape[z.shape.length - 1]!, rows = z.size / V;
  if (!(targets instanceof Int32Array) || targets.length !== rows)
    throw new ArgumentError(op, "targets", `must be an Int32Array of ${rows} class indices (one per row of ${fmtShape(z.shape)})`);
  for (let i = 0; i < targets.length; i++)
    if (targets[i]! < -1 || targets[i]! >= V) throw new ArgumentError(op, "targets", `entry ${i} is ${targets[i]}; a class index must be in [0, ${V}) (or -1 for an ignored row)`);
  return bindMulti(fusedMultiRules.softmaxCrossEntropy, [z], { targets })[0]!;
};

/** `unstack(x) = [x[0], …, x[T-1]]` along axis 0, one op for all T slices (no copies); the inverse of `stack(xs, 0)`. */
export const unstack = (x: Tensor): Tensor[] => {
  expectTensor("unstack", "x", x);
  if (x.shape.length === 0) throw shapeErr("unstack", [x.shape], "needs a tensor of rank >= 1 to split along axis 0, got a scalar");
  if (x.shape[0] === 0) return [];
  return bindMulti(fusedMultiRules.unstack, [x], {});
};

export type { MultiPrimitive, Primitive };
