/**
 * Evaluation metrics for the classifier and the tagger, on plain numbers (no tensors, no tape).
 *
 * Binary classification counts the confusion matrix (positive = label 1: spam, or "is a name"):
 *   accuracy = (TP + TN) / N,   precision = TP / (TP + FP),   recall = TP / (TP + FN),   F1 = 2PR / (P + R).
 * A ratio whose denominator is 0 is reported as 0 (scikit-learn's and seqeval's `zero_division=0`).
 *
 * Entity-level scores (as CoNLL's conlleval and seqeval): an entity is a maximal run of consecutive tokens with
 * the same non-zero tag ("Harry Potter" tagged 1 1 is one entity); a predicted entity counts as correct only
 * if its start, end and tag all match a true entity exactly. Partly found names score nothing.
 */
import { ArgumentError } from "../core/errors.js";
import { describe } from "../core/shape.js";

/** The binary confusion matrix: true/false positives and negatives. */
export interface Confusion {
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

/** Accuracy, precision, recall and F1 of a binary classifier, with the counts they come from. */
export interface BinaryScores extends Confusion {
  readonly n: number;
  readonly accuracy: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

/** Entity-level precision, recall and F1, with the counts they come from. */
export interface EntityScores {
  /** Predicted entities that match a true entity exactly. */
  readonly tp: number;
  /** Predicted entities that match none. */
  readonly fp: number;
  /** True entities that no prediction matches. */
  readonly fn: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

/** One entity: tokens `start … end - 1` carry tag `tag`. */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly tag: number;
}

/** `a / b`, or 0 when b = 0. */
const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

/** `F1 = 2PR / (P + R)`, 0 when P + R = 0. */
const f1Of = (p: number, r: number): number => ratio(2 * p * r, p + r);

const expectLabels = (op: string, name: string, v: unknown): readonly number[] => {
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new ArgumentError(op, name, `must be an array of 0/1 labels, got ${describe(v)}`);
  const a = v as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++)
    if (a[i] !== 0 && a[i] !== 1) throw new ArgumentError(op, `${name}[${i}]`, `must be 0 or 1, got ${describe(a[i])}`);
  return Array.from(a as ArrayLike<number>);
};

/** `confusion(yTrue, yPred)`: TP = #{y = 1, ŷ = 1}, FP = #{y = 0, ŷ = 1}, TN = #{y = 0, ŷ = 0}, FN = #{y = 1, ŷ = 0}. */
export const confusion = (yTrue: readonly number[] | ArrayLike<number>, yPred: readonly number[] | ArrayLike<number>): Confusion => {
  const op = "confusion";
  const t = expectLabels(op, "yTrue", yTrue), p = expectLabels(op, "yPred", yPred);
  if (t.length !== p.length) throw new ArgumentError(op, "yPred", `has ${p.length} labels but yTrue has ${t.length}; they must pair up`);
  let tp = 0, fp = 0, tn = 0, fn = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === 1) p[i] === 1 ? tp++ : fn++;
    else p[i] === 1 ? fp++ : tn++;
  }
  return { tp, fp, tn, fn };
};

/** `scoresOf({tp, fp, tn, fn})`: accuracy (TP+TN)/N, precision TP/(TP+FP), recall TP/(TP+FN), F1 = 2PR/(P+R) (0 when undefined). */
export const scoresOf = (c: Confusion): BinaryScores => {
  const n = c.tp + c.fp + c.tn + c.fn;
  const precision = ratio(c.tp, c.tp + c.fp), recall = ratio(c.tp, c.tp + c.fn);
  return { ...c, n, accuracy: ratio(c.tp + c.tn, n), precision, recall, f1: f1Of(precision, recall) };
};

/** `binaryScores(yTrue, yPred)`: accuracy, precision, recall and F1 with positive class 1. */
export const binaryScores = (yTrue: readonly number[] | ArrayLike<number>, yPred: readonly number[] | ArrayLike<number>): BinaryScores =>
  scoresOf(confusion(yTrue, yPred));

/** `accuracy(yTrue, yPred) = #{y = ŷ} / N` for labels of any integer classes (0 for no examples). */
export const accuracy = (yTrue: readonly number[], yPred: readonly number[]): number => {
  if (!Array.isArray(yTrue) || !Array.isArray(yPred)) throw new ArgumentError("accuracy", "yTrue/yPred", `must be arrays of labels, got ${describe(yTrue)} and ${describe(yPred)}`);
  if (yTrue.length !== yPred.length) throw new ArgumentError("accuracy", "yPred", `has ${yPred.length} labels but yTrue has ${yTrue.length}; they must pair up`);
  let same = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) same++;
  return ratio(same, yTrue.length);
};

/** `precision(yTrue, yPred) = TP / (TP + FP)` (0 when nothing is predicted positive). */
export const precision = (yTrue: readonly number[], yPred: readonly number[]): number => binaryScores(yTrue, yPred).precision;

/** `recall(yTrue, yPred) = TP / (TP + FN)` (0 when there is no positive). */
export const recall = (yTrue: readonly number[], yPred: readonly number[]): number => binaryScores(yTrue, yPred).recall;

/** `f1Score(yTrue, yPred) = 2PR / (P + R)`. */
export const f1Score = (yTrue: readonly number[], yPred: readonly number[]): number => binaryScores(yTrue, yPred).f1;

const expectTags = (op: string, name: string, v: unknown): readonly number[] => {
  if (!Array.isArray(v)) throw new ArgumentError(op, name, `must be an array of integer tags (0 = outside any entity), got ${describe(v)}`);
  v.forEach((x, i) => {
    if (typeof x !== "number" || !Number.isInteger(x) || x < 0) throw new ArgumentError(op, `${name}[${i}]`, `must be a non-negative integer tag, got ${describe(x)}`);
  });
  return v as number[];
};

/** `entitySpans(tags)`: the maximal runs of equal non-zero tags, e.g. [1,1,0,1] → [{0,2,1}, {3,4,1}]. */
export const entitySpans = (tags: readonly number[]): Span[] => {
  expectTags("entitySpans", "tags", tags);
  const out: Span[] = [];
  let start = -1;
  for (let i = 0; i <= tags.length; i++) {
    const t = i < tags.length ? tags[i]! : 0;
    if (start >= 0 && t !== tags[start]) {
      out.push({ start, end: i, tag: tags[start]! });
      start = -1;
    }
    if (start < 0 && t !== 0) start = i;
  }
  return out;
};

/** `entityCounts(trueTags, predTags)` over one sentence: TP = |spans(y) ∩ spans(ŷ)|, FP = |spans(ŷ)| − TP, FN = |spans(y)| − TP. */
export const entityCounts = (trueTags: readonly number[], predTags: readonly number[]): { tp: number; fp: number; fn: number } => {
  const op = "entityCounts";
  expectTags(op, "trueTags", trueTags);
  expectTags(op, "predTags", predTags);
  if (trueTags.length !== predTags.length)
    throw new ArgumentError(op, "predTags", `has ${predTags.length} tags but trueTags has ${trueTags.length}; a tagger outputs one tag per token (T_y = T_x)`);
  const key = (s: Span) => `${s.start}:${s.end}:${s.tag}`;
  const truth = new Set(entitySpans(trueTags).map(key));
  const pred = entitySpans(predTags).map(key);
  const tp = pred.filter((k) => truth.has(k)).length;
  return { tp, fp: pred.length - tp, fn: truth.size - tp };
};

/**
 * `entityScores(trueSeqs, predSeqs)`: entity-level P = TP / (TP + FP), R = TP / (TP + FN), F1 = 2PR / (P + R),
 * counts summed over all sentences (micro-averaged, as conlleval).
 */
export const entityScores = (trueSeqs: readonly (readonly number[])[], predSeqs: readonly (readonly number[])[]): EntityScores => {
  const op = "entityScores";
  if (!Array.isArray(trueSeqs) || !Array.isArray(predSeqs)) throw new ArgumentError(op, "trueSeqs/predSeqs", `must be arrays of tag sequences, got ${describe(trueSeqs)} and ${describe(predSeqs)}`);
  if (trueSeqs.length !== predSeqs.length) throw new ArgumentError(op, "predSeqs", `has ${predSeqs.length} sentences but trueSeqs has ${trueSeqs.length}`);
  let tp = 0, fp = 0, fn = 0;
  trueSeqs.forEach((t, i) => {
    const c = entityCounts(t, predSeqs[i]!);
    tp += c.tp;
    fp += c.fp;
    fn += c.fn;
  });
  const p = ratio(tp, tp + fp), r = ratio(tp, tp + fn);
  return { tp, fp, fn, precision: p, recall: r, f1: f1Of(p, r) };
};
