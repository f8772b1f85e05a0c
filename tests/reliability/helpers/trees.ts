/**
 * Test helpers for checkpoints: fast-check generators of tensor trees, a bitwise tree comparison written
 * independently of the code under test, and a minimal reference safetensors reader (JSON.parse + DataView)
 * used as an oracle.
 */
import fc from "fast-check";
import { tensor, type Tensor } from "../../../core/tensor.js";
import type { Tree } from "../../../autograd/tree.js";

export const isTensorLeaf = (x: unknown): x is Tensor => typeof x === "object" && x !== null && "dtype" in x && "shape" in x && "toTypedArray" in x;

/** The bytes of a tensor's values (so NaN, -0 and Infinity compare exactly). */
export const bytesOf = (t: Tensor): Uint8Array => {
  const d = t.toTypedArray();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};

/** Describes the first difference between two trees (structure, key order, dtype, shape, bits), or null. */
export const treeDiff = (a: unknown, b: unknown, path = "(root)"): string | null => {
  if (isTensorLeaf(a) || isTensorLeaf(b)) {
    if (!isTensorLeaf(a) || !isTensorLeaf(b)) return `${path}: leaf vs container`;
    if (a.dtype !== b.dtype) return `${path}: dtype ${a.dtype} vs ${b.dtype}`;
    if (JSON.stringify(a.shape) !== JSON.stringify(b.shape)) return `${path}: shape ${JSON.stringify(a.shape)} vs ${JSON.stringify(b.shape)}`;
    const x = bytesOf(a), y = bytesOf(b);
    if (x.length !== y.length) return `${path}: ${x.length} vs ${y.length} bytes`;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `${path}: byte ${i} differs`;
    return null;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return `${path}: array vs object`;
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = treeDiff(a[i], b[i], `${path}.${i}`);
      if (d) return d;
    }
    return null;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return `${path}: not a tree node`;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (JSON.stringify(ka) !== JSON.stringify(kb)) return `${path}: keys ${JSON.stringify(ka)} vs ${JSON.stringify(kb)}`;
  for (const k of ka) {
    const d = treeDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
};

const shapeArb = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 4 });

/** A tensor with a random shape (zero-size dims and scalars included), dtype, and values (NaN, ±Inf, -0 included). */
export const tensorArb: fc.Arbitrary<Tensor> = fc
  .tuple(shapeArb, fc.constantFrom("float32" as const, "float64" as const))
  .chain(([shape, dtype]) => {
    const n = shape.reduce((p, d) => p * d, 1);
    const values = dtype === "float64" ? fc.array(fc.double(), { minLength: n, maxLength: n }) : fc.array(fc.float(), { minLength: n, maxLength: n });
    return values.map((v) => tensor(dtype === "float64" ? Float64Array.from(v) : Float32Array.from(v), { shape, dtype }));
  });

const REFUSED = new Set(["__proto__", "constructor", "prototype", "__metadata__"]);
/** Object keys: any non-empty string without "." (a "." would let two paths share a tensor name). */
export const keyArb = fc.oneof(
  fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,6}$/),
  fc.string({ minLength: 1, maxLength: 5, unit: "binary" }),
).filter((k) => !k.includes(".") && !REFUSED.has(k));

/** Nested objects and arrays (empty ones included) with tensor leaves. */
export const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tensorArb,
    fc.array(tie("tree"), { maxLength: 3 }),
    fc.uniqueArray(fc.tuple(keyArb, tie("tree")), { maxLength: 3, selector: ([k]) => k }).map((pairs) => {
      const o: Record<string, Tree> = {};
      for (const [k, v] of pairs) o[k] = v;
      return o;
    }),
  ),
})).tree;

/** Metadata with keys outside the reserved prefix. */
export const metadataArb = fc.dictionary(
  fc.string({ maxLength: 8, unit: "binary" }).filter((k) => !k.startsWith("seqgrad.") && !REFUSED.has(k)),
  fc.string({ maxLength: 12, unit: "binary" }),
  { maxKeys: 4, noNullPrototype: true },
);

/** What the reference format says the bytes hold: name → { dtype, shape, raw bytes }, plus metadata. */
export interface OracleFile {
  tensors: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>;
  metadata: Record<string, string> | undefined;
}

/**
 * A deliberately simple reader of the safetensors format, written from the format description with the
 * platform's JSON.parse and DataView; returns null where the format is violated.
 */
export const oracleRead = (file: Uint8Array): OracleFile | null => {
  if (file.length < 8) return null;
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  if (n > file.length - 8) return null;
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(file.subarray(8, 8 + n)));
  } catch {
    return null;
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return null;
  const data = file.subarray(8 + n);
  const tensors = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
  let metadata: Record<string, string> | undefined;
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = v as Record<string, string>;
      continue;
    }
    const info = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const [b, e] = info.data_offsets;
    tensors.set(name, { dtype: info.dtype, shape: info.shape, bytes: data.subarray(b, e) });
  }
  return { tensors, metadata };
};

/** Leaves of a loaded tree by dotted path (the safetensors tensor names). */
export const leavesByName = (tree: unknown): Map<string, Tensor> => {
  const out = new Map<string, Tensor>();
  const walk = (t: unknown, path: string): void => {
    if (isTensorLeaf(t)) out.set(path, t);
    else if (Array.isArray(t)) t.forEach((c, i) => walk(c, path ? `${path}.${i}` : String(i)));
    else if (t && typeof t === "object") for (const k of Object.keys(t)) walk((t as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
  };
  walk(tree, "");
  return out;
};
