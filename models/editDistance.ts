/**
 * Edit distances and the error rates of grapheme-to-phoneme conversion.
 *
 * `editDistance(a, b)` is the edit distance: the fewest insertions, deletions and substitutions (each
 * costing 1) that turn `a` into `b`, by the dynamic programme
 *
 *   D[0][j] = j,   D[i][0] = i,   D[i][j] = min(D[i-1][j] + 1, D[i][j-1] + 1, D[i-1][j-1] + [a_i ≠ b_j]).
 *
 * The phoneme error rate of a set of predictions is Σ_w dist(pred_w, ref_w) / Σ_w |ref_w| (the errors over the
 * reference length, as in speech recognition, so it can exceed 1), and the word error rate is the fraction of
 * words whose predicted pronunciation differs from the reference in any phoneme.
 */
import { ArgumentError } from "../core/errors.js";
import { describe } from "../core/shape.js";

/** A sequence to compare: a string (compared by UTF-16 code unit) or an array of tokens compared with `===`. */
export type Seq<T = string> = string | readonly T[];

const expectSeq = (op: string, name: string, s: unknown): void => {
  if (typeof s !== "string" && !Array.isArray(s)) throw new ArgumentError(op, name, `must be a string or an array of tokens, got ${describe(s)}`);
};

/** `editDistance(a, b) = D[|a|][|b|]`, the edit distance with unit-cost insertions, deletions and substitutions, in O(|a|·|b|) time and O(|b|) memory. */
export const editDistance = <T>(a: Seq<T>, b: Seq<T>): number => {
  expectSeq("editDistance", "a", a);
  expectSeq("editDistance", "b", b);
  const n = a.length, m = b.length;
  if (n === 0) return m;
  if (m === 0) return n;
  let prev = new Int32Array(m + 1), cur = new Int32Array(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    const ai = a[i - 1];
    for (let j = 1; j <= m; j++) {
      const sub = prev[j - 1]! + (ai === b[j - 1] ? 0 : 1);
      const del = prev[j]! + 1, ins = cur[j - 1]! + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : del < ins ? del : ins;
    }
    [prev, cur] = [cur, prev];
  }
  return prev[m]!;
};

/** One prediction scored against its reference(s). */
export interface ScoredPrediction {
  /** Edit distance to the closest reference. */
  readonly errors: number;
  /** Length of that reference. */
  readonly referenceLength: number;
  /** True when the prediction equals a reference exactly. */
  readonly correct: boolean;
}

/**
 * `scorePrediction(pred, refs) = min_r dist(pred, r)` over a non-empty list of acceptable references (ties: the
 * earlier reference, so the primary one wins), with that reference's length; `correct` when the distance is 0.
 */
export const scorePrediction = <T>(prediction: Seq<T>, references: readonly Seq<T>[]): ScoredPrediction => {
  const op = "scorePrediction";
  expectSeq(op, "prediction", prediction);
  if (!Array.isArray(references) || references.length === 0)
    throw new ArgumentError(op, "references", `must be a non-empty list of reference sequences, got ${describe(references)}`);
  let best: ScoredPrediction | undefined;
  references.forEach((r, i) => {
    expectSeq(op, `references[${i}]`, r);
    const e = editDistance(prediction, r);
    if (best === undefined || e < best.errors) best = { errors: e, referenceLength: r.length, correct: e === 0 };
  });
  return best!;
};

/** Phoneme and word error rates over a set of words. */
export interface ErrorRates {
  /** Phoneme error rate: Σ errors / Σ reference lengths. */
  readonly per: number;
  /** Word error rate: the fraction of words with at least one phoneme error. */
  readonly wer: number;
  /** Σ edit distances. */
  readonly errors: number;
  /** Σ reference lengths (phonemes). */
  readonly phonemes: number;
  /** Words scored. */
  readonly words: number;
  /** Words predicted exactly. */
  readonly wordErrors: number;
}

/**
 * `errorRates(preds, refs)`: PER = Σ_w dist(pred_w, ref_w) / Σ_w |ref_w|, WER = #{w : dist > 0} / #words.
 * `refs[w]` is one reference (an array of phonemes) or a list of acceptable references (the closest counts).
 */
export const errorRates = (predictions: readonly (readonly string[])[], references: readonly (readonly string[] | readonly (readonly string[])[])[]): ErrorRates => {
  const op = "errorRates";
  if (!Array.isArray(predictions) || !Array.isArray(references))
    throw new ArgumentError(op, "predictions", `and references must be arrays of phoneme arrays, got ${describe(predictions)} and ${describe(references)}`);
  if (predictions.length !== references.length)
    throw new ArgumentError(op, "references", `must have one entry per prediction: ${predictions.length} predictions, ${references.length} references`);
  if (predictions.length === 0) throw new ArgumentError(op, "predictions", "is empty; error rates need at least one word");
  let errors = 0, phonemes = 0, wordErrors = 0;
  predictions.forEach((p, w) => {
    if (!Array.isArray(p)) throw new ArgumentError(op, `predictions[${w}]`, `must be an array of phonemes, got ${describe(p)}`);
    const r = references[w]!;
    if (!Array.isArray(r)) throw new ArgumentError(op, `references[${w}]`, `must be an array of phonemes (or of phoneme arrays), got ${describe(r)}`);
    const refs = r.length > 0 && Array.isArray(r[0]) ? (r as readonly (readonly string[])[]) : [r as readonly string[]];
    const s = scorePrediction<string>(p, refs);
    if (s.referenceLength === 0) throw new ArgumentError(op, `references[${w}]`, "is empty; a reference pronunciation has at least one phoneme");
    errors += s.errors;
    phonemes += s.referenceLength;
    if (!s.correct) wordErrors++;
  });
  return { per: errors / phonemes, wer: wordErrors / predictions.length, errors, phonemes, words: predictions.length, wordErrors };
};
