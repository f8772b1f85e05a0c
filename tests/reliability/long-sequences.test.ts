import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { referenceGrads } from "./helpers/tiny-lstm.js";

// BPTT of a tiny float64 LSTM (B = 2, D = 3, H = 4) runs in a child process started with --expose-gc, so the
// live heap the tape holds between the forward and the backward pass can be measured after a full GC
// (helpers/long-bptt.ts). Gradients are checked against a hand-written BPTT in plain numbers
// (helpers/tiny-lstm.ts). Figures are printed; only memory ratios and bounds are asserted, never times.
const helper = fileURLToPath(new URL("./helpers/long-bptt.ts", import.meta.url));

interface Run {
  T: number;
  k: number;
  forwardSeconds: number;
  backwardSeconds: number;
  heapBytesPerStep: number;
  loss: number;
  dW: number[];
  db: number[];
}

const runChild = (T: number, k: number): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", helper, String(T), String(k)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`long-bptt.ts ${T} ${k} exited with ${code}:\n${err}`));
      else resolve(JSON.parse(out.trim().split("\n").pop()!) as Run);
    });
  });

/** max |a - b| / max |b| over the entries: the gradient's error relative to its largest entry. */
const relErr = (a: readonly number[], b: ArrayLike<number>): number => {
  let d = 0, s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return a.length === b.length ? d / s : Infinity;
};

const KiB = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;

describe("long sequences", () => {
  it("backpropagates a tiny LSTM through 100,000 steps, matching a hand-written BPTT", async () => {
    const T = 100_000;
    const run = await runChild(T, 0);
    const ref = referenceGrads(T, 2, 3, 4);
    const err = Math.max(relErr(run.dW, ref.dW), relErr(run.db, ref.db));
    console.info(`BPTT T = ${T} (plain scan): heap ${KiB(run.heapBytesPerStep)} per step, forward ${run.forwardSeconds.toFixed(1)} s, backward ${run.backwardSeconds.toFixed(1)} s, gradient error ${err.toExponential(2)} relative to its largest entry`);
    // float64 sums of 100,000 terms in two different orders: far below 1e-9 (observed ~1e-13)
    expect(Math.abs(run.loss - ref.loss) / Math.abs(ref.loss)).toBeLessThanOrEqual(1e-9);
    expect(err).toBeLessThanOrEqual(1e-9);
    // the tape of this LSTM holds about 4 KiB per step (B = 2, H = 4, float64, mostly object overhead); 16 KiB
    // is a regression bound that a step keeping a few extra tensors or a copy of the weights would cross
    expect(run.heapBytesPerStep).toBeGreaterThan(0);
    expect(run.heapBytesPerStep).toBeLessThan(16 * 1024);
  }, 600_000);

  it("keeps under a fifth of plain scan's tape with checkpointEvery = 100 at T = 10,000, with the same gradient", async () => {
    const T = 10_000;
    const plain = await runChild(T, 0);
    const ck = await runChild(T, 100);
    console.info(`T = ${T}: tape ${KiB(plain.heapBytesPerStep)} per step plain vs ${KiB(ck.heapBytesPerStep)} with checkpointEvery = 100 (×${(plain.heapBytesPerStep / ck.heapBytesPerStep).toFixed(1)}); backward ${plain.backwardSeconds.toFixed(1)} s vs ${ck.backwardSeconds.toFixed(1)} s`);
    // what stays is one carry per segment plus the outputs y<t> and inputs x<t>, against every intermediate of every step
    expect(ck.heapBytesPerStep).toBeLessThan(plain.heapBytesPerStep / 5);
    expect(ck.loss).toBe(plain.loss);
    expect(relErr(ck.dW, plain.dW)).toBeLessThanOrEqual(1e-12);
    expect(relErr(ck.db, plain.db)).toBeLessThanOrEqual(1e-12);
    const ref = referenceGrads(T, 2, 3, 4);
    expect(relErr(ck.dW, ref.dW)).toBeLessThanOrEqual(1e-9);
  }, 600_000);
});
