/** Shapes, strides and NumPy broadcasting. Shape rules are pure and return `Either`; ops throw at the call site. */
import * as E from "fp-ts/lib/Either.js";
import { ArgumentError, ShapeError, fmtShape, type Shape } from "./errors.js";

export type { Shape };

/** The largest element count a tensor may have; a bigger shape is refused before any allocation. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** Number of elements of a shape (1 for a scalar). */
export const sizeOf = (shape: Shape): number => {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
};

/** Row-major strides. */
export const stridesOf = (shape: Shape): number[] => {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
};

export const shapesEqual = (a: Shape, b: Shape): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/** A valid shape: an array of non-negative safe integers whose product stays under MAX_ELEMENTS. */
export const validateShape = (op: string, shape: unknown, argument = "shape"): E.Either<ShapeError, number[]> => {
  if (!Array.isArray(shape)) return E.left(new ShapeError(op, [], `${argument} must be an array of non-negative integers, got ${describe(shape)}`));
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0)
      return E.left(new ShapeError(op, [], `${argument}[${i}] must be a non-negative integer, got ${describe(d)} in ${JSON.stringify(shape)}`));
    // checked per dimension too: [0, 2**60] has no elements but would overflow strides and later reshapes
    if (d > MAX_ELEMENTS) return E.left(new ShapeError(op, [], `${argument}[${i}] is ${d}; a dimension must be at most ${MAX_ELEMENTS}`));
    n *= d;
  }
  if (n > MAX_ELEMENTS)
    return E.left(new ShapeError(op, [shape as number[]], `${argument} ${fmtShape(shape as number[])} has ${n} elements, over the limit of ${MAX_ELEMENTS}`));
  return E.right(shape.slice() as number[]);
};

export const describe = (v: unknown): string => {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 20 ? v.slice(0, 20) + "…" : v)}`;
  if (typeof v === "object") return `an object (${(v as object).constructor?.name ?? "Object"})`;
  return typeof v;
};

/**
 * Checks an options (or config) argument: a plain object, not null and not an array. With `known`, every key
 * must be one of them too, since a misspelt option would otherwise be ignored without a word. `example` shows
 * the expected form in the error (`{ dtype, shape }`).
 */
export const optionsObject = <T>(op: string, argument: string, v: unknown, example: string, known?: readonly string[]): T => {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new ArgumentError(op, argument, `must be an object like ${example}, got ${describe(v)}`);
  if (known !== undefined)
    for (const key of Object.keys(v))
      if (!known.includes(key)) throw new ArgumentError(op, argument, `has an unknown key ${JSON.stringify(key)}; known: ${known.join(", ")}`);
  return v as T;
};

/** NumPy broadcasting of two shapes. */
export const broadcastShapes = (op: string, a: Shape, b: Shape): E.Either<ShapeError, number[]> => {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else
      return E.left(
        new ShapeError(op, [a, b], `shapes ${fmtShape(a)} (argument a) and ${fmtShape(b)} (argument b) cannot be broadcast: dimension ${i} is ${da} vs ${db}`),
      );
  }
  // refused before any kernel allocates it: [65536, 1] + [1, 65536] would be 2^32 elements
  if (sizeOf(out) > MAX_ELEMENTS)
    return E.left(new ShapeError(op, [a, b], `broadcasting ${fmtShape(a)} with ${fmtShape(b)} gives ${fmtShape(out)}, ${sizeOf(out)} elements, over the limit of ${MAX_ELEMENTS}`));
  return E.right(out);
};

/** Normalises a possibly negative axis against a rank. */
export const normAxis = (op: string, axis: number, rank: number, shape: Shape = []): E.Either<ShapeError, number> => {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    return E.left(new ShapeError(op, [shape], `axis ${typeof axis === "number" ? axis : describe(axis)} is out of range for a tensor of rank ${rank} (shape ${fmtShape(shape)})`));
  return E.right(axis < 0 ? axis + rank : axis);
};

/** Normalises `axis?: number | number[]` to a sorted list of distinct non-negative axes (all axes when undefined). */
export const normAxes = (op: string, axis: number | readonly number[] | undefined, shape: Shape): E.Either<ShapeError, number[]> => {
  const rank = shape.length;
  if (axis === undefined) return E.right(Array.from({ length: rank }, (_, i) => i));
  if (typeof axis !== "number" && !Array.isArray(axis))
    return E.left(new ShapeError(op, [shape], `axis must be a number, an array of numbers or undefined, got ${describe(axis)}`));
  const list = typeof axis === "number" ? [axis] : Array.from(axis);
  const out: number[] = [];
  for (const a of list) {
    const r = normAxis(op, a, rank, shape);
    if (E.isLeft(r)) return r;
    if (out.includes(r.right)) return E.left(new ShapeError(op, [shape], `axis ${a} is repeated in ${JSON.stringify(list)}`));
    out.push(r.right);
  }
  return E.right(out.sort((x, y) => x - y));
};

/** Throws the Left of a shape rule; returns the Right. */
export const orThrow = <A>(e: E.Either<Error, A>): A => {
  if (E.isLeft(e)) throw e.left;
  return e.right;
};
