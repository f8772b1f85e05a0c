/**
 * Memory of backpropagation through time, plain `scan` vs `scan(..., { checkpointEvery: k })`.
 *
 * Run by hand (never in CI):
 *
 *   node --expose-gc --import tsx tools/memory-report.ts [--T 10000] [--H 32] [--B 4] [--D 8] [--k 0,10,100,1000] [--dtype float32]
 *
 * k = 0 means plain scan; `--k sqrt` adds k = round(√T). Every configuration runs in its own child process
 * (so one heap never inherits another's garbage or fragmentation). A child builds a tiny LSTM, then:
 *   1. one timed `valueAndGrad` (no probes), for the run time;
 *   2. `vjp` of the same loss; a full GC; the live heap now is the tape (forward done, backward not started);
 *   3. the pullback, with a probe on the carry of every step (a `customVjp` identity whose backward runs a
 *      full GC (two, since freed array buffers are only accounted for after the second) and reads `process.memoryUsage()` every few steps), so the peak during the backward is seen —
 *      with checkpoints that is when one segment has been recomputed.
 * "live" = heapUsed + arrayBuffers (tensor data of more than a few dozen bytes lives in array buffers),
 * minus the same figure before the forward pass (params and inputs).
 *
 * One run of the defaults (T = 10,000, H = 32, B = 4, D = 8, float32; MiB; run time of one valueAndGrad):
 *
 *   | checkpointEvery | after forward | peak in backward | per step | run time (s) |
 *   | plain           | 96.0          | 113.5            | 9.84 KiB | 11.0         |
 *   | 10              | 15.7          | 20.9             | 1.60 KiB | 16.2         |
 *   | 100 (= √T)      | 11.4          | 17.5             | 1.17 KiB | 13.7         |
 *   | 1000            | 11.0          | 28.7             | 1.13 KiB | 19.6         |
 *
 * The checkpointed figures are O(T/k) segment boundaries + O(k) for the segment being recomputed, on top of
 * a floor of about 10 MiB that is O(T) by nature: the outputs ys [T, B, H] (kept by each segment's packed
 * result and once more by their concatenation) and the inputs' time slices.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { randomKey, normal } from "../core/random.js";
import { ones, type DType, type Tensor } from "../core/tensor.js";
import { add, customVjp, mean, sum, valueAndGrad, vjp } from "../autograd/index.js";
import { lstmCell, type LstmCarry, type LstmParams } from "../layers/cells/lstm.js";
import { scan } from "../layers/scan.js";

interface Config { T: number; H: number; B: number; D: number; k: number; dtype: DType }
interface Result extends Config {
  seconds: number;
  baseMiB: number;
  afterForwardMiB: number;
  peakBackwardMiB: number;
  samples: number;
}

const MiB = 1024 * 1024;

const live = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const child = (cfg: Config): Result => {
  const gcOnce = (globalThis as { gc?: () => void }).gc;
  if (gcOnce === undefined) throw new Error("memory-report: run with node --expose-gc --import tsx tools/memory-report.ts");
  // twice: array-buffer memory freed by one collection is only accounted for after the next
  const gc = (): void => {
    gcOnce();
    gcOnce();
  };
  const cell = lstmCell();
  const [kp, kx] = [randomKey(1), randomKey(2)];
  const params = cell.init(kp, cfg.D, cfg.H, cfg.dtype);
  const xs = normal(kx, [cfg.T, cfg.B, cfg.D], { dtype: cfg.dtype });
  const options = cfg.k > 0 ? { checkpointEvery: cfg.k } : {};

  let sampling = false, peak = 0, samples = 0, calls = 0;
  const every = Math.max(1, Math.floor(cfg.T / 50));
  const probe = customVjp((a: Tensor) => a, (dy: Tensor) => {
    if (sampling && ++calls % every === 0) {
      gc();
      peak = Math.max(peak, live());
      samples++;
    }
    return [dy];
  }, "memoryProbe");
  // L = mean over time and batch of Σ_h y<t> + Σ a<T>: every output and the final carry are used
  const loss = (p: LstmParams): Tensor => {
    const [cT, ys] = scan((c: LstmCarry, x: Tensor) => {
      const [next, y] = cell.step(p, c, x);
      return [{ a: probe(next.a), c: next.c }, y] as const;
    }, cell.initialCarry(p, cfg.B), xs, options);
    return add(mean(ys), sum(cT.a));
  };

  const t0 = performance.now();
  valueAndGrad(loss)(params);
  const seconds = (performance.now() - t0) / 1000;

  gc();
  const base = live();
  const [out, pullback] = vjp(loss, params);
  gc();
  const afterForward = live();
  sampling = true;
  peak = afterForward;
  pullback(ones(out.shape, out.dtype));
  sampling = false;
  return {
    ...cfg, seconds, samples,
    baseMiB: base / MiB,
    afterForwardMiB: (afterForward - base) / MiB,
    peakBackwardMiB: (peak - base) / MiB,
  };
};

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
};

const main = (): void => {
  if (process.argv.includes("--child")) {
    process.stdout.write(JSON.stringify(child(JSON.parse(arg("child", "{}")) as Config)) + "\n");
    return;
  }
  const T = Number(arg("T", "10000")), H = Number(arg("H", "32")), B = Number(arg("B", "4")), D = Number(arg("D", "8"));
  const dtype = arg("dtype", "float32") as DType;
  const ks = arg("k", "0,10,sqrt,1000").split(",").map((s) => (s === "sqrt" ? Math.round(Math.sqrt(T)) : Number(s)));
  const self = fileURLToPath(import.meta.url);
  console.log(`LSTM T = ${T}, H = ${H}, B = ${B}, D = ${D}, ${dtype}; live = heapUsed + arrayBuffers above the params and inputs (MiB)`);
  console.log("| checkpointEvery | after forward | peak in backward | per step (after forward) | run time (s) |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const k of ks) {
    const cfg: Config = { T, H, B, D, k, dtype };
    const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", self, "--child", JSON.stringify(cfg)], { encoding: "utf8", maxBuffer: 1 << 24 });
    if (r.status !== 0) {
      console.log(`| ${k || "plain"} | failed: ${(r.stderr || "").trim().split("\n").slice(-3).join(" ")} |`);
      continue;
    }
    const res = JSON.parse(r.stdout.trim().split("\n").pop()!) as Result;
    console.log(`| ${k || "plain"} | ${res.afterForwardMiB.toFixed(1)} | ${res.peakBackwardMiB.toFixed(1)} | ${((res.afterForwardMiB * MiB) / T / 1024).toFixed(2)} KiB | ${res.seconds.toFixed(2)} |`);
  }
};

main();
