import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { main } from "../../examples/char-lm.js";

describe("examples/char-lm", () => {
  it("trains briefly, compares with the bigram on test names, scores and samples", async () => {
    const lines: string[] = [];
    const r = await main({ cell: "gru", hidden: 8, epochs: 2, limit: 400, progress: false, log: (l) => lines.push(l) });
    expect(r.history).toHaveLength(2);
    expect(r.history[1]!.validLoss!).toBeLessThan(r.history[0]!.validLoss!);
    expect(r.samples).toHaveLength(10);
    expect(Number.isFinite(r.testNll) && Number.isFinite(r.bigramNll)).toBe(true);
    expect(lines.some((l) => /^log P\(anna\) = -\d+\.\d{3} nats$/.test(l))).toBe(true);
    expect(lines.some((l) => /^test NLL per char: gru \d\.\d{4}, bigram \d\.\d{4}$/.test(l))).toBe(true);
  });

  it("imports only from the package entry points, as a user's copy would", () => {
    const src = readFileSync(new URL("../../examples/char-lm.ts", import.meta.url), "utf8");
    const specifiers = [...src.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    for (const s of specifiers) expect(["node:url", "../index.js", "../layers/index.js", "../models/index.js"]).toContain(s);
  });
});
