/**
 * Initializers: functions `(key, shape, dtype?) => Tensor`, all drawn from explicit PRNG keys (same key, same
 * weights), in float32 (default) or float64.
 */
import { ArgumentError, ShapeError, fmtShape } from "../core/errors.js";
import { describe, orThrow, sizeOf, validateShape } from "../core/shape.js";
import { allocData, dataOf, fromData, zeros, type DType, type Tensor } from "../core/tensor.js";
import { normal, uniform, type Key } from "../core/random.js";

/** An initializer: weights of `shape` from `key`. */
export type Initializer = (key: Key, shape: readonly number[], dtype?: DType) => Tensor;

/** `zerosInit(key, shape) = 0` (the key is ignored; it is there so every initializer has one signature). */
export const zerosInit: Initializer = (_key, shape, dtype) => zeros(shape, dtype);

/** `normalInit(std = 0.01)(key, shape) ~ N(0, std²)` elementwise. */
export const normalInit = (std = 0.01): Initializer => {
  if (typeof std !== "number" || !Number.isFinite(std) || std < 0) throw new ArgumentError("normalInit", "std", `must be a finite number >= 0, got ${describe(std)}`);
  return (key, shape, dtype) => normal(key, shape, { dtype, std });
};

/** Fan-in and fan-out of a weight shape: [in, out] for a matrix, ∏(leading) · receptive field for higher ranks. */
const fans = (shape: readonly number[]): [number, number] => {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0]!, shape[0]!];
  const receptive = sizeOf(shape.slice(0, -2));
  return [shape[shape.length - 2]! * receptive, shape[shape.length - 1]! * receptive];
};

/** `glorotUniform(key, [fanIn, fanOut]) ~ U(-l, l)` with `l = √(6 / (fanIn + fanOut))` (the fan-average rule, AISTATS 2010). */
export const glorotUniform: Initializer = (key, shape, dtype) => {
  const s = orThrow(validateShape("glorotUniform", shape));
  const [fi, fo] = fans(s);
  if (fi + fo === 0) return zeros(s, dtype);
  const l = Math.sqrt(6 / (fi + fo));
  return uniform(key, s, { dtype, low: -l, high: l });
};

/**
 * `orthogonal(key, [..., rows, cols])`: Q from the QR factorization of a standard normal matrix, with column k
 * multiplied by sign(R_kk) so Q is uniformly (Haar) distributed; WᵀW = I when rows >= cols, WWᵀ = I otherwise.
 * Leading axes are folded into the rows. Computed in float64 by Householder reflections, then rounded to `dtype`.
 */
export const orthogonal: Initializer = (key, shape, dtype = "float32") => {
  const s = orThrow(validateShape("orthogonal", shape));
  if (s.length < 2) throw new ShapeError("orthogonal", [s], `needs a matrix shape (rank >= 2), got ${fmtShape(s)}`);
  const rows = sizeOf(s.slice(0, -1)), cols = s[s.length - 1]!;
  const m = Math.max(rows, cols), n = Math.min(rows, cols);
  const out = allocData(dtype, rows * cols);
  if (n === 0) return fromData(out, s, dtype);
  const q = householderQ(dataOf(normal(key, [m, n], { dtype: "float64" })) as Float64Array, m, n);
  // q is m×n with orthonormal columns; a wide matrix is its transpose
  if (rows >= cols) for (let i = 0; i < m * n; i++) out[i] = q[i]!;
  else for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * m + i] = q[i * n + j]!;
  return fromData(out, s, dtype);
};

/**
 * The m×n (m >= n) Q of A = QR by Householder reflections, columns sign-corrected so diag(R) > 0.
 * `a` is row-major and is not modified.
 */
const householderQ = (a: Float64Array, m: number, n: number): Float64Array => {
  const A = a.slice();
  const vs: Float64Array[] = [];
  const signs = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    // x = A[k:, k]; reflect it onto -sign(x0)·‖x‖·e1 (the sign that avoids cancellation)
    let norm = 0;
    for (let i = k; i < m; i++) norm += A[i * n + k]! ** 2;
    norm = Math.sqrt(norm);
    const x0 = A[k * n + k]!;
    const alpha = x0 >= 0 ? -norm : norm; // R_kk after the reflection
    const v = new Float64Array(m - k);
    for (let i = k; i < m; i++) v[i - k] = A[i * n + k]!;
    v[0] = x0 - alpha;
    let vn = 0;
    for (let i = 0; i < v.length; i++) vn += v[i]! ** 2;
    vn = Math.sqrt(vn);
    if (vn > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / vn;
    vs.push(v);
    signs[k] = alpha < 0 ? -1 : 1;
    // A[k:, k:] -= 2 v (vᵀ A[k:, k:])
    for (let j = k; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i - k]! * A[i * n + j]!;
      for (let i = k; i < m; i++) A[i * n + j] = A[i * n + j]! - 2 * v[i - k]! * dot;
    }
  }
  // Q = H_0 H_1 ... H_{n-1} I[:, :n], applied right to left
  const Q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) Q[j * n + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = vs[k]!;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i - k]! * Q[i * n + j]!;
      for (let i = k; i < m; i++) Q[i * n + j] = Q[i * n + j]! - 2 * v[i - k]! * dot;
    }
  }
  // sign correction: Q[:, k] *= sign(R_kk)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) Q[i * n + j] = Q[i * n + j]! * signs[j]!;
  return Q;
};
