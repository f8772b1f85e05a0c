import { describe, expect, it } from "vitest";
import { randomKey } from "../../core/random.js";
import { HOMOGRAPHS, PLACES, SURNAMES, generateNerSentences, nerDataset, nerPools, splitNerPools, templateWords, type NerSentence } from "../../models/nerData.js";
import { tokenize } from "../../models/vocabulary.js";

const FIRST = ["Harry", "Hermione", "Ronald", "Luna", "Neville", "Ginny", "Rose", "Will", "Sydney", "Florence", "Ann-Marie", "Mary Jo", "Draco", "Minerva", "Albus", "Severus", "Nymphadora", "Cedric", "Cho", "Dean", "Seamus", "Lavender", "Parvati", "Padma", "Oliver", "Katie", "Angelina", "Alicia", "Fred", "George", "Percy", "Molly", "Arthur", "Bill"];
const names = (s: NerSentence) => s.tokens.filter((_, i) => s.tags[i] === 1);

describe("nerPools and splitNerPools", () => {
  it("drops first names that are homographs, places, surnames, template words or not one word", () => {
    const p = nerPools(FIRST);
    for (const dropped of ["Rose", "Will", "Bill", "Florence", "Mary Jo"]) expect(p.firstNames).not.toContain(dropped);
    for (const kept of ["Harry", "Hermione", "Ann-Marie", "Sydney"]) expect(p.firstNames).toContain(kept);
    // Sydney is a first name here because it is not one of the PLACES; Florence is
    expect(PLACES).toContain("Florence");
    expect(p.surnames.length).toBeGreaterThan(100);
  });

  it("splits every pool into disjoint parts by a stable hash", () => {
    const a = splitNerPools(nerPools(FIRST)), b = splitNerPools(nerPools(FIRST));
    expect(a).toEqual(b);
    for (const k of ["firstNames", "surnames", "places"] as const) {
      const tr = new Set(a.train[k]);
      for (const x of [...a.valid[k], ...a.test[k]]) expect(tr.has(x)).toBe(false);
      expect(a.train[k].length + a.valid[k].length + a.test[k].length).toBe(nerPools(FIRST)[k].length);
    }
  });
});

describe("generateNerSentences", () => {
  const pools = nerPools(FIRST);
  const sents = generateNerSentences(randomKey(7), 400, pools);

  it("is a pure function of the key: same key, same sentences; another key, others", () => {
    expect(generateNerSentences(randomKey(7), 400, pools)).toEqual(sents);
    expect(generateNerSentences(randomKey(8), 50, pools)).not.toEqual(sents.slice(0, 50));
  });

  it("tags exactly the tokens that came from a name pool (first names, surnames, homographs used as names)", () => {
    const nameWords = new Set([...pools.firstNames, ...pools.surnames, ...Object.keys(HOMOGRAPHS)]);
    const placeWords = new Set(PLACES.flatMap((p) => p.split(" ")));
    for (const s of sents) {
      expect(s.tags).toHaveLength(s.tokens.length);
      s.tokens.forEach((t, i) => {
        if (s.tags[i] === 1) expect(nameWords.has(t)).toBe(true);
        if (placeWords.has(t) && !nameWords.has(t)) expect(s.tags[i]).toBe(0);
      });
    }
  });

  it("puts the cue after the entity in 'after' sentences: persons and places open them in equal measure", () => {
    const after = sents.filter((s) => s.cue === "after");
    expect(after.length).toBeGreaterThan(120); // default mix: half of 400, up to sampling noise
    let person = 0, place = 0;
    for (const s of after) {
      // the first capitalised word past the (known, lower-case-able) prefix is the entity
      const prefix = s.template.slice("after: ".length, s.template.indexOf("X")).trim();
      const at = prefix === "" ? 0 : prefix.split(" ").length;
      if (s.tags[at] === 1) person++;
      else {
        place++;
        expect(PLACES.some((p) => s.tokens.slice(at, at + p.split(" ").length).join(" ") === p)).toBe(true);
      }
    }
    expect(Math.min(person, place) / after.length).toBeGreaterThan(0.35);
  });

  it("uses each homograph both as a name and as a common word, and capitalises every first word", () => {
    const homo = sents.filter((s) => s.cue === "homograph");
    expect(homo.some((s) => s.tags[0] === 1)).toBe(true);
    expect(homo.some((s) => s.tags[0] === 0)).toBe(true);
    for (const s of homo) expect(Object.keys(HOMOGRAPHS)).toContain(s.tokens[0]);
    for (const s of sents) expect(s.tokens[0]![0]).toBe(s.tokens[0]![0]!.toUpperCase());
  });

  it("writes tokens that a word-level vocabulary reads back one for one", () => {
    for (const s of sents) expect(tokenize(s.tokens.join(" "), "word")).toEqual(s.tokens);
  });

  it("rejects empty pools and a bad mix", () => {
    expect(() => generateNerSentences(randomKey(0), 3, { ...pools, places: [] })).toThrow(/pools.places/);
    expect(() => generateNerSentences(randomKey(0), 3, pools, { mix: { after: -1, before: 0, homograph: 0 } })).toThrow(/options.mix/);
  });
});

describe("nerDataset", () => {
  it("builds test sentences whose names, surnames and places never occur in training (homographs aside)", () => {
    const d = nerDataset(randomKey(3), { sizes: { train: 300, valid: 50, test: 100 } });
    expect([d.train.length, d.valid.length, d.test.length]).toEqual([300, 50, 100]);
    const trainTokens = new Set(d.train.flatMap((s) => s.tokens));
    const homographs = new Set(Object.keys(HOMOGRAPHS));
    const testNames = d.test.flatMap(names).filter((t) => !homographs.has(t));
    expect(testNames.length).toBeGreaterThan(50);
    for (const t of testNames) expect(trainTokens.has(t)).toBe(false);
    const testPlaces = new Set(d.pools.test.places);
    for (const p of d.pools.train.places) expect(testPlaces.has(p)).toBe(false);
    // the template words are shared, so a model can read the context of an unseen name
    const words = new Set(templateWords());
    expect(d.test.flatMap((s) => s.tokens).filter((t) => words.has(t.toLowerCase())).length).toBeGreaterThan(300);
    expect(SURNAMES).toContain("Potter");
  });
});
