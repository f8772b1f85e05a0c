import { describe, expect, it } from "vitest";
import { ArgumentError } from "../../core/errors.js";
import { accuracy, binaryScores, confusion, entityCounts, entityScores, entitySpans, f1Score, precision, recall, scoresOf } from "../../models/metrics.js";

describe("binary metrics", () => {
  // y  = 1 1 1 0 0 0 0 1
  // ŷ  = 1 0 1 1 0 0 1 1   → TP = 3 (0, 2, 7), FN = 1 (1), FP = 2 (3, 6), TN = 2 (4, 5)
  const y = [1, 1, 1, 0, 0, 0, 0, 1];
  const p = [1, 0, 1, 1, 0, 0, 1, 1];

  it("counts the confusion matrix by hand", () => {
    expect(confusion(y, p)).toEqual({ tp: 3, fp: 2, tn: 2, fn: 1 });
  });

  it("gives accuracy 5/8, precision 3/5, recall 3/4 and F1 2/3", () => {
    const s = binaryScores(y, p);
    expect(s.n).toBe(8);
    expect(s.accuracy).toBeCloseTo(5 / 8, 12);
    expect(s.precision).toBeCloseTo(3 / 5, 12);
    expect(s.recall).toBeCloseTo(3 / 4, 12);
    // F1 = 2 · 0.6 · 0.75 / 1.35 = 0.9 / 1.35 = 2/3
    expect(s.f1).toBeCloseTo(2 / 3, 12);
    expect(accuracy(y, p)).toBeCloseTo(5 / 8, 12);
    expect(precision(y, p)).toBeCloseTo(0.6, 12);
    expect(recall(y, p)).toBeCloseTo(0.75, 12);
    expect(f1Score(y, p)).toBeCloseTo(2 / 3, 12);
  });

  it("reports 0 for a ratio whose denominator is 0 (nothing predicted positive, no positives)", () => {
    const s = binaryScores([0, 0, 1], [0, 0, 0]);
    expect(s.precision).toBe(0);
    expect(s.recall).toBe(0);
    expect(s.f1).toBe(0);
    expect(s.accuracy).toBeCloseTo(2 / 3, 12);
    expect(scoresOf({ tp: 0, fp: 0, tn: 0, fn: 0 }).accuracy).toBe(0);
  });

  it("counts multi-class accuracy as the fraction of equal labels", () => {
    expect(accuracy([0, 1, 2, 2], [0, 2, 2, 1])).toBeCloseTo(0.5, 12);
  });

  it("refuses labels that are not 0/1 and arrays that do not pair up, naming the argument", () => {
    expect(() => confusion([0, 2], [0, 1])).toThrow(ArgumentError);
    expect(() => confusion([0, 2], [0, 1])).toThrow(/yTrue\[1\].*0 or 1/);
    expect(() => binaryScores([0, 1], [0])).toThrow(/yPred.*1 labels but yTrue has 2/);
  });
});

describe("entity-level metrics", () => {
  it("finds entities as maximal runs of equal non-zero tags", () => {
    expect(entitySpans([1, 1, 0, 1])).toEqual([
      { start: 0, end: 2, tag: 1 },
      { start: 3, end: 4, tag: 1 },
    ]);
    expect(entitySpans([0, 0])).toEqual([]);
    expect(entitySpans([2, 2, 1, 0, 1])).toEqual([
      { start: 0, end: 2, tag: 2 },
      { start: 2, end: 3, tag: 1 },
      { start: 4, end: 5, tag: 1 },
    ]);
  });

  it("scores the course's sentence: a half-found name is a false positive and a miss", () => {
    // Harry Potter and Hermione Granger invented a new spell
    const truth = [1, 1, 0, 1, 1, 0, 0, 0, 0];
    const pred = [1, 1, 0, 1, 0, 0, 0, 0, 0]; // "Hermione" alone: wrong boundaries
    expect(entityCounts(truth, pred)).toEqual({ tp: 1, fp: 1, fn: 1 });
  });

  it("micro-averages over sentences: P = 2/4, R = 2/3, F1 = 4/7", () => {
    const truth = [
      [1, 1, 0, 1, 1, 0], // two entities
      [0, 1, 0, 0], // one entity
      [0, 0, 0], // none
    ];
    const pred = [
      [1, 1, 0, 1, 0, 0], // Harry Potter right (TP), Hermione cut short (FP + FN)
      [0, 1, 0, 0], // right (TP)
      [1, 0, 0], // spurious (FP)
    ];
    const s = entityScores(truth, pred);
    expect([s.tp, s.fp, s.fn]).toEqual([2, 2, 1]);
    expect(s.precision).toBeCloseTo(2 / 4, 12);
    expect(s.recall).toBeCloseTo(2 / 3, 12);
    // F1 = 2 · (1/2)(2/3) / (1/2 + 2/3) = (2/3) / (7/6) = 4/7
    expect(s.f1).toBeCloseTo(4 / 7, 12);
  });

  it("gives F1 1 for a perfect tagging and 0 when nothing matches", () => {
    expect(entityScores([[0, 1, 1]], [[0, 1, 1]]).f1).toBe(1);
    expect(entityScores([[0, 1, 1]], [[1, 0, 0]]).f1).toBe(0);
  });

  it("refuses tag sequences of different lengths (a tagger has T_y = T_x)", () => {
    expect(() => entityCounts([0, 1], [0, 1, 0])).toThrow(/one tag per token/);
    expect(() => entitySpans([0, -1])).toThrow(/tags\[1\]/);
  });
});
