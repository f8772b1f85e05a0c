/**
 * The RNN language model of the course (many-to-many with a lag of one; one-to-many when sampling):
 *
 *   x<1> = 0 (or the one-hot of <bos>, or of a label for conditional generation),   x<t> = y<t-1>  (t > 1)
 *   a<t> = cell(a<t-1>, x<t>)   (any cell, or a stack of cells)
 *   ŷ<t> = softmax(W_ya a<t> + b_y)  over the V tokens of the vocabulary
 *   log P(y<1..T>) = Σ_t log ŷ<t>[y<t>],   with y<T> = <eos>,   and L = -Σ_t log ŷ<t>[y<t>]
 *
 * Inputs are one-hot vectors (as in the course; best for characters) or rows of a learned embedding E (for
 * words). A model is a record of pure functions over a parameter tree `{ embed?, rnn, out }`: `init`, `loss`
 * (mean NLL per predicted token, what `train` minimises), `logProb`, `perplexity`, `evaluate`, `start`/`step`
 * (one step at a time) and `sample`. `bindLanguageModel(model, params)` gives the same with params fixed.
 */
import { ArgumentError } from "../core/errors.js";
import { describe, optionsObject } from "../core/shape.js";
import { allocData, dataOf, fromData, zeros, type DType, type Tensor } from "../core/tensor.js";
import { categorical, foldIn, splitKey, type Key } from "../core/random.js";
import { concat, div, gather, logSoftmax, neg, reshape, sum } from "../autograd/index.js";
import { withoutTapes } from "../autograd/tape.js";
import type { Tree } from "../autograd/tree.js";
import { dense, type DenseParams } from "../layers/dense.js";
import { normalInit } from "../layers/init.js";
import { adam, type AdamState } from "../layers/optimizers.js";
import { rnnCell } from "../layers/cells/rnn.js";
import { gruCell } from "../layers/cells/gru.js";
import { lstmCell } from "../layers/cells/lstm.js";
import type { Cell } from "../layers/cells/types.js";
import { rnn, stacked, type SequenceLayer } from "../layers/sequence.js";
import { batchIndices, padSequences } from "./data.js";
import { Vocabulary } from "./vocabulary.js";
import { loadTrainCheckpoint, train, type EarlyStopOptions, type EpochRecord, type EvalResult, type TrainResult, type TrainState } from "./train.js";

/** The library cells by name (GRU: the reset-after variant, as PyTorch; LSTM: forget bias 1). */
export type CellKind = "rnn" | "gru" | "lstm";

/** Makes a library cell from its name. */
export const cellOf = (kind: CellKind): Cell => {
  if (kind === "rnn") return rnnCell();
  if (kind === "gru") return gruCell();
  if (kind === "lstm") return lstmCell();
  throw new ArgumentError("cellOf", "kind", `must be 'rnn', 'gru' or 'lstm', got ${describe(kind)}`);
};

export interface LanguageModelConfig {
  /** The recurrent cell: a library cell by name, or any object satisfying the Cell contract (not serialisable). */
  readonly cell: CellKind | Cell;
  /** Hidden size H, or one size per layer for a stacked (deep) RNN. */
  readonly hidden: number | readonly number[];
  /** `'onehot'` (default; x<t> is the one-hot of y<t-1>) or `'embedding'` (x<t> = E[y<t-1>], learned). */
  readonly input?: "onehot" | "embedding";
  /** Embedding size for `input: 'embedding'` (default 32). */
  readonly embedDim?: number;
  /** x<1> when there is no label: `'zeros'` (default, the course's x<1> = 0) or `'bos'` (the one-hot/embedding of `<bos>`). */
  readonly start?: "zeros" | "bos";
  /** Conditional generation: x<1> is the one-hot (or embedding) of one of these labels (the course's music-genre input). */
  readonly labels?: readonly string[];
  /** Parameter dtype (default float32). */
  readonly dtype?: DType;
}

/** Parameters: optional input embedding, the recurrent layer(s), and the output layer W_ya `[H, V]`, b_y `[V]`. */
export interface LanguageModelParams {
  readonly embed?: { readonly E: Tensor };
  readonly rnn: Tree;
  readonly out: DenseParams;
}

/** A text to model, with its label for a conditional model. */
export interface TextExample {
  readonly text: string;
  readonly label?: string;
}

/** A batch ready for `loss`: time-major targets y `[T, B]` with `<eos>`, mask `[T, B]`, and the input rows. */
export interface LmBatch {
  /** Input row of every step `[T·B]` (time-major): a token id, V + label index, or -1 for the zero vector. */
  readonly inputRows: Int32Array;
  /** The one-hot inputs `[T, B, V + L]` (one-hot models only; built once per batch). */
  readonly xs?: Tensor;
  readonly targets: Tensor;
  readonly mask: Tensor;
  /** Flat indices `(t·B + b)·V + y<t>_b` of the real (unpadded) targets in the `[T, B, V]` logits. */
  readonly picks: Int32Array;
  readonly T: number;
  readonly B: number;
  /** Number of predicted tokens (Σ of lengths, each counting its `<eos>`). */
  readonly tokens: number;
}

/** Log-probability of one text, `Σ_t log P(y<t> | y<1..t-1>)` with `<eos>` included, in nats and bits. */
export interface LogProb {
  readonly nats: number;
  readonly bits: number;
  /** Number of predicted tokens T_y (tokens of the text + 1 for `<eos>`). */
  readonly tokens: number;
}

/** Corpus-level figures: mean negative log-likelihood per predicted token and perplexity. */
export interface LmEvaluation {
  /** -Σ log P / Σ T_y, in nats per token (per character at char level). */
  readonly nllPerToken: number;
  readonly bitsPerToken: number;
  /** exp(nllPerToken). */
  readonly perplexity: number;
  readonly tokens: number;
  readonly texts: number;
}

export interface SampleOptions {
  /** At most this many tokens (prefix included, `<eos>` not). Default 50. */
  readonly maxLength?: number;
  /** Divide the logits by this; 0 means greedy argmax. Default 1. */
  readonly temperature?: number;
  /** Sample only among the k most probable tokens (default: all). */
  readonly topK?: number;
  /** Text the samples start with (fed token by token, then continued). */
  readonly prefix?: string;
  /** End a sample at `<eos>` (default true); when false `<eos>` is never drawn and samples run to maxLength. */
  readonly stopAtEos?: boolean;
  /** Never produce `<unk>`: the step is redrawn from the distribution without it (default true, as the course). */
  readonly rejectUnk?: boolean;
  /** The label to condition on (conditional models). */
  readonly label?: string;
}

/** The recurrent state between `step`s: the layer's carry and the next input rows. */
export interface LmState {
  readonly carry: unknown;
  readonly B: number;
}

export interface LanguageModel {
  readonly vocab: Vocabulary;
  /** The config with defaults filled in. */
  readonly config: Required<Omit<LanguageModelConfig, "labels">> & { readonly labels: readonly string[] };
  /** V, the output size. */
  readonly V: number;
  /** Size of x<t>. */
  readonly inputSize: number;
  /** Fresh parameters from `key`. */
  init(key: Key): LanguageModelParams;
  /** Encodes texts to LM batches (targets with `<eos>`, masks, inputs). */
  batch(examples: readonly TextExample[]): LmBatch;
  /** A batch from target id sequences as given (append `<eos>` yourself when the sequence ends). */
  batchIds(seqs: readonly { readonly ids: readonly number[]; readonly label?: string }[]): LmBatch;
  /** Logits `[T, B, V]` for a batch (teacher forcing: x<t> = y<t-1>). */
  logits(params: LanguageModelParams, batch: LmBatch): Tensor;
  /** `loss = -Σ_{t,b} m<t>_b log ŷ<t>_b[y<t>_b] / Σ m` (= sequenceLoss(logits, y, m, 'sum') / tokens): mean NLL per predicted token, what `train` minimises. */
  loss(params: LanguageModelParams, batch: LmBatch): Tensor;
  /** `logProb(text) = Σ_t log P(y<t> | y<1..t-1>)`, `<eos>` included. */
  logProb(params: LanguageModelParams, text: string, options?: { readonly label?: string }): LogProb;
  /** `Σ_t log P(ids[t] | ids[<t])` in nats for a target id sequence as given (with or without a final `<eos>`). */
  logProbIds(params: LanguageModelParams, ids: readonly number[], options?: { readonly label?: string }): number;
  /** Log-probabilities of many texts (batched). */
  logProbs(params: LanguageModelParams, examples: readonly TextExample[], options?: { readonly batchSize?: number }): LogProb[];
  /** NLL per token and perplexity over a corpus. */
  evaluate(params: LanguageModelParams, examples: readonly TextExample[], options?: { readonly batchSize?: number }): LmEvaluation;
  /** `perplexity(texts) = exp(-Σ log P / Σ T_y)`. */
  perplexity(params: LanguageModelParams, examples: readonly (string | TextExample)[]): number;
  /** The state before the first step for B sequences (with their labels for a conditional model). */
  start(params: LanguageModelParams, B: number, labels?: readonly (string | undefined)[]): [LmState, Int32Array];
  /** One step: input rows `[B]` (token ids, or what `start` returned) → new state and logits `[B, V]`. */
  step(params: LanguageModelParams, state: LmState, inputRows: Int32Array): [LmState, Tensor];
  /** Samples `n` sequences of token ids (prefix included, `<eos>` excluded). */
  sampleIds(params: LanguageModelParams, key: Key, n: number, options?: SampleOptions): number[][];
  /** One sampled text. */
  sample(params: LanguageModelParams, key: Key, options?: SampleOptions): string;
  /** `n` sampled texts, drawn together as one batch. */
  sampleMany(params: LanguageModelParams, key: Key, n: number, options?: SampleOptions): string[];
}

const posInt = (op: string, name: string, v: unknown, min = 1): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ArgumentError(op, name, `must be an integer >= ${min}, got ${describe(v)}`);
  return v;
};

/** `createLanguageModel(vocab, config)`: the RNN LM over `vocab` (see the file header for the equations). */
export const createLanguageModel = (vocab: Vocabulary, config: LanguageModelConfig): LanguageModel => {
  const op = "createLanguageModel";
  if (!(vocab instanceof Vocabulary)) throw new ArgumentError(op, "vocab", `must be a Vocabulary (Vocabulary.build(...)), got ${describe(vocab)}`);
  optionsObject(op, "config", config, "{ cell: 'lstm', hidden: 64 }");
  const input = config.input ?? "onehot";
  if (input !== "onehot" && input !== "embedding") throw new ArgumentError(op, "config.input", `must be 'onehot' or 'embedding', got ${describe(input)}`);
  const startMode = config.start ?? "zeros";
  if (startMode !== "zeros" && startMode !== "bos") throw new ArgumentError(op, "config.start", `must be 'zeros' or 'bos', got ${describe(startMode)}`);
  const embedDim = input === "embedding" ? posInt(op, "config.embedDim", config.embedDim ?? 32) : 0;
  const hidden = typeof config.hidden === "number" ? [config.hidden] : config.hidden;
  if (!Array.isArray(hidden) || hidden.length === 0) throw new ArgumentError(op, "config.hidden", `must be a positive integer or a non-empty array of them, got ${describe(config.hidden)}`);
  hidden.forEach((h, i) => posInt(op, `config.hidden[${i}]`, h));
  const labels = config.labels ?? [];
  if (!Array.isArray(labels) || labels.some((l) => typeof l !== "string") || new Set(labels).size !== labels.length)
    throw new ArgumentError(op, "config.labels", `must be an array of distinct strings, got ${describe(labels)}`);
  const dtype = config.dtype ?? "float32";
  const cell = typeof config.cell === "string" ? cellOf(config.cell) : config.cell;
  if (cell === null || typeof cell !== "object" || typeof cell.step !== "function")
    throw new ArgumentError(op, "config.cell", `must be 'rnn', 'gru', 'lstm' or a cell object, got ${describe(config.cell)}`);
  const layer: SequenceLayer = hidden.length === 1 ? rnn(cell) : stacked(hidden.map(() => cell));
  const V = vocab.size, L = labels.length;
  const rows = V + L; // input rows: tokens, then labels; -1 is the zero vector
  const D = input === "onehot" ? rows : embedDim;
  const H = hidden[hidden.length - 1]!;
  const labelIndex = (where: string, label: string | undefined): number => {
    if (L === 0) {
      if (label !== undefined) throw new ArgumentError(where, "label", `was given (${JSON.stringify(label)}) but this model has no labels`);
      return -1;
    }
    const i = label === undefined ? -1 : labels.indexOf(label);
    if (i < 0) throw new ArgumentError(where, "label", `must be one of ${labels.map((l) => JSON.stringify(l)).join(", ")}, got ${describe(label)}`);
    return i;
  };
  const firstRow = (where: string, label: string | undefined): number => {
    const li = labelIndex(where, label);
    if (li >= 0) return V + li;
    return startMode === "bos" ? vocab.bos : -1;
  };

  /** x for input rows `[n]` (time-major flat) → `[T, B, D]` tensor. */
  const inputsOf = (params: LanguageModelParams, inputRows: Int32Array, xsOneHot: Tensor | undefined, T: number, B: number): Tensor => {
    if (input === "onehot") return xsOneHot ?? oneHotRows(inputRows, T, B, rows, dtype);
    const E = params.embed?.E;
    if (E === undefined) throw new ArgumentError("languageModel", "params.embed.E", "is missing; an embedding model's params come from model.init(key)");
    const table = concat([E, zeros([1, E.shape[1]!], E.dtype)], 0); // last row: the zero vector x<1> = 0
    const idx = new Int32Array(inputRows.length);
    for (let i = 0; i < idx.length; i++) idx[i] = inputRows[i]! < 0 ? rows : inputRows[i]!;
    return reshape(gather(table, idx, 0), [T, B, E.shape[1]!]);
  };

  const encodeTargets = (where: string, ex: TextExample): number[] => {
    if (ex === null || typeof ex !== "object" || typeof ex.text !== "string") throw new ArgumentError(where, "examples", `must hold { text, label? } records, got ${describe(ex)}`);
    return vocab.encode(ex.text, { eos: true });
  };

  const batchIds = (seqs: readonly { readonly ids: readonly number[]; readonly label?: string }[]): LmBatch => {
    const where = "languageModel.batchIds";
    if (!Array.isArray(seqs) || seqs.length === 0) throw new ArgumentError(where, "seqs", `must be a non-empty array of { ids, label? }, got ${describe(seqs)}`);
    seqs.forEach((s, b) => {
      if (s === null || typeof s !== "object" || !Array.isArray(s.ids) || s.ids.length === 0) throw new ArgumentError(where, `seqs[${b}]`, `must be { ids, label? } with at least one id, got ${describe(s)}`);
      s.ids.forEach((id: number, t: number) => {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new ArgumentError(where, `seqs[${b}].ids[${t}]`, `must be a token id in [0, ${V}), got ${describe(id)}`);
      });
    });
    const { ids, mask, T, B, lengths } = padSequences(seqs.map((s) => s.ids), { padId: vocab.pad, dtype });
    const inputRows = new Int32Array(T * B);
    seqs.forEach((s, b) => {
      inputRows[b] = firstRow(where, s.label);
      for (let t = 1; t < T; t++) inputRows[t * B + b] = t < lengths[b]! ? s.ids[t - 1]! : vocab.pad;
    });
    const tokens = lengths.reduce((a, n) => a + n, 0);
    const picks = new Int32Array(tokens);
    let k = 0;
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) if (t < lengths[b]!) picks[k++] = (t * B + b) * V + seqs[b]!.ids[t]!;
    return { inputRows, ...(input === "onehot" ? { xs: oneHotRows(inputRows, T, B, rows, dtype) } : {}), targets: ids, mask, picks, T, B, tokens };
  };

  const makeBatch = (examples: readonly TextExample[]): LmBatch => {
    const where = "languageModel.batch";
    if (!Array.isArray(examples) || examples.length === 0) throw new ArgumentError(where, "examples", `must be a non-empty array of { text, label? }, got ${describe(examples)}`);
    return batchIds(examples.map((e) => ({ ids: encodeTargets(where, e), ...(e.label !== undefined ? { label: e.label } : {}) })));
  };

  const logits = (params: LanguageModelParams, batch: LmBatch): Tensor => {
    const xs = inputsOf(params, batch.inputRows, batch.xs, batch.T, batch.B);
    // No scan mask: padding only follows a sequence's end, so it cannot change earlier steps; the loss masks it.
    const [, ys] = layer.apply(params.rnn, xs);
    return dense.apply(params.out, ys);
  };

  // -Σ_{real steps} log ŷ<t>[y<t>] / tokens, the masked sequenceLoss (reduction 'sum') divided by the token count, computed
  // by gathering the target entries of the log-softmax: no one-hot targets or masking passes over [T, B, V].
  const loss = (params: LanguageModelParams, batch: LmBatch): Tensor => {
    const lp = logSoftmax(logits(params, batch), -1);
    return div(neg(sum(gather(reshape(lp, [batch.T * batch.B * V]), batch.picks, 0))), batch.tokens);
  };

  /** Per-example Σ_t log ŷ<t>[y<t>] of a batch, read from the log-softmax. */
  const batchLogProbs = (params: LanguageModelParams, batch: LmBatch): number[] =>
    withoutTapes(() => {
      const lp = dataOf(logSoftmax(logits(params, batch), -1));
      const y = dataOf(batch.targets), m = dataOf(batch.mask);
      const out = new Array<number>(batch.B).fill(0);
      for (let t = 0; t < batch.T; t++)
        for (let b = 0; b < batch.B; b++) {
          const i = t * batch.B + b;
          if (m[i] === 1) out[b]! += lp[i * V + y[i]!]!;
        }
      return out;
    });

  const logProbs = (params: LanguageModelParams, examples: readonly TextExample[], options: { readonly batchSize?: number } = {}): LogProb[] => {
    const bs = posInt("languageModel.logProbs", "options.batchSize", options.batchSize ?? 256);
    const out: LogProb[] = new Array(examples.length);
    const order = batchIndices(examples.length, bs, { lengthOf: (i) => examples[i]!.text.length });
    for (const idx of order) {
      const batch = makeBatch(idx.map((i) => examples[i]!));
      const lps = batchLogProbs(params, batch);
      idx.forEach((i, j) => {
        const tokens = vocab.tokenize(examples[i]!.text).length + 1;
        out[i] = { nats: lps[j]!, bits: lps[j]! / Math.LN2, tokens };
      });
    }
    return out;
  };

  const evaluate = (params: LanguageModelParams, examples: readonly TextExample[], options: { readonly batchSize?: number } = {}): LmEvaluation => {
    if (!Array.isArray(examples) || examples.length === 0) throw new ArgumentError("languageModel.evaluate", "examples", `must be a non-empty array, got ${describe(examples)}`);
    const lps = logProbs(params, examples, options);
    const nats = lps.reduce((a, l) => a + l.nats, 0), tokens = lps.reduce((a, l) => a + l.tokens, 0);
    const nll = -nats / tokens;
    return { nllPerToken: nll, bitsPerToken: nll / Math.LN2, perplexity: Math.exp(nll), tokens, texts: examples.length };
  };

  const start = (params: LanguageModelParams, B: number, lbls?: readonly (string | undefined)[]): [LmState, Int32Array] => {
    posInt("languageModel.start", "B", B);
    if (lbls !== undefined && lbls.length !== B) throw new ArgumentError("languageModel.start", "labels", `must have one entry per sequence (${B}), got ${lbls.length}`);
    const rowsNow = new Int32Array(B);
    for (let b = 0; b < B; b++) rowsNow[b] = firstRow("languageModel.start", lbls?.[b]);
    return [{ carry: layer.initialCarry(params.rnn, B), B }, rowsNow];
  };

  const step = (params: LanguageModelParams, state: LmState, inputRows: Int32Array): [LmState, Tensor] => {
    if (!(inputRows instanceof Int32Array) || inputRows.length !== state.B)
      throw new ArgumentError("languageModel.step", "inputRows", `must be an Int32Array of length B = ${state.B}, got ${describe(inputRows)}`);
    const xs = inputsOf(params, inputRows, undefined, 1, state.B);
    const [carry, ys] = layer.apply(params.rnn, xs, { carry0: state.carry });
    const z = dense.apply(params.out, reshape(ys, [state.B, H]));
    return [{ carry, B: state.B }, z];
  };

  const sampleIds = (params: LanguageModelParams, key: Key, n: number, options: SampleOptions = {}): number[][] => {
    const where = "languageModel.sample";
    posInt(where, "n", n);
    const { maxLength = 50, temperature = 1, topK, prefix = "", stopAtEos = true, rejectUnk = true, label } = options;
    posInt(where, "options.maxLength", maxLength);
    if (typeof temperature !== "number" || !(temperature >= 0) || !Number.isFinite(temperature))
      throw new ArgumentError(where, "options.temperature", `must be a finite number >= 0 (0 = greedy), got ${describe(temperature)}`);
    if (topK !== undefined) posInt(where, "options.topK", topK);
    if (typeof prefix !== "string") throw new ArgumentError(where, "options.prefix", `must be a string, got ${describe(prefix)}`);
    const forced = vocab.encode(prefix);
    if (forced.length > maxLength) throw new ArgumentError(where, "options.prefix", `has ${forced.length} tokens, more than maxLength = ${maxLength}`);
    const banned = new Set<number>([vocab.pad, vocab.bos]);
    if (rejectUnk) banned.add(vocab.unk);
    if (!stopAtEos) banned.add(vocab.eos);
    if (banned.size >= V) throw new ArgumentError(where, "options", "leave no token that may be sampled");
    return withoutTapes(() => {
      let [state, rowsNow] = start(params, n, new Array(n).fill(label));
      const out: number[][] = Array.from({ length: n }, () => []);
      const done = new Array<boolean>(n).fill(false);
      for (let t = 0; t < maxLength && done.some((d) => !d); t++) {
        let z: Tensor;
        [state, z] = step(params, state, rowsNow);
        let chosen: ArrayLike<number>;
        if (t < forced.length) chosen = new Array<number>(n).fill(forced[t]!);
        else chosen = pick(dataOf(z), n, V, banned, temperature, topK, foldIn(key, t));
        rowsNow = new Int32Array(n);
        for (let b = 0; b < n; b++) {
          const id = chosen[b]!;
          rowsNow[b] = id;
          if (done[b]) continue;
          if (id === vocab.eos) done[b] = true;
          else out[b]!.push(id);
        }
      }
      return out;
    });
  };

  const model: LanguageModel = {
    vocab,
    config: { cell: config.cell, hidden: config.hidden, input, embedDim, start: startMode, labels: Object.freeze(labels.slice()), dtype },
    V,
    inputSize: D,
    init: (key: Key): LanguageModelParams => {
      const [ke, kr, ko] = splitKey(key, 3) as [Key, Key, Key];
      const rnnParams = layer.init(kr, D, (hidden.length === 1 ? hidden[0]! : hidden) as number, dtype) as Tree;
      const out = dense.init(ko, H, V, dtype);
      return input === "embedding" ? { embed: { E: normalInit(0.1)(ke, [rows, embedDim], dtype) }, rnn: rnnParams, out } : { rnn: rnnParams, out };
    },
    batch: makeBatch,
    batchIds,
    logProbIds: (params, ids, options = {}) => batchLogProbs(params, batchIds([{ ids, ...(options.label !== undefined ? { label: options.label } : {}) }]))[0]!,
    logits,
    loss,
    logProb: (params, text, options = {}) => logProbs(params, [{ text, ...(options.label !== undefined ? { label: options.label } : {}) }])[0]!,
    logProbs,
    evaluate,
    perplexity: (params, examples) => evaluate(params, examples.map((e) => (typeof e === "string" ? { text: e } : e))).perplexity,
    start,
    step,
    sampleIds,
    sample: (params, key, options = {}) => vocab.decode(sampleIds(params, key, 1, options)[0]!),
    sampleMany: (params, key, n, options = {}) => sampleIds(params, key, n, options).map((ids) => vocab.decode(ids)),
  };
  return Object.freeze(model);
};

/** One-hot rows `[T, B, D]` from time-major row indices (-1: the zero vector). A constant: inputs carry no gradient. */
const oneHotRows = (inputRows: Int32Array, T: number, B: number, D: number, dtype: DType): Tensor => {
  const data = allocData(dtype, T * B * D);
  for (let i = 0; i < inputRows.length; i++) if (inputRows[i]! >= 0) data[i * D + inputRows[i]!] = 1;
  return fromData(data, [T, B, D], dtype);
};

/**
 * Draws one token per row of logits `[n, V]`: banned tokens get -∞; temperature 0 takes the argmax (first
 * on ties), else softmax(z / temperature) restricted to the top k, drawn by `categorical` (Gumbel-max).
 */
const pick = (z: ArrayLike<number>, n: number, V: number, banned: ReadonlySet<number>, temperature: number, topK: number | undefined, key: Key): number[] => {
  const scaled = new Float64Array(n * V);
  const out = new Array<number>(n);
  for (let b = 0; b < n; b++) {
    let best = -1, bv = -Infinity;
    for (let v = 0; v < V; v++) {
      const x = banned.has(v) ? -Infinity : z[b * V + v]!;
      if (Number.isNaN(x)) throw new ArgumentError("languageModel.sample", "params", `give a NaN logit (row ${b}, token ${v}); the parameters are not finite`);
      scaled[b * V + v] = x;
      if (x > bv) [best, bv] = [v, x];
    }
    if (best < 0) throw new ArgumentError("languageModel.sample", "params", `give no allowed token a finite logit (row ${b})`);
    out[b] = best;
    if (temperature === 0) continue;
    const row = scaled.subarray(b * V, (b + 1) * V);
    for (let v = 0; v < V; v++) row[v] = row[v]! / temperature;
    if (topK !== undefined && topK < V) {
      const kth = Array.from(row).sort((p, q) => q - p)[topK - 1]!;
      let kept = 0;
      for (let v = 0; v < V; v++) {
        if (row[v]! >= kth && kept < topK) kept++;
        else row[v] = -Infinity;
      }
    }
  }
  if (temperature === 0) return out;
  const drawn = categorical(key, fromData(scaled, [n, V], "float64")).toFlatArray();
  return drawn;
};

/** A model with its parameters fixed: `logProb(text)`, `perplexity(texts)`, `sample(key, options)`. */
export interface BoundLanguageModel {
  readonly model: LanguageModel;
  readonly params: LanguageModelParams;
  logProb(text: string, options?: { readonly label?: string }): LogProb;
  perplexity(texts: readonly (string | TextExample)[]): number;
  evaluate(examples: readonly TextExample[]): LmEvaluation;
  sample(key: Key, options?: SampleOptions): string;
  sampleMany(key: Key, n: number, options?: SampleOptions): string[];
}

/** `bindLanguageModel(model, params)`: the model's functions with `params` filled in. */
export const bindLanguageModel = (model: LanguageModel, params: LanguageModelParams): BoundLanguageModel => ({
  model,
  params,
  logProb: (text, options) => model.logProb(params, text, options),
  perplexity: (texts) => model.perplexity(params, texts),
  evaluate: (examples) => model.evaluate(params, examples),
  sample: (key, options) => model.sample(params, key, options),
  sampleMany: (key, n, options) => model.sampleMany(params, key, n, options),
});

// ---- serialising the model beside its checkpoint ---------------------------------------------------------

/** Metadata keys a language-model checkpoint carries (beside the loop's `train.state`). */
export const LM_METADATA = { kind: "model.kind", config: "model.config", vocabulary: "model.vocabulary" } as const;

/** `lmMetadata(model, kind)`: the checkpoint metadata that rebuilds `model` (library cells only). */
export const lmMetadata = (model: LanguageModel, kind = "lm"): Record<string, string> => {
  const c = model.config;
  if (typeof c.cell !== "string") throw new ArgumentError("lmMetadata", "model", "uses a custom cell object, which cannot be stored by name; save the params with saveCheckpoint and rebuild the model yourself");
  return {
    [LM_METADATA.kind]: kind,
    [LM_METADATA.config]: JSON.stringify({ cell: c.cell, hidden: c.hidden, input: c.input, embedDim: c.embedDim, start: c.start, labels: c.labels, dtype: c.dtype }),
    [LM_METADATA.vocabulary]: JSON.stringify(model.vocab.toJSON()),
  };
};

/** `languageModelFromMetadata(metadata)`: the model a checkpoint was trained with (its vocabulary and config). */
export const languageModelFromMetadata = (metadata: Readonly<Record<string, string>>): { model: LanguageModel; kind: string } => {
  const op = "languageModelFromMetadata";
  const cfg = metadata[LM_METADATA.config], voc = metadata[LM_METADATA.vocabulary];
  if (cfg === undefined || voc === undefined) throw new ArgumentError(op, "metadata", `has no ${LM_METADATA.config} / ${LM_METADATA.vocabulary}; this checkpoint was not written for a language model`);
  const vocab = Vocabulary.fromJSONOrThrow(voc);
  let config: LanguageModelConfig;
  try {
    config = JSON.parse(cfg) as LanguageModelConfig;
  } catch (e) {
    throw new ArgumentError(op, "metadata", `${LM_METADATA.config} is not valid JSON: ${(e as Error).message}`);
  }
  return { model: createLanguageModel(vocab, config), kind: metadata[LM_METADATA.kind] ?? "lm" };
};

// ---- training recipe -------------------------------------------------------------------------------------

/** Evaluation on a validation set as `train`'s evalFn: loss = NLL per token, plus perplexity. */
export const lmEvalFn = (model: LanguageModel, valid: readonly TextExample[]) => (params: LanguageModelParams): EvalResult => {
  const e = model.evaluate(params, valid);
  return { loss: e.nllPerToken, metrics: { perplexity: e.perplexity } };
};

/** `lmBatches(model, examples, batchSize)`: a `train` batches function, shuffled per epoch and grouped by length. */
export const lmBatches = (model: LanguageModel, examples: readonly TextExample[], batchSize: number) => {
  const lengths = examples.map((e) => model.vocab.tokenize(e.text).length);
  return (key: Key): LmBatch[] => batchIndices(examples.length, batchSize, { key, lengthOf: (i) => lengths[i]! }).map((idx) => model.batch(idx.map((i) => examples[i]!)));
};

export interface FitLanguageModelOptions {
  readonly train: readonly TextExample[];
  /** Validation examples: per-epoch NLL (the monitored loss for early stopping). */
  readonly valid?: readonly TextExample[];
  readonly epochs: number;
  /** Adam learning rate (default 0.01). */
  readonly lr?: number;
  /** Sequences per batch (default 64). */
  readonly batchSize?: number;
  /** Global-norm gradient clipping (default 5). */
  readonly clip?: number;
  /** Split into the init key and the training key. */
  readonly key: Key;
  /** Start from these params instead of `model.init`. */
  readonly params?: LanguageModelParams;
  readonly earlyStop?: EarlyStopOptions;
  readonly progress?: boolean | "auto";
  readonly label?: string;
  /** Checkpoint path (safetensors; vocabulary and config in its metadata). */
  readonly checkpoint?: string;
  /** Extra checkpoint metadata (e.g. how the data were split). */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly resume?: string;
  /** SVG loss-curve path. */
  readonly curve?: string;
  readonly onEpoch?: (record: EpochRecord) => void;
  /** `model.kind` stored in the checkpoint (default "lm"). */
  readonly kind?: string;
}

/**
 * `fitLanguageModel(model, options)`: `train` with Adam on `model.loss`, length-grouped shuffled batches,
 * validation NLL per epoch, and a checkpoint that `languageModelFromMetadata` turns back into the model.
 */
export const fitLanguageModel = async (model: LanguageModel, options: FitLanguageModelOptions): Promise<TrainResult<LanguageModelParams, AdamState>> => {
  const o = options;
  if (!Array.isArray(o.train) || o.train.length === 0) throw new ArgumentError("fitLanguageModel", "options.train", `must be a non-empty array of { text, label? }, got ${describe(o.train)}`);
  const [initKey, trainKey] = splitKey(o.key, 2) as [Key, Key];
  return train<LanguageModelParams, AdamState, LmBatch>({
    params: o.params ?? model.init(initKey),
    optimizer: adam(o.lr ?? 0.01),
    lossFn: (p, b) => model.loss(p, b),
    batches: lmBatches(model, o.train, o.batchSize ?? 64),
    epochs: o.epochs,
    key: trainKey,
    clip: o.clip ?? 5,
    ...(o.valid && o.valid.length > 0 ? { evalFn: lmEvalFn(model, o.valid) } : {}),
    ...(o.earlyStop ? { earlyStop: o.earlyStop } : {}),
    ...(o.progress !== undefined ? { progress: o.progress } : {}),
    ...(o.label !== undefined ? { label: o.label } : {}),
    ...(o.checkpoint ? { checkpoint: { path: o.checkpoint, metadata: { ...lmMetadata(model, o.kind ?? "lm"), ...(o.metadata ?? {}) } } } : {}),
    ...(o.resume ? { resume: o.resume } : {}),
    ...(o.curve ? { curve: { path: o.curve, title: `${o.kind ?? "lm"}: ${typeof model.config.cell === "string" ? model.config.cell : "custom cell"} H=${String(model.config.hidden)}, NLL per token` } } : {}),
    ...(o.onEpoch ? { onEpoch: o.onEpoch } : {}),
    tokensOf: (b) => b.tokens,
  });
};

/** `loadLanguageModel(path)`: the model, params and metadata of a checkpoint written by `fitLanguageModel`. */
export const loadLanguageModel = async (path: string): Promise<{ model: LanguageModel; params: LanguageModelParams; kind: string; metadata: Readonly<Record<string, string>>; state: TrainState }> => {
  const ck = await loadTrainCheckpoint<LanguageModelParams>(path);
  const { model, kind } = languageModelFromMetadata(ck.metadata);
  return { model, params: ck.best ?? ck.params, kind, metadata: ck.metadata, state: ck.state };
};
