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
//
// The fused LSTM and reset-after GRU step kernels below take every [B, k·H] operand with each H-wide block
// padded to Hp = H rounded up to a multiple of 4 (the host lays them out so), so they run whole vectors
// only; the padding lanes hold anything and are computed and discarded. They evaluate the same
// exp/sigmoid/tanh lane by lane, so they return exactly what unaryF32 would. Everything else they compute is
// the TypeScript reference's arithmetic (core/kernels-fused.ts), which evaluates each output in float64 from
// float32 operands and rounds once: a single +, - or × of two float32 values rounded to float64 and then to
// float32 equals the float32 operation (53 >= 2·24 + 2, so the double rounding is innocuous), so those stay
// f32x4; compound expressions are evaluated in f64x2, in the reference's order, and demoted once. The results
// are therefore bit for bit those of the reference running on these activations.

// The full build. scripts/build-wasm.mjs also builds this module with FULL false, small enough for a browser's
// main thread to compile synchronously (4096 bytes); that build leaves out the softmax kernel below, whose
// callers then run the TypeScript reference (core/wasm/elementwise.ts knows which build it loaded).
const FULL: bool = true;

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
function sigmoidFrom(x: v128, e: v128): v128 {
  const q = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  return v128.bitselect(q, f32x4.mul(e, q), f32x4.ge(x, f32x4.splat(0)));
}

// tanh(x) = sign(x) (1 - e) / (1 + e) with e = e^{-2|x|}; Cephes' odd polynomial below |x| = 0.625.
// Both branches work on |x| and x's sign is copied on last, so tanh(-0) = -0.
// @ts-ignore: decorator
@inline
function tanhFrom(x: v128, ax: v128, e: v128): v128 {
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

// y[i] = op(x[i]) for i < n rounded up to a multiple of 4 (x == y allowed): the host reserves every region
// rounded up to 16 bytes, so the last vector may read and write up to 3 values past n, which it discards.
// sigmoid and tanh share one loop and one inlined exp4 (e^-|x| and e^-2|x|), which keeps the module under
// the 4 KB browsers compile synchronously; the branch between them is the same for every vector. Both loops
// are inlined into unaryF32, which the step kernels call: as separate small functions the very same loop
// instructions ran 1.1-1.45x slower in Node 20 (V8's code placement, presumably), measured on this VM.
// The full build takes two vectors per iteration (then one for an odd last vector): exp4 is one long chain
// of dependent operations, and V8 emits each iteration's in order, so with one vector the core waits on the
// chain; two independent chains side by side ran sigmoid at 0.68x and exp at 0.79x the time (16K values in
// cache, this VM). Each lane's operations are unchanged, so every result is the same, bit for bit.
// @ts-ignore: decorator
@inline
function expRange(x: usize, y: usize, n: usize): void {
  const end = n << 2;
  let i: usize = 0;
  if (FULL)
    for (; i + 32 <= end; i += 32) {
      const e0 = exp4(v128.load(x + i)), e1 = exp4(v128.load(x + i, 16));
      v128.store(y + i, e0);
      v128.store(y + i, e1, 16);
    }
  for (; i < end; i += 16) v128.store(y + i, exp4(v128.load(x + i)));
}
// Two vectors of sigmoidTanhRange per iteration from byte i while a pair fits before `end`; returns where it stopped.
// Each call site passes a constant `tanh`, so each inlined copy is one loop with no branch in it.
// @ts-ignore: decorator
@inline
function sigmoidTanhPairs(tanh: bool, x: usize, y: usize, end: usize, k: v128): usize {
  let i: usize = 0;
  for (; i + 32 <= end; i += 32) {
    const v0 = v128.load(x + i), v1 = v128.load(x + i, 16), ax0 = f32x4.abs(v0), ax1 = f32x4.abs(v1);
    const e0 = exp4(f32x4.mul(ax0, k)), e1 = exp4(f32x4.mul(ax1, k));
    v128.store(y + i, tanh ? tanhFrom(v0, ax0, e0) : sigmoidFrom(v0, e0));
    v128.store(y + i, tanh ? tanhFrom(v1, ax1, e1) : sigmoidFrom(v1, e1), 16);
  }
  return i;
}
// @ts-ignore: decorator
@inline
function sigmoidTanhRange(tanh: bool, x: usize, y: usize, n: usize): void {
  const k = f32x4.splat(tanh ? -2 : -1), end = n << 2;
  let i: usize = 0;
  if (FULL) i = tanh ? sigmoidTanhPairs(true, x, y, end, k) : sigmoidTanhPairs(false, x, y, end, k);
  for (; i < end; i += 16) {
    const v = v128.load(x + i), ax = f32x4.abs(v);
    const e = exp4(f32x4.mul(ax, k));
    v128.store(y + i, tanh ? tanhFrom(v, ax, e) : sigmoidFrom(v, e));
  }
}
// @ts-ignore: decorator
@inline
function sigmoidRange(x: usize, y: usize, n: usize): void {
  unaryF32(1, x, y, <i32>n);
}
// @ts-ignore: decorator
@inline
function tanhRange(x: usize, y: usize, n: usize): void {
  unaryF32(2, x, y, <i32>n);
}

/**
 * y[i] = op(x[i]) for i < n over float32 arrays at byte offsets x, y; op 0 = exp, 1 = sigmoid, 2 = tanh. Both
 * regions must extend to a multiple of 16 bytes (values past n are overwritten with garbage).
 */
export function unaryF32(op: i32, x: usize, y: usize, n: i32): void {
  if (op == 0) expRange(x, y, <usize>n);
  else sigmoidTanhRange(op == 2, x, y, <usize>n);
}

/** Copies `rows` runs of w float32 values from a row stride of `from` values at src to a stride of `to` at dst (the host pads rows with it). */
export function repackF32(src: usize, dst: usize, rows: i32, w: i32, from: i32, to: i32): void {
  for (let i: usize = 0; i < <usize>rows; i++) memory.copy(dst + ((i * <usize>to) << 2), src + ((i * <usize>from) << 2), <usize>w << 2);
}

// Lanes 0, 1 and lanes 2, 3 of a float32 vector as float64 pairs, and two float64 pairs back as one float32
// vector (each value rounded once, to nearest even).
// @ts-ignore: decorator
@inline
function lo(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
// @ts-ignore: decorator
@inline
function hi(v: v128): v128 {
  return f64x2.promote_low_f32x4(i64x2.splat(i64x2.extract_lane(v, 1)));
}
// @ts-ignore: decorator
@inline
function join(l: v128, h: v128): v128 {
  return i64x2.replace_lane(f32x4.demote_f64x2_zero(l), 1, i64x2.extract_lane(f32x4.demote_f64x2_zero(h), 0));
}
// @ts-ignore: decorator
@inline
function mul(x: v128, y: v128): v128 {
  return f64x2.mul(x, y);
}
// @ts-ignore: decorator
@inline
function add(x: v128, y: v128): v128 {
  return f64x2.add(x, y);
}
// 1 - x in float64; `one` is f64x2.splat(1) held in a local (a constant at every use would cost 18 bytes each).
// @ts-ignore: decorator
@inline
function omx(one: v128, x: v128): v128 {
  return f64x2.sub(one, x);
}

/**
 * One LSTM step, core/kernels-fused.ts lstmForward for float32 (rows padded to Hp): z [B, 4Hp] (blocks u, f,
 * c̃, o) is replaced in place by the gates Γu, Γf, c̃ = tanh(z_c̃), Γo; with c_prev [B, Hp] it writes
 * c = Γu·c̃ + Γf·c_prev, tc = tanh(c) and a = Γo·tc, each [B, Hp].
 */
export function lstmForwardF32(z: usize, cPrev: usize, a: usize, c: usize, tc: usize, B: i32, Hp: i32): void {
  const hb = <usize>Hp << 2, n = <usize>B * hb;
  for (let r: usize = 0; r < n; r += hb) {
    const g = z + 4 * r;
    sigmoidRange(g, g, <usize>Hp * 2);
    tanhRange(g + 2 * hb, g + 2 * hb, <usize>Hp);
    sigmoidRange(g + 3 * hb, g + 3 * hb, <usize>Hp);
    for (let o: usize = 0; o < hb; o += 16) {
      const gu = v128.load(g + o), gf = v128.load(g + hb + o), ct = v128.load(g + 2 * hb + o), cp = v128.load(cPrev + r + o);
      v128.store(c + r + o, join(add(mul(lo(gu), lo(ct)), mul(lo(gf), lo(cp))), add(mul(hi(gu), hi(ct)), mul(hi(gf), hi(cp)))));
    }
  }
  tanhRange(c, tc, n >> 2);
  for (let r: usize = 0; r < n; r += hb)
    for (let o: usize = 0; o < hb; o += 16) v128.store(a + r + o, f32x4.mul(v128.load(z + 4 * r + 3 * hb + o), v128.load(tc + r + o)));
}

/**
 * Backward of lstmForwardF32, core/kernels-fused.ts lstmBackward for float32 (rows padded to Hp): from dA, dC
 * [B, Hp], the gates [B, 4Hp] (replaced in place by dz), tc and c_prev, with dc = dC + dA·Γo·(1 - tc²):
 * dz = [dc·c̃·Γu(1-Γu), dc·c_prev·Γf(1-Γf), dc·Γu·(1-c̃²), dA·tc·Γo(1-Γo)], and dC is replaced by dc_prev = dc·Γf.
 */
export function lstmBackwardF32(dA: usize, dC: usize, gates: usize, tc: usize, cPrev: usize, B: i32, Hp: i32): void {
  const one = f64x2.splat(1);
  const hb = <usize>Hp << 2, n = <usize>B * hb;
  for (let r: usize = 0; r < n; r += hb) {
    const g = gates + 4 * r;
    for (let o: usize = 0; o < hb; o += 16) {
      const pu = g + o, pf = pu + hb, pc = pf + hb, po = pc + hb, q = r + o;
      const gu = v128.load(pu), gf = v128.load(pf), ct = v128.load(pc), go = v128.load(po);
      const t = v128.load(tc + q), da = v128.load(dA + q), dc0 = v128.load(dC + q), cp = v128.load(cPrev + q);
      // Lanes 0, 1 (suffix l) and 2, 3 (suffix h) in float64, each expression in the reference's order.
      const gul = lo(gu), gfl = lo(gf), ctl = lo(ct), gol = lo(go), tl = lo(t), dal = lo(da);
      const guh = hi(gu), gfh = hi(gf), cth = hi(ct), goh = hi(go), th = hi(t), dah = hi(da);
      const dcl = add(lo(dc0), mul(mul(dal, gol), omx(one, mul(tl, tl))));
      const dch = add(hi(dc0), mul(mul(dah, goh), omx(one, mul(th, th))));
      v128.store(pu, join(mul(mul(dcl, ctl), mul(gul, omx(one, gul))), mul(mul(dch, cth), mul(guh, omx(one, guh)))));
      v128.store(pf, join(mul(mul(dcl, lo(cp)), mul(gfl, omx(one, gfl))), mul(mul(dch, hi(cp)), mul(gfh, omx(one, gfh)))));
      v128.store(pc, join(mul(mul(dcl, gul), omx(one, mul(ctl, ctl))), mul(mul(dch, guh), omx(one, mul(cth, cth)))));
      v128.store(po, join(mul(mul(dal, tl), mul(gol, omx(one, gol))), mul(mul(dah, th), mul(goh, omx(one, goh)))));
      v128.store(dC + q, join(mul(dcl, gfl), mul(dch, gfh)));
    }
  }
}

// @ts-ignore: decorator
@inline
function sub(x: v128, y: v128): v128 {
  return f64x2.sub(x, y);
}

/**
 * One reset-after GRU step, core/kernels-fused.ts gruResetAfterForward for float32 (rows padded to Hp): zx, za
 * [B, 3Hp] (blocks r, z, n) and a [B, Hp]; zx is replaced in place by acts = r = σ(zx_r + za_r),
 * u = σ(zx_z + za_z), n = tanh(zx_n + r·za_n), and a by a' = (1 - u)·n + u·a.
 */
export function gruResetAfterForwardF32(zx: usize, za: usize, a: usize, B: i32, Hp: i32): void {
  const one = f64x2.splat(1);
  const hb = <usize>Hp << 2, n = <usize>B * hb;
  for (let r: usize = 0; r < n; r += hb) {
    const x = zx + 3 * r, y = za + 3 * r;
    for (let o: usize = 0; o < 2 * hb; o += 16) v128.store(x + o, f32x4.add(v128.load(x + o), v128.load(y + o)));
    sigmoidRange(x, x, <usize>Hp * 2);
    for (let o: usize = 2 * hb; o < 3 * hb; o += 16) {
      const rv = v128.load(x + o - 2 * hb), xn = v128.load(x + o), an = v128.load(y + o);
      v128.store(x + o, join(add(lo(xn), mul(lo(rv), lo(an))), add(hi(xn), mul(hi(rv), hi(an)))));
    }
    tanhRange(x + 2 * hb, x + 2 * hb, <usize>Hp);
    for (let o: usize = 0; o < hb; o += 16) {
      const u = v128.load(x + hb + o), nv = v128.load(x + 2 * hb + o), av = v128.load(a + r + o);
      v128.store(a + r + o, join(add(mul(omx(one, lo(u)), lo(nv)), mul(lo(u), lo(av))), add(mul(omx(one, hi(u)), hi(nv)), mul(hi(u), hi(av)))));
    }
  }
}

/**
 * Backward of gruResetAfterForwardF32, core/kernels-fused.ts gruResetAfterBackward for float32 (rows padded to
 * Hp): with dn = dA'(1-u)(1-n²), dr = dn·za_n·r(1-r), du = dA'(a - n)u(1-u), acts is replaced by
 * dzx = [dr, du, dn], za by dza = [dr, du, dn·r] and dA' by da = dA'·u.
 */
export function gruResetAfterBackwardF32(dNext: usize, acts: usize, za: usize, a: usize, B: i32, Hp: i32): void {
  const one = f64x2.splat(1);
  const hb = <usize>Hp << 2, n = <usize>B * hb;
  for (let r: usize = 0; r < n; r += hb) {
    const g = acts + 3 * r, y = za + 3 * r;
    for (let o: usize = 0; o < hb; o += 16) {
      const rv = v128.load(g + o), u = v128.load(g + hb + o), nv = v128.load(g + 2 * hb + o), an = v128.load(y + 2 * hb + o);
      const d = v128.load(dNext + r + o), av = v128.load(a + r + o);
      const rl = lo(rv), ul = lo(u), nl = lo(nv), dl = lo(d), rh = hi(rv), uh = hi(u), nh = hi(nv), dh = hi(d);
      const dnl = mul(mul(dl, omx(one, ul)), omx(one, mul(nl, nl))), dnh = mul(mul(dh, omx(one, uh)), omx(one, mul(nh, nh)));
      const dr = join(mul(mul(dnl, lo(an)), mul(rl, omx(one, rl))), mul(mul(dnh, hi(an)), mul(rh, omx(one, rh))));
      const du = join(mul(mul(dl, sub(lo(av), nl)), mul(ul, omx(one, ul))), mul(mul(dh, sub(hi(av), nh)), mul(uh, omx(one, uh))));
      v128.store(g + o, dr);
      v128.store(y + o, dr);
      v128.store(g + hb + o, du);
      v128.store(y + hb + o, du);
      v128.store(g + 2 * hb + o, join(dnl, dnh));
      v128.store(y + 2 * hb + o, join(mul(dnl, rl), mul(dnh, rh)));
      v128.store(dNext + r + o, f32x4.mul(d, u));
    }
  }
}

/**
 * y = a op b over `rows` rows of `cols` float32 values; op 0 = add, 1 = sub, 2 = mul, 3 = div, 4 = maximum,
 * 5 = minimum. Each operand advances aRow (bRow) bytes per row and aStep (bStep) bytes per vector: a full
 * operand 4·cols and 16, a row repeated over leading axes 0 and 16, and a scalar 0 and 0 (its value held in
 * four lanes). Vectors run past the end of a row, so a row of cols not a multiple of 4
 * writes up to 3 values of the next row, which that row then writes again; the host pads every region to
 * 16 bytes for the last row's excess.
 */
export function binaryF32(op: i32, a: usize, b: usize, y: usize, rows: i32, cols: i32, aRow: i32, bRow: i32, aStep: i32, bStep: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r: i32 = 0; r < rows; r++) {
    let pa = a, pb = b;
    for (let o: usize = 0; o < rowBytes; o += 16) {
      const x = v128.load(pa), v = v128.load(pb);
      let z: v128;
      // maximum and minimum as the TypeScript reference: x where x >= v (x <= v) or x is NaN, else v, so a NaN
      // operand comes through, and of two zeros x does (f32x4.max would give +0 for max(-0, +0)).
      if (op == 0) z = f32x4.add(x, v);
      else if (op == 1) z = f32x4.sub(x, v);
      else if (op == 2) z = f32x4.mul(x, v);
      else if (op == 3) z = f32x4.div(x, v);
      else z = v128.bitselect(x, v, v128.or(op == 4 ? f32x4.ge(x, v) : f32x4.le(x, v), f32x4.ne(x, x)));
      v128.store(y + o, z);
      pa += <usize>aStep;
      pb += <usize>bStep;
    }
    a += <usize>aRow;
    b += <usize>bRow;
    y += rowBytes;
  }
}

/**
 * Softmax rows for softmax cross-entropy (the FULL build only): for each of `rows` rows of V >= 4 float32 values
 * at z, with m the row's max (NaN if any value is NaN), replaced by 0 where it is not finite:
 * p = e^(z - m) (the float32 difference, then exp4: unaryF32's exp of the reference's shifted row),
 * s = Σ_k p_k summed in float64 in order, then p_k = p_k · (1/s) in float64, rounded once. Writes m and s as
 * float64 at ms + 16 r, for the host's log. Everything but exp is the arithmetic of core/kernels-fused.ts
 * softmaxCrossEntropyForward, so p is that function's bit for bit. A row's last vector reads and writes up to
 * 3 values past the row (the next row writes its own again); the host pads z and p by 16 bytes for the last.
 */
export function softmaxRowsF32(z: usize, p: usize, ms: usize, rows: i32, V: i32): void {
  if (!FULL) return;
  const rowBytes = <usize>V << 2;
  const vecBytes = rowBytes & ~15;
  for (let r = 0; r < rows; r++) {
    let mv = v128.load(z);
    for (let o: usize = 16; o < vecBytes; o += 16) mv = f32x4.max(mv, v128.load(z + o));
    let mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (let o = vecBytes; o < rowBytes; o += 4) mx = max(mx, load<f32>(z + o));
    const m: f32 = isFinite(mx) ? mx : 0;
    const mm = f32x4.splat(m);
    for (let o: usize = 0; o < rowBytes; o += 16) v128.store(p + o, exp4(f32x4.sub(v128.load(z + o), mm)));
    let s: f64 = 0;
    for (let o: usize = 0; o < rowBytes; o += 4) s += <f64>load<f32>(p + o);
    const inv = 1 / s;
    const iv = f64x2.splat(inv);
    let o: usize = 0;
    for (; o < vecBytes; o += 16) {
      const v = v128.load(p + o);
      const lo = f64x2.mul(f64x2.promote_low_f32x4(v), iv);
      const hi = f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<i32>(v, v, 2, 3, 2, 3)), iv);
      v128.store(p + o, v128.shuffle<i32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5));
    }
    for (; o < rowBytes; o += 4) store<f32>(p + o, <f32>(<f64>load<f32>(p + o) * inv));
    store<f64>(ms + (<usize>r << 4), <f64>m);
    store<f64>(ms + (<usize>r << 4), s, 8);
    z += rowBytes;
    p += rowBytes;
  }
}

/**
 * Sums x `[outer, n, inner]` over its middle axis into y `[outer, inner]` (the FULL build only; a no-op in the
 * small one): float32 x and y (f64 = 0) or float64 (f64 = 1), as core/kernels.ts sumMiddle computes them: each
 * output summed in float64 from +0 over i = 0..n-1 in order, then rounded once to y's dtype. Eight outputs at a
 * time in four f64x2 accumulators, each lane its own sum in that order, so the results are the same bit for bit.
 */
export function sumMiddle(x: usize, y: usize, outer: i32, n: i32, inner: i32, f64: i32): void {
  if (!FULL) return;
  const eb: usize = f64 ? 8 : 4;
  const rowBytes = <usize>inner * eb;
  for (let o = 0; o < outer; o++) {
    const xo = x + <usize>o * <usize>n * rowBytes, yo = y + <usize>o * rowBytes;
    let j = 0;
    for (; j + 8 <= inner; j += 8) {
      let a0 = f64x2.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let p = xo + <usize>j * eb;
      if (f64) {
        for (let i = 0; i < n; i++, p += rowBytes) {
          a0 = add(a0, v128.load(p));
          a1 = add(a1, v128.load(p, 16));
          a2 = add(a2, v128.load(p, 32));
          a3 = add(a3, v128.load(p, 48));
        }
        const q = yo + (<usize>j << 3);
        v128.store(q, a0);
        v128.store(q, a1, 16);
        v128.store(q, a2, 32);
        v128.store(q, a3, 48);
      } else {
        for (let i = 0; i < n; i++, p += rowBytes) {
          const v = v128.load(p), w = v128.load(p, 16);
          a0 = add(a0, lo(v));
          a1 = add(a1, hi(v));
          a2 = add(a2, lo(w));
          a3 = add(a3, hi(w));
        }
        const q = yo + (<usize>j << 2);
        v128.store(q, join(a0, a1));
        v128.store(q, join(a2, a3), 16);
      }
    }
    for (; j < inner; j++) {
      let s: f64 = 0;
      let p = xo + <usize>j * eb;
      for (let i = 0; i < n; i++, p += rowBytes) s += f64 ? load<f64>(p) : <f64>load<f32>(p);
      if (f64) store<f64>(yo + (<usize>j << 3), s);
      else store<f32>(yo + (<usize>j << 2), <f32>s);
    }
  }
}
