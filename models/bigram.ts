/**
 * The count-based baseline every neural LM must beat: a bigram model with add-k smoothing,
 *
 *   P(y<t> = j | y<t-1> = i) = (C[i, j] + k) / (Σ_j' C[i, j'] + k·|Y|)
 *
 * where C counts transitions in the training texts, the context of the first token is `<bos>`, every text
 * ends with a transition to `<eos>`, and Y (the outcomes) are every vocabulary entry except `<pad>` and
 * `<bos>` (never targets). Its NLL per token counts the `<eos>` prediction, exactly as the RNN LM's does.
 */
import { ArgumentError } from "../core/errors.js";
import { describe } from "../core/shape.js";
import { Vocabulary } from "./vocabulary.js";

export interface BigramModel {
  readonly vocab: Vocabulary;
  /** The add-k constant. */
  readonly k: number;
  /** `logProb(text) = Σ_t log P(y<t> | y<t-1>)` with `<bos>` before and `<eos>` after, in nats. */
  logProb(text: string): number;
  /** `-Σ log P / Σ T_y` over texts: NLL per predicted token (per character at char level), `<eos>` included. */
  nllPerToken(texts: readonly string[]): number;
  /** `P(next | prev)` for one transition (ids). */
  prob(prev: number, next: number): number;
}

/** `fitBigram(vocab, texts, { k = 1 })`: counts transitions in `texts` and smooths them by add-k. */
export const fitBigram = (vocab: Vocabulary, texts: readonly string[], options: { readonly k?: number } = {}): BigramModel => {
  const op = "fitBigram";
  if (!(vocab instanceof Vocabulary)) throw new ArgumentError(op, "vocab", `must be a Vocabulary, got ${describe(vocab)}`);
  if (!Array.isArray(texts)) throw new ArgumentError(op, "texts", `must be an array of strings, got ${describe(texts)}`);
  const k = options.k ?? 1;
  if (typeof k !== "number" || !(k > 0) || !Number.isFinite(k)) throw new ArgumentError(op, "options.k", `must be a positive number (add-k smoothing), got ${describe(k)}`);
  const V = vocab.size;
  const outcomes = V - 2; // every id but <pad> and <bos>
  const counts = new Float64Array(V * V);
  const rowTotals = new Float64Array(V);
  texts.forEach((t, i) => {
    if (typeof t !== "string") throw new ArgumentError(op, `texts[${i}]`, `must be a string, got ${describe(t)}`);
    let prev = vocab.bos;
    for (const id of [...vocab.encode(t), vocab.eos]) {
      counts[prev * V + id]! += 1;
      rowTotals[prev]! += 1;
      prev = id;
    }
  });
  const logTable = new Float64Array(V * V);
  for (let i = 0; i < V; i++)
    for (let j = 0; j < V; j++)
      logTable[i * V + j] = j === vocab.pad || j === vocab.bos ? -Infinity : Math.log((counts[i * V + j]! + k) / (rowTotals[i]! + k * outcomes));
  const logProb = (text: string): number => {
    let prev = vocab.bos, lp = 0;
    for (const id of [...vocab.encode(text), vocab.eos]) {
      lp += logTable[prev * V + id]!;
      prev = id;
    }
    return lp;
  };
  return Object.freeze({
    vocab,
    k,
    logProb,
    nllPerToken: (ts: readonly string[]): number => {
      if (!Array.isArray(ts) || ts.length === 0) throw new ArgumentError("bigram.nllPerToken", "texts", `must be a non-empty array of strings, got ${describe(ts)}`);
      let nats = 0, tokens = 0;
      for (const t of ts) {
        nats += logProb(t);
        tokens += vocab.tokenize(t).length + 1;
      }
      return -nats / tokens;
    },
    prob: (prev: number, next: number): number => Math.exp(logTable[prev * V + next]!),
  });
};

/** `tuneBigram(vocab, train, valid)`: the add-k bigram whose k (from a log grid 0.001…3) has the lowest validation NLL. */
export const tuneBigram = (vocab: Vocabulary, train: readonly string[], valid: readonly string[], grid: readonly number[] = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3]): BigramModel => {
  let best: BigramModel | undefined, bestNll = Infinity;
  for (const k of grid) {
    const m = fitBigram(vocab, train, { k });
    const nll = m.nllPerToken(valid);
    if (nll < bestNll) [best, bestNll] = [m, nll];
  }
  if (best === undefined) throw new ArgumentError("tuneBigram", "grid", `must hold at least one positive k, got ${describe(grid)}`);
  return best;
};
