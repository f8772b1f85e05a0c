/**
 * First names: the data recipes shared by the character-level LM and conditional generation, and the
 * conditional name generator (one-to-many): the label (female/male) is fed as x<1>, like the course's
 * music-genre input, then x<t> = y<t-1> as in any LM, so the model learns P(name | label).
 *
 * Both use the same deterministic split: `hashSplit` on the lower-cased name, so a name listed as female and
 * as male falls in the same part and nothing leaks from training into the test figures.
 */
import { ArgumentError } from "../core/errors.js";
import { describe } from "../core/shape.js";
import type { Key } from "../core/random.js";
import { hashSplit, loadNames, NAME_LABELS, type LabelledName, type NameLabel, type Splits } from "./data.js";
import { createLanguageModel, type CellKind, type LanguageModel, type LanguageModelParams, type SampleOptions, type TextExample } from "./languageModel.js";
import { Vocabulary } from "./vocabulary.js";

/** The salt of the names split (changing it changes every figure reported on the split). */
export const NAMES_SPLIT_SALT = "seqgrad-names-v1:";

/** Labelled names split 80/10/10 by a stable hash of the name, and the character vocabulary of the training part. */
export interface NamesData {
  readonly labelled: Splits<LabelledName>;
  /** Unique names per part (for the unconditional LM). */
  readonly names: Splits<string>;
  /** Character vocabulary built from the training names. */
  readonly vocab: Vocabulary;
}

const unique = (xs: readonly LabelledName[]): string[] => [...new Set(xs.map((x) => x.text))];

/** `namesData(names?)`: the split and vocabulary every names model and figure uses (loads the npm datasets by default). */
export const namesData = (names: readonly LabelledName[] = loadNames()): NamesData => {
  const labelled = hashSplit(names, (n) => n.text, { salt: NAMES_SPLIT_SALT });
  const split = { train: unique(labelled.train), valid: unique(labelled.valid), test: unique(labelled.test) };
  return { labelled, names: split, vocab: Vocabulary.buildOrThrow(split.train, { level: "char" }) };
};

/** Options of `createNameGenerator`. */
export interface NameGeneratorConfig {
  readonly cell: CellKind;
  readonly hidden: number | readonly number[];
}

/** `createNameGenerator(vocab, config)`: a character LM conditioned on the label, x<1> = onehot(label). */
export const createNameGenerator = (vocab: Vocabulary, config: NameGeneratorConfig): LanguageModel =>
  createLanguageModel(vocab, { cell: config.cell, hidden: config.hidden, input: "onehot", labels: NAME_LABELS });

/** Labelled names as LM examples `{ text, label }`. */
export const asExamples = (names: readonly LabelledName[]): TextExample[] => names.map((n) => ({ text: n.text, label: n.label }));

/** `sampleNames(model, params, key, label, n)`: n names drawn from P(name | label). */
export const sampleNames = (model: LanguageModel, params: LanguageModelParams, key: Key, label: NameLabel, n: number, options: Omit<SampleOptions, "label"> = {}): string[] => {
  if (!NAME_LABELS.includes(label)) throw new ArgumentError("sampleNames", "label", `must be ${NAME_LABELS.map((l) => JSON.stringify(l)).join(" or ")}, got ${describe(label)}`);
  return model.sampleMany(params, key, n, { maxLength: 20, ...options, label });
};

/**
 * `labelAccuracy(model, params, examples)`: how often arg max_label P(name | label) is the name's own label,
 * a check that the label input is used (0.5 would mean it is ignored on a balanced set).
 */
export const labelAccuracy = (model: LanguageModel, params: LanguageModelParams, examples: readonly LabelledName[]): number => {
  if (examples.length === 0) throw new ArgumentError("labelAccuracy", "examples", "must not be empty");
  const scores = NAME_LABELS.map((label) => model.logProbs(params, examples.map((e) => ({ text: e.text, label }))));
  let right = 0;
  examples.forEach((e, i) => {
    const best = scores[0]![i]!.nats >= scores[1]![i]!.nats ? NAME_LABELS[0] : NAME_LABELS[1];
    if (best === e.label) right++;
  });
  return right / examples.length;
};
