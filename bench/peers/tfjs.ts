/**
 * TensorFlow.js as a benchmark peer: `tfjs-wasm` (XNNPACK, SIMD) and `tfjs-cpu` run a hand-written cell
 * (the same equations as PyTorch) trained with `tf.train.sgd(lr).minimize`, which differentiates with
 * `tf.variableGrads`; `tfjs-wasm-layers` runs `tf.layers.lstm` + `tf.layers.dense` (LSTM only: tfjs-layers GRU
 * supports only the reset-before convention, a different function from PyTorch's GRU). TensorFlow.js has no
 * float64, so it sits out the gradient check.
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import path from "node:path";
import {
  gatesOf, lmData, lmWeights, matmulOperands, transpose2d,
  type Flat, type MatmulWorkload, type Peer, type RnnLmWorkload, type Runner,
} from "../common.js";

const t2 = (f: Flat): tf.Tensor => tf.tensor(f.data, f.shape as number[], "float32");
/** A torch `[G, In]` weight as `[In, G]` (x @ W). */
const wT = (f: Flat): tf.Tensor2D => tf.tensor2d(transpose2d(f.data, f.shape[0]!, f.shape[1]!), [f.shape[1]!, f.shape[0]!]);

const matmulRunner = (w: MatmulWorkload): Runner => {
  const { a, b } = matmulOperands(w);
  const A = tf.tensor2d(a, [w.M, w.K]), B = tf.tensor2d(b, [w.K, w.N]);
  return {
    initialLoss: null,
    step: () => {
      const c = tf.matMul(A, B);
      c.dataSync(); // materialize (the wasm backend is synchronous; this reads back like the others)
      c.dispose();
    },
  };
};

/** The hand-written recurrent LM: input projection of all steps at once, then one `[B,H] @ [H,G·H]` per step. */
const lmRunner = (w: RnnLmWorkload): Runner => {
  const { V, H, B, T, cell } = w;
  const G = gatesOf(cell) * H;
  const W = lmWeights(w);
  const Wx = tf.variable(wT(W.weight_ih)), Wh = tf.variable(wT(W.weight_hh));
  const bx = tf.variable(t2(W.bias_ih)), bh = tf.variable(t2(W.bias_hh));
  const Wy = tf.variable(wT(W.out_w)), by = tf.variable(t2(W.out_b));
  const vars = [Wx, Wh, bx, bh, Wy, by];
  const { inputs, targets } = lmData(w);
  const X = tf.oneHot(tf.tensor1d(inputs, "int32"), V).toFloat() as tf.Tensor2D; // [T·B, V]
  const Y = tf.oneHot(tf.tensor1d(targets, "int32"), V).toFloat() as tf.Tensor2D;

  const loss = (): tf.Scalar => {
    const gx = tf.unstack(tf.add(tf.matMul(X, Wx), bx).reshape([T, B, G])) as tf.Tensor2D[];
    let a: tf.Tensor2D = tf.zeros([B, H]);
    let c: tf.Tensor2D = tf.zeros([B, H]);
    const as: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const gh = tf.add(tf.matMul(a, Wh), bh) as tf.Tensor2D;
      if (cell === "rnn") a = tf.tanh(tf.add(gx[t]!, gh)) as tf.Tensor2D;
      else if (cell === "gru") {
        const [xr, xz, xn] = tf.split(gx[t]!, 3, 1) as tf.Tensor2D[];
        const [hr, hz, hn] = tf.split(gh, 3, 1) as tf.Tensor2D[];
        const r = tf.sigmoid(tf.add(xr!, hr!)), z = tf.sigmoid(tf.add(xz!, hz!));
        const n = tf.tanh(tf.add(xn!, tf.mul(r, hn!)));
        a = tf.add(n, tf.mul(z, tf.sub(a, n)));
      } else {
        const [zi, zf, zg, zo] = tf.split(tf.add(gx[t]!, gh), 4, 1) as tf.Tensor2D[];
        c = tf.add(tf.mul(tf.sigmoid(zf!), c), tf.mul(tf.sigmoid(zi!), tf.tanh(zg!)));
        a = tf.mul(tf.sigmoid(zo!), tf.tanh(c));
      }
      as.push(a);
    }
    const logits = tf.add(tf.matMul(tf.stack(as).reshape([T * B, H]) as tf.Tensor2D, Wy), by);
    return tf.neg(tf.sum(tf.mul(Y, tf.logSoftmax(logits)))) as tf.Scalar;
  };
  const initialLoss = tf.tidy(() => loss().dataSync()[0]!);
  const opt = tf.train.sgd(w.lr);
  let last: number | null = null;
  return {
    initialLoss,
    note: "hand-written cell, tf.train.sgd.minimize",
    step: () => {
      const l = opt.minimize(loss, true, vars)!;
      last = l.dataSync()[0]!;
      l.dispose();
    },
    lastLoss: () => last,
  };
};

/** `tf.layers.lstm` (recurrentActivation sigmoid, PyTorch's gate order i, f, c, o) + `tf.layers.dense`, batch-major. */
const layersLstmRunner = (w: RnnLmWorkload): Runner | { skip: string } => {
  if (w.cell !== "lstm") return { skip: "tfjs-layers GRU supports only reset-before (not PyTorch's function); SimpleRNN not wired" };
  const { V, H, B, T } = w;
  const W = lmWeights(w);
  const lstm = tf.layers.lstm({ units: H, returnSequences: true, recurrentActivation: "sigmoid", unitForgetBias: false, inputShape: [T, V] });
  const dense = tf.layers.dense({ units: V });
  const model = tf.sequential({ layers: [lstm, dense] });
  const bias = tf.add(t2(W.bias_ih), t2(W.bias_hh));
  model.setWeights([wT(W.weight_ih), wT(W.weight_hh), bias, wT(W.out_w), t2(W.out_b)]);
  const { inputs, targets } = lmData(w);
  // time-major [T, B] ids → batch-major one-hot [B, T, V]
  const toBatchMajor = (ids: Int32Array): tf.Tensor3D =>
    tf.oneHot(tf.tensor2d(ids, [T, B], "int32").transpose(), V).toFloat() as tf.Tensor3D;
  const X = toBatchMajor(inputs), Y = toBatchMajor(targets);
  const loss = (): tf.Scalar => tf.neg(tf.sum(tf.mul(Y, tf.logSoftmax(model.apply(X) as tf.Tensor3D)))) as tf.Scalar;
  const initialLoss = tf.tidy(() => loss().dataSync()[0]!);
  const opt = tf.train.sgd(w.lr);
  let last: number | null = null;
  return {
    initialLoss,
    note: "tf.layers.lstm + dense, tf.train.sgd.minimize",
    step: () => {
      const l = opt.minimize(loss, true)!;
      last = l.dataSync()[0]!;
      l.dispose();
    },
    lastLoss: () => last,
  };
};

/** Selects the backend named by `impl` (`tfjs-wasm`, `tfjs-wasm-layers`, `tfjs-cpu`) and returns the peer. */
export const tfjsPeer = async (impl: string): Promise<{ peer: Peer; info: Record<string, string> }> => {
  const backend = impl === "tfjs-cpu" ? "cpu" : "wasm";
  if (backend === "wasm") {
    const require = createRequire(import.meta.url);
    setWasmPaths(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm")) + path.sep);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} failed to initialize`);
  await tf.ready();
  const layers = impl === "tfjs-wasm-layers";
  const peer: Peer = async (w) => {
    if (w.kind === "gradcheck") return { skip: "TensorFlow.js has no float64" };
    if (w.kind === "matmul") return layers ? { skip: "same kernel as tfjs-wasm" } : matmulRunner(w);
    return layers ? layersLstmRunner(w) : lmRunner(w);
  };
  return { peer, info: { version: tf.version.tfjs, backend: tf.getBackend() } };
};
