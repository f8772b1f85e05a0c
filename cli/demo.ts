#!/usr/bin/env node
/**
 * `npm start`: a short tour on the first-names data the package ships. It splits the names 80/10/10, fits
 * the add-k bigram baseline, trains a character-level LSTM language model for a few epochs (with a progress
 * bar on a terminal), compares their test NLL per character, samples ten names, and proves the gradients
 * (the same suites as `seqgrad proofs`). About a minute on two cores.
 */
import { Command, Option } from "commander";
import { randomKey } from "../core/random.js";
import { tuneBigram } from "../models/bigram.js";
import { createLanguageModel, fitLanguageModel, type CellKind } from "../models/languageModel.js";
import { namesData } from "../models/names.js";
import { runSuites, DEFAULT_SEED } from "../proofs/runner.js";
import { intOption, isMainModule } from "./seqgrad.js";

export interface DemoOptions {
  readonly epochs: number;
  readonly hidden: number;
  readonly cell: CellKind;
  readonly seed: number;
  /** Skip the gradient proofs. */
  readonly noProofs?: boolean;
  /** Progress bar (default: on a terminal). */
  readonly progress?: boolean;
  readonly write?: (line: string) => void;
}

/** Runs the demo and returns its figures. */
export const runDemo = async (o: DemoOptions): Promise<{ modelNll: number; bigramNll: number; samples: string[]; proofsOk: boolean | null }> => {
  const say = o.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const t0 = performance.now();
  say("seqgrad demo: a character-level language model of first names, trained by differentiating the unrolled RNN");
  const data = namesData();
  const { train, valid, test } = data.names;
  say(`data: ${train.length + valid.length + test.length} distinct names (female + male lists), split 80/10/10 by a stable hash: ${train.length} train, ${valid.length} valid, ${test.length} test; ${data.vocab.size} tokens (${data.vocab.corpusTokens.join("")} and <pad> <unk> <bos> <eos>)`);

  const bigram = tuneBigram(data.vocab, train, valid);
  const bigramNll = bigram.nllPerToken(test);
  say(`baseline: add-k bigram (k = ${bigram.k}, chosen on valid): test NLL ${bigramNll.toFixed(4)} nats/char`);

  const model = createLanguageModel(data.vocab, { cell: o.cell, hidden: o.hidden });
  say(`training: ${o.cell} H=${o.hidden}, one-hot x<t> = y<t-1>, Adam lr 0.01, batches of 64, clip 5, ${o.epochs} epochs`);
  const asEx = (xs: readonly string[]) => xs.map((text) => ({ text }));
  const r = await fitLanguageModel(model, {
    train: asEx(train), valid: asEx(valid), epochs: o.epochs, lr: 0.01, batchSize: 64, clip: 5, key: randomKey(o.seed), label: o.cell,
    ...(o.progress !== undefined ? { progress: o.progress } : {}),
    onEpoch: (e) => say(`  epoch ${e.epoch}: train ${e.trainLoss.toFixed(4)}, valid ${e.validLoss?.toFixed(4)} nats/char, ${e.seconds.toFixed(1)} s, ${Math.round(e.tokensPerSecond ?? 0)} tokens/s`),
  });
  const modelNll = model.evaluate(r.params, asEx(test)).nllPerToken;
  say(`test NLL per character (nats, <eos> included): ${o.cell} ${modelNll.toFixed(4)}  vs  bigram ${bigramNll.toFixed(4)}  (${modelNll < bigramNll ? "the RNN wins by" : "the bigram wins by"} ${Math.abs(bigramNll - modelNll).toFixed(4)})`);

  const samples = model.sampleMany(r.params, randomKey(o.seed + 1), 10, { maxLength: 20 });
  say(`ten sampled names (temperature 1, <unk> rejected): ${samples.join(", ")}`);

  let proofsOk: boolean | null = null;
  if (!o.noProofs) {
    const summary = runSuites(undefined, { seed: DEFAULT_SEED });
    proofsOk = summary.ok;
    say(`proofs: ${summary.ok ? "all" : `${summary.failed.length} of`} ${summary.suites} gradient suites ${summary.ok ? "passed" : "FAILED"} against central finite differences in float64 (${(summary.totalMs / 1000).toFixed(1)} s; details: npx seqgrad proofs)`);
  }
  say(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s. Next: npx seqgrad train lm --help`);
  return { modelNll, bigramNll, samples, proofsOk };
};


if (isMainModule(import.meta.url)) {
  const program = new Command("seqgrad-demo")
    .description("a short demo: names LM vs bigram, ten samples, the proof summary")
    .option("--epochs <n>", "training epochs", intOption("--epochs", 1), 3)
    .option("--hidden <n>", "hidden size", intOption("--hidden", 1), 64)
    .addOption(new Option("--cell <cell>", "recurrent cell").choices(["rnn", "gru", "lstm"]).default("lstm"))
    .option("--seed <n>", "PRNG seed", intOption("--seed", 0), 0)
    .option("--no-proofs", "skip the gradient proofs")
    .action(async (opts: { epochs: number; hidden: number; cell: CellKind; seed: number; proofs: boolean }) => {
      const r = await runDemo({ epochs: opts.epochs, hidden: opts.hidden, cell: opts.cell, seed: opts.seed, noProofs: !opts.proofs });
      if (r.proofsOk === false) process.exitCode = 1;
    });
  await program.parseAsync(process.argv);
}
