/**
 * The basic RNN cell in the course's notation: `a<t> = g(W_a [a<t-1>; x<t>] + b_a)`, g = tanh | relu.
 *
 * Parameters (a plain readonly record):
 * - `W_a` `[H, H + D]`: the compact form `[W_aa | W_ax]`; columns `0..H-1` multiply `a<t-1>`, the rest `x<t>`.
 * - `b_a` `[H]`.
 * In a batch (rows are examples) the step computes `[a<t-1>, x<t>] W_aᵀ + b_a` with one matmul.
 * `splitRnnWeights` / `stackRnnWeights` convert between the compact and the separate `W_aa`, `W_ax` forms.
 * `init`: every weight ~ U(-1/√H, 1/√H) (PyTorch's default for its cells), biases 0.
 */
import { ArgumentError, fmtShape } from "../../core/errors.js";
import { zeros, type DType, type Tensor } from "../../core/tensor.js";
import { add, concat, slice } from "../../autograd/index.js";
import { isTensor } from "../../core/tensor.js";
import {
  affine, checkStep, expectSize, paramInfo, readTorchStateDict, uniformWeight,
  type Key, type ParamSpec, type TorchCell, type TorchStateDict, type TorchTensors, type ToTorchOptions,
} from "./types.js";

/** Parameters of `rnnCell`: `W_a = [W_aa | W_ax]` `[H, H + D]` and `b_a` `[H]`. */
export type RnnParams = {
  readonly W_a: Tensor;
  readonly b_a: Tensor;
};

/** Options of `rnnCell`. */
export interface RnnCellOptions {
  /** The activation g: `'tanh'` (default) or `'relu'`. */
  readonly activation?: "tanh" | "relu";
}

const SPEC: ParamSpec = { W_a: [1, "H+D"], b_a: [1] };

/**
 * `splitRnnWeights(W_a, H?) => { W_aa, W_ax }`: `W_a = [W_aa | W_ax]`, `W_aa` `[rows, H]`, `W_ax` `[rows, D]`.
 * H defaults to the number of rows (the basic RNN); pass it for a gated cell's stacked `[kH, H + D]` weight.
 */
export const splitRnnWeights = (W_a: Tensor, hiddenSize?: number): { readonly W_aa: Tensor; readonly W_ax: Tensor } => {
  if (!isTensor(W_a) || W_a.shape.length !== 2) throw new ArgumentError("splitRnnWeights", "W_a", `must be a 2-D Tensor [H, H + D], got ${isTensor(W_a) ? fmtShape(W_a.shape) : typeof W_a}`);
  const rows = W_a.shape[0]!, cols = W_a.shape[1]!;
  const H = hiddenSize ?? rows;
  if (!Number.isInteger(H) || H < 1 || H >= cols)
    throw new ArgumentError("splitRnnWeights", "hiddenSize", `must be an integer in [1, ${cols - 1}] for W_a of shape ${fmtShape(W_a.shape)}, got ${H}`);
  return { W_aa: slice(W_a, [0, 0], [rows, H]), W_ax: slice(W_a, [0, H], [rows, cols - H]) };
};

/** `stackRnnWeights(W_aa, W_ax) = [W_aa | W_ax]`, the compact `[rows, H + D]` form (differentiable). */
export const stackRnnWeights = (W_aa: Tensor, W_ax: Tensor): Tensor => {
  for (const [name, w] of [["W_aa", W_aa], ["W_ax", W_ax]] as const)
    if (!isTensor(w) || w.shape.length !== 2) throw new ArgumentError("stackRnnWeights", name, `must be a 2-D Tensor, got ${isTensor(w) ? fmtShape(w.shape) : typeof w}`);
  if (W_aa.shape[0] !== W_ax.shape[0])
    throw new ArgumentError("stackRnnWeights", "W_ax", `has ${W_ax.shape[0]} rows but W_aa has ${W_aa.shape[0]} (shapes ${fmtShape(W_aa.shape)} and ${fmtShape(W_ax.shape)})`);
  return concat([W_aa, W_ax], 1);
};

/** The PyTorch view shared by the course-form cells: `weight_hh = W[:, :H]`, `weight_ih = W[:, H:]`, one bias. */
export const compactToTorch = (W: Tensor, b: Tensor, H: number, options: ToTorchOptions = {}): TorchTensors => {
  const { W_aa, W_ax } = splitRnnWeights(W, H);
  return { weight_ih: W_ax, weight_hh: W_aa, bias_ih: b, bias_hh: options.gradient ? b : zeros(b.shape, b.dtype) };
};

/** `rnnCell({ activation })`: `a<t> = g(W_a [a<t-1>; x<t>] + b_a)`, carry `a` `[B, H]`, output `y<t> = a<t>`. */
export const rnnCell = (options: RnnCellOptions = {}): TorchCell<RnnParams, Tensor> => {
  const activation = options.activation ?? "tanh";
  if (activation !== "tanh" && activation !== "relu")
    throw new ArgumentError("rnnCell", "activation", `must be 'tanh' or 'relu', got ${JSON.stringify(activation)}`);
  const op = `rnnCell(${activation})`;
  return {
    init: (key: Key, inputSize: number, hiddenSize: number, dtype: DType = "float32"): RnnParams => {
      const D = expectSize(`${op}.init`, "inputSize", inputSize), H = expectSize(`${op}.init`, "hiddenSize", hiddenSize);
      return { W_a: uniformWeight(key, [H, H + D], H, dtype), b_a: zeros([H], dtype) };
    },
    initialCarry: (params: RnnParams, batch: number): Tensor => {
      const { H, dtype } = paramInfo(`${op}.initialCarry`, params, SPEC);
      return zeros([expectSize(`${op}.initialCarry`, "batch", batch, 0), H], dtype);
    },
    step: (params: RnnParams, a: Tensor, x: Tensor): readonly [Tensor, Tensor] => {
      const { H, D } = paramInfo(`${op}.step`, params, SPEC);
      checkStep(`${op}.step`, x, D, H, { a });
      // g applied inside the affine primitive: one op, and a one-kernel tanh VJP
      const next = affine([a, x], params.W_a, params.b_a, activation);
      return [next, next];
    },
    // PyTorch: h' = g(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), so W_a = [W_hh | W_ih] and b_a = b_ih + b_hh.
    fromTorch: (stateDict: TorchStateDict, dtype?: DType): RnnParams => {
      const t = readTorchStateDict(`${op}.fromTorch`, stateDict, 1, dtype);
      return { W_a: concat([t.weight_hh, t.weight_ih], 1), b_a: add(t.bias_ih, t.bias_hh) };
    },
    toTorch: (params: RnnParams, options: ToTorchOptions = {}): TorchTensors => {
      const { H } = paramInfo(`${op}.toTorch`, params, SPEC);
      return compactToTorch(params.W_a, params.b_a, H, options);
    },
  };
};
