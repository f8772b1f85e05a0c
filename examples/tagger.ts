/**
 * Name tagging with the course's many-to-many RNN (T_x = T_y), and why the bidirectional RNN exists.
 *
 * Sentences are generated from templates; the test sentences use first names, surnames and cities that never occur
 * in training, so a tagger has to read the context. In the course's "Teddy ... was a great President" vs "Teddy bears are
 * on sale" the words that decide come AFTER the name: a left-to-right RNN must tag "Teddy" before reading them, a
 * BRNN has read them. Both taggers get the same cell, size, data, optimizer, budget and seed; the figures are
 * entity-level F1 on the test part, overall and by where the cue is.
 *
 *   npx tsx examples/tagger.ts                 # 6000 training sentences, up to 10 epochs, both directions (the same run as `seqgrad train tagger --epochs 10`)
 *   npx tsx examples/tagger.ts --train 1000 --epochs 3
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { realpathSync } from "node:fs";
import { adam, randomKey, splitKey, type Key } from "../index.js";
import {
  createTagger, nerDataset, taggerBatches, taggerEvalFn, taggerVocabulary, train,
  type TaggerBatch, type TaggerEvaluation, type TaggerParams,
} from "../models/index.js";

export interface TaggerExampleOptions {
  readonly train?: number;
  readonly valid?: number;
  readonly test?: number;
  readonly hidden?: number;
  readonly epochs?: number;
  readonly seed?: number;
  readonly progress?: boolean | "auto";
  readonly log?: (line: string) => void;
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

/** Sentences whose first word's role is decided only by what follows; the names in them are not in any list. */
const SHOWCASE = [
  "Teddy Zwicklebottom said that the castle was old .",
  "Teddy bears are on sale .",
  "Quorra Blandings is a wizard who lives in Paris .",
  "Rovaniemi is a lovely city .",
  "Yesterday I met Quorra at the market .",
].map((s) => s.split(" "));

/** Trains a unidirectional and a bidirectional tagger and returns their test evaluations. */
export const main = async (options: TaggerExampleOptions = {}): Promise<Record<"uni" | "bi", TaggerEvaluation>> => {
  const log = options.log ?? ((l: string) => console.log(l));
  const [kData, kInit, kTrain] = splitKey(randomKey(options.seed ?? 0), 3) as [Key, Key, Key];
  // 1. Data: the test part's names, surnames and places are held out of training entirely.
  const data = nerDataset(kData, { sizes: { train: options.train ?? 6000, valid: options.valid ?? 1000, test: options.test ?? 2000 } });
  // 2. A lower-cased word vocabulary of the training sentences (rare words, like most names, stay <unk>).
  const vocab = taggerVocabulary(data.train, { minCount: 2 });
  log(`${data.train.length} train / ${data.valid.length} valid / ${data.test.length} test sentences, V = ${vocab.size}`);
  const results = {} as Record<"uni" | "bi", TaggerEvaluation>;
  for (const direction of ["uni", "bi"] as const) {
    // 3. The model: embedding + case feature → GRU (or the BRNN of two GRUs) → σ(w·a<t> + b) at every step.
    const model = createTagger(vocab, { cell: "gru", hidden: options.hidden ?? 32, embedDim: 32, bidirectional: direction === "bi" });
    // 4. Training: Adam, clipping, word dropout, early stop on the validation loss (best epoch restored).
    const r = await train({
      params: model.init(kInit),
      optimizer: adam(3e-3),
      lossFn: (p: TaggerParams, b: TaggerBatch) => model.loss(p, b),
      batches: taggerBatches(model, data.train, 32, { unkRate: 0.1 }),
      epochs: options.epochs ?? 10,
      key: kTrain,
      clip: 5,
      evalFn: taggerEvalFn(model, data.valid),
      earlyStop: { patience: 3 },
      progress: options.progress ?? "auto",
      label: direction,
      onEpoch: (e) => log(`${direction} epoch ${e.epoch}: train ${e.trainLoss.toFixed(4)}, valid ${e.validLoss?.toFixed(4)}, valid entity F1 ${e.metrics?.entityF1?.toFixed(4)}`),
    });
    // 5. Held-out figures, and the showcase sentences.
    const e = model.evaluate(r.params, data.test);
    results[direction] = e;
    log(`${direction === "bi" ? "bidirectional " : "unidirectional"} test entity F1 ${pct(e.entity.f1)} (P ${pct(e.entity.precision)}, R ${pct(e.entity.recall)}); ` +
      Object.entries(e.byCue).map(([cue, s]) => `${cue} ${pct(s.f1)}`).join(", "));
    const tags = model.predict(r.params, SHOWCASE);
    SHOWCASE.forEach((s, i) => log(`   ${s.map((w, t) => (tags[i]![t] ? `[${w}]` : w)).join(" ")}`));
  }
  return results;
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
      train: { type: "string" }, valid: { type: "string" }, test: { type: "string" }, hidden: { type: "string" }, epochs: { type: "string" }, seed: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log("usage: npx tsx examples/tagger.ts [--train 6000] [--valid 1000] [--test 2000] [--hidden 32] [--epochs 10] [--seed 0]");
  } else {
    const n = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    const opts: Record<string, number | undefined> = { train: n(values.train), valid: n(values.valid), test: n(values.test), hidden: n(values.hidden), epochs: n(values.epochs), seed: n(values.seed) };
    await main(Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as TaggerExampleOptions);
  }
}
