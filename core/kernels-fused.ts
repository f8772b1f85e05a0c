/**
 * Fused kernels for recurrent cells: the gate math of one LSTM or GRU step (and its backward) in one loop
 * over the batch, instead of a dozen elementwise ops each allocating a [B, H] tensor. Each kernel
 * allocates its outputs and is the only code that writes to them. Rows are examples; a gate block `k` of a
 * `[B, gH]` pre-activation is the columns `kH .. (k+1)H - 1` of each row (PyTorch's layout).
 *
 * The forward kernels also return the gate activations (`acts`), so the backward kernels need no
 * transcendental function at all: every derivative is a polynomial in the saved activations.
 *
 * The `…Ts` loops are the reference. For float32 the LSTM and reset-after GRU steps (forward and backward)
 * run as one call each into WebAssembly SIMD (core/wasm/elementwise.as) when chosen: they compute the same
 * float64 expressions rounded once, with the WebAssembly exp/sigmoid/tanh, so they equal the reference loops
 * on those activations bit for bit (tests/core/kernels-fused.test.ts). The minimal GRU and float64 always
 * run the loops.
 */
import { allocData, type Data, type DType } from "./tensor.js";
import { unary } from "./kernels.js";
import { wasmChosenFor } from "./wasm/backend.js";
import { gruResetAfterBackwardWasm, gruResetAfterForwardWasm, lstmBackwardWasm, lstmForwardWasm, softmaxRowsWasm, unaryPrefersWasm } from "./wasm/elementwise.js";

// Activations (sigmoid, tanh, exp) are the unary kernel's: float32 from ELEMENTWISE_WASM_MIN_SIZE values runs the
// WebAssembly SIMD functions (within a few ulp) when chosen, everything else its loops.

/** Columns `[k·w, (k+1)·w)` of every row of `x` `[B, g·w]`, as a fresh `[B, w]` array. */
function columns(x: Data, B: number, g: number, w: number, k: number, dtype: DType): Data {
  const y = allocData(dtype, B * w);
  for (let b = 0; b < B; b++) y.set(x.subarray((b * g + k) * w, (b * g + k + 1) * w), b * w);
  return y;
}

/**
 * LSTM gates: z `[B, 4H]` (blocks u, f, c̃, o) and c_prev `[B, H]` give
 * `c = σ(z_u)·tanh(z_c̃) + σ(z_f)·c_prev`, `a = σ(z_o)·tanh(c)`, and for the backward pass the activations
 * `gates` `[B, 4H]` = Γu, Γf, c̃, Γo (the sigmoid of all four blocks with block c̃ overwritten) and `tc = tanh(c)`.
 * The TypeScript reference loop (activations through the unary kernel); `lstmForward` picks it or the WebAssembly kernel.
 */
export function lstmForwardTs(z: Data, cPrev: Data, B: number, H: number, dtype: DType): { a: Data; c: Data; gates: Data; tc: Data } {
  const a = allocData(dtype, B * H), c = allocData(dtype, B * H);
  const gates = unary("sigmoid", z, dtype); // fresh: ours to overwrite until wrapped
  const tz = unary("tanh", columns(z, B, 4, H, 2, dtype), dtype);
  for (let b = 0; b < B; b++) {
    const zr = b * 4 * H, r = b * H;
    for (let j = 0; j < H; j++) {
      const ct = tz[r + j]!;
      gates[zr + 2 * H + j] = ct;
      // from the stored (dtype-rounded) activations, as the composed ops would
      c[r + j] = gates[zr + j]! * ct + gates[zr + H + j]! * cPrev[r + j]!;
    }
  }
  const tc = unary("tanh", c, dtype);
  for (let b = 0; b < B; b++) {
    const zr = b * 4 * H + 3 * H, r = b * H;
    for (let j = 0; j < H; j++) a[r + j] = gates[zr + j]! * tc[r + j]!;
  }
  return { a, c, gates, tc };
}

/**
 * Backward of `lstmForward` from the cotangents dA, dC `[B, H]`, the gates, tanh(c) and c_prev:
 * `dc = dC + dA·Γo·(1 - tanh²c)`, `dz = [dc·c̃·Γu(1-Γu), dc·c_prev·Γf(1-Γf), dc·Γu·(1-c̃²), dA·tanh(c)·Γo(1-Γo)]`,
 * `dc_prev = dc·Γf`. The TypeScript reference loop; `lstmBackward` picks it or the WebAssembly kernel.
 */
export function lstmBackwardTs(dA: Data, dC: Data, gates: Data, tcs: Data, cPrev: Data, B: number, H: number, dtype: DType): { dz: Data; dcPrev: Data } {
  const dz = allocData(dtype, B * 4 * H), dcPrev = allocData(dtype, B * H);
  for (let b = 0; b < B; b++) {
    const zr = b * 4 * H, r = b * H;
    for (let j = 0; j < H; j++) {
      const gu = gates[zr + j]!, gf = gates[zr + H + j]!, ct = gates[zr + 2 * H + j]!, go = gates[zr + 3 * H + j]!, tc = tcs[r + j]!;
      const da = dA[r + j]!;
      const dc = dC[r + j]! + da * go * (1 - tc * tc);
      dz[zr + j] = dc * ct * (gu * (1 - gu));
      dz[zr + H + j] = dc * cPrev[r + j]! * (gf * (1 - gf));
      dz[zr + 2 * H + j] = dc * gu * (1 - ct * ct);
      dz[zr + 3 * H + j] = da * tc * (go * (1 - go));
      dcPrev[r + j] = dc * gf;
    }
  }
  return { dz, dcPrev };
}

/**
 * Smallest float32 LSTM step (B·H elements) whose forward goes to the one-call WebAssembly kernel under 'auto'.
 * Measured against the TypeScript step as 'auto' ran it before (wall time, best of 15 interleaved batches on a
 * busy 2-core VM): 0.5-0.6x at B·H = 1-2 (the call and copies dominate), even at 4, 1.1-1.5x at 8-32,
 * 1.4-2.2x from 96 up (1.55-1.57x at B=32, H=128).
 */
export const WASM_LSTM_FORWARD_MIN = 8;
/**
 * The same for the backward, which has no transcendental function, so the TypeScript loop stays ahead
 * longer: 0.1-0.5x at B·H <= 16, 0.5-0.8x at 128-256, 1.2-1.5x at 512, 1.55-2.1x at B=32, H=128 (repeated
 * runs; single runs at 128-256 ranged from 0.5x to 1.5x on this busy machine).
 */
export const WASM_LSTM_BACKWARD_MIN = 512;

/** Whether a float32 cell kernel over B·H elements goes to WebAssembly under the current kernel choice (setKernelBackend). */
function cellPrefersWasm(dtype: DType, BH: number, min: number): boolean {
  return dtype === "float32" && wasmChosenFor(BH, min);
}

/**
 * LSTM gates as `lstmForwardTs` (same outputs and formulas): float32 runs the one-call WebAssembly SIMD kernel
 * (bit for bit what lstmForwardTs computes with WebAssembly activations) when it is loaded and chosen.
 */
export function lstmForward(z: Data, cPrev: Data, B: number, H: number, dtype: DType): { a: Data; c: Data; gates: Data; tc: Data } {
  if (cellPrefersWasm(dtype, B * H, WASM_LSTM_FORWARD_MIN) && z instanceof Float32Array && cPrev instanceof Float32Array) {
    const r = lstmForwardWasm(z, cPrev, B, H);
    if (r) return r;
  }
  return lstmForwardTs(z, cPrev, B, H, dtype);
}

/** Backward of `lstmForward`, as `lstmBackwardTs` (float32 through the one-call WebAssembly SIMD kernel when chosen, bit for bit equal). */
export function lstmBackward(dA: Data, dC: Data, gates: Data, tcs: Data, cPrev: Data, B: number, H: number, dtype: DType): { dz: Data; dcPrev: Data } {
  if (
    cellPrefersWasm(dtype, B * H, WASM_LSTM_BACKWARD_MIN) &&
    dA instanceof Float32Array && dC instanceof Float32Array && gates instanceof Float32Array && tcs instanceof Float32Array && cPrev instanceof Float32Array
  ) {
    const r = lstmBackwardWasm(dA, dC, gates, tcs, cPrev, B, H);
    if (r) return r;
  }
  return lstmBackwardTs(dA, dC, gates, tcs, cPrev, B, H, dtype);
}

/**
 * GRU, PyTorch's reset-after form: zx = x W_xᵀ + b_x and za = a W_aᵀ + b_a `[B, 3H]` (blocks r, z, n), a `[B, H]`:
 * `r = σ(zx_r + za_r)`, `u = σ(zx_z + za_z)`, `n = tanh(zx_n + r·za_n)`, `a' = (1 - u)·n + u·a`; acts `[B, 3H]` = r, u, n.
 * The TypeScript reference loop; `gruResetAfterForward` picks it or the WebAssembly kernel.
 */
export function gruResetAfterForwardTs(zx: Data, za: Data, a: Data, B: number, H: number, dtype: DType): { next: Data; acts: Data } {
  const next = allocData(dtype, B * H), acts = allocData(dtype, B * 3 * H);
  const pre = allocData(dtype, B * 2 * H); // zx + za for the r and z blocks
  for (let b = 0; b < B; b++)
    for (let j = 0; j < 2 * H; j++) pre[b * 2 * H + j] = zx[b * 3 * H + j]! + za[b * 3 * H + j]!;
  const ru = unary("sigmoid", pre, dtype);
  const preN = allocData(dtype, B * H);
  for (let b = 0; b < B; b++)
    for (let j = 0; j < H; j++) preN[b * H + j] = zx[b * 3 * H + 2 * H + j]! + ru[b * 2 * H + j]! * za[b * 3 * H + 2 * H + j]!;
  const n = unary("tanh", preN, dtype);
  for (let b = 0; b < B; b++) {
    const g = b * 3 * H, r = b * H, q = b * 2 * H;
    for (let j = 0; j < H; j++) {
      const u = ru[q + H + j]!, nv = n[r + j]!;
      acts[g + j] = ru[q + j]!;
      acts[g + H + j] = u;
      acts[g + 2 * H + j] = nv;
      next[r + j] = (1 - u) * nv + u * a[r + j]!;
    }
  }
  return { next, acts };
}

/**
 * Backward of `gruResetAfterForward` from dA' `[B, H]`: with dn = dA'(1-u)(1-n²) and dr = dn·za_n·r(1-r),
 * du = dA'(a - n)u(1-u): `dzx = [dr, du, dn]`, `dza = [dr, du, dn·r]`, `da = dA'·u`.
 * The TypeScript reference loop; `gruResetAfterBackward` picks it or the WebAssembly kernel.
 */
export function gruResetAfterBackwardTs(dNext: Data, acts: Data, za: Data, a: Data, B: number, H: number, dtype: DType): { dzx: Data; dza: Data; da: Data } {
  const dzx = allocData(dtype, B * 3 * H), dza = allocData(dtype, B * 3 * H), da = allocData(dtype, B * H);
  for (let b = 0; b < B; b++) {
    const g = b * 3 * H, r = b * H;
    for (let j = 0; j < H; j++) {
      const rv = acts[g + j]!, u = acts[g + H + j]!, n = acts[g + 2 * H + j]!, d = dNext[r + j]!, av = a[r + j]!;
      const dn = d * (1 - u) * (1 - n * n);
      const dr = dn * za[g + 2 * H + j]! * (rv * (1 - rv));
      const du = d * (av - n) * (u * (1 - u));
      dzx[g + j] = dr;
      dza[g + j] = dr;
      dzx[g + H + j] = du;
      dza[g + H + j] = du;
      dzx[g + 2 * H + j] = dn;
      dza[g + 2 * H + j] = dn * rv;
      da[r + j] = d * u;
    }
  }
  return { dzx, dza, da };
}

/**
 * Smallest float32 reset-after GRU step (B·H) whose forward goes to WebAssembly under 'auto'. Measured as
 * WASM_LSTM_FORWARD_MIN: 0.86x at 4, 1.15x at 8, 2-2.7x from 16 up (2.2-2.7x at B=32, H=128).
 */
export const WASM_GRU_FORWARD_MIN = 8;
/** The same for its backward: 0.2-0.8x up to 256, 1.4x at 512, 1.6-2.1x at B=32, H=128. */
export const WASM_GRU_BACKWARD_MIN = 512;

/** The reset-after GRU step as `gruResetAfterForwardTs` (float32 through the one-call WebAssembly SIMD kernel when chosen, bit for bit what the loop computes on its activations). */
export function gruResetAfterForward(zx: Data, za: Data, a: Data, B: number, H: number, dtype: DType): { next: Data; acts: Data } {
  if (cellPrefersWasm(dtype, B * H, WASM_GRU_FORWARD_MIN) && zx instanceof Float32Array && za instanceof Float32Array && a instanceof Float32Array) {
    const r = gruResetAfterForwardWasm(zx, za, a, B, H);
    if (r) return r;
  }
  return gruResetAfterForwardTs(zx, za, a, B, H, dtype);
}

/** Backward of `gruResetAfterForward`, as `gruResetAfterBackwardTs` (float32 through the one-call WebAssembly SIMD kernel when chosen, bit for bit equal). */
export function gruResetAfterBackward(dNext: Data, acts: Data, za: Data, a: Data, B: number, H: number, dtype: DType): { dzx: Data; dza: Data; da: Data } {
  if (
    cellPrefersWasm(dtype, B * H, WASM_GRU_BACKWARD_MIN) &&
    dNext instanceof Float32Array && acts instanceof Float32Array && za instanceof Float32Array && a instanceof Float32Array
  ) {
    const r = gruResetAfterBackwardWasm(dNext, acts, za, a, B, H);
    if (r) return r;
  }
  return gruResetAfterBackwardTs(dNext, acts, za, a, B, H, dtype);
}

/**
 * GRU with the update gate only: g `[B, 2H]` (blocks u, c̃) and a `[B, H]`:
 * `a' = σ(g_u)·tanh(g_c̃) + (1 - σ(g_u))·a`; acts `[B, 2H]` = Γu, c̃.
 */
export function gruMinimalForward(g: Data, a: Data, B: number, H: number, dtype: DType): { next: Data; acts: Data } {
  const next = allocData(dtype, B * H), acts = allocData(dtype, B * 2 * H);
  const su = unary("sigmoid", columns(g, B, 2, H, 0, dtype), dtype), tc = unary("tanh", columns(g, B, 2, H, 1, dtype), dtype);
  for (let b = 0; b < B; b++) {
    const s = b * 2 * H, r = b * H;
    for (let j = 0; j < H; j++) {
      const gu = su[r + j]!, ct = tc[r + j]!;
      acts[s + j] = gu;
      acts[s + H + j] = ct;
      next[r + j] = gu * ct + (1 - gu) * a[r + j]!;
    }
  }
  return { next, acts };
}

/** Backward of `gruMinimalForward`: `dg = [dA'(c̃ - a)Γu(1-Γu), dA'·Γu(1-c̃²)]`, `da = dA'(1 - Γu)`. */
export function gruMinimalBackward(dNext: Data, acts: Data, a: Data, B: number, H: number, dtype: DType): { dg: Data; da: Data } {
  const dg = allocData(dtype, B * 2 * H), da = allocData(dtype, B * H);
  for (let b = 0; b < B; b++) {
    const s = b * 2 * H, r = b * H;
    for (let j = 0; j < H; j++) {
      const gu = acts[s + j]!, ct = acts[s + H + j]!, d = dNext[r + j]!;
      dg[s + j] = d * (ct - a[r + j]!) * (gu * (1 - gu));
      dg[s + H + j] = d * gu * (1 - ct * ct);
      da[r + j] = d * (1 - gu);
    }
  }
  return { dg, da };
}

/** `[p_0 | p_1 | … | 1]`: the parts `[B, w_i]` joined along columns with a column of ones appended, `[B, Σ w_i + 1]`. */
export function rowsWithOne(parts: readonly Data[], widths: readonly number[], B: number, dtype: DType): Data {
  let K = 1;
  for (const w of widths) K += w;
  const y = allocData(dtype, B * K);
  for (let b = 0; b < B; b++) {
    let o = b * K;
    for (let i = 0; i < parts.length; i++) {
      const w = widths[i]!;
      y.set(parts[i]!.subarray(b * w, b * w + w), o);
      o += w;
    }
    y[o] = 1;
  }
  return y;
}

/** `relu` in place on a buffer the caller just allocated (NaN stays NaN, as the unary kernel). */
export function reluInPlace(c: Data): void {
  for (let i = 0; i < c.length; i++) {
    const v = c[i]!;
    c[i] = v > 0 ? v : v === v ? 0 : v;
  }
}

/**
 * The tanh VJP from its output: `dz = dy·(1 - y²)`. Each value is computed in float64 and rounded once: in
 * float64 that is the composed `mul(dy, sub(1, mul(y, y)))` bit for bit (the same operations in the same order).
 */
export function tanhBackward(dy: Data, y: Data, dtype: DType): Data {
  const dz = allocData(dtype, y.length);
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    dz[i] = dy[i]! * (1 - v * v);
  }
  return dz;
}

/** The sigmoid VJP from its output: `dz = dy·(y·(1 - y))`, in float64 rounded once (bit for bit the composed ops' in float64). */
export function sigmoidBackward(dy: Data, y: Data, dtype: DType): Data {
  const dz = allocData(dtype, y.length);
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    dz[i] = dy[i]! * (v * (1 - v));
  }
  return dz;
}

/**
 * Softmax cross-entropy per row of z `[rows, V]` with class indices (`-1`: an ignored row, loss 0):
 * `loss = log Σ_k e^{z_k - m} - (z_y - m)` with m the row max (0 where it is not finite, as logSumExp's
 * shift), and the probabilities `p = softmax(z)` kept for the backward pass.
 */
export function softmaxCrossEntropyForward(z: Data, targets: Int32Array, rows: number, V: number, dtype: DType): { loss: Data; p: Data } {
  // Where the exp below would run in WebAssembly, the whole row can: the same arithmetic, p bit for bit
  if (dtype === "float32" && z instanceof Float32Array && unaryPrefersWasm("exp", rows * V)) {
    const w = softmaxRowsWasm(z, rows, V);
    if (w) {
      const loss = allocData(dtype, rows);
      for (let r = 0; r < rows; r++) {
        const y = targets[r]!;
        // the shifted target value as the reference stores it: z - m rounded to float32
        loss[r] = y < 0 ? 0 : Math.log(w.ms[2 * r + 1]!) - Math.fround(z[r * V + y]! - w.ms[2 * r]!);
      }
      return { loss, p: w.p };
    }
  }
  const shifted = allocData(dtype, rows * V), m = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    let mx = -Infinity;
    for (let k = 0; k < V; k++) {
      const v = z[o + k]!;
      if (v !== v) {
        mx = v;
        break;
      }
      if (v > mx) mx = v;
    }
    const mr = Number.isFinite(mx) ? mx : 0;
    m[r] = mr;
    for (let k = 0; k < V; k++) shifted[o + k] = z[o + k]! - mr;
  }
  const p = unary("exp", shifted, dtype);
  const loss = allocData(dtype, rows);
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    let s = 0;
    for (let k = 0; k < V; k++) s += p[o + k]!;
    const y = targets[r]!;
    loss[r] = y < 0 ? 0 : Math.log(s) - shifted[o + y]!;
    const inv = 1 / s;
    for (let k = 0; k < V; k++) p[o + k] = p[o + k]! * inv; // p is the fresh exp array: ours until wrapped
  }
  return { loss, p };
}

/** Backward of `softmaxCrossEntropyForward`: `dz = dl_row · (p - onehot(y))`, zero on ignored rows. */
export function softmaxCrossEntropyBackward(dl: Data, p: Data, targets: Int32Array, rows: number, V: number, dtype: DType): Data {
  const dz = allocData(dtype, rows * V);
  for (let r = 0; r < rows; r++) {
    const y = targets[r]!;
    if (y < 0) continue;
    const o = r * V, g = dl[r]!;
    for (let k = 0; k < V; k++) dz[o + k] = g * p[o + k]!;
    dz[o + y] = g * (p[o + y]! - 1);
  }
  return dz;
}
