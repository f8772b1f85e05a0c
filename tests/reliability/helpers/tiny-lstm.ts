/**
 * A tiny LSTM for the long-sequence and soak tests, and an independent reference: the forward pass and BPTT
 * written by hand in plain numbers (no seqgrad op), in the course's notation and the library's layout
 * (W [4H, H + D] with rows u, f, c̃, o and columns [a<t-1>; x<t>], b [4H]).
 */

/** Deterministic inputs x<t>[b][d] = 0.8·sin(0.37·t + 1.3·b + 0.7·d): the same numbers in every process. */
export const inputAt = (t: number, b: number, d: number): number => 0.8 * Math.sin(0.37 * t + 1.3 * b + 0.7 * d);

/** Deterministic weights in ±0.5 (a fixed hash, not a PRNG, so the reference needs nothing of ours). */
export const weightAt = (i: number): number => 0.5 * Math.sin(12.9898 * (i + 1) + 78.233 * Math.sin(i + 0.5));

/** The loss read-out r[h]: L = Σ_t Σ_b Σ_h r[h] a<t>[b][h]. */
export const readoutAt = (h: number): number => 1 - 0.3 * h;

const sigma = (z: number): number => 1 / (1 + Math.exp(-z));

/** Reference BPTT for L = Σ_t Σ_b r·a<t>[b]: returns L and ∂L/∂W (row-major [4H, H + D]) and ∂L/∂b [4H]. */
export const referenceGrads = (T: number, B: number, D: number, H: number): { loss: number; dW: Float64Array; db: Float64Array } => {
  const cols = H + D;
  const W = Float64Array.from({ length: 4 * H * cols }, (_, i) => weightAt(i));
  const bias = Float64Array.from({ length: 4 * H }, (_, i) => weightAt(10_000 + i));
  const r = Float64Array.from({ length: H }, (_, h) => readoutAt(h));
  // per step and batch row: v = [a<t-1>; x<t>], gates (u, f, c̃, o), c<t-1>, c<t>
  const V = new Float64Array(T * B * cols), G = new Float64Array(T * B * 4 * H), Cprev = new Float64Array(T * B * H), C = new Float64Array(T * B * H);
  const a = new Float64Array(B * H), c = new Float64Array(B * H);
  let loss = 0;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const v = V.subarray((t * B + b) * cols, (t * B + b + 1) * cols);
      for (let h = 0; h < H; h++) v[h] = a[b * H + h]!;
      for (let d = 0; d < D; d++) v[H + d] = inputAt(t, b, d);
      const g = G.subarray((t * B + b) * 4 * H, (t * B + b + 1) * 4 * H);
      for (let j = 0; j < 4 * H; j++) {
        let z = bias[j]!;
        for (let k = 0; k < cols; k++) z += W[j * cols + k]! * v[k]!;
        g[j] = j >= 2 * H && j < 3 * H ? Math.tanh(z) : sigma(z);
      }
      for (let h = 0; h < H; h++) {
        const i = b * H + h;
        Cprev[(t * B + b) * H + h] = c[i]!;
        c[i] = g[h]! * g[2 * H + h]! + g[H + h]! * c[i]!;
        C[(t * B + b) * H + h] = c[i]!;
        a[i] = g[3 * H + h]! * Math.tanh(c[i]!);
        loss += r[h]! * a[i]!;
      }
    }
  }
  const dW = new Float64Array(W.length), db = new Float64Array(bias.length);
  const da = new Float64Array(B * H), dc = new Float64Array(B * H), dz = new Float64Array(4 * H);
  for (let t = T - 1; t >= 0; t--) {
    for (let b = 0; b < B; b++) {
      const v = V.subarray((t * B + b) * cols, (t * B + b + 1) * cols);
      const g = G.subarray((t * B + b) * 4 * H, (t * B + b + 1) * 4 * H);
      for (let h = 0; h < H; h++) {
        const i = b * H + h;
        const dA = da[i]! + r[h]!; // from the read-out and from step t+1
        const gu = g[h]!, gf = g[H + h]!, ct = g[2 * H + h]!, go = g[3 * H + h]!;
        const tc = Math.tanh(C[(t * B + b) * H + h]!);
        const dC = dc[i]! + dA * go * (1 - tc * tc);
        dz[h] = dC * ct * gu * (1 - gu);
        dz[H + h] = dC * Cprev[(t * B + b) * H + h]! * gf * (1 - gf);
        dz[2 * H + h] = dC * gu * (1 - ct * ct);
        dz[3 * H + h] = dA * tc * go * (1 - go);
        dc[i] = dC * gf;
      }
      for (let h = 0; h < H; h++) da[b * H + h] = 0;
      for (let j = 0; j < 4 * H; j++) {
        const d = dz[j]!;
        db[j] = db[j]! + d;
        for (let k = 0; k < cols; k++) dW[j * cols + k] = dW[j * cols + k]! + d * v[k]!;
        for (let h = 0; h < H; h++) da[b * H + h] = da[b * H + h]! + W[j * cols + h]! * d;
      }
    }
  }
  return { loss, dW, db };
};
