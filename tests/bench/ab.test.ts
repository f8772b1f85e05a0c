import { afterEach, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import path from "node:path";
import { checkoutPeerUrl, knobs, quartiles, workloadOf } from "../../bench/ab.js";
import { getKernelThreads, setKernelThreads, setWasmSkipZeroSteps, setWasmSplitMinWork, WASM_SPLIT_MIN_WORK } from "../../core/wasm/backend.js";

describe("bench/ab", () => {
  const threads = getKernelThreads();
  afterEach(() => {
    setKernelThreads(threads);
    setWasmSplitMinWork(WASM_SPLIT_MIN_WORK);
    setWasmSkipZeroSteps(true);
  });

  it("reads a matmul shape and a char-LM cell into the bench's workloads", () => {
    expect(workloadOf("matmul", "32x192x512", 0)).toEqual({ kind: "matmul", M: 32, K: 192, N: 512 });
    expect(workloadOf("gru", "", 256)).toEqual({ kind: "rnnlm", cell: "gru", V: 64, H: 256, B: 32, T: 64, lr: 1e-3 });
  });

  it("reads the gradient-check workload, the bench's own", () => {
    expect(workloadOf("gradcheck", "", 0)).toEqual({ kind: "gradcheck", D: 10, H: 20, B: 4, eps: 1e-6 });
  });

  it("finds a checkout's peer file from its folder, relative or absolute", () => {
    const here = fileURLToPath(checkoutPeerUrl("."));
    expect(here).toBe(path.resolve("bench", "peers", "seqgrad.ts"));
    expect(existsSync(here)).toBe(true);
    expect(fileURLToPath(checkoutPeerUrl("/some/where"))).toBe(path.join("/some/where", "bench", "peers", "seqgrad.ts"));
  });

  it("names the option and the value it cannot use", () => {
    expect(() => workloadOf("matmul", "32x192", 0)).toThrow(/--shape must be MxKxN.*'32x192'/);
    expect(() => workloadOf("matmul", "32x0x5", 0)).toThrow(/--shape.*'32x0x5'/);
    expect(() => workloadOf("lstm", "", 0)).toThrow(/--H must be a positive integer/);
    expect(() => workloadOf("conv", "", 8)).toThrow(/--workload must be .*'conv'/);
    expect(() => knobs.threads!("3")).toThrow(/threads takes 1 or 2, got '3'/);
    expect(() => knobs["split-min-work"]!("-1")).toThrow(/split-min-work takes an integer >= 0, got '-1'/);
    expect(() => knobs.skip!("yes")).toThrow(/skip takes 0 or 1, got 'yes'/);
  });

  it("sets the knob it names", () => {
    knobs.threads!("1");
    expect(getKernelThreads()).toBe(1);
    knobs["split-min-work"]!("12345");
    expect(setWasmSplitMinWork(WASM_SPLIT_MIN_WORK)).toBe(12345); // the setter returns the value it replaces
    knobs.skip!("0");
    expect(setWasmSkipZeroSteps(true)).toBe(false);
  });

  it("takes quartiles by nearest rank", () => {
    expect(quartiles([5, 1, 3, 2, 4])).toEqual([2, 3, 4]);
    expect(quartiles([7])).toEqual([7, 7, 7]);
  });
});
