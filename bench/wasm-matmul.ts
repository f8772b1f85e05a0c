/**
 * Micro-benchmark of the matmul kernels, single thread, float32 unless --dtype float64:
 *   - `wasm`: core/kernels matmul forced to WebAssembly (copies operands in and the result out), 1 thread,
 *   - `wasm 2 threads`: the same split across this thread and a helper worker (where available), with
 *     every product split (the backoff that stops splitting where it does not pay is reset each call),
 *   - `ts`: matmulRef, the pure-TypeScript reference loop,
 *   - `tfjs-wasm`: TensorFlow.js wasm backend (XNNPACK) `tf.matMul` + `dataSync()`, when installed.
 * Sizes run interleaved round by round, so load from other processes hits every backend alike; each
 * cell reports the median GFLOP/s (2·M·K·N flops per matmul) and the min–max spread over rounds, once
 * by wall-clock time and once by the process's CPU time (on a shared machine the wall clock also
 * counts time the process spent waiting for a core; CPU time does not).
 *
 *   npx tsx bench/wasm-matmul.ts [--rounds 7] [--dtype float32|float64] [--no-tfjs] [--json out.json]
 *   npx tsx bench/wasm-matmul.ts --crossover    times wasm vs ts on small shapes (for WASM_MATMUL_MIN_WORK)
 *   npx tsx bench/wasm-matmul.ts --threads      times 1 vs 2 threads (for WASM_SPLIT_MIN_WORK)
 *   npx tsx bench/wasm-matmul.ts --elementwise  float32 exp/sigmoid/tanh: core/kernels unary vs WebAssembly
 *   npx tsx bench/wasm-matmul.ts --binary       float32 add/sub/mul/div/maximum/minimum: core/kernels binary
 *                                               under 'ts' vs 'wasm', equal shapes and a row (for BINARY_WASM_MIN_SIZE)
 *   npx tsx bench/wasm-matmul.ts --skip         float32 1 thread, zero-step skipping on vs off, on dense
 *                                               operands and on the one-hot products of the LSTM char-LM
 *   npx tsx bench/wasm-matmul.ts --ceiling      what this machine's 128-bit SIMD allows: the throughput of independent
 *                                               f32x4 multiplies, adds (and relaxed fused multiply-adds, where the
 *                                               engine has them) in a loop with no loads, the float32 GEMM ceiling that
 *                                               implies, and each matmul as a fraction of it: the bare kernel on
 *                                               operands in place, the seqgrad op (copies in and out) and TF.js wasm
 *   node --experimental-wasm-relaxed-simd --import tsx bench/wasm-matmul.ts
 *                                               the fused multiply-add build on Node 20 (default on Node 22+)
 */
import { createRequire } from "node:module";
import path from "node:path";
import { writeFileSync } from "node:fs";
import { binary, matmul, matmulRef, unary, type BinaryOp } from "../core/kernels.js";
import { matmul as matmulOp, tensor } from "../index.js";
import { KERNELS_FMA_WASM_BASE64, KERNELS_WASM_BASE64 } from "../core/wasm/kernels.generated.js";
import { unaryWasm, type WasmUnaryOp } from "../core/wasm/elementwise.js";
import {
  decodeBase64, resetSplitJudgement, setKernelBackend, setKernelThreads, setWasmSkipZeroSteps, setWasmSplitMinWork, wasmAvailable, wasmFusedMultiplyAdd, wasmLoadError,
  wasmSkipStats, wasmThreadsAvailable, WASM_SPLIT_MIN_WORK,
} from "../core/wasm/backend.js";
import type { DType } from "../core/tensor.js";

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const rounds = Number(option("--rounds", "7"));
const dtype = option("--dtype", "float32") as DType;
const jsonPath = option("--json", "");

type Size = readonly [M: number, K: number, N: number];
const SIZES: readonly Size[] = [[128, 128, 128], [256, 256, 256], [512, 512, 512], [32, 192, 512]];

/** Deterministic operands in [-1, 1) (an LCG: benchmarks need no statistical quality). */
function operand(n: number, seed: number): Float32Array | Float64Array {
  const x = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Timing {
  /** Wall-clock seconds per call. */
  wall: number;
  /** Process CPU seconds (user + system) per call: what the call cost, however busy the machine is. */
  cpu: number;
}

/** Runs `f` enough times to take ~`targetMs` of wall time (after one warm-up call) and times one call. */
function timePerCall(f: () => void, targetMs: number): Timing {
  f();
  let reps = 1;
  for (;;) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (ms >= targetMs || reps >= 1 << 20) return { wall: ms / 1000 / reps, cpu: (c.user + c.system) / 1e6 / reps };
    reps = Math.max(reps * 2, Math.ceil((reps * targetMs) / Math.max(ms, 0.01)));
  }
}

type Runner = (size: Size) => () => void;
const one = new Int32Array([0]);

/** core/kernels matmul forced to WebAssembly on `threads` threads. */
const wasmRunner = (threads: 1 | 2): Runner => ([M, K, N]) => {
  const a = operand(M * K, 1), b = operand(K * N, 2);
  return () => {
    const prev = setKernelBackend("wasm");
    const prevThreads = setKernelThreads(threads);
    resetSplitJudgement(); // measure what a split does, even where earlier splits did not pay
    matmul(a, b, M, K, N, 1, one, one, dtype);
    setKernelThreads(prevThreads);
    setKernelBackend(prev);
  };
};

const runners: Record<string, Runner> = {
  wasm: wasmRunner(1),
  ...(wasmThreadsAvailable() ? { "wasm 2 threads": wasmRunner(2) } : {}),
  ts: ([M, K, N]) => {
    const a = operand(M * K, 1), b = operand(K * N, 2);
    return () => void matmulRef(a, b, M, K, N, 1, one, one, dtype);
  },
};

async function addTfjs(): Promise<void> {
  if (flag("--no-tfjs") || dtype !== "float32") return;
  try {
    const tf = await import("@tensorflow/tfjs");
    const { setWasmPaths } = await import("@tensorflow/tfjs-backend-wasm");
    const require = createRequire(import.meta.url);
    setWasmPaths(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm")) + path.sep);
    if (!(await tf.setBackend("wasm"))) throw new Error("setBackend('wasm') failed");
    await tf.ready();
    runners["tfjs-wasm"] = ([M, K, N]) => {
      const A = tf.tensor2d(operand(M * K, 1) as Float32Array, [M, K]);
      const B = tf.tensor2d(operand(K * N, 2) as Float32Array, [K, N]);
      return () => {
        const c = tf.matMul(A, B);
        c.dataSync();
        c.dispose();
      };
    };
  } catch (e) {
    console.log(`(TensorFlow.js wasm unavailable: ${(e as Error).message})`);
  }
}

function crossover(): void {
  // Square-ish and skinny shapes around the threshold; ratio > 1 means wasm (with copies) is faster.
  const shapes: Size[] = [];
  for (const n of [2, 4, 8, 12, 16, 24, 32, 48, 64]) shapes.push([n, n, n]);
  for (const n of [8, 16, 32, 64, 128, 256]) shapes.push([1, n, n], [n, n, 1], [n, 1, n]);
  console.log(`crossover, ${dtype}: cpu time(ts) / cpu time(wasm), median of ${rounds} rounds`);
  const ratios = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++)
    for (const s of shapes) {
      const tw = timePerCall(runners.wasm!(s), 20).cpu;
      const tt = timePerCall(runners.ts!(s), 20).cpu;
      const key = s.join("x");
      ratios.set(key, [...(ratios.get(key) ?? []), tt / tw]);
    }
  for (const s of shapes) {
    const key = s.join("x");
    console.log(`${key.padEnd(12)} work ${String(s[0] * s[1] * s[2]).padStart(8)}  ts/wasm ${median(ratios.get(key)!).toFixed(2)}`);
  }
}

function threadCrossover(): void {
  // Wall-clock time: a second thread pays off in elapsed time, not in CPU time.
  const shapes: Size[] = [];
  for (const n of [32, 48, 64, 80, 96, 128, 160, 192, 256]) shapes.push([n, n, n]);
  shapes.push([32, 64, 256], [32, 128, 512], [32, 192, 512], [64, 256, 1024]);
  console.log(`two-thread crossover, ${dtype}: wall time(1 thread) / wall time(2 threads), median of ${rounds} rounds`);
  console.log(`(WASM_SPLIT_MIN_WORK = ${WASM_SPLIT_MIN_WORK}; every size is split here)`);
  const ratios = new Map<string, number[]>();
  const one = wasmRunner(1), two = wasmRunner(2);
  setWasmSplitMinWork(0);
  for (let r = 0; r < rounds; r++)
    for (const s of shapes) {
      const t1 = timePerCall(one(s), 30).wall;
      const t2 = timePerCall(two(s), 30).wall;
      const key = s.join("x");
      ratios.set(key, [...(ratios.get(key) ?? []), t1 / t2]);
    }
  for (const s of shapes) {
    const key = s.join("x");
    console.log(`${key.padEnd(14)} work ${String(s[0] * s[1] * s[2]).padStart(9)}  1T/2T ${median(ratios.get(key)!).toFixed(2)}`);
  }
}

function elementwise(): void {
  // An LSTM step's gates at B = 32, H = 128 are 32 x 512 values; 2^20 is a whole sequence's worth.
  const sizes = [4 * 1024, 16 * 1024, 1024 * 1024];
  const ops: WasmUnaryOp[] = ["exp", "sigmoid", "tanh"];
  console.log(`float32 elementwise, CPU ns per element, median of ${rounds} rounds (ts = core/kernels unary)`);
  const ns = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++)
    for (const n of sizes) {
      const x = new Float32Array(n).map((_, i) => 6 * Math.sin(i));
      for (const op of ops) {
        const push = (key: string, sec: number): void => void ns.set(key, [...(ns.get(key) ?? []), (sec * 1e9) / n]);
        push(`ts ${op} ${n}`, timePerCall(() => void unary(op, x, "float32"), 40).cpu);
        push(`wasm ${op} ${n}`, timePerCall(() => void unaryWasm(op, x), 40).cpu);
      }
    }
  console.log(["op".padEnd(9), ...sizes.flatMap((n) => [`ts n=${n}`.padStart(16), `wasm n=${n}`.padStart(16), "ratio".padStart(8)])].join(""));
  for (const op of ops)
    console.log([op.padEnd(9), ...sizes.flatMap((n) => {
      const t = median(ns.get(`ts ${op} ${n}`)!), w = median(ns.get(`wasm ${op} ${n}`)!);
      return [t.toFixed(2).padStart(16), w.toFixed(2).padStart(16), (t / w).toFixed(1).padStart(8)];
    })].join(""));
}

function binaryOps(): void {
  // 64-1024 brackets BINARY_WASM_MIN_SIZE; 4096 and 16384 are an LSTM step's [32, 128] state and [32, 512]
  // gates at B = 32, H = 128; 2^20 a whole sequence's input projection plus bias.
  const sizes = [64, 128, 256, 512, 1024, 4096, 16384, 1 << 20];
  const ops: BinaryOp[] = ["add", "sub", "mul", "div", "maximum", "minimum"];
  // same: [n] op [n]; row: [n/64, 64] op [64] (a bias over a batch)
  const layouts = ["same", "row"] as const;
  console.log(`float32 binary, CPU ns per output, median of ${rounds} rounds (core/kernels binary under 'ts' and under 'wasm')`);
  const ns = new Map<string, number[]>();
  const timed = (choice: "ts" | "wasm", f: () => void): number => {
    const prev = setKernelBackend(choice);
    const t = timePerCall(f, 30).cpu;
    setKernelBackend(prev);
    return t;
  };
  for (let r = 0; r < rounds; r++)
    for (const n of sizes)
      for (const layout of layouts) {
        const a = operand(n, 1) as Float32Array;
        const cols = Math.min(64, n), b = layout === "same" ? (operand(n, 2) as Float32Array) : (operand(cols, 2) as Float32Array);
        const out = [n / cols, cols], bShape = layout === "same" ? out : [cols];
        for (const op of ops) {
          const call = (): void => void binary(op, a, out, b, bShape, out, "float32");
          const push = (key: string, sec: number): void => void ns.set(key, [...(ns.get(key) ?? []), (sec * 1e9) / n]);
          push(`ts ${op} ${layout} ${n}`, timed("ts", call));
          push(`wasm ${op} ${layout} ${n}`, timed("wasm", call));
        }
      }
  for (const layout of layouts) {
    console.log(`\n${layout === "same" ? "[n] op [n]" : "[n/64, 64] op [64]"}: ts ns, wasm ns, ts/wasm`);
    console.log(["op".padEnd(9), ...sizes.map((n) => `n=${n}`.padStart(22))].join(""));
    for (const op of ops)
      console.log([op.padEnd(9), ...sizes.map((n) => {
        const t = median(ns.get(`ts ${op} ${layout} ${n}`)!), w = median(ns.get(`wasm ${op} ${layout} ${n}`)!);
        return `${t.toFixed(2)} ${w.toFixed(2)} ${(t / w).toFixed(2)}`.padStart(22);
      })].join(""));
  }
}

function skipZeroSteps(): void {
  // Dense operands (skipping can only cost: the zero test while packing A) and the char-LM's one-hot products at
  // V = 64, B·T = 2048, G·H = 512: x·Wx (A one-hot rows) and the weight gradient xᵀ·dz (A one-hot columns).
  const oneHot = (rows: number, cols: number, byRow: boolean): Float32Array => {
    const x = new Float32Array(rows * cols);
    const hot = operand(byRow ? rows : cols, 3);
    if (byRow) for (let i = 0; i < rows; i++) x[i * cols + Math.floor(((hot[i]! + 1) / 2) * cols)] = 1;
    else for (let j = 0; j < cols; j++) x[Math.floor(((hot[j]! + 1) / 2) * rows) * cols + j] = 1;
    return x;
  };
  const cases: { name: string; M: number; K: number; N: number; a: Float32Array | Float64Array }[] = [
    ...SIZES.map(([M, K, N]) => ({ name: `dense ${M}x${K}x${N}`, M, K, N, a: operand(M * K, 1) })),
    { name: "x·Wx 2048x64x512", M: 2048, K: 64, N: 512, a: oneHot(2048, 64, true) },
    { name: "xᵀ·dz 64x2048x512", M: 64, K: 2048, N: 512, a: oneHot(64, 2048, false) },
  ];
  console.log(`zero-step skipping, float32, 1 thread: CPU time with it on ÷ off, median (min–max) of ${rounds} interleaved rounds`);
  const ratios = new Map<string, number[]>();
  const share = new Map<string, number>();
  const prevThreads = setKernelThreads(1);
  const prev = setKernelBackend("wasm");
  for (let r = 0; r < rounds; r++)
    for (const c of cases) {
      const b = operand(c.K * c.N, 2);
      const call = (on: boolean) => () => {
        setWasmSkipZeroSteps(on);
        matmul(c.a, b, c.M, c.K, c.N, 1, one, one, "float32");
      };
      // on first in odd rounds, off first in even ones, so a change of load between the two hits both alike
      const order = r % 2 ? [true, false] : [false, true];
      const [t0, t1] = order.map((on) => timePerCall(call(on), 100).cpu) as [number, number];
      ratios.set(c.name, [...(ratios.get(c.name) ?? []), r % 2 ? t0 / t1 : t1 / t0]);
      const s0 = wasmSkipStats();
      call(true)();
      const s1 = wasmSkipStats();
      share.set(c.name, (s1.skippedMacs - s0.skippedMacs) / (s1.macs - s0.macs));
    }
  setKernelBackend(prev);
  setKernelThreads(prevThreads);
  setWasmSkipZeroSteps(true);
  for (const c of cases) {
    const xs = ratios.get(c.name)!;
    const left = `${(100 * share.get(c.name)!).toFixed(0)}% of multiply-adds left out`;
    console.log(`${c.name.padEnd(22)} on/off ${median(xs).toFixed(3)} (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})  ${left}`);
  }
}

// ---------------------------------------------------------------------------------------------
// --ceiling: what 128-bit SIMD allows on this machine

/** An exported loop of `n` independent f32x4 chains, each advanced by `step` (of its name) once per iteration. */
const chainLoop = (name: string, n: number, init: number, step: (c: string) => string): string => {
  const cs = Array.from({ length: n }, (_, i) => `c${i}`);
  return `export function ${name}(iters: i32): f32 {
  const a = f32x4.splat(0.99999994), b = f32x4.splat(1e-7);
  let c0 = f32x4.splat(${init}), ${cs.slice(1).map((c) => `${c} = c0`).join(", ")};
  for (let i = 0; i < iters; i++) { ${cs.map((c) => `${c} = ${step(c)};`).join(" ")} }
  let s = c0;
  ${cs.slice(1).map((c) => `s = f32x4.add(s, ${c});`).join(" ")}
  return f32x4.extract_lane(s, 0);
}
`;
};
/**
 * Loops of independent f32x4 chains, in registers, no memory traffic: `muls` and `adds` run 8 chains of one kind
 * (the throughput of each kind alone); `fmas` runs 12 chains of x * a + b, in the fused build one relaxed_madd
 * each (MADD is defined per build; the plain build's fmas is not timed). A multiply-then-add kernel does one of
 * each per multiply-add, so it cannot beat the slower of the two rates; a fused kernel cannot beat the fused rate.
 * (A loop of multiplies feeding adds measured well under both here, and under the kernel itself: how V8 schedules
 * a loop matters as much as the pipes, so these rates are upper bounds, not what a loop must reach.) Each returns
 * a lane so nothing is optimised away; the multipliers stay near 1, so no value comes near a subnormal.
 */
const PEAK_SOURCE = [
  chainLoop("muls", 8, 1, (c) => `f32x4.mul(${c}, a)`),
  chainLoop("adds", 8, 0, (c) => `f32x4.add(${c}, b)`),
  chainLoop("fmas", 12, 0, (c) => `MADD(${c}, a, b)`),
  // kernels.as kernel32's dense loop (4 x 8 tile, splats of A, two vectors of B), `reps` times over one pair of
  // packed panels of kc steps, which stay in L1: the micro-kernel's own speed, with nothing around it
  `export function tile(pa0: usize, pb0: usize, kc: i32, reps: i32, out: usize): void {
  for (let r = 0; r < reps; r++) {
    let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    let pa = pa0, pb = pb0;
    const end = pa0 + (<usize>kc << 4);
    for (; pa < end; pa += 16, pb += 32) {
      const b0 = v128.load(pb), b1 = v128.load(pb, 16);
      let a = v128.load32_splat(pa); c00 = MADD(a, b0, c00); c01 = MADD(a, b1, c01);
      a = v128.load32_splat(pa, 4); c10 = MADD(a, b0, c10); c11 = MADD(a, b1, c11);
      a = v128.load32_splat(pa, 8); c20 = MADD(a, b0, c20); c21 = MADD(a, b1, c21);
      a = v128.load32_splat(pa, 12); c30 = MADD(a, b0, c30); c31 = MADD(a, b1, c31);
    }
    v128.store(out, f32x4.add(f32x4.add(f32x4.add(c00, c01), f32x4.add(c10, c11)), f32x4.add(f32x4.add(c20, c21), f32x4.add(c30, c31))));
  }
}
`,
].join("\n");

interface PeakExports {
  memory: WebAssembly.Memory;
  muls(iters: number): number;
  adds(iters: number): number;
  fmas(iters: number): number;
  tile(pa: number, pb: number, kc: number, reps: number, out: number): void;
}

/** The peak loops compiled now with AssemblyScript (a devDependency), plain and (where the engine validates it) fused. */
async function peakModules(): Promise<{ plain: PeakExports; fused: PeakExports | null }> {
  const asc = (await import("assemblyscript/asc")).default;
  const build = async (source: string, relaxed: boolean): Promise<PeakExports | null> => {
    const r = await asc.compileString(
      { "peak.ts": source },
      { optimizeLevel: 1, runtime: "stub", noAssert: true, enable: ["simd", ...(relaxed ? ["relaxed-simd"] : [])], use: ["abort="] },
    );
    if (r.error || !r.binary) throw new Error(`compiling the peak loops failed: ${r.error?.message ?? "no binary"}`);
    const bytes = new Uint8Array(r.binary);
    if (!WebAssembly.validate(bytes)) return null;
    return new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as PeakExports;
  };
  const madd = "// @ts-ignore: decorator\n@inline function MADD(x: v128, a: v128, b: v128): v128 { return ";
  const plainSource = `${madd}f32x4.add(f32x4.mul(x, a), b); }\n${PEAK_SOURCE}`;
  const fusedSource = `${madd}f32x4.relaxed_madd(x, a, b); }\n${PEAK_SOURCE}`;
  return { plain: (await build(plainSource, false))!, fused: await build(fusedSource, true) };
}

/**
 * The bare float32 kernel: matmulPartF32 on operands already in linear memory and B packed ahead (as a resident
 * weight is), one thread, no copies. The module is instantiated here, apart from core's engine, to call it directly.
 */
function bareKernel([M, K, N]: Size): () => void {
  const bytes = decodeBase64(wasmFusedMultiplyAdd() ? KERNELS_FMA_WASM_BASE64 : KERNELS_WASM_BASE64);
  const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as {
    memory: WebAssembly.Memory; heapBase(): number; workBytesF32(): number;
    packB32(dst: number, b: number, ldb: number, kc: number, nc: number, steps: number): number;
    matmulPartF32(...args: number[]): number;
  };
  const up = (x: number): number => Math.ceil(x / 64) * 64;
  const work = up(k.heapBase());
  const packed = up(work + k.workBytesF32());
  const a = up(packed + K * (N + 7) * 4), b = up(a + M * K * 4), c = up(b + K * N * 4), maps = up(c + M * N * 4);
  k.memory.grow(Math.ceil((maps + 8 - k.memory.buffer.byteLength) / 65536) + 1);
  new Float32Array(k.memory.buffer, a, M * K).set(operand(M * K, 1));
  new Float32Array(k.memory.buffer, b, K * N).set(operand(K * N, 2));
  new Int32Array(k.memory.buffer, maps, 2).fill(0);
  let finite = 1;
  for (let pc = 0; pc < K; pc += 256) finite &= k.packB32(packed + pc * (N + 7) * 4, b + pc * N * 4, N, Math.min(256, K - pc), N, 0);
  return () => void k.matmulPartF32(a, b, c, M, K, N, 1, maps, maps + 4, work, 0, M, 0, N, packed, finite, 0);
}

async function ceiling(): Promise<void> {
  const { plain, fused } = await peakModules();
  const iters = 20_000_000;
  // the tile loop's panels: 256 steps of A (4 KiB) and of B (8 KiB) from byte 0, values that stay finite
  const kc = 256, reps = 20_000;
  for (const m of fused ? [plain, fused] : [plain]) {
    if (m.memory.buffer.byteLength < 1 << 16) m.memory.grow(1);
    new Float32Array(m.memory.buffer, 0, 12 * kc).set(operand(12 * kc, 3));
  }
  const tileFlops = 2 * 4 * 8 * kc * reps;
  // name, loop, f32x4 operations per call
  const loops: [string, () => void, number][] = [
    ["mul", () => void plain.muls(iters), 8 * iters],
    ["add", () => void plain.adds(iters), 8 * iters],
    ...(fused ? [["fused madd", () => void fused.fmas(iters), 12 * iters] as [string, () => void, number]] : []),
  ];
  const tiles: [string, () => void][] = [
    ["4x8 step loop", () => plain.tile(0, 4 * kc * 4, kc, reps, 1 << 15)],
    ...(fused ? [["fused 4x8 step loop", () => fused.tile(0, 4 * kc * 4, kc, reps, 1 << 15)] as [string, () => void]] : []),
  ];
  const sizes: Size[] = [[256, 256, 256], [512, 512, 512]];
  await addTfjs();
  const calls: [string, Size, () => void][] = [];
  for (const s of sizes) {
    calls.push(["bare kernel", s, bareKernel(s)]);
    const A = tensor(operand(s[0] * s[1], 1) as Float32Array, { shape: [s[0], s[1]] });
    const B = tensor(operand(s[1] * s[2], 2) as Float32Array, { shape: [s[1], s[2]] });
    calls.push(["seqgrad matmul", s, () => void matmulOp(A, B)]);
    if (runners["tfjs-wasm"]) calls.push(["tfjs-wasm", s, runners["tfjs-wasm"](s)]);
  }
  setKernelThreads(1);
  const seen = new Map<string, number[]>();
  const push = (key: string, x: number): void => void seen.set(key, [...(seen.get(key) ?? []), x]);
  for (let r = 0; r < rounds; r++) {
    for (const [name, f, ops] of loops) push(name, ops / timePerCall(f, 150).wall / 1e9);
    for (const [name, f] of tiles) push(name, tileFlops / timePerCall(f, 150).wall / 1e9);
    for (const [name, s, f] of calls) push(`${name} ${s.join("x")}`, (2 * s[0] * s[1] * s[2]) / timePerCall(f, 150).wall / 1e9);
  }
  const best = (key: string): number => Math.max(...seen.get(key)!);
  const med = (key: string): number => median(seen.get(key)!);
  console.log(`f32x4 operations per ns (10^9/s), 1 thread, best and median of ${rounds} interleaved rounds (${fused ? "relaxed SIMD available" : "no relaxed SIMD in this engine"}):`);
  for (const [name] of loops) console.log(`  ${name.padEnd(12)} ${best(name).toFixed(2).padStart(6)}  ${med(name).toFixed(2).padStart(6)}`);
  // a multiply-add is 2 flops in each of 4 lanes: 8 per (multiply, add) pair or per fused operation
  const ceil = 8 * Math.max(Math.min(best("mul"), best("add")), fused ? best("fused madd") : 0);
  console.log(`float32 GEMM ceiling: ${ceil.toFixed(1)} GFLOP/s (8 flops x the slower of mul and add${fused ? ", or x the fused rate where that is more" : ""}; best rounds)`);
  console.log(`\n${"matmul".padEnd(22)}${"size".padStart(6)}${"GFLOP/s (median)".padStart(18)}${"÷ ceiling".padStart(12)}`);
  for (const [name] of tiles) console.log(`${name.padEnd(22)}${"L1".padStart(6)}${med(name).toFixed(1).padStart(18)}${(med(name) / ceil).toFixed(2).padStart(12)}`);
  for (const [name, s] of calls) {
    const key = `${name} ${s.join("x")}`;
    console.log(`${name.padEnd(22)}${`${s[0]}³`.padStart(6)}${med(key).toFixed(1).padStart(18)}${(med(key) / ceil).toFixed(2).padStart(12)}`);
  }
}

async function main(): Promise<void> {
  if (!wasmAvailable()) throw new Error(`WebAssembly kernels did not load: ${String(wasmLoadError())}`);
  console.log(`WebAssembly float32 matmul: ${wasmFusedMultiplyAdd() ? "relaxed-SIMD build, multiply-adds fused" : "SIMD build, separate multiply and add"}`);
  if (flag("--crossover")) return crossover();
  if (flag("--threads")) return threadCrossover();
  if (flag("--elementwise")) return elementwise();
  if (flag("--binary")) return binaryOps();
  if (flag("--skip")) return skipZeroSteps();
  if (flag("--ceiling")) return ceiling();
  await addTfjs();
  const names = Object.keys(runners);
  const clocks = ["wall", "cpu"] as const;
  const gflops = new Map<string, number[]>();
  const calls = new Map<string, () => void>();
  for (const name of names) for (const s of SIZES) calls.set(`${name} ${s.join("x")}`, runners[name]!(s));
  const push = (key: string, x: number): void => void gflops.set(key, [...(gflops.get(key) ?? []), x]);
  for (let r = 0; r < rounds; r++)
    for (const s of SIZES)
      for (const name of names) {
        const key = `${name} ${s.join("x")}`;
        // The TypeScript loop is ~30x slower; give it less time so a round stays short.
        const t = timePerCall(calls.get(key)!, name === "ts" ? 60 : 150);
        const flops = 2 * s[0] * s[1] * s[2];
        push(`wall ${key}`, flops / t.wall / 1e9);
        push(`cpu ${key}`, flops / t.cpu / 1e9);
      }
  const cols = SIZES.map((s) => s.join("×"));
  const result: Record<string, Record<string, Record<string, { median: number; min: number; max: number }>>> = {};
  for (const clock of clocks) {
    result[clock] = {};
    const per = clock === "wall" ? "wall-clock time" : "process CPU time (user + system)";
    console.log(`\nmatmul ${dtype} GFLOP/s by ${per}, 1 thread, median (min–max) of ${rounds} interleaved rounds`);
    console.log(["backend".padEnd(26), ...cols.map((c) => c.padStart(20))].join(""));
    for (const name of names) {
      const row: Record<string, { median: number; min: number; max: number }> = {};
      const cells = SIZES.map((s) => {
        const xs = gflops.get(`${clock} ${name} ${s.join("x")}`)!;
        const cell = { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
        row[s.join("x")] = cell;
        return `${cell.median.toFixed(1)} (${cell.min.toFixed(1)}–${cell.max.toFixed(1)})`.padStart(20);
      });
      result[clock]![name] = row;
      console.log([name.padEnd(26), ...cells].join(""));
    }
    for (const mine of names.filter((n) => n.startsWith("wasm")))
      for (const peer of names.filter((n) => !n.startsWith("wasm"))) {
        const ratios = SIZES.map((s) => (result[clock]![mine]![s.join("x")]!.median / result[clock]![peer]![s.join("x")]!.median).toFixed(2).padStart(20));
        console.log([`${mine} ÷ ${peer}`.padEnd(26), ...ratios].join(""));
      }
  }
  if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ dtype, rounds, fusedMultiplyAdd: wasmFusedMultiplyAdd(), gflops: result }, null, 2));
}

await main();
