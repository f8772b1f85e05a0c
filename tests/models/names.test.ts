import { describe, expect, it } from "vitest";
import { randomKey } from "../../core/random.js";
import { keySplit } from "../../models/data.js";
import { fitLanguageModel } from "../../models/languageModel.js";
import { asExamples, createNameGenerator, labelAccuracy, namesData, sampleNames } from "../../models/names.js";

const d = namesData();

describe("namesData", () => {
  it("splits names 80/10/10 with no name in two parts, and builds the vocabulary from the training names", () => {
    const { train, valid, test } = d.names;
    const all = [...train, ...valid, ...test];
    expect(new Set(all).size).toBe(all.length);
    expect(Math.abs(train.length / all.length - 0.8)).toBeLessThan(0.02);
    expect(d.vocab.level).toBe("char");
    expect(d.vocab.corpusTokens.slice().sort()).toEqual([...new Set(train.join(""))].sort());
    expect(d.vocab.corpusTokens).toHaveLength(27); // a-z and '-'
    // the labelled split puts a name listed under both labels in one part, twice
    expect(new Set(d.labelled.test.map((n) => n.text))).toEqual(new Set(test));
    expect(d.labelled.train.length + d.labelled.valid.length + d.labelled.test.length).toBeGreaterThan(all.length);
  });
});

describe("conditional name generator", () => {
  const m = createNameGenerator(d.vocab, { cell: "gru", hidden: 32 });

  it("feeds the label as x<1>: input row V + label index, one-hot over V + 2 inputs", () => {
    const p = m.init(randomKey(0));
    const [, rows] = m.start(p, 2, ["female", "male"]);
    expect(Array.from(rows)).toEqual([d.vocab.size, d.vocab.size + 1]);
    expect(m.inputSize).toBe(d.vocab.size + 2);
    const b = m.batch([{ text: "ann", label: "male" }]);
    expect(Array.from(b.xs!.toFlatArray().slice(0, m.inputSize)).indexOf(1)).toBe(d.vocab.size + 1);
    expect(m.logProb(p, "ann", { label: "female" }).nats).not.toBe(m.logProb(p, "ann", { label: "male" }).nats);
    expect(() => sampleNames(m, p, randomKey(1), "other" as "male", 2)).toThrow(/label/);
  });

  it("learns to use the label in a short run: loss falls and the label is recovered better than by always guessing the larger list", async () => {
    const sub = keySplit(d.labelled.train, randomKey(0), { fractions: [0.25, 0, 0.75] }).train;
    const r = await fitLanguageModel(m, { train: asExamples(sub), epochs: 2, key: randomKey(1), lr: 0.02, batchSize: 32, kind: "names" });
    expect(r.history[1]!.trainLoss).toBeLessThan(r.history[0]!.trainLoss);
    const test = d.labelled.test;
    const majority = Math.max(...(["female", "male"] as const).map((l) => test.filter((n) => n.label === l).length)) / test.length;
    expect(labelAccuracy(m, r.params, test)).toBeGreaterThan(majority + 0.03);
    for (const label of ["female", "male"] as const) {
      const names = sampleNames(m, r.params, randomKey(2), label, 8);
      expect(names).toHaveLength(8);
      for (const n of names) expect(n).toMatch(/^[a-z-]{0,20}$/);
    }
  });
});
