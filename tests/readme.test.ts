import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// The README's first example is what a newcomer copies first: run it exactly as written,
// with `from "seqgrad"` pointed at this checkout.
const root = resolve(__dirname, "..");

const block = (marker: string): string => {
  const text = readFileSync(join(root, "README.md"), "utf8");
  const at = text.indexOf(marker);
  expect(at, `README.md has no ${marker} marker`).toBeGreaterThanOrEqual(0);
  const m = /```ts\n([\s\S]*?)```/.exec(text.slice(at));
  expect(m, `no ts block after ${marker}`).not.toBeNull();
  return m![1]!;
};

describe("README", () => {
  it("runs the first example as written and its gradient check passes", () => {
    const code = block("<!-- example:first").replace(/from "seqgrad"/g, `from ${JSON.stringify(join(root, "index.ts"))}`);
    const dir = mkdtempSync(join(tmpdir(), "seqgrad-readme-"));
    try {
      const file = join(dir, "first.ts");
      writeFileSync(file, code);
      const out = execFileSync(join(root, "node_modules/.bin/tsx"), [file], { encoding: "utf8", cwd: root });
      // value and ∂f/∂x printed first; compare with the closed form of f = Σ tanh(w x) σ(x)
      const xs = [0.5, -1, 2], ws = [1.5, 0.3, -0.7];
      const sig = (v: number) => 1 / (1 + Math.exp(-v));
      const value = xs.reduce((s, x, i) => s + Math.tanh(ws[i]! * x) * sig(x), 0);
      const dx = xs.map((x, i) => ws[i]! * (1 - Math.tanh(ws[i]! * x) ** 2) * sig(x) + Math.tanh(ws[i]! * x) * sig(x) * (1 - sig(x)));
      const first = out.split("\n")[0]!;
      const nums = first.match(/-?\d+(\.\d+)?(e-?\d+)?/g)!.map(Number);
      expect(nums[0]).toBeCloseTo(value, 12);
      dx.forEach((d, i) => expect(nums[1 + i]).toBeCloseTo(d, 12));
      expect(out).toMatch(/ok|pass/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
