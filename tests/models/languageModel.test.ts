import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { normal, randomKey } from "../../core/random.js";
import { tensor } from "../../core/tensor.js";
import { div, softmax } from "../../autograd/index.js";
import { sequenceLoss } from "../../layers/losses.js";
import { mobyDickSentences } from "../../models/data.js";
import { Vocabulary } from "../../models/vocabulary.js";
import {
  bindLanguageModel, createLanguageModel, fitLanguageModel, languageModelFromMetadata, lmMetadata, loadLanguageModel,
  type CellKind, type LanguageModel, type LanguageModelConfig, type LanguageModelParams,
} from "../../models/languageModel.js";

const tiny = Vocabulary.buildOrThrow(["ab", "ba"], { level: "char" }); // <pad> <unk> <bos> <eos> a b
const small = Vocabulary.buildOrThrow(["abcab", "cabbage", "bead"], { level: "char" });
const CELLS: CellKind[] = ["rnn", "gru", "lstm"];

/** Σ_t log softmax(logits<t>)[y<t>] read off one step at a time from `start`/`step`, in float64 JS arithmetic. */
const logProbByStepping = (m: LanguageModel, p: LanguageModelParams, ids: readonly number[], label?: string): number => {
  let [state, rows] = m.start(p, 1, [label]);
  let total = 0;
  for (const id of ids) {
    const [next, z] = m.step(p, state, rows);
    const probs = softmax(z, -1).toFlatArray();
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    total += Math.log(probs[id]!);
    state = next;
    rows = new Int32Array([id]);
  }
  return total;
};

/** Greedy decoding written independently of `sample`: argmax of each step's logits until <eos>. */
const greedyByStepping = (m: LanguageModel, p: LanguageModelParams, maxLength: number): number[] => {
  let [state, rows] = m.start(p, 1);
  const out: number[] = [];
  for (let t = 0; t < maxLength; t++) {
    const [next, z] = m.step(p, state, rows);
    const zs = z.toFlatArray();
    let best = -1;
    zs.forEach((v, i) => {
      if (i !== m.vocab.pad && i !== m.vocab.bos && i !== m.vocab.unk && (best < 0 || v > zs[best]!)) best = i;
    });
    if (best === m.vocab.eos) break;
    out.push(best);
    state = next;
    rows = new Int32Array([best]);
  }
  return out;
};

const configs: [string, LanguageModelConfig][] = [
  ["rnn one-hot", { cell: "rnn", hidden: 5, dtype: "float64" }],
  ["gru embedding", { cell: "gru", hidden: 4, input: "embedding", embedDim: 3, dtype: "float64" }],
  ["lstm stacked, <bos> first", { cell: "lstm", hidden: [4, 3], start: "bos", dtype: "float64" }],
  ["lstm conditional", { cell: "lstm", hidden: 4, labels: ["x", "y"], dtype: "float64" }],
];

describe("languageModel shapes", () => {
  it("turns texts into time-major batches: targets end in <eos>, x<1> is the zero row, x<t> = y<t-1>", () => {
    const m = createLanguageModel(small, { cell: "lstm", hidden: 4 });
    const b = m.batch([{ text: "ab" }, { text: "c" }]);
    const [a, bb, c] = ["a", "b", "c"].map((t) => small.idOf(t));
    expect(b.targets.toArray()).toEqual([[a, c], [bb, small.eos], [small.eos, 0]]);
    expect(b.mask.toArray()).toEqual([[1, 1], [1, 1], [1, 0]]);
    expect(Array.from(b.inputRows)).toEqual([-1, -1, a, c, bb, 0]);
    expect(b.tokens).toBe(5);
    expect(b.xs!.shape).toEqual([3, 2, small.size]);
    const p = m.init(randomKey(0));
    expect(m.logits(p, b).shape).toEqual([3, 2, small.size]);
    expect(m.loss(p, b).shape).toEqual([]);
  });

  it("computes the loss as the masked sequenceLoss summed over steps, divided by the number of tokens", () => {
    for (const [, cfg] of configs.slice(0, 3)) {
      const m = createLanguageModel(small, cfg);
      const p = m.init(randomKey(4));
      const b = m.batch([{ text: "cab" }, { text: "a" }, { text: "bead" }]);
      const want = div(sequenceLoss(m.logits(p, b), b.targets, b.mask, { reduction: "sum" }), b.tokens).item();
      expect(m.loss(p, b).item()).toBeCloseTo(want, 10);
    }
  });

  it("refuses a label on an unconditional model and an unknown label on a conditional one", () => {
    const m = createLanguageModel(small, { cell: "gru", hidden: 3 });
    expect(() => m.logProb(m.init(randomKey(0)), "ab", { label: "x" })).toThrow(/no labels/);
    const c = createLanguageModel(small, { cell: "gru", hidden: 3, labels: ["x", "y"] });
    expect(() => c.logProb(c.init(randomKey(0)), "ab", { label: "z" })).toThrow(/must be one of "x", "y"/);
    expect(() => createLanguageModel(small, { cell: "elman" as CellKind, hidden: 3 })).toThrow(/cell/);
  });
});

describe("languageModel properties", () => {
  it("logProb equals the sum of the per-step log-probabilities read off the softmax outputs", () => {
    for (const [name, cfg] of configs) {
      const m = createLanguageModel(small, cfg);
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.array(fc.constantFrom(..."abcdegz"), { minLength: 0, maxLength: 7 }), fc.boolean(), (seed, chars, second) => {
          const p = m.init(randomKey(seed));
          const text = chars.join("");
          const label = cfg.labels ? cfg.labels[second ? 1 : 0] : undefined;
          const lp = m.logProb(p, text, label !== undefined ? { label } : {});
          const ids = [...small.encode(text), small.eos];
          const stepped = logProbByStepping(m, p, ids, label);
          expect(lp.tokens, name).toBe(ids.length);
          expect(Math.abs(lp.nats - stepped), name).toBeLessThan(1e-9 * Math.max(1, Math.abs(stepped)));
          expect(lp.bits).toBeCloseTo(lp.nats / Math.LN2, 12);
        }),
        { numRuns: 12, seed: 101 },
      );
    }
  });

  it("is a proper distribution: P(all sequences of length <= n ending in <eos>) + P(not stopped by step n) = 1", () => {
    const n = 3;
    const nonEos = Array.from({ length: tiny.size }, (_, i) => i).filter((i) => i !== tiny.eos); // 5 tokens
    const prefixes = (len: number): number[][] => (len === 0 ? [[]] : prefixes(len - 1).flatMap((p) => nonEos.map((t) => [...p, t])));
    for (const cell of CELLS) {
      const m = createLanguageModel(tiny, { cell, hidden: 3, dtype: "float64" });
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
          const p = m.init(randomKey(seed));
          let total = 0;
          for (let len = 0; len < n; len++) for (const pre of prefixes(len)) total += Math.exp(m.logProbIds(p, [...pre, tiny.eos]));
          for (const pre of prefixes(n)) total += Math.exp(m.logProbIds(p, pre));
          expect(Math.abs(total - 1), cell).toBeLessThan(1e-12);
        }),
        { numRuns: 2, seed: 202 },
      );
    }
  });

  it("sampling at temperature -> 0 equals greedy argmax decoding", () => {
    for (const cell of CELLS) {
      const m = createLanguageModel(small, { cell, hidden: 6 });
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed, sampleSeed) => {
          // A fresh model has zero biases, so its first step's logits tie exactly (a<1> = 0); random biases break the ties
          // (with a tie, temperature -> 0 is uniform over the tied tokens while argmax takes the first).
          const p0 = m.init(randomKey(seed));
          const p: LanguageModelParams = { ...p0, out: { W: p0.out.W, b: normal(randomKey(seed + 1), p0.out.b.shape) } };
          const greedy = greedyByStepping(m, p, 12);
          expect(m.sampleIds(p, randomKey(sampleSeed), 1, { temperature: 0, maxLength: 12 })[0]).toEqual(greedy);
          expect(m.sampleIds(p, randomKey(sampleSeed), 3, { temperature: 1e-9, maxLength: 12 })).toEqual([greedy, greedy, greedy]);
          expect(m.sampleIds(p, randomKey(sampleSeed), 1, { topK: 1, maxLength: 12 })[0]).toEqual(greedy);
        }),
        { numRuns: 8, seed: 303 },
      );
    }
  });
});

describe("sampling", () => {
  const m = createLanguageModel(small, { cell: "lstm", hidden: 8 });
  const p = m.init(randomKey(9));

  it("returns texts over the vocabulary, at most maxLength tokens, starting with the prefix, reproducibly per key", () => {
    const xs = m.sampleMany(p, randomKey(1), 20, { maxLength: 6, prefix: "ca" });
    expect(xs).toHaveLength(20);
    for (const x of xs) {
      expect(x.startsWith("ca")).toBe(true);
      expect(x.length).toBeLessThanOrEqual(6);
      expect([...x].every((ch) => small.has(ch))).toBe(true);
    }
    expect(m.sampleMany(p, randomKey(1), 20, { maxLength: 6, prefix: "ca" })).toEqual(xs);
    expect(m.sampleMany(p, randomKey(2), 20, { maxLength: 6, prefix: "ca" })).not.toEqual(xs);
    expect(bindLanguageModel(m, p).sample(randomKey(1), { maxLength: 6, prefix: "ca" })).toBe(m.sample(p, randomKey(1), { maxLength: 6, prefix: "ca" }));
  });

  it("never emits <unk> when rejecting it, even when the model prefers it, and runs to maxLength without stopAtEos", () => {
    const bias = p.out.b.toFlatArray();
    bias[small.unk] = 20;
    const q: LanguageModelParams = { ...p, out: { W: p.out.W, b: tensor(bias) } };
    const withUnk = m.sampleIds(q, randomKey(3), 10, { maxLength: 5, rejectUnk: false });
    expect(withUnk.flat().filter((id) => id === small.unk).length).toBeGreaterThan(40);
    const rejected = m.sampleIds(q, randomKey(3), 10, { maxLength: 5 });
    expect(rejected.flat()).not.toContain(small.unk);
    expect(m.sampleIds(p, randomKey(4), 10, { maxLength: 7, stopAtEos: false }).map((s) => s.length)).toEqual(new Array(10).fill(7));
  });
});

describe("training and scoring on real data (smoke: tiny budgets)", () => {
  it("a word-level LM trained briefly on Moby Dick prefers the sensible sentence to its near-homophone (the course's pear/pair point)", async () => {
    const s = mobyDickSentences({ maxSentences: 1500, maxWords: 15 });
    const vocab = Vocabulary.buildOrThrow(s.train as string[], { level: "word", maxSize: 400 });
    for (const w of ["sea", "see", "the", "not", "at", "looked", "let", "me"]) expect(vocab.has(w), w).toBe(true);
    const m = createLanguageModel(vocab, { cell: "gru", hidden: 32, input: "embedding", embedDim: 16 });
    const r = await fitLanguageModel(m, { train: s.train.map((text) => ({ text })), epochs: 3, lr: 0.02, batchSize: 32, key: randomKey(0) });
    expect(r.history[2]!.trainLoss).toBeLessThan(r.history[0]!.trainLoss);
    const lm = bindLanguageModel(m, r.params);
    const pairs = [
      ["he looked at the sea.", "he looked at the see."],
      ["i can not see it.", "i can not sea it."],
      ["let me see the sea.", "let me sea the see."],
    ];
    for (const [sensible, nonsense] of pairs) expect(lm.logProb(sensible!).nats, `${sensible} vs ${nonsense}`).toBeGreaterThan(lm.logProb(nonsense!).nats);
    expect(lm.perplexity(s.test.slice(0, 50))).toBeLessThan(vocab.size);
  });

  it("saves vocabulary and config beside the params, and the loaded model scores exactly as the trained one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "seqgrad-lm-"));
    try {
      const m = createLanguageModel(small, { cell: "gru", hidden: [4, 4], input: "embedding", embedDim: 3 });
      const path = join(dir, "lm.safetensors");
      const r = await fitLanguageModel(m, { train: ["abcab", "cab", "bead", "ace"].map((text) => ({ text })), valid: [{ text: "cabbage" }], epochs: 2, batchSize: 2, key: randomKey(1), checkpoint: path });
      const loaded = await loadLanguageModel(path);
      expect(loaded.kind).toBe("lm");
      expect(loaded.model.config).toEqual(m.config);
      expect(loaded.model.vocab.tokens).toEqual(small.tokens);
      expect(loaded.model.logProb(loaded.params, "cabbage").nats).toBe(m.logProb(r.params, "cabbage").nats);
      expect(loaded.state.epoch).toBe(2);
      expect(languageModelFromMetadata(lmMetadata(m, "names")).kind).toBe("names");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
