import { afterEach, describe, expect, it, vi } from "vitest";
import { buildProgram, intOption } from "../../cli/seqgrad.js";

const capture = async (args: string[]) => {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await buildProgram().parseAsync(args, { from: "user" });
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
  return out.join("");
};

afterEach(() => {
  process.exitCode = undefined;
});

describe("seqgrad proofs", () => {
  it("prints a table with a row per selected suite and leaves the exit code at 0 when all pass", async () => {
    const text = await capture(["proofs", "--only", "logSoftmax", "--runs", "3", "--seed", "5"]);
    expect(text).toMatch(/^logSoftmax\s+softmax\s+3\s.*pass$/m);
    expect(text).toMatch(/^logSoftmax \(2nd order\)\s+second-order\s+3\s.*pass$/m);
    expect(text).toContain("all 2 suites passed (seed 5");
    expect(process.exitCode ?? 0).toBe(0);
  });

  it("prints JSON with --json", async () => {
    const j = JSON.parse(await capture(["proofs", "--only", "neg", "--runs", "2", "--json"]));
    expect(j.ok).toBe(true);
    expect(j.seed).toBe(42);
    expect(j.results.map((r: { name: string }) => r.name)).toEqual(["neg"]);
    expect(j.results[0].runs).toBe(2);
  });

  it("exits with code 2 when --only matches no suite", async () => {
    await capture(["proofs", "--only", "no-such-suite"]);
    expect(process.exitCode).toBe(2);
  });

  it("rejects a --runs that is not a positive integer", async () => {
    await expect(capture(["proofs", "--runs", "0"])).rejects.toThrow(/--runs must be an integer >= 1/);
    expect(() => intOption("--runs", 1)("2.5")).toThrow(/--runs must be an integer >= 1, got "2.5"/);
  });

  it("lists the proofs command in --help", async () => {
    const program = buildProgram();
    let help = "";
    program.configureOutput({ writeOut: (s) => (help += s) });
    await expect(program.parseAsync(["--help"], { from: "user" })).rejects.toMatchObject({ code: "commander.helpDisplayed" });
    expect(help).toMatch(/proofs \[options\]/);
  });
});
