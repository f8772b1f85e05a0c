import { describe, expect, it } from "vitest";
import { randomKey } from "../../core/random.js";
import { adam } from "../../layers/optimizers.js";
import { createTagger, taggerBatches, taggerEvalFn, taggerVocabulary, type TaggedTokens, type TaggerBatch, type TaggerParams } from "../../models/tagger.js";
import { train } from "../../models/train.js";

const S = (text: string, tags: number[], cue?: string): TaggedTokens => ({ tokens: text.split(" "), tags, ...(cue ? { cue } : {}) });
const data: TaggedTokens[] = [
  S("Harry Potter and Hermione Granger invented a new spell", [1, 1, 0, 1, 1, 0, 0, 0, 0], "after"),
  S("Paris is a lovely city", [0, 0, 0, 0, 0], "after"),
  S("Luna said that the spell was old", [1, 0, 0, 0, 0, 0, 0], "after"),
  S("We had dinner with Luna", [0, 0, 0, 0, 1], "before"),
  S("We had dinner in Paris", [0, 0, 0, 0, 0], "before"),
  S("Rose petals are on sale", [0, 0, 0, 0, 0], "homograph"),
  S("Rose said that the city was lovely", [1, 0, 0, 0, 0, 0, 0], "homograph"),
];
const vocab = taggerVocabulary(data, { minCount: 1 });
const sig = (z: number) => 1 / (1 + Math.exp(-z));

describe("createTagger", () => {
  it("outputs one logit per token (T_y = T_x) and a scalar loss", () => {
    const m = createTagger(vocab, { cell: "gru", hidden: 4, embedDim: 3 });
    const p = m.init(randomKey(1));
    const b = m.batch(data.slice(0, 3));
    expect(b.ids.shape).toEqual([9, 3]);
    expect(b.caps.shape).toEqual([9, 3, 1]);
    expect(m.logits(p, b).shape).toEqual([9, 3]);
    expect(m.loss(p, b).shape).toEqual([]);
    expect(m.predict(p, data.map((s) => s.tokens)).map((t) => t.length)).toEqual(data.map((s) => s.tokens.length));
  });

  it("averages the token losses over the real tokens only (by hand from the logits)", () => {
    const m = createTagger(vocab, { cell: "rnn", hidden: 3, embedDim: 3, dtype: "float64" });
    const p = m.init(randomKey(2));
    const b = m.batch([data[1]!, data[0]!]); // lengths 5 and 9
    const z = m.logits(p, b).toArray() as number[][];
    let sum = 0;
    [data[1]!, data[0]!].forEach((s, col) =>
      s.tags.forEach((y, t) => {
        const q = sig(z[t]![col]!);
        sum -= y === 1 ? Math.log(q) : Math.log(1 - q);
      }),
    );
    expect(m.loss(p, b).item()).toBeCloseTo(sum / 14, 10);
  });

  it("gives each sentence in a padded batch the same probabilities as alone", () => {
    for (const bidirectional of [false, true]) {
      const m = createTagger(vocab, { cell: "lstm", hidden: 4, embedDim: 3, bidirectional, dtype: "float64" });
      const p = m.init(randomKey(3));
      const together = m.predictProbs(p, data.map((s) => s.tokens));
      data.forEach((s, i) => expect(together[i]).toEqual(m.predictProbs(p, [s.tokens])[0]!.map((v) => expect.closeTo(v, 12))));
    }
  });

  it("makes a unidirectional tagger's ŷ<t> blind to later words, while the BRNN's ŷ<t> depends on them", () => {
    const a = "Rose petals are on sale".split(" ");
    const b = "Rose said that the city".split(" ");
    for (const bidirectional of [false, true]) {
      const m = createTagger(vocab, { cell: "gru", hidden: 4, embedDim: 3, bidirectional, dtype: "float64" });
      const p = m.init(randomKey(4));
      const pa = m.predictProbs(p, [a])[0]!, pb = m.predictProbs(p, [b])[0]!; // one sentence per call: the same arithmetic up to t
      // "Rose" is word 1 of both sentences: only the words after it differ
      if (bidirectional) expect(Math.abs(pa[0]! - pb[0]!)).toBeGreaterThan(1e-6);
      else expect(pa[0]).toBe(pb[0]);
      expect(Math.abs(pa[4]! - pb[4]!)).toBeGreaterThan(1e-6);
    }
  });

  it("replaces tokens by <unk> at the word-dropout rate, the same way for the same key, and needs a key to do it", () => {
    const m = createTagger(vocab, { cell: "rnn", hidden: 2 });
    const many = Array.from({ length: 200 }, (_, i) => data[i % data.length]!);
    const real = m.batch(many).ids.toFlatArray();
    const drop = m.batch(many, { unkRate: 0.25, key: randomKey(5) }).ids.toFlatArray();
    expect(m.batch(many, { unkRate: 0.25, key: randomKey(5) }).ids.toFlatArray()).toEqual(drop);
    const mask = m.batch(many).mask.toFlatArray();
    let n = 0, unk = 0;
    real.forEach((id, i) => {
      if (mask[i] !== 1) return expect(drop[i]).toBe(vocab.pad);
      n++;
      if (drop[i] !== id) {
        expect(drop[i]).toBe(vocab.unk);
        unk++;
      }
    });
    // binomial(n ≈ 1200, 0.25): 5 standard deviations is about ±0.06
    expect(Math.abs(unk / n - 0.25)).toBeLessThan(0.06);
    expect(() => m.batch(many, { unkRate: 0.25 })).toThrow(/options.key/);
  });

  it("reads unknown words as <unk> and capitalisation as the case feature", () => {
    const m = createTagger(vocab, { cell: "rnn", hidden: 2 });
    expect(m.encode(["Zebedee", "paris", "Paris"])).toEqual([vocab.unk, vocab.idOf("paris"), vocab.idOf("paris")]);
    const b = m.batch([S("Zebedee met paris", [1, 0, 0])]);
    expect(b.caps.toFlatArray()).toEqual([1, 0, 0]);
  });

  it("learns the toy sentences: the loss falls, and evaluate reports entity F1 overall and per cue", async () => {
    const m = createTagger(vocab, { cell: "gru", hidden: 8, embedDim: 8, bidirectional: true });
    const init = m.init(randomKey(6));
    const first = m.loss(init, m.batch(data)).item();
    const r = await train({
      params: init, optimizer: adam(0.05), lossFn: (p: TaggerParams, b: TaggerBatch) => m.loss(p, b),
      batches: taggerBatches(m, data, 4), epochs: 12, key: randomKey(7), progress: false, evalFn: taggerEvalFn(m, data),
    });
    expect(m.loss(r.params, m.batch(data)).item()).toBeLessThan(first * 0.5);
    const e = m.evaluate(r.params, data);
    expect(Object.keys(e.byCue)).toEqual(["after", "before", "homograph"]);
    expect(e.entity.tp + e.entity.fn).toBe(5); // Harry Potter, Hermione Granger, Luna, Luna, Rose
    expect(e.entity.f1).toBeGreaterThan(0.5);
    expect(r.history.at(-1)!.metrics).toHaveProperty("entityF1");
  });

  it("rejects sentences whose tags do not match their tokens, and a bad config", () => {
    const m = createTagger(vocab, { cell: "rnn", hidden: 2 });
    expect(() => m.batch([S("Harry said", [1])])).toThrow(/sentences\[0\].tags.*one 0\/1 tag per token/);
    expect(() => m.batch([S("Harry said", [1, 2])])).toThrow(/tags\[1\].*0 or 1/);
    expect(() => createTagger(vocab, { cell: "rnn", hidden: 2, bidirectional: "yes" as never })).toThrow(/config.bidirectional/);
  });
});
