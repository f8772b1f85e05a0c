#!/usr/bin/env node
/**
 * The `seqgrad` command. Each subcommand is a `register*` function that adds itself to the program; a new
 * subcommand (train, sample, score, eval) is one more function appended to `SUBCOMMANDS`.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError } from "commander";
import { formatTable, runSuites, toJson, DEFAULT_SEED } from "../proofs/runner.js";

/** Parses a non-negative integer option, with an error that names the option. */
export const intOption = (name: string, min: number) => (value: string): number => {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
};

/** `seqgrad proofs`: proves every registered suite against finite differences; exit code 1 if any fails. */
export const registerProofs = (program: Command): void => {
  program
    .command("proofs")
    .description("prove every primitive's gradient (and every registered suite) against central finite differences in float64")
    .option("-r, --runs <n>", "property runs per suite (default: each suite's own count)", intOption("--runs", 1))
    .option("-s, --seed <s>", "fast-check seed shared by all suites", intOption("--seed", -(2 ** 31)), DEFAULT_SEED)
    .option("-o, --only <text>", "run only suites whose name or family contains <text>")
    .option("--json", "print the results as JSON instead of a table")
    .action((opts: { runs?: number; seed: number; only?: string; json?: boolean }) => {
      const progress = !opts.json && process.stderr.isTTY;
      const summary = runSuites(undefined, {
        ...(opts.runs !== undefined ? { runs: opts.runs } : {}),
        seed: opts.seed,
        ...(opts.only !== undefined ? { only: opts.only } : {}),
        ...(progress ? { onResult: (r, i, n) => process.stderr.write(`\r${i + 1}/${n} ${r.name}`.padEnd(40) + (i + 1 === n ? "\r".padEnd(41) + "\r" : "")) } : {}),
      });
      if (summary.suites === 0) {
        process.stderr.write(`seqgrad proofs: no suite matches --only ${JSON.stringify(opts.only)}\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(opts.json ? `${JSON.stringify(toJson(summary), null, 2)}\n` : `${formatTable(summary)}\n`);
      if (!summary.ok) process.exitCode = 1;
    });
};

/** Every subcommand, in help order. Append new ones here. */
export const SUBCOMMANDS: readonly ((program: Command) => void)[] = [registerProofs];

/** The whole command line program (exported so tests can parse arguments without spawning a process). */
export const buildProgram = (): Command => {
  const program = new Command("seqgrad")
    .description("seqgrad: functional reverse-mode autodiff for sequence models")
    .showHelpAfterError()
    .exitOverride((err) => {
      throw err;
    });
  for (const register of SUBCOMMANDS) register(program);
  return program;
};

/** True when this file is the program node was asked to run (directly, through tsx, or through a bin link). */
const isMain = (): boolean => {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
};

if (isMain()) {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    // commander already printed help/version/usage errors; keep its exit code (0 for --help)
    if (typeof e.exitCode === "number" && typeof e.code === "string" && e.code.startsWith("commander.")) process.exitCode = e.exitCode;
    else throw err;
  }
}
