/**
 * Write your own recurrent cell, train it, and prove its gradients — copy this file and change the cell.
 *
 * The cell here is not in the library: a coupled input-forget LSTM (CIFG, a known LSTM variant), where one gate
 * decides both what to forget and what to write (Γu = 1 - Γf), and the carry is the record { a, c }:
 *
 *   v = [a<t-1>, x<t>]
 *   Γf = σ(v W_f + b_f),   Γo = σ(v W_o + b_o),   c̃ = tanh(v W_c + b_c)     (one matmul for all three)
 *   c<t> = Γf * c<t-1> + (1 - Γf) * c̃,   a<t> = Γo * tanh(c<t>),   y<t> = a<t>
 *
 * Anything with init / initialCarry / step is a cell: scan, grad and checkCell need nothing more.
 * The toy task: read a stream of tokens from {0, 1, 2} (one-hot) and predict, at every step, the token one step
 * back — the cell must remember. Run it with `npx tsx examples/custom-cell.ts`.
 */
import { fileURLToPath } from "node:url";
import {
  add, concat, matmul, mul, normal, oneHot, randint, randomKey, sigmoid, slice, splitKey, sub, tanh, tensor, valueAndGrad, zeros,
  type DType, type Key, type Tensor,
} from "../index.js";
import { scan, sequenceLoss, sgd, type Cell } from "../layers/index.js";
import { checkCell, formatCellReport, type CellReport } from "../proofs/index.js";

// ---- the cell ----------------------------------------------------------------------------------------------

// Type aliases (not interfaces), so they are parameter trees that grad and the optimizers accept as they are.
type CifgParams = {
  /** [H + D, 3H]: columns [W_f | W_o | W_c]. */
  readonly W: Tensor;
  /** [3H]: [b_f | b_o | b_c]. */
  readonly b: Tensor;
};
type CifgCarry = {
  readonly a: Tensor;
  readonly c: Tensor;
};

export const cifgCell: Cell<CifgParams, CifgCarry> = {
  init: (key: Key, inputSize: number, hiddenSize: number, dtype: DType = "float32"): CifgParams => {
    const H = hiddenSize;
    // forget bias 1: Γf starts near σ(1) ≈ 0.73, so the memory keeps most of itself (and its gradient)
    const b = Array.from({ length: 3 * H }, (_, i) => (i < H ? 1 : 0));
    return { W: normal(key, [H + inputSize, 3 * H], { dtype, std: 1 / Math.sqrt(H + inputSize) }), b: tensor(b, { dtype }) };
  },
  initialCarry: (params: CifgParams, batch: number): CifgCarry => {
    const H = params.b.shape[0]! / 3;
    return { a: zeros([batch, H], params.b.dtype), c: zeros([batch, H], params.b.dtype) };
  },
  step: (params: CifgParams, { a, c }: CifgCarry, x: Tensor): [CifgCarry, Tensor] => {
    const B = x.shape[0]!, H = a.shape[1]!;
    const z = add(matmul(concat([a, x], 1), params.W), params.b); // [B, 3H]
    const gate = (k: number) => slice(z, [0, k * H], [B, H]);
    const gf = sigmoid(gate(0)), go = sigmoid(gate(1)), cTilde = tanh(gate(2));
    const cNext = add(mul(gf, c), mul(sub(1, gf), cTilde));
    const aNext = mul(go, tanh(cNext));
    return [{ a: aNext, c: cNext }, aNext];
  },
};

// ---- the model and the task ----------------------------------------------------------------------------------

const V = 3; // tokens 0, 1, 2

type Model = {
  readonly cell: CifgParams;
  /** Readout [H, V] and [V]: logits<t> = a<t> W_y + b_y. */
  readonly W_y: Tensor;
  readonly b_y: Tensor;
};

/** Tokens [T, B]; targets<t> = tokens<t-1>; the mask drops t = 0, which has nothing to recall. */
const makeTask = (key: Key, T: number, B: number) => {
  const tokens = randint(key, [T, B], 0, V);
  const rows = tokens.toArray() as number[][];
  const targets = rows.map((row, t) => (t === 0 ? row.map(() => 0) : rows[t - 1]!));
  const mask = rows.map((row, t) => row.map(() => (t === 0 ? 0 : 1)));
  return { xs: oneHot(tokens, V, "float32"), targets, mask };
};

/** Mean over the batch of Σ_t of the cross-entropy of the recalled token. */
const loss = (m: Model, xs: Tensor, targets: number[][], mask: number[][]): Tensor => {
  const [, ys] = scan((carry: CifgCarry, x: Tensor) => cifgCell.step(m.cell, carry, x), cifgCell.initialCarry(m.cell, xs.shape[1]!), xs);
  return sequenceLoss(add(matmul(ys, m.W_y), m.b_y), targets, mask);
};

export interface ExampleOptions {
  /** Training steps. Default 200. */
  steps?: number;
  /** Hidden size. Default 8. */
  hiddenSize?: number;
  /** Sequence length and batch. Defaults 12 and 16. */
  length?: number;
  batch?: number;
  /** SGD learning rate. Default 0.5. */
  learningRate?: number;
  seed?: number;
  /** Where progress lines go. Default console.log. */
  log?: (line: string) => void;
}

/** Trains the CIFG cell on the recall task, then runs checkCell on it; returns the losses and the report. */
export const main = (opts: ExampleOptions = {}): { losses: number[]; report: CellReport } => {
  const { steps = 200, hiddenSize: H = 8, length: T = 12, batch: B = 16, learningRate = 0.5, seed = 0, log = console.log } = opts;
  const [kCell, kOut, kData] = splitKey(randomKey(seed), 3) as [Key, Key, Key];
  let model: Model = { cell: cifgCell.init(kCell, V, H), W_y: normal(kOut, [H, V], { std: 0.1 }), b_y: zeros([V]) };
  const { xs, targets, mask } = makeTask(kData, T, B);
  const opt = sgd(learningRate);
  let state = opt.init(model);
  const losses: number[] = [];
  const lossAndGrad = valueAndGrad((m: Model) => loss(m, xs, targets, mask));
  for (let i = 0; i < steps; i++) {
    const [value, grads] = lossAndGrad(model) as [Tensor, Model];
    losses.push(value.item());
    if (i % Math.max(1, Math.floor(steps / 10)) === 0 || i === steps - 1) log(`step ${String(i).padStart(4)}  loss ${value.item().toFixed(4)}`);
    [model, state] = opt.update(grads, state, model);
  }
  log(`loss ${losses[0]!.toFixed(4)} -> ${losses[losses.length - 1]!.toFixed(4)} (chance: ln 3 per step = ${(Math.log(3) * (T - 1)).toFixed(4)} per sequence)`);

  // Prove the cell: BPTT gradients vs finite differences, sharing, masking, purity, shapes, and H·v.
  const report = checkCell(cifgCell, { secondOrder: true, label: "CIFG (user cell)" });
  log(formatCellReport(report));
  return { losses, report };
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
