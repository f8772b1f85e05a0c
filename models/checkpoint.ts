/**
 * Checkpoints in the safetensors format: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
 * `{ "<name>": { "dtype", "shape", "data_offsets": [begin, end] }, ..., "__metadata__": { string: string } }`
 * (padded with spaces so the data starts 8-byte aligned), then the raw little-endian tensor bytes.
 *
 * Tensor names are the tree paths of `autograd/tree.ts` (`layers.0.W`), so other tools read the weights by
 * name. The exact tree structure (arrays vs objects, key order) is kept in `__metadata__` under the reserved
 * key `seqgrad.tree`; every metadata key starting with `seqgrad.` belongs to seqgrad, user metadata may use
 * any other key. A file without `seqgrad.tree` (written by another tool) loads as nested objects split on `.`.
 *
 * Writes are atomic: a uniquely named temp file in the target's folder is written, fsynced, renamed over the
 * target, and the folder is fsynced; a crash at any moment leaves either the old or the new checkpoint. A
 * process killed mid-write leaves its temp file (`.<name>.<pid>.<n>.<random>.tmp` beside the target); it is
 * never read and is safe to delete.
 * Reads treat the file as hostile: every bound is checked before anything is allocated, the header is parsed
 * by a strict JSON reader into Maps (no prototype pollution, no duplicate keys), and every problem is a
 * `CheckpointError` naming the file and what is wrong.
 *
 * The module has no static Node imports: `encodeSafetensors`/`decodeSafetensors` work in a browser, and the
 * file functions fetch `fs` through `process.getBuiltinModule` only when called.
 */
import { ArgumentError } from "../core/errors.js";
import { MAX_ELEMENTS, describe } from "../core/shape.js";
import { allocData, dataOf, fromData, isTensor, type Data, type DType, type Tensor } from "../core/tensor.js";
import { assertTensorTree, flatten, type Tree, type TreeDef } from "../autograd/tree.js";

/** Metadata keys starting with this prefix are reserved for seqgrad (the tree structure, the format version). */
export const RESERVED_METADATA_PREFIX = "seqgrad.";
/** The largest JSON header accepted (as the reference implementation): 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

const TREE_KEY = "seqgrad.tree";
const FORMAT_KEY = "seqgrad.format";
const FORMAT_VERSION = "1";
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);
/** Nesting allowed in the stored tree structure (tree.flatten refuses deeper trees). */
const MAX_TREE_DEPTH = 1000;
const MAX_RANK = 64;

/**
 * What can be saved: a parameter tree (nested plain objects and arrays with Tensor leaves). Typed as `object`
 * so that params declared with interfaces are accepted too; the leaves are checked when saving.
 */
export type TreeLike = Tree | object;

/** String-to-string metadata stored beside the tensors. */
export type CheckpointMetadata = Record<string, string>;

/** A loaded checkpoint: the parameter tree and the user metadata (reserved `seqgrad.` keys removed). */
export interface Checkpoint {
  tree: Tree;
  metadata: CheckpointMetadata;
}

/** A checkpoint that cannot be read or written; `path` names the file, `detail` what is wrong. */
export class CheckpointError extends Error {
  override readonly name = "CheckpointError";
  constructor(
    readonly path: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`checkpoint ${path}: ${detail}`, options);
  }
}

const DTYPES: Record<string, { dtype: DType; bytes: number }> = {
  F32: { dtype: "float32", bytes: 4 },
  F64: { dtype: "float64", bytes: 8 },
};
const OTHER_SAFETENSORS_DTYPES = new Set(["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "I64", "U64"]);
const CODE_OF: Record<DType, string> = { float32: "F32", float64: "F64" };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---- encoding ---------------------------------------------------------------------------------------------

/** The stored form of a TreeDef: a leaf is 0, an array `[children]`, an object `{"o": [[key, child], ...]}`. */
type StoredDef = 0 | StoredDef[] | { o: [string, StoredDef][] };

const storeDef = (d: TreeDef): StoredDef =>
  d.kind === "leaf" ? 0 : d.kind === "array" ? d.children.map(storeDef) : { o: d.keys.map((k, i) => [k, storeDef(d.children[i]!)]) };

const checkKeys = (op: string, d: TreeDef, path: string): void => {
  if (d.kind === "leaf") return;
  d.children.forEach((c, i) => {
    const key = d.kind === "object" ? d.keys[i]! : String(i);
    if (FORBIDDEN_KEYS.has(key)) throw new ArgumentError(op, "tree", `has the key ${JSON.stringify(key)} at ${path || "the root"}; checkpoints refuse __proto__, constructor and prototype keys`);
    checkKeys(op, c, path ? `${path}.${key}` : key);
  });
};

const checkMetadata = (op: string, metadata: unknown): [string, string][] => {
  if (metadata === undefined) return [];
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata))
    throw new ArgumentError(op, "metadata", `must be an object of string values, got ${describe(metadata)}`);
  return Object.keys(metadata).map((k) => {
    const v = (metadata as Record<string, unknown>)[k];
    if (typeof v !== "string") throw new ArgumentError(op, "metadata", `value of ${JSON.stringify(k)} must be a string (safetensors metadata is string to string), got ${describe(v)}`);
    if (k.startsWith(RESERVED_METADATA_PREFIX)) throw new ArgumentError(op, "metadata", `key ${JSON.stringify(k)} uses the reserved prefix "${RESERVED_METADATA_PREFIX}"`);
    if (FORBIDDEN_KEYS.has(k)) throw new ArgumentError(op, "metadata", `key ${JSON.stringify(k)} is refused (prototype pollution guard)`);
    return [k, v];
  });
};

const encode = (op: string, tree: TreeLike, metadata: unknown): Uint8Array => {
  assertTensorTree(op, "tree", tree);
  const meta = checkMetadata(op, metadata);
  const { leaves, paths, def } = flatten(tree as Tree);
  checkKeys(op, def, "");
  const seen = new Set<string>();
  paths.forEach((p) => {
    if (p === "__metadata__") throw new ArgumentError(op, "tree", `has a leaf at "__metadata__", a name safetensors reserves`);
    if (seen.has(p)) throw new ArgumentError(op, "tree", `has two leaves with the tensor name ${JSON.stringify(p)} (a key containing "." collides with a nested path); rename one`);
    seen.add(p);
  });
  // float64 first, so with the 8-byte aligned data start every tensor is aligned to its element size
  const order = leaves.map((_, i) => i).sort((a, b) => (leaves[b]!.dtype === "float64" ? 1 : 0) - (leaves[a]!.dtype === "float64" ? 1 : 0) || a - b);
  const entries: string[] = [];
  const allMeta: [string, string][] = [[FORMAT_KEY, FORMAT_VERSION], [TREE_KEY, JSON.stringify(storeDef(def))], ...meta];
  entries.push(`"__metadata__":{${allMeta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`);
  let offset = 0;
  for (const i of order) {
    const t = leaves[i]!;
    const n = t.size * DTYPES[CODE_OF[t.dtype]]!.bytes;
    entries.push(`${JSON.stringify(paths[i])}:{"dtype":"${CODE_OF[t.dtype]}","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${offset + n}]}`);
    offset += n;
  }
  const headerRaw = new TextEncoder().encode(`{${entries.join(",")}}`);
  const headerLen = Math.ceil((8 + headerRaw.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(headerRaw, 8);
  out.fill(0x20, 8 + headerRaw.length, 8 + headerLen);
  let at = 8 + headerLen;
  for (const i of order) {
    const d = dataOf(leaves[i]!);
    writeLE(d, out, at);
    at += d.byteLength;
  }
  return out;
};

const writeLE = (d: Data, out: Uint8Array, at: number): void => {
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    return;
  }
  const v = new DataView(out.buffer, out.byteOffset);
  if (d instanceof Float64Array) for (let i = 0; i < d.length; i++) v.setFloat64(at + 8 * i, d[i]!, true);
  else for (let i = 0; i < d.length; i++) v.setFloat32(at + 4 * i, d[i]!, true);
};

/** `encodeSafetensors(tree, metadata?)`: the safetensors bytes of a tensor tree (pure; works in a browser). */
export const encodeSafetensors = (tree: TreeLike, metadata?: CheckpointMetadata): Uint8Array => encode("encodeSafetensors", tree, metadata);

// ---- a strict JSON reader ---------------------------------------------------------------------------------

/** A parsed JSON value; objects become Maps (insertion order kept), so no key can reach a prototype. */
type Json = null | boolean | number | string | Json[] | Map<string, Json>;

class JsonSyntax extends Error {}

/** Parses JSON text strictly: duplicate keys and nesting deeper than `maxDepth` are errors. */
const parseJson = (text: string, maxDepth: number): Json => {
  let i = 0;
  const n = text.length;
  const fail = (what: string): never => {
    throw new JsonSyntax(`${what} at character ${i}`);
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const str = (): string => {
    i++; // opening quote
    let out = "";
    let start = i;
    while (true) {
      if (i >= n) fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail("control character in a string");
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(start, i);
      const e = text[i + 1];
      i += 2;
      switch (e) {
        case '"': out += '"'; break;
        case "\\": out += "\\"; break;
        case "/": out += "/"; break;
        case "b": out += "\b"; break;
        case "f": out += "\f"; break;
        case "n": out += "\n"; break;
        case "r": out += "\r"; break;
        case "t": out += "\t"; break;
        case "u": {
          const hex = text.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default:
          i -= 2;
          fail("bad escape");
      }
      start = i;
    }
  };
  const digits = () => {
    const from = i;
    while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (i === from) fail("bad number");
  };
  const num = (): number => {
    const from = i;
    if (text.charCodeAt(i) === 0x2d) i++; // -
    if (text.charCodeAt(i) === 0x30) i++; // a leading 0 stands alone
    else digits();
    if (text.charCodeAt(i) === 0x2e) {
      i++;
      digits();
    }
    const e = text.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sign = text.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      digits();
    }
    return Number(text.slice(from, i));
  };
  const value = (depth: number): Json => {
    if (depth > maxDepth) fail(`nesting deeper than ${maxDepth}`);
    ws();
    if (i >= n) fail("unexpected end");
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      // {
      i++;
      const m = new Map<string, Json>();
      ws();
      if (text.charCodeAt(i) === 0x7d) {
        i++;
        return m;
      }
      while (true) {
        ws();
        if (text.charCodeAt(i) !== 0x22) fail("expected a string key");
        const k = str();
        if (m.has(k)) fail(`duplicate key ${JSON.stringify(k.slice(0, 80))}`);
        ws();
        if (text.charCodeAt(i) !== 0x3a) fail("expected ':'");
        i++;
        m.set(k, value(depth + 1));
        ws();
        const d = text.charCodeAt(i);
        if (d === 0x2c) i++;
        else if (d === 0x7d) {
          i++;
          return m;
        } else fail("expected ',' or '}'");
      }
    }
    if (c === 0x5b) {
      // [
      i++;
      const a: Json[] = [];
      ws();
      if (text.charCodeAt(i) === 0x5d) {
        i++;
        return a;
      }
      while (true) {
        a.push(value(depth + 1));
        ws();
        const d = text.charCodeAt(i);
        if (d === 0x2c) i++;
        else if (d === 0x5d) {
          i++;
          return a;
        } else fail("expected ',' or ']'");
      }
    }
    if (c === 0x22) return str();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return num();
    if (text.startsWith("true", i)) return (i += 4), true;
    if (text.startsWith("false", i)) return (i += 5), false;
    if (text.startsWith("null", i)) return (i += 4), null;
    return fail("unexpected character");
  };
  const v = value(0);
  ws();
  if (i !== n) fail("trailing characters after the JSON value");
  return v;
};

// ---- decoding ---------------------------------------------------------------------------------------------

interface TensorInfo {
  name: string;
  code: string;
  shape: number[];
  count: number;
  begin: number;
  end: number;
}

const isMap = (v: Json | undefined): v is Map<string, Json> => v instanceof Map;
const isCount = (v: Json | undefined): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const show = (s: string): string => JSON.stringify(s.length > 80 ? s.slice(0, 80) + "…" : s);

const readTensorInfo = (bad: (d: string) => never, name: string, v: Json, dataLen: number): TensorInfo => {
  if (!isMap(v)) bad(`header entry ${show(name)} must be an object { dtype, shape, data_offsets }`);
  const info = v as Map<string, Json>;
  for (const k of info.keys()) if (k !== "dtype" && k !== "shape" && k !== "data_offsets") bad(`tensor ${show(name)} has an unknown field ${show(k)}`);
  const code = info.get("dtype");
  if (typeof code !== "string") bad(`tensor ${show(name)} has no string dtype`);
  if (!DTYPES[code as string])
    bad(`tensor ${show(name)} has dtype ${show(String(code))}; ${OTHER_SAFETENSORS_DTYPES.has(code as string) ? "seqgrad reads only F32 and F64" : "that is not a safetensors dtype"}`);
  const shape = info.get("shape");
  if (!Array.isArray(shape)) bad(`tensor ${show(name)} has no shape array`);
  const dims = shape as Json[];
  if (dims.length > MAX_RANK) bad(`tensor ${show(name)} has rank ${dims.length}, over the limit of ${MAX_RANK}`);
  let count = 1;
  dims.forEach((d, j) => {
    if (!isCount(d)) bad(`tensor ${show(name)} shape[${j}] must be a non-negative integer, got ${JSON.stringify(d)}`);
    count *= d as number;
  });
  if (count > MAX_ELEMENTS) bad(`tensor ${show(name)} shape [${dims.join(",")}] has more than ${MAX_ELEMENTS} elements`);
  const offs = info.get("data_offsets");
  if (!Array.isArray(offs) || offs.length !== 2 || !isCount(offs[0]) || !isCount(offs[1]))
    bad(`tensor ${show(name)} data_offsets must be [begin, end] with non-negative integers`);
  const [begin, end] = offs as [number, number];
  if (begin > end) bad(`tensor ${show(name)} data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLen) bad(`tensor ${show(name)} data_offsets [${begin}, ${end}] run past the data section of ${dataLen} bytes`);
  const want = count * DTYPES[code as string]!.bytes;
  if (end - begin !== want) bad(`tensor ${show(name)} of shape [${dims.join(",")}] and dtype ${code} needs ${want} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  return { name, code: code as string, shape: dims as number[], count, begin, end };
};

/** Rebuilds a TreeDef from its stored form, refusing unsafe or duplicate keys. */
const loadDef = (bad: (d: string) => never, v: Json): TreeDef => {
  const go = (s: Json, path: string, depth: number): TreeDef => {
    if (depth > MAX_TREE_DEPTH) bad(`${TREE_KEY} nests deeper than ${MAX_TREE_DEPTH} levels`);
    if (s === 0) return { kind: "leaf" };
    if (Array.isArray(s)) return { kind: "array", children: s.map((c, i) => go(c, path ? `${path}.${i}` : String(i), depth + 1)) };
    if (isMap(s) && s.size === 1 && Array.isArray(s.get("o"))) {
      const keys: string[] = [];
      const seen = new Set<string>();
      const children: TreeDef[] = [];
      for (const pair of s.get("o") as Json[]) {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string") bad(`${TREE_KEY} has a malformed object entry at ${path || "the root"}`);
        const k = (pair as Json[])[0] as string;
        if (FORBIDDEN_KEYS.has(k)) bad(`${TREE_KEY} has the refused key ${show(k)} at ${path || "the root"}`);
        if (seen.has(k)) bad(`${TREE_KEY} repeats the key ${show(k)} at ${path || "the root"}`);
        seen.add(k);
        keys.push(k);
        children.push(go((pair as Json[])[1]!, path ? `${path}.${k}` : k, depth + 1));
      }
      return { kind: "object", keys, children };
    }
    return bad(`${TREE_KEY} has a malformed node at ${path || "the root"}`);
  };
  return go(v, "", 0);
};

/** Builds the tree: from the stored structure when present, else nested objects split on `.` in header order. */
const buildTree = (bad: (d: string) => never, def: TreeDef | null, tensors: Map<string, Tensor>): Tree => {
  if (def !== null) {
    const used = new Set<string>();
    const go = (d: TreeDef, path: string): Tree => {
      if (d.kind === "leaf") {
        const t = tensors.get(path);
        if (t === undefined) bad(`${TREE_KEY} has a leaf ${show(path)} with no tensor of that name`);
        if (used.has(path)) bad(`${TREE_KEY} names the tensor ${show(path)} twice`);
        used.add(path);
        return t!;
      }
      if (d.kind === "array") return d.children.map((c, i) => go(c, path ? `${path}.${i}` : String(i)));
      const o: Record<string, Tree> = {};
      d.keys.forEach((k, i) => (o[k] = go(d.children[i]!, path ? `${path}.${k}` : k)));
      return o;
    };
    const tree = go(def, "");
    for (const name of tensors.keys()) if (!used.has(name)) bad(`tensor ${show(name)} is not part of the tree stored in ${TREE_KEY}`);
    return tree;
  }
  if (tensors.size === 1 && tensors.has("")) return tensors.get("")!;
  const root: Record<string, Tree> = {};
  for (const [name, t] of tensors) {
    const parts = name.split(".");
    let node = root;
    parts.forEach((p, j) => {
      const last = j === parts.length - 1;
      const hit = Object.prototype.hasOwnProperty.call(node, p) ? node[p] : undefined;
      if (last) {
        if (hit !== undefined) bad(`tensor ${show(name)} clashes with another tensor's path`);
        node[p] = t;
      } else {
        if (hit === undefined) node[p] = {};
        else if (isTensor(hit)) bad(`tensor ${show(name)} is nested under ${show(parts.slice(0, j + 1).join("."))}, which is itself a tensor`);
        node = node[p] as Record<string, Tree>;
      }
    });
  }
  return root;
};

const readData = (bytes: Uint8Array, at: number, info: TensorInfo): Tensor => {
  const { dtype, bytes: size } = DTYPES[info.code]!;
  const d = allocData(dtype, info.count); // count × size equals a byte range already checked to lie inside the file
  if (LITTLE_ENDIAN) new Uint8Array(d.buffer, d.byteOffset, d.byteLength).set(bytes.subarray(at + info.begin, at + info.end));
  else {
    const v = new DataView(bytes.buffer, bytes.byteOffset + at + info.begin, info.end - info.begin);
    for (let i = 0; i < info.count; i++) d[i] = size === 8 ? v.getFloat64(8 * i, true) : v.getFloat32(4 * i, true);
  }
  return fromData(d, info.shape, dtype);
};

const decode = (bytes: Uint8Array, source: string): Checkpoint => {
  const bad = (detail: string): never => {
    throw new CheckpointError(source, detail);
  };
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError("decodeSafetensors", "bytes", `must be a Uint8Array, got ${describe(bytes)}`);
  if (bytes.length < 8) bad(`is ${bytes.length} bytes long, too short for the 8-byte header length of a safetensors file`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) bad(`claims a header of ${n} bytes, over the limit of ${MAX_HEADER_BYTES}`);
  const headerLen = Number(n);
  if (headerLen > bytes.length - 8) bad(`claims a header of ${headerLen} bytes but only ${bytes.length - 8} bytes follow the length`);
  if (headerLen < 2 || bytes[8] !== 0x7b) bad("header does not start with '{' (not a safetensors file?)");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return bad("header is not valid UTF-8");
  }
  let header: Json;
  try {
    header = parseJson(text, 4);
  } catch (e) {
    return bad(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isMap(header)) return bad("header must be a JSON object");
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  let meta: Map<string, Json> = new Map();
  const infos: TensorInfo[] = [];
  for (const [name, v] of header) {
    if (name === "__metadata__") {
      if (!isMap(v)) bad("__metadata__ must be an object of strings");
      meta = v as Map<string, Json>;
      for (const [k, s] of meta) if (typeof s !== "string") bad(`__metadata__ value of ${show(k)} must be a string, got ${s === null ? "null" : Array.isArray(s) ? "an array" : typeof s}`);
      continue;
    }
    for (const part of name.split(".")) if (FORBIDDEN_KEYS.has(part)) bad(`tensor name ${show(name)} contains the refused key ${show(part)}`);
    infos.push(readTensorInfo(bad, name, v, dataLen));
  }
  // The byte ranges must tile the data section exactly: sorted, each starting where the previous ended.
  const sorted = infos.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const t of sorted) {
    if (t.begin !== pos)
      bad(t.begin < pos ? `tensor ${show(t.name)} data_offsets [${t.begin}, ${t.end}] overlap another tensor's bytes (which end at ${pos})` : `the data section has unused bytes [${pos}, ${t.begin}) before tensor ${show(t.name)}`);
    pos = t.end;
  }
  if (pos !== dataLen) bad(`the data section is ${dataLen} bytes but the tensors cover only ${pos}`);
  const format = meta.get(FORMAT_KEY);
  if (format !== undefined && format !== FORMAT_VERSION) bad(`was written in seqgrad checkpoint format ${show(String(format))}; this version reads format ${FORMAT_VERSION}`);
  let def: TreeDef | null = null;
  const stored = meta.get(TREE_KEY);
  if (stored !== undefined) {
    let parsed: Json;
    try {
      // an object level is three JSON levels in the stored form ({"o": [[key, child]]})
      parsed = parseJson(stored as string, 3 * MAX_TREE_DEPTH + 1);
    } catch (e) {
      return bad(`${TREE_KEY} is not valid JSON: ${(e as Error).message}`);
    }
    def = loadDef(bad, parsed);
  }
  const tensors = new Map<string, Tensor>();
  for (const info of infos) tensors.set(info.name, readData(bytes, dataStart, info));
  const tree = buildTree(bad, def, tensors);
  const metadata: CheckpointMetadata = {};
  for (const [k, v] of meta) {
    if (k.startsWith(RESERVED_METADATA_PREFIX)) continue;
    if (FORBIDDEN_KEYS.has(k)) bad(`__metadata__ has the refused key ${show(k)}`);
    metadata[k] = v as string;
  }
  return { tree, metadata };
};

/** `decodeSafetensors(bytes, source?) => { tree, metadata }`: reads safetensors bytes (pure; `source` names them in errors). */
export const decodeSafetensors = (bytes: Uint8Array, source = "<bytes>"): Checkpoint => decode(bytes, source);

// ---- files ------------------------------------------------------------------------------------------------

type Fs = typeof import("node:fs");
type FsPromises = typeof import("node:fs/promises");

const node = (op: string): { fs: Fs; fsp: FsPromises } => {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (typeof get !== "function") throw new ArgumentError(op, "environment", "needs Node.js >= 20.16 (file access); in a browser use encodeSafetensors/decodeSafetensors");
  return { fs: get("node:fs") as Fs, fsp: get("node:fs/promises") as FsPromises };
};

const checkPath = (op: string, path: unknown): string => {
  if (typeof path !== "string" || path.length === 0) throw new ArgumentError(op, "path", `must be a non-empty string, got ${describe(path)}`);
  return path;
};

const splitPath = (path: string): { dir: string; base: string } => {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? { dir: ".", base: path } : { dir: path.slice(0, cut) || "/", base: path.slice(cut + 1) };
};

let tempCounter = 0;
const tempName = (path: string): string => {
  const { dir, base } = splitPath(path);
  const pid = (globalThis as { process?: { pid?: number } }).process?.pid ?? 0;
  const rand = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${dir}/.${base}.${pid}.${tempCounter++}.${rand}.tmp`;
};

/** fsync a folder so a rename inside it is durable; platforms that cannot open folders are skipped. */
const IGNORED_DIR_SYNC = new Set(["EISDIR", "EPERM", "EACCES", "EINVAL", "ENOTSUP", "EBADF"]);
const ignoreDirSync = (e: unknown): void => {
  if (!IGNORED_DIR_SYNC.has((e as { code?: string }).code ?? "")) throw e;
};

const writeFailed = (path: string, e: unknown): CheckpointError =>
  e instanceof CheckpointError ? e : new CheckpointError(path, `could not be written (the previous checkpoint, if any, is untouched): ${(e as Error).message}`, { cause: e });

/** `saveCheckpoint(path, tree, metadata?)`: writes the tree atomically (temp file, fsync, rename, fsync folder). */
export const saveCheckpoint = async (path: string, tree: TreeLike, metadata?: CheckpointMetadata): Promise<void> => {
  const op = "saveCheckpoint";
  checkPath(op, path);
  const bytes = encode(op, tree, metadata);
  const { fsp } = node(op);
  const tmp = tempName(path);
  try {
    const fh = await fsp.open(tmp, "wx", 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw writeFailed(path, e);
  }
  try {
    const dh = await fsp.open(splitPath(path).dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch (e) {
    ignoreDirSync(e);
  }
};

/** `saveCheckpointSync(path, tree, metadata?)`: the synchronous form of `saveCheckpoint`. */
export const saveCheckpointSync = (path: string, tree: TreeLike, metadata?: CheckpointMetadata): void => {
  const op = "saveCheckpointSync";
  checkPath(op, path);
  const bytes = encode(op, tree, metadata);
  const { fs } = node(op);
  const tmp = tempName(path);
  try {
    const fd = fs.openSync(tmp, "wx", 0o644);
    try {
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* the original error matters more */
    }
    throw writeFailed(path, e);
  }
  try {
    const dfd = fs.openSync(splitPath(path).dir, "r");
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch (e) {
    ignoreDirSync(e);
  }
};

const readFailed = (path: string, e: unknown): CheckpointError =>
  new CheckpointError(path, `could not be read: ${(e as Error).message}`, { cause: e });

/** `loadCheckpoint(path) => { tree, metadata }`: reads and validates a safetensors checkpoint. */
export const loadCheckpoint = async (path: string): Promise<Checkpoint> => {
  checkPath("loadCheckpoint", path);
  const { fsp } = node("loadCheckpoint");
  let bytes: Uint8Array;
  try {
    bytes = await fsp.readFile(path);
  } catch (e) {
    throw readFailed(path, e);
  }
  return decode(bytes, path);
};

/** `loadCheckpointSync(path) => { tree, metadata }`: the synchronous form of `loadCheckpoint`. */
export const loadCheckpointSync = (path: string): Checkpoint => {
  checkPath("loadCheckpointSync", path);
  const { fs } = node("loadCheckpointSync");
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    throw readFailed(path, e);
  }
  return decode(bytes, path);
};
