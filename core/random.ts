/**
 * The functional PRNG: explicit keys, no hidden state. Same key, same numbers, on every machine.
 *
 * The generator is Threefry-2x32 with 20 rounds ("Parallel random numbers: as easy as 1, 2, 3", SC 2011,
 * the Random123 library), used the way JAX does with `jax_threefry_partitionable` on (its newer default):
 * element `i` of any draw is the encryption of the counter `(0, i)` under the key, so each value depends only
 * on the key and its own flat index. A key is two uint32 words; `randomKey(seed)` is `[seed >> 32, seed & 0xffffffff]`
 * like `jax.random.key`, and `splitKey(key, n)[i] = threefry(key, (0, i))` like `jax.random.split`. Keys, splits,
 * raw bits and float32 `uniform` therefore agree bit for bit with JAX; `normal` uses JAX's inverse-erf method and
 * agrees to float rounding.
 *
 * Determinism: only integer arithmetic builds the bits, and the float maps use `Math.log`/`Math.sqrt`/`Math.exp`
 * (V8 implements the transcendental ones in software, identically on every CPU).
 */
import { ArgumentError, ShapeError, fmtShape } from "./errors.js";
import { describe, normAxis, optionsObject, orThrow, sizeOf, validateShape, broadcastShapes, shapesEqual } from "./shape.js";
import { allocData, dataOf, fromData, isTensor, type Data, type DType, type Tensor } from "./tensor.js";
import { broadcastIndex } from "./kernels.js";

/** A PRNG key: two uint32 words, frozen. Make one with `randomKey(seed)`; derive more with `splitKey`/`foldIn`. */
export interface Key {
  readonly kind: "seqgrad.key";
  readonly words: readonly [number, number];
}

const makeKey = (k0: number, k1: number): Key => Object.freeze({ kind: "seqgrad.key" as const, words: Object.freeze([k0 >>> 0, k1 >>> 0] as const) });

/** True for a key made by `randomKey`, `splitKey` or `foldIn`. */
export const isKey = (x: unknown): x is Key => {
  if (x === null || typeof x !== "object") return false;
  const k = x as Partial<Key>;
  return k.kind === "seqgrad.key" && Array.isArray(k.words) && k.words.length === 2 && k.words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff);
};

const expectKey = (op: string, key: unknown): Key => {
  if (isKey(key)) return key;
  const hint = typeof key === "number" ? ` (make a key first: randomKey(${key}))` : "";
  throw new ArgumentError(op, "key", `must be a PRNG key from randomKey(seed), splitKey or foldIn, got ${describe(key)}${hint}`);
};

// ---- Threefry-2x32, 20 rounds ---------------------------------------------------------------------------

// Rotation constants R = [13, 15, 26, 6, 17, 29, 16, 24] (Random123, threefry2x32 with 20 rounds)
const PARITY = 0x1bd11bda; // Skein's key-schedule parity constant

/** One Threefry-2x32-20 block: encrypts counter `(c0, c1)` under key `(k0, k1)`; written into out[o], out[o+1]. */
const block = (k0: number, k1: number, c0: number, c1: number, out: Uint32Array, o: number): void => {
  const ks0 = k0 | 0, ks1 = k1 | 0, ks2 = (k0 ^ k1 ^ PARITY) | 0;
  let x0 = (c0 + ks0) | 0;
  let x1 = (c1 + ks1) | 0;
  // 5 groups of 4 rounds (rotations ROT[0..3] on even groups, ROT[4..7] on odd), then a key injection:
  // after group g, x0 += ks[(g+1) % 3] and x1 += ks[(g+2) % 3] + g + 1. Unrolled: this is the hot loop.
  x0 = (x0 + x1) | 0; x1 = (x1 << 13) | (x1 >>> 19); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 15) | (x1 >>> 17); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 26) | (x1 >>> 6); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 6) | (x1 >>> 26); x1 ^= x0;
  x0 = (x0 + ks1) | 0; x1 = (x1 + ks2 + 1) | 0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 17) | (x1 >>> 15); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 29) | (x1 >>> 3); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 16) | (x1 >>> 16); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 24) | (x1 >>> 8); x1 ^= x0;
  x0 = (x0 + ks2) | 0; x1 = (x1 + ks0 + 2) | 0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 13) | (x1 >>> 19); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 15) | (x1 >>> 17); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 26) | (x1 >>> 6); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 6) | (x1 >>> 26); x1 ^= x0;
  x0 = (x0 + ks0) | 0; x1 = (x1 + ks1 + 3) | 0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 17) | (x1 >>> 15); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 29) | (x1 >>> 3); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 16) | (x1 >>> 16); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 24) | (x1 >>> 8); x1 ^= x0;
  x0 = (x0 + ks1) | 0; x1 = (x1 + ks2 + 4) | 0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 13) | (x1 >>> 19); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 15) | (x1 >>> 17); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 26) | (x1 >>> 6); x1 ^= x0;
  x0 = (x0 + x1) | 0; x1 = (x1 << 6) | (x1 >>> 26); x1 ^= x0;
  x0 = (x0 + ks2) | 0; x1 = (x1 + ks0 + 5) | 0;
  out[o] = x0;
  out[o + 1] = x1;
};

/** `threefry2x32(key, counter)`: the Threefry-2x32-20 block function on uint32 pairs (Random123's known answers hold). */
export const threefry2x32 = (key: readonly [number, number], counter: readonly [number, number]): [number, number] => {
  const out = new Uint32Array(2);
  block(key[0], key[1], counter[0], counter[1], out, 0);
  return [out[0]!, out[1]!];
};

/** The blocks for counters `(hi, 0) .. (hi, n-1)`: word pairs, interleaved [x0, x1, x0, x1, ...]. */
const blocks = (key: Key, n: number, hi = 0): Uint32Array => {
  const out = new Uint32Array(2 * n);
  const [k0, k1] = key.words;
  for (let i = 0; i < n; i++) block(k0, k1, hi, i, out, 2 * i);
  return out;
};

// ---- keys ----------------------------------------------------------------------------------------------

const TWO32 = 2 ** 32;

/** `randomKey(seed)`: the key `[⌊seed / 2³²⌋, seed mod 2³²]` for a non-negative safe integer seed (as `jax.random.key`). */
export const randomKey = (seed: number): Key => {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed) || seed < 0)
    throw new ArgumentError("randomKey", "seed", `must be a non-negative safe integer (0 .. 2^53-1), got ${describe(seed)}`);
  return makeKey(Math.floor(seed / TWO32), seed % TWO32);
};

/** `splitKey(key, n = 2)`: n new keys, key i = threefry(key, (0, i)) (as `jax.random.split`). */
export const splitKey = (key: Key, n = 2): Key[] => {
  expectKey("splitKey", key);
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1)
    throw new ArgumentError("splitKey", "n", `must be a non-negative integer (the number of keys), got ${describe(n)}`);
  const b = blocks(key, n);
  const keys = new Array<Key>(n);
  for (let i = 0; i < n; i++) keys[i] = makeKey(b[2 * i]!, b[2 * i + 1]!);
  return keys;
};

/** `foldIn(key, data)`: the key threefry(key, (⌊data / 2³²⌋, data mod 2³²)) for a non-negative safe integer (as `jax.random.fold_in`). */
export const foldIn = (key: Key, data: number): Key => {
  expectKey("foldIn", key);
  if (typeof data !== "number" || !Number.isSafeInteger(data) || data < 0)
    throw new ArgumentError("foldIn", "data", `must be a non-negative safe integer, got ${describe(data)}`);
  const out = new Uint32Array(2);
  block(key.words[0], key.words[1], Math.floor(data / TWO32), data % TWO32, out, 0);
  return makeKey(out[0]!, out[1]!);
};

/** `randomBits(key, n)`: n uniform uint32 words, word i = x0 ⊕ x1 of threefry(key, (0, i)) (as `jax.random.bits`). */
export const randomBits = (key: Key, n: number): Uint32Array => {
  expectKey("randomBits", key);
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1)
    throw new ArgumentError("randomBits", "n", `must be a non-negative integer, got ${describe(n)}`);
  const b = blocks(key, n);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = b[2 * i]! ^ b[2 * i + 1]!;
  return out;
};

// ---- uniform -------------------------------------------------------------------------------------------

const checkDType = (op: string, dtype: unknown): DType => {
  if (dtype === undefined) return "float32";
  if (dtype === "float32" || dtype === "float64") return dtype;
  throw new ArgumentError(op, "dtype", `must be 'float32' or 'float64', got ${describe(dtype)}`);
};

const checkOptions = (op: string, opts: unknown, known: readonly string[]): Record<string, unknown> =>
  opts === undefined ? {} : optionsObject(op, "options", opts, `{ ${known.join(", ")} }`, known);

const finiteNumber = (op: string, name: string, v: unknown, dflt: number): number => {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ArgumentError(op, name, `must be a finite number, got ${describe(v)}`);
  return v;
};

/** Rounds to the dtype (identity for float64). */
const roundTo = (dtype: DType): ((x: number) => number) => (dtype === "float32" ? Math.fround : (x: number) => x);

/** The largest value of `dtype` strictly below `x` (x finite). */
const below = (x: number, dtype: DType): number => {
  if (dtype === "float32") {
    const f = new Float32Array([x]);
    const i = new Int32Array(f.buffer);
    if (x === 0) return -(2 ** -149);
    i[0] = x > 0 ? i[0]! - 1 : i[0]! + 1;
    return f[0]!;
  }
  const f = new Float64Array([x]);
  const i = new BigInt64Array(f.buffer);
  if (x === 0) return -Number.MIN_VALUE;
  i[0] = x > 0 ? i[0]! - 1n : i[0]! + 1n;
  return f[0]!;
};

/**
 * Uniform floats in [0, 1) from the key, exactly as JAX builds them: float32 takes the top 23 bits of
 * x0 ⊕ x1 as the mantissa, float64 takes 52 bits of the 64-bit word x0·2³² + x1.
 */
const unitUniform = (key: Key, n: number, dtype: DType): Float64Array => {
  const b = blocks(key, n);
  const u = new Float64Array(n);
  if (dtype === "float32") for (let i = 0; i < n; i++) u[i] = ((b[2 * i]! ^ b[2 * i + 1]!) >>> 9) * 2 ** -23;
  else for (let i = 0; i < n; i++) u[i] = (b[2 * i]! * 2 ** 20 + (b[2 * i + 1]! >>> 12)) * 2 ** -52;
  return u;
};

/** `low + (high - low)·u` in the dtype's arithmetic, kept in [low, high) (JAX's `uniform`, plus the upper guard). */
const scaleUniform = (u: Float64Array, low: number, high: number, dtype: DType): Data => {
  const r = roundTo(dtype);
  const lo = r(low), hi = r(high), span = r(hi - lo);
  const top = below(hi, dtype);
  const out = allocData(dtype, u.length);
  for (let i = 0; i < u.length; i++) {
    let v = r(r(u[i]! * span) + lo);
    if (v < lo) v = lo;
    if (v >= hi) v = top; // rounding can reach `high`; the interval is half-open
    out[i] = v;
  }
  return out;
};

/** Options of `uniform`: dtype (default float32) and the interval [low, high) (default [0, 1)). */
export interface UniformOptions {
  dtype?: DType;
  low?: number;
  high?: number;
}

/** `uniform(key, shape, { dtype, low = 0, high = 1 })`: independent draws from U[low, high). */
export const uniform = (key: Key, shape: readonly number[], options: UniformOptions = {}): Tensor => {
  const op = "uniform";
  expectKey(op, key);
  const s = orThrow(validateShape(op, shape));
  const o = checkOptions(op, options, ["dtype", "low", "high"]);
  const dtype = checkDType(op, o.dtype);
  const low = finiteNumber(op, "low", o.low, 0);
  const high = finiteNumber(op, "high", o.high, 1);
  const r = roundTo(dtype);
  if (!(r(low) < r(high))) throw new ArgumentError(op, "low/high", `must satisfy low < high in ${dtype}, got low ${low} and high ${high}`);
  return fromData(scaleUniform(unitUniform(key, sizeOf(s), dtype), low, high, dtype), s, dtype);
};

// ---- normal --------------------------------------------------------------------------------------------

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erfinv to about float32 accuracy ("Approximating the erfinv function", GPU Computing Gems, 2010; the polynomial XLA uses for f32). */
const erfinvApprox = (x: number): number => {
  let w = -Math.log((1 - x) * (1 + x));
  let p: number;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-8;
    p = 3.43273939e-7 + p * w;
    p = -3.5233877e-6 + p * w;
    p = -4.39150654e-6 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = Math.sqrt(w) - 3;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  return p * x;
};

/** erf(y) for 0 <= y < 3 by the positive series (2/√π) e^{-y²} Σ (2y²)ⁿ y / (1·3···(2n+1)): no cancellation. */
const erfSeries = (y: number): number => {
  const y2 = 2 * y * y;
  let term = y, sum = y;
  for (let n = 1; n < 200; n++) {
    term *= y2 / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-y * y) * sum;
};

/** erfc(y) for y >= 3 by its continued fraction e^{-y²}/√π · 1/(y + (1/2)/(y + 1/(y + (3/2)/(y + ...)))) (modified Lentz). */
const erfcFraction = (y: number): number => {
  const tiny = 1e-300;
  let f = y, c = y, d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = y + a * d;
    d = d === 0 ? 1 / tiny : 1 / d;
    c = y + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-y * y) / Math.sqrt(Math.PI) / f;
};

/** erfinv(x) to double precision: the approximation above, then Halley steps on erf (or erfc in the tail). */
const erfinv64 = (x: number): number => {
  if (x === 0) return 0;
  const a = Math.abs(x);
  const c = 1 - a; // exact for a >= 1/2 (Sterbenz)
  let y = erfinvApprox(a);
  for (let it = 0; it < 4; it++) {
    // f = erf(y) - a = c - erfc(y); f' = (2/√π) e^{-y²}; f''/f' = -2y, so Halley is y -= d / (1 + y d)
    const f = y < 3 ? erfSeries(y) - a : c - erfcFraction(y);
    const d = f / (TWO_OVER_SQRT_PI * Math.exp(-y * y));
    y -= d / (1 + y * d);
    if (Math.abs(d) <= 1e-15 * y) break;
  }
  return x < 0 ? -y : y;
};

/** Options of `normal`: dtype (default float32), mean (default 0) and std (default 1). */
export interface NormalOptions {
  dtype?: DType;
  mean?: number;
  std?: number;
}

/**
 * `normal(key, shape, { dtype, mean = 0, std = 1 })`: mean + std·√2·erfinv(u), u ~ U(-1, 1) (the inverse-CDF
 * method, as `jax.random.normal`; one uniform per value, monotone in u). float32 uses the single-precision erfinv polynomial as XLA
 * does; float64 refines it to double precision.
 */
export const normal = (key: Key, shape: readonly number[], options: NormalOptions = {}): Tensor => {
  const op = "normal";
  expectKey(op, key);
  const s = orThrow(validateShape(op, shape));
  const o = checkOptions(op, options, ["dtype", "mean", "std"]);
  const dtype = checkDType(op, o.dtype);
  const mean = finiteNumber(op, "mean", o.mean, 0);
  const std = finiteNumber(op, "std", o.std, 1);
  if (std < 0) throw new ArgumentError(op, "std", `must be >= 0, got ${std}`);
  const r = roundTo(dtype);
  // JAX: u = uniform(key, shape, dtype, nextafter(-1, 0), 1)
  const low = dtype === "float32" ? -1 + 2 ** -24 : -1 + 2 ** -53;
  const u = scaleUniform(unitUniform(key, sizeOf(s), dtype), low, 1, dtype);
  const out = allocData(dtype, u.length);
  const sqrt2 = r(Math.SQRT2);
  const m = r(mean), sd = r(std);
  if (dtype === "float32") for (let i = 0; i < u.length; i++) out[i] = r(m + r(sd * r(sqrt2 * r(erfinvApprox(u[i]!)))));
  else for (let i = 0; i < u.length; i++) out[i] = m + sd * (sqrt2 * erfinv64(u[i]!));
  return fromData(out, s, dtype);
};

// ---- bernoulli, categorical --------------------------------------------------------------------------

/**
 * `bernoulli(key, p, shape, dtype?)`: 1 with probability p, else 0, as `uniform(key, shape) < p` (JAX's rule).
 * `p` is a number in [0, 1] or a tensor of probabilities that broadcasts to `shape`. Dtype: p's, else float32.
 */
export const bernoulli = (key: Key, p: number | Tensor, shape: readonly number[], dtype?: DType): Tensor => {
  const op = "bernoulli";
  expectKey(op, key);
  const s = orThrow(validateShape(op, shape));
  const dt = dtype === undefined ? (isTensor(p) ? p.dtype : "float32") : checkDType(op, dtype);
  const n = sizeOf(s);
  const u = unitUniform(key, n, dt);
  const out = allocData(dt, n);
  if (isTensor(p)) {
    const b = orThrow(broadcastShapes(op, s, p.shape));
    if (!shapesEqual(b, s)) throw new ShapeError(op, [p.shape, s], `p of shape ${fmtShape(p.shape)} does not broadcast to the sample shape ${fmtShape(s)}`);
    const pd = dataOf(p);
    for (let i = 0; i < pd.length; i++)
      if (!(pd[i]! >= 0 && pd[i]! <= 1)) throw new ArgumentError(op, "p", `must hold probabilities in [0, 1]; entry ${i} is ${pd[i]}`);
    const idx = shapesEqual(p.shape, s) ? null : broadcastIndex(s, p.shape);
    for (let i = 0; i < n; i++) out[i] = u[i]! < pd[idx ? idx[i]! : i]! ? 1 : 0;
  } else {
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new ArgumentError(op, "p", `must be a probability in [0, 1] or a Tensor of them, got ${describe(p)}`);
    for (let i = 0; i < n; i++) out[i] = u[i]! < p ? 1 : 0;
  }
  return fromData(out, s, dt);
};

/**
 * `categorical(key, logits, { axis = -1 })`: one class index per distribution, drawn with probabilities
 * softmax(logits) by the Gumbel-max trick, argmax(logits + g) with g = -log(-log u). Returns the indices as a
 * tensor in logits' dtype with `axis` removed from the shape. No gradient.
 */
export const categorical = (key: Key, logits: Tensor, options: { axis?: number } = {}): Tensor => {
  const op = "categorical";
  expectKey(op, key);
  if (!isTensor(logits)) throw new ArgumentError(op, "logits", `must be a Tensor of unnormalised log-probabilities, got ${describe(logits)}`);
  const o = checkOptions(op, options, ["axis"]);
  if (logits.shape.length === 0) throw new ShapeError(op, [logits.shape], "logits must have at least one axis (the classes), got a scalar");
  const axis = orThrow(normAxis(op, (o.axis as number | undefined) ?? -1, logits.shape.length, logits.shape));
  const shape = logits.shape;
  const k = shape[axis]!;
  const outShape = shape.filter((_, i) => i !== axis);
  if (k === 0) throw new ShapeError(op, [shape], `axis ${axis} (the classes) has size 0 in ${fmtShape(shape)}`);
  const x = dataOf(logits);
  for (let i = 0; i < x.length; i++)
    if (Number.isNaN(x[i]!) || x[i] === Infinity) throw new ArgumentError(op, "logits", `must not contain NaN or +Infinity; flat entry ${i} is ${x[i]}`);
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  const dtype = logits.dtype;
  const r = roundTo(dtype);
  // JAX: gumbel = -log(-log(uniform(key, logits.shape, dtype, tiny, 1)))
  const tiny = dtype === "float32" ? 2 ** -126 : 2 ** -1022;
  const u = scaleUniform(unitUniform(key, x.length, dtype), tiny, 1, dtype);
  const out = allocData(dtype, outer * inner);
  for (let a = 0; a < outer; a++)
    for (let b = 0; b < inner; b++) {
      let best = 0, bv = -Infinity;
      for (let c = 0; c < k; c++) {
        const i = (a * k + c) * inner + b;
        const v = r(x[i]! + r(-Math.log(r(-Math.log(u[i]!)))));
        if (v > bv) {
          bv = v;
          best = c;
        }
      }
      out[a * inner + b] = best;
    }
  return fromData(out, outShape, dtype);
};

// ---- integers: randint, permutation -------------------------------------------------------------------

const TWO53 = 2 ** 53;

/**
 * An unbiased integer in [0, span) for slot `i`: a 53-bit word from threefry(key, (attempt, i)), rejected
 * (attempt + 1) when it falls in the incomplete last block of size 2⁵³ mod span.
 */
const uniformInt = (key: Key, i: number, span: number, first: Uint32Array | null, scratch: Uint32Array): number => {
  const limit = TWO53 - (TWO53 % span);
  for (let attempt = 0; ; attempt++) {
    let w0: number, w1: number;
    if (attempt === 0 && first) {
      w0 = first[2 * i]!;
      w1 = first[2 * i + 1]!;
    } else {
      block(key.words[0], key.words[1], attempt, i, scratch, 0);
      w0 = scratch[0]!;
      w1 = scratch[1]!;
    }
    const x = (w0 >>> 5) * 2 ** 26 + (w1 >>> 6);
    if (x < limit) return x % span;
  }
};

/** `randint(key, shape, low, high, dtype = 'float32')`: uniform integers in [low, high), unbiased, as floats. */
export const randint = (key: Key, shape: readonly number[], low: number, high: number, dtype: DType = "float32"): Tensor => {
  const op = "randint";
  expectKey(op, key);
  const s = orThrow(validateShape(op, shape));
  const dt = checkDType(op, dtype);
  const bound = dt === "float32" ? 2 ** 24 : TWO53;
  for (const [name, v] of [["low", low], ["high", high]] as const)
    if (typeof v !== "number" || !Number.isInteger(v) || Math.abs(v) > bound)
      throw new ArgumentError(op, name, `must be an integer with |${name}| <= 2^${dt === "float32" ? 24 : 53} (exact in ${dt}), got ${describe(v)}`);
  if (!(low < high)) throw new ArgumentError(op, "low/high", `must satisfy low < high, got low ${low} and high ${high}`);
  const span = high - low;
  if (span > TWO53) throw new ArgumentError(op, "low/high", `span high - low = ${span} exceeds 2^53`);
  const n = sizeOf(s);
  const first = blocks(key, n);
  const scratch = new Uint32Array(2);
  const out = allocData(dt, n);
  for (let i = 0; i < n; i++) out[i] = low + uniformInt(key, i, span, first, scratch);
  return fromData(out, s, dt);
};

/** `permutation(key, n)`: a uniformly random ordering of 0..n-1 (Fisher–Yates; step k swaps i = n-1-k with j ~ U{0..i}). */
export const permutation = (key: Key, n: number): number[] => {
  const op = "permutation";
  expectKey(op, key);
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1)
    throw new ArgumentError(op, "n", `must be a non-negative integer, got ${describe(n)}`);
  const perm = Array.from({ length: n }, (_, i) => i);
  const steps = Math.max(0, n - 1);
  const first = blocks(key, steps);
  const scratch = new Uint32Array(2);
  for (let k = 0; k < steps; k++) {
    const i = n - 1 - k;
    const j = uniformInt(key, k, i + 1, first, scratch);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
};
