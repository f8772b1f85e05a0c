import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { binary, matmul as matmulKernel, matmulRef, reduce, unary, type BinaryOp } from "../../core/kernels.js";
import { softmaxCrossEntropyForward } from "../../core/kernels-fused.js";
import {
  BINARY_WASM_MIN_SIZE, ELEMENTWISE_MAX_ULPS, setBinaryWasmMinSize, ELEMENTWISE_WASM_MIN_SIZE, elementwiseSmallBuild, elementwiseWasmAvailable, softmaxRowsWasm,
  SUM_WASM_MIN_SIZE, sumMiddleWasm, unaryPrefersWasm, unaryWasm, wasmBinaryCount, wasmSumCount,
  type WasmBinaryOp, type WasmUnaryOp,
} from "../../core/wasm/elementwise.js";
import {
  getKernelBackend, getKernelThreads, judgeSplit, matmulPrefersWasm, matmulWasm, matmulWasmStart, resetSplitJudgement, resetWasmResident,
  setKernelBackend, setKernelThreads, setSplitRates, setWasmSkipZeroSteps, splitShare, wasmAvailable, wasmLoadError, wasmResidentStats, wasmSkipStats, wasmSmallBuild,
  wasmSplitCount, wasmStartedCount, wasmThreadsAvailable,
  WASM_MATMUL_MIN_WORK, WASM_RESIDENT_BYTES, WASM_SPLIT_LARGE_WORK, WASM_SPLIT_MIN_WORK,
} from "../../core/wasm/backend.js";
import {
  ELEMENTWISE_SMALL_WASM_BYTES, ELEMENTWISE_WASM_BYTES, KERNELS_SMALL_FMA_WASM_BYTES, KERNELS_SMALL_WASM_BASE64, KERNELS_SMALL_WASM_BYTES, KERNELS_SOURCE_SHA256, KERNELS_WASM_BYTES,
} from "../../core/wasm/kernels.generated.js";
import { tensor, dataOf, type Data, type DType } from "../../core/tensor.js";
import { float32Order } from "./float32-steps.js";
import { ArgumentError } from "../../core/errors.js";
import { matmul } from "../../autograd/index.js";

// Accuracy claims under test:
// - float64: the WebAssembly kernel sums every C entry over k = 0..K-1 in order with separate multiply and
//   add, exactly as matmulRef does, so results are identical bit for bit (compared with Object.is, which
//   also tells -0 from +0 and matches NaN with NaN).
// - float32: the kernel rounds each product and partial sum to float32; matmulRef sums in float64 and rounds
//   once. With u = 2^-24 the standard bound gives, per entry,
//     |wasm - ref| <= (K + 2) * u * sum_k |a_ik * b_kj|      (for K <= 5000; operands here have no subnormals).
const U32 = 2 ** -24;

/** Deterministic values in [-1, 1) from a seed that fast-check chose (no Math.random in a property). */
function values(n: number, seed: number, dtype: DType): Data {
  const x = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

interface Problem {
  M: number; K: number; N: number;
  aCount: number; bCount: number;
  aBatch: Int32Array; bBatch: Int32Array;
  a: Data; b: Data;
}

function problem(dtype: DType, M: number, K: number, N: number, aBatch: number[], bBatch: number[], seed: number): Problem {
  const aCount = Math.max(0, ...aBatch) + 1;
  const bCount = Math.max(0, ...bBatch) + 1;
  return {
    M, K, N, aCount, bCount,
    aBatch: Int32Array.from(aBatch), bBatch: Int32Array.from(bBatch),
    a: values(aCount * M * K, seed, dtype), b: values(bCount * K * N, seed ^ 0x5bd1e995, dtype),
  };
}

const runWasm = (p: Problem, dtype: DType): Data => {
  const c = matmulWasm(p.a, p.b, p.M, p.K, p.N, p.aBatch.length, p.aBatch, p.bBatch, dtype);
  if (c === null) throw new Error(`WebAssembly matmul declined [${p.M},${p.K}]@[${p.K},${p.N}]: ${String(wasmLoadError())}`);
  return c;
};
const runRef = (p: Problem, dtype: DType): Data => matmulRef(p.a, p.b, p.M, p.K, p.N, p.aBatch.length, p.aBatch, p.bBatch, dtype);

/** Index of the first entry that differs bit for bit, or -1. */
function firstDifference(x: Data, y: Data): number {
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return i;
  return -1;
}

/** Worst ratio |wasm - ref| / ((K + 2) u Σ|a||b|) over all entries; the float32 claim is that it is <= 1. */
function worstFloat32Ratio(p: Problem, wasm: Data, ref: Data): number {
  const { M, K, N } = p;
  let worst = 0;
  for (let bt = 0; bt < p.aBatch.length; bt++) {
    const aOff = p.aBatch[bt]! * M * K, bOff = p.bBatch[bt]! * K * N;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let mag = 0;
        for (let k = 0; k < K; k++) mag += Math.abs(p.a[aOff + i * K + k]! * p.b[bOff + k * N + j]!);
        const idx = bt * M * N + i * N + j;
        const err = Math.abs(wasm[idx]! - ref[idx]!);
        const bound = (K + 2) * U32 * mag;
        const ratio = err === 0 ? 0 : bound === 0 ? Infinity : err / bound;
        if (!(ratio <= worst)) worst = ratio;
      }
  }
  return worst;
}

function expectAgrees(p: Problem, dtype: DType): void {
  const wasm = runWasm(p, dtype);
  const ref = runRef(p, dtype);
  expect(wasm).toBeInstanceOf(dtype === "float32" ? Float32Array : Float64Array);
  expect(wasm.length).toBe(p.aBatch.length * p.M * p.N);
  if (dtype === "float64") {
    const i = firstDifference(wasm, ref);
    expect(i, `first differing entry ${i}: wasm ${wasm[i]} vs ref ${ref[i]}`).toBe(-1);
  } else {
    expect(worstFloat32Ratio(p, wasm, ref)).toBeLessThanOrEqual(1);
  }
}

// Sizes around the kernel's blocks: micro-tiles are 4 x 8 (float32) and 4 x 4 (float64), so primes and
// values just off multiples of 4 and 8 exercise every zero-padded edge path.
const dim = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 2, 3, 5, 7, 9, 11, 13, 15, 17, 23, 25, 29, 31, 33, 37, 39, 41, 47, 49, 53));

const batchedProblem = (dtype: DType) =>
  fc
    .record({
      M: dim, K: dim, N: dim,
      aCount: fc.integer({ min: 1, max: 3 }), bCount: fc.integer({ min: 1, max: 3 }),
      batches: fc.integer({ min: 1, max: 4 }),
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    })
    .chain((r) =>
      fc.record({
        r: fc.constant(r),
        aMap: fc.array(fc.integer({ min: 0, max: r.aCount - 1 }), { minLength: r.batches, maxLength: r.batches }),
        bMap: fc.array(fc.integer({ min: 0, max: r.bCount - 1 }), { minLength: r.batches, maxLength: r.batches }),
      }),
    )
    .map(({ r, aMap, bMap }) => problem(dtype, r.M, r.K, r.N, aMap, bMap, r.seed));

describe("WebAssembly kernels", () => {
  afterEach(() => {
    setKernelBackend("auto");
  });

  it("load synchronously in Node", () => {
    expect(wasmLoadError()).toBeUndefined();
    expect(wasmAvailable()).toBe(true);
  });

  it("keep a small elementwise build that browsers compile on the main thread (4096 bytes), and load the full one in Node", () => {
    // new WebAssembly.Module on the main thread is refused above 4 KB in Chromium; the small build lacks only the
    // softmax kernel (the matmul module's small build is checked with the zero-step skip below)
    expect(ELEMENTWISE_SMALL_WASM_BYTES).toBeLessThanOrEqual(4096);
    expect(ELEMENTWISE_WASM_BYTES).toBeGreaterThan(ELEMENTWISE_SMALL_WASM_BYTES);
    expect(elementwiseSmallBuild()).toBe(false);
  });

  it("were compiled from the committed AssemblyScript source", () => {
    const read = (name: string): string => readFileSync(new URL(`../../core/wasm/${name}`, import.meta.url), "utf8");
    const hash = createHash("sha256").update(read("kernels.as")).update(read("elementwise.as")).digest("hex");
    expect(hash, "core/wasm/kernels.generated.ts is stale: run npm run build:wasm").toBe(KERNELS_SOURCE_SHA256);
  });

  for (const dtype of ["float64", "float32"] as const) {
    const claim = dtype === "float64" ? "bit for bit" : "within (K + 2)·2^-24·Σ|a||b|";
    it(`matmul equals the TypeScript reference ${claim} over random batched, broadcast shapes (${dtype})`, () => {
      fc.assert(fc.property(batchedProblem(dtype), (p) => expectAgrees(p, dtype)), { numRuns: 60 });
    });

    it(`matmul equals the TypeScript reference ${claim} across cache-block boundaries (${dtype})`, () => {
      // KC = 256 (both dtypes), MC = 120 / 60 and NC = 2040 / 1020 (float32 / float64): one past each block
      // forces a reloaded partial sum, a second row block and a second column block.
      const [mc, nc] = dtype === "float32" ? [120, 2040] : [60, 1020];
      expectAgrees(problem(dtype, mc + 1, 257, 9, [0], [0], 7), dtype);
      expectAgrees(problem(dtype, 7, 513, 13, [0, 0], [1, 0], 11), dtype);
      expectAgrees(problem(dtype, 5, 300, nc + 3, [0], [0], 13), dtype);
      expectAgrees(problem(dtype, mc + 7, 11, 29, [0, 1], [0, 0], 17), dtype);
    });
  }

  it("matmul of every A batch against one shared B (folded into one taller product) equals the reference", () => {
    for (const dtype of ["float64", "float32"] as const) {
      expectAgrees(problem(dtype, 7, 13, 29, [0, 1, 2], [1, 1, 1], 31), dtype);
      expectAgrees(problem(dtype, 32, 130, 50, [0, 1, 2, 3, 4, 5, 6, 7], [0, 0, 0, 0, 0, 0, 0, 0], 37), dtype);
      // Not foldable: A batches out of order, or B varying.
      expectAgrees(problem(dtype, 5, 9, 7, [1, 0, 2], [0, 0, 0], 41), dtype);
      expectAgrees(problem(dtype, 5, 9, 7, [0, 1, 2], [0, 1, 0], 43), dtype);
    }
  });

  it("matmul propagates Inf and NaN exactly as the reference does (float64)", () => {
    fc.assert(
      fc.property(dim, dim, dim, fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(fc.constantFrom(Infinity, -Infinity, NaN, 0, -0), { minLength: 1, maxLength: 6 }), (M, K, N, seed, specials) => {
        const p = problem("float64", M, K, N, [0], [0], seed);
        // Scatter the specials over both operands at positions derived from the seed.
        specials.forEach((v, i) => {
          const target = i % 2 ? p.b : p.a;
          target[(seed + i * 7919) % target.length] = v;
        });
        const i = firstDifference(runWasm(p, "float64"), runRef(p, "float64"));
        expect(i).toBe(-1);
      }),
      { numRuns: 40 },
    );
  });

  it("matmul with an empty inner dimension returns zeros even after a call left data in memory", () => {
    for (const dtype of ["float32", "float64"] as const) {
      runWasm(problem(dtype, 9, 9, 9, [0], [0], 3), dtype);
      const c = runWasm(problem(dtype, 9, 0, 9, [0], [0], 3), dtype);
      expect(Array.from(c)).toEqual(new Array(81).fill(0));
      expect(runWasm(problem(dtype, 0, 5, 4, [0], [0], 3), dtype).length).toBe(0);
      expect(runWasm(problem(dtype, 4, 5, 0, [0], [0], 3), dtype).length).toBe(0);
    }
  });

  it("matmul leaves its operands unchanged", () => {
    const p = problem("float32", 13, 17, 19, [0, 1], [0, 0], 5);
    const a0 = p.a.slice(), b0 = p.b.slice();
    runWasm(p, "float32");
    expect(firstDifference(p.a, a0)).toBe(-1);
    expect(firstDifference(p.b, b0)).toBe(-1);
  });
});

describe("fused multiply-add (relaxed SIMD) float32 matmul", () => {
  it("is loaded where the engine supports relaxed SIMD and stays within (K + 2)·2^-24·Σ|a||b| of the reference", () => {
    // Node 20 ships relaxed SIMD behind a flag, so a child process with the flag runs the fused build.
    const backend = new URL("../../core/wasm/backend.ts", import.meta.url).href;
    const kernels = new URL("../../core/kernels.ts", import.meta.url).href;
    const script = `
      const { matmulWasm, wasmFusedMultiplyAdd } = await import(${JSON.stringify(backend)});
      const { matmulRef } = await import(${JSON.stringify(kernels)});
      let s = 12345;
      const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
      let worst = 0;
      for (const [M, K, N] of [[7, 300, 13], [33, 257, 50], [4, 1, 12], [61, 40, 29]]) {
        const a = Float32Array.from({ length: M * K }, rnd), b = Float32Array.from({ length: K * N }, rnd);
        const one = new Int32Array([0]);
        const w = matmulWasm(a, b, M, K, N, 1, one, one, "float32"), r = matmulRef(a, b, M, K, N, 1, one, one, "float32");
        for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
          let mag = 0;
          for (let k = 0; k < K; k++) mag += Math.abs(a[i * K + k] * b[k * N + j]);
          const err = Math.abs(w[i * N + j] - r[i * N + j]);
          worst = Math.max(worst, err === 0 ? 0 : err / ((K + 2) * 2 ** -24 * mag));
        }
      }
      console.log(JSON.stringify({ fused: wasmFusedMultiplyAdd(), worst }));
    `;
    const child = spawnSync(process.execPath, ["--experimental-wasm-relaxed-simd", "--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, SEQGRAD_FMA: "" },
    });
    expect(child.status, child.stderr).toBe(0);
    const report = JSON.parse(child.stdout.trim().split("\n").pop()!) as { fused: boolean; worst: number };
    expect(report.fused).toBe(true);
    expect(report.worst).toBeLessThanOrEqual(1);
  });
});

/**
 * Split rates that cut a split three ways: none measured (even halves), a slow output touch (this thread's share
 * cut small) and a slow helper (cut large).
 */
const UNEVEN_SPLITS = [null, { main: 1, helper: 1, touch: 1e-9 }, { main: 1, helper: 0.2, touch: 0 }] as const;

describe("two-thread WebAssembly matmul", () => {
  afterEach(() => {
    setKernelThreads(2);
  });

  it("is available in Node (shared memory and a helper worker)", () => {
    expect(wasmThreadsAvailable()).toBe(true);
  });

  for (const dtype of ["float64", "float32"] as const) {
    it(`gives the one-thread result bit for bit when split by columns, by rows and per batch (${dtype})`, () => {
      const cases = [
        problem(dtype, 40, 300, 230, [0], [0], 51), // C wide: split by columns
        problem(dtype, 301, 70, 130, [0], [0], 53), // C tall: split by rows
        problem(dtype, 9, 300, 330, [0, 1, 0], [1, 0, 0], 57), // batched, not foldable
        problem(dtype, 11, 300, 200, [0, 1, 2, 3], [0, 0, 0, 0], 59), // batched, folded into rows
      ];
      expect(wasmThreadsAvailable()).toBe(true); // waits until the helper is ready to take a part
      for (const p of cases) {
        expect(p.aBatch.length * p.M * p.K * p.N).toBeGreaterThanOrEqual(WASM_SPLIT_MIN_WORK);
        setKernelThreads(1);
        const before = wasmSplitCount();
        const one = runWasm(p, dtype);
        expect(wasmSplitCount()).toBe(before);
        setKernelThreads(2);
        // UNEVEN_SPLITS's three cuts, each after the same shapes with other values run on one thread, so the
        // buffers a split reuses hold other numbers, and an entry neither part writes shows
        const decoy = problem(dtype, p.M, p.K, p.N, [...p.aBatch], [...p.bBatch], 97);
        for (const [cut, r] of UNEVEN_SPLITS.entries()) {
          const n = cut + 1;
          setKernelThreads(1);
          runWasm(decoy, dtype);
          setKernelThreads(2);
          resetSplitJudgement(); // a split that did not pay (a busy machine) would make this one back off
          if (r) setSplitRates(r);
          const two = runWasm(p, dtype);
          expect(wasmSplitCount()).toBe(before + n);
          const i = firstDifference(two, one);
          expect(i, `[${p.M},${p.K}]@[${p.K},${p.N}] split ${n}, entry ${i}: ${two[i]} vs ${one[i]}`).toBe(-1);
        }
      }
      resetSplitJudgement();
      // And the split result is the reference's (exactly in float64, within the bound in float32).
      expectAgrees(cases[0]!, dtype);
    });
  }

  it("shares a split so both threads finish together: this thread's part plus the output touch against the helper's", () => {
    const W = 1000;
    expect(splitShare(W, 0, { main: 0, helper: 0, touch: 0 })).toBe(0.5); // nothing measured yet: halves
    expect(splitShare(W, 0, { main: 1, helper: 1, touch: 0 })).toBe(0.5);
    // the touch takes 500 of the 1000 ms one thread would compute: 0.25·1000 + 500 = 0.75·1000
    expect(splitShare(W, 500, { main: 1, helper: 1, touch: 1 })).toBe(0.25);
    // a helper at half this thread's rate: 2/3·1000 = 1/3·1000·2
    expect(splitShare(W, 0, { main: 1, helper: 0.5, touch: 0 })).toBeCloseTo(2 / 3, 12);
    expect(splitShare(W, 1e6, { main: 1, helper: 1, touch: 1 })).toBe(0.1); // clamped: the helper never takes it all
    expect(splitShare(W, 0, { main: 1, helper: 1e-6, touch: 0 })).toBe(0.9);
  });

  it("backs off to one thread after a split that did not pay, and tries again after the backoff", () => {
    expect(wasmThreadsAvailable()).toBe(true);
    const p = problem("float32", 64, 128, 336, [0], [0], 61);
    expect(64 * 128 * 336).toBeGreaterThanOrEqual(WASM_SPLIT_MIN_WORK);
    resetSplitJudgement();
    judgeSplit(1, 5); // this thread computed for 1 ms, then waited 5 ms for the helper: slower than one thread
    const before = wasmSplitCount();
    runWasm(p, "float32");
    expect(wasmSplitCount()).toBe(before); // backed off: one thread
    runWasm(p, "float32");
    expect(wasmSplitCount()).toBe(before + 1); // backoff of 1 served: split again
    resetSplitJudgement();
    judgeSplit(4, 1); // waited less than 0.8 of its own part: it paid, no backoff
    runWasm(p, "float32");
    expect(wasmSplitCount()).toBe(before + 2);
  });

  it("judges small and large splits apart: small ones backing off leave large ones splitting", () => {
    expect(wasmThreadsAvailable()).toBe(true);
    const small = problem("float32", 64, 128, 336, [0], [0], 63);
    const large = problem("float32", 256, 256, 256, [0], [0], 65);
    expect(64 * 128 * 336).toBeLessThan(WASM_SPLIT_LARGE_WORK);
    expect(64 * 128 * 336).toBeGreaterThanOrEqual(WASM_SPLIT_MIN_WORK);
    expect(256 * 256 * 256).toBeGreaterThanOrEqual(WASM_SPLIT_LARGE_WORK);
    resetSplitJudgement();
    judgeSplit(1, 5, 64 * 128 * 336); // a small split that did not pay
    const before = wasmSplitCount();
    runWasm(large, "float32");
    expect(wasmSplitCount()).toBe(before + 1); // the large one still splits
    runWasm(small, "float32");
    expect(wasmSplitCount()).toBe(before + 1); // the small one backs off
    resetSplitJudgement();
    judgeSplit(1, 5, 256 * 256 * 256); // and the other way round
    runWasm(small, "float32");
    expect(wasmSplitCount()).toBe(before + 2);
    runWasm(large, "float32");
    expect(wasmSplitCount()).toBe(before + 2);
    resetSplitJudgement();
  });

  for (const dtype of ["float64", "float32"] as const) {
    it(`computes a product begun on the helper bit for bit as one thread does, while this thread runs others (${dtype})`, () => {
      expect(wasmThreadsAvailable()).toBe(true);
      const p = problem(dtype, 70, 300, 90, [0], [0], 71), q = problem(dtype, 64, 200, 210, [0], [0], 73), r = problem(dtype, 33, 40, 50, [0], [0], 75);
      setKernelThreads(1);
      const [pOne, qOne, rOne] = [runWasm(p, dtype), runWasm(q, dtype), runWasm(r, dtype)];
      setKernelThreads(2);
      resetSplitJudgement();
      const begun = wasmStartedCount();
      const lp = matmulWasmStart(p.a, p.b, p.M, p.K, p.N, dtype)!;
      expect(wasmStartedCount()).toBe(begun + 1);
      // while p is in flight: q would split, but the helper is busy, so it runs here, in buffers above p's
      const splits = wasmSplitCount();
      expect(q.M * q.K * q.N).toBeGreaterThanOrEqual(WASM_SPLIT_MIN_WORK);
      expect(firstDifference(runWasm(q, dtype), qOne)).toBe(-1);
      expect(wasmSplitCount()).toBe(splits);
      // beginning r declines while the helper is still busy with p, or else first reads p (which stays readable)
      const lr = matmulWasmStart(r.a, r.b, r.M, r.K, r.N, dtype);
      expect(firstDifference(lr ? lr.result()! : runWasm(r, dtype), rOne)).toBe(-1);
      const pc = lp.result()!;
      expect(firstDifference(pc, pOne)).toBe(-1);
      expect(lp.result()).toBe(pc);
      // with the helper free again, a large product splits as before
      runWasm(q, dtype);
      expect(wasmSplitCount()).toBe(splits + 1);
      setKernelThreads(1);
      expect(matmulWasmStart(p.a, p.b, p.M, p.K, p.N, dtype)).toBeNull();
    });
  }

  it("returns the previous thread count and rejects anything but 1 or 2", () => {
    setKernelThreads(2);
    expect(setKernelThreads(1)).toBe(2);
    expect(getKernelThreads()).toBe(1);
    expect(() => setKernelThreads(4 as never)).toThrow(/setKernelThreads: n must be 1 or 2, got 4/);
  });
});

describe("kernel backend switch", () => {
  afterEach(() => {
    setKernelBackend("auto");
  });

  it("routes matmul to WebAssembly above the crossover under 'auto' and to the reference under 'ts'", () => {
    expect(matmulPrefersWasm(WASM_MATMUL_MIN_WORK)).toBe(true);
    expect(matmulPrefersWasm(WASM_MATMUL_MIN_WORK - 1)).toBe(false);
    // float32 with K = 200: the two kernels round differently, so which one ran shows in the bits.
    const p = problem("float32", 20, 200, 30, [0], [0], 23);
    const viaWasm = runWasm(p, "float32");
    const viaRef = runRef(p, "float32");
    expect(firstDifference(viaWasm, viaRef)).not.toBe(-1);
    const run = () => matmulKernel(p.a, p.b, p.M, p.K, p.N, 1, p.aBatch, p.bBatch, "float32");
    expect(firstDifference(run(), viaWasm)).toBe(-1);
    setKernelBackend("ts");
    expect(firstDifference(run(), viaRef)).toBe(-1);
    setKernelBackend("wasm");
    expect(matmulPrefersWasm(1)).toBe(true);
  });

  it("gives the same public matmul under 'ts' and 'wasm' for broadcast batches (float64)", () => {
    const a = tensor(values(3 * 1 * 7 * 11, 41, "float64"), { dtype: "float64", shape: [3, 1, 7, 11] });
    const b = tensor(values(4 * 11 * 5, 43, "float64"), { dtype: "float64", shape: [4, 11, 5] });
    setKernelBackend("ts");
    const ref = matmul(a, b);
    setKernelBackend("wasm");
    const out = matmul(a, b);
    expect(out.shape).toEqual([3, 4, 7, 5]);
    expect(firstDifference(dataOf(out), dataOf(ref))).toBe(-1);
  });

  it("returns the previous choice and rejects unknown backends with an ArgumentError", () => {
    setKernelBackend("auto");
    expect(setKernelBackend("ts")).toBe("auto");
    expect(getKernelBackend()).toBe("ts");
    expect(setKernelBackend("wasm")).toBe("ts");
    expect(() => setKernelBackend("gpu" as never)).toThrow(ArgumentError);
    expect(() => setKernelBackend("gpu" as never)).toThrow(/setKernelBackend: choice must be 'auto', 'ts' or 'wasm', got gpu/);
  });
});

describe("WebAssembly float32 elementwise kernels", () => {
  const ops: WasmUnaryOp[] = ["exp", "sigmoid", "tanh"];
  const ord = float32Order;
  // bit patterns to float32 values, for sweeping every 997th pattern
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);

  /** Worst distance in float32 steps between the wasm kernel and the TypeScript reference (Math in float64, rounded once). */
  function worstUlps(op: WasmUnaryOp, x: Float32Array): { ulps: number; at: number } {
    const got = unaryWasm(op, x)!;
    const want = unary(op, x, "float32");
    let worst = { ulps: 0, at: NaN };
    for (let i = 0; i < x.length; i++) {
      const w = want[i]!, g = got[i]!;
      if (Number.isNaN(w) || Number.isNaN(g)) {
        if (Number.isNaN(w) !== Number.isNaN(g)) return { ulps: Infinity, at: x[i]! };
        continue;
      }
      const d = w === g ? 0 : Math.abs(ord(g) - ord(w));
      if (d > worst.ulps) worst = { ulps: d, at: x[i]! };
    }
    return worst;
  }

  it("load synchronously in Node", () => {
    expect(elementwiseWasmAvailable()).toBe(true);
  });

  it("are preferred for exp, sigmoid and tanh from the crossover size under 'auto', always under 'wasm', never under 'ts'", () => {
    try {
      expect(unaryPrefersWasm("tanh", ELEMENTWISE_WASM_MIN_SIZE)).toBe(true);
      expect(unaryPrefersWasm("tanh", ELEMENTWISE_WASM_MIN_SIZE - 1)).toBe(false);
      expect(unaryPrefersWasm("log", 1 << 20)).toBe(false);
      setKernelBackend("wasm");
      expect(unaryPrefersWasm("sigmoid", 1)).toBe(true);
      setKernelBackend("ts");
      expect(unaryPrefersWasm("exp", 1 << 20)).toBe(false);
    } finally {
      setKernelBackend("auto");
    }
  });

  for (const op of ops) {
    it(`${op} stays within ${ELEMENTWISE_MAX_ULPS[op]} ulp of the TypeScript reference over a sweep of all float32 magnitudes`, () => {
      // Every 9973rd bit pattern of each sign: ~430,000 inputs from the smallest subnormal to the largest float.
      const xs: number[] = [];
      for (let b = 0; b < 0x7f800000; b += 9973) {
        bits[0] = b;
        xs.push(asFloat[0]!);
        bits[0] = b | 0x80000000;
        xs.push(asFloat[0]!);
      }
      const worst = worstUlps(op, Float32Array.from(xs));
      expect(worst.ulps, `worst at x = ${worst.at}`).toBeLessThanOrEqual(ELEMENTWISE_MAX_ULPS[op]);
    });

    it(`${op} stays within ${ELEMENTWISE_MAX_ULPS[op]} ulp of the reference on random arrays of any length, and keeps NaN, ±Inf, ±0 right`, () => {
      fc.assert(
        fc.property(fc.array(fc.float({ min: -120, max: 120 }), { minLength: 0, maxLength: 23 }), (values) => {
          const x = Float32Array.from([...values, NaN, Infinity, -Infinity, 0, -0].slice(0, values.length + (values.length % 6)));
          const worst = worstUlps(op, x);
          expect(worst.ulps, `worst at x = ${worst.at}`).toBeLessThanOrEqual(ELEMENTWISE_MAX_ULPS[op]);
          const got = unaryWasm(op, x)!;
          expect(got.length).toBe(x.length);
          // Signed zeros: exp(±0) = 1, sigmoid(±0) = 1/2, tanh keeps the sign of zero.
          for (let i = 0; i < x.length; i++) if (x[i] === 0 && op === "tanh") expect(Object.is(got[i], x[i])).toBe(true);
        }),
        { numRuns: 100 },
      );
    });
  }
});

/**
 * softmaxCrossEntropyForward as it runs where its exp is WebAssembly's and its rows are not (the arithmetic of
 * core/kernels-fused.ts, with unaryWasm's exp), for checking the softmax kernel against bit for bit.
 */
function softmaxRowsReference(z: Float32Array, targets: Int32Array, rows: number, V: number): { loss: Float32Array; p: Float32Array } {
  const shifted = new Float32Array(rows * V);
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let k = 0; k < V; k++) {
      const v = z[r * V + k]!;
      if (v !== v) {
        mx = v;
        break;
      }
      if (v > mx) mx = v;
    }
    const m = Number.isFinite(mx) ? mx : 0;
    for (let k = 0; k < V; k++) shifted[r * V + k] = z[r * V + k]! - m;
  }
  const p = unaryWasm("exp", shifted)!;
  const loss = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < V; k++) s += p[r * V + k]!;
    const y = targets[r]!;
    loss[r] = y < 0 ? 0 : Math.log(s) - shifted[r * V + y]!;
    for (let k = 0; k < V; k++) p[r * V + k] = p[r * V + k]! * (1 / s);
  }
  return { loss, p };
}

describe("softmax cross-entropy rows in WebAssembly (float32)", () => {
  afterEach(() => {
    setKernelBackend("auto");
  });

  const special = fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 1e30, -1e30, 88.7, -103.9, 1e-40);
  const softmaxProblem = fc
    .record({
      V: fc.oneof(fc.integer({ min: 4, max: 70 }), fc.constantFrom(4, 5, 7, 8, 63, 64, 65)),
      rows: fc.integer({ min: 1, max: 40 }),
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      scale: fc.constantFrom(1, 10, 100),
      specials: fc.array(fc.tuple(fc.nat(), special), { maxLength: 6 }),
      ignored: fc.array(fc.nat(), { maxLength: 3 }),
    })
    .map(({ V, rows, seed, scale, specials, ignored }) => {
      const z = values(rows * V, seed, "float32") as Float32Array;
      for (let i = 0; i < z.length; i++) z[i] = z[i]! * scale;
      for (const [i, v] of specials) z[i % z.length] = v;
      const targets = Int32Array.from({ length: rows }, (_, r) => (r * 7 + seed) % V);
      for (const r of ignored) targets[r % rows] = -1;
      return { z, targets, rows, V };
    });

  it("gives the probabilities and the loss of the TypeScript arithmetic with WebAssembly's exp, bit for bit, with NaN, ±Inf, ±0 and ignored rows", () => {
    fc.assert(
      fc.property(softmaxProblem, ({ z, targets, rows, V }) => {
        const want = softmaxRowsReference(z, targets, rows, V);
        expect(softmaxRowsWasm(z, rows, V)).not.toBeNull();
        setKernelBackend("wasm"); // every size, as 'auto' does from ELEMENTWISE_WASM_MIN_SIZE values up
        const got = softmaxCrossEntropyForward(z, targets, rows, V, "float32");
        setKernelBackend("auto");
        expect(got.p).toBeInstanceOf(Float32Array);
        expect(firstDifference(got.p, want.p), "p").toBe(-1);
        expect(firstDifference(got.loss, want.loss), "loss").toBe(-1);
      }),
      { numRuns: 200 },
    );
  });

  it("runs where exp would run in WebAssembly, and leaves z unchanged", () => {
    const rows = 64, V = 64;
    const z = values(rows * V, 5, "float32") as Float32Array, copy = z.slice();
    const targets = Int32Array.from({ length: rows }, (_, r) => r % V);
    expect(unaryPrefersWasm("exp", rows * V)).toBe(true);
    const auto = softmaxCrossEntropyForward(z, targets, rows, V, "float32");
    expect(firstDifference(z, copy)).toBe(-1);
    expect(firstDifference(auto.p, softmaxRowsReference(z, targets, rows, V).p)).toBe(-1);
    // under 'ts' the TypeScript exp (Math.exp): within exp's stated accuracy of it, not bit for bit
    setKernelBackend("ts");
    const ts = softmaxCrossEntropyForward(z, targets, rows, V, "float32");
    for (let i = 0; i < ts.p.length; i++) expect(Math.abs(ts.p[i]! - auto.p[i]!)).toBeLessThanOrEqual(4 * 2 ** -24 * Math.abs(ts.p[i]!) + 1e-45);
  });

  it("is left to the TypeScript rows where the small build is loaded (a browser's main thread), with the same results", async () => {
    const rows = 16, V = 33;
    const z = values(rows * V, 9, "float32") as Float32Array;
    const targets = Int32Array.from({ length: rows }, (_, r) => (r * 5) % V);
    const want = softmaxCrossEntropyForward(z, targets, rows, V, "float32");
    await withMainThreadModules(async () => {
      const fresh = await import("../../core/wasm/elementwise.js");
      const freshFused = await import("../../core/kernels-fused.js");
      expect(fresh.elementwiseWasmAvailable()).toBe(true);
      expect(fresh.elementwiseSmallBuild()).toBe(true);
      expect(fresh.softmaxRowsWasm(z, rows, V)).toBeNull();
      const got = freshFused.softmaxCrossEntropyForward(z, targets, rows, V, "float32");
      expect(firstDifference(got.p, want.p)).toBe(-1);
      expect(firstDifference(got.loss, want.loss)).toBe(-1);
    });
  });
});

describe("the full elementwise build's two-vector loops", () => {
  it("give the one-vector loops' results (the small build's) bit for bit: exp, sigmoid, tanh and the fused LSTM and GRU steps", async () => {
    // The full build runs exp, sigmoid and tanh two vectors per iteration (one for an odd last vector); the small
    // build keeps one vector per iteration. The same operations on every lane, so the same bits, for lengths that
    // end on a full pair, on an odd vector and mid-vector, and for the step kernels at H = 4 (one vector per gate
    // block: each range is all tail), 5 (padded to 8) and 12 (one pair and a tail).
    const inputs = [1, 3, 4, 7, 8, 12, 13, 16, 31, 32, 35, 64, 257].map((n, k) => {
      const x = values(n, 100 + k, "float32") as Float32Array;
      for (let i = 0; i < n; i++) x[i] = (i % 2 ? 0.7 : 12) * x[i]!; // [-12, 12) and [-0.7, 0.7): both of tanh's branches
      if (n > 8) x.set([NaN, Infinity, -Infinity, -0, 0, 1e-30, -88.5, 89.5], n - 8);
      return x;
    });
    const cases = [[3, 4], [2, 5], [5, 12]] as const;
    const steps = (m: typeof import("../../core/wasm/elementwise.js")) =>
      cases.flatMap(([B, H], k) => {
        const z = values(4 * B * H, 200 + k, "float32") as Float32Array, c = values(B * H, 300 + k, "float32") as Float32Array;
        const lstm = m.lstmForwardWasm(z.map((v, i) => (i % 2 ? 0.7 : 6) * v), c, B, H)!;
        const zx = values(3 * B * H, 400 + k, "float32") as Float32Array, za = values(3 * B * H, 500 + k, "float32") as Float32Array;
        const gru = m.gruResetAfterForwardWasm(zx.map((v, i) => (i % 2 ? 0.7 : 6) * v), za, c, B, H)!;
        return [lstm.a, lstm.c, lstm.gates, lstm.tc, gru.next, gru.acts];
      });
    const full = { unary: inputs.flatMap((x) => ops.map((op) => unaryWasm(op, x)!)), steps: steps(await import("../../core/wasm/elementwise.js")) };
    await withMainThreadModules(async () => {
      const fresh = await import("../../core/wasm/elementwise.js");
      expect(fresh.elementwiseSmallBuild()).toBe(true);
      const small = inputs.flatMap((x) => ops.map((op) => fresh.unaryWasm(op, x)!));
      small.forEach((got, i) => expect(firstDifference(got, full.unary[i]!), `input ${i / 3 | 0}, ${ops[i % 3]}`).toBe(-1));
      steps(fresh).forEach((got, i) => expect(firstDifference(got, full.steps[i]!), `step output ${i}`).toBe(-1));
    });
  });
  const ops: WasmUnaryOp[] = ["exp", "sigmoid", "tanh"];
});

describe("the WebAssembly sum over a middle axis", () => {
  afterEach(() => {
    setKernelBackend("auto");
  });

  /** The TypeScript reduce's sum of x `[outer, n, inner]` over axis 1. */
  const tsSum = (x: Data, outer: number, n: number, inner: number, dtype: DType): Data => {
    const prev = setKernelBackend("ts");
    try {
      return reduce("sum", x, [outer, n, inner], [1], dtype);
    } finally {
      setKernelBackend(prev);
    }
  };

  for (const dtype of ["float32", "float64"] as const) {
    it(`gives the TypeScript sums bit for bit over random [outer, n, inner], with NaN, ±Inf, ±0 and cancellation (${dtype})`, () => {
      // inner from 2 (the kernel's remainder loop only) past 16 (two blocks of 8 and a remainder); n from 0 (empty
      // sums are +0); magnitudes from 1e-8 to 1e8, so that the float64 sums round differently in another order
      const special = [NaN, Infinity, -Infinity, 0, -0, 1e8, -1e8, 1e-8];
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 2, max: 27 }), fc.integer(), fc.boolean(), (outer, n, inner, seed, withSpecial) => {
          const x = values(outer * n * inner, seed, dtype);
          for (let i = 0; i < x.length; i++) x[i] = x[i]! * 10 ** ((i * 7) % 17 - 8);
          if (withSpecial) for (let i = 0; i < x.length; i += 5) x[i] = special[(i / 5) % special.length]!;
          const got = sumMiddleWasm(x, outer, n, inner)!;
          expect(got).toBeInstanceOf(dtype === "float32" ? Float32Array : Float64Array);
          expect(firstDifference(got, tsSum(x, outer, n, inner, dtype))).toBe(-1);
        }),
        { numRuns: 150 },
      );
    });
  }

  it(`is what reduce's sum runs from SUM_WASM_MIN_SIZE values under 'auto', at every size under 'wasm', never under 'ts'`, () => {
    const x = values(SUM_WASM_MIN_SIZE, 5, "float32") as Float32Array;
    const want = tsSum(x, 1, SUM_WASM_MIN_SIZE / 16, 16, "float32");
    let before = wasmSumCount();
    expect(firstDifference(reduce("sum", x, [SUM_WASM_MIN_SIZE / 16, 16], [0], "float32"), want)).toBe(-1);
    expect(wasmSumCount()).toBe(before + 1);
    const small = x.subarray(0, SUM_WASM_MIN_SIZE - 16);
    before = wasmSumCount();
    reduce("sum", small, [small.length / 16, 16], [0], "float32");
    expect(wasmSumCount()).toBe(before); // one row short of the threshold
    setKernelBackend("wasm");
    reduce("sum", x.subarray(0, 32), [2, 16], [0], "float32");
    expect(wasmSumCount()).toBe(before + 1);
    setKernelBackend("ts");
    reduce("sum", x, [SUM_WASM_MIN_SIZE / 16, 16], [0], "float32");
    expect(wasmSumCount()).toBe(before + 1);
    // a sum over the last axis (inner = 1) stays in TypeScript: its sums are sequential
    setKernelBackend("wasm");
    reduce("sum", x, [16, SUM_WASM_MIN_SIZE / 16], [1], "float32");
    expect(wasmSumCount()).toBe(before + 1);
  });

  it("is left to TypeScript where the small build is loaded (a browser's main thread)", async () => {
    await withMainThreadModules(async () => {
      const fresh = await import("../../core/wasm/elementwise.js");
      const freshKernels = await import("../../core/kernels.js");
      expect(fresh.elementwiseSmallBuild()).toBe(true);
      const x = values(4096, 6, "float64") as Float64Array;
      expect(fresh.sumMiddleWasm(x, 1, 256, 16)).toBeNull();
      expect(firstDifference(freshKernels.reduce("sum", x, [256, 16], [0], "float64"), tsSum(x, 1, 256, 16, "float64"))).toBe(-1);
    });
  });
});

describe("unary routes float32 exp/sigmoid/tanh to WebAssembly by size", () => {
  afterEach(() => {
    setKernelBackend("auto");
  });

  for (const op of ["exp", "sigmoid", "tanh"] as const) {
    it(`${op}: from ELEMENTWISE_WASM_MIN_SIZE values under 'auto' it is unaryWasm's result; below it, and under 'ts', the Math loop's`, () => {
      const n = ELEMENTWISE_WASM_MIN_SIZE;
      // inputs where the SIMD function and Math round differently somewhere, so the two routes are told apart
      const x = Float32Array.from({ length: 4 * n }, (_, i) => -9 + (18 * i) / (4 * n) + 1e-3 * Math.sin(i));
      const mathLoop = (v: Float32Array): Float32Array => {
        setKernelBackend("ts");
        const y = unary(op, v, "float32") as Float32Array;
        setKernelBackend("auto");
        return y;
      };
      const viaWasm = unaryWasm(op, x)!, viaMath = mathLoop(x);
      expect(Array.from(viaWasm)).not.toEqual(Array.from(viaMath)); // the check below can tell the routes apart
      expect(Array.from(unary(op, x, "float32"))).toEqual(Array.from(viaWasm));
      const small = x.subarray(0, n - 1);
      expect(Array.from(unary(op, small, "float32"))).toEqual(Array.from(mathLoop(small)));
      // float64 never leaves the loop
      const x64 = Float64Array.from(x);
      const y64 = unary(op, x64, "float64");
      expect(y64).toBeInstanceOf(Float64Array);
      if (op === "tanh") for (let i = 0; i < x64.length; i += 97) expect(y64[i]).toBe(Math.tanh(x64[i]!));
    });
  }
});

describe("float32 binary ops in WebAssembly", () => {
  afterEach(() => {
    setKernelBackend("auto");
  });
  const ops: WasmBinaryOp[] = ["add", "sub", "mul", "div", "maximum", "minimum"];
  const size = (s: readonly number[]): number => s.reduce((p, q) => p * q, 1);
  const bitsOf = (x: Data): Uint32Array => new Uint32Array(Float32Array.from(x).buffer);

  /** a op b through `binary` under `choice`, and whether binaryWasm computed it. */
  function run(choice: "ts" | "wasm" | "auto", op: BinaryOp, a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], out: number[]): { y: Data; wasm: boolean } {
    setKernelBackend(choice);
    const before = wasmBinaryCount();
    const y = binary(op, a, aShape, b, bShape, out, "float32");
    setKernelBackend("auto");
    return { y, wasm: wasmBinaryCount() > before };
  }

  /** Index of the first output whose float32 bit pattern differs (NaN matches any NaN: WebAssembly leaves NaN payloads open), or -1. */
  function firstBitDifference(x: Data, y: Data): number {
    if (x.length !== y.length) return 0;
    const bx = bitsOf(x), by = bitsOf(y);
    for (let i = 0; i < x.length; i++) if (bx[i] !== by[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return i;
    return -1;
  }

  // Values where IEEE corner cases live: NaN, ±Inf, ±0, subnormals and the smallest normals, the largest finite
  // values (sums and products overflow), tiny magnitudes whose products and quotients underflow to subnormals,
  // and any float32 at all (sums of far-apart exponents round).
  const special = fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45, 5.9e-39, -1.1754942e-38, 1.1754944e-38, 3.4028235e38, -3.4028235e38, 1, -1);
  const value = fc.oneof(special, fc.float(), fc.float({ min: -4, max: 4 }), fc.float({ min: Math.fround(1e-30), max: Math.fround(1e-15) }));
  // extents off multiples of 4 and around the threshold, so every row ends mid-vector somewhere
  const extent = fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(13, 31, 63, 64, 65, 127, 255, 256, 257));
  // each operand the whole output, a row of it (repeated over the leading axes) or a scalar, in every pairing
  const layout = fc.constantFrom("full", "row", "scalar");
  const problem = fc
    .record({
      op: fc.constantFrom(...ops), aLayout: layout, bLayout: layout,
      lead: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 2 }),
      row: fc.array(extent, { minLength: 1, maxLength: 2 }),
      rank1s: fc.boolean(), // a row or scalar written with leading 1s ([1, C], [1, 1]) or without ([C], [])
    })
    .filter((p) => size(p.lead) * size(p.row) <= 1 << 14)
    .chain((p) => {
      const out = [...p.lead, ...p.row];
      const ones = (k: number): number[] => (p.rank1s ? new Array<number>(k).fill(1) : []);
      const shapeOf = (l: string): number[] => (l === "full" ? out : l === "row" ? [...ones(p.lead.length), ...p.row] : ones(out.length));
      const aShape = shapeOf(p.aLayout), bShape = shapeOf(p.bLayout);
      const arr = (shape: number[]) => fc.array(value, { minLength: size(shape), maxLength: size(shape) }).map((v) => Float32Array.from(v));
      return fc.record({ op: fc.constant(p.op), out: fc.constant(out), aShape: fc.constant(aShape), bShape: fc.constant(bShape), a: arr(aShape), b: arr(bShape) });
    });

  it("equal the TypeScript reference bit for bit for every op over equal shapes, scalars and rows, with NaN, ±Inf, ±0 and subnormals, and run from the threshold under 'auto'", () => {
    fc.assert(
      fc.property(problem, ({ op, out, aShape, bShape, a, b }) => {
        const want = run("ts", op, a, aShape, b, bShape, out);
        const got = run("wasm", op, a, aShape, b, bShape, out);
        expect(want.wasm).toBe(false);
        expect(got.wasm).toBe(true);
        expect(got.y).toBeInstanceOf(Float32Array);
        const i = firstBitDifference(got.y, want.y);
        expect(i, `${op} ${JSON.stringify([aShape, bShape])} at ${i}: wasm ${got.y[i]} vs ts ${want.y[i]}`).toBe(-1);
        // under 'auto' the route depends on the size alone, and either route gives these bits
        const auto = run("auto", op, a, aShape, b, bShape, out);
        expect(auto.wasm).toBe(size(out) >= BINARY_WASM_MIN_SIZE);
        expect(firstBitDifference(auto.y, want.y)).toBe(-1);
      }),
      { numRuns: 300 },
    );
  });

  it("maximum and minimum keep the reference's NaN and signed-zero choices (a on ties, a NaN operand through)", () => {
    const a = Float32Array.from({ length: 256 }, (_, i) => [-0, 0, NaN, 1, -0, NaN, 2, 0][i % 8]!);
    const b = Float32Array.from({ length: 256 }, (_, i) => [0, -0, 1, NaN, -0, NaN, 2, 0][i % 8]!);
    const max = run("wasm", "maximum", a, [256], b, [256], [256]).y, min = run("wasm", "minimum", a, [256], b, [256], [256]).y;
    expect([...max.subarray(0, 8)]).toEqual([-0, 0, NaN, NaN, -0, NaN, 2, 0]);
    expect([...min.subarray(0, 8)]).toEqual([-0, 0, NaN, NaN, -0, NaN, 2, 0]);
    expect(Object.is(max[0], -0) && Object.is(max[1], 0) && Object.is(min[0], -0) && Object.is(min[1], 0)).toBe(true);
  });

  it("run from BINARY_WASM_MIN_SIZE outputs under 'auto', never under 'ts', and only for the layouts and ops they cover", () => {
    const n = BINARY_WASM_MIN_SIZE, x = (k: number): Float32Array => Float32Array.from({ length: k }, (_, i) => i / 7);
    expect(run("auto", "add", x(n), [n], x(n), [n], [n]).wasm).toBe(true);
    expect(run("auto", "add", x(n - 1), [n - 1], x(n - 1), [n - 1], [n - 1]).wasm).toBe(false);
    expect(run("ts", "add", x(n), [n], x(n), [n], [n]).wasm).toBe(false);
    expect(run("wasm", "mul", x(3), [3], x(1), [], [3]).wasm).toBe(true);
    // a column broadcast, two broadcast operands, and ops outside the six stay in TypeScript
    expect(run("wasm", "add", x(4 * 5 * 7), [4, 5, 7], x(4 * 7), [4, 1, 7], [4, 5, 7]).wasm).toBe(false);
    expect(run("wasm", "add", x(5), [1, 5], x(3), [3, 1], [3, 5]).wasm).toBe(false);
    expect(run("wasm", "pow", x(n), [n], x(n), [n], [n]).wasm).toBe(false);
    expect(run("wasm", "greater", x(n), [n], x(n), [n], [n]).wasm).toBe(false);
    setKernelBackend("wasm");
    const before = wasmBinaryCount();
    const y64 = binary("add", Float64Array.from(x(n)), [n], Float64Array.from(x(n)), [n], [n], "float64");
    expect(y64).toBeInstanceOf(Float64Array);
    expect(wasmBinaryCount()).toBe(before);
  });

  it("can be turned off for benchmarks (setBinaryWasmMinSize), which returns the previous threshold and rejects NaN and negatives", () => {
    const n = BINARY_WASM_MIN_SIZE, x = new Float32Array(n).fill(1);
    expect(setBinaryWasmMinSize(Infinity)).toBe(BINARY_WASM_MIN_SIZE);
    try {
      expect(run("auto", "add", x, [n], x, [n], [n]).wasm).toBe(false);
      expect(() => setBinaryWasmMinSize(NaN)).toThrow(ArgumentError);
      expect(() => setBinaryWasmMinSize(-1)).toThrow(/setBinaryWasmMinSize: n must be a number >= 0, got -1/);
    } finally {
      expect(setBinaryWasmMinSize(BINARY_WASM_MIN_SIZE)).toBe(Infinity);
    }
    expect(run("auto", "add", x, [n], x, [n], [n]).wasm).toBe(true);
  });

  it("leave their operands unchanged", () => {
    const a = Float32Array.from({ length: 300 }, (_, i) => i - 150), b = Float32Array.from({ length: 30 }, (_, i) => i / 3);
    const a0 = a.slice(), b0 = b.slice();
    for (const op of ops) run("wasm", op, a, [10, 30], b, [30], [10, 30]);
    expect(a).toEqual(a0);
    expect(b).toEqual(b0);
  });
});

describe("resident packed B operands (float32)", () => {
  afterEach(() => {
    setKernelThreads(2);
  });

  const one = new Int32Array(1);
  /** C = A @ B once without reuse (B packed in the work area), then twice with reuse (packed into the region, then reused). */
  function plainPackedReused(p: Problem, beforeEach = (): void => {}): { plain: Data; packed: Data; reused: Data; packs: number; hits: number } {
    const run = (reuse: boolean): Data => {
      beforeEach();
      const c = matmulWasm(p.a, p.b, p.M, p.K, p.N, p.aBatch.length, p.aBatch, p.bBatch, "float32", reuse);
      if (c === null) throw new Error("WebAssembly matmul declined");
      return c;
    };
    const plain = run(false);
    const s0 = wasmResidentStats();
    const packed = run(true);
    const reused = run(true);
    const s1 = wasmResidentStats();
    return { plain, packed, reused, packs: s1.packs - s0.packs, hits: s1.hits - s0.hits };
  }

  function expectSame(got: Data, want: Data, what: string): void {
    const i = firstDifference(got, want);
    expect(i, `${what}: entry ${i} is ${got[i]}, plain path gives ${want[i]}`).toBe(-1);
  }

  it("equal the plain path bit for bit over random shapes, edge sizes and batches", () => {
    setKernelThreads(1);
    const oneB = fc
      .record({
        M: dim, K: dim, N: dim, batches: fc.integer({ min: 1, max: 4 }), aCount: fc.integer({ min: 1, max: 3 }),
        seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      })
      .chain((r) => fc.record({ r: fc.constant(r), aMap: fc.array(fc.integer({ min: 0, max: r.aCount - 1 }), { minLength: r.batches, maxLength: r.batches }) }))
      .map(({ r, aMap }) => problem("float32", r.M, r.K, r.N, aMap, aMap.map(() => 0), r.seed));
    fc.assert(
      fc.property(oneB, (p) => {
        const { plain, packed, reused, packs, hits } = plainPackedReused(p);
        expectSame(packed, plain, "first call (packs)");
        expectSame(reused, plain, "second call (reuses)");
        expect([packs, hits]).toEqual([1, 1]);
      }),
      { numRuns: 80 },
    );
  });

  it("equal the plain path bit for bit across K blocks, column blocks and the LSTM step's shapes", () => {
    setKernelThreads(1);
    for (const [M, K, N, seed] of [[32, 129, 512, 3], [32, 128, 193, 5], [7, 257, 13, 7], [5, 513, 25, 9], [3, 300, 2040 + 13, 11], [121, 40, 11, 13], [1, 1, 1, 15]] as const) {
      const { plain, packed, reused } = plainPackedReused(problem("float32", M, K, N, [0], [0], seed));
      expectSame(packed, plain, `[${M},${K}]@[${K},${N}] packing`);
      expectSame(reused, plain, `[${M},${K}]@[${K},${N}] reusing`);
    }
  });

  it("give the one-thread plain result bit for bit when split across two threads by columns and by rows", () => {
    expect(wasmThreadsAvailable()).toBe(true);
    for (const p of [problem("float32", 40, 300, 230, [0], [0], 71), problem("float32", 301, 70, 130, [0], [0], 73), problem("float32", 11, 300, 200, [0, 1, 2, 3], [0, 0, 0, 0], 79)]) {
      setKernelThreads(1);
      const plain = runWasm(p, "float32");
      setKernelThreads(2);
      const before = wasmSplitCount();
      // a split that did not pay (a busy machine) would make the next one back off
      const { packed, reused } = plainPackedReused(p, resetSplitJudgement);
      expect(wasmSplitCount()).toBe(before + 3);
      expectSame(packed, plain, "split, packing");
      expectSame(reused, plain, "split, reusing");
    }
  });

  it("give the one-thread plain result bit for bit over uneven cuts, split by rows where A is at least half as tall as B is wide", () => {
    // With B resident, a row split packs nothing twice, so it is taken from 2·rows ≥ N (without, from rows > N):
    // 64×420×100 and the folded 4×[16,350]@[350,120] split by rows only when B is resident.
    expect(wasmThreadsAvailable()).toBe(true);
    for (const p of [problem("float32", 64, 420, 100, [0], [0], 91), problem("float32", 16, 350, 120, [0, 1, 2, 3], [0, 0, 0, 0], 93)]) {
      setKernelThreads(1);
      const plain = runWasm(p, "float32");
      const decoy = problem("float32", p.M, p.K, p.N, [...p.aBatch], [...p.bBatch], 95);
      for (const r of UNEVEN_SPLITS) {
        setKernelThreads(1);
        runWasm(decoy, "float32"); // other numbers in the buffers a split reuses, so an entry neither part writes shows
        setKernelThreads(2);
        const before = wasmSplitCount();
        const { packed, reused } = plainPackedReused(p, () => {
          resetSplitJudgement();
          if (r) setSplitRates(r);
        });
        expect(wasmSplitCount()).toBe(before + 3);
        expectSame(packed, plain, `[${p.M},${p.K}]@[${p.K},${p.N}] split, packing`);
        expectSame(reused, plain, `[${p.M},${p.K}]@[${p.K},${p.N}] split, reusing`);
      }
    }
  });

  it("are never used for another operand: a different array, a modified copy, or the same array read as another shape", () => {
    setKernelThreads(1);
    const p = problem("float32", 9, 24, 30, [0], [0], 81);
    const ref = (b: Data, K: number, N: number): Data => matmulWasm(p.a, b, p.M, K, N, 1, one, one, "float32")!;
    const viaReuse = (b: Data, K: number, N: number): Data => matmulWasm(p.a, b, p.M, K, N, 1, one, one, "float32", true)!;
    expectSame(viaReuse(p.b, 24, 30), ref(p.b, 24, 30), "original");
    const modified = p.b.slice();
    modified[17] = 5;
    expectSame(viaReuse(modified, 24, 30), ref(modified, 24, 30), "modified copy");
    const other = values(24 * 30, 83, "float32");
    expectSame(viaReuse(other, 24, 30), ref(other, 24, 30), "other array");
    // The same 720 values as [24, 30] and as [12, 60] (A then has 12 columns: its first 108 values).
    const a12 = p.a.subarray(0, 9 * 12);
    const c = matmulWasm(a12, p.b, 9, 12, 60, 1, one, one, "float32", true)!;
    expectSame(c, matmulWasm(a12, p.b, 9, 12, 60, 1, one, one, "float32")!, "reshaped");
    expectSame(viaReuse(p.b, 24, 30), ref(p.b, 24, 30), "original again");
  });

  it("are packed again after the region fills, and stay bit-equal to the plain path", () => {
    setKernelThreads(1);
    const K = 256, N = 500; // ~0.5 MB packed: WASM_RESIDENT_BYTES / 0.5 MB fit in the region
    const bytes = K * (N + 7) * 4; // packed panels: K rows of N values rounded up to the 8-wide micro-panel
    const count = Math.ceil(WASM_RESIDENT_BYTES / bytes) + 2;
    const a = values(4 * K, 85, "float32");
    const bs = Array.from({ length: count }, (_, i) => values(K * N, 100 + i, "float32"));
    const plain = bs.map((b) => matmulWasm(a, b, 4, K, N, 1, one, one, "float32")!);
    const s0 = wasmResidentStats();
    for (let round = 0; round < 2; round++)
      bs.forEach((b, i) => expectSame(matmulWasm(a, b, 4, K, N, 1, one, one, "float32", true)!, plain[i]!, `round ${round}, operand ${i}`));
    const s1 = wasmResidentStats();
    expect(s1.packs - s0.packs).toBe(2 * count); // cycling through more than fit: every call packs again
    expect(s1.bytesUsed).toBeLessThanOrEqual(WASM_RESIDENT_BYTES);
    // An operand bigger than the region is not kept, and still right.
    const wide = Math.ceil(WASM_RESIDENT_BYTES / (4 * K));
    const big = values(K * wide, 87, "float32");
    const s2 = wasmResidentStats();
    expectSame(matmulWasm(a, big, 4, K, wide, 1, one, one, "float32", true)!, matmulWasm(a, big, 4, K, wide, 1, one, one, "float32")!, "too big to keep");
    expect(wasmResidentStats().packs).toBe(s2.packs);
    resetWasmResident();
  });

  it("are not used for float64 or for several B matrices, which stay exactly the reference", () => {
    const s0 = wasmResidentStats();
    expectAgrees({ ...problem("float64", 7, 30, 13, [0], [0], 89) }, "float64");
    const p64 = problem("float64", 7, 30, 13, [0], [0], 89);
    expect(firstDifference(matmulWasm(p64.a, p64.b, 7, 30, 13, 1, one, one, "float64", true)!, runRef(p64, "float64"))).toBe(-1);
    const pb = problem("float32", 5, 20, 14, [0, 1], [1, 0], 91);
    expectSame(matmulWasm(pb.a, pb.b, 5, 20, 14, 2, pb.aBatch, pb.bBatch, "float32", true)!, runWasm(pb, "float32"), "two B matrices");
    expect(wasmResidentStats().packs).toBe(s0.packs);
  });
});

const bits = (x: Data): Uint32Array => new Uint32Array(Float32Array.from(x).buffer);
/** Index of the first entry whose float32 bits differ, or -1. */
function firstBitDifference(x: Data, y: Data): number {
  const [bx, by] = [bits(x), bits(y)];
  if (bx.length !== by.length) return Math.min(bx.length, by.length);
  for (let i = 0; i < bx.length; i++) if (bx[i] !== by[i]) return i;
  return -1;
}

type Pattern = "dense" | "columns" | "onehot" | "zero";
/** Zeroes A by pattern (±0 by the seed): whole k-columns, one nonzero per row, or everything. */
function sparsify(p: Problem, pattern: Pattern, density: number, seed: number): void {
  const rand = values(p.a.length + p.aCount * p.K, seed ^ 0x9e3779b9, "float32");
  const signed = (i: number): number => (rand[i]! < 0 ? -0 : 0);
  for (let bt = 0; bt < p.aCount; bt++)
    for (let i = 0; i < p.M; i++)
      for (let k = 0; k < p.K; k++) {
        const idx = (bt * p.M + i) * p.K + k;
        const zeroColumn = (rand[p.a.length + bt * p.K + k]! + 1) / 2 < density;
        const zero =
          pattern === "zero" || (pattern === "columns" && zeroColumn) || (pattern === "onehot" && k !== (i * 7 + bt * 3) % p.K);
        if (zero) p.a[idx] = signed(idx);
        else if (pattern === "onehot") p.a[idx] = 1;
      }
}

/**
 * Zeroes B by pattern (±0 by the seed), seen as rows k: whole k-rows, or one nonzero per row (a stacked one-hot
 * input, the B of an outer sum's input weights), or everything.
 */
function sparsifyB(p: Problem, pattern: Pattern, density: number, seed: number): void {
  const rand = values(p.b.length + p.bCount * p.K, seed ^ 0x7f4a7c15, "float32");
  const signed = (i: number): number => (rand[i]! < 0 ? -0 : 0);
  for (let bt = 0; bt < p.bCount; bt++)
    for (let k = 0; k < p.K; k++) {
      const zeroRow = (rand[p.b.length + bt * p.K + k]! + 1) / 2 < density;
      for (let j = 0; j < p.N; j++) {
        const idx = (bt * p.K + k) * p.N + j;
        const zero = pattern === "zero" || (pattern === "columns" && zeroRow) || (pattern === "onehot" && j !== (k * 7 + bt * 3) % p.N);
        if (zero) p.b[idx] = signed(idx);
        else if (pattern === "onehot") p.b[idx] = 1;
      }
    }
}

describe("zero-step skipping in float32 matmul", () => {
  // The claim (core/wasm/kernels.as, gemm32): leaving out the k-steps where a whole 4-row micro-panel of A
  // is ±0 gives the dense kernel's result bit for bit, -0 and +0 told apart (compared as raw float32 bits),
  // because a left-out product is ±0 when B is finite and no accumulator is ever -0. Where B is not finite
  // nothing is left out (0·Inf = NaN). The same with A and B swapped: the k-steps where a whole 8-column
  // micro-panel of B packed in the kernel is ±0, where A is finite; a tile walks the shorter list. So: skip on
  // and off agree bit for bit, and both stay within the float32 bound of matmulRef; the count of left-out
  // multiply-adds is the one the panel rule predicts.
  afterEach(() => {
    setWasmSkipZeroSteps(true);
    setKernelThreads(2);
  });

  const MR = 4, NR = 8, KC = 256, MC = 120, NC = 2040;
  /**
   * Multiply-adds the panel rule leaves out of the one-thread product, mirroring gemm32: A panels of 4 rows in
   * 120-row blocks, B panels of 8 columns, 256-step K blocks and 2040-column blocks, each block of B checked
   * for finiteness apart (for A's lists) and each block of A (for B's lists, which a resident B, `bLists` false,
   * has none of). A tile walks the shorter list where it is short enough.
   */
  function predictedSkips(p: Problem, bLists = true): number {
    const { M, K, N } = p;
    const batches = p.aBatch.length;
    const folds = batches > 1 && p.aBatch.every((v, i) => v === i) && p.bBatch.every((v) => v === p.bBatch[0]);
    const mats = folds ? [{ aOff: 0, bOff: p.bBatch[0]! * K * N, rows: batches * M }] : Array.from(p.aBatch, (ai, bt) => ({ aOff: ai * M * K, bOff: p.bBatch[bt]! * K * N, rows: M }));
    let skipped = 0;
    for (const { aOff, bOff, rows } of mats)
      for (let jc = 0; jc < N; jc += NC) {
        const nc = Math.min(NC, N - jc);
        for (let pc = 0; pc < K; pc += KC) {
          const kc = Math.min(KC, K - pc);
          let bFinite = true;
          for (let k = pc; k < pc + kc; k++) for (let j = jc; j < jc + nc; j++) bFinite &&= Number.isFinite(p.b[bOff + k * N + j]!);
          // nonzero steps of each B panel (kc where there are no B lists)
          const nbs: number[] = [];
          for (let jr = 0; jr < nc; jr += NR) {
            let nb = 0;
            for (let k = pc; k < pc + kc; k++) {
              let nonzero = false;
              for (let j = jc + jr; j < Math.min(jc + jr + NR, jc + nc); j++) nonzero ||= p.b[bOff + k * N + j] !== 0;
              if (nonzero) nb++;
            }
            nbs.push(bLists ? nb : kc);
          }
          for (let ic = 0; ic < rows; ic += MC) {
            const mc = Math.min(MC, rows - ic);
            let aFinite = true;
            for (let i = ic; i < ic + mc; i++) for (let k = pc; k < pc + kc; k++) aFinite &&= Number.isFinite(p.a[aOff + i * K + k]!);
            for (let ir = ic; ir < ic + mc; ir += MR) {
              const mr = Math.min(MR, ic + mc - ir);
              let na = 0;
              for (let k = pc; k < pc + kc; k++) {
                let nonzero = false;
                for (let i = ir; i < ir + mr; i++) nonzero ||= p.a[aOff + i * K + k] !== 0;
                if (nonzero) na++;
              }
              if (!bFinite) na = kc;
              nbs.forEach((nb, b) => {
                const n = Math.min(na, aFinite ? nb : kc), nr = Math.min(NR, nc - b * NR);
                if (n < kc && n <= kc - (kc >> 3) - (kc >> 4)) skipped += (kc - n) * mr * nr;
              });
            }
          }
        }
      }
    return skipped;
  }

  /** wasm within the float32 bound of ref on finite entries; where ref is NaN or ±Inf, the same. */
  function expectNearReference(p: Problem, wasm: Data, ref: Data): void {
    if (Array.from(ref).every(Number.isFinite)) {
      expect(worstFloat32Ratio(p, wasm, ref)).toBeLessThanOrEqual(1);
      return;
    }
    for (let i = 0; i < ref.length; i++)
      if (!Number.isFinite(ref[i]!)) expect(Object.is(wasm[i], ref[i]), `entry ${i}: ${wasm[i]} vs ${ref[i]}`).toBe(true);
  }

  const specials = fc.array(fc.constantFrom(Infinity, -Infinity, NaN), { maxLength: 3 });
  const sparseProblem = fc
    .record({
      p: batchedProblem("float32"),
      bigK: fc.option(fc.constantFrom(255, 256, 257, 300, 513), { freq: 4 }),
      tallM: fc.option(fc.constantFrom(119, 121, 125), { freq: 4 }),
      pattern: fc.constantFrom<Pattern>("dense", "columns", "columns", "columns", "onehot", "zero"),
      patternB: fc.constantFrom<Pattern>("dense", "dense", "dense", "columns", "onehot", "onehot"),
      density: fc.constantFrom(0.2, 0.5, 0.9, 0.97),
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      specials,
      specialsA: specials,
    })
    .map(({ p, bigK, tallM, pattern, patternB, density, seed, specials, specialsA }) => {
      const q = bigK === null && tallM === null ? p : problem("float32", tallM ?? p.M, bigK ?? p.K, p.N, Array.from(p.aBatch), Array.from(p.bBatch), seed);
      sparsify(q, pattern, density, seed);
      sparsifyB(q, patternB, density, seed);
      specials.forEach((v, i) => (q.b[(seed + i * 7919) % q.b.length] = v));
      specialsA.forEach((v, i) => (q.a[(seed + i * 104729) % q.a.length] = v));
      return q;
    });

  it("gives the dense result bit for bit (±0 told apart) and leaves out the predicted steps, over random shapes, zero patterns of A and B, and non-finite values", () => {
    setKernelThreads(1);
    fc.assert(
      fc.property(sparseProblem, (p) => {
        setWasmSkipZeroSteps(false);
        const s0 = wasmSkipStats().skippedMacs;
        const dense = runWasm(p, "float32");
        expect(wasmSkipStats().skippedMacs).toBe(s0);
        setWasmSkipZeroSteps(true);
        const skipped = runWasm(p, "float32");
        const i = firstBitDifference(skipped, dense);
        const hex = (x: Data): string => `0x${bits(x.subarray(i, i + 1))[0]?.toString(16)}`;
        expect(i, `entry ${i}: skipping gives ${skipped[i]} (${hex(skipped)}), dense ${dense[i]} (${hex(dense)})`).toBe(-1);
        expect(wasmSkipStats().skippedMacs - s0).toBe(predictedSkips(p));
        expectNearReference(p, skipped, runRef(p, "float32"));
      }),
      { numRuns: 150 },
    );
  });

  /** The product with skipping off, then on, which must agree bit for bit: the dense result and the multiply-adds left out. */
  function denseThenSkipped(p: Problem): { dense: Data; left: number } {
    setWasmSkipZeroSteps(false);
    const dense = runWasm(p, "float32");
    setWasmSkipZeroSteps(true);
    const s0 = wasmSkipStats().skippedMacs;
    expect(firstBitDifference(runWasm(p, "float32"), dense)).toBe(-1);
    return { dense, left: wasmSkipStats().skippedMacs - s0 };
  }

  it("leaves steps out of products of one-hot rows across K, row and column blocks, and the result stays the dense one", () => {
    setKernelThreads(1);
    for (const [M, K, N, seed] of [[32, 64, 512, 3], [121, 257, 25, 5], [7, 513, 2040 + 13, 7], [128, 300, 11, 9]] as const) {
      const p = problem("float32", M, K, N, [0], [0], seed);
      sparsify(p, "onehot", 0, seed);
      const { left } = denseThenSkipped(p);
      expect(left).toBe(predictedSkips(p));
      expect(left).toBeGreaterThan(0.5 * M * K * N);
    }
  });

  it("leaves out the zero steps of one-hot B rows (an outer sum's input weights, dzᵀ x) unless A is not finite", () => {
    setKernelThreads(1);
    for (const [M, K, N, seed] of [[512, 2048, 64, 11], [384, 300, 193, 13], [128, 96, 2040 + 13, 15]] as const) {
      const p = problem("float32", M, K, N, [0], [0], seed);
      sparsifyB(p, "onehot", 0, seed);
      const aT = transposedA(p); // A as an outer sum stores it: the dz's stacked, [K, M]
      for (const bad of [null, Infinity, NaN]) {
        const q = bad === null ? p : { ...p, a: p.a.slice() };
        if (bad !== null) q.a[(seed * 31) % q.a.length] = bad;
        const qT = bad === null ? aT : transposedA(q);
        const { dense, left } = denseThenSkipped(q);
        expect(left).toBe(predictedSkips(q));
        // with A finite, every B panel but the one holding a step's one-hot value leaves it out
        if (bad === null) expect(left).toBeGreaterThan(0.5 * M * K * N);
        const s1 = wasmSkipStats().skippedMacs;
        expect(firstBitDifference(matmulWasm(qT, q.b, M, K, N, 1, q.aBatch, q.bBatch, "float32", false, true)!, dense)).toBe(-1);
        expect(wasmSkipStats().skippedMacs - s1).toBe(left);
      }
    }
  });

  it("gives the dense one-thread result and count when split across two threads, and on the helper (matmulWasmStart)", () => {
    expect(wasmThreadsAvailable()).toBe(true);
    for (const [M, K, N, seed] of [[40, 300, 230, 71], [301, 70, 130, 73], [64, 257, 170, 75]] as const) {
      const p = problem("float32", M, K, N, [0], [0], seed);
      sparsify(p, "columns", 0.7, seed);
      if (seed !== 75) sparsifyB(p, "onehot", 0, seed); // B panels' lists too, by columns and by rows
      setKernelThreads(1);
      setWasmSkipZeroSteps(false);
      const dense = runWasm(p, "float32");
      setWasmSkipZeroSteps(true);
      setKernelThreads(2);
      resetSplitJudgement();
      const [splits, s0] = [wasmSplitCount(), wasmSkipStats().skippedMacs];
      expect(firstBitDifference(runWasm(p, "float32"), dense)).toBe(-1);
      expect(wasmSplitCount()).toBe(splits + 1);
      // both halves' counts, the helper's returned through the control block
      expect(wasmSkipStats().skippedMacs - s0).toBe(predictedSkips(p));
      const s1 = wasmSkipStats().skippedMacs;
      const started = matmulWasmStart(p.a, p.b, M, K, N, "float32")!;
      expect(firstBitDifference(started.result()!, dense)).toBe(-1);
      expect(wasmSkipStats().skippedMacs - s1).toBe(predictedSkips(p));
    }
  });

  it("uses a resident packed B only while it is finite, and then gives the dense result", () => {
    setKernelThreads(1);
    const one = new Int32Array(1);
    const p = problem("float32", 32, 64, 100, [0], [0], 93);
    sparsify(p, "onehot", 0, 93);
    const withInf = p.b.slice();
    withInf[333] = Infinity;
    for (const b of [p.b, withInf]) {
      setWasmSkipZeroSteps(false);
      const dense = matmulWasm(p.a, b, 32, 64, 100, 1, one, one, "float32")!;
      setWasmSkipZeroSteps(true);
      const s0 = wasmSkipStats().skippedMacs;
      const packs0 = wasmResidentStats().packs;
      for (let round = 0; round < 2; round++) expect(firstBitDifference(matmulWasm(p.a, b, 32, 64, 100, 1, one, one, "float32", true)!, dense)).toBe(-1);
      expect(wasmResidentStats().packs).toBe(packs0 + 1);
      expect(wasmSkipStats().skippedMacs - s0).toBe(2 * predictedSkips({ ...p, b }, false));
    }
  });

  it("is off under SEQGRAD_SKIP_ZERO_STEPS=0, and setWasmSkipZeroSteps returns the previous setting", async () => {
    expect(setWasmSkipZeroSteps(false)).toBe(true);
    expect(setWasmSkipZeroSteps(true)).toBe(false);
    vi.resetModules();
    vi.stubEnv("SEQGRAD_SKIP_ZERO_STEPS", "0");
    try {
      const fresh = await import("../../core/wasm/backend.js");
      fresh.setKernelThreads(1);
      const p = problem("float32", 32, 64, 100, [0], [0], 95);
      sparsify(p, "onehot", 0, 95);
      const c = fresh.matmulWasm(p.a, p.b, 32, 64, 100, 1, p.aBatch, p.bBatch, "float32")!;
      expect(fresh.wasmSkipStats()).toEqual({ skippedMacs: 0, macs: 32 * 64 * 100 });
      expect(fresh.setWasmSkipZeroSteps(true)).toBe(false);
      expect(firstBitDifference(fresh.matmulWasm(p.a, p.b, 32, 64, 100, 1, p.aBatch, p.bBatch, "float32")!, c)).toBe(-1);
      expect(fresh.wasmSkipStats().skippedMacs).toBe(predictedSkips(p));
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});

/** A's batches stored transposed: [count, M, K] → [count, K, M]. */
function transposedA(p: Problem): Data {
  const { M, K } = p;
  const out = p.a instanceof Float32Array ? new Float32Array(p.a.length) : new Float64Array(p.a.length);
  for (let bt = 0; bt < p.aCount; bt++)
    for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) out[bt * M * K + k * M + i] = p.a[bt * M * K + i * K + k]!;
  return out;
}

/** `x` cut into row blocks of `width` values per row at the given row counts (the rest in a last block). */
function rowBlocks(x: Data, width: number, rows: readonly number[]): Data[] {
  const out: Data[] = [];
  let at = 0;
  for (const r of rows) {
    const end = Math.min(x.length, at + r * width);
    out.push(x.slice(at, end));
    at = end;
  }
  if (at < x.length || out.length === 0) out.push(x.slice(at));
  return out;
}

describe("matmul of A stored transposed (transA) and of operands in row blocks", () => {
  afterEach(() => {
    setKernelThreads(2);
    setKernelBackend("auto");
    resetSplitJudgement();
  });

  for (const dtype of ["float64", "float32"] as const) {
    it(`gives the product of the rearranged copies bit for bit over random batched shapes and block cuts (${dtype})`, () => {
      setKernelThreads(1);
      const cuts = fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 4 });
      fc.assert(
        fc.property(batchedProblem(dtype), cuts, cuts, (p, aCut, bCut) => {
          const plain = runWasm(p, dtype);
          const aT = transposedA(p);
          const batches = p.aBatch.length;
          const viaT = matmulWasm(aT, p.b, p.M, p.K, p.N, batches, p.aBatch, p.bBatch, dtype, false, true)!;
          expect(firstDifference(viaT, plain)).toBe(-1);
          const blocks = matmulWasm(rowBlocks(aT, p.M, aCut), rowBlocks(p.b, p.N, bCut), p.M, p.K, p.N, batches, p.aBatch, p.bBatch, dtype, false, true)!;
          expect(firstDifference(blocks, plain)).toBe(-1);
          expect(firstDifference(matmulWasm(rowBlocks(p.a, p.K, aCut), p.b, p.M, p.K, p.N, batches, p.aBatch, p.bBatch, dtype)!, plain)).toBe(-1);
        }),
        { numRuns: 60 },
      );
    });

    it(`gives the one-thread result bit for bit split across two threads and begun on the helper (${dtype})`, () => {
      expect(wasmThreadsAvailable()).toBe(true);
      const cases = [problem(dtype, 40, 300, 230, [0], [0], 151), problem(dtype, 301, 70, 130, [0], [0], 153), problem(dtype, 9, 300, 330, [0, 1, 0], [1, 0, 0], 157)];
      for (const p of cases) {
        const aT = transposedA(p), batches = p.aBatch.length;
        setKernelThreads(1);
        const one = runWasm(p, dtype);
        setKernelThreads(2);
        for (const r of UNEVEN_SPLITS) {
          resetSplitJudgement();
          if (r) setSplitRates(r);
          const splits = wasmSplitCount();
          const two = matmulWasm(aT, p.b, p.M, p.K, p.N, batches, p.aBatch, p.bBatch, dtype, false, true)!;
          expect(wasmSplitCount()).toBe(splits + 1);
          expect(firstDifference(two, one)).toBe(-1);
        }
        if (batches === 1) {
          const begun = wasmStartedCount();
          const later = matmulWasmStart(rowBlocks(aT, p.M, [7, 100]), rowBlocks(p.b, p.N, [3]), p.M, p.K, p.N, dtype, true)!;
          expect(wasmStartedCount()).toBe(begun + 1);
          expect(firstDifference(later.result()!, one)).toBe(-1);
        }
      }
    });
  }

  it("leaves out the zero steps of a one-hot A stored transposed (an outer sum's input weights), with the dense result", () => {
    setKernelThreads(1);
    const p = problem("float32", 64, 512, 96, [0], [0], 161); // A [64, 512] = onehot(x)ᵀ, x 512 tokens of 64
    sparsify(p, "onehot", 0, 161);
    const aT = transposedA(p);
    setWasmSkipZeroSteps(false);
    const dense = matmulWasm(aT, p.b, p.M, p.K, p.N, 1, p.aBatch, p.bBatch, "float32", false, true)!;
    setWasmSkipZeroSteps(true);
    const before = wasmSkipStats().skippedMacs;
    const skipped = matmulWasm(aT, p.b, p.M, p.K, p.N, 1, p.aBatch, p.bBatch, "float32", false, true)!;
    expect(wasmSkipStats().skippedMacs).toBeGreaterThan(before);
    expect(firstDifference(skipped, dense)).toBe(-1);
    expect(firstDifference(skipped, runWasm(p, "float32"))).toBe(-1);
  });

  it("gives the reference's product of the rearranged copies under the TypeScript backend (float64, exactly)", () => {
    setKernelBackend("ts");
    const p = problem("float64", 13, 21, 17, [0, 1, 1], [0, 0, 1], 163);
    const want = runRef(p, "float64");
    const got = matmulKernel(rowBlocks(transposedA(p), p.M, [5, 9]), rowBlocks(p.b, p.N, [4]), p.M, p.K, p.N, 3, p.aBatch, p.bBatch, "float64", false, true);
    expect(firstDifference(got, want)).toBe(-1);
  });
});

describe("the small single-thread build (for a browser's synchronous compile)", () => {
  it("fits in 4096 bytes, with and without fused multiply-adds, while the full build does not need to", () => {
    expect(KERNELS_SMALL_WASM_BYTES).toBeLessThanOrEqual(4096);
    expect(KERNELS_SMALL_FMA_WASM_BYTES).toBeLessThanOrEqual(4096);
    expect(KERNELS_WASM_BYTES).toBeGreaterThan(KERNELS_SMALL_WASM_BYTES);
    expect(wasmSmallBuild()).toBe(false);
  });

  it("is loaded where synchronous compilation refuses the full module, gives the same products, and wasmReady() swaps in the full one", async () => {
    // A browser main thread: no shared memory, and `new WebAssembly.Module` refuses more than 4096 bytes.
    expect(decodeBase64Length(KERNELS_SMALL_WASM_BASE64)).toBe(KERNELS_SMALL_WASM_BYTES);
    vi.resetModules();
    vi.stubGlobal("SharedArrayBuffer", undefined);
    vi.stubGlobal("WebAssembly", { ...WebAssemblyNamespace(), Module: mainThreadModule() });
    try {
      const fresh = await import("../../core/wasm/backend.js");
      expect(fresh.wasmAvailable()).toBe(true);
      expect(fresh.wasmSmallBuild()).toBe(true);
      const p = problem("float32", 32, 64, 100, [0], [0], 97);
      sparsify(p, "onehot", 0, 97);
      const small = fresh.matmulWasm(p.a, p.b, 32, 64, 100, 1, p.aBatch, p.bBatch, "float32")!;
      expect(fresh.wasmSkipStats().skippedMacs).toBe(0);
      expect(await fresh.wasmReady()).toBe(true);
      expect(fresh.wasmSmallBuild()).toBe(false);
      expect(firstDifference(fresh.matmulWasm(p.a, p.b, 32, 64, 100, 1, p.aBatch, p.bBatch, "float32")!, small)).toBe(-1);
      // and A stored transposed
      expect(firstDifference(fresh.matmulWasm(transposedA(p), p.b, 32, 64, 100, 1, p.aBatch, p.bBatch, "float32", false, true)!, small)).toBe(-1);
      expect(fresh.wasmSkipStats().skippedMacs).toBeGreaterThan(0);
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });
});

/** Runs f with every module imported afresh where synchronous compiles over 4096 bytes are refused (the small builds load). */
async function withMainThreadModules(f: () => Promise<void>): Promise<void> {
  vi.resetModules();
  vi.stubGlobal("WebAssembly", { ...WebAssemblyNamespace(), Module: mainThreadModule() });
  try {
    await f();
  } finally {
    vi.unstubAllGlobals();
    vi.resetModules();
  }
}

/** `WebAssembly.Module` as a browser's main thread has it: refusing to compile more than 4096 bytes synchronously. */
function mainThreadModule(): typeof WebAssembly.Module {
  const RealModule = WebAssembly.Module;
  return class MainThreadModule extends RealModule {
    constructor(bytes: BufferSource) {
      if (bytes.byteLength > 4096) throw new RangeError("WebAssembly.Module doesn't work with buffers over 4 KB on the main thread");
      super(bytes);
    }
  };
}

/** The WebAssembly namespace's members as a plain object (to stub one of them). */
function WebAssemblyNamespace(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.getOwnPropertyNames(WebAssembly)) out[key] = (WebAssembly as unknown as Record<string, unknown>)[key];
  return out;
}

const decodeBase64Length = (s: string): number => Buffer.from(s, "base64").length;
