// WebAssembly SIMD kernels for seqgrad, written in AssemblyScript (a TypeScript subset).
// Compiled by scripts/build-wasm.mjs into core/wasm/kernels.generated.ts (base64), so users need no
// compiler. The file ends in .as, not .ts, so the project's tsc never type-checks it as TypeScript.
//
// No allocator: the host (core/wasm/backend.ts) lays out every buffer in linear memory above
// heapBase() and grows the memory itself; these functions only read and write the pointers given.
//
// matmul is a Goto/BLIS-style GEMM. C is cut into NC-wide column blocks, K into KC-deep panels and
// M into MC-tall row blocks. Each KC x NC block of B is packed into NR-wide micro-panels (row k of a
// micro-panel is NR consecutive values) and each MC x KC block of A into MR-tall micro-panels
// (column k is MR consecutive values); a register-blocked micro-kernel then computes one MR x NR tile
// of C in 8 vector accumulators, broadcasting one A value against the two vectors of one B row
// per step. Edge tiles are zero-padded when packed and go through a scratch tile, so any M, K, N works.
//
// Packed B ahead (float32): the host can pack a whole B once with packB32 (one call per KC-deep block)
// into memory it keeps, and pass that to matmulPartF32 as packedB; gemm32 then takes its micro-panels
// from there instead of packing B itself. They are the very panels it would have packed, consumed in the
// same order, so every sum is the same bit for bit. core/wasm/backend.ts keeps the weight operand of a
// recurrent step packed this way across the time steps (and the two threads both read it).
//
// Tile size: V8 allocates 15 vector registers on x64 (one more is its scratch). A 4 x 8 tile holds 8
// accumulators, 2 B vectors, the broadcast A value and one product temporary: 12, with no spill and
// 6 loads per 8 multiply-adds. Measured alone on panels resident in L1 (kc = 256, Node 20, AMD Zen 5),
// it ran at 55 GFLOP/s, the two-multiply-two-add-per-cycle ceiling of 128-bit vectors at this clock;
// the 4 x 12 tile used before (12 accumulators, so two of the three B vectors had to be reloaded for
// every row: 13 loads per 12 multiply-adds) ran at 43, 6 x 8 (B reloaded likewise) at 42, and 5 x 8
// (14 live vectors) at 23, where V8 spills. The float64 4 x 4 tile is the same registers: 27.6
// GFLOP/s against 21.9 for 4 x 6. scripts/build-wasm.mjs compiles at -O1: -O3 ran the 4 x 8 kernel 5%
// slower.
//
// Summation order: every C entry is accumulated over k = 0..K-1 in order, starting at 0, with a
// separate multiply and add (128-bit WebAssembly SIMD has no fused multiply-add; relaxed SIMD's, used
// for float32 where available, is below). Later K panels reload the partial sum from C and continue. In
// float64 that is exactly the reference TypeScript loop, bit for bit; in float32 the sum is kept in
// float32 (the reference keeps it in float64).

/** Start of memory the host may use (above this module's static data). */
export function heapBase(): usize {
  return __heap_base;
}

// ---------------------------------------------------------------------------------------------
// float32: 4 x 8 micro-tile (2 f32x4 per row). MR = 4 wastes nothing on the usual batch sizes.

const MR32: i32 = 4;
const NR32: i32 = 8;
const KC32: i32 = 256;
const MC32: i32 = 120;
const NC32: i32 = 2040;

const PACKA32_BYTES: i32 = MC32 * KC32 * 4;
const PACKB32_BYTES: i32 = KC32 * NC32 * 4;
const TILE32_BYTES: i32 = MR32 * NR32 * 4;

// Zero-step skipping (below) in this build. scripts/build-wasm.mjs also builds a small single-thread module
// with this false, for browsers that compile only modules of 4096 bytes or less synchronously; that build
// compiles none of the skipping code and always runs the dense kernel.
const SKIP_ZERO_STEPS: bool = true;
// Per A micro-panel of a packed MC32 x KC32 block: how many of its k-steps are nonzero, then their k.
const STEPS32_STRIDE: i32 = (KC32 + 1) * 4;
const STEPS32_BYTES: i32 = SKIP_ZERO_STEPS ? (MC32 / MR32) * STEPS32_STRIDE : 0;
// The same per B micro-panel of a packed KC32 x NC32 block (B packed in gemm32, not ahead).
const STEPS32B_BYTES: i32 = SKIP_ZERO_STEPS ? (NC32 / NR32) * STEPS32_STRIDE : 0;

/** Bytes of scratch memory matmulPartF32 needs at its `work` pointer. */
export function workBytesF32(): i32 {
  return PACKA32_BYTES + PACKB32_BYTES + TILE32_BYTES + STEPS32_BYTES + STEPS32B_BYTES;
}

// a * b + c in four float32 lanes, multiply then add. scripts/build-wasm.mjs also builds every module
// with this body replaced by one fused multiply-add (relaxed SIMD's f32x4.relaxed_madd); core/wasm/backend.ts
// loads that build wherever the engine validates it. float64 never fuses: it stays bit-equal to the reference.
// @ts-ignore: decorator
@inline
function madd32(a: v128, b: v128, c: v128): v128 {
  return f32x4.add(c, f32x4.mul(a, b));
}

// C[0:4, 0:8] (+)= A_panel[0:4, 0:kc] @ B_panel[0:kc, 0:8]; pa/pb are packed micro-panels, ldc in bytes.
// kernel32<void> walks every k-step; kernel32<i32> walks only the kc steps listed at `steps` (i32 k's,
// ascending), the same sums with the terms of the other steps left out (see gemm32 for when that is exact).
// @ts-ignore: decorator
@inline
function kernel32<T>(pa: usize, pb: usize, kc: i32, steps: usize, c: usize, ldc: usize, accumulate: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (accumulate) {
    let p = c;
    c00 = v128.load(p); c01 = v128.load(p, 16); p += ldc;
    c10 = v128.load(p); c11 = v128.load(p, 16); p += ldc;
    c20 = v128.load(p); c21 = v128.load(p, 16); p += ldc;
    c30 = v128.load(p); c31 = v128.load(p, 16);
  }
  const pa0 = pa, pb0 = pb;
  // The dense walk ends on A's pointer rather than a step count: one fewer compare per step, which V8 keeps
  // against a stack slot inside gemm32 (1.007-1.028x the GEMM's speed, in-process paired, 128^3-512^3).
  const paEnd = pa + (<usize>kc << 4);
  for (let k = 0; isInteger<T>() ? k < kc : pa < paEnd; k++) {
    if (isInteger<T>()) {
      const s = <usize>load<i32>(steps + (<usize>k << 2));
      pa = pa0 + (s << 4);
      pb = pb0 + (s << 5);
    }
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd32(a, b0, c00);
    c01 = madd32(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd32(a, b0, c10);
    c11 = madd32(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd32(a, b0, c20);
    c21 = madd32(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd32(a, b0, c30);
    c31 = madd32(a, b1, c31);
    if (!isInteger<T>()) {
      pa += 16;
      pb += 32;
    }
  }
  let p = c;
  v128.store(p, c00); v128.store(p, c01, 16); p += ldc;
  v128.store(p, c10); v128.store(p, c11, 16); p += ldc;
  v128.store(p, c20); v128.store(p, c21, 16); p += ldc;
  v128.store(p, c30); v128.store(p, c31, 16);
}

// Packs rows [0, mc) x cols [0, kc) of A (row stride lda elements) into MR32-tall micro-panels:
// panel p holds, for each k, the MR32 values A[p*MR32 .. p*MR32+MR32-1, k], zero past row mc.
// steps != 0: also lists, for each panel p, its nonzero k-steps (those where any of its rows is nonzero,
// NaN included; -0 counts as zero) at steps + p * STEPS32_STRIDE: their count, then the k's in order.
// One step of packA32's step list, from the step's packed column of MR32 values: writes k at the next slot and
// returns the new count, one more only if the column is nonzero (every value's bits but the sign; branch-free).
// @ts-ignore: decorator
@inline
function listStep(list: usize, n: i32, k: i32, column: v128): i32 {
  return listStepIf(list, n, k, i32(v128.any_true(i32x4.shl(column, 1))));
}

// The same for a step whose nonzero flag (0 or 1) is known already: write k at the next slot, keep it if nonzero.
// @ts-ignore: decorator
@inline
function listStepIf(list: usize, n: i32, k: i32, nonzero: i32): i32 {
  store<i32>(list + (<usize>n << 2), k, 4);
  return n + nonzero;
}

// check: also find whether every value packed is finite (returns 0 if not, else 1), which leaving out B's zero
// steps needs (see gemm32); the sums x - x, as in packB32.
function packA32(dst: usize, a: usize, lda: i32, mc: i32, kc: i32, steps: usize, trans: bool, check: bool): i32 {
  // A value (i, k) of the block is at a + i * iStep + k * kStep: A row-major, or trans: A stored as its
  // transpose [K, M] row-major (an outer sum's stacked rows), where the MR32 values of a step are adjacent
  const rowBytes = <usize>lda << 2;
  const iStep: usize = trans ? 4 : rowBytes;
  const kStep: usize = trans ? rowBytes : 4;
  let bad = f32x4.splat(0);
  for (let i0 = 0; i0 < mc; i0 += MR32) {
    const r = min(MR32, mc - i0);
    const src = a + <usize>i0 * iStep;
    const list = steps + <usize>(i0 / MR32 * STEPS32_STRIDE);
    let n = 0;
    if (r == MR32 && trans) {
      for (let k = 0; k < kc; k++) {
        const v = v128.load(src + <usize>k * kStep);
        v128.store(dst, v);
        dst += MR32 * 4;
        if (SKIP_ZERO_STEPS && check) bad = f32x4.add(bad, f32x4.sub(v, v));
        if (SKIP_ZERO_STEPS && steps != 0) n = listStep(list, n, k, v);
      }
    } else if (r == MR32) {
      let k = 0;
      // four k-steps at a time: one vector from each row, transposed in registers (moved as bits)
      for (; k + 4 <= kc; k += 4) {
        const s = src + (<usize>k << 2);
        const v0 = v128.load(s), v1 = v128.load(s + rowBytes), v2 = v128.load(s + 2 * rowBytes), v3 = v128.load(s + 3 * rowBytes);
        const t0 = v128.shuffle<i32>(v0, v1, 0, 4, 1, 5), t1 = v128.shuffle<i32>(v0, v1, 2, 6, 3, 7);
        const t2 = v128.shuffle<i32>(v2, v3, 0, 4, 1, 5), t3 = v128.shuffle<i32>(v2, v3, 2, 6, 3, 7);
        const c0 = v128.shuffle<i32>(t0, t2, 0, 1, 4, 5), c1 = v128.shuffle<i32>(t0, t2, 2, 3, 6, 7);
        const c2 = v128.shuffle<i32>(t1, t3, 0, 1, 4, 5), c3 = v128.shuffle<i32>(t1, t3, 2, 3, 6, 7);
        v128.store(dst, c0);
        v128.store(dst, c1, 16);
        v128.store(dst, c2, 32);
        v128.store(dst, c3, 48);
        dst += 4 * MR32 * 4;
        if (SKIP_ZERO_STEPS && check)
          bad = f32x4.add(bad, f32x4.add(f32x4.add(f32x4.sub(v0, v0), f32x4.sub(v1, v1)), f32x4.add(f32x4.sub(v2, v2), f32x4.sub(v3, v3))));
        if (SKIP_ZERO_STEPS && steps != 0) {
          n = listStep(list, n, k, c0);
          n = listStep(list, n, k + 1, c1);
          n = listStep(list, n, k + 2, c2);
          n = listStep(list, n, k + 3, c3);
        }
      }
      for (; k < kc; k++) {
        const s = src + (<usize>k << 2);
        // moved as bits: the same bytes, and a step is zero when every value's bits but the sign are
        const v0 = load<u32>(s), v1 = load<u32>(s + rowBytes), v2 = load<u32>(s + 2 * rowBytes), v3 = load<u32>(s + 3 * rowBytes);
        store<u32>(dst, v0);
        store<u32>(dst, v1, 4);
        store<u32>(dst, v2, 8);
        store<u32>(dst, v3, 12);
        dst += MR32 * 4;
        if (SKIP_ZERO_STEPS && check) bad = f32x4.add(bad, f32x4.sub(v128.load(dst - 16), v128.load(dst - 16)));
        if (SKIP_ZERO_STEPS && steps != 0) n = listStepIf(list, n, k, i32(((v0 | v1 | v2 | v3) << 1) != 0));
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const s = src + <usize>k * kStep;
        let nonzero = 0;
        for (let rr = 0; rr < MR32; rr++) {
          const v = rr < r ? load<f32>(s + <usize>rr * iStep) : <f32>0;
          store<f32>(dst + (<usize>rr << 2), v);
          nonzero |= i32(v != 0);
        }
        if (SKIP_ZERO_STEPS && check) bad = f32x4.add(bad, f32x4.sub(v128.load(dst), v128.load(dst)));
        dst += MR32 * 4;
        if (SKIP_ZERO_STEPS && steps != 0) n = listStepIf(list, n, k, nonzero);
      }
    }
    if (SKIP_ZERO_STEPS && steps != 0) store<i32>(list, n);
  }
  return SKIP_ZERO_STEPS ? i32(i32x4.all_true(f32x4.eq(bad, bad))) : 1;
}

/**
 * Packs rows [0, kc) x cols [0, nc) of B (row stride ldb elements) into NR32-wide micro-panels: panel p
 * holds, for each k, the NR32 values B[k, p*NR32 .. p*NR32+NR32-1], zero past column nc. The host packs
 * a whole B [K, N] for matmulPartF32's packedB with one call per K block of KC32 = 256 rows (nc = N).
 * Returns 1 if every value packed is finite (so a zero A value times any of them is an exact zero), else 0.
 * steps != 0: also lists each panel's nonzero k-steps (any of its NR32 values nonzero, NaN included, -0 as
 * zero) at steps + p * STEPS32_STRIDE, as packA32 does for A's panels (the host passes 0).
 */
export function packB32(dst: usize, b: usize, ldb: i32, kc: i32, nc: i32, steps: usize): i32 {
  const rowBytes = <usize>ldb << 2;
  // x - x is 0 for finite x and NaN for Inf or NaN; the sum of them all is NaN if any value is not finite
  // (two sums, so that no add waits for the one before)
  let bad = f32x4.splat(0), bad1 = f32x4.splat(0);
  for (let j0 = 0; j0 < nc; j0 += NR32) {
    const w = min(NR32, nc - j0);
    let s = b + (<usize>j0 << 2);
    const list = steps + <usize>(j0 / NR32 * STEPS32_STRIDE);
    let n = 0;
    if (w == NR32) {
      for (let k = 0; k < kc; k++) {
        const v0 = v128.load(s), v1 = v128.load(s, 16);
        v128.store(dst, v0);
        v128.store(dst, v1, 16);
        if (SKIP_ZERO_STEPS) {
          bad = f32x4.add(bad, f32x4.sub(v0, v0));
          bad1 = f32x4.add(bad1, f32x4.sub(v1, v1));
          if (steps != 0) n = listStep(list, n, k, v128.or(v0, v1));
        }
        s += rowBytes;
        dst += NR32 * 4;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        let nonzero = 0;
        for (let jj = 0; jj < NR32; jj++) {
          const v = jj < w ? load<f32>(s + (<usize>jj << 2)) : <f32>0;
          store<f32>(dst + (<usize>jj << 2), v);
          if (SKIP_ZERO_STEPS) {
            bad = f32x4.add(bad, f32x4.splat(v - v));
            nonzero |= i32(v != 0);
          }
        }
        if (SKIP_ZERO_STEPS && steps != 0) n = listStepIf(list, n, k, nonzero);
        s += rowBytes;
        dst += NR32 * 4;
      }
    }
    if (SKIP_ZERO_STEPS && steps != 0) store<i32>(list, n);
  }
  bad = f32x4.add(bad, bad1);
  return SKIP_ZERO_STEPS ? i32(i32x4.all_true(f32x4.eq(bad, bad))) : 1;
}

// Rows [i0, i1) x columns [j0, j1) of one matrix C[M,N] = A[M,K] @ B[K,N], all row-major and
// contiguous, K > 0 (the host zero-fills C itself when K = 0); work holds workBytesF32() bytes.
// transA: A is stored as its transpose, [K, M] row-major (C = A_stored^T @ B). Only packA32 reads A, into the
// very panels it packs from a row-major A, so every sum is the one of the transposed copy, bit for bit.
// packedB != 0: B is not read, its panels come ready from packedB instead of being packed here (j0 must
// be a multiple of NR32), K block pc (KC32 rows, the last one shorter) laid out there by
// packB32(packedB + 4 pc (N + 7), B + 4 pc N, N, kc, N, 0).
//
// skip: leave out the k-steps where all MR32 rows of an A micro-panel are zero (one-hot inputs make most of
// them so), when few enough remain that walking a list pays. Exact, bit for bit, when the B values of those
// steps are finite: each left-out product is then ±0, and adding ±0 to an accumulator leaves it as it was
// unless it is -0 (-0 + +0 = +0). No accumulator is ever -0: each starts at +0 (or at C from the K block
// before, by the same argument), and in round-to-nearest x + y is -0 only when x and y both are (a fused
// multiply-add alike: the product is ±0 exactly, then the same rounding of the sum). So skip
// is used only where B is finite: for packed-ahead panels the caller vouches for that (packB32's result);
// B packed here is checked block by block. B packed here is also listed, and a tile walks the shorter of
// its A panel's and its B panel's lists: the steps where all NR32 values of a B micro-panel are zero (an outer
// sum's one-hot inputs, B = x) are left out by the same argument with A and B swapped, where A is finite
// (packA32 checks, block by block). Returns the multiply-adds left out (rows x columns x steps).
function gemm32(a: usize, b: usize, c: usize, M: i32, K: i32, N: i32, work: usize, i0: i32, i1: i32, j0: i32, j1: i32, packedB: usize, skip: bool, transA: bool): f64 {
  const ldcBytes = <usize>N << 2;
  const pa = work;
  const tile = work + PACKA32_BYTES + PACKB32_BYTES;
  const stepLists = tile + TILE32_BYTES;
  const stepListsB = stepLists + STEPS32_BYTES;
  let skipped: f64 = 0;
  for (let jc = j0; jc < j1; jc += NC32) {
    const nc = min(NC32, j1 - jc);
    for (let pc = 0; pc < K; pc += KC32) {
      const kc = min(KC32, K - pc);
      const acc = pc > 0;
      // The same panels either way: micro-panel jc / NR32 of K block pc (kc rows of NR32 values); packed
      // ahead, K block pc starts pc * (N + 7) floats in, room for its ceil(N / 8) panels.
      let pb = packedB + ((<usize>pc * <usize>(N + NR32 - 1) + <usize>jc * <usize>kc) << 2);
      let finite = true;
      let bSteps: usize = 0;
      if (packedB == 0) {
        pb = work + PACKA32_BYTES;
        bSteps = SKIP_ZERO_STEPS && skip ? stepListsB : 0;
        finite = packB32(pb, b + ((<usize>pc * <usize>N + <usize>jc) << 2), N, kc, nc, bSteps) != 0;
      }
      // Walking a list costs an index load per step: measured on a 256 x 256 x 512 product, leaving out 1 step
      // in 8 was 2% slower than the dense kernel and 3 in 16 was 3% faster, so at most 13 of 16 remain.
      const sparseMax = kc - (kc >> 3) - (kc >> 4);
      const steps = SKIP_ZERO_STEPS && skip && finite ? stepLists : 0;
      for (let ic = i0; ic < i1; ic += MC32) {
        const mc = min(MC32, i1 - ic);
        const aFinite = transA
          ? packA32(pa, a + ((<usize>pc * <usize>M + <usize>ic) << 2), M, mc, kc, steps, true, bSteps != 0)
          : packA32(pa, a + ((<usize>ic * <usize>K + <usize>pc) << 2), K, mc, kc, steps, false, bSteps != 0);
        const bLists = SKIP_ZERO_STEPS && aFinite != 0 ? bSteps : 0;
        for (let jr = 0; jr < nc; jr += NR32) {
          const nr = min(NR32, nc - jr);
          const bPanel = pb + <usize>jr * <usize>kc * 4;
          const bList = SKIP_ZERO_STEPS ? bLists + <usize>(jr / NR32 * STEPS32_STRIDE) : 0;
          const nb = SKIP_ZERO_STEPS && bLists != 0 ? load<i32>(bList) : kc;
          for (let ir = 0; ir < mc; ir += MR32) {
            const mr = min(MR32, mc - ir);
            const aPanel = pa + <usize>ir * <usize>kc * 4;
            const cTile = c + <usize>(ic + ir) * ldcBytes + (<usize>(jc + jr) << 2);
            const aList = steps + <usize>(ir / MR32 * STEPS32_STRIDE);
            const na = SKIP_ZERO_STEPS && steps != 0 ? load<i32>(aList) : kc;
            // the shorter list (a list exists wherever its count is under kc)
            const n = SKIP_ZERO_STEPS ? min(na, nb) : kc;
            const list = SKIP_ZERO_STEPS && nb < na ? bList : aList;
            const sparse = SKIP_ZERO_STEPS && n < kc && n <= sparseMax;
            if (sparse) skipped += <f64>(kc - n) * <f64>(mr * nr);
            // Edge tile: run the full micro-kernel on a scratch tile, move only the mr x nr corner. (One call
            // site per kernel: each is inlined, and the small build must stay under SYNC_COMPILE_MAX_BYTES.)
            const edge = mr < MR32 || nr < NR32;
            if (edge && acc)
              for (let i = 0; i < mr; i++)
                memory.copy(tile + <usize>i * NR32 * 4, cTile + <usize>i * ldcBytes, <usize>nr << 2);
            const dst = edge ? tile : cTile;
            const ld = edge ? <usize>(NR32 * 4) : ldcBytes;
            if (sparse) kernel32<i32>(aPanel, bPanel, n, list + 4, dst, ld, acc);
            else kernel32<void>(aPanel, bPanel, kc, 0, dst, ld, acc);
            if (edge)
              for (let i = 0; i < mr; i++)
                memory.copy(cTile + <usize>i * ldcBytes, tile + <usize>i * NR32 * 4, <usize>nr << 2);
          }
        }
      }
    }
  }
  return skipped;
}

/**
 * Batched float32 matmul, rows [i0, i1) x columns [j0, j1) of it: for bt in [0, batches),
 * C[bt] = A[aMap[bt]] @ B[bMap[bt]] with A [*, M, K], B [*, K, N], C [batches, M, N] row-major, K > 0; aMap
 * and bMap are i32 arrays; work holds workBytesF32() bytes. The rest of C is untouched, so two threads
 * sharing memory can each compute a part (each with its own work area); every entry is summed exactly
 * as in the whole product. packedB != 0: B is not read, its panels are at packedB, laid out by packB32 as
 * gemm32 describes (one B for every batch; j0 a multiple of 8): the same panels and so the same sums.
 * skip != 0: leave out all-zero k-steps of A where that is exact (gemm32); with packedB, only if every
 * packB32 call that laid it out returned 1. transA != 0: each A[aMap[bt]] is stored transposed, [K, M]
 * row-major (gemm32). Returns the multiply-adds left out (0 in the small build).
 */
export function matmulPartF32(
  a: usize, b: usize, c: usize, M: i32, K: i32, N: i32,
  batches: i32, aMap: usize, bMap: usize, work: usize,
  i0: i32, i1: i32, j0: i32, j1: i32, packedB: usize, skip: i32, transA: i32,
): f64 {
  const aStride = <usize>M * <usize>K * 4;
  const bStride = <usize>K * <usize>N * 4;
  const cStride = <usize>M * <usize>N * 4;
  let skipped: f64 = 0;
  for (let bt = 0; bt < batches; bt++) {
    const ai = <usize>load<i32>(aMap + (<usize>bt << 2));
    const bi = <usize>load<i32>(bMap + (<usize>bt << 2));
    skipped += gemm32(a + ai * aStride, b + bi * bStride, c + <usize>bt * cStride, M, K, N, work, i0, i1, j0, j1, packedB, skip != 0, transA != 0);
  }
  return skipped;
}

// ---------------------------------------------------------------------------------------------
// float64: 4 x 4 micro-tile (2 f64x2 per row), the same register budget.

const MR64: i32 = 4;
const NR64: i32 = 4;
const KC64: i32 = 256;
const MC64: i32 = 60;
const NC64: i32 = 1020;

const PACKA64_BYTES: i32 = MC64 * KC64 * 8;
const PACKB64_BYTES: i32 = KC64 * NC64 * 8;
const TILE64_BYTES: i32 = MR64 * NR64 * 8;

/** Bytes of scratch memory matmulPartF64 needs at its `work` pointer. */
export function workBytesF64(): i32 {
  return PACKA64_BYTES + PACKB64_BYTES + TILE64_BYTES;
}

// C[0:4, 0:4] (+)= A_panel[0:4, 0:kc] @ B_panel[0:kc, 0:4]; pa/pb are packed micro-panels, ldc in bytes.
// @ts-ignore: decorator
@inline
function kernel64(pa: usize, pb: usize, kc: i32, c: usize, ldc: usize, accumulate: bool): void {
  let c00 = f64x2.splat(0), c01 = f64x2.splat(0);
  let c10 = f64x2.splat(0), c11 = f64x2.splat(0);
  let c20 = f64x2.splat(0), c21 = f64x2.splat(0);
  let c30 = f64x2.splat(0), c31 = f64x2.splat(0);
  if (accumulate) {
    let p = c;
    c00 = v128.load(p); c01 = v128.load(p, 16); p += ldc;
    c10 = v128.load(p); c11 = v128.load(p, 16); p += ldc;
    c20 = v128.load(p); c21 = v128.load(p, 16); p += ldc;
    c30 = v128.load(p); c31 = v128.load(p, 16);
  }
  const paEnd = pa + (<usize>kc << 5);
  while (pa < paEnd) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load64_splat(pa);
    c00 = f64x2.add(c00, f64x2.mul(a, b0));
    c01 = f64x2.add(c01, f64x2.mul(a, b1));
    a = v128.load64_splat(pa, 8);
    c10 = f64x2.add(c10, f64x2.mul(a, b0));
    c11 = f64x2.add(c11, f64x2.mul(a, b1));
    a = v128.load64_splat(pa, 16);
    c20 = f64x2.add(c20, f64x2.mul(a, b0));
    c21 = f64x2.add(c21, f64x2.mul(a, b1));
    a = v128.load64_splat(pa, 24);
    c30 = f64x2.add(c30, f64x2.mul(a, b0));
    c31 = f64x2.add(c31, f64x2.mul(a, b1));
    pa += 32;
    pb += 32;
  }
  let p = c;
  v128.store(p, c00); v128.store(p, c01, 16); p += ldc;
  v128.store(p, c10); v128.store(p, c11, 16); p += ldc;
  v128.store(p, c20); v128.store(p, c21, 16); p += ldc;
  v128.store(p, c30); v128.store(p, c31, 16);
}

// Packs rows [0, mc) x cols [0, kc) of A (row stride lda elements) into MR64-tall micro-panels:
// panel p holds, for each k, the MR64 values A[p*MR64 .. p*MR64+MR64-1, k], zero past row mc.
function packA64(dst: usize, a: usize, lda: i32, mc: i32, kc: i32, trans: bool): void {
  // A value (i, k) at a + i * iStep + k * kStep, as in packA32
  const rowBytes = <usize>lda << 3;
  const iStep: usize = trans ? 8 : rowBytes;
  const kStep: usize = trans ? rowBytes : 8;
  for (let i0 = 0; i0 < mc; i0 += MR64) {
    const r = min(MR64, mc - i0);
    const src = a + <usize>i0 * iStep;
    if (r == MR64) {
      for (let k = 0; k < kc; k++) {
        const s = src + <usize>k * kStep;
        store<f64>(dst, load<f64>(s));
        store<f64>(dst, load<f64>(s + iStep), 8);
        store<f64>(dst, load<f64>(s + 2 * iStep), 16);
        store<f64>(dst, load<f64>(s + 3 * iStep), 24);
        dst += MR64 * 8;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const s = src + <usize>k * kStep;
        for (let rr = 0; rr < MR64; rr++)
          store<f64>(dst + (<usize>rr << 3), rr < r ? load<f64>(s + <usize>rr * iStep) : 0.0);
        dst += MR64 * 8;
      }
    }
  }
}

// Packs rows [0, kc) x cols [0, nc) of B (row stride ldb elements) into NR64-wide micro-panels:
// panel p holds, for each k, the NR64 values B[k, p*NR64 .. p*NR64+NR64-1], zero past column nc.
function packB64(dst: usize, b: usize, ldb: i32, kc: i32, nc: i32): void {
  const rowBytes = <usize>ldb << 3;
  for (let j0 = 0; j0 < nc; j0 += NR64) {
    const w = min(NR64, nc - j0);
    let s = b + (<usize>j0 << 3);
    if (w == NR64) {
      for (let k = 0; k < kc; k++) {
        v128.store(dst, v128.load(s));
        v128.store(dst, v128.load(s, 16), 16);
        s += rowBytes;
        dst += NR64 * 8;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        for (let jj = 0; jj < NR64; jj++)
          store<f64>(dst + (<usize>jj << 3), jj < w ? load<f64>(s + (<usize>jj << 3)) : 0.0);
        s += rowBytes;
        dst += NR64 * 8;
      }
    }
  }
}

// Rows [i0, i1) x columns [j0, j1) of one matrix C[M,N] = A[M,K] @ B[K,N], all row-major and
// contiguous, K > 0 (the host zero-fills C itself when K = 0); work holds workBytesF64() bytes.
function gemm64(a: usize, b: usize, c: usize, M: i32, K: i32, N: i32, work: usize, i0: i32, i1: i32, j0: i32, j1: i32, transA: bool): void {
  const ldcBytes = <usize>N << 3;
  const pa = work;
  const pb = work + PACKA64_BYTES;
  const tile = pb + PACKB64_BYTES;
  for (let jc = j0; jc < j1; jc += NC64) {
    const nc = min(NC64, j1 - jc);
    for (let pc = 0; pc < K; pc += KC64) {
      const kc = min(KC64, K - pc);
      const acc = pc > 0;
      packB64(pb, b + ((<usize>pc * <usize>N + <usize>jc) << 3), N, kc, nc);
      for (let ic = i0; ic < i1; ic += MC64) {
        const mc = min(MC64, i1 - ic);
        if (transA) packA64(pa, a + ((<usize>pc * <usize>M + <usize>ic) << 3), M, mc, kc, true);
        else packA64(pa, a + ((<usize>ic * <usize>K + <usize>pc) << 3), K, mc, kc, false);
        for (let jr = 0; jr < nc; jr += NR64) {
          const nr = min(NR64, nc - jr);
          const bPanel = pb + <usize>jr * <usize>kc * 8;
          for (let ir = 0; ir < mc; ir += MR64) {
            const mr = min(MR64, mc - ir);
            const aPanel = pa + <usize>ir * <usize>kc * 8;
            const cTile = c + <usize>(ic + ir) * ldcBytes + (<usize>(jc + jr) << 3);
            // Edge tile: as in gemm32, through a scratch tile, with one (inlined) kernel call site.
            const edge = mr < MR64 || nr < NR64;
            if (edge && acc)
              for (let i = 0; i < mr; i++)
                memory.copy(tile + <usize>i * NR64 * 8, cTile + <usize>i * ldcBytes, <usize>nr << 3);
            kernel64(aPanel, bPanel, kc, edge ? tile : cTile, edge ? <usize>(NR64 * 8) : ldcBytes, acc);
            if (edge)
              for (let i = 0; i < mr; i++)
                memory.copy(cTile + <usize>i * ldcBytes, tile + <usize>i * NR64 * 8, <usize>nr << 3);
          }
        }
      }
    }
  }
}

/**
 * Batched float64 matmul, rows [i0, i1) x columns [j0, j1) of it: for bt in [0, batches),
 * C[bt] = A[aMap[bt]] @ B[bMap[bt]] with A [*, M, K], B [*, K, N], C [batches, M, N] row-major, K > 0; aMap
 * and bMap are i32 arrays; work holds workBytesF64() bytes. The rest of C is untouched, so two threads
 * sharing memory can each compute a part (each with its own work area); every entry is summed exactly
 * as in the whole product. transA != 0: each A[aMap[bt]] is stored transposed, [K, M] row-major. packedB and
 * skip are matmulPartF32's, unused here (float64 packs its own B and skips no step): one signature for both.
 */
export function matmulPartF64(
  a: usize, b: usize, c: usize, M: i32, K: i32, N: i32,
  batches: i32, aMap: usize, bMap: usize, work: usize,
  i0: i32, i1: i32, j0: i32, j1: i32, packedB: usize, skip: i32, transA: i32,
): void {
  const aStride = <usize>M * <usize>K * 8;
  const bStride = <usize>K * <usize>N * 8;
  const cStride = <usize>M * <usize>N * 8;
  for (let bt = 0; bt < batches; bt++) {
    const ai = <usize>load<i32>(aMap + (<usize>bt << 2));
    const bi = <usize>load<i32>(bMap + (<usize>bt << 2));
    gemm64(a + ai * aStride, b + bi * bStride, c + <usize>bt * cStride, M, K, N, work, i0, i1, j0, j1, transA != 0);
  }
}
