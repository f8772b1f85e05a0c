/**
 * The many-to-one classifier of the course (sentiment, spam): read the whole sequence, output one label.
 *
 *   x<t> = E[w<t>]                                   (a learned embedding of token t)
 *   a<t> = cell(a<t-1>, x<t>)                        (any cell; optionally a BRNN [→a<t>; ←a<t>])
 *   h    = a<T_x>  |  (1/T_x) Σ_t a<t>  |  max_t a<t>  (last state, mean or max pooling over the real steps)
 *   ŷ    = σ(w_y · h + b_y),   L = -y log ŷ - (1 - y) log(1 - ŷ)   (binary cross-entropy, computed from the logit)
 *
 * Variable lengths come from the `[T, B]` mask that `scan` takes: at a padded step the carry is frozen and the
 * output is 0, so the final carry of every row is its carry at its own last real step `T_x^(i)` (the
 * "last state" for free) and padding adds nothing to the pooled sum. With `dropout` > 0, `loss(params, batch, key)`
 * drops embeddings and pooled features (inverted dropout); without a key, everything is deterministic. A model is a
 * record of pure functions over a parameter tree `{ embed, rnn, out }`.
 */
import { ArgumentError } from "../core/errors.js";
import { describe, optionsObject } from "../core/shape.js";
import { allocData, dataOf, fromData, isTensor, type DType, type Tensor } from "../core/tensor.js";
import { splitKey, type Key } from "../core/random.js";
import { concat, div, expandDims, gather, max, mean, reshape, sigmoid, sum, where } from "../autograd/index.js";
import { withoutTapes } from "../autograd/tape.js";
import type { Tree } from "../autograd/tree.js";
import { dense, dropout, type DenseParams } from "../layers/dense.js";
import { normalInit } from "../layers/init.js";
import { binaryCrossEntropy } from "../layers/losses.js";
import type { Cell } from "../layers/cells/types.js";
import { bidirectional, rnn, type SequenceLayer } from "../layers/sequence.js";
import { batchIndices, padSequences } from "./data.js";
import { cellOf, type CellKind } from "./languageModel.js";
import { binaryScores, type BinaryScores } from "./metrics.js";
import { Vocabulary } from "./vocabulary.js";
import type { EvalResult } from "./train.js";

/** How the per-step activations become one vector: the last real step's carry, or the mean or max over real steps. */
export type Pooling = "last" | "mean" | "max";

export interface ClassifierConfig {
  /** The recurrent cell: a library cell by name, or any object satisfying the Cell contract. */
  readonly cell: CellKind | Cell;
  /** Hidden size H (per direction). */
  readonly hidden: number;
  /** Embedding size (default 32). */
  readonly embedDim?: number;
  /** `'last'` (default), `'mean'` or `'max'`. */
  readonly pooling?: Pooling;
  /** Run a BRNN (a forward and a backward cell, outputs concatenated to 2H). Default false. */
  readonly bidirectional?: boolean;
  /** Cut every sequence to its first `maxLength` tokens (default 400). */
  readonly maxLength?: number;
  /** Inverted dropout on the embeddings x<t> and on the pooled h while training (when `loss` gets a key); default 0. */
  readonly dropout?: number;
  /** Parameter dtype (default float32). */
  readonly dtype?: DType;
}

/** Parameters: the embedding E `[V, embedDim]`, the recurrent layer, and the output layer w_y `[F, 1]`, b_y `[1]`. */
export interface ClassifierParams {
  readonly embed: { readonly E: Tensor };
  readonly rnn: Tree;
  readonly out: DenseParams;
}

/** A text with its binary label (1 = the positive class, e.g. spam). */
export interface LabelledText {
  readonly text: string;
  readonly label: number;
}

/** A padded, time-major batch: ids and mask `[T, B]`, labels `[B]`. */
export interface ClassifierBatch {
  readonly ids: Tensor;
  readonly mask: Tensor;
  readonly labels: Tensor;
  readonly lengths: readonly number[];
  readonly T: number;
  readonly B: number;
}

/** Held-out figures: mean binary cross-entropy plus accuracy, precision, recall and F1 at the threshold. */
export interface ClassifierEvaluation extends BinaryScores {
  readonly loss: number;
}

export interface Classifier {
  readonly vocab: Vocabulary;
  readonly config: Required<Omit<ClassifierConfig, "cell">> & { readonly cell: CellKind | Cell };
  /** Size of the pooled feature vector h (H, or 2H for a BRNN). */
  readonly featureSize: number;
  /** Fresh parameters from `key`. */
  init(key: Key): ClassifierParams;
  /** Token ids of a text (cut to `maxLength`; an empty text becomes one `<unk>`). */
  encode(text: string): number[];
  /** Encodes and pads labelled texts into one batch. */
  batch(examples: readonly LabelledText[]): ClassifierBatch;
  /** The pooled features h `[B, F]` of a padded batch (with a key and `dropout` > 0: the training-time dropped version). */
  features(params: ClassifierParams, ids: Tensor, mask: Tensor, key?: Key): Tensor;
  /** The logits z `[B]` (ŷ = σ(z)). */
  logits(params: ClassifierParams, ids: Tensor, mask: Tensor, key?: Key): Tensor;
  /** `loss = (1/B) Σ_b BCE(z_b, y_b)`, the scalar `train` minimises; `key` (train's per-step key) turns dropout on. */
  loss(params: ClassifierParams, batch: ClassifierBatch, key?: Key): Tensor;
  /** ŷ = P(label = 1 | text) for each text. */
  predictProba(params: ClassifierParams, texts: readonly string[], options?: { readonly batchSize?: number }): number[];
  /** Labels `[ŷ ≥ threshold]` (default 0.5). */
  predict(params: ClassifierParams, texts: readonly string[], options?: { readonly threshold?: number; readonly batchSize?: number }): number[];
  /** Loss, accuracy, precision, recall and F1 over labelled texts. */
  evaluate(params: ClassifierParams, examples: readonly LabelledText[], options?: { readonly threshold?: number; readonly batchSize?: number }): ClassifierEvaluation;
}

const posInt = (op: string, name: string, v: unknown, min = 1): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ArgumentError(op, name, `must be an integer >= ${min}, got ${describe(v)}`);
  return v;
};

/** Resolves a cell given by name or as an object. */
export const resolveCell = (op: string, cell: unknown): Cell => {
  const c = typeof cell === "string" ? cellOf(cell as CellKind) : cell;
  if (c === null || typeof c !== "object" || typeof (c as Cell).step !== "function" || typeof (c as Cell).initialCarry !== "function")
    throw new ArgumentError(op, "config.cell", `must be 'rnn', 'gru', 'lstm' or a cell object, got ${describe(cell)}`);
  return c as Cell;
};

/** The sequence layer of a model: `rnn(cell)` or the BRNN `bidirectional(cell, cell)` (concatenated outputs). */
export const encoderLayer = (cell: Cell, bidi: boolean): SequenceLayer => (bidi ? bidirectional(cell, cell) : rnn(cell));

/**
 * The activation `a` inside a final carry: the tensor itself (rnn, gru), `{ a, c }.a` (lstm), `[→a; ←a]` for a
 * BRNN's `{ fwd, bwd }`, and the last layer's for a stacked array.
 */
export const activationOf = (carry: unknown): Tensor => {
  if (isTensor(carry)) return carry;
  if (Array.isArray(carry) && carry.length > 0) return activationOf(carry[carry.length - 1]);
  if (carry !== null && typeof carry === "object") {
    const c = carry as Record<string, unknown>;
    if (isTensor(c.a)) return c.a;
    if (c.fwd !== undefined && c.bwd !== undefined) return concat([activationOf(c.fwd), activationOf(c.bwd)], 1);
  }
  throw new ArgumentError("activationOf", "carry", `has no activation a: expected a Tensor, { a, c }, { fwd, bwd } or an array of carries, got ${describe(carry)}`);
};

/** A `[B]` tensor of 0/1 labels. */
const labelTensor = (op: string, examples: readonly LabelledText[], dtype: DType): Tensor => {
  const d = allocData(dtype, examples.length);
  examples.forEach((e, i) => {
    if (e.label !== 0 && e.label !== 1) throw new ArgumentError(op, `examples[${i}].label`, `must be 0 or 1, got ${describe(e.label)}`);
    d[i] = e.label;
  });
  return fromData(d, [examples.length], dtype);
};

/** `createClassifier(vocab, config)`: the many-to-one model over `vocab` (see the file header for the equations). */
export const createClassifier = (vocab: Vocabulary, config: ClassifierConfig): Classifier => {
  const op = "createClassifier";
  if (!(vocab instanceof Vocabulary)) throw new ArgumentError(op, "vocab", `must be a Vocabulary (Vocabulary.build(...)), got ${describe(vocab)}`);
  optionsObject(op, "config", config, "{ cell: 'gru', hidden: 32 }");
  const cell = resolveCell(op, config.cell);
  const H = posInt(op, "config.hidden", config.hidden);
  const embedDim = posInt(op, "config.embedDim", config.embedDim ?? 32);
  const maxLength = posInt(op, "config.maxLength", config.maxLength ?? 400);
  const pooling = config.pooling ?? "last";
  if (pooling !== "last" && pooling !== "mean" && pooling !== "max") throw new ArgumentError(op, "config.pooling", `must be 'last', 'mean' or 'max', got ${describe(pooling)}`);
  const bidi = config.bidirectional ?? false;
  if (typeof bidi !== "boolean") throw new ArgumentError(op, "config.bidirectional", `must be a boolean, got ${describe(bidi)}`);
  const rate = config.dropout ?? 0;
  if (typeof rate !== "number" || !(rate >= 0 && rate < 1)) throw new ArgumentError(op, "config.dropout", `must be a number in [0, 1), got ${describe(rate)}`);
  const dtype = config.dtype ?? "float32";
  const layer = encoderLayer(cell, bidi);
  const F = layer.outputSize(H);

  const encode = (text: string): number[] => {
    if (typeof text !== "string") throw new ArgumentError("classifier.encode", "text", `must be a string, got ${describe(text)}`);
    const ids = vocab.encode(text).slice(0, maxLength);
    return ids.length > 0 ? ids : [vocab.unk];
  };

  const makeBatch = (examples: readonly LabelledText[]): ClassifierBatch => {
    const where_ = "classifier.batch";
    if (!Array.isArray(examples) || examples.length === 0) throw new ArgumentError(where_, "examples", `must be a non-empty array of { text, label }, got ${describe(examples)}`);
    const seqs = examples.map((e, i) => {
      if (e === null || typeof e !== "object" || typeof e.text !== "string") throw new ArgumentError(where_, `examples[${i}]`, `must be { text, label }, got ${describe(e)}`);
      return encode(e.text);
    });
    const { ids, mask, lengths, T, B } = padSequences(seqs, { padId: vocab.pad, dtype });
    return { ids, mask, labels: labelTensor(where_, examples, dtype), lengths, T, B };
  };

  const pool = (carry: unknown, ys: Tensor, mask: Tensor, B: number): Tensor => {
    if (pooling === "last") return activationOf(carry); // frozen at each row's last real step by the mask
    if (pooling === "mean") return div(sum(ys, 0), reshape(sum(mask, 0), [B, 1])); // padded outputs are 0
    // max over real steps only: padded steps are replaced by -1e9 (where, so they get no gradient)
    return max(where(expandDims(mask, 2), ys, -1e9), 0);
  };

  const features = (params: ClassifierParams, ids: Tensor, mask: Tensor, key?: Key): Tensor => {
    const [kx, kh] = key !== undefined && rate > 0 ? (splitKey(key, 2) as [Key, Key]) : [undefined, undefined];
    const emb = gather(params.embed.E, ids, 0); // [T, B, embedDim]
    const xs = kx === undefined ? emb : dropout(kx, rate)(emb);
    const [carry, ys] = layer.apply(params.rnn, xs, { mask });
    const h = pool(carry, ys, mask, ids.shape[1]!);
    return kh === undefined ? h : dropout(kh, rate)(h);
  };

  const logits = (params: ClassifierParams, ids: Tensor, mask: Tensor, key?: Key): Tensor => {
    const h = features(params, ids, mask, key);
    return reshape(dense.apply(params.out, h), [ids.shape[1]!]);
  };

  const loss = (params: ClassifierParams, batch: ClassifierBatch, key?: Key): Tensor =>
    mean(binaryCrossEntropy(logits(params, batch.ids, batch.mask, key), batch.labels));

  const predictProba = (params: ClassifierParams, texts: readonly string[], options: { readonly batchSize?: number } = {}): number[] => {
    if (!Array.isArray(texts)) throw new ArgumentError("classifier.predictProba", "texts", `must be an array of strings, got ${describe(texts)}`);
    const bs = posInt("classifier.predictProba", "options.batchSize", options.batchSize ?? 128);
    const seqs = texts.map(encode);
    const out = new Array<number>(texts.length);
    return withoutTapes(() => {
      for (const idx of batchIndices(texts.length, bs, { lengthOf: (i) => seqs[i]!.length })) {
        const { ids, mask } = padSequences(idx.map((i) => seqs[i]!), { padId: vocab.pad, dtype });
        const p = dataOf(sigmoid(logits(params, ids, mask)));
        idx.forEach((i, j) => (out[i] = p[j]!));
      }
      return out;
    });
  };

  const threshold = (op_: string, t: unknown): number => {
    if (typeof t !== "number" || !(t >= 0 && t <= 1)) throw new ArgumentError(op_, "options.threshold", `must be a probability in [0, 1], got ${describe(t)}`);
    return t;
  };

  const model: Classifier = {
    vocab,
    config: { cell: config.cell, hidden: H, embedDim, pooling, bidirectional: bidi, maxLength, dropout: rate, dtype },
    featureSize: F,
    init: (key: Key): ClassifierParams => {
      const [ke, kr, ko] = splitKey(key, 3) as [Key, Key, Key];
      return { embed: { E: normalInit(0.1)(ke, [vocab.size, embedDim], dtype) }, rnn: layer.init(kr, embedDim, H, dtype) as Tree, out: dense.init(ko, F, 1, dtype) };
    },
    encode,
    batch: makeBatch,
    features,
    logits,
    loss,
    predictProba,
    predict: (params, texts, options = {}) => {
      const t = threshold("classifier.predict", options.threshold ?? 0.5);
      return predictProba(params, texts, options).map((p) => (p >= t ? 1 : 0));
    },
    evaluate: (params, examples, options = {}) => {
      if (!Array.isArray(examples) || examples.length === 0) throw new ArgumentError("classifier.evaluate", "examples", `must be a non-empty array of { text, label }, got ${describe(examples)}`);
      const t = threshold("classifier.evaluate", options.threshold ?? 0.5);
      const p = predictProba(params, examples.map((e) => e.text), options);
      const y = examples.map((e, i) => {
        if (e.label !== 0 && e.label !== 1) throw new ArgumentError("classifier.evaluate", `examples[${i}].label`, `must be 0 or 1, got ${describe(e.label)}`);
        return e.label;
      });
      // BCE from the probability, clamped as binaryCrossEntropy does (only for reporting; training uses logits)
      const eps = 1e-7;
      const bce = p.reduce((s, pi, i) => {
        const q = Math.min(Math.max(pi, eps), 1 - eps);
        return s - (y[i] === 1 ? Math.log(q) : Math.log(1 - q));
      }, 0);
      return { ...binaryScores(y, p.map((pi) => (pi >= t ? 1 : 0))), loss: bce / p.length };
    },
  };
  return Object.freeze(model);
};

// ---- training recipe -------------------------------------------------------------------------------------

/** `train`'s evalFn for a classifier: loss = held-out BCE, metrics = accuracy, precision, recall, F1. */
export const classifierEvalFn = (model: Classifier, valid: readonly LabelledText[]) => (params: ClassifierParams): EvalResult => {
  const e = model.evaluate(params, valid);
  return { loss: e.loss, metrics: { accuracy: e.accuracy, precision: e.precision, recall: e.recall, f1: e.f1 } };
};

/** `classifierBatches(model, examples, batchSize)`: a `train` batches function, shuffled per epoch and grouped by length. */
export const classifierBatches = (model: Classifier, examples: readonly LabelledText[], batchSize: number) => {
  const lengths = examples.map((e) => model.encode(e.text).length);
  return (key: Key): ClassifierBatch[] =>
    batchIndices(examples.length, batchSize, { key, lengthOf: (i) => lengths[i]! }).map((idx) => model.batch(idx.map((i) => examples[i]!)));
};
