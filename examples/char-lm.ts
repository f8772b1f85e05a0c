/**
 * A character-level language model of first names, written out with the library's pieces so you can copy
 * and change any of them: the vocabulary, the batches, the model, the training loop, the bigram baseline,
 * scoring and sampling.
 *
 *   npx tsx examples/char-lm.ts            (about a minute per epoch on a busy laptop core; see --help)
 *
 * The model is the course's: x<1> = 0, x<t> = one-hot(y<t-1>), a<t> = cell(a<t-1>, x<t>),
 * ŷ<t> = softmax(W_ya a<t> + b_y), trained on L = Σ_t -log ŷ<t>[y<t>] (per token) with <eos> as the last target.
 */
import { fileURLToPath } from "node:url";
import { randomKey, splitKey } from "../index.js";
import { adam } from "../layers/index.js";
import { bindLanguageModel, createLanguageModel, lmBatches, lmEvalFn, namesData, train, tuneBigram, type CellKind } from "../models/index.js";

export interface CharLmOptions {
  readonly cell?: CellKind;
  readonly hidden?: number;
  readonly epochs?: number;
  /** Train on only the first n training names (for a quick look). */
  readonly limit?: number;
  readonly seed?: number;
  readonly progress?: boolean;
  readonly log?: (line: string) => void;
}

/** Trains the LM and returns its test NLL per character, the bigram's, the loss history and ten samples. */
export const main = async (options: CharLmOptions = {}) => {
  const { cell = "lstm", hidden = 64, epochs = 5, seed = 0, log = console.log } = options;
  // 1. Data: names split 80/10/10 by a stable hash; the character vocabulary of the training names.
  const data = namesData();
  const trainNames = options.limit === undefined ? data.names.train : data.names.train.slice(0, options.limit);
  const asExamples = (xs: readonly string[]) => xs.map((text) => ({ text }));
  log(`vocabulary: ${data.vocab.size} tokens; ${trainNames.length} training names`);

  // 2. The model: a record of pure functions over a params tree.
  const model = createLanguageModel(data.vocab, { cell, hidden });
  const [initKey, trainKey, sampleKey] = splitKey(randomKey(seed), 3);

  // 3. The training loop: any params, any scalar loss. Batches are reshuffled from each epoch's key.
  const result = await train({
    params: model.init(initKey!),
    optimizer: adam(0.01),
    lossFn: (params, batch) => model.loss(params, batch),
    batches: lmBatches(model, asExamples(trainNames), 64),
    epochs,
    key: trainKey!,
    clip: 5,
    evalFn: lmEvalFn(model, asExamples(data.names.valid)),
    tokensOf: (batch) => batch.tokens,
    ...(options.progress !== undefined ? { progress: options.progress } : {}),
    onEpoch: (e) => log(`epoch ${e.epoch}: train ${e.trainLoss.toFixed(4)}, valid ${e.validLoss?.toFixed(4)} nats/char`),
  });

  // 4. Compare with the count-based baseline on held-out names.
  const lm = bindLanguageModel(model, result.params);
  const test = lm.evaluate(asExamples(data.names.test));
  const bigram = tuneBigram(data.vocab, trainNames, data.names.valid);
  const bigramNll = bigram.nllPerToken(data.names.test);
  log(`test NLL per char: ${cell} ${test.nllPerToken.toFixed(4)}, bigram ${bigramNll.toFixed(4)}`);

  // 5. Score and sample.
  for (const name of ["anna", "xqzt"]) log(`log P(${name}) = ${lm.logProb(name).nats.toFixed(3)} nats`);
  const samples = lm.sampleMany(sampleKey!, 10, { maxLength: 20 });
  log(`samples: ${samples.join(", ")}`);
  return { testNll: test.nllPerToken, bigramNll, history: result.history, samples };
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const epochs = Number(process.argv[2] ?? 5);
  if (process.argv.includes("--help") || !Number.isInteger(epochs) || epochs < 1) console.log("usage: npx tsx examples/char-lm.ts [epochs = 5]");
  else await main({ epochs });
}
