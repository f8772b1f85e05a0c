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
 * Knobs: threads (1 | 2), split-min-work (multiply-adds, setWasmSplitMinWork), skip (0 | 1, zero-step skipping).
 */
import { Command } from "commander";
import {
  resetSplitJudgement, setKernelThreads, setWasmSkipZeroSteps, setWasmSplitMinWork,
} from "../core/wasm/backend.js";
import { isMainModule } from "../cli/seqgrad.js";
import { median, workOf, type Runner, type Workload } from "./common.js";
import { seqgradPeer } from "./peers/seqgrad.js";

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
  if (kind === "lstm" || kind === "gru" || kind === "rnn") {
    if (!(Number.isInteger(H) && H > 0)) throw new Error(`bench/ab: --H must be a positive integer, got '${H}'`);
    return { kind: "rnnlm", cell: kind, V: 64, H, B: 32, T: 64, lr: 1e-3 };
  }
  throw new Error(`bench/ab: --workload must be matmul, lstm, gru or rnn, got '${kind}'`);
}

/** Quartiles (25th, 50th, 75th percentile, nearest rank) of `xs`. */
export function quartiles(xs: readonly number[]): [number, number, number] {
  const s = xs.slice().sort((p, q) => p - q);
  const at = (f: number): number => s[Math.min(s.length - 1, Math.max(0, Math.round(f * (s.length - 1))))]!;
  return [at(0.25), median(s), at(0.75)];
}

async function main(): Promise<void> {
  const opts = new Command()
    .requiredOption("--knob <name>", `one of ${Object.keys(knobs).join(", ")}`)
    .requiredOption("--a <value>", "setting a")
    .requiredOption("--b <value>", "setting b")
    .option("--workload <kind>", "matmul | lstm | gru | rnn", "lstm")
    .option("--shape <MxKxN>", "matmul shape", "128x128x128")
    .option("--H <n>", "hidden size of the char-LM", "128")
    .option("--rounds <n>", "pairs of timed runs", "15")
    .option("--steps <n>", "steps per timed run (default: about 50 ms of work)")
    .option("--threads <n>", "matmul threads for both sides (unless the knob is threads)", "2")
    .parse()
    .opts<{ knob: string; a: string; b: string; workload: string; shape: string; H: string; rounds: string; steps?: string; threads: string }>();
  const apply = knobs[opts.knob];
  if (!apply) throw new Error(`bench/ab: --knob must be one of ${Object.keys(knobs).join(", ")}, got '${opts.knob}'`);
  if (opts.knob !== "threads") knobs.threads!(opts.threads);
  const w = workloadOf(opts.workload, opts.shape, Number(opts.H));
  const runner = (await seqgradPeer(w)) as Runner;
  const set = (v: string): void => {
    apply(v);
    resetSplitJudgement();
  };
  const run = async (steps: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await runner.step();
    return performance.now() - t0;
  };
  // warm both settings up, then size a timed run to about 50 ms
  for (const v of [opts.a, opts.b]) {
    set(v);
    await run(2);
  }
  const one = await run(1);
  const steps = opts.steps !== undefined ? Number(opts.steps) : Math.max(1, Math.round(50 / Math.max(one, 0.01)));
  const rounds = Number(opts.rounds);
  const times: Record<"a" | "b", number[]> = { a: [], b: [] };
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 === 0 ? (["a", "b"] as const) : (["b", "a"] as const)) {
      set(opts[side]);
      times[side].push(await run(steps));
    }
  }
  const ratios = times.b.map((t, i) => t / times.a[i]!);
  const [q1, mid, q3] = quartiles(ratios);
  const { amount, unit } = workOf(w);
  const rate = (ms: number): string => `${((amount * steps) / (ms / 1000)).toPrecision(4)} ${unit}`;
  console.log(`${opts.workload} ${w.kind === "matmul" ? opts.shape : `H=${opts.H}`}, ${opts.knob}: a=${opts.a} ${rate(median(times.a))}, b=${opts.b} ${rate(median(times.b))}`);
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
