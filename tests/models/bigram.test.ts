import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Vocabulary } from "../../models/vocabulary.js";
import { fitBigram, tuneBigram } from "../../models/bigram.js";
import { namesData } from "../../models/names.js";

const vocab = Vocabulary.buildOrThrow(["ab", "a"], { level: "char" }); // <pad> <unk> <bos> <eos> a b: |Y| = 4 outcomes
const [A, B] = [vocab.idOf("a"), vocab.idOf("b")];

describe("add-k bigram", () => {
  it("matches counts worked by hand: transitions <bos>a ×2, ab, b<eos>, a<eos>", () => {
    const m = fitBigram(vocab, ["ab", "a"], { k: 1 });
    // P(a | <bos>) = (2 + 1) / (2 + 4); P(b | a) = (1 + 1) / (2 + 4); P(<eos> | b) = (1 + 1) / (1 + 4); P(a | b) = 1 / 5
    expect(m.prob(vocab.bos, A)).toBeCloseTo(3 / 6, 15);
    expect(m.prob(A, B)).toBeCloseTo(2 / 6, 15);
    expect(m.prob(B, vocab.eos)).toBeCloseTo(2 / 5, 15);
    expect(m.prob(B, A)).toBeCloseTo(1 / 5, 15);
    expect(m.prob(A, vocab.pad)).toBe(0);
    expect(m.prob(A, vocab.bos)).toBe(0);
    // log P("ab") = log P(a|<bos>) + log P(b|a) + log P(<eos>|b)
    expect(m.logProb("ab")).toBeCloseTo(Math.log(3 / 6) + Math.log(2 / 6) + Math.log(2 / 5), 12);
    // NLL per token over ["ab"]: 3 predicted tokens (a, b, <eos>)
    expect(m.nllPerToken(["ab"])).toBeCloseTo(-m.logProb("ab") / 3, 12);
  });

  it("gives every context a distribution over the outcomes (sums to 1), for any corpus and k", () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[ab]{0,5}$/), { maxLength: 8 }), fc.double({ min: 1e-3, max: 5, noNaN: true }), (texts, k) => {
        const m = fitBigram(vocab, texts, { k });
        for (let prev = 0; prev < vocab.size; prev++) {
          let s = 0;
          for (let next = 0; next < vocab.size; next++) s += m.prob(prev, next);
          expect(s).toBeCloseTo(1, 12);
        }
      }),
      { numRuns: 40, seed: 11 },
    );
  });

  it("maps unseen characters to <unk> and refuses k <= 0", () => {
    const m = fitBigram(vocab, ["ab"], { k: 0.5 });
    expect(m.logProb("az")).toBeCloseTo(Math.log(m.prob(vocab.bos, A)) + Math.log(m.prob(A, vocab.unk)) + Math.log(m.prob(vocab.unk, vocab.eos)), 12);
    expect(() => fitBigram(vocab, ["ab"], { k: 0 })).toThrow(/options.k/);
  });

  it("picks k by validation NLL and, on the names split, beats the uniform guess log |Y|", () => {
    const d = namesData();
    const grid = [0.01, 0.1, 1];
    const tuned = tuneBigram(d.vocab, d.names.train, d.names.valid, grid);
    for (const k of grid) expect(tuned.nllPerToken(d.names.valid)).toBeLessThanOrEqual(fitBigram(d.vocab, d.names.train, { k }).nllPerToken(d.names.valid));
    const test = tuned.nllPerToken(d.names.test);
    expect(test).toBeLessThan(Math.log(d.vocab.size - 2) - 0.5);
    expect(test).toBeGreaterThan(1.5);
  });
});
