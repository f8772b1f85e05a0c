/**
 * Where seqgrad's training step spends its time: `npx tsx bench/profile.ts [--cell lstm] [--H 128] [--api library]`.
 *
 * Compiles this script with `tsc` into `bench/results/profile-build.tmp/` (tsx wraps every arrow function in a
 * naming helper, which leaves V8's profiler calling them all "(anonymous)"), runs the compiled copy with plain
 * node, warms the benchmark's char-LM step up (the same runner as `run.ts`), then samples only the timed steps
 * with V8's CPU profiler (through `node:inspector`). It buckets the samples' self time by what the code is
 * (matmul kernels, elementwise kernels, copies, tape and transforms, op wrappers and checks, allocation, GC…),
 * splits it into forward, backward and optimizer phases, says what the backward pass spent its time on, and
 * lists the top functions by self time.
 */
import { Command } from "commander";
import { spawnSync } from "node:child_process";
import { Session } from "node:inspector";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { warmUp, type CellKind, type RnnLmWorkload, type Peer } from "./common.js";
const opts = new Command()
  .option("--cell <cell>", "lstm | gru | rnn", "lstm")
  .option("--H <n>", "hidden size", "128")
  .option("--T <n>", "time steps", "64")
  .option("--steps <n>", "profiled training steps (after the warm-up)", "4")
  .option("--warmup <seconds>", "unprofiled warm-up: at least two steps and this long (as in npm run bench)", "2")
  .option("--api <api>", "library (cells, scan, sequenceLoss, sgd) | raw (raw ops)", "library")
  .option("--top <n>", "how many functions to list", "25")
  .option("--callers <fn>", "also list the call paths (4 frames up) that spend self time in this function")
  .option("--child", "internal: run in the compiled copy", false)
  .parse()
  .opts<{ cell: string; H: string; T: string; steps: string; warmup: string; api: string; top: string; callers?: string; child: boolean }>();

const workload: RnnLmWorkload = { kind: "rnnlm", cell: opts.cell as CellKind, V: 64, H: Number(opts.H), B: 32, T: Number(opts.T), lr: 1e-3 };

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: CpuNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Which bucket a frame's self time belongs to. */
const bucketOf = (fn: string, url: string): string => {
  const file = url.replace(/^file:\/\//, "").replace(/\.js$/, ".ts");
  if (fn === "(garbage collector)") return "garbage collection";
  if (fn === "(program)" || fn === "(idle)" || fn === "(root)") return "V8 / runtime (program)";
  if (url.startsWith("wasm://") || /wasm-function/.test(fn)) return "WebAssembly kernels (matmul)";
  if (file.endsWith("/core/kernels.ts")) {
    if (/^matmul/i.test(fn)) return "matmul (TypeScript kernel)";
    if (/^(unary|binary|where|broadcastIndex|gatherFlat|cast)/.test(fn)) return "elementwise kernels (unary, binary, broadcast expansion)";
    if (/^(reduce|argmax)/.test(fn)) return "reductions (sum, max)";
    if (/^transpose/.test(fn)) return "transpose kernel";
    if (/^(slice|pad|concat|gather|scatter)/.test(fn)) return "slice / pad / concat / gather / scatter copies";
    return `core/kernels.ts ${fn || "(anonymous)"}`;
  }
  if (file.endsWith("/core/kernels-fused.ts")) return "fused cell kernels (gate math forward/backward, bias rows)";
  if (file.includes("/core/wasm/")) return /await|wait/i.test(fn) ? "waiting for the matmul worker thread" : "WebAssembly glue (copies in/out, packing, dispatch)";
  if (file.endsWith("/core/tensor.ts")) return "tensor construction / allocation";
  if (file.endsWith("/core/shape.ts") || file.endsWith("/core/errors.ts")) return "shape checks";
  if (file.endsWith("/autograd/tape.ts") || file.endsWith("/autograd/transforms.ts")) return "tape + transforms";
  if (file.includes("/autograd/primitives/")) return "op wrappers (validation, broadcasting, VJP glue)";
  if (file.endsWith("/autograd/tree.ts")) return "parameter trees";
  if (file.includes("/layers/")) return "layers (cells, scan, losses, optimizer)";
  if (file.includes("/node_modules/immer/")) return "immer (optimizer update)";
  if (file.includes("/node_modules/fp-ts/")) return "fp-ts (validation)";
  if (file.includes("/bench/peers/") || file.endsWith("/bench/common.ts")) return "bench glue";
  if (fn.startsWith("Float32Array") || fn.startsWith("Float64Array") || fn === "TypedArray" || fn === "fill" || fn === "set" || fn === "slice") return "typed-array builtins (alloc, fill, copy)";
  return url ? "other JavaScript" : `builtins (${fn || "anonymous"})`;
};

const analyze = (profile: CpuProfile, steps: number, top: number): void => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // self time per node from the sample stream
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const key = (n: CpuNode) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/^.*\/(?=[^/]+\/[^/]+$)/, "")}:${n.callFrame.lineNumber + 1}`;
  const buckets = new Map<string, number>();
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const b = bucketOf(n.callFrame.functionName, n.callFrame.url);
    buckets.set(b, (buckets.get(b) ?? 0) + us);
    self.set(key(n), (self.get(key(n)) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  // phase of a sample: backward (under transforms.ts backward), optimizer (under optimizers.ts update), else forward;
  // inside backward, the frame backward called directly says what the time is for: `add` = summing the
  // cotangents of a value used more than once (weights over T steps), `inBackwardOf` = a VJP rule.
  const phaseOf = (id: number): { phase: string; under: string } => {
    let child: CpuNode | null = null;
    let ruleFile = "";
    const n0 = byId.get(id)!;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const f = n.callFrame.functionName, u = n.callFrame.url;
      if ((f === "backward" || f === "pullback") && /transforms\.[jt]s$/.test(u)) {
        if (!child) return { phase: "backward", under: "backward loop itself" };
        const cf = child.callFrame.functionName;
        // add(prev, dx): summing the cotangents of a value used more than once (add and bind may be inlined into backward)
        if (cf === "add" || cf === "bind" || (cf === "" && /primitives\/binary\.[jt]s$/.test(child.callFrame.url)))
          return { phase: "backward", under: "summing cotangents of reused values (add in backward)" };
        if (cf === "inBackwardOf" || cf === "vjp" || cf === "")
          return { phase: "backward", under: ruleFile ? `VJP rules in ${ruleFile}` : `VJP rules (frames inlined; leaf ${n0.callFrame.functionName || "(anonymous)"} in ${path.basename(n0.callFrame.url)})` };
        return { phase: "backward", under: `${cf || "(anonymous)"} called by backward` };
      }
      if (f === "update" && /optimizers\.[jt]s$/.test(u)) return { phase: "optimizer update", under: "" };
      // remember the file of the outermost rule frame below inBackwardOf (the VJP rule itself)
      if (f === "vjp" || (f === "" && /cells\/types\.[jt]s$/.test(u))) {
        const m = /(primitives\/[a-z]+|cells\/[a-z]+)\.[jt]s$/.exec(u);
        if (m) ruleFile = m[1] === "cells/types" ? "cells/types.ts (affine's customVjp)" : `${m[1]}.ts`;
      }
      child = n;
    }
    return { phase: "forward (scan, loss)", under: "" };
  };
  const phases = new Map<string, Map<string, number>>();
  const backwardUnder = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const { phase, under } = phaseOf(id);
    const b = bucketOf(n.callFrame.functionName, n.callFrame.url);
    if (!phases.has(phase)) phases.set(phase, new Map());
    phases.get(phase)!.set(b, (phases.get(phase)!.get(b) ?? 0) + us);
    if (phase === "backward") backwardUnder.set(under, (backwardUnder.get(under) ?? 0) + us);
  }
  const ms = (us: number) => (us / 1000 / steps).toFixed(1).padStart(8);
  const pct = (us: number) => ((100 * us) / totalUs).toFixed(1).padStart(5) + "%";
  console.log(`\nself time by bucket (ms per training step, share of all samples; ${steps} steps, ${(totalUs / 1000 / steps).toFixed(0)} ms/step sampled):`);
  for (const [b, us] of [...buckets].sort((a, b) => b[1] - a[1])) if (us / totalUs >= 0.002) console.log(`  ${ms(us)}  ${pct(us)}  ${b}`);
  const phase = (label: string, pred: (k: string) => boolean) => {
    const hits = [...incl].filter(([k]) => pred(k));
    if (hits.length === 0) return;
    const us = Math.max(...hits.map(([, v]) => v));
    console.log(`  ${ms(us)}  ${pct(us)}  ${label}`);
  };
  console.log("\ninclusive time of the main phases (ms per step):");
  phase("all matmul primitive calls (forward and backward)", (k) => k.startsWith("matmul ") && /primitives\/matmul\.[jt]s/.test(k));
  phase("kernels.matmul (TypeScript or WebAssembly dispatch)", (k) => k.startsWith("matmul ") && /core\/kernels\.[jt]s/.test(k));
  phase("bind (every primitive call: kernel + tape record)", (k) => k.startsWith("bind ") && /tape\.[jt]s/.test(k));
  phase("record (tape bookkeeping only)", (k) => k.startsWith("record ") && /tape\.[jt]s/.test(k));
  for (const [ph, m] of [...phases].sort((a, b) => [...b[1].values()].reduce((x, y) => x + y, 0) - [...a[1].values()].reduce((x, y) => x + y, 0))) {
    const tot = [...m.values()].reduce((x, y) => x + y, 0);
    console.log(`\n${ph}: ${ms(tot).trim()} ms/step (${pct(tot).trim()}), by bucket:`);
    for (const [b, us] of [...m].sort((x, y) => y[1] - x[1])) if (us / totalUs >= 0.004) console.log(`  ${ms(us)}  ${pct(us)}  ${b}`);
  }
  console.log("\nbackward, by what backward called:");
  for (const [u, us] of [...backwardUnder].sort((a, b) => b[1] - a[1])) if (us / totalUs >= 0.002) console.log(`  ${ms(us)}  ${pct(us)}  ${u}`);
  console.log(`\ntop ${top} functions by self time (ms per step):`);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms(us)}  ${pct(us)}  ${k}`);
  if (opts.callers) {
    const paths = new Map<string, number>();
    for (const [id, us] of selfUs) {
      if (byId.get(id)!.callFrame.functionName !== opts.callers) continue;
      const chain: string[] = [];
      for (let cur = parent.get(id); cur !== undefined && chain.length < 7; cur = parent.get(cur)) chain.push(key(byId.get(cur)!));
      const k = chain.join(" < ");
      paths.set(k, (paths.get(k) ?? 0) + us);
    }
    console.log(`\ncall paths into ${opts.callers} (ms per step of its self time):`);
    for (const [k, us] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms(us)}  ${pct(us)}  ${k}`);
  }
};

const post = <R>(session: Session, method: string, params: object = {}): Promise<R> =>
  new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res as R))));

/** Compiles this file (and what it imports) with tsc and runs the result with plain node. */
const compileAndRun = (): void => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.dirname(here);
  const out = path.join(here, "results", "profile-build.tmp");
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const flags = ["--outDir", out, "--rootDir", root, "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022",
    "--skipLibCheck", "--types", "node", "--lib", "es2022,dom", "--noCheck"];
  const c = spawnSync(process.execPath, [tsc, path.join(here, "profile.ts"), ...flags], { stdio: "inherit" });
  if (c.status !== 0) throw new Error(`tsc failed (${c.status ?? c.signal})`);
  const args = process.argv.slice(2);
  const r = spawnSync(process.execPath, [path.join(out, "bench", "profile.js"), "--child", ...args], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`profiled run failed (${r.status ?? r.signal})`);
};

const main = async (): Promise<void> => {
  if (!opts.child) return compileAndRun();
  const peers = (await import("./peers/seqgrad.js")) as { seqgradPeer: Peer; seqgradRawPeer: Peer };
  const r = await (opts.api === "raw" ? peers.seqgradRawPeer : peers.seqgradPeer)(workload);
  if ("skip" in r) throw new Error(r.skip);
  await warmUp(r, Number(opts.warmup));
  const steps = Number(opts.steps);
  const session = new Session();
  session.connect();
  await post(session, "Profiler.enable");
  await post(session, "Profiler.setSamplingInterval", { interval: 200 });
  await post(session, "Profiler.start");
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await r.step();
  const per = (performance.now() - t0) / steps;
  const { profile } = await post<{ profile: CpuProfile }>(session, "Profiler.stop");
  session.disconnect();
  console.log(`${opts.api} ${workload.cell} H=${workload.H} B=${workload.B} T=${workload.T}: ${per.toFixed(0)} ms/step wall = ${Math.round((workload.B * workload.T * 1000) / per)} tokens/s (profiler on)`);
  analyze(profile, steps, Number(opts.top));
};

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
