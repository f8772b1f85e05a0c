/**
 * The same computations run in a browser page and in Node (scripts/browser-check.mjs compares them): float32
 * matmuls on operands with all-zero k-steps (the zero-step skip), float32 elementwise ops past the WebAssembly
 * thresholds, softmax cross-entropy's probabilities (through its gradient), and the loss and gradients of a small LSTM trained as the benchmark does, in float32 and float64.
 * It first records which WebAssembly build loaded synchronously (a browser main thread refuses to compile
 * more than 4 KB that way), then awaits `wasmReady()` and computes everything again on the full build.
 */
import {
  add, grad, lstmCell, matmul, maximum, mul, oneHot, randomKey, reshape, scan, setKernelBackend, sigmoid, softmaxCrossEntropy, sum, tanh, tensor, valueAndGrad,
  wasmAvailable, wasmReady, type DType, type Tensor,
} from "../../index.js";
import { wasmFusedMultiplyAdd, wasmSmallBuild } from "../../core/wasm/backend.js";
import { elementwiseSmallBuild } from "../../core/wasm/elementwise.js";

/** Deterministic values in [-1, 1) (a 32-bit LCG), with every `zeroEvery`-th column of a [rows, cols] layout zero. */
const values = (n: number, seed: number, cols = 1, zeroEvery = 0): number[] => {
  let s = seed >>> 0;
  return Array.from({ length: n }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return zeroEvery > 0 && (i % cols) % zeroEvery === 0 ? 0 : s / 2 ** 31 - 1;
  });
};

const read = (t: Tensor): number[] => Array.from(t.toTypedArray());

const lstmLossAndGrads = (dtype: DType): number[] => {
  const V = 16, H = 24, B = 8, T = 12;
  const cell = lstmCell();
  const params = { cell: cell.init(randomKey(7), V, H, dtype), Wy: tensor(values(H * V, 3), { dtype, shape: [H, V] }) };
  const ids = Int32Array.from(values(T * B, 5), (v) => Math.floor((v + 1) * 8) % V);
  const X = reshape(oneHot(ids, V, dtype), [T, B, V]);
  const loss = (p: typeof params): Tensor => {
    const [, ys] = scan((carry: unknown, x: Tensor) => cell.step(p.cell, carry as never, x), cell.initialCarry(p.cell, B), X);
    return sum(mul(tanh(matmul(ys as Tensor, p.Wy)), X));
  };
  const [value, g] = valueAndGrad(loss)(params);
  return [value.item(), ...read(g.cell.W), ...read(g.cell.b), ...read(g.Wy)];
};

/** Everything computed on whichever build is loaded now. */
const compute = (): Record<string, number[]> => {
  const a = tensor(values(37 * 70, 1, 70, 3), { shape: [37, 70] }); // every third k-step zero
  const b = tensor(values(70 * 29, 2), { shape: [70, 29] });
  const x = tensor(values(1000, 11)), y = tensor(values(1000, 12));
  // softmax rows of 37 classes (not a multiple of 4), read through the gradient p - onehot(y): no engine Math in it
  const z = tensor(values(300 * 37, 21).map((v) => 8 * v), { shape: [300, 37] });
  const targets = Int32Array.from(values(300, 22), (v) => Math.floor((v + 1) * 18.5) % 37);
  const out: Record<string, number[]> = {
    matmul: read(matmul(a, b)),
    sigmoid: read(sigmoid(x)),
    tanh: read(tanh(x)),
    add: read(add(x, y)),
    maximum: read(maximum(x, y)),
    softmax32: read(grad((zz: Tensor) => sum(softmaxCrossEntropy(zz, targets)))(z)),
    lstm32: lstmLossAndGrads("float32"),
    lstm64: lstmLossAndGrads("float64"),
    // the engine's own float64 functions, which the float64 TypeScript kernels call
    math: values(20000, 13).flatMap((v) => [Math.exp(30 * v), Math.tanh(10 * v), Math.log(100 * Math.abs(v) + 1e-3), Math.log1p(v + 1), Math.expm1(v)]),
  };
  const prev = setKernelBackend("ts");
  try {
    out.matmulTs = read(matmul(a, b));
    out.addTs = read(add(x, y));
  } finally {
    setKernelBackend(prev);
  }
  return out;
};

export interface BrowserCheck {
  readonly syncAvailable: boolean;
  /** Whether the float32 matmul fuses multiply-adds (relaxed SIMD validated in this engine). */
  readonly fused: boolean;
  readonly syncSmallBuild: boolean;
  readonly readySmallBuild: boolean;
  /** Whether the elementwise module loaded as its small build (no softmax kernel; it has no asynchronous swap). */
  readonly elementwiseSmallBuild: boolean;
  readonly sync: Record<string, number[]>;
  readonly ready: Record<string, number[]>;
}

export const runChecks = async (): Promise<BrowserCheck> => {
  const syncAvailable = wasmAvailable();
  const syncSmallBuild = wasmSmallBuild();
  const sync = compute();
  await wasmReady();
  return {
    syncAvailable, fused: wasmFusedMultiplyAdd(), syncSmallBuild, readySmallBuild: wasmSmallBuild(), elementwiseSmallBuild: elementwiseSmallBuild(), sync, ready: compute(),
  };
};
