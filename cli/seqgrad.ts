#!/usr/bin/env node
/**
 * The `seqgrad` command. Each subcommand is a `register*` function that adds itself to the program; a new
 * subcommand (train, sample, score, eval) is one more function appended to `SUBCOMMANDS`.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { formatTable, runSuites, toJson, DEFAULT_SEED } from "../proofs/runner.js";
import { randomKey } from "../core/random.js";
import { NAME_LABELS, mobyDickSentences, type NameLabel, type Splits } from "../models/data.js";
import { Vocabulary } from "../models/vocabulary.js";
import { tuneBigram } from "../models/bigram.js";
import {
  bindLanguageModel, createLanguageModel, fitLanguageModel, loadLanguageModel,
  type CellKind, type LanguageModel, type LanguageModelConfig, type LanguageModelParams, type TextExample,
} from "../models/languageModel.js";
import { asExamples, createNameGenerator, labelAccuracy, namesData, sampleNames } from "../models/names.js";
import type { EpochRecord } from "../models/train.js";
import { registerTrainSpam, registerTrainTagger } from "./classifiers.js";
import { registerTrainG2p } from "./trainG2p.js";

/** Parses a non-negative integer option, with an error that names the option. */
export const intOption = (name: string, min: number) => (value: string): number => {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
};

/** `seqgrad proofs`: proves every registered suite against finite differences; exit code 1 if any fails. */
export const registerProofs = (program: Command): void => {
  program
    .command("proofs")
    .description("prove every primitive's gradient (and every registered suite) against central finite differences in float64")
    .option("-r, --runs <n>", "property runs per suite (default: each suite's own count)", intOption("--runs", 1))
    .option("-s, --seed <s>", "fast-check seed shared by all suites", intOption("--seed", -(2 ** 31)), DEFAULT_SEED)
    .option("-o, --only <text>", "run only suites whose name or family contains <text>")
    .option("--json", "print the results as JSON instead of a table")
    .action((opts: { runs?: number; seed: number; only?: string; json?: boolean }) => {
      const progress = !opts.json && process.stderr.isTTY;
      const summary = runSuites(undefined, {
        ...(opts.runs !== undefined ? { runs: opts.runs } : {}),
        seed: opts.seed,
        ...(opts.only !== undefined ? { only: opts.only } : {}),
        ...(progress ? { onResult: (r, i, n) => process.stderr.write(`\r${i + 1}/${n} ${r.name}`.padEnd(40) + (i + 1 === n ? "\r".padEnd(41) + "\r" : "")) } : {}),
      });
      if (summary.suites === 0) {
        process.stderr.write(`seqgrad proofs: no suite matches --only ${JSON.stringify(opts.only)}\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(opts.json ? `${JSON.stringify(toJson(summary), null, 2)}\n` : `${formatTable(summary)}\n`);
      if (!summary.ok) process.exitCode = 1;
    });
};

/** Parses a finite number option within [min, max], with an error that names the option. */
export const numberOption = (name: string, min: number, max = Infinity) => (value: string): number => {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max)
    throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max === Infinity ? "∞" : max}], got ${JSON.stringify(value)}`);
  return n;
};

/** Parses `64` or `64,64` (one hidden size per stacked layer). */
const hiddenOption = (value: string): number[] => {
  const parts = value.split(",").map((p) => p.trim());
  const ns = parts.map(Number);
  if (parts.length === 0 || ns.some((n, i) => !/^\d+$/.test(parts[i]!) || n < 1 || n > 4096))
    throw new InvalidArgumentError(`--hidden must be a size like 64, or sizes like 64,64 for stacked layers, got ${JSON.stringify(value)}`);
  return ns;
};

/** The corpora a language model trains on from the command line. */
export const LM_DATASETS = ["names", "moby-words", "moby-chars"] as const;
export type LmDataset = (typeof LM_DATASETS)[number];

/** What is needed to rebuild a corpus and its split exactly (stored in the checkpoint as `data.spec`). */
export interface DataSpec {
  readonly dataset: LmDataset | "names-labelled";
  readonly maxSentences?: number;
  readonly minCount?: number;
  /** Train on only the first n training texts (the vocabulary, validation and test parts are unchanged). */
  readonly limit?: number;
}

/** A corpus split 80/10/10 and the vocabulary built from its training part. */
export interface Corpus {
  readonly splits: Splits<TextExample>;
  readonly vocab: Vocabulary;
}

const asText = (xs: readonly string[]): TextExample[] => xs.map((text) => ({ text }));

/** `corpusOf(spec)`: the deterministic split and vocabulary of a dataset (the same on every machine). */
export const corpusOf = (spec: DataSpec): Corpus => {
  const c = fullCorpusOf(spec);
  return spec.limit === undefined ? c : { ...c, splits: { ...c.splits, train: c.splits.train.slice(0, spec.limit) } };
};

const fullCorpusOf = (spec: DataSpec): Corpus => {
  if (spec.dataset === "names" || spec.dataset === "names-labelled") {
    const d = namesData();
    const splits = spec.dataset === "names"
      ? { train: asText(d.names.train), valid: asText(d.names.valid), test: asText(d.names.test) }
      : { train: asExamples(d.labelled.train), valid: asExamples(d.labelled.valid), test: asExamples(d.labelled.test) };
    return { splits, vocab: d.vocab };
  }
  const words = spec.dataset === "moby-words";
  const s = mobyDickSentences({ maxWords: words ? 25 : 15, ...(spec.maxSentences !== undefined ? { maxSentences: spec.maxSentences } : {}) });
  const vocab = Vocabulary.buildOrThrow(s.train as string[], words ? { level: "word", minCount: spec.minCount ?? 3 } : { level: "char", minCount: spec.minCount ?? 1 });
  return { splits: { train: asText(s.train), valid: asText(s.valid), test: asText(s.test) }, vocab };
};

interface TrainCliOptions {
  cell: CellKind;
  hidden: number[];
  input?: "onehot" | "embedding";
  embed: number;
  epochs: number;
  lr: number;
  batch: number;
  clip: number;
  seed: number;
  patience?: number;
  out?: string;
  curve?: string;
  resume?: string;
  exportSplit?: string;
  quiet?: boolean;
  samples: number;
  data?: LmDataset;
  maxSentences?: number;
  minCount?: number;
  limit?: number;
}

const fmt = (x: number, d = 4): string => x.toFixed(d);
const out = (line: string): void => void process.stdout.write(`${line}\n`);

const epochLine = (e: EpochRecord): string =>
  `epoch ${String(e.epoch).padStart(3)}  train ${fmt(e.trainLoss)}` +
  (e.validLoss !== undefined ? `  valid ${fmt(e.validLoss)}` : "") +
  `  |g| ${e.gradNorm.toFixed(2)}${e.clipped ? ` (${e.clipped} clipped)` : ""}  ${e.seconds.toFixed(1)} s` +
  (e.tokensPerSecond !== undefined ? `  ${Math.round(e.tokensPerSecond)} tok/s` : "") + (e.best ? "  *" : "");

/** Options every `train` target shares. */
const withTrainOptions = (cmd: Command): Command =>
  cmd
    .addOption(new Option("--cell <cell>", "recurrent cell").choices(["rnn", "gru", "lstm"]).default("lstm"))
    .addOption(new Option("--hidden <sizes>", "hidden size H, or sizes per layer for a stacked RNN (64,64)").argParser(hiddenOption).default([64], "64"))
    .option("--epochs <n>", "epochs to train", intOption("--epochs", 1), 10)
    .option("--lr <x>", "Adam learning rate", numberOption("--lr", 0, 10), 0.01)
    .option("--batch <n>", "sequences per batch", intOption("--batch", 1), 64)
    .option("--clip <x>", "clip gradients to this global norm", numberOption("--clip", 1e-12), 5)
    .option("--seed <n>", "seed of the PRNG key (init, shuffling)", intOption("--seed", 0), 0)
    .option("--patience <n>", "stop early after n epochs without a better validation loss", intOption("--patience", 1))
    .option("--out <path>", "write the checkpoint (safetensors; vocabulary and config in its metadata)")
    .option("--curve <path>", "write the loss curve as SVG")
    .option("--resume <path>", "continue from a checkpoint written with the same options and seed")
    .option("--samples <n>", "samples to print after training", intOption("--samples", 0), 10)
    .option("--limit <n>", "train on only the first n training texts (a quick look; validation and test are unchanged)", intOption("--limit", 1))
    .option("--quiet", "no progress bar");

const commonFit = (o: TrainCliOptions) => ({
  epochs: o.epochs, lr: o.lr, batchSize: o.batch, clip: o.clip, key: randomKey(o.seed),
  ...(o.patience !== undefined ? { earlyStop: { patience: o.patience } } : {}),
  ...(o.quiet ? { progress: false } : {}),
  ...(o.curve ? { curve: o.curve } : {}),
  ...(o.resume ? { resume: o.resume } : {}),
  onEpoch: (e: EpochRecord) => out(epochLine(e)),
});

const writeSplit = async (path: string, spec: DataSpec, corpus: Corpus, o: TrainCliOptions, config: LanguageModelConfig): Promise<void> => {
  const { writeFile } = await import("node:fs/promises");
  const texts = (xs: readonly TextExample[]) => xs.map((x) => (x.label === undefined ? x.text : { text: x.text, label: x.label }));
  await writeFile(path, JSON.stringify({
    format: "seqgrad.lm-split", data: spec, vocabulary: corpus.vocab.toJSON(), config,
    training: { optimizer: "adam", lr: o.lr, epochs: o.epochs, batchSize: o.batch, clip: o.clip, seed: o.seed, loss: "mean NLL per predicted token, <eos> included" },
    train: texts(corpus.splits.train), valid: texts(corpus.splits.valid), test: texts(corpus.splits.test),
  }));
  out(`split written to ${path} (${corpus.splits.train.length} train, ${corpus.splits.valid.length} valid, ${corpus.splits.test.length} test)`);
};

/** `seqgrad train lm`: a language model on names or Moby Dick, then test NLL vs the bigram baseline and samples. */
const registerTrainLm = (trainCmd: Command): void => {
  withTrainOptions(
    trainCmd
      .command("lm")
      .description("train a language model (char-level names, or Moby Dick by words or characters); report test NLL against an add-k bigram and print samples")
      .addOption(new Option("--data <name>", "corpus").choices([...LM_DATASETS]).default("names"))
      .addOption(new Option("--input <kind>", "x<t> as one-hot vectors or a learned embedding (default: one-hot for characters, embedding for words)").choices(["onehot", "embedding"]))
      .option("--embed <n>", "embedding size (with --input embedding)", intOption("--embed", 1), 32)
      .option("--max-sentences <n>", "Moby Dick: use only the first n sentences", intOption("--max-sentences", 10))
      .option("--min-count <n>", "Moby Dick words: keep words seen at least n times (others are <unk>)", intOption("--min-count", 1))
      .option("--export-split <path>", "write the split, vocabulary and settings as JSON (for tools/torch_lm_reference.py)"),
  ).action(async (o: TrainCliOptions) => {
    const spec: DataSpec = {
      dataset: o.data ?? "names", ...(o.maxSentences !== undefined ? { maxSentences: o.maxSentences } : {}), ...(o.minCount !== undefined ? { minCount: o.minCount } : {}),
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
    };
    const corpus = corpusOf(spec);
    const input = o.input ?? (corpus.vocab.level === "word" ? "embedding" : "onehot");
    const config: LanguageModelConfig = { cell: o.cell, hidden: o.hidden.length === 1 ? o.hidden[0]! : o.hidden, input, ...(input === "embedding" ? { embedDim: o.embed } : {}) };
    const model = createLanguageModel(corpus.vocab, config);
    out(`${spec.dataset}: ${corpus.splits.train.length} train / ${corpus.splits.valid.length} valid / ${corpus.splits.test.length} test texts, V = ${corpus.vocab.size}; ${o.cell} H=${o.hidden.join(",")}, ${input}`);
    if (o.exportSplit) await writeSplit(o.exportSplit, spec, corpus, o, config);
    const r = await fitLanguageModel(model, {
      ...commonFit(o), train: corpus.splits.train, valid: corpus.splits.valid, label: `${o.cell}`,
      ...(o.out ? { checkpoint: o.out, metadata: { "data.spec": JSON.stringify(spec) } } : {}),
    });
    report(model, r.params, corpus, spec, o.samples, o.seed);
    if (o.out) out(`checkpoint: ${o.out}`);
    if (o.curve) out(`loss curve: ${o.curve}`);
  });
};

/** Test NLL of the model and of the tuned bigram, then samples. */
const report = (model: LanguageModel, params: LanguageModelParams, corpus: Corpus, spec: DataSpec, samples: number, seed: number): void => {
  const test = model.evaluate(params, corpus.splits.test);
  const unit = corpus.vocab.level === "char" ? "char" : "word";
  const bigram = tuneBigram(corpus.vocab, corpus.splits.train.map((e) => e.text), corpus.splits.valid.map((e) => e.text));
  const bg = bigram.nllPerToken(corpus.splits.test.map((e) => e.text));
  out(`test NLL per ${unit} (nats, <eos> included): model ${fmt(test.nllPerToken)} (perplexity ${test.perplexity.toFixed(2)}, ${test.bitsPerToken.toFixed(3)} bits)  |  add-k bigram (k = ${bigram.k}) ${fmt(bg)}  over ${test.tokens} tokens`);
  if (samples > 0 && spec.dataset !== "names-labelled") {
    const key = randomKey(seed + 1);
    out(`samples: ${model.sampleMany(params, key, samples, { maxLength: unit === "char" ? 60 : 30 }).join(" | ")}`);
  }
};

/** `seqgrad train names`: names generated from a label (female/male fed as x<1>). */
const registerTrainNames = (trainCmd: Command): void => {
  withTrainOptions(
    trainCmd
      .command("names")
      .description("train a conditional name generator: the label (female/male) is x<1>, then the name letter by letter; report test NLL, label accuracy and samples per label"),
  ).action(async (o: TrainCliOptions) => {
    const spec: DataSpec = { dataset: "names-labelled", ...(o.limit !== undefined ? { limit: o.limit } : {}) };
    const corpus = corpusOf(spec);
    const model = createNameGenerator(corpus.vocab, { cell: o.cell, hidden: o.hidden.length === 1 ? o.hidden[0]! : o.hidden });
    out(`names by label: ${corpus.splits.train.length} train / ${corpus.splits.valid.length} valid / ${corpus.splits.test.length} test, V = ${corpus.vocab.size}; ${o.cell} H=${o.hidden.join(",")}`);
    const r = await fitLanguageModel(model, {
      ...commonFit(o), train: corpus.splits.train, valid: corpus.splits.valid, label: `${o.cell}`, kind: "names",
      ...(o.out ? { checkpoint: o.out, metadata: { "data.spec": JSON.stringify(spec) } } : {}),
    });
    const d = namesData();
    const test = model.evaluate(r.params, corpus.splits.test);
    out(`test NLL per char given the label: ${fmt(test.nllPerToken)}; label accuracy (arg max_label P(name | label)) ${(100 * labelAccuracy(model, r.params, d.labelled.test)).toFixed(1)}%`);
    for (const label of NAME_LABELS) out(`${label}: ${sampleNames(model, r.params, randomKey(o.seed + (label === "female" ? 11 : 12)), label, o.samples || 10).join(", ")}`);
    if (o.out) out(`checkpoint: ${o.out}`);
  });
};

/** `train` targets; the classifier, tagger and encoder-decoder append theirs here. */
export const TRAIN_TARGETS: ((trainCmd: Command) => void)[] = [registerTrainLm, registerTrainNames, registerTrainSpam, registerTrainTagger, registerTrainG2p];

/** `seqgrad train <target>`. */
export const registerTrain = (program: Command): void => {
  const trainCmd = program.command("train").description("train a model on real data (see `seqgrad train <target> --help`)");
  for (const t of TRAIN_TARGETS) t(trainCmd);
};

const loadModel = async (path: string) => {
  try {
    return await loadLanguageModel(path);
  } catch (e) {
    throw new InvalidArgumentError(`cannot load ${path}: ${(e as Error).message}`);
  }
};

/** `seqgrad sample <checkpoint>`. */
export const registerSample = (program: Command): void => {
  program
    .command("sample")
    .description("draw sequences from a trained language model (one per line)")
    .argument("<checkpoint>", "a checkpoint written by seqgrad train lm|names")
    .option("-n, --count <n>", "how many samples", intOption("--count", 1), 10)
    .option("--temperature <t>", "divide logits by t (0 = greedy)", numberOption("--temperature", 0), 1)
    .option("--top-k <k>", "sample among the k most probable tokens", intOption("--top-k", 1))
    .option("--prefix <text>", "start every sample with this text")
    .option("--max-length <n>", "at most n tokens per sample", intOption("--max-length", 1), 40)
    .addOption(new Option("--label <label>", "for a names model: condition on this label").choices([...NAME_LABELS]))
    .option("--seed <n>", "seed of the sampling key", intOption("--seed", 0), 0)
    .action(async (path: string, o: { count: number; temperature: number; topK?: number; prefix?: string; maxLength: number; label?: NameLabel; seed: number }) => {
      const { model, params } = await loadModel(path);
      const labels = model.config.labels;
      const runs: (string | undefined)[] = o.label !== undefined ? [o.label] : labels.length > 0 ? [...labels] : [undefined];
      for (const [i, l] of runs.entries()) {
        const samples = model.sampleMany(params, randomKey(o.seed + i), o.count, {
          temperature: o.temperature, maxLength: o.maxLength, ...(o.topK ? { topK: o.topK } : {}), ...(o.prefix ? { prefix: o.prefix } : {}), ...(l !== undefined ? { label: l } : {}),
        });
        for (const s of samples) out(l === undefined ? s : `${l}\t${s}`);
      }
    });
};

/** `seqgrad score <checkpoint> <texts...>`. */
export const registerScore = (program: Command): void => {
  program
    .command("score")
    .description("log-probability of each text under a language model: Σ_t log P(y<t> | y<1..t-1>) with <eos>, in nats and bits, and per token")
    .argument("<checkpoint>", "a checkpoint written by seqgrad train lm|names")
    .argument("<texts...>", "texts to score (quote each one)")
    .addOption(new Option("--label <label>", "for a names model: the label to condition on").choices([...NAME_LABELS]))
    .option("--json", "print JSON")
    .action(async (path: string, texts: string[], o: { label?: NameLabel; json?: boolean }) => {
      const { model, params } = await loadModel(path);
      const lm = bindLanguageModel(model, params);
      const labels = model.config.labels;
      const runs: (string | undefined)[] = o.label !== undefined ? [o.label] : labels.length > 0 ? [...labels] : [undefined];
      const rows = runs.flatMap((label) =>
        texts.map((text) => {
          const lp = lm.logProb(text, label !== undefined ? { label } : {});
          const unknown = model.vocab.tokenize(text).filter((t) => !model.vocab.has(t));
          return { text: label === undefined ? text : `${text} | ${label}`, nats: lp.nats, bits: lp.bits, tokens: lp.tokens, natsPerToken: lp.nats / lp.tokens, unknown };
        }),
      );
      if (o.json) return out(JSON.stringify(rows, null, 2));
      const w = Math.max(4, ...rows.map((r) => r.text.length));
      out(`${"text".padEnd(w)}  log P (nats)  log2 P (bits)  tokens  nats/token`);
      for (const r of rows)
        out(`${r.text.padEnd(w)}  ${r.nats.toFixed(3).padStart(12)}  ${r.bits.toFixed(3).padStart(13)}  ${String(r.tokens).padStart(6)}  ${(r.natsPerToken).toFixed(3).padStart(10)}${r.unknown.length ? `  (unknown: ${r.unknown.join(" ")})` : ""}`);
      if (rows.length > 1) {
        const best = rows.reduce((a, b) => (b.nats > a.nats ? b : a));
        out(`most probable: ${JSON.stringify(best.text)}`);
      }
    });
};

/** `seqgrad eval <checkpoint>`. */
export const registerEval = (program: Command): void => {
  program
    .command("eval")
    .description("NLL per token and perplexity of a checkpoint on its own data split, beside the add-k bigram baseline")
    .argument("<checkpoint>", "a checkpoint written by seqgrad train lm|names")
    .addOption(new Option("--split <part>", "which part of the split").choices(["train", "valid", "test"]).default("test"))
    .option("--json", "print JSON")
    .action(async (path: string, o: { split: "train" | "valid" | "test"; json?: boolean }) => {
      const { model, params, metadata, state } = await loadModel(path);
      const raw = metadata["data.spec"];
      if (raw === undefined) throw new InvalidArgumentError(`${path} does not record its data (data.spec); it was not written by seqgrad train`);
      const spec = JSON.parse(raw) as DataSpec;
      const corpus = corpusOf(spec);
      const part = corpus.splits[o.split];
      const e = model.evaluate(params, part);
      const bigram = tuneBigram(corpus.vocab, corpus.splits.train.map((x) => x.text), corpus.splits.valid.map((x) => x.text));
      const bg = bigram.nllPerToken(part.map((x) => x.text));
      const result = { checkpoint: path, data: spec.dataset, split: o.split, epochs: state.epoch, cell: model.config.cell, hidden: model.config.hidden, texts: e.texts, tokens: e.tokens, nllPerToken: e.nllPerToken, bitsPerToken: e.bitsPerToken, perplexity: e.perplexity, bigramK: bigram.k, bigramNllPerToken: bg };
      if (o.json) return out(JSON.stringify(result, null, 2));
      out(`${path}: ${String(model.config.cell)} H=${String(model.config.hidden)} after ${state.epoch} epochs, ${spec.dataset} ${o.split} (${e.texts} texts, ${e.tokens} tokens)`);
      out(`NLL per ${corpus.vocab.level === "char" ? "char" : "word"}: ${fmt(e.nllPerToken)} nats (${e.bitsPerToken.toFixed(3)} bits, perplexity ${e.perplexity.toFixed(2)});  add-k bigram (k = ${bigram.k}): ${fmt(bg)}`);
    });
};

/** Every subcommand, in help order. Append new ones here. */
export const SUBCOMMANDS: readonly ((program: Command) => void)[] = [registerProofs, registerTrain, registerSample, registerScore, registerEval];

/** The whole command line program (exported so tests can parse arguments without spawning a process). */
export const buildProgram = (): Command => {
  const program = new Command("seqgrad")
    .description("seqgrad: functional reverse-mode autodiff for sequence models")
    .showHelpAfterError()
    .exitOverride((err) => {
      throw err;
    });
  for (const register of SUBCOMMANDS) register(program);
  return program;
};

/** True when this file is the program node was asked to run (directly, through tsx, or through a bin link). */
/** True when the module at `moduleUrl` is the script node was started with (also through a bin symlink). */
export const isMainModule = (moduleUrl: string): boolean => {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
};

if (isMainModule(import.meta.url)) {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    // commander already printed help/version/usage errors; keep its exit code (0 for --help)
    if (typeof e.exitCode === "number" && typeof e.code === "string" && e.code.startsWith("commander.")) process.exitCode = e.exitCode;
    else throw err;
  }
}
