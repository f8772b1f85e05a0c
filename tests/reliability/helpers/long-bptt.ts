/**
 * Child process of the long-sequence test: BPTT of a tiny float64 LSTM over T steps, optionally with
 * `checkpointEvery`, measuring the live heap the tape holds between the forward and the backward pass.
 * Prints one JSON line: timings, heap per step, the loss and the gradient (W row-major, then b).
 * Usage: node --expose-gc --import tsx long-bptt.ts <T> <checkpointEvery, 0 = plain> [B] [D] [H]
 */
import { writeSync } from "node:fs";
import { tensor, ones, type Tensor } from "../../../core/tensor.js";
import { mul, sum, vjp } from "../../../autograd/index.js";
import { lstmCell, type LstmCarry, type LstmParams } from "../../../layers/cells/lstm.js";
import { scan } from "../../../layers/scan.js";
import { inputAt, readoutAt, weightAt } from "./tiny-lstm.js";

const [T, k, B = 2, D = 3, H = 4] = process.argv.slice(2).map(Number) as [number, number, number?, number?, number?];
if (!(T! > 0)) throw new Error("usage: long-bptt.ts <T> <checkpointEvery> [B] [D] [H]");
const gcOnce = (globalThis as { gc?: () => void }).gc;
if (gcOnce === undefined) throw new Error("long-bptt.ts needs node --expose-gc");
// twice: array buffers freed by one collection are only accounted for after the next
const gc = () => (gcOnce(), gcOnce());
const live = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const cols = H + D;
const params: LstmParams = {
  W: tensor(Array.from({ length: 4 * H * cols }, (_, i) => weightAt(i)), { dtype: "float64", shape: [4 * H, cols] }),
  b: tensor(Array.from({ length: 4 * H }, (_, i) => weightAt(10_000 + i)), { dtype: "float64" }),
};
const xsData = new Float64Array(T * B * D);
for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) xsData[(t * B + b) * D + d] = inputAt(t, b, d);
const xs = tensor(xsData, { dtype: "float64", shape: [T, B, D] });
const r = tensor(Array.from({ length: H }, (_, h) => readoutAt(h)), { dtype: "float64" });
const cell = lstmCell();

// L = Σ_t Σ_b r · a<t>[b]
const loss = (p: LstmParams): Tensor =>
  sum(mul(scan((c: LstmCarry, x: Tensor) => cell.step(p, c, x), cell.initialCarry(p, B), xs, k > 0 ? { checkpointEvery: k } : {})[1], r));

gc();
const before = live();
const t0 = performance.now();
const [L, pullback] = vjp(loss, params);
const t1 = performance.now();
gc();
const tapeBytes = live() - before;
const t2 = performance.now();
const [g] = pullback(ones([], "float64")) as [LstmParams];
const t3 = performance.now();
writeSync(1, JSON.stringify({
  T, k, B, D, H,
  forwardSeconds: (t1 - t0) / 1000,
  backwardSeconds: (t3 - t2) / 1000,
  heapBytesPerStep: tapeBytes / T,
  loss: L.item(),
  dW: g.W.toFlatArray(),
  db: g.b.toFlatArray(),
}) + "\n");
