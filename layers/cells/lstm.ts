/**
 * The LSTM cell in the course's notation. From `[a<t-1>, x<t>]`, with one matmul for all four blocks:
 *
 *   Γu = σ(W_u [a<t-1>, x<t>] + b_u)      update (PyTorch's input gate i)
 *   Γf = σ(W_f [a<t-1>, x<t>] + b_f)      forget
 *   c̃  = tanh(W_c [a<t-1>, x<t>] + b_c)   candidate (PyTorch's g)
 *   Γo = σ(W_o [a<t-1>, x<t>] + b_o)      output
 *   c<t> = Γu * c̃ + Γf * c<t-1>,   a<t> = Γo * tanh(c<t>),   y<t> = a<t>
 *
 * Parameters: `W` `[4H, H + D]`, rows `[W_u; W_f; W_c; W_o]` (PyTorch's gate order i, f, g, o), each block
 * `[W_·a | W_·x]` (columns `0..H-1` multiply `a<t-1>`); `b` `[4H]` in the same order. Carry `{ a, c }`.
 * `init`: every weight ~ U(-1/√H, 1/√H) (PyTorch's default), biases 0 except `b_f = forgetBias`.
 */
import { ArgumentError } from "../../core/errors.js";
import { tensor, zeros, type DType, type Tensor } from "../../core/tensor.js";
import { add, concat } from "../../autograd/index.js";
import { lstmPointwise } from "../../autograd/primitives/fused.js";
import { describe } from "../../core/shape.js";
import {
  affine, checkStep, expectSize, paramInfo, readTorchStateDict, uniformWeight,
  type Key, type ParamSpec, type TorchCell, type TorchStateDict, type TorchTensors, type ToTorchOptions,
} from "./types.js";
import { compactToTorch } from "./rnn.js";

/** Parameters of `lstmCell`: `W` `[4H, H + D]` (rows u, f, c̃, o) and `b` `[4H]`. */
export type LstmParams = {
  readonly W: Tensor;
  readonly b: Tensor;
};

/** The LSTM carry: activation `a` and memory cell `c`, both `[B, H]` (named, since libraries disagree on order). */
export type LstmCarry = {
  readonly a: Tensor;
  readonly c: Tensor;
};

/** Options of `lstmCell`. */
export interface LstmCellOptions {
  /**
   * The initial value of the forget-gate bias `b_f` set by `init` (default 1, so Γf starts near σ(1) ≈ 0.73
   * and the memory cell carries gradient far back). It is not added again at each step, so `fromTorch`
   * weights run unchanged.
   */
  readonly forgetBias?: number;
}

const SPEC: ParamSpec = { W: [4, "H+D"], b: [4] };

/** `lstmCell({ forgetBias })`: `c<t> = Γu*c̃ + Γf*c<t-1>`, `a<t> = Γo*tanh(c<t>)`, carry `{ a, c }`, `y<t> = a<t>`. */
export const lstmCell = (options: LstmCellOptions = {}): TorchCell<LstmParams, LstmCarry> => {
  const forgetBias = options.forgetBias ?? 1;
  if (typeof forgetBias !== "number" || !Number.isFinite(forgetBias))
    throw new ArgumentError("lstmCell", "forgetBias", `must be a finite number, got ${describe(forgetBias)}`);
  const op = "lstmCell";
  return {
    init: (key: Key, inputSize: number, hiddenSize: number, dtype: DType = "float32"): LstmParams => {
      const D = expectSize(`${op}.init`, "inputSize", inputSize), H = expectSize(`${op}.init`, "hiddenSize", hiddenSize);
      const b = new Array<number>(4 * H).fill(0).fill(forgetBias, H, 2 * H);
      return { W: uniformWeight(key, [4 * H, H + D], H, dtype), b: tensor(b, { dtype }) };
    },
    initialCarry: (params: LstmParams, batch: number): LstmCarry => {
      const { H, dtype } = paramInfo(`${op}.initialCarry`, params, SPEC);
      const B = expectSize(`${op}.initialCarry`, "batch", batch, 0);
      return { a: zeros([B, H], dtype), c: zeros([B, H], dtype) };
    },
    step: (params: LstmParams, carry: LstmCarry, x: Tensor): readonly [LstmCarry, Tensor] => {
      const { H, D } = paramInfo(`${op}.step`, params, SPEC);
      if (carry === null || typeof carry !== "object")
        throw new ArgumentError(`${op}.step`, "carry", `must be the record { a, c } of [B, ${H}] tensors, got ${describe(carry)}`);
      checkStep(`${op}.step`, x, D, H, { a: carry.a, c: carry.c });
      const z = affine([carry.a, x], params.W, params.b);
      // Γu, Γf, c̃, Γo and c<t>, a<t> in one fused primitive (its VJP one fused kernel too)
      const { a, c } = lstmPointwise(z, carry.c);
      return [{ a, c }, a];
    },
    // PyTorch: gates = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh with rows i, f, g, o = our u, f, c̃, o.
    fromTorch: (stateDict: TorchStateDict, dtype?: DType): LstmParams => {
      const t = readTorchStateDict(`${op}.fromTorch`, stateDict, 4, dtype);
      return { W: concat([t.weight_hh, t.weight_ih], 1), b: add(t.bias_ih, t.bias_hh) };
    },
    toTorch: (params: LstmParams, options: ToTorchOptions = {}): TorchTensors => {
      const { H } = paramInfo(`${op}.toTorch`, params, SPEC);
      return compactToTorch(params.W, params.b, H, options);
    },
  };
};
