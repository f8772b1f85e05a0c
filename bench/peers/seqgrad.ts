/**
 * seqgrad's side of the benchmark, two ways:
 * - `seqgrad` is the library as a user writes it: `lstmCell()` / `gruCell()` / `rnnCell()` loaded with
 *   `fromTorch`, unrolled by `scan`, a dense read-out, `sequenceLoss(..., { reduction: 'sum' })`, `valueAndGrad`,
 *   `sgd(lr).update`; the gradient check is `checkGrad` on an `lstmCell` step.
 * - `seqgrad-raw` is the same model from the raw differentiable ops (`matmul`, `sigmoid`, `tanh`, `logSoftmax`,
 *   `gather`, `valueAndGrad`): the input projection of all T steps is one matmul, then one `[B,H] @ [H,G·H]`
 *   matmul per step, the gates sliced out of it, PyTorch's equations exactly; the gradient check is a manual
 *   central-difference loop, the same algorithm as the peers'.
 */
import {
  add, gather, grad, logSoftmax, matmul, mul, neg, oneHot, reshape, sigmoid, slice, stack, sub, sum, tanh, transpose, valueAndGrad, tree,
} from "../../autograd/index.js";
import { tensor, zeros, type Tensor } from "../../core/tensor.js";
import { lstmCell } from "../../layers/cells/lstm.js";
import { gruCell } from "../../layers/cells/gru.js";
import { rnnCell } from "../../layers/cells/rnn.js";
import type { TorchCell } from "../../layers/cells/types.js";
import { scan } from "../../layers/scan.js";
import { sequenceLoss } from "../../layers/losses.js";
import { sgd } from "../../layers/optimizers.js";
import { checkGrad } from "../../proofs/checkGrad.js";
import { allocatorHinted } from "../../core/allocator.js";
import { getKernelBackend, getKernelThreads, wasmAvailable, wasmFusedMultiplyAdd } from "../../core/wasm/backend.js";
import {
  gatesOf, gradcheckData, lmData, lmWeights, matmulOperands, transpose2d,
  type CellKind, type Flat, type GradcheckWorkload, type MatmulWorkload, type Peer, type RnnLmWorkload, type Runner,
} from "../common.js";

const t32 = (f: Flat): Tensor => tensor(f.data, { dtype: "float32", shape: f.shape });
const t64 = (f: Flat<Float64Array>): Tensor => tensor(f.data, { dtype: "float64", shape: f.shape });
/** A torch `[G, In]` weight as seqgrad's `[In, G]` (x @ W). */
const wT = (f: Flat<Float32Array | Float64Array>, dtype: "float32" | "float64"): Tensor =>
  tensor(transpose2d(f.data, f.shape[0]!, f.shape[1]!), { dtype, shape: [f.shape[1]!, f.shape[0]!] });

const matmulRunner = (w: MatmulWorkload): Runner => {
  const { a, b } = matmulOperands(w);
  const A = tensor(a, { shape: [w.M, w.K] }), B = tensor(b, { shape: [w.K, w.N] });
  return { initialLoss: null, step: () => void matmul(A, B) };
};

/** Cell parameters in seqgrad's layout: Wx [V, G·H], Wh [H, G·H], bx, bh [G·H]. */
export interface RawCellParams {
  readonly Wx: Tensor;
  readonly Wh: Tensor;
  readonly bx: Tensor;
  readonly bh: Tensor;
}

/** One step of the raw cell: `gx` = x·Wx + bx precomputed, carry `a` (and `c` for LSTM). PyTorch's equations. */
export const rawCellStep = (cell: CellKind, H: number, p: RawCellParams, gx: Tensor, a: Tensor, c: Tensor | null): [Tensor, Tensor | null] => {
  const B = a.shape[0]!;
  const gh = add(matmul(a, p.Wh), p.bh);
  const part = (x: Tensor, k: number, n = 1): Tensor => slice(x, [0, k * H], [B, n * H]);
  if (cell === "rnn") return [tanh(add(gx, gh)), null];
  if (cell === "gru") {
    // r, z = σ(gx_rz + gh_rz); n = tanh(gx_n + r * gh_n); a' = n + z * (a - n)
    const rz = sigmoid(add(part(gx, 0, 2), part(gh, 0, 2)));
    const r = part(rz, 0), z = part(rz, 1);
    const n = tanh(add(part(gx, 2), mul(r, part(gh, 2))));
    return [add(n, mul(z, sub(a, n))), null];
  }
  // i, f, o = σ(.), g = tanh(.); c' = f*c + i*g; a' = o * tanh(c')
  const zz = add(gx, gh);
  const i = sigmoid(part(zz, 0)), f = sigmoid(part(zz, 1)), g = tanh(part(zz, 2)), o = sigmoid(part(zz, 3));
  const c1 = add(mul(f, c!), mul(i, g));
  return [mul(o, tanh(c1)), c1];
};

interface LmParams extends RawCellParams {
  readonly Wy: Tensor;
  readonly by: Tensor;
}

const lmRunner = (w: RnnLmWorkload): Runner => {
  const { V, H, B, T, cell } = w;
  const W = lmWeights(w);
  let params: LmParams = {
    Wx: wT(W.weight_ih, "float32"), Wh: wT(W.weight_hh, "float32"), bx: t32(W.bias_ih), bh: t32(W.bias_hh),
    Wy: wT(W.out_w, "float32"), by: t32(W.out_b),
  };
  const { inputs, targets } = lmData(w);
  const X = reshape(oneHot(inputs, V), [T, B, V]);
  const pick = new Int32Array(T * B);
  for (let i = 0; i < T * B; i++) pick[i] = i * V + targets[i]!;
  const G = gatesOf(cell) * H;

  const loss = (p: LmParams): Tensor => {
    const gx = add(matmul(X, p.Wx), p.bx); // [T, B, G·H]: the input projection of every step at once
    let a = zeros([B, H]);
    let c: Tensor | null = cell === "lstm" ? zeros([B, H]) : null;
    const as: Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const gxt = reshape(slice(gx, [t, 0, 0], [1, B, G]), [B, G]);
      [a, c] = rawCellStep(cell, H, p, gxt, a, c);
      as.push(a);
    }
    const logits = add(matmul(stack(as, 0), p.Wy), p.by); // [T, B, V]
    const lp = reshape(logSoftmax(logits), [T * B * V]);
    return neg(sum(gather(lp, pick)));
  };
  const vg = valueAndGrad(loss);
  const initialLoss = loss(params).item();
  let last: number | null = null;
  return {
    initialLoss,
    note: "raw ops",
    step: () => {
      const [value, g] = vg(params) as [Tensor, LmParams];
      params = tree.map((p: Tensor, d: Tensor) => sub(p, mul(d, w.lr)), params as never, g as never) as unknown as LmParams;
      last = value.item();
    },
    lastLoss: () => last,
  };
};

type CellName = "weight_ih" | "weight_hh" | "bias_ih" | "bias_hh";
const CELL_NAMES: readonly CellName[] = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];

/** Checks ∂f/∂θ_i for every entry i of every parameter against (f(θ+εe_i) − f(θ−εe_i)) / 2ε; returns the worst relative error. */
const centralDifferences = (
  base: Record<CellName, Flat<Float64Array>>,
  eps: number,
  f: (p: Record<CellName, Tensor>) => Tensor,
): number => {
  const P = Object.fromEntries(CELL_NAMES.map((n) => [n, t64(base[n])])) as Record<CellName, Tensor>;
  const g = grad(f)(P) as Record<CellName, Tensor>;
  let worst = 0;
  for (const name of CELL_NAMES) {
    const { data, shape } = base[name];
    const analytic = g[name].toTypedArray();
    const at = (i: number, delta: number): number => {
      const moved = data.slice();
      moved[i] = moved[i]! + delta;
      return f({ ...P, [name]: tensor(moved, { dtype: "float64", shape }) }).item();
    };
    for (let i = 0; i < data.length; i++) {
      const numeric = (at(i, eps) - at(i, -eps)) / (2 * eps);
      const a = analytic[i]!;
      worst = Math.max(worst, Math.abs(a - numeric) / Math.max(Math.abs(a) + Math.abs(numeric), 1e-300));
    }
  }
  return worst;
};

const gradcheckRunner = (w: GradcheckWorkload): Runner => {
  const d = gradcheckData(w);
  const x = t64(d.x), a0 = t64(d.a0), c0 = t64(d.c0), ra = t64(d.ra), rc = t64(d.rc);
  // f(θ) = Σ a<1>·Ra + Σ c<1>·Rc for one LSTM cell step from (a<0>, c<0>) on x<1>, θ in PyTorch layout
  const f = (p: Record<CellName, Tensor>): Tensor => {
    const gx = add(matmul(x, transpose(p.weight_ih)), p.bias_ih);
    const [a1, c1] = rawCellStep("lstm", w.H, { Wx: p.weight_ih, Wh: transpose(p.weight_hh), bx: p.bias_ih, bh: p.bias_hh }, gx, a0, c0);
    return add(sum(mul(a1, ra)), sum(mul(c1!, rc)));
  };
  const initialLoss = f(Object.fromEntries(CELL_NAMES.map((n) => [n, t64(d[n])])) as Record<CellName, Tensor>).item();
  let worst = NaN;
  return {
    initialLoss,
    note: "raw ops, manual central differences",
    step: () => {
      worst = centralDifferences(d, w.eps, f);
    },
    detail: () => `worst relative error ${worst.toExponential(2)}`,
  };
};

const torchDict = (W: { weight_ih: Flat; weight_hh: Flat; bias_ih: Flat; bias_hh: Flat }) =>
  ({ weight_ih: t32(W.weight_ih), weight_hh: t32(W.weight_hh), bias_ih: t32(W.bias_ih), bias_hh: t32(W.bias_hh) });

const libraryCell = (cell: CellKind): TorchCell<any, any> => (cell === "lstm" ? lstmCell() : cell === "gru" ? gruCell() : rnnCell());

/** The char-LM through the library: cell.step unrolled by scan, dense read-out, sequenceLoss (sum), sgd. */
const libraryLmRunner = (w: RnnLmWorkload): Runner => {
  const { V, B, T } = w;
  const cell = libraryCell(w.cell);
  const W = lmWeights(w);
  type P = { cell: unknown; Wy: Tensor; by: Tensor };
  let params: P = { cell: cell.fromTorch(torchDict(W)), Wy: wT(W.out_w, "float32"), by: t32(W.out_b) };
  const { inputs, targets } = lmData(w);
  const X = reshape(oneHot(inputs, V), [T, B, V]);
  const Y = tensor(targets, { dtype: "float32", shape: [T, B] });
  const loss = (p: P): Tensor => {
    const [, ys] = scan((carry: unknown, x: Tensor) => cell.step(p.cell, carry, x), cell.initialCarry(p.cell, B), X);
    return sequenceLoss(add(matmul(ys as Tensor, p.Wy), p.by), Y, undefined, { reduction: "sum" });
  };
  const vg = valueAndGrad(loss);
  const opt = sgd(w.lr);
  let state = opt.init(params as never);
  const initialLoss = loss(params).item();
  let last: number | null = null;
  return {
    initialLoss,
    note: `${w.cell}Cell + scan + sequenceLoss + sgd`,
    step: () => {
      const [value, g] = vg(params) as [Tensor, P];
      [params, state] = opt.update(g as never, state, params as never) as unknown as [P, typeof state];
      last = value.item();
    },
    lastLoss: () => last,
  };
};

/** checkGrad (float64, every entry) on one lstmCell step; θ = { W [4H, H+D], b [4H] } loaded with fromTorch. */
const libraryGradcheckRunner = (w: GradcheckWorkload): Runner => {
  const d = gradcheckData(w);
  const cell = lstmCell();
  const params = cell.fromTorch({ weight_ih: t64(d.weight_ih), weight_hh: t64(d.weight_hh), bias_ih: t64(d.bias_ih), bias_hh: t64(d.bias_hh) }, "float64");
  const carry = { a: t64(d.a0), c: t64(d.c0) }, x = t64(d.x), ra = t64(d.ra), rc = t64(d.rc);
  // f(θ) = Σ a<1>·Ra + Σ c<1>·Rc
  const f = (p: typeof params): Tensor => {
    const [next] = cell.step(p, carry, x);
    return add(sum(mul(next.a, ra)), sum(mul(next.c, rc)));
  };
  let worst = NaN;
  return {
    initialLoss: f(params).item(),
    work: params.W.size + params.b.size,
    note: "checkGrad on lstmCell().step",
    step: () => {
      worst = checkGrad(f, [params], { eps: w.eps }).maxRelError;
    },
    detail: () => `worst relative error ${worst.toExponential(2)}`,
  };
};

/** seqgrad through its library API (cells, scan, sequenceLoss, sgd, checkGrad). */
export const seqgradPeer: Peer = async (w) =>
  w.kind === "matmul" ? matmulRunner(w) : w.kind === "rnnlm" ? libraryLmRunner(w) : libraryGradcheckRunner(w);

/** seqgrad from the raw ops (the hand-written model, for the profile and as the library's baseline). */
export const seqgradRawPeer: Peer = async (w) =>
  w.kind === "matmul" ? { skip: "same kernel as seqgrad" } : w.kind === "rnnlm" ? lmRunner(w) : gradcheckRunner(w);

/** What the table says about seqgrad's build: which kernels run the matmuls and on how many threads. */
export const seqgradInfo = (): Record<string, string> => ({
  node: process.version,
  kernels: getKernelBackend(),
  wasmLoaded: String(wasmAvailable()),
  matmulThreads: String(getKernelThreads()),
  fusedMultiplyAdd: String(wasmFusedMultiplyAdd()),
  nodeFlags: process.execArgv.filter((f) => f.startsWith("--") && f !== "--import" && !f.includes("tsx")).join(" ") || "none",
  SEQGRAD_THREADS: process.env.SEQGRAD_THREADS ?? "unset",
  mallocHint: String(allocatorHinted()),
});
