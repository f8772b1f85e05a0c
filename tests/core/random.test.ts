import { describe, expect, it } from "vitest";
import {
  bernoulli, categorical, foldIn, isKey, normal, permutation, randint, randomBits, randomKey, splitKey, threefry2x32, uniform, type Key,
} from "../../core/random.js";
import { tensor, type Tensor } from "../../core/tensor.js";
import { ArgumentError, ShapeError } from "../../core/errors.js";

// Statistical bounds: every sample below is drawn from a fixed key, so a test either always passes or always
// fails; the bounds are stated so that a correct generator fails with probability about 1e-6 for a random key
// (5 standard errors, or the 1 - 1e-6 quantile of chi-square: df 3 → 30.66, df 5 → 35.89, df 9 → 44.81).
const CHI2_1E6: Record<number, number> = { 3: 30.66, 5: 35.89, 9: 44.81 };

const meanOf = (xs: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
};
const varOf = (xs: ArrayLike<number>): number => {
  const m = meanOf(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i]! - m) ** 2;
  return s / (xs.length - 1);
};
const chiSquare = (counts: readonly number[], probs: readonly number[]): number => {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.reduce((s, c, i) => s + (c - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
};
const words = (k: Key): number[] => [k.words[0], k.words[1]];

/** erf by composite Simpson on 2/√π ∫₀ˣ e^{-t²} dt: an independent, slow reference accurate to ~1e-14 here. */
const erfRef = (x: number): number => {
  const n = 4000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
};

describe("threefry2x32", () => {
  // Random123 tests/kat_vectors, threefry2x32 with 20 rounds; the same three are in JAX's random_test.py.
  it("reproduces Random123's known answers for key (0,0) and counter (0,0)", () => {
    expect(threefry2x32([0, 0], [0, 0])).toEqual([0x6b200159, 0x99ba4efe]);
  });
  it("reproduces Random123's known answers for all-ones key and counter", () => {
    expect(threefry2x32([0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).toEqual([0x1cb996fc, 0xbb002be7]);
  });
  it("reproduces Random123's known answers for the digits-of-pi key and counter", () => {
    expect(threefry2x32([0x13198a2e, 0x03707344], [0x243f6a88, 0x85a308d3])).toEqual([0xc4923a9c, 0x483df7a0]);
  });
});

describe("keys", () => {
  it("makes the key [seed >> 32, seed & 0xffffffff] like jax.random.key", () => {
    expect(words(randomKey(0))).toEqual([0, 0]);
    expect(words(randomKey(42))).toEqual([0, 42]);
    expect(words(randomKey(2 ** 32 + 5))).toEqual([1, 5]);
    expect(words(randomKey(Number.MAX_SAFE_INTEGER))).toEqual([2 ** 21 - 1, 0xffffffff]);
  });

  it("refuses seeds that are negative, fractional, unsafe or not numbers, naming the seed", () => {
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53, "3", null, undefined]) {
      const f = () => randomKey(bad as number);
      expect(f).toThrow(ArgumentError);
      expect(f).toThrow(/randomKey: seed must be a non-negative safe integer/);
    }
  });

  it("freezes keys so nobody can change one after it is made", () => {
    const k = randomKey(7);
    expect(Object.isFrozen(k)).toBe(true);
    expect(Object.isFrozen(k.words)).toBe(true);
    expect(() => {
      (k.words as unknown as number[])[0] = 1;
    }).toThrow(TypeError);
    expect(words(k)).toEqual([0, 7]);
  });

  it("recognises keys and rejects look-alikes", () => {
    expect(isKey(randomKey(1))).toBe(true);
    expect(isKey(splitKey(randomKey(1))[0])).toBe(true);
    expect(isKey({ kind: "seqgrad.key", words: [1, 2] })).toBe(true);
    for (const bad of [null, 3, [0, 1], { words: [0, 1] }, { kind: "seqgrad.key", words: [0] }, { kind: "seqgrad.key", words: [-1, 0] }])
      expect(isKey(bad)).toBe(false);
  });

  it("splits keys exactly as jax.random.split does (values printed by JAX for key(42) and key(0))", () => {
    expect(splitKey(randomKey(42)).map(words)).toEqual([
      [1832780943, 270669613],
      [64467757, 2916123636],
    ]);
    expect(splitKey(randomKey(0)).map(words)).toEqual([
      [1797259609, 2579123966],
      [928981903, 3453687069],
    ]);
  });

  it("gives the first keys of a larger split equal to a smaller split (key i depends only on i)", () => {
    const k = randomKey(3);
    expect(splitKey(k, 5).slice(0, 2).map(words)).toEqual(splitKey(k, 2).map(words));
    expect(splitKey(k, 0)).toEqual([]);
  });

  it("folds data in as the counter (⌊d / 2³²⌋, d mod 2³²), so foldIn(key, i) is the i-th split key", () => {
    const k = randomKey(11);
    const split = splitKey(k, 4).map(words);
    for (let i = 0; i < 4; i++) expect(words(foldIn(k, i))).toEqual(split[i]);
    expect(words(foldIn(randomKey(0), 0))).toEqual(threefry2x32([0, 0], [0, 0]));
    expect(words(foldIn(k, 2 ** 32 + 1))).toEqual(threefry2x32([0, 11], [1, 1]));
  });

  it("never hands back the parent key from a split or a fold", () => {
    for (const seed of [0, 1, 42, 123456789]) {
      const k = randomKey(seed);
      const derived = [...splitKey(k, 8), foldIn(k, 0), foldIn(k, 99)].map((d) => d.words.join(","));
      expect(derived).not.toContain(k.words.join(","));
      expect(new Set(derived.slice(0, 8)).size).toBe(8);
    }
  });

  it("refuses a bad split count, bad fold data and a missing key with messages naming the argument", () => {
    const k = randomKey(0);
    expect(() => splitKey(k, -1)).toThrow(/splitKey: n must be a non-negative integer/);
    expect(() => splitKey(k, 1.5)).toThrow(ArgumentError);
    expect(() => foldIn(k, -3)).toThrow(/foldIn: data must be a non-negative safe integer/);
    expect(() => splitKey(5 as unknown as Key)).toThrow(/splitKey: key must be a PRNG key .*randomKey\(5\)/);
    expect(() => uniform([0, 1] as unknown as Key, [2])).toThrow(/uniform: key must be a PRNG key/);
  });

  it("refuses misspelt options and a bare array where the options go", () => {
    const k = randomKey(0);
    expect(() => normal(k, [2], { stddev: 2 } as never)).toThrow('normal: options has an unknown key "stddev"; known: dtype, mean, std');
    expect(() => uniform(k, [2], [0, 1] as never)).toThrow("uniform: options must be an object like { dtype, low, high }, got an array of length 2");
    expect(normal(k, [2], { std: 2 }).shape).toEqual([2]);
  });
});

describe("uniform", () => {
  it("produces the same bits as jax.random.bits(key(0), (3,))", () => {
    expect(Array.from(randomBits(randomKey(0), 3))).toEqual([4070199207, 4202968722, 1427181096]);
  });

  it("produces the float32 values of jax.random.uniform for key(0) and key(42) (as computed by @jax-js/jax)", () => {
    expect(uniform(randomKey(0), [4]).toFlatArray()).toEqual([0.9476670026779175, 0.9785798788070679, 0.33229148387908936, 0.46866846084594727]);
    expect(uniform(randomKey(42), [3]).toFlatArray()).toEqual([0.48870956897735596, 0.6797971725463867, 0.6162714958190918]);
  });

  it("gives the same numbers for the same key and different numbers for different keys", () => {
    const a = uniform(randomKey(5), [1000]).toFlatArray();
    expect(uniform(randomKey(5), [1000]).toFlatArray()).toEqual(a);
    const b = uniform(randomKey(6), [1000]).toFlatArray();
    expect(a.filter((v, i) => v === b[i]).length).toBeLessThan(5);
  });

  it("keeps element i independent of the shape: a larger draw starts with the smaller one", () => {
    const k = randomKey(9);
    expect(uniform(k, [2, 5]).toFlatArray().slice(0, 7)).toEqual(uniform(k, [7]).toFlatArray());
  });

  it("has mean 1/2 and variance 1/12 over 100,000 float32 draws (within 5 standard errors)", () => {
    const n = 100_000;
    const u = uniform(randomKey(2024), [n]).toTypedArray();
    expect(Math.abs(meanOf(u) - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    // sd of the sample variance of U(0,1) is sqrt((1/80 - 1/144) / n)
    expect(Math.abs(varOf(u) - 1 / 12)).toBeLessThan(5 * Math.sqrt((1 / 80 - 1 / 144) / n));
  });

  it("fills ten equal bins evenly (chi-square with 9 df below its 1 - 1e-6 quantile 44.81), in float64 too", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const u = uniform(randomKey(77), [50_000], { dtype }).toTypedArray();
      const counts = new Array<number>(10).fill(0);
      for (const v of u) counts[Math.floor(v * 10)]!++;
      expect(chiSquare(counts, new Array(10).fill(0.1))).toBeLessThan(CHI2_1E6[9]!);
    }
  });

  it("stays inside [low, high) even when rounding would reach high", () => {
    const u = uniform(randomKey(1), [20_000], { low: -2, high: 3 }).toTypedArray();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(3);
    // a one-ulp-wide float32 interval: low + u·span rounds to high for about half the draws without the guard
    const high = Math.fround(1 + 2 ** -23);
    const v = uniform(randomKey(1), [1000], { low: 1, high }).toTypedArray();
    for (const x of v) expect(x).toBe(1);
  });

  it("uses 52 bits in float64, so its values are not all float32 numbers", () => {
    const u = uniform(randomKey(3), [100], { dtype: "float64" });
    expect(u.dtype).toBe("float64");
    expect(u.toFlatArray().filter((x) => Math.fround(x) !== x).length).toBeGreaterThan(90);
  });

  it("returns a scalar for shape [] and an empty tensor for a zero dimension", () => {
    expect(uniform(randomKey(0), []).shape).toEqual([]);
    expect(uniform(randomKey(0), [3, 0]).size).toBe(0);
  });

  it("refuses an empty range, bad bounds, bad dtypes and bad shapes, naming each", () => {
    const k = randomKey(0);
    expect(() => uniform(k, [2], { low: 1, high: 1 })).toThrow(/uniform: low\/high must satisfy low < high/);
    expect(() => uniform(k, [2], { low: NaN })).toThrow(/uniform: low must be a finite number/);
    expect(() => uniform(k, [2], { dtype: "int32" as never })).toThrow(/uniform: dtype must be 'float32' or 'float64'/);
    expect(() => uniform(k, [2, -1])).toThrow(ShapeError);
    expect(() => uniform(k, [2, -1])).toThrow(/shape\[1\] must be a non-negative integer/);
  });
});

describe("normal", () => {
  it("matches jax.random.normal for the two keys split from key(42) (values printed by JAX: 0.0759255, -0.486343; 0.605764)", () => {
    const [k1, k2] = splitKey(randomKey(42)) as [Key, Key];
    const a = normal(k1, [2]).toFlatArray();
    expect(Math.abs(a[0]! - 0.0759255)).toBeLessThan(2e-6);
    expect(Math.abs(a[1]! - -0.486343)).toBeLessThan(2e-6);
    expect(Math.abs(normal(k2, []).item() - 0.605764)).toBeLessThan(2e-6);
  });

  it("has mean 0 and variance 1 over 100,000 draws in both dtypes (within 5 standard errors)", () => {
    const n = 100_000;
    for (const dtype of ["float32", "float64"] as const) {
      const z = normal(randomKey(31), [n], { dtype }).toTypedArray();
      expect(Math.abs(meanOf(z))).toBeLessThan(5 / Math.sqrt(n));
      expect(Math.abs(varOf(z) - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
      // P(|z| < 1) = erf(1/√2) = 0.682689...
      const p = 0.6826894921370859;
      const inside = z.filter((v) => Math.abs(v) < 1).length / n;
      expect(Math.abs(inside - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it("shifts and scales by mean and std", () => {
    const n = 50_000;
    const z = normal(randomKey(8), [n], { mean: 3, std: 2, dtype: "float64" }).toTypedArray();
    expect(Math.abs(meanOf(z) - 3)).toBeLessThan((5 * 2) / Math.sqrt(n));
    expect(Math.abs(varOf(z) - 4)).toBeLessThan(5 * 4 * Math.sqrt(2 / n));
    expect(new Set(normal(randomKey(8), [10], { mean: -1, std: 0 }).toFlatArray())).toEqual(new Set([-1]));
  });

  it("is the exact inverse normal CDF in float64: erf(z/√2) gives back the uniform it came from to 1e-12", () => {
    // normal draws u ~ U[nextafter(-1, 0), 1) from the same key, then z = √2 erfinv(u)
    const k = randomKey(1234);
    const u = uniform(k, [200], { dtype: "float64", low: -1 + 2 ** -53, high: 1 }).toFlatArray();
    const z = normal(k, [200], { dtype: "float64" }).toFlatArray();
    let worst = 0;
    z.forEach((zi, i) => (worst = Math.max(worst, Math.abs(erfRef(zi / Math.SQRT2) - u[i]!))));
    expect(worst).toBeLessThan(1e-12);
  });

  it("is the inverse normal CDF to float32 accuracy in float32", () => {
    const k = randomKey(99);
    const u = uniform(k, [200], { low: -1 + 2 ** -24, high: 1 }).toFlatArray();
    const z = normal(k, [200]).toFlatArray();
    let worst = 0;
    z.forEach((zi, i) => (worst = Math.max(worst, Math.abs(erfRef(zi / Math.SQRT2) - u[i]!))));
    expect(worst).toBeLessThan(1e-6);
  });

  it("is the same for the same key and independent across split keys (correlation within 5/√n)", () => {
    const n = 100_000;
    const [a, b] = splitKey(randomKey(55)) as [Key, Key];
    expect(normal(a, [50]).toFlatArray()).toEqual(normal(a, [50]).toFlatArray());
    const x = normal(a, [n], { dtype: "float64" }).toTypedArray();
    const y = normal(b, [n], { dtype: "float64" }).toTypedArray();
    let sxy = 0;
    for (let i = 0; i < n; i++) sxy += x[i]! * y[i]!;
    const corr = (sxy / n - meanOf(x) * meanOf(y)) / Math.sqrt(varOf(x) * varOf(y));
    expect(Math.abs(corr)).toBeLessThan(5 / Math.sqrt(n));
  });

  it("refuses a negative std, naming it", () => {
    expect(() => normal(randomKey(0), [2], { std: -1 })).toThrow(/normal: std must be >= 0/);
  });
});

describe("bernoulli", () => {
  it("gives 0/1 values with frequency p over 100,000 draws (within 5 standard errors)", () => {
    const n = 100_000;
    const b = bernoulli(randomKey(4), 0.3, [n]).toTypedArray();
    expect(b.every((v) => v === 0 || v === 1)).toBe(true);
    expect(Math.abs(meanOf(b) - 0.3)).toBeLessThan(5 * Math.sqrt((0.3 * 0.7) / n));
  });

  it("never fires at p = 0 and always fires at p = 1", () => {
    expect(bernoulli(randomKey(4), 0, [1000]).toFlatArray().every((v) => v === 0)).toBe(true);
    expect(bernoulli(randomKey(4), 1, [1000]).toFlatArray().every((v) => v === 1)).toBe(true);
  });

  it("broadcasts a tensor of probabilities over the sample shape and keeps its dtype", () => {
    const n = 40_000;
    const p = tensor([[0.1], [0.5], [0.9]], { dtype: "float64" });
    const b = bernoulli(randomKey(12), p, [3, n]);
    expect(b.dtype).toBe("float64");
    const rows = b.toArray() as number[][];
    [0.1, 0.5, 0.9].forEach((q, r) => expect(Math.abs(meanOf(rows[r]!) - q)).toBeLessThan(5 * Math.sqrt((q * (1 - q)) / n)));
  });

  it("is the same mask for the same key (dropout is reproducible)", () => {
    expect(bernoulli(randomKey(6), 0.5, [64]).toFlatArray()).toEqual(bernoulli(randomKey(6), 0.5, [64]).toFlatArray());
  });

  it("refuses probabilities outside [0, 1] and shapes p cannot broadcast to", () => {
    expect(() => bernoulli(randomKey(0), 1.5, [2])).toThrow(/bernoulli: p must be a probability in \[0, 1\]/);
    expect(() => bernoulli(randomKey(0), NaN, [2])).toThrow(ArgumentError);
    expect(() => bernoulli(randomKey(0), tensor([0.5, -0.1]), [2])).toThrow(/entry 1 is -0\.1/);
    expect(() => bernoulli(randomKey(0), tensor([0.5, 0.5, 0.5]), [2])).toThrow(ShapeError);
    expect(() => bernoulli(randomKey(0), tensor([[0.5], [0.5]]), [2])).toThrow(/does not broadcast to the sample shape \[2\]/);
  });
});

describe("categorical", () => {
  const softmax = (l: number[]) => {
    const m = Math.max(...l);
    const e = l.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };

  it("draws classes with frequencies softmax(logits) (chi-square with 3 df below 30.66, 100,000 draws)", () => {
    const logits = [0.5, -1, 2, 0];
    const n = 100_000;
    for (const dtype of ["float32", "float64"] as const) {
      const rows = tensor(Array.from({ length: n }, () => logits), { dtype });
      const s = categorical(randomKey(21), rows);
      expect(s.shape).toEqual([n]);
      expect(s.dtype).toBe(dtype);
      const counts = [0, 0, 0, 0];
      for (const c of s.toTypedArray()) counts[c]!++;
      expect(chiSquare(counts, softmax(logits))).toBeLessThan(CHI2_1E6[3]!);
    }
  });

  it("samples along another axis when asked and drops that axis from the shape", () => {
    const n = 20_000;
    const logits = [1, 0, -1];
    // classes on axis 0: shape [3, n]
    const cols = tensor(logits.map((l) => new Array(n).fill(l)));
    const s = categorical(randomKey(5), cols, { axis: 0 });
    expect(s.shape).toEqual([n]);
    const counts = [0, 0, 0];
    for (const c of s.toTypedArray()) counts[c]!++;
    expect(chiSquare(counts, softmax(logits))).toBeLessThan(CHI2_1E6[3]!);
    expect(categorical(randomKey(5), tensor([[[0, 1], [2, 3]]]), { axis: 1 }).shape).toEqual([1, 2]);
  });

  it("never picks a class whose logit is -Infinity and always picks a dominant one", () => {
    const s = categorical(randomKey(2), tensor(Array.from({ length: 2000 }, () => [-Infinity, 0, -Infinity]))).toTypedArray();
    expect(s.every((c) => c === 1)).toBe(true);
    expect(categorical(randomKey(2), tensor([[0, 60, 0]])).toFlatArray()).toEqual([1]);
  });

  it("is the same for the same key and differs for a split key", () => {
    const logits = tensor(Array.from({ length: 200 }, () => [0, 0, 0, 0, 0]));
    const a = categorical(randomKey(10), logits).toFlatArray();
    expect(categorical(randomKey(10), logits).toFlatArray()).toEqual(a);
    const b = categorical(splitKey(randomKey(10))[0]!, logits).toFlatArray();
    expect(b).not.toEqual(a);
  });

  it("refuses NaN logits, scalar logits, empty class axes and non-tensors", () => {
    const k = randomKey(0);
    expect(() => categorical(k, tensor([0, NaN]))).toThrow(/categorical: logits must not contain NaN/);
    expect(() => categorical(k, tensor(1))).toThrow(ShapeError);
    expect(() => categorical(k, tensor([[], []]))).toThrow(/has size 0/);
    expect(() => categorical(k, [0, 1] as unknown as Tensor)).toThrow(/categorical: logits must be a Tensor/);
    expect(() => categorical(k, tensor([0, 1]), { axis: 1 })).toThrow(/axis 1 is out of range/);
  });
});

describe("permutation", () => {
  it("returns every index exactly once", () => {
    for (const n of [0, 1, 2, 7, 100]) {
      const p = permutation(randomKey(n), n);
      expect(p.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
  });

  it("draws all 6 orderings of 3 items equally often (chi-square with 5 df below 35.89)", () => {
    const k = randomKey(17);
    const counts = new Map<string, number>();
    const n = 30_000;
    for (let i = 0; i < n; i++) {
      const s = permutation(foldIn(k, i), 3).join("");
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    expect(chiSquare([...counts.values()], new Array(6).fill(1 / 6))).toBeLessThan(CHI2_1E6[5]!);
  });

  it("moves item 0 to each of 10 positions equally often (chi-square with 9 df below 44.81)", () => {
    const k = randomKey(18);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) counts[permutation(foldIn(k, i), 10).indexOf(0)]!++;
    expect(chiSquare(counts, new Array(10).fill(0.1))).toBeLessThan(CHI2_1E6[9]!);
  });

  it("is the same for the same key, so shuffled batches are reproducible", () => {
    expect(permutation(randomKey(3), 50)).toEqual(permutation(randomKey(3), 50));
    expect(permutation(randomKey(3), 50)).not.toEqual(permutation(randomKey(4), 50));
  });

  it("refuses a negative or fractional n", () => {
    expect(() => permutation(randomKey(0), -1)).toThrow(/permutation: n must be a non-negative integer/);
    expect(() => permutation(randomKey(0), 2.5)).toThrow(ArgumentError);
  });
});

describe("randint", () => {
  it("draws integers in [low, high) with equal frequencies (chi-square with 9 df below 44.81)", () => {
    const r = randint(randomKey(40), [50_000], -3, 7).toTypedArray();
    const counts = new Array<number>(10).fill(0);
    expect(r.every((v) => Number.isInteger(v) && v >= -3 && v < 7)).toBe(true);
    for (const v of r) counts[v + 3]!++;
    expect(chiSquare(counts, new Array(10).fill(0.1))).toBeLessThan(CHI2_1E6[9]!);
  });

  it("handles a span that is not a power of two near 2^32 without leaving the range", () => {
    const r = randint(randomKey(41), [1000], 0, 3 * 2 ** 30, "float64").toTypedArray();
    expect(r.every((v) => Number.isInteger(v) && v >= 0 && v < 3 * 2 ** 30)).toBe(true);
    expect(meanOf(r) / (3 * 2 ** 30)).toBeGreaterThan(0.4);
  });

  it("refuses bounds that are not integers, an empty range, and float32 bounds beyond 2^24", () => {
    const k = randomKey(0);
    expect(() => randint(k, [2], 0, 0)).toThrow(/randint: low\/high must satisfy low < high/);
    expect(() => randint(k, [2], 0.5, 3)).toThrow(/randint: low must be an integer/);
    expect(() => randint(k, [2], 0, 2 ** 25)).toThrow(/exact in float32/);
  });
});
