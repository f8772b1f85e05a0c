/**
 * Paired, in-process comparison of two settings of one knob on one workload:
 *
 *   npx tsx bench/ab.ts --knob split-min-work --a 1048576 --b 2621440 --workload lstm --H 128
 *   npx tsx bench/ab.ts --knob threads --a 1 --b 2 --workload matmul --shape 128x128x128
 *
 * Each round runs `--steps` steps under setting a, then under b (the order alternates from round to round), in
 * one process on the same runner as `npm run bench` (bench/peers/seqgrad.ts), and takes b's time ÷ a's. Drift of
 * the machine between rounds cancels in each ratio; the median and quartiles of the ratios over `--rounds` rounds
 * are printed, with each side's median throughput. A ratio under 1 means b is faster. This is how the settings
 * in core/wasm/backend.ts are chosen; differences under a few percent need many rounds to mean anything.
 *
 * Knobs: threads (1 | 2), split-min-work (multiply-adds, setWasmSplitMinWork), skip (0 | 1, zero-step skipping),
 * and checkout: a and b are two checkouts of seqgrad (`.` for this one; another made with `git worktree add DIR
 * COMMIT`, its node_modules installed or linked), each loaded as its own copy of the library in this process, to
 * compare code against code:
 *
 *   npx tsx bench/ab.ts --knob checkout --a ../base --b . --workload gradcheck
 *
 * `--api raw` times the cell written from raw ops (bench/peers/seqgrad.ts seqgradRawPeer) instead of the library's.
 */
import { Command } from "commander";
import path from "node:path";
import { pathToFileURL } from "node:url";
import {
  resetSplitJudgement, setKernelThreads, setWasmSkipZeroSteps, setWasmSplitMinWork,
} from "../core/wasm/backend.js";
import { isMainModule } from "../cli/seqgrad.js";
import { median, workOf, type Peer, type Runner, type Workload } from "./common.js";
import { seqgradPeer, seqgradRawPeer } from "./peers/seqgrad.js";

/** Applies one value of a knob; the knobs and their parsers, by name. */
export const knobs: Record<string, (value: string) => void> = {
  threads: (v) => {
    if (v !== "1" && v !== "2") throw new Error(`bench/ab: --knob threads takes 1 or 2, got '${v}'`);
    setKernelThreads(v === "1" ? 1 : 2);
  },
  "split-min-work": (v) => {
    const n = Number(v);
    if (!(Number.isInteger(n) && n >= 0)) throw new Error(`bench/ab: --knob split-min-work takes an integer >= 0, got '${v}'`);
    setWasmSplitMinWork(n);
  },
  skip: (v) => {
    if (v !== "0" && v !== "1") throw new Error(`bench/ab: --knob skip takes 0 or 1, got '${v}'`);
    setWasmSkipZeroSteps(v === "1");
  },
};

/** The workload the options name: a matmul of `shape` (MxKxN) or a char-LM training step of `cell` with hidden `H`. */
export function workloadOf(kind: string, shape: string, H: number): Workload {
  if (kind === "matmul") {
    const dims = shape.split("x").map(Number);
    if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0))
      throw new Error(`bench/ab: --shape must be MxKxN with positive integers, got '${shape}'`);
    return { kind: "matmul", M: dims[0]!, K: dims[1]!, N: dims[2]! };
  }
  if (kind === "gradcheck") return { kind: "gradcheck", D: 10, H: 20, B: 4, eps: 1e-6 };
  if (kind === "lstm" || kind === "gru" || kind === "rnn") {
    if (!(Number.isInteger(H) && H > 0)) throw new Error(`bench/ab: --H must be a positive integer, got '${H}'`);
    return { kind: "rnnlm", cell: kind, V: 64, H, B: 32, T: 64, lr: 1e-3 };
  }
  throw new Error(`bench/ab: --workload must be matmul, lstm, gru, rnn or gradcheck, got '${kind}'`);
}

/** Quartiles (25th, 50th, 75th percentile, nearest rank) of `xs`. */
export function quartiles(xs: readonly number[]): [number, number, number] {
  const s = xs.slice().sort((p, q) => p - q);
  const at = (f: number): number => s[Math.min(s.length - 1, Math.max(0, Math.round(f * (s.length - 1))))]!;
  return [at(0.25), median(s), at(0.75)];
}

/** A file of the checkout at `dir` (its path parts given from the checkout's root), as a URL to import. */
export const checkoutUrl = (dir: string, ...parts: string[]): string => pathToFileURL(path.join(path.resolve(dir), ...parts)).href;

/** The peer file of the checkout at `dir`, as a URL to import. */
export const checkoutPeerUrl = (dir: string): string => checkoutUrl(dir, "bench", "peers", "seqgrad.ts");

/** One side of a comparison: what to do before its run, and the runner to time. */
interface Side {
  readonly select: () => void;
  readonly runner: Runner;
}

/** Both sides: one runner under two settings of a knob, or one runner per checkout (each its own copy of seqgrad). */
async function sidesOf(knob: string, a: string, b: string, w: Workload, api: string, threads: string): Promise<[Side, Side]> {
  if (knob === "checkout") {
    const side = async (dir: string): Promise<Side> => {
      const peers = (await import(checkoutPeerUrl(dir))) as { seqgradPeer: Peer; seqgradRawPeer: Peer };
      const backend = (await import(checkoutUrl(dir, "core", "wasm", "backend.ts"))) as typeof import("../core/wasm/backend.js");
      backend.setKernelThreads(threads === "1" ? 1 : 2);
      const r = await (api === "raw" ? peers.seqgradRawPeer : peers.seqgradPeer)(w);
      if ("skip" in r) throw new Error(`bench/ab: ${dir} skips this workload: ${r.skip}`);
      return { select: () => backend.resetSplitJudgement(), runner: r };
    };
    return [await side(a), await side(b)];
  }
  const apply = knobs[knob];
  if (!apply) throw new Error(`bench/ab: --knob must be one of ${[...Object.keys(knobs), "checkout"].join(", ")}, got '${knob}'`);
  if (knob !== "threads") knobs.threads!(threads);
  const r = await (api === "raw" ? seqgradRawPeer : seqgradPeer)(w);
  if ("skip" in r) throw new Error(`bench/ab: seqgrad skips this workload: ${r.skip}`);
  const side = (v: string): Side => ({
    select: () => {
      apply(v);
      resetSplitJudgement();
    },
    runner: r,
  });
  return [side(a), side(b)];
}

async function main(): Promise<void> {
  const opts = new Command()
    .requiredOption("--knob <name>", `one of ${[...Object.keys(knobs), "checkout"].join(", ")}`)
    .requiredOption("--a <value>", "setting a (a checkout's folder for --knob checkout)")
    .requiredOption("--b <value>", "setting b")
    .option("--workload <kind>", "matmul | lstm | gru | rnn | gradcheck", "lstm")
    .option("--api <api>", "library | raw (the cell from raw ops)", "library")
    .option("--shape <MxKxN>", "matmul shape", "128x128x128")
    .option("--H <n>", "hidden size of the char-LM", "128")
    .option("--rounds <n>", "pairs of timed runs", "15")
    .option("--steps <n>", "steps per timed run (default: about 50 ms of work)")
    .option("--threads <n>", "matmul threads for both sides (unless the knob is threads)", "2")
    .parse()
    .opts<{ knob: string; a: string; b: string; workload: string; api: string; shape: string; H: string; rounds: string; steps?: string; threads: string }>();
  if (opts.api !== "library" && opts.api !== "raw") throw new Error(`bench/ab: --api must be library or raw, got '${opts.api}'`);
  const w = workloadOf(opts.workload, opts.shape, Number(opts.H));
  const sides = await sidesOf(opts.knob, opts.a, opts.b, w, opts.api, opts.threads);
  const run = async (side: Side, steps: number): Promise<number> => {
    side.select();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await side.runner.step();
    return performance.now() - t0;
  };
  // warm both sides up, then size a timed run to about 50 ms
  for (const side of sides) await run(side, 2);
  const one = await run(sides[0], 1);
  const steps = opts.steps !== undefined ? Number(opts.steps) : Math.max(1, Math.round(50 / Math.max(one, 0.01)));
  const rounds = Number(opts.rounds);
  const times: Record<"a" | "b", number[]> = { a: [], b: [] };
  for (let r = 0; r < rounds; r++) {
    for (const k of r % 2 === 0 ? (["a", "b"] as const) : (["b", "a"] as const)) times[k].push(await run(sides[k === "a" ? 0 : 1], steps));
  }
  const ratios = times.b.map((t, i) => t / times.a[i]!);
  const [q1, mid, q3] = quartiles(ratios);
  const { amount, unit } = workOf(w);
  const rate = (ms: number): string => `${((amount * steps) / (ms / 1000)).toPrecision(4)} ${unit}`;
  const what = w.kind === "matmul" ? ` ${opts.shape}` : w.kind === "gradcheck" ? "" : ` H=${opts.H}`;
  console.log(`${opts.workload}${what}${opts.api === "raw" ? " (raw ops)" : ""}, ${opts.knob}: a=${opts.a} ${rate(median(times.a))}, b=${opts.b} ${rate(median(times.b))}`);
  console.log(`time b ÷ a, median of ${rounds} pairs of ${steps} steps: ${mid.toFixed(3)} (quartiles ${q1.toFixed(3)}-${q3.toFixed(3)})`);
}

if (isMainModule(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
