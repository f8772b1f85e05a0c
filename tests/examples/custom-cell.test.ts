import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { formatCellReport } from "../../proofs/checkCell.js";
import { cifgCell, main } from "../../examples/custom-cell.js";
import { checkCell } from "../../proofs/checkCell.js";

describe("examples/custom-cell", () => {
  it("trains a user-defined cell until the loss falls, and checkCell passes on it", () => {
    const lines: string[] = [];
    const { losses, report } = main({ steps: 40, log: (l) => lines.push(l) });
    expect(losses).toHaveLength(40);
    // Measured with these settings: 11.97 at step 0 (chance is 11·ln 3 = 12.08), 6.58 at step 39.
    expect(losses[0]!).toBeGreaterThan(11);
    expect(losses[39]!).toBeLessThan(0.8 * losses[0]!);
    expect(report.ok, formatCellReport(report)).toBe(true);
    expect(report.options.secondOrder).toBe(true);
    expect(lines.some((l) => l.startsWith("checkCell(CIFG (user cell)): ok"))).toBe(true);
    expect(lines.some((l) => /^loss \d+\.\d+ -> \d+\.\d+/.test(l))).toBe(true);
  });

  it("imports only from the package entry points, as a user's copy would", () => {
    const src = readFileSync(new URL("../../examples/custom-cell.ts", import.meta.url), "utf8");
    const specifiers = [...src.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    for (const s of specifiers) expect(["node:url", "../index.js", "../layers/index.js", "../proofs/index.js"]).toContain(s);
  });

  it("runs its cell through the same battery a library cell gets, with a different seed", () => {
    const r = checkCell(cifgCell, { seed: 11, steps: 4, batch: 3 });
    expect(r.ok, formatCellReport(r)).toBe(true);
  });
});
