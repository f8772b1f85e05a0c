import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import { buildProgram } from "../../cli/seqgrad.js";
import { runDemo } from "../../cli/demo.js";

const dir = mkdtempSync(join(tmpdir(), "seqgrad-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

/** Runs the program in-process; returns stdout, and the commander error code if it exited (help, bad option). */
const run = async (args: string[]): Promise<{ out: string; code?: string }> => {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await buildProgram().parseAsync(args, { from: "user" });
    return { out: out.join("") };
  } catch (e) {
    if (e instanceof CommanderError) return { out: out.join(""), code: e.code };
    throw e;
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
};

describe("seqgrad train / sample / score / eval", () => {
  const ckpt = join(dir, "lm.safetensors");

  it("prints help for every new subcommand", async () => {
    for (const args of [["train", "--help"], ["train", "lm", "--help"], ["train", "names", "--help"], ["sample", "--help"], ["score", "--help"], ["eval", "--help"]]) {
      const r = await run(args);
      expect(r.code, args.join(" ")).toBe("commander.helpDisplayed");
      expect(r.out, args.join(" ")).toContain("Usage: seqgrad");
    }
    expect((await run(["train", "lm", "--help"])).out).toContain("--cell <cell>");
  });

  it("rejects a bad option value with a message naming it", async () => {
    const r = await run(["train", "lm", "--hidden", "0"]);
    expect(r.code).toBe("commander.invalidArgument");
  });

  it("trains a tiny names LM end to end and writes the checkpoint, the SVG curve and the split", async () => {
    const curve = join(dir, "lm.svg"), split = join(dir, "split.json");
    const { out } = await run(["train", "lm", "--cell", "gru", "--hidden", "8", "--epochs", "2", "--limit", "300", "--samples", "3", "--seed", "1", "--out", ckpt, "--curve", curve, "--export-split", split, "--quiet"]);
    expect(out).toMatch(/^names: 300 train \/ \d+ valid \/ \d+ test texts, V = 31; gru H=8, onehot$/m);
    expect(out).toMatch(/^epoch +2 +train \d\.\d{4} +valid \d\.\d{4}/m);
    expect(out).toMatch(/^test NLL per char \(nats, <eos> included\): model \d\.\d{4} .*add-k bigram \(k = [\d.]+\) \d\.\d{4}/m);
    expect(out).toMatch(/^samples: [a-z-]* \| [a-z-]* \| [a-z-]*$/m);
    expect(existsSync(ckpt)).toBe(true);
    expect(readFileSync(curve, "utf8")).toContain("<polyline");
    const s = JSON.parse(readFileSync(split, "utf8"));
    expect(s.train).toHaveLength(300);
    expect(s.vocabulary.tokens.slice(0, 4)).toEqual(["<pad>", "<unk>", "<bos>", "<eos>"]);
    expect(s.training).toMatchObject({ lr: 0.01, epochs: 2, batchSize: 64, clip: 5 });
  });

  it("samples, scores and evaluates from the checkpoint", async () => {
    const sampled = (await run(["sample", ckpt, "-n", "4", "--seed", "3"])).out.trimEnd().split("\n");
    expect(sampled).toHaveLength(4);
    for (const s of sampled) expect(s).toMatch(/^[a-z-]*$/);
    expect((await run(["sample", ckpt, "-n", "2", "--temperature", "0", "--prefix", "ma"])).out.trimEnd().split("\n")).toEqual(expect.arrayContaining([expect.stringMatching(/^ma/)]));

    const scored = (await run(["score", ckpt, "--json", "anna", "xqzt"])).out;
    const rows = JSON.parse(scored) as { text: string; nats: number; bits: number; tokens: number }[];
    expect(rows.map((r) => r.text)).toEqual(["anna", "xqzt"]);
    expect(rows[0]!.tokens).toBe(5);
    expect(rows[0]!.bits).toBeCloseTo(rows[0]!.nats / Math.LN2, 9);
    expect((await run(["score", ckpt, "anna", "xqzt"])).out).toContain('most probable: "anna"');

    const e = JSON.parse((await run(["eval", ckpt, "--json"])).out);
    expect(e).toMatchObject({ data: "names", split: "test", epochs: 2, cell: "gru", hidden: 8 });
    expect(e.nllPerToken).toBeGreaterThan(1);
    expect(e.nllPerToken).toBeLessThan(Math.log(31));
    expect(e.bigramNllPerToken).toBeGreaterThan(1);
  });

  it("trains the conditional names model and prints samples per label", async () => {
    const { out } = await run(["train", "names", "--hidden", "8", "--epochs", "1", "--limit", "200", "--samples", "2", "--quiet"]);
    expect(out).toMatch(/^test NLL per char given the label: \d\.\d{4}; label accuracy .* \d+\.\d%$/m);
    expect(out).toMatch(/^female: [a-z-]*, [a-z-]*$/m);
    expect(out).toMatch(/^male: [a-z-]*, [a-z-]*$/m);
  });
});

describe("the npm start demo", () => {
  it("prints the data, the bigram baseline, per-epoch lines, the comparison and ten samples", async () => {
    const lines: string[] = [];
    const r = await runDemo({ epochs: 1, hidden: 8, cell: "gru", seed: 0, noProofs: true, progress: false, write: (l) => lines.push(l) });
    const text = lines.join("\n");
    expect(text).toMatch(/^baseline: add-k bigram/m);
    expect(text).toMatch(/^ {2}epoch 1: train \d\.\d{4}, valid \d\.\d{4} nats\/char/m);
    expect(text).toMatch(/^test NLL per character .*: gru \d\.\d{4} {2}vs {2}bigram \d\.\d{4}/m);
    expect(r.samples).toHaveLength(10);
    expect(r.proofsOk).toBeNull();
    expect(r.bigramNll).toBeGreaterThan(2);
  });
});
