import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { main } from "../../examples/g2p.js";
import { PHONEMES } from "../../models/g2p.js";

describe("examples/g2p", () => {
  it("trains on a few hundred words, then prints greedy and beam PER/WER on held-out words", async () => {
    const lines: string[] = [];
    const r = await main({ trainWords: 192, epochs: 2, batch: 64, hidden: 16, embed: 8, validWords: 8, testWords: 12, beam: 3, progress: false, log: (l) => lines.push(l) });
    expect(r.trainLosses).toHaveLength(2);
    expect(r.trainLosses[1]!).toBeLessThan(r.trainLosses[0]!);
    for (const e of [r.greedy, r.beam]) {
      expect(e.words).toBe(12);
      expect(e.per).toBeGreaterThan(0);
      expect(e.wer).toBeGreaterThan(0);
      expect(e.wer).toBeLessThanOrEqual(1);
      for (const p of e.predictions) expect(p.every((x) => PHONEMES.includes(x))).toBe(true);
    }
    expect(lines.some((l) => /^greedy +PER \d+\.\d\d%  WER \d+\.\d\d%/.test(l))).toBe(true);
    expect(lines.some((l) => /^beam 3 +PER \d+\.\d\d%  WER \d+\.\d\d%/.test(l))).toBe(true);
    expect(lines.filter((l) => /^epoch \d: train NLL\/phoneme/.test(l))).toHaveLength(2);
    expect(r.examples).toHaveLength(8);
  }, 60_000);

  it("imports only from the package entry points, as a user's copy would", () => {
    const src = readFileSync(new URL("../../examples/g2p.ts", import.meta.url), "utf8");
    const specifiers = [...src.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    for (const s of specifiers) expect(["node:util", "node:url", "node:fs", "../index.js", "../models/index.js"]).toContain(s);
  });
});
