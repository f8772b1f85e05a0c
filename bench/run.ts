/**
 * `npm run bench`: the same workloads on seqgrad and on its peers, in one run, interleaved.
 *
 * Every implementation runs in its own child process (JavaScript ones through `worker.ts`, PyTorch through
 * `torch_bench.py`), so each one's peak RSS is its own; a fresh set of children serves each workload group
 * (all matmul sizes share one set; every recurrent case and the gradient check get their own). For each case
 * the parent sets every child up (a warm-up of at least two steps and `--warmup` seconds: compilation, jit
 * tracing, then the heap and allocator growth of a fresh process's first seconds), then runs
 * rounds in turn — seqgrad, peer, peer, …, seqgrad, peer, … — so slow drifts of a shared machine hit everyone
 * alike. A round runs steps for a fixed time (at least one step) and its throughput is work × steps / seconds;
 * the table gives the median over rounds, the min–max spread, and seqgrad's ratio to each peer (> 1 means
 * seqgrad is faster).
 */
import { Command } from "commander";
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { median, recordedCommand, workOf, workloadName, type Reply, type Request, type Workload } from "./common.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = "/usr/bin/python3";

type Only = "matmul" | "lstm" | "gru" | "rnn" | "gradcheck";
const program = new Command()
  .name("bench")
  .description("seqgrad against TensorFlow.js, jax-js and PyTorch on the same workloads, in one interleaved run")
  .option("--quick", "a smoke run: small sizes, two short rounds (about a minute)", false)
  .option("--only <group>", "run one group: matmul | lstm | gru | rnn | gradcheck")
  .option("--out <file>", "where to write the JSON results", "bench/results/latest.json")
  .option("--rounds <n>", "interleaved rounds per case (default 5, 2 with --quick)")
  .option("--hidden <list>", "comma-separated hidden sizes to keep among the recurrent cases (e.g. 512)")
  .option("--peers <list>", "comma-separated subset of: seqgrad,seqgrad-1t,seqgrad-1t-fma,seqgrad-raw,tfjs-wasm,tfjs-wasm-layers,tfjs-cpu,jax-wasm,torch-1t,torch-2t")
  .option("--warmup <seconds>", "warm-up time per implementation and case, after at least two steps (default 2, 0.2 with --quick)")
  .option("--keep-pages", "run every child with glibc told to keep freed memory (MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_): fresh-page faults out of the figures", false)
  .parse();
const opts = program.opts<{ quick: boolean; only?: string; out: string; rounds?: string; peers?: string; hidden?: string; warmup?: string; keepPages: boolean }>();
if (opts.only !== undefined && !["matmul", "lstm", "gru", "rnn", "gradcheck"].includes(opts.only)) {
  console.error(`bench: --only must be one of matmul, lstm, gru, rnn, gradcheck; got '${opts.only}'`);
  process.exit(2);
}
const only = opts.only as Only | undefined;
const quick = opts.quick;
const rounds = opts.rounds !== undefined ? Math.max(1, Number.parseInt(opts.rounds, 10)) : quick ? 2 : 5;
const warmupSeconds = opts.warmup !== undefined ? Number(opts.warmup) : quick ? 0.2 : 2;
if (!(warmupSeconds >= 0)) {
  console.error(`bench: --warmup must be a number of seconds >= 0; got '${opts.warmup}'`);
  process.exit(2);
}

// ---- the cases -----------------------------------------------------------------------------------------------

type Impl = "seqgrad" | "seqgrad-1t" | "seqgrad-1t-fma" | "seqgrad-raw" | "tfjs-wasm" | "tfjs-wasm-layers" | "tfjs-cpu" | "jax-wasm" | "torch-1t" | "torch-2t";
const ALL_IMPLS: readonly Impl[] = ["seqgrad", "seqgrad-1t", "seqgrad-1t-fma", "seqgrad-raw", "tfjs-wasm", "tfjs-wasm-layers", "tfjs-cpu", "jax-wasm", "torch-1t", "torch-2t"];
/**
 * seqgrad as a user runs it (default threads), with its matmuls on one thread, the same on one thread with
 * WebAssembly relaxed SIMD switched on (`--experimental-wasm-relaxed-simd`: Node 20 has it behind that flag,
 * Node 22+ and current browsers by default, so the kernels load their fused multiply-add build), and the
 * raw-op model.
 */
const SEQGRAD: readonly Impl[] = ["seqgrad", "seqgrad-1t", "seqgrad-1t-fma", "seqgrad-raw"];
/** Node flags of the relaxed-SIMD variant (none needed where the engine ships relaxed SIMD by default). */
const FMA_FLAGS = ["--experimental-wasm-relaxed-simd"];
const isSeqgrad = (i: Impl): boolean => SEQGRAD.includes(i);

interface Case {
  readonly workload: Workload;
  readonly impls: readonly Impl[];
  /** Seconds each round runs steps for (at least one step). */
  readonly target: number;
  readonly rounds: number;
}
interface Group {
  readonly name: string;
  readonly cases: readonly Case[];
}

const T = quick ? 16 : 64;
const lr = 1e-3;
const lm = (cell: "lstm" | "gru" | "rnn", H: number, impls: readonly Impl[], r = rounds): Case => ({
  workload: { kind: "rnnlm", cell, V: 64, H, B: 32, T, lr },
  impls,
  target: quick ? 0.3 : 1.5,
  rounds: r,
});
const matmulSizes: [number, number, number][] = quick ? [[128, 128, 128], [32, 192, 512]] : [[128, 128, 128], [256, 256, 256], [512, 512, 512], [32, 192, 512]];
const GROUPS: Group[] = [
  {
    name: "matmul",
    cases: matmulSizes.map(([M, K, N]) => ({
      workload: { kind: "matmul", M, K, N },
      impls: ["seqgrad", "seqgrad-1t", "seqgrad-1t-fma", "tfjs-wasm", "tfjs-cpu", "jax-wasm", "torch-1t", "torch-2t"],
      target: quick ? 0.2 : 0.5,
      rounds,
    })),
  },
  { name: "lstm", cases: [lm("lstm", 128, ["seqgrad", "seqgrad-1t", "seqgrad-1t-fma", "seqgrad-raw", "tfjs-wasm", "tfjs-wasm-layers", "tfjs-cpu", "jax-wasm", "torch-1t", "torch-2t"])] },
  ...(quick ? [] : [
    { name: "lstm", cases: [lm("lstm", 256, ["seqgrad", "seqgrad-1t", "tfjs-wasm", "jax-wasm", "torch-1t", "torch-2t"])] },
    { name: "lstm", cases: [lm("lstm", 512, ["seqgrad", "seqgrad-1t", "tfjs-wasm", "jax-wasm", "torch-1t", "torch-2t"], Math.min(rounds, 3))] },
  ]),
  { name: "gru", cases: [lm("gru", 128, ["seqgrad", "seqgrad-1t", "tfjs-wasm", "jax-wasm", "torch-1t"])] },
  { name: "rnn", cases: [lm("rnn", 128, ["seqgrad", "seqgrad-1t", "tfjs-wasm", "jax-wasm", "torch-1t"])] },
  {
    name: "gradcheck",
    cases: [{
      workload: quick ? { kind: "gradcheck", D: 4, H: 8, B: 2, eps: 1e-6 } : { kind: "gradcheck", D: 10, H: 20, B: 4, eps: 1e-6 },
      impls: ["seqgrad", "seqgrad-raw", "jax-wasm", "torch-1t"],
      target: quick ? 0.3 : 1,
      rounds,
    }],
  },
];

// ---- children ------------------------------------------------------------------------------------------------

/** One implementation's child process, answering one request at a time. */
class Child {
  private waiting: ((r: Reply) => void) | null = null;
  private readonly stderr: string[] = [];
  private exited: string | null = null;
  hello: Promise<Reply>;

  constructor(readonly impl: Impl, private readonly proc: ChildProcess, lines: AsyncIterable<string> | null) {
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (s: string) => {
      this.stderr.push(s);
      if (this.stderr.length > 40) this.stderr.shift();
    });
    proc.on("exit", (code, sig) => {
      this.exited = `exited (${code ?? sig})`;
      this.waiting?.({ ok: false, error: `${impl} ${this.exited}: ${this.stderr.join("").trim().split("\n").slice(-6).join(" | ")}` });
      this.waiting = null;
    });
    proc.stdout?.resume(); // library chatter on stdout is dropped (JavaScript children talk over IPC)
    this.hello = this.next();
    if (lines === null) proc.on("message", (m: Reply) => this.deliver(m));
    else
      void (async () => {
        for await (const line of lines) if (line.trim()) this.deliver(JSON.parse(line) as Reply);
      })();
  }

  private deliver(r: Reply): void {
    const w = this.waiting;
    this.waiting = null;
    w?.(r);
  }

  private next(): Promise<Reply> {
    return new Promise((resolve) => {
      if (this.exited) resolve({ ok: false, error: `${this.impl} ${this.exited}` });
      else this.waiting = resolve;
    });
  }

  request(msg: Request): Promise<Reply> {
    const p = this.next();
    if (this.proc.send) this.proc.send(msg);
    else this.proc.stdin!.write(JSON.stringify(msg) + "\n");
    return p;
  }

  stop(): void {
    if (this.exited) return;
    if (this.proc.send) this.proc.send({ cmd: "exit" });
    else this.proc.stdin!.end(JSON.stringify({ cmd: "exit" }) + "\n");
    const pid = this.proc.pid;
    setTimeout(() => {
      if (!this.exited && pid !== undefined) this.proc.kill("SIGKILL");
    }, 5000).unref();
  }
}

const tsxLoader = import.meta.resolve("tsx");

/**
 * With --keep-pages, glibc's malloc neither returns freed heap memory to the system (trim threshold 1 GiB) nor
 * serves large blocks from fresh mappings (mmap threshold 32 MiB, its maximum), so an output array reuses pages
 * an earlier one freed instead of faulting in new ones (about 10 µs a page here). Every child gets the same.
 */
const baseEnv: NodeJS.ProcessEnv = opts.keepPages ? { ...process.env, MALLOC_TRIM_THRESHOLD_: String(1 << 30), MALLOC_MMAP_THRESHOLD_: String(1 << 25) } : process.env;

const spawnChild = (impl: Impl): Child => {
  if (impl.startsWith("torch-")) {
    // the cores go to the BLAS; PyTorch's own OpenMP pool keeps one thread (two pools of two fought over the two
    // cores: see bench/torch_bench.py)
    const threads = impl === "torch-2t" ? "2" : "1";
    const env: NodeJS.ProcessEnv = { ...baseEnv, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: threads, MKL_NUM_THREADS: threads };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    const proc = spawn(PYTHON, [path.join(here, "torch_bench.py"), "--threads", threads], { env, stdio: ["pipe", "pipe", "pipe"] });
    return new Child(impl, proc, readline.createInterface({ input: proc.stdout! }));
  }
  const env: NodeJS.ProcessEnv = impl.startsWith("seqgrad-1t") ? { ...baseEnv, SEQGRAD_THREADS: "1" } : baseEnv;
  const flags = impl === "seqgrad-1t-fma" ? FMA_FLAGS : [];
  const proc = fork(path.join(here, "worker.ts"), [impl], { execArgv: [...flags, "--import", tsxLoader], stdio: ["ignore", "pipe", "pipe", "ipc"], env });
  return new Child(impl, proc, null);
};

const torchCheck = (): string | null => {
  const r = spawnSync(PYTHON, ["-c", "import torch"], { encoding: "utf8" });
  if (r.error) return `${PYTHON} not found`;
  if (r.status !== 0) return `${PYTHON} has no torch (apt-get install python3-torch libopenblas0-pthread)`;
  return null;
};

// ---- running -------------------------------------------------------------------------------------------------

interface ImplResult {
  readonly impl: Impl;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max - min) / median over rounds. */
  readonly spread: number;
  readonly rounds: number[];
  /** Steps run in each round. */
  readonly steps: number[];
  /** Work units per step (GFLOP, tokens, entries) this implementation did. */
  readonly workPerStep: number;
  /** The first step alone (compilation, jit tracing), then the whole warm-up and its steps. */
  readonly firstStepSeconds: number;
  readonly warmupSeconds: number;
  readonly warmupSteps: number;
  readonly initialLoss: number | null;
  readonly lastLoss: number | null;
  readonly detail?: string;
  readonly note?: string;
  readonly peakRssMB: number | null;
  readonly baseRssMB: number | null;
  /**
   * Median over rounds of the minor page faults per step (fresh memory pages first touched). At about 10 µs a
   * fault on the VM this was measured on, a 1 MB output that faults costs 2-3 ms: it tells why a round was slow.
   */
  readonly faultsPerStep: number | null;
}
interface CaseResult {
  readonly name: string;
  readonly workload: Workload;
  readonly unit: string;
  readonly results: ImplResult[];
  readonly skipped: { impl: Impl; reason: string }[];
  /** seqgrad's median ÷ each other implementation's median (> 1: seqgrad faster). */
  readonly ratios: Record<string, number>;
  /** The same for every seqgrad variant present: ratiosByVariant[variant][peer]. */
  readonly ratiosByVariant: Record<string, Record<string, number>>;
  /**
   * Paired ratios: for every seqgrad variant and peer, the median over rounds r of variant[r] ÷ peer[r]. Round r of
   * two implementations runs seconds apart, so a drift of the machine's speed between rounds (seen here: up to 2×
   * over minutes) cancels in each pair; it does not cancel between separate medians.
   */
  readonly pairedRatiosByVariant: Record<string, Record<string, number>>;
  readonly initialLossAgreement: string | null;
}

const fmtNum = (x: number): string =>
  !Number.isFinite(x) ? String(x) : x >= 1000 ? Math.round(x).toLocaleString("en-US") : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2);
/** Median over rounds of a[r] ÷ b[r] (the rounds both have: an implementation that failed mid-run has fewer). */
const pairedRatio = (a: readonly number[], b: readonly number[]): number => {
  const n = Math.min(a.length, b.length);
  return n === 0 ? NaN : median(a.slice(0, n).map((x, r) => x / b[r]!));
};
const fmtRatio = (x: number): string => (x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2)) + "×";
const MB = (kb: number): number => Math.round(kb / 1024);

const pad = (s: string, n: number, right = false): string => (right ? s.padStart(n) : s.padEnd(n));
const printTable = (rows: string[][], rightCols: readonly number[]): void => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  rows.forEach((r, i) => {
    console.log("  " + r.map((cell, c) => pad(cell, widths[c]!, rightCols.includes(c))).join("  "));
    if (i === 0) console.log("  " + widths.map((w) => "-".repeat(w)).join("  "));
  });
};

const lossAgreement = (rs: readonly ImplResult[]): string | null => {
  const with_ = rs.filter((r) => r.initialLoss !== null);
  if (with_.length < 2) return null;
  const ref = with_.find((r) => r.impl.startsWith("torch")) ?? with_[0]!;
  const worst = Math.max(...with_.map((r) => Math.abs(r.initialLoss! - ref.initialLoss!) / Math.abs(ref.initialLoss!)));
  return `initial loss on identical weights: ${with_.map((r) => `${r.impl} ${r.initialLoss!.toPrecision(8)}`).join(", ")} (largest relative difference to ${ref.impl}: ${worst.toExponential(1)}${worst > 1e-4 ? " — MISMATCH" : ""})`;
};

const runGroup = async (g: Group, torchMissing: string | null, infos: Record<string, Record<string, string>>): Promise<CaseResult[]> => {
  const wanted = [...new Set(g.cases.flatMap((c) => c.impls))].filter((i) => !(i.startsWith("torch") && torchMissing));
  const children = new Map<Impl, Child>();
  const baseRss = new Map<Impl, number>();
  const out: CaseResult[] = [];
  try {
    for (const impl of wanted) children.set(impl, spawnChild(impl));
    const deadAtStart = new Map<Impl, string>();
    for (const [impl, child] of children) {
      const h = await child.hello;
      if (!h.ok) deadAtStart.set(impl, h.error);
      else if (h.kind === "hello") {
        infos[impl] = h.info;
        baseRss.set(impl, h.rssKB);
      }
    }
    for (const c of g.cases) {
      const name = workloadName(c.workload);
      const { amount, unit } = workOf(c.workload);
      console.log(`\n${name} — ${unit}, ${c.rounds} interleaved rounds`);
      const skipped: { impl: Impl; reason: string }[] = [];
      if (torchMissing) for (const i of c.impls.filter((i) => i.startsWith("torch"))) skipped.push({ impl: i, reason: torchMissing });
      const live: { impl: Impl; child: Child; warm: { firstStepSeconds: number; warmupSeconds: number; warmupSteps: number }; work: number; initialLoss: number | null; note?: string }[] = [];
      for (const impl of c.impls) {
        const child = children.get(impl);
        if (!child) continue;
        if (deadAtStart.has(impl)) {
          skipped.push({ impl, reason: deadAtStart.get(impl)! });
          continue;
        }
        const r = await child.request({ cmd: "setup", workload: c.workload, warmupSeconds });
        if (!r.ok) skipped.push({ impl, reason: r.error.replace(/^skip: /, "") });
        else if (r.kind === "setup") live.push({ impl, child, warm: { firstStepSeconds: r.firstStepSeconds, warmupSeconds: r.warmupSeconds, warmupSteps: r.warmupSteps }, work: r.work ?? amount, initialLoss: r.initialLoss, ...(r.note ? { note: r.note } : {}) });
      }
      const samples = new Map<Impl, number[]>(live.map((l) => [l.impl, []]));
      const steps = new Map<Impl, number[]>(live.map((l) => [l.impl, []]));
      const faults = new Map<Impl, number[]>(live.map((l) => [l.impl, []]));
      const last = new Map<Impl, { loss: number | null; detail?: string }>();
      for (let r = 0; r < c.rounds; r++)
        for (const l of live) {
          if (!samples.has(l.impl)) continue;
          const rep = await l.child.request({ cmd: "round", seconds: c.target });
          if (!rep.ok) {
            skipped.push({ impl: l.impl, reason: rep.error });
            samples.delete(l.impl);
          } else if (rep.kind === "round") {
            samples.get(l.impl)!.push((l.work * rep.reps) / rep.seconds);
            steps.get(l.impl)!.push(rep.reps);
            if (rep.minorFaults !== undefined) faults.get(l.impl)!.push(rep.minorFaults / rep.reps);
            last.set(l.impl, { loss: rep.loss, ...(rep.detail ? { detail: rep.detail } : {}) });
          }
        }
      const results: ImplResult[] = [];
      for (const l of live) {
        const s = samples.get(l.impl);
        if (!s || s.length === 0) continue;
        const rss = await l.child.request({ cmd: "rss" });
        const med = median(s), mn = Math.min(...s), mx = Math.max(...s);
        const lst = last.get(l.impl);
        results.push({
          impl: l.impl, median: med, min: mn, max: mx, spread: (mx - mn) / med, rounds: s, steps: steps.get(l.impl)!, workPerStep: l.work, ...l.warm,
          initialLoss: l.initialLoss, lastLoss: lst?.loss ?? null, ...(lst?.detail ? { detail: lst.detail } : {}), ...(l.note ? { note: l.note } : {}),
          peakRssMB: rss.ok && rss.kind === "rss" ? MB(rss.maxRssKB) : null,
          baseRssMB: baseRss.has(l.impl) ? MB(baseRss.get(l.impl)!) : null,
          faultsPerStep: faults.get(l.impl)!.length > 0 ? median(faults.get(l.impl)!) : null,
        });
      }
      const sg = results.find((r) => r.impl === "seqgrad");
      const ratios: Record<string, number> = {};
      if (sg) for (const r of results) if (r.impl !== "seqgrad") ratios[r.impl] = sg.median / r.median;
      const ratiosByVariant: Record<string, Record<string, number>> = {};
      for (const v of results.filter((r) => isSeqgrad(r.impl)))
        ratiosByVariant[v.impl] = Object.fromEntries(results.filter((r) => !isSeqgrad(r.impl)).map((r) => [r.impl, v.median / r.median]));
      const pairedRatiosByVariant: Record<string, Record<string, number>> = {};
      for (const v of results.filter((r) => isSeqgrad(r.impl)))
        pairedRatiosByVariant[v.impl] = Object.fromEntries(results.filter((r) => !isSeqgrad(r.impl)).map((r) => [r.impl, pairedRatio(v.rounds, r.rounds)]));
      const rows = [["impl", unit, "min–max", "steps/round", "seqgrad ÷", "peak RSS MB", "faults/step", "note"]];
      for (const r of results)
        rows.push([
          r.impl, fmtNum(r.median), `${fmtNum(r.min)}–${fmtNum(r.max)}`, `${Math.round(median(r.steps))} ×${r.rounds.length}`,
          r.impl === "seqgrad" ? "" : sg ? fmtRatio(ratios[r.impl]!) : "n/a",
          r.peakRssMB === null ? "?" : `${r.peakRssMB} (base ${r.baseRssMB ?? "?"})`,
          r.faultsPerStep === null ? "?" : fmtNum(r.faultsPerStep),
          [r.note, r.detail].filter(Boolean).join("; "),
        ]);
      printTable(rows, [1, 3, 4, 5, 6]);
      for (const s of skipped) console.log(`  skipped ${s.impl}: ${s.reason}`);
      const agree = c.workload.kind === "matmul" ? null : lossAgreement(results);
      if (agree) console.log(`  ${agree}`);
      out.push({ name, workload: c.workload, unit, results, skipped, ratios, ratiosByVariant, pairedRatiosByVariant, initialLossAgreement: agree });
    }
  } finally {
    for (const child of children.values()) child.stop();
  }
  return out;
};

const main = async (): Promise<void> => {
  const allowed = opts.peers ? new Set(opts.peers.split(",").map((s) => s.trim())) : null;
  if (allowed) for (const p of allowed) if (!ALL_IMPLS.includes(p as Impl)) throw new Error(`bench: unknown peer '${p}' in --peers (known: ${ALL_IMPLS.join(", ")})`);
  const hidden = opts.hidden ? new Set(opts.hidden.split(",").map((h) => Number.parseInt(h, 10))) : null;
  const selected = GROUPS.filter((g) => !only || g.name === only)
    .map((g) => ({
      ...g,
      cases: g.cases
        .filter((c) => !hidden || c.workload.kind !== "rnnlm" || hidden.has(c.workload.H))
        .map((c) => ({ ...c, impls: c.impls.filter((i) => !allowed || allowed.has(i)) })),
    }))
    .filter((g) => g.cases.length > 0);
  // --quick shares one set of children across every case (fewer process starts; peak RSS is then over the whole run)
  const groups = quick ? [{ name: "all", cases: selected.flatMap((g) => g.cases) }] : selected;
  const torchMissing = torchCheck();
  const started = new Date();
  console.log(`seqgrad bench${quick ? " (--quick: small sizes, short rounds; not comparable with a full run)" : ""} — ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}, node ${process.version}`);
  console.log("throughput: median over interleaved rounds; min–max over rounds; 'seqgrad ÷' = seqgrad's median / that impl's (> 1: seqgrad faster)");
  console.log(`peak RSS: maxRSS of that implementation's own child process${quick ? " over the whole quick run (children are shared)" : ", fresh for each case group"}; base = RSS after its imports`);
  console.log(`warm-up: at least two steps and ${warmupSeconds} s per implementation and case, before the rounds`);
  console.log(`faults/step: minor page faults per step (fresh memory pages)${opts.keepPages ? "; --keep-pages: every child runs with glibc keeping freed memory" : ""}`);
  if (torchMissing) console.log(`PyTorch: skipped — ${torchMissing}`);
  const infos: Record<string, Record<string, string>> = {};
  const cases: CaseResult[] = [];
  for (const g of groups) cases.push(...(await runGroup(g, torchMissing, infos)));

  console.log("\nimplementations:");
  for (const [impl, info] of Object.entries(infos)) console.log(`  ${impl}: ${Object.entries(info).map(([k, v]) => `${k}=${v}`).join(", ")}`);
  const torchInfo = infos["torch-1t"] ?? infos["torch-2t"];
  if (torchInfo) console.log(`PyTorch BLAS: ${torchInfo.blas} (${torchInfo.blasLibraries || "no library mapped"})`);

  console.log("\nsummary: seqgrad's throughput ÷ each peer's (medians, same run; > 1 means seqgrad is faster)");
  const peers = ALL_IMPLS.filter((i) => !isSeqgrad(i) && cases.some((c) => c.results.some((r) => r.impl === i)));
  const rows = [["case", "seqgrad variant", "throughput", ...peers]];
  for (const c of cases)
    for (const [variant, rs] of Object.entries(c.ratiosByVariant)) {
      const v = c.results.find((r) => r.impl === variant)!;
      rows.push([c.name, variant, `${fmtNum(v.median)} ${c.unit}`, ...peers.map((p) => (p in rs ? fmtRatio(rs[p]!) : "—"))]);
    }
  printTable(rows, rows[0]!.map((_, i) => i).filter((i) => i > 1));
  console.log("\npaired: the median over rounds of seqgrad's round ÷ the peer's round of the same number (drift between rounds cancels)");
  const paired = [["case", "seqgrad variant", ...peers]];
  for (const c of cases)
    for (const [variant, rs] of Object.entries(c.pairedRatiosByVariant))
      paired.push([c.name, variant, ...peers.map((p) => (p in rs && Number.isFinite(rs[p]!) ? fmtRatio(rs[p]!) : "—"))]);
  printTable(paired, paired[0]!.map((_, i) => i).filter((i) => i > 1));

  const file = path.resolve(opts.out);
  mkdirSync(path.dirname(file), { recursive: true });
  const json = {
    started: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    command: recordedCommand(process.argv.slice(2)),
    quick,
    rounds,
    warmupSeconds,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "?", loadavgAtEnd: os.loadavg(), node: process.version, platform: `${os.platform()} ${os.arch()}` },
    implementations: infos,
    torchSkipped: torchMissing,
    cases,
  };
  writeFileSync(file, JSON.stringify(json, null, 2) + "\n");
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
};

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
