import { describe, expect, it } from "vitest";
import { Command } from "commander";
import { registerTrainG2p } from "../../cli/trainG2p.js";

const program = (): { program: Command; output: string[] } => {
  const output: string[] = [];
  const p = new Command("seqgrad").exitOverride().configureOutput({ writeOut: (s) => void output.push(s), writeErr: (s) => void output.push(s) });
  const train = p.command("train").exitOverride().configureOutput({ writeOut: (s) => void output.push(s), writeErr: (s) => void output.push(s) });
  registerTrainG2p(train);
  for (const c of train.commands) c.exitOverride().configureOutput({ writeOut: (s) => void output.push(s), writeErr: (s) => void output.push(s) });
  return { program: p, output };
};

describe("seqgrad train g2p", () => {
  it("documents its budget options in --help", async () => {
    const { program: p, output } = program();
    await expect(p.parseAsync(["node", "seqgrad", "train", "g2p", "--help"])).rejects.toMatchObject({ code: "commander.helpDisplayed" });
    const help = output.join("");
    for (const flag of ["--hidden", "--epochs", "--words-per-epoch", "--beam", "--attention", "--stress", "--out", "--from"]) expect(help).toContain(flag);
  });

  it("refuses a zero beam width and an unknown attention with the option named", async () => {
    const a = program();
    await expect(a.program.parseAsync(["node", "seqgrad", "train", "g2p", "--beam", "0"])).rejects.toMatchObject({ code: "commander.invalidArgument" });
    expect(a.output.join("")).toMatch(/--beam must be an integer >= 1/);
    const b = program();
    await expect(b.program.parseAsync(["node", "seqgrad", "train", "g2p", "--attention", "bahdanau"])).rejects.toMatchObject({ code: "commander.invalidArgument" });
    expect(b.output.join("")).toMatch(/none, bilinear/);
  });
});
