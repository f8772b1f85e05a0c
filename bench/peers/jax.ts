/**
 * jax-js (wasm device) as a benchmark peer. Whole training steps are `jit(valueAndGrad)` plus the SGD update
 * in one jitted function; jax-js has no `scan`, so the T steps are unrolled into the traced graph. jax-js
 * consumes its arguments (reference counting): every reuse takes `.ref`. The first call compiles (seconds),
 * which the worker's warm-up absorbs.
 */
import { init, jit, nn, numpy as np, tree, valueAndGrad, grad } from "@jax-js/jax";
import {
  gatesOf, gradcheckData, lmData, lmWeights, matmulOperands, transpose2d,
  type CellKind, type Flat, type GradcheckWorkload, type MatmulWorkload, type Peer, type RnnLmWorkload, type Runner,
} from "../common.js";

type Arr = np.Array;

const arr = (f: Flat<Float32Array | Float64Array>): Arr => np.array(f.data).reshape(f.shape as number[]);
/** A torch `[G, In]` weight as `[In, G]` (x @ W). */
const wT = (f: Flat): Arr => np.array(transpose2d(f.data, f.shape[0]!, f.shape[1]!)).reshape([f.shape[1]!, f.shape[0]!]);

const oneHotF32 = (ids: Int32Array, V: number): Arr => {
  const d = new Float32Array(ids.length * V);
  for (let i = 0; i < ids.length; i++) d[i * V + ids[i]!] = 1;
  return np.array(d).reshape([ids.length, V]);
};

const matmulRunner = (w: MatmulWorkload): Runner => {
  const { a, b } = matmulOperands(w);
  const A = np.array(a).reshape([w.M, w.K]), B = np.array(b).reshape([w.K, w.N]);
  const mm = jit((x: Arr, y: Arr) => np.matmul(x, y));
  return { initialLoss: null, step: () => void mm(A.ref, B.ref).dataSync() };
};

interface Cell {
  Wh: Arr;
  bh: Arr;
}

/**
 * One cell step, consuming `gxt`, `a` and `c` and borrowing `p` (PyTorch's equations); returns the new carry.
 */
const cellStep = (cell: CellKind, H: number, p: Cell, gxt: Arr, a: Arr, c: Arr | null): [Arr, Arr | null] => {
  const gh = np.matmul(a.ref, p.Wh.ref).add(p.bh.ref);
  if (cell === "rnn") {
    a.dispose();
    return [np.tanh(gxt.add(gh)), null];
  }
  if (cell === "gru") {
    const r = nn.sigmoid(gxt.ref.slice([], [0, H]).add(gh.ref.slice([], [0, H])));
    const z = nn.sigmoid(gxt.ref.slice([], [H, 2 * H]).add(gh.ref.slice([], [H, 2 * H])));
    const n = np.tanh(gxt.slice([], [2 * H, 3 * H]).add(r.mul(gh.slice([], [2 * H, 3 * H]))));
    return [n.ref.add(z.mul(a.sub(n))), null];
  }
  a.dispose();
  const zz = gxt.add(gh);
  const i = nn.sigmoid(zz.ref.slice([], [0, H]));
  const f = nn.sigmoid(zz.ref.slice([], [H, 2 * H]));
  const g = np.tanh(zz.ref.slice([], [2 * H, 3 * H]));
  const o = nn.sigmoid(zz.slice([], [3 * H, 4 * H]));
  const c1 = f.mul(c!).add(i.mul(g));
  return [o.mul(np.tanh(c1.ref)), c1];
};

type LmParams = { Wx: Arr; Wh: Arr; bx: Arr; bh: Arr; Wy: Arr; by: Arr };

const lmRunner = (w: RnnLmWorkload): Runner => {
  const { V, H, B, T, cell } = w;
  const G = gatesOf(cell) * H;
  const W = lmWeights(w);
  let params: LmParams = { Wx: wT(W.weight_ih), Wh: wT(W.weight_hh), bx: arr(W.bias_ih), bh: arr(W.bias_hh), Wy: wT(W.out_w), by: arr(W.out_b) };
  const { inputs, targets } = lmData(w);
  const X = oneHotF32(inputs, V), Y = oneHotF32(targets, V); // [T·B, V]

  const loss = (p: LmParams, x: Arr, y: Arr): Arr => {
    const gx = np.matmul(x, p.Wx).add(p.bx).reshape([T, B, G]);
    let a: Arr = np.zeros([B, H]);
    let c: Arr | null = cell === "lstm" ? np.zeros([B, H]) : null;
    const as: Arr[] = [];
    for (let t = 0; t < T; t++) {
      [a, c] = cellStep(cell, H, p, gx.ref.slice(t), a, c);
      as.push(a.ref);
    }
    gx.dispose();
    a.dispose();
    c?.dispose();
    p.Wh.dispose();
    p.bh.dispose();
    const logits = np.matmul(np.stack(as).reshape([T * B, H]), p.Wy).add(p.by);
    return nn.logSoftmax(logits).mul(y).sum().neg();
  };
  const lossJit = jit(loss);
  const vg = valueAndGrad(loss);
  const train = jit((p: LmParams, x: Arr, y: Arr) => {
    const [l, g] = vg(tree.ref(p), x, y);
    const next = tree.map((pi: Arr, gi: Arr) => pi.sub(gi.mul(w.lr)), p, g) as LmParams;
    return { loss: l, params: next };
  });
  const initialLoss = lossJit(tree.ref(params), X.ref, Y.ref).item();
  let last: number | null = null;
  return {
    initialLoss,
    note: "jit(valueAndGrad + SGD), unrolled T",
    step: () => {
      const out = train(params, X.ref, Y.ref) as { loss: Arr; params: LmParams };
      params = out.params;
      last = out.loss.item();
    },
    lastLoss: () => last,
  };
};

type CellName = "weight_ih" | "weight_hh" | "bias_ih" | "bias_hh";
const CELL_NAMES: readonly CellName[] = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];

const gradcheckRunner = (w: GradcheckWorkload): Runner => {
  const d = gradcheckData(w);
  const H = w.H;
  const fixed = { x: arr(d.x), a0: arr(d.a0), c0: arr(d.c0), ra: arr(d.ra), rc: arr(d.rc) };
  type P = Record<CellName, Arr>;
  type F = typeof fixed;
  // f(θ) = Σ a<1>·Ra + Σ c<1>·Rc for one LSTM cell step, θ in PyTorch layout
  const f = (p: P, k: F): Arr => {
    const gx = np.matmul(k.x, p.weight_ih.transpose()).add(p.bias_ih);
    const cellP = { Wh: p.weight_hh.transpose(), bh: p.bias_hh };
    const [a1, c1] = cellStep("lstm", H, cellP, gx, k.a0, k.c0);
    cellP.Wh.dispose();
    cellP.bh.dispose();
    return a1.mul(k.ra).sum().add(c1!.mul(k.rc).sum());
  };
  const fJit = jit(f);
  const gJit = jit(grad(f));
  const base = (): P => Object.fromEntries(CELL_NAMES.map((n) => [n, arr(d[n])])) as P;
  const initialLoss = fJit(base(), tree.ref(fixed)).item();
  let worst = NaN;
  return {
    initialLoss,
    // jax-js's float64 exp / tanh / sigmoid on wasm are accurate to only ~1e-8 relative (tanh(1e-9) gives -0),
    // so its central differences at ε = 1e-6 are off by up to O(1e-2): the timing is real, the check fails.
    note: "jit(f), jit(grad(f)), manual central differences",
    step: () => {
      const P = base();
      const g = gJit(tree.ref(P), tree.ref(fixed)) as P;
      worst = 0;
      for (const name of CELL_NAMES) {
        const { data, shape } = d[name];
        const analytic = g[name].dataSync();
        const at = (i: number, delta: number): number => {
          const moved = data.slice();
          moved[i] = moved[i]! + delta;
          const q = Object.fromEntries(CELL_NAMES.map((n) => [n, n === name ? np.array(moved).reshape(shape as number[]) : P[n].ref])) as P;
          return fJit(q, tree.ref(fixed)).item();
        };
        for (let i = 0; i < data.length; i++) {
          const numeric = (at(i, w.eps) - at(i, -w.eps)) / (2 * w.eps);
          const a = analytic[i]!;
          worst = Math.max(worst, Math.abs(a - numeric) / Math.max(Math.abs(a) + Math.abs(numeric), 1e-300));
        }
      }
      tree.dispose(P);
    },
    detail: () => `worst relative error ${worst.toExponential(2)}`,
  };
};

/** Starts the wasm device and returns the peer. */
export const jaxPeer = async (): Promise<{ peer: Peer; info: Record<string, string> }> => {
  // jax-js tests `data instanceof Float16Array` when building any array from a typed array; Node 20 has no
  // Float16Array, so float64 input would throw. A stand-in class (never instantiated) makes that test false.
  const g = globalThis as { Float16Array?: unknown };
  if (g.Float16Array === undefined) g.Float16Array = class Float16ArrayUnavailable {};
  await init("wasm");
  const peer: Peer = async (w) => (w.kind === "matmul" ? matmulRunner(w) : w.kind === "rnnlm" ? lmRunner(w) : gradcheckRunner(w));
  return { peer, info: { device: "wasm", sharedArrayBuffer: String(typeof SharedArrayBuffer !== "undefined") } };
};
