import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { main } from "../../examples/names.js";

describe("examples/names", () => {
  it("trains the label-conditioned generator briefly and samples ten names per label", async () => {
    const lines: string[] = [];
    const r = await main({ cell: "gru", hidden: 8, epochs: 1, limit: 300, log: (l) => lines.push(l) });
    expect(r.samples.female).toHaveLength(10);
    expect(r.samples.male).toHaveLength(10);
    for (const n of [...r.samples.female, ...r.samples.male]) expect(n).toMatch(/^[a-z-]*$/);
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.accuracy).toBeLessThanOrEqual(1);
    expect(lines.some((l) => /^log P\(maria \| female\) = -\d+\.\d{3}, log P\(maria \| male\) = -\d+\.\d{3}$/.test(l))).toBe(true);
  });

  it("imports only from the package entry points, as a user's copy would", () => {
    const src = readFileSync(new URL("../../examples/names.ts", import.meta.url), "utf8");
    const specifiers = [...src.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    for (const s of specifiers) expect(["node:url", "../index.js", "../layers/index.js", "../models/index.js"]).toContain(s);
  });
});
