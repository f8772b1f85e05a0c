/**
 * Vocabularies: the course's dictionary that maps each token (a character or a word) to an index, with the
 * special tokens every sequence model here shares. Ids are fixed for the four base specials, so any model can
 * rely on them: `<pad>` = 0 (padding, always masked), `<unk>` = 1 (a token outside the vocabulary), `<bos>` = 2
 * (an optional first input), `<eos>` = 3 (end of sequence, a real prediction target). Extra specials (a
 * separator, class labels) follow, then the corpus tokens by descending count (ties in code-point order), so
 * the same corpus and options always give the same ids.
 *
 * Validation happens at the boundary and returns fp-ts `Either<VocabularyError, Vocabulary>` (`build`,
 * `fromTokens`, `fromJSON`); the `...OrThrow` forms throw the same error.
 */
import * as E from "fp-ts/lib/Either.js";
import { ArgumentError } from "../core/errors.js";
import { describe } from "../core/shape.js";
import { allocData, fromData, type DType, type Tensor } from "../core/tensor.js";

/** Tokens are characters (Unicode code points) or words (runs of letters/digits with inner ' or -, or single punctuation marks). */
export type VocabularyLevel = "char" | "word";

/** The padding token (id 0). */
export const PAD = "<pad>";
/** The unknown-token token (id 1). */
export const UNK = "<unk>";
/** The begin-of-sequence token (id 2). */
export const BOS = "<bos>";
/** The end-of-sequence token (id 3). */
export const EOS = "<eos>";
/** The base specials in id order: `<pad>` 0, `<unk>` 1, `<bos>` 2, `<eos>` 3. */
export const BASE_SPECIALS: readonly string[] = Object.freeze([PAD, UNK, BOS, EOS]);

export interface VocabularyOptions {
  /** `'char'` or `'word'`. */
  readonly level: VocabularyLevel;
  /** Keep tokens seen at least this often (default 1); rarer ones become `<unk>`. */
  readonly minCount?: number;
  /** At most this many entries in total, specials included (default: no limit); the rarest tokens are dropped. */
  readonly maxSize?: number;
  /** Lower-case every text before tokenizing (default false). */
  readonly lowercase?: boolean;
  /** Extra special tokens placed right after the base four (e.g. `<sep>`, class labels). */
  readonly specials?: readonly string[];
}

/** What went wrong while building or reading a vocabulary. */
export type VocabularyErrorKind = "empty-corpus" | "non-string" | "duplicate-special" | "bad-option" | "bad-json";

/** A vocabulary that cannot be built or read; `kind` says which rule failed, the message says where. */
export class VocabularyError extends ArgumentError {
  constructor(
    readonly kind: VocabularyErrorKind,
    op: string,
    argument: string,
    detail: string,
  ) {
    super(op, argument, detail);
  }
}

/** The serialised form (`vocab.toJSON()`, stored in checkpoints' metadata). */
export interface VocabularyJSON {
  readonly format: "seqgrad.vocabulary";
  readonly version: 1;
  readonly level: VocabularyLevel;
  readonly lowercase: boolean;
  /** Number of leading entries of `tokens` that are specials (the base four, then the extras). */
  readonly specials: number;
  /** Every token in id order. */
  readonly tokens: readonly string[];
}

const WORD = /[\p{L}\p{N}]+(?:['’\-][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu;

/** Splits a text into tokens at `level` (no vocabulary needed): code points, or words and punctuation marks. */
export const tokenize = (text: string, level: VocabularyLevel, lowercase = false): string[] => {
  const t = lowercase ? text.toLowerCase() : text;
  return level === "char" ? Array.from(t) : (t.match(WORD) ?? []);
};

const isLevel = (x: unknown): x is VocabularyLevel => x === "char" || x === "word";

/** Checks options, collecting the first problem as a VocabularyError. */
const checkOptions = (op: string, opts: unknown): E.Either<VocabularyError, Required<Omit<VocabularyOptions, "maxSize">> & { maxSize: number }> => {
  const bad = (arg: string, detail: string) => E.left(new VocabularyError("bad-option", op, arg, detail));
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) return bad("options", `must be an object like { level: 'char' }, got ${describe(opts)}`);
  const o = opts as Record<string, unknown>;
  if (!isLevel(o.level)) return bad("options.level", `must be 'char' or 'word', got ${describe(o.level)}`);
  const minCount = o.minCount ?? 1;
  if (typeof minCount !== "number" || !Number.isInteger(minCount) || minCount < 1) return bad("options.minCount", `must be an integer >= 1, got ${describe(minCount)}`);
  const lowercase = o.lowercase ?? false;
  if (typeof lowercase !== "boolean") return bad("options.lowercase", `must be a boolean, got ${describe(lowercase)}`);
  const specials = o.specials ?? [];
  if (!Array.isArray(specials)) return bad("options.specials", `must be an array of strings, got ${describe(specials)}`);
  const seen = new Set(BASE_SPECIALS);
  for (let i = 0; i < specials.length; i++) {
    const s: unknown = specials[i];
    if (typeof s !== "string" || s.length === 0)
      return E.left(new VocabularyError("non-string", op, `options.specials[${i}]`, `must be a non-empty string, got ${describe(s)}`));
    if (seen.has(s))
      return E.left(
        new VocabularyError("duplicate-special", op, `options.specials[${i}]`, `is ${JSON.stringify(s)}, which is already a special token (${[...seen].join(", ")}); each special must appear once`),
      );
    seen.add(s);
  }
  const nSpecials = BASE_SPECIALS.length + specials.length;
  const maxSize = o.maxSize ?? Infinity;
  if (typeof maxSize !== "number" || !(maxSize === Infinity || Number.isInteger(maxSize)) || maxSize <= nSpecials)
    return bad("options.maxSize", `must be an integer above the ${nSpecials} specials (room for at least one corpus token), got ${describe(maxSize)}`);
  return E.right({ level: o.level, minCount, lowercase, specials: specials as string[], maxSize });
};

/** An immutable token ↔ id map with the four base specials at fixed ids. */
export class Vocabulary {
  /** Id of `<pad>` (0). */
  readonly pad = 0;
  /** Id of `<unk>` (1). */
  readonly unk = 1;
  /** Id of `<bos>` (2). */
  readonly bos = 2;
  /** Id of `<eos>` (3). */
  readonly eos = 3;
  readonly #ids: ReadonlyMap<string, number>;

  private constructor(
    readonly level: VocabularyLevel,
    readonly lowercase: boolean,
    /** Every token in id order. */
    readonly tokens: readonly string[],
    /** How many leading tokens are specials. */
    readonly specialCount: number,
  ) {
    this.#ids = new Map(tokens.map((t, i) => [t, i]));
    Object.freeze(this);
  }

  /**
   * `Vocabulary.build(texts, { level, minCount, maxSize, lowercase, specials })`: specials, then tokens with
   * count ≥ minCount by descending count (ties in code-point order), cut to maxSize entries.
   */
  static build(texts: readonly string[], options: VocabularyOptions): E.Either<VocabularyError, Vocabulary> {
    const op = "Vocabulary.build";
    const opts = checkOptions(op, options);
    if (E.isLeft(opts)) return opts;
    const o = opts.right;
    if (!Array.isArray(texts)) return E.left(new VocabularyError("non-string", op, "texts", `must be an array of strings, got ${describe(texts)}`));
    const specials = [...BASE_SPECIALS, ...o.specials];
    const isSpecial = new Set(specials);
    const counts = new Map<string, number>();
    for (let i = 0; i < texts.length; i++) {
      const t: unknown = texts[i];
      if (typeof t !== "string") return E.left(new VocabularyError("non-string", op, `texts[${i}]`, `must be a string, got ${describe(t)}`));
      for (const tok of tokenize(t, o.level, o.lowercase)) if (!isSpecial.has(tok)) counts.set(tok, (counts.get(tok) ?? 0) + 1);
    }
    if (counts.size === 0)
      return E.left(new VocabularyError("empty-corpus", op, "texts", texts.length === 0 ? "is empty; a vocabulary needs at least one text" : `hold no ${o.level === "char" ? "characters" : "words"} (${texts.length} empty or blank texts)`));
    const kept = [...counts].filter(([, c]) => c >= o.minCount);
    if (kept.length === 0)
      return E.left(new VocabularyError("empty-corpus", op, "texts", `have no token seen at least minCount = ${o.minCount} times (the most frequent is seen ${Math.max(...counts.values())} times)`));
    kept.sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0));
    const room = o.maxSize - specials.length;
    const tokens = [...specials, ...kept.slice(0, room).map(([t]) => t)];
    return E.right(new Vocabulary(o.level, o.lowercase, Object.freeze(tokens), specials.length));
  }

  /** `build`, throwing the VocabularyError. */
  static buildOrThrow(texts: readonly string[], options: VocabularyOptions): Vocabulary {
    return orThrow(Vocabulary.build(texts, options));
  }

  /** A vocabulary with exactly these corpus tokens in this order (after the specials), e.g. a fixed phoneme set. */
  static fromTokens(tokens: readonly string[], options: VocabularyOptions): E.Either<VocabularyError, Vocabulary> {
    const op = "Vocabulary.fromTokens";
    const opts = checkOptions(op, options);
    if (E.isLeft(opts)) return opts;
    const o = opts.right;
    if (!Array.isArray(tokens)) return E.left(new VocabularyError("non-string", op, "tokens", `must be an array of strings, got ${describe(tokens)}`));
    const specials = [...BASE_SPECIALS, ...o.specials];
    const seen = new Set(specials);
    for (let i = 0; i < tokens.length; i++) {
      const t: unknown = tokens[i];
      if (typeof t !== "string" || t.length === 0) return E.left(new VocabularyError("non-string", op, `tokens[${i}]`, `must be a non-empty string, got ${describe(t)}`));
      if (seen.has(t)) return E.left(new VocabularyError(specials.includes(t) ? "duplicate-special" : "bad-option", op, `tokens[${i}]`, `repeats ${JSON.stringify(t)}; every token must be unique`));
      seen.add(t);
    }
    if (tokens.length === 0) return E.left(new VocabularyError("empty-corpus", op, "tokens", "is empty; a vocabulary needs at least one token besides the specials"));
    if (specials.length + tokens.length > o.maxSize)
      return E.left(new VocabularyError("bad-option", op, "options.maxSize", `is ${o.maxSize} but ${specials.length} specials + ${tokens.length} tokens are given`));
    return E.right(new Vocabulary(o.level, o.lowercase, Object.freeze([...specials, ...tokens]), specials.length));
  }

  /** Reads `toJSON()` output (an object or its JSON text), checking every field. */
  static fromJSON(json: unknown): E.Either<VocabularyError, Vocabulary> {
    const op = "Vocabulary.fromJSON";
    const bad = (detail: string) => E.left(new VocabularyError("bad-json", op, "json", detail));
    let v: unknown = json;
    if (typeof json === "string") {
      try {
        v = JSON.parse(json);
      } catch (e) {
        return bad(`is not valid JSON: ${(e as Error).message}`);
      }
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) return bad(`must be the object vocab.toJSON() returns, got ${describe(v)}`);
    const o = v as Record<string, unknown>;
    if (o.format !== "seqgrad.vocabulary" || o.version !== 1) return bad(`is not a seqgrad vocabulary (format ${describe(o.format)}, version ${describe(o.version)}; expected "seqgrad.vocabulary", 1)`);
    if (!isLevel(o.level)) return bad(`has level ${describe(o.level)}; expected 'char' or 'word'`);
    if (typeof o.lowercase !== "boolean") return bad(`has lowercase ${describe(o.lowercase)}; expected a boolean`);
    if (!Array.isArray(o.tokens) || !o.tokens.every((t) => typeof t === "string")) return bad("must have tokens: an array of strings");
    const tokens = o.tokens as string[];
    const n = o.specials;
    if (typeof n !== "number" || !Number.isInteger(n) || n < BASE_SPECIALS.length || n >= tokens.length)
      return bad(`has specials = ${describe(n)}; expected an integer in [${BASE_SPECIALS.length}, ${tokens.length})`);
    for (let i = 0; i < BASE_SPECIALS.length; i++) if (tokens[i] !== BASE_SPECIALS[i]) return bad(`has ${describe(tokens[i])} at id ${i}; expected ${BASE_SPECIALS[i]}`);
    if (new Set(tokens).size !== tokens.length) return bad("has a repeated token; every token must be unique");
    return E.right(new Vocabulary(o.level, o.lowercase, Object.freeze(tokens.slice()), n));
  }

  /** `fromJSON`, throwing the VocabularyError. */
  static fromJSONOrThrow(json: unknown): Vocabulary {
    return orThrow(Vocabulary.fromJSON(json));
  }

  /** Number of entries V (the softmax size of a model over this vocabulary). */
  get size(): number {
    return this.tokens.length;
  }

  /** The corpus tokens (specials excluded), in id order. */
  get corpusTokens(): readonly string[] {
    return this.tokens.slice(this.specialCount);
  }

  /** The id of `token`, or `<unk>`'s id (1) when it is not in the vocabulary. */
  idOf(token: string): number {
    return this.#ids.get(token) ?? this.unk;
  }

  /** True when `token` has an id of its own. */
  has(token: string): boolean {
    return this.#ids.has(token);
  }

  /** The token with this id. */
  tokenOf(id: number): string {
    const t = Number.isInteger(id) ? this.tokens[id] : undefined;
    if (t === undefined) throw new ArgumentError("Vocabulary.tokenOf", "id", `must be an integer in [0, ${this.size}), got ${describe(id)}`);
    return t;
  }

  /** True for the ids of specials (`<pad>`, `<unk>`, `<bos>`, `<eos>` and the extras). */
  isSpecial(id: number): boolean {
    return id < this.specialCount;
  }

  /** Splits a text into this vocabulary's tokens (lower-cased if the vocabulary is). */
  tokenize(text: string): string[] {
    if (typeof text !== "string") throw new ArgumentError("Vocabulary.tokenize", "text", `must be a string, got ${describe(text)}`);
    return tokenize(text, this.level, this.lowercase);
  }

  /** `encode(text, { bos, eos })`: token ids, unknown tokens → `<unk>`, optionally `<bos>` first and `<eos>` last. */
  encode(text: string, options: { readonly bos?: boolean; readonly eos?: boolean } = {}): number[] {
    if (typeof text !== "string") throw new ArgumentError("Vocabulary.encode", "text", `must be a string, got ${describe(text)}`);
    const ids = this.tokenize(text).map((t) => this.idOf(t));
    if (options.bos) ids.unshift(this.bos);
    if (options.eos) ids.push(this.eos);
    return ids;
  }

  /**
   * `decode(ids)`: the text of these ids. By default it stops at the first `<eos>` and leaves out `<pad>` and
   * `<bos>` (`<unk>` and extra specials are written as their names); word-level text is joined by spaces with
   * no space before punctuation.
   */
  decode(ids: readonly number[], options: { readonly stopAtEos?: boolean; readonly keepSpecials?: boolean } = {}): string {
    const { stopAtEos = true, keepSpecials = false } = options;
    const out: string[] = [];
    for (const id of ids) {
      if (id === this.eos && stopAtEos) break;
      if (!keepSpecials && (id === this.pad || id === this.bos || id === this.eos)) continue;
      out.push(this.tokenOf(id));
    }
    if (this.level === "char") return out.join("");
    return out.join(" ").replace(/ ([.,;:!?)\]}’”])/g, "$1").replace(/([(\[{‘“]) /g, "$1");
  }

  /**
   * `oneHot(ids) = e_{id}` rows: for ids of shape `[n]` (or `[T][B]` nested) a tensor `[n, V]` (or `[T, B, V]`);
   * the course's x<t> vectors.
   */
  oneHot(ids: readonly number[] | readonly (readonly number[])[], dtype: DType = "float32"): Tensor {
    const op = "Vocabulary.oneHot";
    const nested = ids.length > 0 && Array.isArray(ids[0]);
    const rows = nested ? (ids as readonly (readonly number[])[]) : [ids as readonly number[]];
    const B = rows[0]?.length ?? 0;
    if (nested && rows.some((r) => !Array.isArray(r) || r.length !== B)) throw new ArgumentError(op, "ids", `must be [T][B] with every row of length ${B}`);
    const V = this.size;
    const data = allocData(dtype, rows.length * B * V);
    rows.forEach((r, t) =>
      r.forEach((id, b) => {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new ArgumentError(op, "ids", `entry ${nested ? `[${t}][${b}]` : `[${b}]`} is ${describe(id)}; ids are integers in [0, ${V})`);
        data[(t * B + b) * V + id] = 1;
      }),
    );
    return fromData(data, nested ? [rows.length, B, V] : [B, V], dtype);
  }

  /** The serialisable form; `Vocabulary.fromJSON(vocab.toJSON())` gives an equal vocabulary. */
  toJSON(): VocabularyJSON {
    return { format: "seqgrad.vocabulary", version: 1, level: this.level, lowercase: this.lowercase, specials: this.specialCount, tokens: this.tokens.slice() };
  }
}

/** Unwraps an Either, throwing its error. */
const orThrow = <A>(e: E.Either<VocabularyError, A>): A => {
  if (E.isLeft(e)) throw e.left;
  return e.right;
};
