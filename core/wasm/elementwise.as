// WebAssembly SIMD elementwise kernels for seqgrad's LSTM/GRU gate math, float32, in AssemblyScript.
// Built by scripts/build-wasm.mjs into its own small module (kernels.generated.ts), separate from
// matmul so each stays under the 4 KB browsers compile synchronously. Like kernels.as it has no
// allocator: the host lays out buffers above heapBase() and grows the memory.
//
// exp follows Cephes expf: n = round(x·log2 e), r = x - n·ln 2 (ln 2 split in two so n·ln2_hi is exact),
// e^r by a degree-7 polynomial on |r| <= ln2/2, then 2^n applied as two factors 2^(n>>1)·2^(n-(n>>1))
// so results that underflow to subnormals are rounded once instead of flushed. sigmoid and tanh are
// built on exp(-|x|) (never overflows), and tanh uses Cephes tanhf's odd polynomial for |x| < 0.625
// where 1 - 2/(e^{2x}+1) would cancel. Accuracy against the correctly rounded value is stated in
// core/wasm/elementwise.ts and tested in tests/core/wasm.test.ts. NaN propagates.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
// Beyond these e^x is +Inf in float32 or below half the smallest subnormal.
const EXP_HI: f32 = 89.0;
const EXP_LO: f32 = -104.0;

/** Start of memory the host may use (above this module's static data). */
export function heapBase(): usize {
  return __heap_base;
}

// 1.5 * 2^23: adding it rounds a float below 2^22 in magnitude to an integer (ties to even) and leaves that
// integer in the low mantissa bits, so one add yields both round(t) as a float and as an i32.
const ROUND_MAGIC: f32 = 12582912.0;

// e^x for four lanes. pmin/pmax (one instruction each, unlike min/max) keep NaN: x is their first operand.
// @ts-ignore: decorator
@inline
function exp4(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const shifted = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND_MAGIC));
  const fn = f32x4.sub(shifted, f32x4.splat(ROUND_MAGIC));
  const n = i32x4.sub(shifted, f32x4.splat(ROUND_MAGIC));
  let r = f32x4.sub(x, f32x4.mul(fn, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(fn, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  // 2^n as 2^(n>>1) * 2^(n - (n>>1)): both factors are normal floats for n in [-150, 128].
  const n1 = i32x4.shr_s(n, 1);
  const n2 = i32x4.sub(n, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

// sigmoid(x) = 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, both from e = e^-|x|.
// @ts-ignore: decorator
@inline
function sigmoid4(x: v128): v128 {
  const e = exp4(f32x4.neg(f32x4.abs(x)));
  const q = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  return v128.bitselect(q, f32x4.mul(e, q), f32x4.ge(x, f32x4.splat(0)));
}

// tanh(x) = sign(x) (1 - e) / (1 + e) with e = e^{-2|x|}; Cephes' odd polynomial below |x| = 0.625.
// Both branches work on |x| and x's sign is copied on last, so tanh(-0) = -0.
// @ts-ignore: decorator
@inline
function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const e = exp4(f32x4.mul(ax, f32x4.splat(-2)));
  const big = f32x4.div(f32x4.sub(f32x4.splat(1), e), f32x4.add(f32x4.splat(1), e));
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), ax), ax);
  const magnitude = v128.bitselect(small, big, f32x4.lt(ax, f32x4.splat(0.625)));
  const sign = f32x4.splat(-0.0);
  return v128.or(v128.andnot(magnitude, sign), v128.and(x, sign));
}

/** y[i] = op(x[i]) for i < n over float32 arrays at byte offsets x, y; op 0 = exp, 1 = sigmoid, 2 = tanh. */
export function unaryF32(op: i32, x: usize, y: usize, n: i32): void {
  const body = <usize>(n & ~3) << 2;
  const end = <usize>n << 2;
  let i: usize = 0;
  if (op == 0) for (; i < body; i += 16) v128.store(y + i, exp4(v128.load(x + i)));
  else if (op == 1) for (; i < body; i += 16) v128.store(y + i, sigmoid4(v128.load(x + i)));
  else for (; i < body; i += 16) v128.store(y + i, tanh4(v128.load(x + i)));
  // The last n % 4 values, lane by lane: bytes past x + 4n may lie outside what the host reserved.
  if (i < end) {
    let t = f32x4.splat(0);
    t = f32x4.replace_lane(t, 0, load<f32>(x + i));
    if (i + 4 < end) t = f32x4.replace_lane(t, 1, load<f32>(x + i, 4));
    if (i + 8 < end) t = f32x4.replace_lane(t, 2, load<f32>(x + i, 8));
    const r = op == 0 ? exp4(t) : op == 1 ? sigmoid4(t) : tanh4(t);
    store<f32>(y + i, f32x4.extract_lane(r, 0));
    if (i + 4 < end) store<f32>(y + i, f32x4.extract_lane(r, 1), 4);
    if (i + 8 < end) store<f32>(y + i, f32x4.extract_lane(r, 2), 8);
  }
}
