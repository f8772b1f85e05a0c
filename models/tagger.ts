/**
 * The many-to-many tagger of the course (T_x = T_y): one output per input token, here "is this token part of
 * a person's name?".
 *
 *   x<t> = [E[w<t>]; cap<t>]                  (embedding of the lower-cased word, and 1 if it is capitalised)
 *   a<t> = cell(a<t-1>, x<t>)                 (unidirectional: a<t> has read x<1..t> only)
 *     or   a<t> = [→a<t>; ←a<t>]              (BRNN: →a reads x<1..t>, ←a reads x<T_x..t>)
 *   ŷ<t> = σ(w_y · a<t> + b_y),   L = Σ_t m<t> BCE(ŷ<t>, y<t>) / Σ_t m<t>   (mean over the real tokens)
 *
 * Words outside the vocabulary (every test name, by construction of the data) are `<unk>`; training replaces a
 * random `unkRate` of all tokens by `<unk>` (word dropout, blind to the tags) so the model learns what an
 * unknown word in each context is. A model is a record of pure functions over `{ embed, rnn, out }`.
 */
import { ArgumentError } from "../core/errors.js";
import { describe, optionsObject } from "../core/shape.js";
import { allocData, dataOf, fromData, type DType, type Tensor } from "../core/tensor.js";
import { foldIn, randomBits, randomKey, splitKey, type Key } from "../core/random.js";
import { concat, div, gather, reshape, sigmoid, sum, where } from "../autograd/index.js";
import { withoutTapes } from "../autograd/tape.js";
import type { Tree } from "../autograd/tree.js";
import { dense, type DenseParams } from "../layers/dense.js";
import { normalInit } from "../layers/init.js";
import { binaryCrossEntropy } from "../layers/losses.js";
import { adam } from "../layers/optimizers.js";
import type { Cell } from "../layers/cells/types.js";
import { batchIndices } from "./data.js";
import { encoderLayer, resolveCell } from "./classifier.js";
import type { CellKind } from "./languageModel.js";
import { binaryScores, entityScores, type BinaryScores, type EntityScores } from "./metrics.js";
import { nerDataset, type NerDataset } from "./nerData.js";
import { Vocabulary } from "./vocabulary.js";
import { train, type EpochRecord, type EvalResult } from "./train.js";

export interface TaggerConfig {
  /** The recurrent cell: a library cell by name, or any object satisfying the Cell contract. */
  readonly cell: CellKind | Cell;
  /** Hidden size H (per direction). */
  readonly hidden: number;
  /** Embedding size (default 32). */
  readonly embedDim?: number;
  /** A BRNN (`bidirectional(cell, cell)`, outputs concatenated) instead of a left-to-right RNN. Default false. */
  readonly bidirectional?: boolean;
  /** Append cap<t> = [token starts with an upper-case letter] to x<t> (default true). */
  readonly caseFeature?: boolean;
  /** Parameter dtype (default float32). */
  readonly dtype?: DType;
}

/** Parameters: the embedding E `[V, embedDim]`, the recurrent layer, and the output layer w_y `[F, 1]`, b_y `[1]`. */
export interface TaggerParams {
  readonly embed: { readonly E: Tensor };
  readonly rnn: Tree;
  readonly out: DenseParams;
}

/** A tokenised sentence with one 0/1 tag per token (`cue` optionally names a group for `evaluate`'s breakdown). */
export interface TaggedTokens {
  readonly tokens: readonly string[];
  readonly tags: readonly number[];
  readonly cue?: string;
}

/** A padded, time-major batch: ids, tags and mask `[T, B]`, the case feature `[T, B, 1]`. */
export interface TaggerBatch {
  readonly ids: Tensor;
  readonly caps: Tensor;
  readonly tags: Tensor;
  readonly mask: Tensor;
  readonly lengths: readonly number[];
  readonly T: number;
  readonly B: number;
  /** Number of real tokens Σ_b T_x^(b). */
  readonly tokens: number;
}

/** Held-out figures: token loss, token-level scores, entity-level scores, and entity scores per `cue` group. */
export interface TaggerEvaluation {
  readonly loss: number;
  readonly token: BinaryScores;
  readonly entity: EntityScores;
  readonly byCue: Readonly<Record<string, EntityScores>>;
}

export interface TaggerBatchOptions {
  /** Replace each token by `<unk>` with this probability (word dropout; default 0). Needs `key` when > 0. */
  readonly unkRate?: number;
  readonly key?: Key;
}

export interface Tagger {
  readonly vocab: Vocabulary;
  readonly config: Required<Omit<TaggerConfig, "cell">> & { readonly cell: CellKind | Cell };
  /** Fresh parameters from `key`. */
  init(key: Key): TaggerParams;
  /** Ids of tokens (lower-cased if the vocabulary is; unknown words → `<unk>`). */
  encode(tokens: readonly string[]): number[];
  /** Pads tagged sentences into one batch (optionally with word dropout). */
  batch(sentences: readonly TaggedTokens[], options?: TaggerBatchOptions): TaggerBatch;
  /** Logits z<t> `[T, B]` of a batch (ŷ<t> = σ(z<t>)); padded steps hold garbage, mask them. */
  logits(params: TaggerParams, batch: TaggerBatch): Tensor;
  /** `L = Σ_{t,b} m BCE(z, y) / Σ m`, the scalar `train` minimises. */
  loss(params: TaggerParams, batch: TaggerBatch): Tensor;
  /** ŷ<t> for every token of every sentence. */
  predictProbs(params: TaggerParams, sentences: readonly (readonly string[])[], options?: { readonly batchSize?: number }): number[][];
  /** Tags `[ŷ<t> ≥ threshold]` (default 0.5). */
  predict(params: TaggerParams, sentences: readonly (readonly string[])[], options?: { readonly threshold?: number; readonly batchSize?: number }): number[][];
  /** Token loss, token-level and entity-level precision/recall/F1 (overall and per `cue`). */
  evaluate(params: TaggerParams, sentences: readonly TaggedTokens[], options?: { readonly threshold?: number; readonly batchSize?: number }): TaggerEvaluation;
}

const posInt = (op: string, name: string, v: unknown, min = 1): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ArgumentError(op, name, `must be an integer >= ${min}, got ${describe(v)}`);
  return v;
};

const CAPITAL = /^\p{Lu}/u;

/** `taggerVocabulary(sentences, { minCount })`: a lower-cased word vocabulary of the sentences' tokens. */
export const taggerVocabulary = (sentences: readonly TaggedTokens[], options: { readonly minCount?: number; readonly maxSize?: number } = {}): Vocabulary =>
  Vocabulary.buildOrThrow(
    sentences.map((s) => s.tokens.join(" ")),
    { level: "word", lowercase: true, minCount: options.minCount ?? 2, ...(options.maxSize !== undefined ? { maxSize: options.maxSize } : {}) },
  );

const checkSentence = (op: string, s: unknown, i: number, withTags: boolean): readonly string[] => {
  const r = s as TaggedTokens;
  const tokens = withTags ? r?.tokens : (s as readonly string[]);
  if (!Array.isArray(tokens) || tokens.length === 0 || tokens.some((t) => typeof t !== "string" || t.length === 0))
    throw new ArgumentError(op, `sentences[${i}]${withTags ? ".tokens" : ""}`, `must be a non-empty array of non-empty strings, got ${describe(tokens)}`);
  if (withTags) {
    if (!Array.isArray(r.tags) || r.tags.length !== tokens.length)
      throw new ArgumentError(op, `sentences[${i}].tags`, `must have one 0/1 tag per token (${tokens.length}; T_y = T_x), got ${describe(r.tags)}`);
    r.tags.forEach((t, j) => {
      if (t !== 0 && t !== 1) throw new ArgumentError(op, `sentences[${i}].tags[${j}]`, `must be 0 or 1, got ${describe(t)}`);
    });
  }
  return tokens;
};

/** `createTagger(vocab, config)`: the many-to-many tagger over `vocab` (see the file header for the equations). */
export const createTagger = (vocab: Vocabulary, config: TaggerConfig): Tagger => {
  const op = "createTagger";
  if (!(vocab instanceof Vocabulary)) throw new ArgumentError(op, "vocab", `must be a Vocabulary (taggerVocabulary(...)), got ${describe(vocab)}`);
  optionsObject(op, "config", config, "{ cell: 'gru', hidden: 32 }");
  const cell = resolveCell(op, config.cell);
  const H = posInt(op, "config.hidden", config.hidden);
  const embedDim = posInt(op, "config.embedDim", config.embedDim ?? 32);
  const bidi = config.bidirectional ?? false;
  if (typeof bidi !== "boolean") throw new ArgumentError(op, "config.bidirectional", `must be a boolean, got ${describe(bidi)}`);
  const caseFeature = config.caseFeature ?? true;
  if (typeof caseFeature !== "boolean") throw new ArgumentError(op, "config.caseFeature", `must be a boolean, got ${describe(caseFeature)}`);
  const dtype = config.dtype ?? "float32";
  const layer = encoderLayer(cell, bidi);
  const D = embedDim + (caseFeature ? 1 : 0);
  const F = layer.outputSize(H);

  const encode = (tokens: readonly string[]): number[] => tokens.map((t) => vocab.idOf(vocab.lowercase ? t.toLowerCase() : t));

  /** Pads token lists (and tags, if given) into time-major blocks. */
  const pad = (where_: string, tokenLists: readonly (readonly string[])[], tagLists: readonly (readonly number[])[] | null, options: TaggerBatchOptions): TaggerBatch => {
    const { unkRate = 0, key } = options;
    if (typeof unkRate !== "number" || !(unkRate >= 0 && unkRate < 1)) throw new ArgumentError(where_, "options.unkRate", `must be a number in [0, 1), got ${describe(unkRate)}`);
    if (unkRate > 0 && key === undefined) throw new ArgumentError(where_, "options.key", "is needed for word dropout (unkRate > 0): pass the batch's PRNG key");
    const B = tokenLists.length;
    const lengths = tokenLists.map((t) => t.length);
    const T = Math.max(...lengths);
    const ids = allocData(dtype, T * B).fill(vocab.pad), caps = allocData(dtype, T * B), tags = allocData(dtype, T * B), mask = allocData(dtype, T * B);
    const bits = unkRate > 0 ? randomBits(key!, T * B) : null;
    const cut = unkRate * 2 ** 32;
    tokenLists.forEach((toks, b) => {
      const e = encode(toks);
      for (let t = 0; t < toks.length; t++) {
        const i = t * B + b;
        ids[i] = bits !== null && bits[i]! < cut ? vocab.unk : e[t]!;
        caps[i] = CAPITAL.test(toks[t]!) ? 1 : 0;
        mask[i] = 1;
        if (tagLists !== null) tags[i] = tagLists[b]![t]!;
      }
    });
    return {
      ids: fromData(ids, [T, B], dtype), caps: fromData(caps, [T, B, 1], dtype), tags: fromData(tags, [T, B], dtype), mask: fromData(mask, [T, B], dtype),
      lengths, T, B, tokens: lengths.reduce((a, n) => a + n, 0),
    };
  };

  const makeBatch = (sentences: readonly TaggedTokens[], options: TaggerBatchOptions = {}): TaggerBatch => {
    const where_ = "tagger.batch";
    if (!Array.isArray(sentences) || sentences.length === 0) throw new ArgumentError(where_, "sentences", `must be a non-empty array of { tokens, tags }, got ${describe(sentences)}`);
    const toks = sentences.map((s, i) => checkSentence(where_, s, i, true));
    return pad(where_, toks, sentences.map((s) => s.tags), options);
  };

  const logits = (params: TaggerParams, batch: TaggerBatch): Tensor => {
    const emb = gather(params.embed.E, batch.ids, 0); // [T, B, embedDim]
    const xs = caseFeature ? concat([emb, batch.caps], 2) : emb;
    const [, ys] = layer.apply(params.rnn, xs, { mask: batch.mask });
    return reshape(dense.apply(params.out, ys), [batch.T, batch.B]);
  };

  const loss = (params: TaggerParams, batch: TaggerBatch): Tensor => {
    const z = where(batch.mask, logits(params, batch), 0); // padded logits → 0 before the loss (no NaN can leak)
    return div(sum(where(batch.mask, binaryCrossEntropy(z, batch.tags), 0)), batch.tokens);
  };

  const predictProbs = (params: TaggerParams, sentences: readonly (readonly string[])[], options: { readonly batchSize?: number } = {}): number[][] => {
    const where_ = "tagger.predictProbs";
    if (!Array.isArray(sentences)) throw new ArgumentError(where_, "sentences", `must be an array of token arrays, got ${describe(sentences)}`);
    const bs = posInt(where_, "options.batchSize", options.batchSize ?? 256);
    sentences.forEach((s, i) => checkSentence(where_, s, i, false));
    const out: number[][] = new Array(sentences.length);
    return withoutTapes(() => {
      for (const idx of batchIndices(sentences.length, bs, { lengthOf: (i) => sentences[i]!.length })) {
        const batch = pad(where_, idx.map((i) => sentences[i]!), null, {});
        const p = dataOf(sigmoid(logits(params, batch)));
        idx.forEach((i, b) => (out[i] = Array.from({ length: batch.lengths[b]! }, (_, t) => p[t * batch.B + b]!)));
      }
      return out;
    });
  };

  const threshold = (where_: string, t: unknown): number => {
    if (typeof t !== "number" || !(t >= 0 && t <= 1)) throw new ArgumentError(where_, "options.threshold", `must be a probability in [0, 1], got ${describe(t)}`);
    return t;
  };

  const model: Tagger = {
    vocab,
    config: { cell: config.cell, hidden: H, embedDim, bidirectional: bidi, caseFeature, dtype },
    init: (key: Key): TaggerParams => {
      const [ke, kr, ko] = splitKey(key, 3) as [Key, Key, Key];
      return { embed: { E: normalInit(0.1)(ke, [vocab.size, embedDim], dtype) }, rnn: layer.init(kr, D, H, dtype) as Tree, out: dense.init(ko, F, 1, dtype) };
    },
    encode,
    batch: makeBatch,
    logits,
    loss,
    predictProbs,
    predict: (params, sentences, options = {}) => {
      const t = threshold("tagger.predict", options.threshold ?? 0.5);
      return predictProbs(params, sentences, options).map((ps) => ps.map((p) => (p >= t ? 1 : 0)));
    },
    evaluate: (params, sentences, options = {}) => {
      const where_ = "tagger.evaluate";
      if (!Array.isArray(sentences) || sentences.length === 0) throw new ArgumentError(where_, "sentences", `must be a non-empty array of { tokens, tags }, got ${describe(sentences)}`);
      sentences.forEach((s, i) => checkSentence(where_, s, i, true));
      const t = threshold(where_, options.threshold ?? 0.5);
      const probs = predictProbs(params, sentences.map((s) => s.tokens), options);
      const preds = probs.map((ps) => ps.map((p) => (p >= t ? 1 : 0)));
      const truth = sentences.map((s) => s.tags);
      const eps = 1e-7;
      let bce = 0, n = 0;
      probs.forEach((ps, i) =>
        ps.forEach((p, j) => {
          const q = Math.min(Math.max(p, eps), 1 - eps);
          bce -= truth[i]![j] === 1 ? Math.log(q) : Math.log(1 - q);
          n++;
        }),
      );
      const groups = new Map<string, number[]>();
      sentences.forEach((s, i) => {
        if (typeof s.cue !== "string") return;
        const g = groups.get(s.cue);
        if (g === undefined) groups.set(s.cue, [i]);
        else g.push(i);
      });
      const byCue: Record<string, EntityScores> = {};
      for (const [cue, idx] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) byCue[cue] = entityScores(idx.map((i) => truth[i]!), idx.map((i) => preds[i]!));
      return { loss: bce / n, token: binaryScores(truth.flat(), preds.flat()), entity: entityScores(truth, preds), byCue };
    },
  };
  return Object.freeze(model);
};

// ---- training recipe -------------------------------------------------------------------------------------

/** `train`'s evalFn for a tagger: loss = held-out token BCE, metrics = entity F1 (overall and per cue) and token F1. */
export const taggerEvalFn = (model: Tagger, valid: readonly TaggedTokens[]) => (params: TaggerParams): EvalResult => {
  const e = model.evaluate(params, valid);
  const metrics: Record<string, number> = { entityF1: e.entity.f1, tokenF1: e.token.f1 };
  for (const [cue, s] of Object.entries(e.byCue)) metrics[`F1.${cue}`] = s.f1;
  return { loss: e.loss, metrics };
};

/** `taggerBatches(model, sentences, batchSize, { unkRate })`: a `train` batches function, shuffled per epoch, grouped by length, with word dropout from the epoch's key. */
export const taggerBatches = (model: Tagger, sentences: readonly TaggedTokens[], batchSize: number, options: { readonly unkRate?: number } = {}) => {
  const unkRate = options.unkRate ?? 0;
  return (key: Key): TaggerBatch[] => {
    const [kOrder, kDrop] = splitKey(key, 2) as [Key, Key];
    return batchIndices(sentences.length, batchSize, { key: kOrder, lengthOf: (i) => sentences[i]!.tokens.length }).map((idx, j) =>
      model.batch(idx.map((i) => sentences[i]!), unkRate > 0 ? { unkRate, key: foldIn(kDrop, j) } : {}),
    );
  };
};

// ---- the experiment: unidirectional vs bidirectional on names never seen in training ---------------------

export interface TaggerExperimentOptions {
  /** Seed of every key (data, initialisation, shuffling, word dropout). Default 0. */
  readonly seed?: number;
  readonly cell?: CellKind;
  /** Hidden size H per direction (default 32). */
  readonly hidden?: number;
  /** Embedding size (default 32). */
  readonly embedDim?: number;
  /** Sentences per part (default 6000 / 1000 / 2000). */
  readonly sizes?: { readonly train: number; readonly valid: number; readonly test: number };
  /** Word dropout rate during training (default 0.1). */
  readonly unkRate?: number;
  /** A word needs this many training occurrences to get its own id (default 2). */
  readonly minCount?: number;
  /** Default 8. */
  readonly epochs?: number;
  /** Default 32. */
  readonly batchSize?: number;
  /** Adam's learning rate (default 3e-3). */
  readonly lr?: number;
  /** Global-norm clipping (default 5). */
  readonly clip?: number;
  /** Early stop after this many epochs without a better validation loss (default 3). */
  readonly patience?: number;
  /** Which taggers to train (default both: `['uni', 'bi']`). */
  readonly directions?: readonly ("uni" | "bi")[];
  /** The first names to draw from (default: the two `@stdlib` lists). */
  readonly firstNames?: readonly string[];
  readonly progress?: boolean | "auto";
  /** Write each run's loss curve to `${curve}-uni.svg` / `${curve}-bi.svg`. */
  readonly curve?: string;
  readonly onEpoch?: (direction: "uni" | "bi", record: EpochRecord) => void;
}

/** One trained tagger and its held-out figures. */
export interface TaggerRun {
  readonly direction: "uni" | "bi";
  readonly model: Tagger;
  readonly params: TaggerParams;
  readonly valid: TaggerEvaluation;
  readonly test: TaggerEvaluation;
  readonly history: readonly EpochRecord[];
  readonly bestEpoch: number;
  readonly seconds: number;
}

export interface TaggerExperimentResult {
  readonly data: NerDataset;
  readonly vocab: Vocabulary;
  readonly runs: readonly TaggerRun[];
  readonly options: Required<Omit<TaggerExperimentOptions, "firstNames" | "progress" | "curve" | "onEpoch">>;
}

/**
 * `runTaggerExperiment(options)`: generate the name-tagging data (test names, surnames and places never seen in
 * training), build the vocabulary from the training sentences, and train a unidirectional and a bidirectional
 * tagger with the same cell, size, data, optimizer, budget and seed; report entity-level F1 on the test part,
 * overall and per cue position (early stop on the validation loss, best epoch restored).
 */
export const runTaggerExperiment = async (options: TaggerExperimentOptions = {}): Promise<TaggerExperimentResult> => {
  const o = {
    seed: options.seed ?? 0, cell: options.cell ?? "gru", hidden: options.hidden ?? 32, embedDim: options.embedDim ?? 32,
    sizes: options.sizes ?? { train: 6000, valid: 1000, test: 2000 }, unkRate: options.unkRate ?? 0.1, minCount: options.minCount ?? 2,
    epochs: options.epochs ?? 8, batchSize: options.batchSize ?? 32, lr: options.lr ?? 3e-3, clip: options.clip ?? 5, patience: options.patience ?? 3,
    directions: options.directions ?? (["uni", "bi"] as const),
  };
  const [kData, kInit, kTrain] = splitKey(randomKey(o.seed), 3) as [Key, Key, Key];
  const data = nerDataset(kData, { sizes: o.sizes, ...(options.firstNames !== undefined ? { firstNames: options.firstNames } : {}) });
  const vocab = taggerVocabulary(data.train, { minCount: o.minCount });
  const runs: TaggerRun[] = [];
  for (const direction of o.directions) {
    const t0 = performance.now();
    const model = createTagger(vocab, { cell: o.cell, hidden: o.hidden, embedDim: o.embedDim, bidirectional: direction === "bi" });
    const result = await train({
      params: model.init(kInit),
      optimizer: adam(o.lr),
      lossFn: (p: TaggerParams, b: TaggerBatch) => model.loss(p, b),
      batches: taggerBatches(model, data.train, o.batchSize, { unkRate: o.unkRate }),
      epochs: o.epochs,
      key: kTrain,
      clip: o.clip,
      evalFn: taggerEvalFn(model, data.valid),
      earlyStop: { patience: o.patience },
      progress: options.progress ?? "auto",
      label: `tagger ${direction}`,
      tokensOf: (b: TaggerBatch) => b.tokens,
      ...(options.curve !== undefined ? { curve: { path: `${options.curve}-${direction}.svg`, title: `${direction === "bi" ? "bidirectional" : "unidirectional"} tagger: BCE per token` } } : {}),
      ...(options.onEpoch !== undefined ? { onEpoch: (r: EpochRecord) => options.onEpoch!(direction, r) } : {}),
    });
    runs.push({
      direction, model, params: result.params,
      valid: model.evaluate(result.params, data.valid), test: model.evaluate(result.params, data.test),
      history: result.history, bestEpoch: result.bestEpoch, seconds: (performance.now() - t0) / 1000,
    });
  }
  return { data, vocab, runs, options: o };
};
