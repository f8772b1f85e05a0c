/**
 * Optimizers as pure values: `{ init(params) => state, update(grads, state, params) => [params, state] }`.
 * Parameters and optimizer state are immutable trees. Each update is one immer `produce` over
 * `{ params, state }`, so the results are frozen and share every subtree whose values did not change
 * (a leaf whose new values equal its old ones keeps its identity). Immer also freezes, in place, the
 * input subtrees it shares with the result; their values are never changed.
 */
import { freeze, produce } from "immer";
import { ArgumentError, ShapeError, fmtShape } from "../core/errors.js";
import { describe } from "../core/shape.js";
import { dataOf, isTensor, scalarLike, zeros, type Tensor } from "../core/tensor.js";
import { sqrt, square } from "../autograd/primitives/unary.js";
import { add, div, mul, sub } from "../autograd/primitives/binary.js";
import { assertTensorTree, flatten, isContainer, map, TreeMismatchError, type Tree } from "../autograd/tree.js";

/** A pure optimizer: `init` builds its state from the params; `update` returns new params and state. */
export interface Optimizer<S> {
  readonly name: string;
  init(params: Tree): S;
  update<P extends Tree>(grads: P, state: S, params: P): [P, S];
}

/** State of `sgd`: nothing. */
export type SgdState = Readonly<Record<string, never>>;
/** State of `momentum`: the velocity v, one tensor per parameter. */
export interface MomentumState { readonly velocity: Tree }
/** State of `adagrad`: the running sum of squared gradients G. */
export interface AdagradState { readonly sumSquares: Tree }
/** State of `rmsprop`: the moving average of squared gradients s. */
export interface RmspropState { readonly meanSquares: Tree }
/** State of `adam`: the step count t (a float64 scalar tensor) and the moment estimates m and v. */
export interface AdamState { readonly step: Tensor; readonly m: Tree; readonly v: Tree }

/** New parameter and slot values for one leaf. `t` is the 1-based step number. */
type LeafRule = (g: Tensor, p: Tensor, slots: readonly Tensor[], t: number) => [Tensor, Tensor[]];

const num = (op: string, name: string, v: unknown, ok: (x: number) => boolean, range: string): number => {
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) throw new ArgumentError(op, name, `must be a number ${range}, got ${describe(v)}`);
  return v;
};
const learningRate = (op: string, lr: unknown) => num(op, "lr", lr, (x) => x >= 0, ">= 0");
const decayRate = (op: string, name: string, v: unknown) => num(op, name, v, (x) => x >= 0 && x < 1, "in [0, 1)");
const epsilon = (op: string, v: unknown) => num(op, "eps", v, (x) => x > 0, "> 0");

/** Equal values (so the old tensor, and the subtree holding it, can keep its identity). */
const sameValues = (a: Tensor, b: Tensor): boolean => {
  if (a === b) return true;
  const x = dataOf(a), y = dataOf(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
};

/** Throws TreeMismatchError (renamed to `op`) unless `other` has the structure of `params`. */
const sameStructure = (op: string, params: Tree, other: Tree): void => {
  try {
    map<null, unknown>(() => null, params as Tree<unknown>, other as Tree<unknown>);
  } catch (e) {
    if (e instanceof TreeMismatchError) throw new TreeMismatchError(op, e.left, e.right, e.path);
    throw e;
  }
};

/** Every leaf of `other` has its parameter's shape and dtype; all problems are reported together. */
const sameLeaves = (op: string, what: string, params: Tree, other: Tree): void => {
  const p = flatten(params), o = flatten(other);
  const bad: string[] = [];
  const shapes: number[][] = [];
  p.leaves.forEach((a, i) => {
    const b = o.leaves[i]!;
    if (a.shape.length !== b.shape.length || a.shape.some((d, j) => d !== b.shape[j]) || a.dtype !== b.dtype) {
      bad.push(`${p.paths[i] || "(root)"}: param ${fmtShape(a.shape)} ${a.dtype}, ${what} ${fmtShape(b.shape)} ${b.dtype}`);
      shapes.push(a.shape.slice(), b.shape.slice());
    }
  });
  if (bad.length) throw new ShapeError(op, shapes, `${what} must match the params leaf by leaf (shape and dtype); ${bad.length} differ:\n  ${bad.join("\n  ")}`);
};

const zerosLike = (params: Tree): Tree => map((p: Tensor) => zeros(p.shape, p.dtype), params);

/**
 * Builds an optimizer from a per-leaf rule. `slots` name the per-parameter state trees (each shaped like the
 * params); `counted` adds a step counter.
 */
const makeOptimizer = <S>(name: string, slots: readonly string[], counted: boolean, rule: LeafRule): Optimizer<S> => {
  const op = `${name}.update`;
  const init = (params: Tree): S => {
    assertTensorTree(`${name}.init`, "params", params);
    const s: Record<string, unknown> = {};
    if (counted) s.step = scalarLike(0, "float64");
    for (const k of slots) s[k] = zerosLike(params);
    return freeze(s, true) as S; // frozen, like every later state
  };
  const update = <P extends Tree>(grads: P, state: S, params: P): [P, S] => {
    assertTensorTree(op, "params", params);
    assertTensorTree(op, "grads", grads);
    sameStructure(op, params, grads);
    sameLeaves(op, "grads", params, grads);
    const st = state as unknown as Record<string, Tree>;
    if (st === null || typeof st !== "object" || isTensor(st))
      throw new ArgumentError(op, "state", `must be the object ${name}.init(params) returns, got ${describe(state)}`);
    for (const k of [...slots, ...(counted ? ["step"] : [])])
      if (!(k in st)) throw new ArgumentError(op, "state", `has no '${k}'; it is not a ${name} state (make one with ${name}.init(params))`);
    for (const k of slots) {
      assertTensorTree(op, `state.${k}`, st[k]);
      sameStructure(`${op} (state.${k})`, params, st[k]!);
      sameLeaves(op, `state.${k}`, params, st[k]!);
    }
    let t = 1;
    if (counted) {
      const s = st.step;
      if (!isTensor(s) || s.size !== 1) throw new ArgumentError(op, "state.step", `must be a scalar tensor, got ${describe(s)}`);
      t = s.item() + 1;
    }
    const base: { params: Tree; state: Record<string, Tree> } = { params, state: st };
    const out = produce(base, (draft: any) => {
      // Walk the originals (fast, no proxies) and write into the matching draft containers.
      const visit = (pHolder: any, pKey: string | number, sHolders: any[], sKeys: (string | number)[], p: unknown, g: unknown, ss: unknown[]): void => {
        if (isContainer(p)) {
          const pChild = pHolder[pKey];
          const sChildren = sHolders.map((h, i) => h[sKeys[i]!]);
          const keys = Array.isArray(p) ? p.map((_, i) => i) : Object.keys(p as object);
          for (const k of keys)
            visit(pChild, k, sChildren, sChildren.map(() => k), (p as any)[k], (g as any)[k], ss.map((s) => (s as any)[k]));
          return;
        }
        const [np, ns] = rule(g as Tensor, p as Tensor, ss as Tensor[], t);
        if (!sameValues(np, p as Tensor)) pHolder[pKey] = np;
        ns.forEach((n, i) => {
          if (!sameValues(n, ss[i] as Tensor)) sHolders[i][sKeys[i]!] = n;
        });
      };
      visit(draft, "params", slots.map(() => draft.state), [...slots], params, grads, slots.map((k) => st[k]));
      if (counted) draft.state.step = scalarLike(t, "float64");
    });
    return [out.params as P, out.state as unknown as S];
  };
  return { name, init, update };
};

/** `sgd(lr)`: p ← p − lr·g. */
export const sgd = (lr: number): Optimizer<SgdState> => {
  learningRate("sgd", lr);
  return makeOptimizer<SgdState>("sgd", [], false, (g, p) => [sub(p, mul(g, lr)), []]);
};

/** `momentum(lr, β = 0.9)`: v ← β·v + g; p ← p − lr·v (heavy ball, as PyTorch and Keras; the EMA form v ← βv + (1−β)g is this with lr·(1−β)). */
export const momentum = (lr: number, beta = 0.9): Optimizer<MomentumState> => {
  learningRate("momentum", lr);
  decayRate("momentum", "beta", beta);
  return makeOptimizer<MomentumState>("momentum", ["velocity"], false, (g, p, [v]) => {
    const v1 = add(mul(v!, beta), g);
    return [sub(p, mul(v1, lr)), [v1]];
  });
};

/** `adagrad(lr, eps = 1e-10)`: G ← G + g²; p ← p − lr·g / (√G + ε) (AdaGrad, JMLR 2011; ε outside the root as in PyTorch). */
export const adagrad = (lr: number, eps = 1e-10): Optimizer<AdagradState> => {
  learningRate("adagrad", lr);
  epsilon("adagrad", eps);
  return makeOptimizer<AdagradState>("adagrad", ["sumSquares"], false, (g, p, [G]) => {
    const G1 = add(G!, square(g));
    return [sub(p, div(mul(g, lr), add(sqrt(G1), eps))), [G1]];
  });
};

export interface RmspropOptions {
  /** ρ, the decay of the moving average of g². Default 0.9. */
  decay?: number;
  /** ε added to √s. Default 1e-8. */
  eps?: number;
}

/** `rmsprop(lr, { decay: ρ = 0.9, eps = 1e-8 })`: s ← ρ·s + (1−ρ)·g²; p ← p − lr·g / (√s + ε) (RMSprop as first taught in lecture 6e of the 2012 Neural Networks course). */
export const rmsprop = (lr: number, options: RmspropOptions = {}): Optimizer<RmspropState> => {
  const { decay = 0.9, eps = 1e-8 } = options;
  learningRate("rmsprop", lr);
  decayRate("rmsprop", "decay", decay);
  epsilon("rmsprop", eps);
  return makeOptimizer<RmspropState>("rmsprop", ["meanSquares"], false, (g, p, [s]) => {
    const s1 = add(mul(s!, decay), mul(square(g), 1 - decay));
    return [sub(p, div(mul(g, lr), add(sqrt(s1), eps))), [s1]];
  });
};

export interface AdamOptions {
  /** β₁, the decay of the first-moment estimate. Default 0.9. */
  beta1?: number;
  /** β₂, the decay of the second-moment estimate. Default 0.999. */
  beta2?: number;
  /** ε added to √v̂. Default 1e-8. */
  eps?: number;
}

/**
 * `adam(lr, { β₁ = 0.9, β₂ = 0.999, ε = 1e-8 })` (Algorithm 1 of the Adam paper, ICLR 2015): m ← β₁m + (1−β₁)g;
 * v ← β₂v + (1−β₂)g²; m̂ = m/(1−β₁ᵗ); v̂ = v/(1−β₂ᵗ); p ← p − lr·m̂/(√v̂ + ε).
 */
export const adam = (lr: number, options: AdamOptions = {}): Optimizer<AdamState> => {
  const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } = options;
  learningRate("adam", lr);
  decayRate("adam", "beta1", beta1);
  decayRate("adam", "beta2", beta2);
  epsilon("adam", eps);
  return makeOptimizer<AdamState>("adam", ["m", "v"], true, (g, p, [m, v], t) => {
    const m1 = add(mul(m!, beta1), mul(g, 1 - beta1));
    const v1 = add(mul(v!, beta2), mul(square(g), 1 - beta2));
    const mHat = div(m1, 1 - beta1 ** t);
    const vHat = div(v1, 1 - beta2 ** t);
    return [sub(p, div(mul(mHat, lr), add(sqrt(vHat), eps))), [m1, v1]];
  });
};
