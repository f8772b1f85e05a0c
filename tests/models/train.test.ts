import { afterAll, describe, expect, it, vi } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomKey, splitKey, normal, type Key } from "../../core/random.js";
import { tensor, type Tensor } from "../../core/tensor.js";
import { add, matmul, mean, square, sub } from "../../autograd/index.js";
import { flatten, type Tree } from "../../autograd/tree.js";
import { adam, sgd } from "../../layers/optimizers.js";
import { Vocabulary } from "../../models/vocabulary.js";
import { createLanguageModel, lmBatches, type LanguageModelParams, type LmBatch } from "../../models/languageModel.js";
import { loadTrainCheckpoint, train, TrainError } from "../../models/train.js";

const dir = mkdtempSync(join(tmpdir(), "seqgrad-train-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** y = 2x + 1 with a little structure: 4 batches of 8 points. */
const lineBatches = Array.from({ length: 4 }, (_, i) => {
  const x = Array.from({ length: 8 }, (_, j) => [(i * 8 + j) / 16 - 1]);
  return { x: tensor(x), y: tensor(x.map(([v]) => [2 * v! + 1])) };
});
type LineParams = { w: Tensor; b: Tensor };
const lineLoss = (p: LineParams, batch: { x: Tensor; y: Tensor }) => mean(square(sub(add(matmul(batch.x, p.w), p.b), batch.y)));
const line0: LineParams = { w: tensor([[0]]), b: tensor([0]) };

const bits = (t: Tree): number[][] => flatten(t).leaves.map((l) => Array.from(new Uint8Array(l.toTypedArray().buffer)));

describe("train", () => {
  it("lowers the loss of a model it knows nothing about (any params tree, any loss)", async () => {
    const r = await train({ params: line0, optimizer: sgd(0.3), lossFn: lineLoss, batches: lineBatches, epochs: 30, key: randomKey(0) });
    expect(r.history).toHaveLength(30);
    expect(r.history[29]!.trainLoss).toBeLessThan(r.history[0]!.trainLoss / 100);
    expect(r.params.w.item()).toBeCloseTo(2, 2);
    expect(r.params.b.item()).toBeCloseTo(1, 2);
    expect(r.stepLosses).toHaveLength(120);
  });

  it("clips each gradient to the global norm: an sgd step then moves the params by exactly lr · c", async () => {
    const r = await train({ params: line0, optimizer: sgd(0.1), lossFn: lineLoss, batches: [lineBatches[3]!], epochs: 1, key: randomKey(0), clip: 1e-3 });
    const moved = Math.hypot(r.params.w.item(), r.params.b.item());
    expect(moved).toBeCloseTo(0.1 * 1e-3, 9);
    expect(r.history[0]!.clipped).toBe(1);
    expect(r.history[0]!.gradNorm).toBeGreaterThan(1e-3);
  });

  it("stops early after `patience` epochs without improvement and returns the best epoch's params", async () => {
    const valid = [5, 3, 4, 4.5, 6, 1]; // best at epoch 2, then 2 bad epochs
    const seen: number[] = [];
    const r = await train({
      params: line0, optimizer: sgd(0.1), lossFn: lineLoss, batches: lineBatches, epochs: 6, key: randomKey(0),
      evalFn: (p, epoch) => (seen[epoch] = p.w.item(), valid[epoch - 1]!),
      earlyStop: { patience: 2 },
    });
    expect(r.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(r.stoppedEarly).toBe(true);
    expect(r.bestEpoch).toBe(2);
    expect(r.params.w.item()).toBe(seen[2]);
    expect(r.lastParams.w.item()).toBe(seen[4]);
  });

  it("reports a non-finite loss with the epoch and step", async () => {
    const bad = [{ x: tensor([[1]]), y: tensor([[Number.NaN]]) }];
    await expect(train({ params: line0, optimizer: sgd(0.1), lossFn: lineLoss, batches: bad, epochs: 1, key: randomKey(0) })).rejects.toThrow(TrainError);
    await expect(train({ params: line0, optimizer: sgd(0.1), lossFn: lineLoss, batches: bad, epochs: 1, key: randomKey(0) })).rejects.toThrow(/epoch 1, step 0: the loss is NaN/);
  });

  it("writes an SVG loss curve a browser can open, and prints nothing to stderr under a test runner", async () => {
    const path = join(dir, "curve.svg");
    const err = vi.spyOn(process.stderr, "write");
    try {
      await train({ params: line0, optimizer: sgd(0.1), lossFn: lineLoss, batches: lineBatches, epochs: 3, key: randomKey(0), curve: path, evalFn: () => 1 });
      expect(err).not.toHaveBeenCalled();
    } finally {
      err.mockRestore();
    }
    const svg = readFileSync(path, "utf8");
    expect(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg.match(/<polyline /g)?.length).toBe(3); // steps, train per epoch, validation
    expect(svg).toContain(">validation</text>");
  });
});

describe("checkpoints and resuming", () => {
  const vocab = Vocabulary.buildOrThrow(["abba", "baab", "abab", "bbaa", "aab", "ba", "abbba", "b"], { level: "char" });
  const model = createLanguageModel(vocab, { cell: "lstm", hidden: 6 });
  const examples = ["abba", "baab", "abab", "bbaa", "aab", "ba", "abbba", "b", "aa", "bab"].map((text) => ({ text }));
  const run = (key: Key, epochs: number, extra: { checkpoint?: string; resume?: string } = {}) =>
    train<LanguageModelParams, unknown, LmBatch>({
      params: model.init(splitKey(key, 2)[0]!), optimizer: adam(0.05), lossFn: (p, b) => model.loss(p, b),
      batches: lmBatches(model, examples, 3), epochs, key, clip: 1,
      evalFn: (p) => model.evaluate(p, examples).nllPerToken,
      ...(extra.checkpoint ? { checkpoint: { path: extra.checkpoint, metadata: { "model.vocabulary": JSON.stringify(vocab) } } } : {}),
      ...(extra.resume ? { resume: extra.resume } : {}),
    });

  it("resumes from a checkpoint with the same key and reproduces the uninterrupted run bit for bit", async () => {
    const key = randomKey(11);
    const full = await run(key, 4);
    const path = join(dir, "resume.safetensors");
    const half = await run(key, 2, { checkpoint: path });
    expect(bits(half.params as unknown as Tree)).not.toEqual(bits(full.params as unknown as Tree));
    const resumed = await run(key, 4, { checkpoint: path, resume: path });
    expect(resumed.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(bits(resumed.params as unknown as Tree)).toEqual(bits(full.params as unknown as Tree));
    expect(bits(resumed.optState as Tree)).toEqual(bits(full.optState as Tree));
    expect(resumed.stepLosses).toEqual(full.stepLosses);
    expect(full.history[3]!.trainLoss).toBeLessThan(full.history[0]!.trainLoss);
  });

  it("stores params, optimizer state, the loop state and the caller's metadata", async () => {
    const path = join(dir, "meta.safetensors");
    await run(randomKey(3), 1, { checkpoint: path });
    const ck = await loadTrainCheckpoint(path);
    expect(Object.keys(ck.params)).toEqual(["rnn", "out"]);
    expect(Object.keys(ck.optState as object).sort()).toEqual(["m", "step", "v"]);
    expect(ck.state.epoch).toBe(1);
    expect(ck.state.key).toEqual(randomKey(3).words);
    expect(Vocabulary.fromJSONOrThrow(ck.metadata["model.vocabulary"]).tokens).toEqual(vocab.tokens);
    expect(ck.metadata["train.state"]).toBeUndefined();
  });

  it("refuses to resume with another key, since that could not reproduce the run", async () => {
    const path = join(dir, "key.safetensors");
    await run(randomKey(5), 1, { checkpoint: path });
    await expect(run(randomKey(6), 2, { resume: path })).rejects.toThrow(/differs from the key/);
    expect(existsSync(path)).toBe(true);
  });

  it("keeps the best params in the checkpoint so early stopping restores them after a resume", async () => {
    const path = join(dir, "best.safetensors");
    const valid = [2, 1, 3, 4];
    const mk = (epochs: number, resume?: string) =>
      train({
        params: { w: normal(randomKey(1), [1, 1]), b: tensor([0]) }, optimizer: sgd(0.1), lossFn: lineLoss, batches: lineBatches, epochs, key: randomKey(2),
        evalFn: (_p: LineParams, e: number) => valid[e - 1]!, earlyStop: { patience: 5 }, checkpoint: { path }, ...(resume ? { resume } : {}),
      });
    const full = await mk(4);
    await mk(2);
    const resumed = await mk(4, path);
    expect(resumed.bestEpoch).toBe(2);
    expect(bits(resumed.params as unknown as Tree)).toEqual(bits(full.params as unknown as Tree));
    expect(bits(resumed.params as unknown as Tree)).not.toEqual(bits(resumed.lastParams as unknown as Tree));
    expect(resumed.params.w.item()).toBe(full.params.w.item());
  });
});
