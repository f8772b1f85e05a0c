/**
 * The GRU cell in three variants. The carry is the memory cell `c<t> = a<t>` `[B, H]`; `y<t> = a<t>`.
 *
 * `'minimal'` (update gate only, as first taught). Params `W` `[2H, H + D]` rows `[W_u; W_c]`, `b` `[2H]`:
 *   Γu = σ(W_u [c<t-1>, x<t>] + b_u),  c̃ = tanh(W_c [c<t-1>, x<t>] + b_c),  c<t> = Γu * c̃ + (1 - Γu) * c<t-1>
 *
 * `'full'` (the relevance gate Γr applied to c<t-1> before the candidate's matmul; as in the course and the 2014 paper that introduced the GRU).
 * Params `W` `[2H, H + D]` rows `[W_u; W_r]`, `b` `[2H]`, `W_c` `[H, H + D]`, `b_c` `[H]`:
 *   Γu = σ(W_u [c<t-1>, x<t>] + b_u),  Γr = σ(W_r [c<t-1>, x<t>] + b_r)        (one matmul for both gates)
 *   c̃ = tanh(W_c [Γr * c<t-1>, x<t>] + b_c)                                   (a second: it needs Γr first)
 *   c<t> = Γu * c̃ + (1 - Γu) * c<t-1>
 *
 * `'reset-after'` (PyTorch's `GRUCell`, cuDNN and Keras' default). Params `W_x` `[3H, D]`, `W_a` `[3H, H]`,
 * `b_x` `[3H]`, `b_a` `[3H]`, rows in PyTorch's order r, z, n (= weight_ih, weight_hh, bias_ih, bias_hh):
 *   r = σ(W_xr x + b_xr + W_ar a + b_ar),  z = σ(W_xz x + b_xz + W_az a + b_az)
 *   n = tanh(W_xn x + b_xn + r * (W_an a + b_an)),  a<t> = (1 - z) * n + z * a<t-1>
 * Here z keeps the old state (z = 1 - Γu). One matmul per operand (x and a), each for all three blocks;
 * the reset r multiplies the recurrent part after its matmul, so the two cannot share one.
 *
 * The default variant is `'reset-after'`: it is the convention of the major libraries, and the one whose
 * weights load from and map back to PyTorch exactly.
 * `init`: every weight ~ U(-1/√H, 1/√H) (PyTorch's default), biases 0.
 */
import { ArgumentError } from "../../core/errors.js";
import { zeros, type DType, type Tensor } from "../../core/tensor.js";
import { add, concat, mul, sigmoid, slice, sub, tanh } from "../../autograd/index.js";
import { gruMinimalPointwise, gruResetAfterPointwise } from "../../autograd/primitives/fused.js";
import { splitKey } from "../../core/random.js";
import {
  affine, checkStep, expectSize, paramInfo, readTorchStateDict, uniformWeight,
  type Key, type ParamSpec, type TorchCell, type TorchStateDict, type TorchTensors, type ToTorchOptions,
} from "./types.js";

/** The GRU equations to use: the course's `minimal` and `full`, or PyTorch's `reset-after`. */
export type GruVariant = "minimal" | "full" | "reset-after";

/** `gruCell({ variant: 'minimal' })` params: `W` `[2H, H + D]` rows `[W_u; W_c]`, `b` `[2H]`. */
export type GruMinimalParams = {
  readonly W: Tensor;
  readonly b: Tensor;
};
/** `gruCell({ variant: 'full' })` params: gates `W` `[2H, H + D]` rows `[W_u; W_r]`, `b` `[2H]`; candidate `W_c` `[H, H + D]`, `b_c` `[H]`. */
export type GruFullParams = {
  readonly W: Tensor;
  readonly b: Tensor;
  readonly W_c: Tensor;
  readonly b_c: Tensor;
};
/** `gruCell({ variant: 'reset-after' })` params: `W_x` `[3H, D]`, `W_a` `[3H, H]`, `b_x`, `b_a` `[3H]`, rows r, z, n. */
export type GruResetAfterParams = {
  readonly W_x: Tensor;
  readonly W_a: Tensor;
  readonly b_x: Tensor;
  readonly b_a: Tensor;
};

/** The parameter record of a GRU variant. */
export type GruParams<V extends GruVariant> = V extends "minimal" ? GruMinimalParams : V extends "full" ? GruFullParams : GruResetAfterParams;

/** Options of `gruCell`. */
export interface GruCellOptions<V extends GruVariant> {
  /** `'minimal'`, `'full'` or `'reset-after'` (default). */
  readonly variant?: V;
}

const SPECS: { readonly [V in GruVariant]: ParamSpec } = {
  minimal: { W: [2, "H+D"], b: [2] },
  full: { W: [2, "H+D"], b: [2], W_c: [1, "H+D"], b_c: [1] },
  "reset-after": { W_x: [3, "D"], W_a: [3, "H"], b_x: [3], b_a: [3] },
};

/** `gruCell({ variant })`: a GRU cell; carry `a` `[B, H]`, `y<t> = a<t>` (equations in this file's header). */
export function gruCell(): TorchCell<GruResetAfterParams, Tensor>;
export function gruCell<V extends GruVariant = "reset-after">(options: GruCellOptions<V>): TorchCell<GruParams<V>, Tensor>;
export function gruCell(options: GruCellOptions<GruVariant> = {}): TorchCell<any, Tensor> {
  const variant = options.variant ?? "reset-after";
  if (!(variant in SPECS)) throw new ArgumentError("gruCell", "variant", `must be 'minimal', 'full' or 'reset-after', got ${JSON.stringify(variant)}`);
  const op = `gruCell(${variant})`;
  const spec = SPECS[variant];
  const noTorch = (what: string) => () => {
    throw new ArgumentError(
      `${op}.${what}`,
      "variant",
      `'${variant}' has no PyTorch counterpart: torch.nn.GRUCell applies the reset gate after the recurrent matmul; use gruCell({ variant: 'reset-after' })`,
    );
  };

  const init = (key: Key, inputSize: number, hiddenSize: number, dtype: DType = "float32") => {
    const D = expectSize(`${op}.init`, "inputSize", inputSize), H = expectSize(`${op}.init`, "hiddenSize", hiddenSize);
    if (variant === "minimal") return { W: uniformWeight(key, [2 * H, H + D], H, dtype), b: zeros([2 * H], dtype) };
    const [k1, k2] = splitKey(key, 2) as [Key, Key];
    if (variant === "full")
      return { W: uniformWeight(k1, [2 * H, H + D], H, dtype), b: zeros([2 * H], dtype), W_c: uniformWeight(k2, [H, H + D], H, dtype), b_c: zeros([H], dtype) };
    return { W_x: uniformWeight(k1, [3 * H, D], H, dtype), W_a: uniformWeight(k2, [3 * H, H], H, dtype), b_x: zeros([3 * H], dtype), b_a: zeros([3 * H], dtype) };
  };

  const initialCarry = (params: unknown, batch: number): Tensor => {
    const { H, dtype } = paramInfo(`${op}.initialCarry`, params, spec);
    return zeros([expectSize(`${op}.initialCarry`, "batch", batch, 0), H], dtype);
  };

  const step = (params: any, a: Tensor, x: Tensor): readonly [Tensor, Tensor] => {
    const { H, D } = paramInfo(`${op}.step`, params, spec);
    checkStep(`${op}.step`, x, D, H, { a });
    const B = x.shape[0]!;
    const block = (z: Tensor, k: number) => slice(z, [0, k * H], [B, H]);
    let next: Tensor;
    if (variant === "reset-after") {
      const p = params as GruResetAfterParams;
      // r, z, n and a<t> in one fused primitive
      next = gruResetAfterPointwise(affine(x, p.W_x, p.b_x), affine(a, p.W_a, p.b_a), a);
    } else if (variant === "minimal") {
      const p = params as GruMinimalParams;
      // Γu, c̃ and a<t> in one fused primitive
      next = gruMinimalPointwise(affine([a, x], p.W, p.b), a);
    } else {
      const p = params as GruFullParams;
      const g = affine([a, x], p.W, p.b);
      const gu = sigmoid(block(g, 0)), gr = sigmoid(block(g, 1));
      const cTilde = affine([mul(gr, a), x], p.W_c, p.b_c, "tanh");
      next = add(mul(gu, cTilde), mul(sub(1, gu), a));
    }
    return [next, next];
  };

  if (variant !== "reset-after") return { init, initialCarry, step, fromTorch: noTorch("fromTorch"), toTorch: noTorch("toTorch") };

  return {
    init,
    initialCarry,
    step,
    // PyTorch's GRUCell already is the reset-after form, rows r, z, n: the entries are renamed, not rearranged.
    fromTorch: (stateDict: TorchStateDict, dtype?: DType): GruResetAfterParams => {
      const t = readTorchStateDict(`${op}.fromTorch`, stateDict, 3, dtype);
      return { W_x: t.weight_ih, W_a: t.weight_hh, b_x: t.bias_ih, b_a: t.bias_hh };
    },
    // Two separate biases, so parameters and gradients map the same way (`options.gradient` changes nothing).
    toTorch: (params: GruResetAfterParams, _options?: ToTorchOptions): TorchTensors => {
      paramInfo(`${op}.toTorch`, params, spec);
      return { weight_ih: params.W_x, weight_hh: params.W_a, bias_ih: params.b_x, bias_hh: params.b_a };
    },
  };
}
