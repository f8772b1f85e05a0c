import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { editDistance, errorRates, scorePrediction } from "../../models/editDistance.js";
import { ArgumentError } from "../../core/errors.js";

/** The textbook recursion, memoised over (i, j) prefixes: an independent reference for small inputs. */
const reference = (a: readonly string[], b: readonly string[]): number => {
  const memo = new Map<string, number>();
  const d = (i: number, j: number): number => {
    if (i === 0) return j;
    if (j === 0) return i;
    const k = `${i},${j}`;
    const hit = memo.get(k);
    if (hit !== undefined) return hit;
    const v = Math.min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
    memo.set(k, v);
    return v;
  };
  return d(a.length, b.length);
};

const phonemes = fc.array(fc.constantFrom("AA", "AE", "AH", "B", "K", "T"), { maxLength: 9 });

describe("editDistance", () => {
  it("matches hand-computed distances between words", () => {
    expect(editDistance("kitten", "sitting")).toBe(3); // k→s, e→i, +g
    expect(editDistance("flaw", "lawn")).toBe(2); // -f, +n
    expect(editDistance("intention", "execution")).toBe(5);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("abc", "")).toBe(3);
    expect(editDistance("", "")).toBe(0);
    expect(editDistance("same", "same")).toBe(0);
  });

  it("counts whole phonemes, not characters, when given arrays", () => {
    expect(editDistance(["K", "AE", "T"], ["K", "AA", "T"])).toBe(1); // one substitution, though AE/AA share a letter
    expect(editDistance(["AH", "B"], ["B", "AH"])).toBe(2); // a swap is two edits
    expect(editDistance(["R", "EH", "D"], ["R", "IY", "D"])).toBe(1);
    expect(editDistance(["AH", "B", "AE", "SH", "T"], ["AH", "B", "AE", "SH"])).toBe(1);
  });

  it("agrees with the textbook recursion on random phoneme strings", () => {
    fc.assert(fc.property(phonemes, phonemes, (a, b) => editDistance(a, b) === reference(a, b)), { numRuns: 100, seed: 7 });
  });

  it("is a metric bounded by the lengths", () => {
    fc.assert(
      fc.property(phonemes, phonemes, phonemes, (a, b, c) => {
        const ab = editDistance(a, b);
        expect(ab).toBe(editDistance(b, a));
        expect(ab === 0).toBe(a.join(" ") === b.join(" "));
        expect(ab).toBeLessThanOrEqual(Math.max(a.length, b.length));
        expect(ab).toBeGreaterThanOrEqual(Math.abs(a.length - b.length));
        expect(editDistance(a, c)).toBeLessThanOrEqual(ab + editDistance(b, c));
      }),
      { numRuns: 60, seed: 11 },
    );
  });

  it("names the argument that is not a sequence", () => {
    expect(() => editDistance(3 as unknown as string, "a")).toThrow(ArgumentError);
    expect(() => editDistance("a", null as unknown as string)).toThrow(/editDistance.*b/);
  });
});

describe("scorePrediction", () => {
  it("scores against the closest of several references", () => {
    // "read": R IY D and R EH D
    expect(scorePrediction(["R", "EH", "D"], [["R", "IY", "D"], ["R", "EH", "D"]])).toEqual({ errors: 0, referenceLength: 3, correct: true });
    expect(scorePrediction(["R", "AH", "D"], [["R", "IY", "D"], ["R", "EH", "D"]])).toEqual({ errors: 1, referenceLength: 3, correct: false });
    // equal distances: the earlier (primary) reference is the one counted
    expect(scorePrediction(["A", "B"], [["A", "B", "C"], ["A"]])).toEqual({ errors: 1, referenceLength: 3, correct: false });
    expect(scorePrediction(["A", "B"], [["A"], ["A", "B", "C"]])).toEqual({ errors: 1, referenceLength: 1, correct: false });
  });

  it("refuses an empty list of references", () => {
    expect(() => scorePrediction(["A"], [])).toThrow(/scorePrediction.*references/);
  });
});

describe("errorRates", () => {
  it("divides phoneme errors by reference phonemes and counts words with any error", () => {
    const r = errorRates(
      [["K", "AE", "T"], ["D", "AO", "G"], ["AH"]],
      [["K", "AE", "T"], ["D", "AA", "G", "Z"], ["EY"]],
    );
    // 0 + (AO→AA, +Z) 2 + (AH→EY) 1 = 3 errors over 3 + 4 + 1 = 8 reference phonemes; 2 of 3 words wrong
    expect(r.errors).toBe(3);
    expect(r.phonemes).toBe(8);
    expect(r.per).toBeCloseTo(3 / 8, 12);
    expect(r.wer).toBeCloseTo(2 / 3, 12);
    expect(r.wordErrors).toBe(2);
    expect(r.words).toBe(3);
  });

  it("can exceed 100% PER when predictions are much longer than references", () => {
    expect(errorRates([["A", "B", "C", "D"]], [["X"]]).per).toBe(4);
  });

  it("accepts a list of acceptable pronunciations per word", () => {
    const r = errorRates([["R", "EH", "D"]], [[["R", "IY", "D"], ["R", "EH", "D"]]]);
    expect(r.per).toBe(0);
    expect(r.wer).toBe(0);
  });

  it("refuses mismatched or empty inputs with the argument named", () => {
    expect(() => errorRates([["A"]], [])).toThrow(/errorRates.*one entry per prediction/);
    expect(() => errorRates([], [])).toThrow(/errorRates.*predictions/);
    expect(() => errorRates([["A"]], [[]])).toThrow(/references\[0\].*empty/);
  });
});
