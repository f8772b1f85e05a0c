/**
 * Parameter trees: nested plain objects and arrays whose leaves are tensors (or any non-container value).
 * Params, gradients and optimizer state share one tree shape; these functions work on all three.
 */
import { ArgumentError } from "../core/errors.js";
import { isTensor, type Tensor } from "../core/tensor.js";

export type Tree<L = Tensor> = L | readonly Tree<L>[] | { readonly [k: string]: Tree<L> };

const isPlainObject = (x: unknown): x is Record<string, unknown> => {
  if (x === null || typeof x !== "object" || isTensor(x)) return false;
  const p = Object.getPrototypeOf(x);
  return p === Object.prototype || p === null;
};
const isContainer = (x: unknown): boolean => Array.isArray(x) || isPlainObject(x);

/** The structure of a tree without its leaves, printable and comparable. */
export type TreeDef = { kind: "leaf" } | { kind: "array"; children: TreeDef[] } | { kind: "object"; keys: string[]; children: TreeDef[] };

/** A tree's structure as text: `{W: *, b: *}` or `[*, *]`. */
export const showDef = (d: TreeDef): string =>
  d.kind === "leaf" ? "*" : d.kind === "array" ? `[${d.children.map(showDef).join(", ")}]` : `{${d.keys.map((k, i) => `${k}: ${showDef(d.children[i]!)}`).join(", ")}}`;

/** Two trees whose structures differ; prints both. */
export class TreeMismatchError extends Error {
  override readonly name = "TreeMismatchError";
  constructor(readonly op: string, readonly left: TreeDef, readonly right: TreeDef, readonly path: string) {
    super(`${op}: tree structures differ at ${path || "the root"}:\n  ${showDef(left)}\n  ${showDef(right)}`);
  }
}

/** Leaves in a fixed order (arrays by index, objects by key insertion order), with their dotted paths. */
export function flatten<L = Tensor>(tree: Tree<L>): { leaves: L[]; paths: string[]; def: TreeDef } {
  const leaves: L[] = [];
  const paths: string[] = [];
  const walk = (t: unknown, path: string, depth: number): TreeDef => {
    if (depth > 1000) throw new ArgumentError("tree.flatten", "tree", `is nested more than 1000 levels deep at ${path} (a cycle?)`);
    if (Array.isArray(t)) return { kind: "array", children: t.map((c, i) => walk(c, path ? `${path}.${i}` : String(i), depth + 1)) };
    if (isPlainObject(t)) {
      const keys = Object.keys(t);
      return { kind: "object", keys, children: keys.map((k) => walk(t[k], path ? `${path}.${k}` : k, depth + 1)) };
    }
    leaves.push(t as L);
    paths.push(path);
    return { kind: "leaf" };
  };
  const def = walk(tree, "", 0);
  return { leaves, paths, def };
}

/** Rebuilds a tree of structure `def` from leaves in flatten order. */
export function unflatten<L>(def: TreeDef, leaves: readonly L[]): Tree<L> {
  let i = 0;
  const build = (d: TreeDef): Tree<L> => {
    if (d.kind === "leaf") return leaves[i++]!;
    if (d.kind === "array") return d.children.map(build);
    const o: Record<string, Tree<L>> = {};
    d.keys.forEach((k, j) => (o[k] = build(d.children[j]!)));
    return o;
  };
  const out = build(def);
  if (i !== leaves.length) throw new ArgumentError("tree.unflatten", "leaves", `has ${leaves.length} entries but the structure holds ${i}`);
  return out;
}

const sameDef = (a: TreeDef, b: TreeDef, path: string): string | null => {
  if (a.kind !== b.kind) return path;
  if (a.kind === "array" && b.kind === "array") {
    if (a.children.length !== b.children.length) return path;
    for (let i = 0; i < a.children.length; i++) {
      const r = sameDef(a.children[i]!, b.children[i]!, path ? `${path}.${i}` : String(i));
      if (r !== null) return r;
    }
  }
  if (a.kind === "object" && b.kind === "object") {
    const ka = [...a.keys].sort(), kb = [...b.keys].sort();
    if (ka.join("\u0000") !== kb.join("\u0000")) return path;
    for (const k of a.keys) {
      const r = sameDef(a.children[a.keys.indexOf(k)]!, b.children[b.keys.indexOf(k)]!, path ? `${path}.${k}` : k);
      if (r !== null) return r;
    }
  }
  return null;
};

/** Maps `f` over the leaves of one or more trees of the same structure (objects matched by key). */
export function map<R, L = Tensor>(f: (...leaves: L[]) => R, tree: Tree<L>, ...rest: Tree<L>[]): Tree<R> {
  const d0 = flatten(tree).def;
  for (const r of rest) {
    const d = flatten(r).def;
    const where = sameDef(d0, d, "");
    if (where !== null) throw new TreeMismatchError("tree.map", d0, d, where);
  }
  const go = (ts: unknown[]): Tree<R> => {
    const t = ts[0];
    if (Array.isArray(t)) return t.map((_, i) => go(ts.map((x) => (x as unknown[])[i])));
    if (isPlainObject(t)) {
      const o: Record<string, Tree<R>> = {};
      for (const k of Object.keys(t)) o[k] = go(ts.map((x) => (x as Record<string, unknown>)[k]));
      return o;
    }
    return f(...(ts as L[]));
  };
  return go([tree, ...rest]);
}

/** Pairs the leaves of two trees of the same structure. */
export const zip = <A, B>(a: Tree<A>, b: Tree<B>): Tree<[A, B]> => map((x: unknown, y: unknown) => [x, y] as [A, B], a as Tree<unknown>, b as Tree<unknown>);

/** Leaves only, in flatten order. */
export const leaves = <L = Tensor>(tree: Tree<L>): L[] => flatten(tree).leaves;

/** Checks every leaf is a Tensor; the error names the first bad leaf's path. */
export const assertTensorTree = (op: string, what: string, tree: unknown): void => {
  const { leaves: ls, paths } = flatten(tree as Tree<unknown>);
  ls.forEach((l, i) => {
    if (!isTensor(l)) {
      const at = paths[i] ? ` at ${paths[i]}` : "";
      const hint = typeof l === "number" ? ` (wrap numbers with tensor(${l}) — use { dtype: 'float64' } for gradient checks)` : "";
      throw new ArgumentError(op, what, `has a non-tensor leaf${at}: ${l === null ? "null" : typeof l === "object" ? (l as object).constructor?.name ?? "object" : typeof l}${hint}`);
    }
  });
};

export { isContainer };
