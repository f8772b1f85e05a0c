/**
 * Conditional generation (one-to-many), as the course's music generator takes a genre: the label (female or
 * male) is the first input x<1>, then the name comes out letter by letter with x<t> = y<t-1>. After training,
 * the same model samples names for either label, and scores a name under each label.
 *
 *   npx tsx examples/names.ts [epochs = 5]
 */
import { fileURLToPath } from "node:url";
import { randomKey, splitKey } from "../index.js";
import { asExamples, createNameGenerator, fitLanguageModel, labelAccuracy, namesData, sampleNames, type CellKind } from "../models/index.js";

export interface NamesExampleOptions {
  readonly cell?: CellKind;
  readonly hidden?: number;
  readonly epochs?: number;
  /** Train on only the first n labelled training names. */
  readonly limit?: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

/** Trains the conditional model; returns samples per label and the label accuracy on the test names. */
export const main = async (options: NamesExampleOptions = {}) => {
  const { cell = "lstm", hidden = 64, epochs = 5, seed = 0, log = console.log } = options;
  const data = namesData();
  const trainSet = options.limit === undefined ? data.labelled.train : data.labelled.train.slice(0, options.limit);
  const model = createNameGenerator(data.vocab, { cell, hidden });
  const [fitKey, femaleKey, maleKey] = splitKey(randomKey(seed), 3);
  const result = await fitLanguageModel(model, {
    train: asExamples(trainSet), valid: asExamples(data.labelled.valid), epochs, key: fitKey!, kind: "names",
    onEpoch: (e) => log(`epoch ${e.epoch}: train ${e.trainLoss.toFixed(4)}, valid ${e.validLoss?.toFixed(4)} nats/char`),
  });
  const samples = {
    female: sampleNames(model, result.params, femaleKey!, "female", 10),
    male: sampleNames(model, result.params, maleKey!, "male", 10),
  };
  log(`female: ${samples.female.join(", ")}`);
  log(`male:   ${samples.male.join(", ")}`);
  for (const name of ["maria", "robert"])
    log(`log P(${name} | female) = ${model.logProb(result.params, name, { label: "female" }).nats.toFixed(3)}, log P(${name} | male) = ${model.logProb(result.params, name, { label: "male" }).nats.toFixed(3)}`);
  const accuracy = labelAccuracy(model, result.params, data.labelled.test);
  log(`label recovered from the name (arg max over labels of P(name | label)) on test names: ${(100 * accuracy).toFixed(1)}%`);
  return { samples, accuracy, history: result.history };
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const epochs = Number(process.argv[2] ?? 5);
  if (process.argv.includes("--help") || !Number.isInteger(epochs) || epochs < 1) console.log("usage: npx tsx examples/names.ts [epochs = 5]");
  else await main({ epochs });
}
