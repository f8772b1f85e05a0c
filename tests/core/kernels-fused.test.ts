import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  gruResetAfterBackwardTs, gruResetAfterForward, gruResetAfterForwardTs, lstmBackward, lstmBackwardTs, lstmForward,
  lstmForwardTs, WASM_GRU_FORWARD_MIN, WASM_LSTM_BACKWARD_MIN, WASM_LSTM_FORWARD_MIN,
} from "../../core/kernels-fused.js";
import {
  ELEMENTWISE_MAX_ULPS, gruResetAfterBackwardWasm, gruResetAfterForwardWasm, lstmBackwardWasm, lstmForwardWasm,
} from "../../core/wasm/elementwise.js";
import { setKernelBackend } from "../../core/wasm/backend.js";
import { float32Order } from "./float32-steps.js";

// Claims under test (float32 LSTM and reset-after GRU step kernels of core/wasm/elementwise.as; the GRU ones
// are the same three claims with r, u, n for Γu, Γf, c̃ and a' = (1 - u)·n + u·a for c):
// 1. Forward: the WebAssembly kernel equals lstmForwardTs bit for bit when lstmForwardTs takes its activations
//    from the same WebAssembly exp/sigmoid/tanh (setKernelBackend('wasm')): every other operation is the
//    reference's float64 arithmetic in the reference's order, rounded once to float32.
// 2. Forward against the all-TypeScript reference (correctly rounded activations, setKernelBackend('ts')): each
//    gate within ELEMENTWISE_MAX_ULPS of its op, and c, tanh(c), a within the first-order propagation of those
//    ulps through c = Γu·c̃ + Γf·c_prev and a = Γo·tanh(c), plus one rounding (bound below).
// 3. Backward: no transcendental function, so the kernel equals lstmBackwardTs bit for bit whatever the kernel
//    choice; the backward is the same float64 expressions rounded once, not "equal up to float32 rounding".
// Bit for bit means Object.is on every element (so -0 and +0 differ), except that any NaN equals any NaN.

/** Deterministic values in [-scale, scale) from a seed that fast-check chose (no Math.random in a property). */
function values(n: number, seed: number, scale: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    x[i] = (s / 2 ** 31 - 1) * scale;
  }
  return x;
}

const SPECIAL = [0, -0, NaN, Infinity, -Infinity, 89, -89, 104, -104, 1e4, -1e4, 2 ** -149, -(2 ** -126), 0.625, -0.625];

/** Every `every`-th entry of x replaced by a special value (cycling), so edges sit at every lane position. */
function sprinkle(x: Float32Array, every: number, offset: number): Float32Array {
  if (every > 0) for (let i = offset % every, k = 0; i < x.length; i += every, k++) x[i] = SPECIAL[(k + offset) % SPECIAL.length]!;
  return x;
}

/** Index of the first element that differs bit for bit (NaN matches NaN), or -1. */
function firstDifference(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) {
    const a = x[i]!, b = y[i]!;
    if (!(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)))) return i;
  }
  return -1;
}

interface Step {
  B: number; H: number;
  z: Float32Array; cPrev: Float32Array; dA: Float32Array; dC: Float32Array;
}

const dimB = fc.integer({ min: 1, max: 9 });
const dimH = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 13, 31, 63, 64, 65, 127, 128));
const step = (specials: boolean) =>
  fc
    .record({
      B: dimB, H: dimH, seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      scale: fc.constantFrom(0.5, 3, 20, 120), every: specials ? fc.integer({ min: 2, max: 11 }) : fc.constant(0),
    })
    .map(({ B, H, seed, scale, every }): Step => ({
      B, H,
      z: sprinkle(values(4 * B * H, seed, scale), every, seed),
      cPrev: sprinkle(values(B * H, seed ^ 0x5bd1e995, scale / 4), every, seed + 1),
      dA: sprinkle(values(B * H, seed ^ 0x1b873593, 2), every, seed + 2),
      dC: sprinkle(values(B * H, seed ^ 0x68e31da4, 2), every, seed + 3),
    }));

function expectSame(name: string, got: ArrayLike<number>, want: ArrayLike<number>, p: Step): void {
  const i = firstDifference(got, want);
  expect(i, `${name} [B=${p.B}, H=${p.H}] differs at ${i}: wasm ${got[i]} vs ts ${want[i]}`).toBe(-1);
}

function forwardBoth(p: Step) {
  const w = lstmForwardWasm(p.z, p.cPrev, p.B, p.H);
  if (!w) throw new Error("the WebAssembly LSTM kernel declined");
  const r = lstmForwardTs(p.z, p.cPrev, p.B, p.H, "float32");
  return { w, r };
}

function expectForwardBitForBit(p: Step): void {
  const z0 = p.z.slice(), c0 = p.cPrev.slice();
  const { w, r } = forwardBoth(p);
  for (const k of ["a", "c", "gates", "tc"] as const) {
    expect(w[k]).toBeInstanceOf(Float32Array);
    expectSame(k, w[k], r[k], p);
  }
  expect(firstDifference(p.z, z0)).toBe(-1); // inputs unchanged
  expect(firstDifference(p.cPrev, c0)).toBe(-1);
}

function expectBackwardBitForBit(p: Step): void {
  const { r } = forwardBoth(p);
  const gates = r.gates as Float32Array, tc = r.tc as Float32Array;
  const saved = [p.dA, p.dC, gates, tc, p.cPrev].map((x) => x.slice());
  const w = lstmBackwardWasm(p.dA, p.dC, gates, tc, p.cPrev, p.B, p.H);
  if (!w) throw new Error("the WebAssembly LSTM backward kernel declined");
  const ref = lstmBackwardTs(p.dA, p.dC, gates, tc, p.cPrev, p.B, p.H, "float32");
  expectSame("dz", w.dz, ref.dz, p);
  expectSame("dcPrev", w.dcPrev, ref.dcPrev, p);
  [p.dA, p.dC, gates, tc, p.cPrev].forEach((x, i) => expect(firstDifference(x, saved[i]!)).toBe(-1));
}

// ---- claim 2: the ulp-derived bound against correctly rounded activations ----------------------------------

const ord = float32Order;
// float32 values as bit patterns, for moving a value by a number of float32 steps
const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);
/**
 * An upper bound on the float32 step at any value within a few steps of x: 2^-22·|x| is twice the largest
 * relative spacing 2^-23, which covers stepping up into the next binade; 2^-149 is the subnormal step.
 */
const step32 = (x: number): number => Math.abs(x) * 2 ** -22 + 2 ** -149;

/**
 * Worst ratio |wasm - ref| / bound over c, tanh(c) and a (the claim is that it is <= 1), from the reference
 * values. With Uσ, Ut the sigmoid and tanh ulp bounds and u = step32:
 *   |Δc|  <= (|c̃|·Uσ·u(Γu) + |Γu|·Ut·u(c̃) + |c_prev|·Uσ·u(Γf))·(1 + 2^-10) + u(c)
 *   |Δtc| <= |Δc|bound + (Ut + 1)·u(tc)                 (tanh' <= 1; Ut steps of tanh plus the reference's rounding)
 *   |Δa|  <= (|tc|·Uσ·u(Γo) + |Γo|·|Δtc|bound)·(1 + 2^-10) + u(a)
 * (the 2^-10 covers the second-order products of two perturbations; u(·) of the result covers both roundings).
 */
function worstPropagatedRatio(p: Step, w: ReturnType<typeof forwardBoth>["w"], r: ReturnType<typeof forwardBoth>["r"]): { ratio: number; what: string } {
  const Us = ELEMENTWISE_MAX_ULPS.sigmoid, Ut = ELEMENTWISE_MAX_ULPS.tanh, slack = 1 + 2 ** -10;
  let worst = { ratio: 0, what: "" };
  const check = (what: string, got: number, want: number, bound: number): void => {
    if (Number.isNaN(want) || Number.isNaN(got)) {
      if (Number.isNaN(want) !== Number.isNaN(got)) worst = { ratio: Infinity, what: `${what}: NaN vs ${want}` };
      return;
    }
    if (!Number.isFinite(want) || !Number.isFinite(got)) {
      if (got !== want) worst = { ratio: Infinity, what: `${what}: ${got} vs ${want}` };
      return;
    }
    const ratio = got === want ? 0 : Math.abs(got - want) / bound;
    if (ratio > worst.ratio) worst = { ratio, what: `${what}: ${got} vs ${want}` };
  };
  for (let b = 0; b < p.B; b++)
    for (let j = 0; j < p.H; j++) {
      const g = b * 4 * p.H + j, i = b * p.H + j;
      const gu = r.gates[g]!, gf = r.gates[g + p.H]!, ct = r.gates[g + 2 * p.H]!, go = r.gates[g + 3 * p.H]!;
      const cp = p.cPrev[i]!, c = r.c[i]!, tc = r.tc[i]!, a = r.a[i]!;
      const dc = (Math.abs(ct) * Us * step32(gu) + Math.abs(gu) * Ut * step32(ct) + Math.abs(cp) * Us * step32(gf)) * slack + step32(c);
      const dtc = dc + (Ut + 1) * step32(tc);
      const da = (Math.abs(tc) * Us * step32(go) + Math.abs(go) * dtc) * slack + step32(a);
      check(`c[${i}]`, w.c[i]!, c, dc);
      check(`tc[${i}]`, w.tc[i]!, tc, dtc);
      check(`a[${i}]`, w.a[i]!, a, da);
    }
  return worst;
}

/** Worst distance in float32 steps of the wasm gates from the reference's, per kind (sigmoid blocks, the c̃ block). */
function worstGateUlps(p: Step, w: Float32Array, r: ArrayLike<number>): { sigmoid: number; tanh: number } {
  const worst = { sigmoid: 0, tanh: 0 };
  for (let i = 0; i < w.length; i++) {
    const kind = Math.floor(i / p.H) % 4 === 2 ? "tanh" : "sigmoid";
    const g = w[i]!, want = r[i]!;
    const d = Number.isNaN(g) || Number.isNaN(want) ? (Number.isNaN(g) === Number.isNaN(want) ? 0 : Infinity) : g === want ? 0 : Math.abs(ord(g) - ord(want));
    worst[kind] = Math.max(worst[kind], d);
  }
  return worst;
}

describe("WebAssembly LSTM step kernels (float32)", () => {
  afterEach(() => {
    setKernelBackend("auto");
  });

  it("forward equals the TypeScript loop on the same WebAssembly activations bit for bit, for any B and H", () => {
    setKernelBackend("wasm");
    fc.assert(fc.property(step(false), expectForwardBitForBit), { numRuns: 150 });
  });

  it("forward stays bit for bit equal with ±0, ±Inf, NaN, subnormals and saturating |z| at every lane position", () => {
    setKernelBackend("wasm");
    fc.assert(fc.property(step(true), expectForwardBitForBit), { numRuns: 150 });
  });

  it("backward equals the TypeScript loop bit for bit under every kernel choice, edge values included", () => {
    for (const choice of ["wasm", "ts"] as const) {
      setKernelBackend(choice);
      fc.assert(fc.property(step(false), expectBackwardBitForBit), { numRuns: 100 });
      fc.assert(fc.property(step(true), expectBackwardBitForBit), { numRuns: 100 });
    }
  });

  it(`forward stays within ${ELEMENTWISE_MAX_ULPS.sigmoid}/${ELEMENTWISE_MAX_ULPS.tanh} ulp per gate, and the propagated bound on c, tanh(c), a, of the correctly rounded reference`, () => {
    setKernelBackend("ts");
    fc.assert(
      fc.property(step(false), (p) => {
        const { w, r } = forwardBoth(p);
        const g = worstGateUlps(p, w.gates, r.gates);
        expect(g.sigmoid).toBeLessThanOrEqual(ELEMENTWISE_MAX_ULPS.sigmoid);
        expect(g.tanh).toBeLessThanOrEqual(ELEMENTWISE_MAX_ULPS.tanh);
        const worst = worstPropagatedRatio(p, w, r);
        expect(worst.ratio, worst.what).toBeLessThanOrEqual(1);
      }),
      { numRuns: 150 },
    );
  });

  it("propagates NaN where the all-TypeScript reference does, and saturates like it", () => {
    setKernelBackend("ts");
    fc.assert(
      fc.property(step(true), (p) => {
        const { w, r } = forwardBoth(p);
        for (const k of ["a", "c", "gates", "tc"] as const)
          for (let i = 0; i < w[k].length; i++) expect(Number.isNaN(w[k][i]!), `${k}[${i}]`).toBe(Number.isNaN(r[k][i]!));
        const worst = worstPropagatedRatio(p, w, r);
        expect(worst.ratio, worst.what).toBeLessThanOrEqual(1);
      }),
      { numRuns: 100 },
    );
  });

  it("the propagated bound is tight enough to catch a kernel off by a few ulp in c", () => {
    // Not a tautology check: moving every c (and so tc and a) by 16 float32 steps must break the bound.
    setKernelBackend("ts");
    const p: Step = { B: 3, H: 13, z: values(4 * 39, 7, 3), cPrev: values(39, 11, 1), dA: values(39, 13, 1), dC: values(39, 17, 1) };
    const { w, r } = forwardBoth(p);
    expect(worstPropagatedRatio(p, w, r).ratio).toBeLessThanOrEqual(1);
    const c = w.c.slice();
    for (let i = 0; i < c.length; i++) {
      bits[0] = 0;
      asFloat[0] = c[i]!;
      bits[0] = bits[0]! + 16;
      c[i] = asFloat[0]!;
    }
    expect(worstPropagatedRatio(p, { ...w, c }, r).ratio).toBeGreaterThan(1);
  });

  it("routes float32 to WebAssembly from the crossover sizes under 'auto', never under 'ts', and float64 never", () => {
    // B·H = 8 (forward) and 128 (backward); a scale of 3 gives some activations the two kernels round differently.
    const f: Step = { B: 2, H: WASM_LSTM_FORWARD_MIN / 2, z: values(4 * WASM_LSTM_FORWARD_MIN, 5, 3), cPrev: values(WASM_LSTM_FORWARD_MIN, 9, 1), dA: new Float32Array(0), dC: new Float32Array(0) };
    setKernelBackend("ts");
    const viaTs = lstmForward(f.z, f.cPrev, f.B, f.H, "float32");
    const wasm = lstmForwardWasm(f.z, f.cPrev, f.B, f.H)!;
    expect(firstDifference(viaTs.a, wasm.a) !== -1 || firstDifference(viaTs.gates, wasm.gates) !== -1, "pick inputs where the kernels differ").toBe(true);
    setKernelBackend("auto");
    const viaAuto = lstmForward(f.z, f.cPrev, f.B, f.H, "float32");
    for (const k of ["a", "c", "gates", "tc"] as const) expect(firstDifference(viaAuto[k], wasm[k])).toBe(-1);
    // Just below the forward crossover 'auto' keeps the TypeScript loop.
    const small = lstmForward(f.z.subarray(0, 4 * (WASM_LSTM_FORWARD_MIN - 1)), f.cPrev.subarray(0, WASM_LSTM_FORWARD_MIN - 1), 1, WASM_LSTM_FORWARD_MIN - 1, "float32");
    setKernelBackend("ts");
    const smallTs = lstmForwardTs(f.z.subarray(0, 4 * (WASM_LSTM_FORWARD_MIN - 1)), f.cPrev.subarray(0, WASM_LSTM_FORWARD_MIN - 1), 1, WASM_LSTM_FORWARD_MIN - 1, "float32");
    expect(firstDifference(small.a, smallTs.a)).toBe(-1);
    // float64 runs the TypeScript loop whatever the choice.
    setKernelBackend("wasm");
    const z64 = Float64Array.from(f.z), c64 = Float64Array.from(f.cPrev);
    const r64 = lstmForward(z64, c64, f.B, f.H, "float64");
    expect(r64.a).toBeInstanceOf(Float64Array);
    setKernelBackend("ts");
    expect(firstDifference(r64.a, lstmForwardTs(z64, c64, f.B, f.H, "float64").a)).toBe(-1);
    // The backward gives the same bits either way, so its routing only shows in the result type and length.
    setKernelBackend("auto");
    const n = WASM_LSTM_BACKWARD_MIN;
    const g = lstmForward(values(4 * n, 3, 3), values(n, 4, 1), 4, n / 4, "float32");
    const back = lstmBackward(values(n, 6, 1), values(n, 8, 1), g.gates, g.tc, values(n, 4, 1), 4, n / 4, "float32");
    expect(back.dz).toBeInstanceOf(Float32Array);
    expect(back.dz.length).toBe(4 * n);
  });
});

// ---- reset-after GRU ----------------------------------------------------------------------------------------

interface GruStep {
  B: number; H: number;
  zx: Float32Array; za: Float32Array; a: Float32Array; dNext: Float32Array;
}

const gruStep = (specials: boolean) =>
  fc
    .record({
      B: dimB, H: dimH, seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      scale: fc.constantFrom(0.5, 3, 20, 120), every: specials ? fc.integer({ min: 2, max: 11 }) : fc.constant(0),
    })
    .map(({ B, H, seed, scale, every }): GruStep => ({
      B, H,
      zx: sprinkle(values(3 * B * H, seed, scale), every, seed),
      za: sprinkle(values(3 * B * H, seed ^ 0x5bd1e995, scale), every, seed + 1),
      a: sprinkle(values(B * H, seed ^ 0x1b873593, 1), every, seed + 2),
      dNext: sprinkle(values(B * H, seed ^ 0x68e31da4, 2), every, seed + 3),
    }));

function gruForwardBoth(p: GruStep) {
  const w = gruResetAfterForwardWasm(p.zx, p.za, p.a, p.B, p.H);
  if (!w) throw new Error("the WebAssembly GRU kernel declined");
  return { w, r: gruResetAfterForwardTs(p.zx, p.za, p.a, p.B, p.H, "float32") };
}

function expectGruSame(name: string, got: ArrayLike<number>, want: ArrayLike<number>, p: GruStep): void {
  const i = firstDifference(got, want);
  expect(i, `${name} [B=${p.B}, H=${p.H}] differs at ${i}: wasm ${got[i]} vs ts ${want[i]}`).toBe(-1);
}

function expectGruForwardBitForBit(p: GruStep): void {
  const saved = [p.zx, p.za, p.a].map((x) => x.slice());
  const { w, r } = gruForwardBoth(p);
  expectGruSame("next", w.next, r.next, p);
  expectGruSame("acts", w.acts, r.acts, p);
  [p.zx, p.za, p.a].forEach((x, i) => expect(firstDifference(x, saved[i]!)).toBe(-1));
}

function expectGruBackwardBitForBit(p: GruStep): void {
  const acts = gruForwardBoth(p).r.acts as Float32Array;
  const saved = [p.dNext, acts, p.za, p.a].map((x) => x.slice());
  const w = gruResetAfterBackwardWasm(p.dNext, acts, p.za, p.a, p.B, p.H);
  if (!w) throw new Error("the WebAssembly GRU backward kernel declined");
  const ref = gruResetAfterBackwardTs(p.dNext, acts, p.za, p.a, p.B, p.H, "float32");
  expectGruSame("dzx", w.dzx, ref.dzx, p);
  expectGruSame("dza", w.dza, ref.dza, p);
  expectGruSame("da", w.da, ref.da, p);
  [p.dNext, acts, p.za, p.a].forEach((x, i) => expect(firstDifference(x, saved[i]!)).toBe(-1));
}

/**
 * Worst ratio |wasm - ref| / bound over n and a' against the correctly rounded reference (claim: <= 1), with
 * Uσ, Ut, u as for the LSTM and pre = zx_n + r·za_n (recomputed from the reference r, as it rounded it):
 *   |Δn|  <= (|za_n|·Uσ·u(r))·(1 + 2^-10) + u(pre) + (Ut + 1)·u(n)
 *   |Δa'| <= (|n - a|·Uσ·u(u) + |1 - u|·|Δn|bound)·(1 + 2^-10) + u(a')      (∂a'/∂u = a - n)
 */
function gruWorstPropagatedRatio(p: GruStep, w: ReturnType<typeof gruForwardBoth>["w"], r: ReturnType<typeof gruForwardBoth>["r"]): { ratio: number; what: string } {
  const Us = ELEMENTWISE_MAX_ULPS.sigmoid, Ut = ELEMENTWISE_MAX_ULPS.tanh, slack = 1 + 2 ** -10;
  let worst = { ratio: 0, what: "" };
  const check = (what: string, got: number, want: number, bound: number): void => {
    if (Number.isNaN(want) || Number.isNaN(got) || !Number.isFinite(want) || !Number.isFinite(got)) {
      if (!(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)))) worst = { ratio: Infinity, what: `${what}: ${got} vs ${want}` };
      return;
    }
    const ratio = got === want ? 0 : Math.abs(got - want) / bound;
    if (ratio > worst.ratio) worst = { ratio, what: `${what}: ${got} vs ${want}` };
  };
  const H = p.H;
  for (let b = 0; b < p.B; b++)
    for (let j = 0; j < H; j++) {
      const g = b * 3 * H + j, i = b * H + j;
      const rv = r.acts[g]!, u = r.acts[g + H]!, n = r.acts[g + 2 * H]!, av = p.a[i]!, next = r.next[i]!;
      const pre = Math.fround(p.zx[g + 2 * H]! + rv * p.za[g + 2 * H]!);
      const dn = Math.abs(p.za[g + 2 * H]!) * Us * step32(rv) * slack + step32(pre) + (Ut + 1) * step32(n);
      const dnext = (Math.abs(n - av) * Us * step32(u) + Math.abs(1 - u) * dn) * slack + step32(next);
      check(`n[${i}]`, w.acts[g + 2 * H]!, n, dn);
      check(`next[${i}]`, w.next[i]!, next, dnext);
    }
  return worst;
}

describe("WebAssembly reset-after GRU step kernels (float32)", () => {
  afterEach(() => {
    setKernelBackend("auto");
  });

  it("forward equals the TypeScript loop on the same WebAssembly activations bit for bit, edge values included", () => {
    setKernelBackend("wasm");
    fc.assert(fc.property(gruStep(false), expectGruForwardBitForBit), { numRuns: 150 });
    fc.assert(fc.property(gruStep(true), expectGruForwardBitForBit), { numRuns: 150 });
  });

  it("backward equals the TypeScript loop bit for bit under every kernel choice, edge values included", () => {
    for (const choice of ["wasm", "ts"] as const) {
      setKernelBackend(choice);
      fc.assert(fc.property(gruStep(false), expectGruBackwardBitForBit), { numRuns: 100 });
      fc.assert(fc.property(gruStep(true), expectGruBackwardBitForBit), { numRuns: 100 });
    }
  });

  it("forward stays within the ulp bounds per gate and the propagated bound on n and a' of the correctly rounded reference, NaN where it is NaN", () => {
    setKernelBackend("ts");
    for (const specials of [false, true])
      fc.assert(
        fc.property(gruStep(specials), (p) => {
          const { w, r } = gruForwardBoth(p);
          for (let i = 0; i < w.acts.length; i++) {
            expect(Number.isNaN(w.acts[i]!), `acts[${i}]`).toBe(Number.isNaN(r.acts[i]!));
            if (Math.floor(i / p.H) % 3 === 2 || Number.isNaN(w.acts[i]!)) continue; // n: the propagated bound below
            expect(w.acts[i] === r.acts[i] ? 0 : Math.abs(ord(w.acts[i]!) - ord(r.acts[i]!)), `gate ${i}`).toBeLessThanOrEqual(ELEMENTWISE_MAX_ULPS.sigmoid);
          }
          for (let i = 0; i < w.next.length; i++) expect(Number.isNaN(w.next[i]!), `next[${i}]`).toBe(Number.isNaN(r.next[i]!));
          const worst = gruWorstPropagatedRatio(p, w, r);
          expect(worst.ratio, worst.what).toBeLessThanOrEqual(1);
        }),
        { numRuns: 100 },
      );
  });

  it("routes float32 to WebAssembly from the crossover size under 'auto' and float64 never", () => {
    const B = 2, H = WASM_GRU_FORWARD_MIN / 2;
    const zx = values(3 * B * H, 21, 3), za = values(3 * B * H, 22, 3), a = values(B * H, 23, 1);
    const wasm = gruResetAfterForwardWasm(zx, za, a, B, H)!;
    setKernelBackend("ts");
    const viaTs = gruResetAfterForward(zx, za, a, B, H, "float32");
    expect(firstDifference(viaTs.acts, wasm.acts), "pick inputs where the kernels differ").not.toBe(-1);
    setKernelBackend("auto");
    expect(firstDifference(gruResetAfterForward(zx, za, a, B, H, "float32").acts, wasm.acts)).toBe(-1);
    setKernelBackend("wasm");
    const r64 = gruResetAfterForward(Float64Array.from(zx), Float64Array.from(za), Float64Array.from(a), B, H, "float64");
    expect(r64.next).toBeInstanceOf(Float64Array);
  });
});
