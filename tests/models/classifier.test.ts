import { describe, expect, it } from "vitest";
import { ArgumentError } from "../../core/errors.js";
import { randomKey } from "../../core/random.js";
import { tensor } from "../../core/tensor.js";
import { gather } from "../../autograd/index.js";
import { lstmCell } from "../../layers/cells/lstm.js";
import { rnnCell } from "../../layers/cells/rnn.js";
import { adam } from "../../layers/optimizers.js";
import { rnn } from "../../layers/sequence.js";
import { activationOf, classifierBatches, createClassifier, type ClassifierBatch, type ClassifierParams, type LabelledText } from "../../models/classifier.js";
import { train } from "../../models/train.js";
import { Vocabulary } from "../../models/vocabulary.js";

const texts: LabelledText[] = [
  { text: "win money now free offer", label: 1 },
  { text: "free money click here", label: 1 },
  { text: "meeting notes for tomorrow", label: 0 },
  { text: "the patch fixes the build", label: 0 },
  { text: "claim your free prize money", label: 1 },
  { text: "see you at the meeting", label: 0 },
];
const vocab = Vocabulary.buildOrThrow(texts.map((t) => t.text), { level: "word" });

const rowOf = (flat: ArrayLike<number>, b: number, F: number) => Array.from({ length: F }, (_, j) => flat[b * F + j]!);

describe("createClassifier", () => {
  it("gives one logit per sequence and pooled features of size H (2H for a BRNN)", () => {
    for (const [bidirectional, F] of [[false, 5], [true, 10]] as const) {
      const m = createClassifier(vocab, { cell: "gru", hidden: 5, embedDim: 4, bidirectional });
      const p = m.init(randomKey(1));
      const b = m.batch(texts.slice(0, 3));
      expect(b.ids.shape).toEqual([5, 3]);
      expect(m.features(p, b.ids, b.mask).shape).toEqual([3, F]);
      expect(m.logits(p, b.ids, b.mask).shape).toEqual([3]);
      expect(m.loss(p, b).shape).toEqual([]);
      expect(m.featureSize).toBe(F);
    }
  });

  it("pools 'last' as the carry at each sequence's own last real step, whatever padding follows", () => {
    const m = createClassifier(vocab, { cell: "lstm", hidden: 4, embedDim: 3, pooling: "last", dtype: "float64" });
    const p = m.init(randomKey(2));
    const batch = m.batch(texts); // lengths 5, 4, 4, 5, 5, 5: the short ones are padded
    const padded = m.features(p, batch.ids, batch.mask).toFlatArray();
    texts.forEach((t, b) => {
      const alone = m.batch([t]); // no padding at all
      const h = m.features(p, alone.ids, alone.mask).toFlatArray();
      expect(rowOf(padded, b, 4)).toEqual(rowOf(h, 0, 4).map((v) => expect.closeTo(v, 12)));
    });
  });

  it("pools 'mean' and 'max' over the real steps only, as a loop over the unpadded outputs computes them", () => {
    for (const pooling of ["mean", "max"] as const) {
      const m = createClassifier(vocab, { cell: "rnn", hidden: 3, embedDim: 3, pooling, dtype: "float64" });
      const p = m.init(randomKey(3));
      const batch = m.batch(texts);
      const got = m.features(p, batch.ids, batch.mask).toFlatArray();
      const layer = rnn(rnnCell()); // the cell 'rnn' names (tanh), built independently of the classifier
      texts.forEach((t, b) => {
        const ids = m.encode(t.text);
        const xs = gather(p.embed.E, tensor(ids.map((i) => [i])), 0); // [T, 1, E]
        const [, ys] = layer.apply(p.rnn as never, xs);
        const a = ys.toArray() as number[][][];
        const want = [0, 1, 2].map((j) => {
          const col = a.map((row) => row[0]![j]!);
          return pooling === "mean" ? col.reduce((s, v) => s + v, 0) / col.length : Math.max(...col);
        });
        expect(rowOf(got, b, 3)).toEqual(want.map((v) => expect.closeTo(v, 12)));
      });
    }
  });

  it("reads the activation out of every carry shape: a, { a, c }, { fwd, bwd } and stacked arrays", () => {
    const a = tensor([[1, 2]]), c = tensor([[3, 4]]);
    expect(activationOf(a).toArray()).toEqual([[1, 2]]);
    expect(activationOf({ a, c }).toArray()).toEqual([[1, 2]]);
    expect(activationOf({ fwd: a, bwd: { a: c, c: a } }).toArray()).toEqual([[1, 2, 3, 4]]);
    expect(activationOf([c, { a, c }]).toArray()).toEqual([[1, 2]]);
    expect(() => activationOf({ h: a })).toThrow(/activationOf.*no activation a/);
  });

  it("learns a separable toy task: the training loss falls and the predictions come out as 0/1 labels", async () => {
    const m = createClassifier(vocab, { cell: "gru", hidden: 8, embedDim: 8, pooling: "mean" });
    const init = m.init(randomKey(4));
    const first = m.loss(init, m.batch(texts)).item();
    const r = await train({
      params: init, optimizer: adam(0.05), lossFn: (p: ClassifierParams, b: ClassifierBatch) => m.loss(p, b),
      batches: classifierBatches(m, texts, 3), epochs: 15, key: randomKey(5), progress: false,
    });
    const last = m.loss(r.params, m.batch(texts)).item();
    expect(last).toBeLessThan(first * 0.5);
    const probs = m.predictProba(r.params, texts.map((t) => t.text));
    expect(probs.every((q) => q > 0 && q < 1)).toBe(true);
    expect(m.predict(r.params, texts.map((t) => t.text))).toEqual(texts.map((t) => t.label));
    const e = m.evaluate(r.params, texts);
    expect(e.accuracy).toBe(1);
    expect([e.tp, e.tn, e.fp, e.fn]).toEqual([3, 3, 0, 0]);
  });

  it("applies dropout only when the loss gets a key: same key, same loss; no key, the deterministic loss", () => {
    const m = createClassifier(vocab, { cell: "gru", hidden: 6, embedDim: 6, dropout: 0.5 });
    const p = m.init(randomKey(8));
    const b = m.batch(texts);
    const plain = m.loss(p, b).item();
    const k = randomKey(9);
    expect(m.loss(p, b, k).item()).toBe(m.loss(p, b, k).item());
    expect(m.loss(p, b, k).item()).not.toBe(plain);
    const noDrop = createClassifier(vocab, { cell: "gru", hidden: 6, embedDim: 6 });
    expect(noDrop.loss(p, b, k).item()).toBe(plain);
    expect(() => createClassifier(vocab, { cell: "gru", hidden: 2, dropout: 1 })).toThrow(/config.dropout/);
    expect(() => createClassifier(vocab, ["gru", 2] as never)).toThrow("createClassifier: config must be an object like { cell: 'gru', hidden: 32 }, got an array of length 2");
  });

  it("cuts texts to maxLength tokens and encodes an empty text as one <unk>", () => {
    const m = createClassifier(vocab, { cell: "rnn", hidden: 2, maxLength: 3 });
    expect(m.encode("win money now free offer")).toHaveLength(3);
    expect(m.encode("")).toEqual([vocab.unk]);
  });

  it("rejects a bad config, bad labels and bad thresholds with errors naming the argument", () => {
    expect(() => createClassifier(vocab, { cell: "gru", hidden: 0 })).toThrow(/config.hidden/);
    expect(() => createClassifier(vocab, { cell: "gru", hidden: 2, pooling: "sum" as never })).toThrow(/config.pooling/);
    expect(() => createClassifier(vocab, { cell: "cnn" as never, hidden: 2 })).toThrow(ArgumentError);
    const m = createClassifier(vocab, { cell: "rnn", hidden: 2 });
    expect(() => m.batch([{ text: "free", label: 2 }])).toThrow(/examples\[0\].label.*0 or 1/);
    expect(() => m.predict(m.init(randomKey(0)), ["free"], { threshold: 2 })).toThrow(/threshold/);
  });

  it("takes a user-written cell object", () => {
    const m = createClassifier(vocab, { cell: lstmCell({ forgetBias: 0 }), hidden: 3 });
    const p = m.init(randomKey(6));
    expect(m.predictProba(p, ["free money"]).length).toBe(1);
  });
});
