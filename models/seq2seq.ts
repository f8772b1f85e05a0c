/**
 * The encoder-decoder of the course (many-to-many with T_x ≠ T_y), e.g. letters in, phonemes out:
 *
 *   encoder:  e<t> = E_x[x<t>],   (→a<t>, ←a<t>) = BLSTM(e<1..T_x>),   h<t> = [→a<t>; ←a<t>]      (bidirectional, concat)
 *   bridge:   a<0> = tanh(W_a [→a<T_x>; ←a<1>] + b_a),   c<0> = W_c [→c<T_x>; ←c<1>] + b_c        (decoder's initial state)
 *   decoder:  s<t> = LSTM(s<t-1>, E_y[y<t-1>]),   y<0> = <bos>                                     (teacher forcing in training)
 *   output:   ŷ<t> = softmax(W_y s<t> + b_y)   over the target vocabulary, <eos> included
 *
 * With `attention: 'bilinear'` (the "general" score of "Effective Approaches to Attention-based Neural Machine
 * Translation", EMNLP 2015, without input feeding) the output reads the encoder outputs as well:
 *
 *   α<t,t'> = softmax_t'(s<t>ᵀ W_α h<t'>) over the real source steps,   c<t> = Σ_t' α<t,t'> h<t'>,
 *   s̃<t> = tanh(W_s [s<t>; c<t>] + b_s),   ŷ<t> = softmax(W_y s̃<t> + b_y).
 *
 * Without input feeding the attention does not enter the recurrence, so it is computed for all steps at once.
 * Training minimises the mean NLL per target token, `-Σ log ŷ<t>[y<t>] / Σ T_y` (`<eos>` counted). Decoding is
 * greedy or beam search (`greedySearch`, `beamSearch`), both written against the small `SearchModel` interface
 * so they can be tested on hand-built distributions.
 */
import { ArgumentError } from "../core/errors.js";
import { describe, optionsObject } from "../core/shape.js";
import { allocData, dataOf, fromData, type DType, type Tensor } from "../core/tensor.js";
import { splitKey, type Key } from "../core/random.js";
import { concat, div, gather, logSoftmax, matmul, reshape, softmax, tanh, transpose, where } from "../autograd/index.js";
import { withoutTapes } from "../autograd/tape.js";
import { dense, type DenseParams } from "../layers/dense.js";
import { glorotUniform, normalInit } from "../layers/init.js";
import { sequenceLoss } from "../layers/losses.js";
import { lstmCell, type LstmCarry, type LstmParams } from "../layers/cells/lstm.js";
import { bidirectional, rnn, type BidirectionalParams } from "../layers/sequence.js";
import { padSequences } from "./data.js";
import { Vocabulary } from "./vocabulary.js";

// ---- decoding, independent of the network -----------------------------------------------------------------

/**
 * What the searches need from a conditional model P(y<t> | y<1..t-1>, x): a batch of decoder states (one row
 * per hypothesis), a step that turns the previous tokens into log-probabilities, and row selection (to follow
 * the surviving hypotheses).
 */
export interface SearchModel<S> {
  /** Target vocabulary size V. */
  readonly V: number;
  /** The first input token. */
  readonly bos: number;
  /** The token that ends a hypothesis. */
  readonly eos: number;
  /** Tokens never emitted (e.g. `<pad>`, `<bos>`, `<unk>`); they are skipped by both searches alike. */
  readonly banned?: readonly number[];
  /** `step(state, prev) => [state', logP]`: logP `[R·V]` row-major, `logP[r·V + v] = log P(v | hypothesis r)`. */
  step(state: S, prev: Int32Array): readonly [S, ArrayLike<number>];
  /** The state of rows `rows` (in that order; rows may repeat). */
  select(state: S, rows: Int32Array): S;
}

/** A decoded sequence. */
export interface Hypothesis {
  /** The emitted token ids, `<eos>` not included. */
  readonly ids: readonly number[];
  /** `Σ_t log P(y<t> | y<1..t-1>, x)`, `<eos>` included when `finished`. */
  readonly logProb: number;
  /** True when the hypothesis ended with `<eos>` (false: cut at maxLength). */
  readonly finished: boolean;
}

export interface SearchOptions {
  /** At most this many tokens per hypothesis, `<eos>` included (default 50). */
  readonly maxLength?: number;
}

export interface BeamSearchOptions extends SearchOptions {
  /** The beam width k (default 5); k = 1 is greedy decoding. */
  readonly beamWidth?: number;
  /**
   * α in the final ranking score `logP / |y|^α`, |y| counting `<eos>` (default 0: the plain log-probability;
   * 1: the mean log-probability per token, which stops favouring short outputs).
   */
  readonly lengthPenalty?: number;
}

const posInt = (op: string, name: string, v: unknown, min = 1): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ArgumentError(op, name, `must be an integer >= ${min}, got ${describe(v)}`);
  return v;
};

const bannedMask = (op: string, m: SearchModel<unknown>): Uint8Array => {
  posInt(op, "model.V", m.V);
  const banned = new Uint8Array(m.V);
  for (const b of m.banned ?? []) if (Number.isInteger(b) && b >= 0 && b < m.V) banned[b] = 1;
  if (banned[m.eos]) throw new ArgumentError(op, "model.banned", `contains <eos> (${m.eos}); a search could never end`);
  return banned;
};

const checkRow = (op: string, lp: ArrayLike<number>, R: number, V: number): void => {
  if (lp.length !== R * V) throw new ArgumentError(op, "model.step", `returned ${lp.length} log-probabilities for ${R} rows of V = ${V} (expected ${R * V})`);
};

/**
 * `greedySearch(model, state0, B)`: y<t> = argmax_v log P(v | y<1..t-1>, x) (the first maximum on ties, banned
 * tokens skipped) until `<eos>` or maxLength, for the B rows of `state0` at once.
 */
export const greedySearch = <S>(model: SearchModel<S>, state0: S, B: number, options: SearchOptions = {}): Hypothesis[] => {
  const op = "greedySearch";
  posInt(op, "B", B);
  const maxLength = posInt(op, "options.maxLength", options.maxLength ?? 50);
  const V = model.V;
  const banned = bannedMask(op, model);
  const ids: number[][] = Array.from({ length: B }, () => []);
  const score = new Float64Array(B);
  const finished = new Array<boolean>(B).fill(false);
  let live = Array.from({ length: B }, (_, b) => b); // row r of the state is source live[r]
  let state = state0;
  let prev = new Int32Array(B).fill(model.bos);
  for (let t = 0; t < maxLength && live.length > 0; t++) {
    const [next, lp] = model.step(state, prev);
    checkRow(op, lp, live.length, V);
    const keep: number[] = [], keepRows: number[] = [], tokens: number[] = [];
    live.forEach((b, r) => {
      let best = -1, bv = -Infinity;
      for (let v = 0; v < V; v++) {
        if (banned[v]) continue;
        const x = lp[r * V + v]!;
        if (Number.isNaN(x)) throw new ArgumentError(op, "model.step", `gave a NaN log-probability (row ${r}, token ${v})`);
        if (best < 0 || x > bv) [best, bv] = [v, x];
      }
      score[b] = score[b]! + bv;
      if (best === model.eos) finished[b] = true;
      else {
        ids[b]!.push(best);
        keep.push(b);
        keepRows.push(r);
        tokens.push(best);
      }
    });
    if (keep.length === 0) break;
    state = keep.length === live.length ? next : model.select(next, Int32Array.from(keepRows));
    live = keep;
    prev = Int32Array.from(tokens);
  }
  return ids.map((y, b) => ({ ids: y, logProb: score[b]!, finished: finished[b]! }));
};

interface Beam {
  readonly ids: readonly number[];
  readonly score: number;
}

/**
 * `beamSearch(model, state0, B, { beamWidth: k, lengthPenalty: α })`: keeps the k most probable prefixes per
 * source. Each step expands every live prefix by its k best tokens, ranks the candidates by `Σ log P`, and walks
 * down that ranking: an `<eos>` candidate among the first k finishes a hypothesis, the others fill the k live
 * slots. A source stops when it has no live prefix, at maxLength, or (α = 0) when its best finished score is
 * at least its best live score (log-probabilities only fall as a prefix grows, so no live prefix can win).
 * With α > 0 it stops once k hypotheses have finished. Hypotheses come back best first by `logP / |y|^α`
 * (unfinished ones only when none finished). Ties go to the earlier prefix, then the smaller token id, so
 * k = 1 is exactly `greedySearch` (for α = 0). Beam search is a heuristic: a wider beam usually, not always,
 * finds a more probable sequence.
 */
export const beamSearch = <S>(model: SearchModel<S>, state0: S, B: number, options: BeamSearchOptions = {}): Hypothesis[][] => {
  const op = "beamSearch";
  posInt(op, "B", B);
  const maxLength = posInt(op, "options.maxLength", options.maxLength ?? 50);
  const k = posInt(op, "options.beamWidth", options.beamWidth ?? 5);
  const alpha = options.lengthPenalty ?? 0;
  if (typeof alpha !== "number" || !(alpha >= 0) || !Number.isFinite(alpha)) throw new ArgumentError(op, "options.lengthPenalty", `must be a finite number >= 0, got ${describe(alpha)}`);
  const V = model.V;
  const banned = bannedMask(op, model);
  const finished: Beam[][] = Array.from({ length: B }, () => []);
  const unfinished: [number, Beam][] = []; // filled only when a search is cut at maxLength
  // live[r] is the prefix in state row r; src[r] its source. Rows are grouped by source, best first.
  let live: Beam[] = Array.from({ length: B }, () => ({ ids: [], score: 0 }));
  let src: number[] = Array.from({ length: B }, (_, b) => b);
  let state = state0;
  let prev = new Int32Array(B).fill(model.bos);
  const topTokens = (lp: ArrayLike<number>, r: number): number[] => {
    // the k best allowed tokens of row r: larger log-probability first, then smaller id
    const best: number[] = [];
    for (let v = 0; v < V; v++) {
      if (banned[v]) continue;
      const x = lp[r * V + v]!;
      if (Number.isNaN(x)) throw new ArgumentError(op, "model.step", `gave a NaN log-probability (row ${r}, token ${v})`);
      if (best.length === k && x <= lp[r * V + best[k - 1]!]!) continue;
      let i = best.length < k ? best.length : k - 1;
      best[i] = v;
      while (i > 0 && lp[r * V + best[i - 1]!]! < x) {
        best[i] = best[i - 1]!;
        best[i - 1] = v;
        i--;
      }
    }
    return best;
  };
  for (let t = 0; t < maxLength && live.length > 0; t++) {
    const [next, lp] = model.step(state, prev);
    checkRow(op, lp, live.length, V);
    const nLive: Beam[] = [], nSrc: number[] = [], rows: number[] = [], tokens: number[] = [];
    for (let r0 = 0; r0 < live.length; ) {
      const b = src[r0]!;
      let r1 = r0;
      while (r1 < live.length && src[r1] === b) r1++;
      const cands: { score: number; row: number; token: number }[] = [];
      for (let r = r0; r < r1; r++) for (const v of topTokens(lp, r)) cands.push({ score: live[r]!.score + lp[r * V + v]!, row: r, token: v });
      cands.sort((p, q) => q.score - p.score || p.row - q.row || p.token - q.token);
      let kept = 0;
      for (let i = 0; i < cands.length && kept < k; i++) {
        const c = cands[i]!;
        const parent = live[c.row]!;
        if (c.token === model.eos) {
          if (i < k) finished[b]!.push({ ids: parent.ids, score: c.score });
          continue;
        }
        nLive.push({ ids: [...parent.ids, c.token], score: c.score });
        nSrc.push(b);
        rows.push(c.row);
        tokens.push(c.token);
        kept++;
      }
      // stop this source when no live prefix can still win
      const fin = finished[b]!;
      const start = nSrc.length - kept;
      const done =
        kept === 0 ||
        (alpha === 0 ? fin.length > 0 && Math.max(...fin.map((f) => f.score)) >= nLive[start]!.score : fin.length >= k);
      if (done) {
        nLive.length = start;
        nSrc.length = start;
        rows.length = start;
        tokens.length = start;
      }
      r0 = r1;
    }
    if (t === maxLength - 1 || nLive.length === 0) {
      // cut at maxLength: sources with nothing finished return their live prefixes
      nLive.forEach((beam, i) => {
        if (finished[nSrc[i]!]!.length === 0) unfinished.push([nSrc[i]!, beam]);
      });
      break;
    }
    state = model.select(next, Int32Array.from(rows));
    live = nLive;
    src = nSrc;
    prev = Int32Array.from(tokens);
  }
  const rank = (f: Beam): number => (alpha === 0 ? f.score : f.score / Math.pow(f.ids.length + 1, alpha));
  const out: Hypothesis[][] = finished.map((fin) =>
    fin
      .map((f, i) => ({ f, i, s: rank(f) }))
      .sort((p, q) => q.s - p.s || p.i - q.i)
      .slice(0, k)
      .map(({ f }) => ({ ids: f.ids, logProb: f.score, finished: true })),
  );
  for (const [b, beam] of unfinished) if (out[b]!.length < k && finished[b]!.length === 0) out[b]!.push({ ids: beam.ids, logProb: beam.score, finished: false });
  return out;
};

// ---- the network ------------------------------------------------------------------------------------------

export interface Seq2SeqConfig {
  /** Decoder hidden size (the size of s<t>). */
  readonly hidden: number;
  /** Hidden size of each encoder direction (default: `hidden`); h<t> has twice this size. */
  readonly encoderHidden?: number;
  /** Size of the source and target embeddings (default 32). */
  readonly embedDim?: number;
  /** `'none'` (default, the course's encoder-decoder) or `'bilinear'` (attention with the score sᵀ W_α h, no input feeding). */
  readonly attention?: "none" | "bilinear";
  /** Parameter dtype (default float32). */
  readonly dtype?: DType;
}

/** Parameters: embeddings, the BLSTM encoder, the bridge, the LSTM decoder, optional attention, the output layer. */
export interface Seq2SeqParams {
  readonly srcEmbed: { readonly E: Tensor };
  readonly tgtEmbed: { readonly E: Tensor };
  readonly encoder: BidirectionalParams<LstmParams, LstmParams>;
  readonly bridge: { readonly a: DenseParams; readonly c: DenseParams };
  readonly decoder: LstmParams;
  /** W_α `[H, 2H_e]` and the combination layer `[H + 2H_e → H]` (attention models only). */
  readonly attention?: { readonly W: Tensor; readonly combine: DenseParams };
  readonly out: DenseParams;
}

/** A source text and its target text. */
export interface Seq2SeqPair {
  readonly source: string;
  readonly target: string;
}

/** Encoded sources, time-major. */
export interface SourceBatch {
  /** Source ids `[T_x·B]`, time-major, `<pad>` after each end. */
  readonly ids: Int32Array;
  /** `[T_x, B]`, 1 for a real source step. */
  readonly mask: Tensor;
  readonly Tx: number;
  readonly B: number;
}

/** A training batch: sources, decoder inputs (`<bos>`, y<1..T_y-1>), targets (y<1..T_y>, `<eos>` last) and their mask. */
export interface Seq2SeqBatch {
  readonly source: SourceBatch;
  /** Decoder inputs `[T_y·B]`, time-major. */
  readonly inputs: Int32Array;
  /** Targets `[T_y, B]`. */
  readonly targets: Tensor;
  /** `[T_y, B]`, 1 for a real target step. */
  readonly mask: Tensor;
  readonly Ty: number;
  /** Σ T_y: target tokens predicted, `<eos>` included. */
  readonly tokens: number;
}

/** The decoder's state for R hypotheses: the LSTM carry and, with attention, the encoder outputs they read. */
export interface DecoderState {
  readonly carry: LstmCarry;
  /** h `[R, T_x, 2H_e]` (attention only). */
  readonly memory?: Tensor;
  /** `[R, 1, T_x]`, 1 for real source steps (attention only). */
  readonly memoryMask?: Tensor;
}

/** A decoded target: its ids, its text, `log P(y | x)`, and whether it ended with `<eos>`. */
export interface Decoded extends Hypothesis {
  readonly text: string;
}

export interface DecodeOptions extends BeamSearchOptions {
  /** Sources decoded together (default 256; a beam uses beamWidth rows per source). */
  readonly batchSize?: number;
}

export interface Seq2Seq {
  readonly sourceVocab: Vocabulary;
  readonly targetVocab: Vocabulary;
  /** The config with its defaults filled in. */
  readonly config: Required<Seq2SeqConfig>;
  /** Fresh parameters from `key`. */
  init(key: Key): Seq2SeqParams;
  /** Encodes sources (at least one token each). */
  sources(texts: readonly string[]): SourceBatch;
  /** Encodes pairs for training (`targets` end with `<eos>`). */
  batch(pairs: readonly Seq2SeqPair[]): Seq2SeqBatch;
  /** Logits `[T_y, B, V]` with teacher forcing (the decoder reads the true y<t-1>). */
  logits(params: Seq2SeqParams, batch: Seq2SeqBatch): Tensor;
  /** `loss = -Σ_{t,b} m log ŷ<t>_b[y<t>_b] / Σ m`: mean NLL per target token (what `train` minimises). */
  loss(params: Seq2SeqParams, batch: Seq2SeqBatch): Tensor;
  /** `log P(y | x) = Σ_t log ŷ<t>[y<t>]` for each pair, `<eos>` included. */
  logProbs(params: Seq2SeqParams, pairs: readonly Seq2SeqPair[], options?: { readonly batchSize?: number }): number[];
  /** The decoder state after reading the sources (R = B rows) and the search interface over it. */
  start(params: Seq2SeqParams, source: SourceBatch): { readonly state: DecoderState; readonly search: SearchModel<DecoderState> };
  /** Greedy decoding of each source. */
  greedy(params: Seq2SeqParams, sources: readonly string[], options?: DecodeOptions): Decoded[];
  /** Beam-search decoding: the best hypothesis of each source. */
  beam(params: Seq2SeqParams, sources: readonly string[], options?: DecodeOptions): Decoded[];
  /** Beam-search decoding: up to beamWidth hypotheses per source, best first. */
  nBest(params: Seq2SeqParams, sources: readonly string[], options?: DecodeOptions): Decoded[][];
}

/** `createSeq2Seq(sourceVocab, targetVocab, config)`: the encoder-decoder of the file header. */
export const createSeq2Seq = (sourceVocab: Vocabulary, targetVocab: Vocabulary, config: Seq2SeqConfig): Seq2Seq => {
  const op = "createSeq2Seq";
  if (!(sourceVocab instanceof Vocabulary)) throw new ArgumentError(op, "sourceVocab", `must be a Vocabulary, got ${describe(sourceVocab)}`);
  if (!(targetVocab instanceof Vocabulary)) throw new ArgumentError(op, "targetVocab", `must be a Vocabulary, got ${describe(targetVocab)}`);
  optionsObject(op, "config", config, "{ hidden: 128 }");
  const H = posInt(op, "config.hidden", config.hidden);
  const He = posInt(op, "config.encoderHidden", config.encoderHidden ?? H);
  const De = posInt(op, "config.embedDim", config.embedDim ?? 32);
  const attention = config.attention ?? "none";
  if (attention !== "none" && attention !== "bilinear") throw new ArgumentError(op, "config.attention", `must be 'none' or 'bilinear', got ${describe(attention)}`);
  const dtype = config.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float64") throw new ArgumentError(op, "config.dtype", `must be 'float32' or 'float64', got ${describe(dtype)}`);
  const cell = lstmCell();
  const encoder = bidirectional(cell, cell);
  const decoder = rnn(cell);
  const Vs = sourceVocab.size, V = targetVocab.size;
  const banned = [targetVocab.pad, targetVocab.bos, targetVocab.unk];

  const sources = (texts: readonly string[]): SourceBatch => {
    const where_ = "seq2seq.sources";
    if (!Array.isArray(texts) || texts.length === 0) throw new ArgumentError(where_, "texts", `must be a non-empty array of strings, got ${describe(texts)}`);
    const seqs = texts.map((t, i) => {
      if (typeof t !== "string") throw new ArgumentError(where_, `texts[${i}]`, `must be a string, got ${describe(t)}`);
      const ids = sourceVocab.encode(t);
      if (ids.length === 0) throw new ArgumentError(where_, `texts[${i}]`, `is ${JSON.stringify(t)}, which has no source tokens; the encoder needs at least one`);
      return ids;
    });
    const p = padSequences(seqs, { padId: sourceVocab.pad, dtype });
    return { ids: Int32Array.from(dataOf(p.ids)), mask: p.mask, Tx: p.T, B: p.B };
  };

  const batch = (pairs: readonly Seq2SeqPair[]): Seq2SeqBatch => {
    const where_ = "seq2seq.batch";
    if (!Array.isArray(pairs) || pairs.length === 0) throw new ArgumentError(where_, "pairs", `must be a non-empty array of { source, target }, got ${describe(pairs)}`);
    pairs.forEach((p, i) => {
      if (p === null || typeof p !== "object" || typeof p.source !== "string" || typeof p.target !== "string")
        throw new ArgumentError(where_, `pairs[${i}]`, `must be { source: string, target: string }, got ${describe(p)}`);
    });
    const source = sources(pairs.map((p) => p.source));
    const ys = pairs.map((p) => targetVocab.encode(p.target, { eos: true }));
    const t = padSequences(ys, { padId: targetVocab.pad, dtype });
    const B = t.B, Ty = t.T;
    const inputs = new Int32Array(Ty * B);
    ys.forEach((y, b) => {
      inputs[b] = targetVocab.bos;
      for (let s = 1; s < Ty; s++) inputs[s * B + b] = s < y.length ? y[s - 1]! : targetVocab.pad;
    });
    return { source, inputs, targets: t.ids, mask: t.mask, Ty, tokens: t.lengths.reduce((a, n) => a + n, 0) };
  };

  const embed = (E: Tensor, ids: Int32Array, shape: readonly number[]): Tensor => reshape(gather(E, ids, 0), [...shape, E.shape[1]!]);

  /** The encoder and bridge: the decoder's initial state for B rows, and the memory attention reads. */
  const encode = (params: Seq2SeqParams, src: SourceBatch): DecoderState => {
    const xs = embed(params.srcEmbed.E, src.ids, [src.Tx, src.B]);
    const [carry, hs] = encoder.apply(params.encoder, xs, { mask: src.mask });
    const a = tanh(dense.apply(params.bridge.a, concat([carry.fwd.a, carry.bwd.a], 1)));
    const c = dense.apply(params.bridge.c, concat([carry.fwd.c, carry.bwd.c], 1));
    if (attention === "none") return { carry: { a, c } };
    // [B, 1, T_x] mask of real source steps, from the time-major [T_x, B] one
    const m = dataOf(src.mask);
    const mm = allocData(dtype, src.B * src.Tx);
    for (let t = 0; t < src.Tx; t++) for (let b = 0; b < src.B; b++) mm[b * src.Tx + t] = m[t * src.B + b]!;
    return { carry: { a, c }, memory: transpose(hs, [1, 0, 2]), memoryMask: fromData(mm, [src.B, 1, src.Tx], dtype) };
  };

  /** Logits `[B, T, V]` from decoder outputs s `[B, T, H]` (reading the memory with attention). */
  const project = (params: Seq2SeqParams, s: Tensor, state: DecoderState): Tensor => {
    if (attention === "none") return dense.apply(params.out, s);
    const att = params.attention;
    if (att === undefined || state.memory === undefined || state.memoryMask === undefined)
      throw new ArgumentError("seq2seq", "params.attention", "is missing; an attention model's params come from model.init(key)");
    const scores = matmul(matmul(s, att.W), transpose(state.memory, [0, 2, 1])); // sᵀ W_α h: [B, T, T_x]
    const alpha = softmax(where(state.memoryMask, scores, -1e9), -1); // padded source steps get weight 0
    const context = matmul(alpha, state.memory); // [B, T, 2H_e]
    return dense.apply(params.out, tanh(dense.apply(att.combine, concat([s, context], 2))));
  };

  const logits = (params: Seq2SeqParams, b: Seq2SeqBatch): Tensor => {
    const state = encode(params, b.source);
    const xs = embed(params.tgtEmbed.E, b.inputs, [b.Ty, b.source.B]);
    // no scan mask: target padding only follows each end, so it cannot change earlier steps; the loss masks it
    const [, ss] = decoder.apply(params.decoder, xs, { carry0: state.carry });
    if (attention === "none") return dense.apply(params.out, ss);
    return transpose(project(params, transpose(ss, [1, 0, 2]), state), [1, 0, 2]);
  };

  const loss = (params: Seq2SeqParams, b: Seq2SeqBatch): Tensor => div(sequenceLoss(logits(params, b), b.targets, b.mask, { reduction: "sum" }), b.tokens);

  const logProbs = (params: Seq2SeqParams, pairs: readonly Seq2SeqPair[], options: { readonly batchSize?: number } = {}): number[] => {
    const bs = posInt("seq2seq.logProbs", "options.batchSize", options.batchSize ?? 256);
    const out: number[] = [];
    withoutTapes(() => {
      for (let s = 0; s < pairs.length; s += bs) {
        const b = batch(pairs.slice(s, s + bs));
        const lp = dataOf(logSoftmax(logits(params, b), -1));
        const y = dataOf(b.targets), m = dataOf(b.mask);
        const B = b.source.B;
        const sums = new Array<number>(B).fill(0);
        for (let t = 0; t < b.Ty; t++)
          for (let j = 0; j < B; j++) {
            const i = t * B + j;
            if (m[i] === 1) sums[j]! += lp[i * V + y[i]!]!;
          }
        out.push(...sums);
      }
    });
    return out;
  };

  const rowsOf = (x: Tensor, rows: Int32Array): Tensor => gather(x, rows, 0);

  const start = (params: Seq2SeqParams, src: SourceBatch) => {
    const state = encode(params, src);
    const search: SearchModel<DecoderState> = {
      V,
      bos: targetVocab.bos,
      eos: targetVocab.eos,
      banned,
      step: (st, prev) => {
        const x = gather(params.tgtEmbed.E, prev, 0);
        const [carry, s] = cell.step(params.decoder, st.carry, x);
        const R = prev.length;
        const z = attention === "none" ? dense.apply(params.out, s) : reshape(project(params, reshape(s, [R, 1, H]), st), [R, V]);
        return [{ ...st, carry }, dataOf(logSoftmax(z, -1))];
      },
      select: (st, rows) => ({
        carry: { a: rowsOf(st.carry.a, rows), c: rowsOf(st.carry.c, rows) },
        ...(st.memory !== undefined ? { memory: rowsOf(st.memory, rows) } : {}),
        ...(st.memoryMask !== undefined ? { memoryMask: rowsOf(st.memoryMask, rows) } : {}),
      }),
    };
    return { state, search };
  };

  const decodeWith = <R>(params: Seq2SeqParams, texts: readonly string[], options: DecodeOptions, run: (search: SearchModel<DecoderState>, state: DecoderState, B: number) => R[]): R[] => {
    const bs = posInt("seq2seq.decode", "options.batchSize", options.batchSize ?? 256);
    if (!Array.isArray(texts)) throw new ArgumentError("seq2seq.decode", "sources", `must be an array of strings, got ${describe(texts)}`);
    const out: R[] = [];
    withoutTapes(() => {
      for (let s = 0; s < texts.length; s += bs) {
        const src = sources(texts.slice(s, s + bs));
        const { state, search } = start(params, src);
        out.push(...run(search, state, src.B));
      }
    });
    return out;
  };
  const text = (h: Hypothesis): Decoded => ({ ...h, text: targetVocab.decode(h.ids as number[]) });
  const searchOpts = (o: DecodeOptions): SearchOptions => (o.maxLength !== undefined ? { maxLength: o.maxLength } : {});
  const beamOpts = (o: DecodeOptions): BeamSearchOptions => ({
    ...searchOpts(o), ...(o.beamWidth !== undefined ? { beamWidth: o.beamWidth } : {}), ...(o.lengthPenalty !== undefined ? { lengthPenalty: o.lengthPenalty } : {}),
  });

  const model: Seq2Seq = {
    sourceVocab,
    targetVocab,
    config: { hidden: H, encoderHidden: He, embedDim: De, attention, dtype },
    init: (key: Key): Seq2SeqParams => {
      const [k1, k2, k3, k4, k5, k6, k7, k8, k9] = splitKey(key, 9) as Key[];
      const base = {
        srcEmbed: { E: normalInit(0.1)(k1!, [Vs, De], dtype) },
        tgtEmbed: { E: normalInit(0.1)(k2!, [V, De], dtype) },
        encoder: encoder.init(k3!, De, He, dtype),
        bridge: { a: dense.init(k4!, 2 * He, H, dtype), c: dense.init(k5!, 2 * He, H, dtype) },
        decoder: decoder.init(k6!, De, H, dtype),
        out: dense.init(k7!, H, V, dtype),
      };
      return attention === "none" ? base : { ...base, attention: { W: glorotUniform(k8!, [H, 2 * He], dtype), combine: dense.init(k9!, H + 2 * He, H, dtype) } };
    },
    sources,
    batch,
    logits,
    loss,
    logProbs,
    start,
    greedy: (params, texts, options = {}) => decodeWith(params, texts, options, (search, state, B) => greedySearch(search, state, B, searchOpts(options)).map(text)),
    beam: (params, texts, options = {}) => decodeWith(params, texts, options, (search, state, B) => beamSearch(search, state, B, beamOpts(options)).map((hs) => text(hs[0]!))),
    nBest: (params, texts, options = {}) => decodeWith(params, texts, options, (search, state, B) => beamSearch(search, state, B, beamOpts(options)).map((hs) => hs.map(text))),
  };
  return Object.freeze(model);
};
