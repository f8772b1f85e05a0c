/**
 * What every implementation in the benchmark shares: the workload descriptions, the deterministic weights and
 * data (the same bit patterns in TypeScript and in `torch_bench.py`), and the message protocol between
 * `run.ts` and its child processes.
 *
 * Weights use the PyTorch state-dict layout (`weight_ih [G·H, V]`, `weight_hh [G·H, H]`, `bias_ih`, `bias_hh`,
 * gate order i, f, g, o for LSTM and r, z, n for GRU) plus a read-out `out_w [V, H]`, `out_b [V]`; each
 * implementation transposes them into its own layout before timing starts.
 */

/** A matmul `[M, K] @ [K, N]` in float32; work = 2·M·K·N flops. */
export interface MatmulWorkload {
  readonly kind: "matmul";
  readonly M: number;
  readonly K: number;
  readonly N: number;
}

/** One character-LM training step: one-hot input, cell over T steps, dense read-out, summed softmax CE, full BPTT, SGD. */
export interface RnnLmWorkload {
  readonly kind: "rnnlm";
  readonly cell: CellKind;
  readonly V: number;
  readonly H: number;
  readonly B: number;
  readonly T: number;
  readonly lr: number;
}

/** A float64 central-difference check of every parameter entry of one LSTM cell step (input D, hidden H, batch B). */
export interface GradcheckWorkload {
  readonly kind: "gradcheck";
  readonly D: number;
  readonly H: number;
  readonly B: number;
  readonly eps: number;
}

export type CellKind = "lstm" | "gru" | "rnn";
export type Workload = MatmulWorkload | RnnLmWorkload | GradcheckWorkload;

/** Number of gate blocks stacked in weight_ih / weight_hh. */
export const gatesOf = (cell: CellKind): number => (cell === "lstm" ? 4 : cell === "gru" ? 3 : 1);

/** The unit of work one step of a workload does, for throughput. */
export const workOf = (w: Workload): { amount: number; unit: string } => {
  if (w.kind === "matmul") return { amount: (2 * w.M * w.K * w.N) / 1e9, unit: "GFLOP/s" };
  if (w.kind === "rnnlm") return { amount: w.B * w.T, unit: "tokens/s" };
  return { amount: gradcheckEntries(w), unit: "entries/s" };
};

/** Entries checked by the gradient-check workload: every entry of weight_ih, weight_hh, bias_ih, bias_hh. */
export const gradcheckEntries = (w: GradcheckWorkload): number => 4 * w.H * (w.D + w.H) + 8 * w.H;

export const workloadName = (w: Workload): string => {
  if (w.kind === "matmul") return w.M === w.K && w.K === w.N ? `matmul ${w.M}³` : `matmul ${w.M}×${w.K}×${w.N}`;
  if (w.kind === "rnnlm") return `${w.cell.toUpperCase()} H=${w.H} (B=${w.B}, T=${w.T}, V=${w.V})`;
  return `gradcheck LSTM cell f64 (D=${w.D}, H=${w.H}, B=${w.B})`;
};

// ---- deterministic values ------------------------------------------------------------------------------------

/** A 32-bit integer hash of (i, salt); the same function is written in torch_bench.py. */
export const hash32 = (i: number, salt: number): number => {
  let h = (Math.imul(i, 0x9e3779b1) + Math.imul(salt, 0x85ebca77) + 0x165667b1) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39) >>> 0;
  h ^= h >>> 15;
  return h >>> 0;
};

/** n values uniform in [-scale, scale): `(2·hash/2³² - 1)·scale`, computed in float64, then stored in the array type. */
export const uniformValues = <A extends Float32Array | Float64Array>(out: A, salt: number, scale: number): A => {
  for (let i = 0; i < out.length; i++) out[i] = (2 * (hash32(i, salt) / 4294967296) - 1) * scale;
  return out;
};

/** Token ids in [0, V): `hash(i, salt) mod V`. */
export const tokenIds = (n: number, V: number, salt: number): Int32Array => {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = hash32(i, salt) % V;
  return out;
};

/** A flat row-major array with its shape. */
export interface Flat<A = Float32Array> {
  readonly data: A;
  readonly shape: readonly number[];
}

/** The recurrent LM's weights in PyTorch layout (float32). */
export interface TorchLmWeights {
  readonly weight_ih: Flat;
  readonly weight_hh: Flat;
  readonly bias_ih: Flat;
  readonly bias_hh: Flat;
  readonly out_w: Flat;
  readonly out_b: Flat;
}

const flat32 = (shape: readonly number[], salt: number, scale: number): Flat => ({
  data: uniformValues(new Float32Array(shape.reduce((a, b) => a * b, 1)), salt, scale),
  shape,
});

/** Weights like PyTorch's default init range U(-1/√H, 1/√H), from fixed salts 1..6. */
export const lmWeights = (w: RnnLmWorkload): TorchLmWeights => {
  const G = gatesOf(w.cell) * w.H, s = 1 / Math.sqrt(w.H);
  return {
    weight_ih: flat32([G, w.V], 1, s),
    weight_hh: flat32([G, w.H], 2, s),
    bias_ih: flat32([G], 3, s),
    bias_hh: flat32([G], 4, s),
    out_w: flat32([w.V, w.H], 5, s),
    out_b: flat32([w.V], 6, s),
  };
};

/** Inputs and next-token targets, time-major `[T, B]`: a sequence of T+1 tokens per batch row, salt 7. */
export const lmData = (w: RnnLmWorkload): { inputs: Int32Array; targets: Int32Array } => {
  const seq = tokenIds((w.T + 1) * w.B, w.V, 7); // seq[t*B + b]
  return { inputs: seq.slice(0, w.T * w.B), targets: seq.slice(w.B, (w.T + 1) * w.B) };
};

/** Matmul operands: A [M,K] salt 11, B [K,N] salt 12, values in [-1, 1). */
export const matmulOperands = (w: MatmulWorkload): { a: Float32Array; b: Float32Array } => ({
  a: uniformValues(new Float32Array(w.M * w.K), 11, 1),
  b: uniformValues(new Float32Array(w.K * w.N), 12, 1),
});

/** The gradient-check problem in float64: LSTM cell weights (salts 21..24), x (25), a0 (26), c0 (27), read-outs Ra (28), Rc (29). */
export const gradcheckData = (w: GradcheckWorkload) => {
  const G = 4 * w.H, s = 1 / Math.sqrt(w.H);
  const f64 = (shape: number[], salt: number, scale: number): Flat<Float64Array> => ({
    data: uniformValues(new Float64Array(shape.reduce((a, b) => a * b, 1)), salt, scale),
    shape,
  });
  return {
    weight_ih: f64([G, w.D], 21, s),
    weight_hh: f64([G, w.H], 22, s),
    bias_ih: f64([G], 23, s),
    bias_hh: f64([G], 24, s),
    x: f64([w.B, w.D], 25, 1),
    a0: f64([w.B, w.H], 26, 1),
    c0: f64([w.B, w.H], 27, 1),
    ra: f64([w.B, w.H], 28, 1),
    rc: f64([w.B, w.H], 29, 1),
  };
};

/** Row-major transpose of a 2-D flat array `[r, c]` into `[c, r]`. */
export const transpose2d = <A extends Float32Array | Float64Array>(x: A, r: number, c: number): A => {
  const out = new (x.constructor as { new (n: number): A })(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j]!;
  return out;
};

// ---- the protocol between run.ts and a child -----------------------------------------------------------------

/** Parent → child. */
export type Request =
  /**
   * Build the workload's runner and warm it up: two steps (compilation, jit tracing), then more until
   * `warmupSeconds` have passed in all, so that every implementation is timed in its steady state (a fresh
   * process's heap and allocator keep growing for the first seconds of a training loop).
   */
  | { readonly cmd: "setup"; readonly workload: Workload; readonly warmupSeconds: number }
  /** Run steps until `seconds` have passed (at least one step). */
  | { readonly cmd: "round"; readonly seconds: number }
  | { readonly cmd: "rss" }
  | { readonly cmd: "exit" };

/** Child → parent. */
export type Reply =
  | { readonly ok: true; readonly kind: "hello"; readonly impl: string; readonly info: Record<string, string>; readonly rssKB: number }
  | { readonly ok: true; readonly kind: "setup"; readonly initialLoss: number | null; readonly work?: number; readonly firstStepSeconds: number; readonly warmupSeconds: number; readonly warmupSteps: number; readonly note?: string }
  /** minorFaults: the process's minor page faults during the round (fresh memory pages touched; see run.ts). */
  | { readonly ok: true; readonly kind: "round"; readonly seconds: number; readonly reps: number; readonly loss: number | null; readonly detail?: string; readonly minorFaults?: number }
  | { readonly ok: true; readonly kind: "rss"; readonly maxRssKB: number; readonly rssKB: number }
  | { readonly ok: false; readonly error: string };

/** What a peer module provides for one workload: a step to time and, when it has one, the loss of the fixed initial weights. */
export interface Runner {
  /** The loss (or check result) on the fixed initial weights, computed before any update; null for matmul. */
  readonly initialLoss: number | null;
  /** Work per step when it differs from the workload's (a gradient check over a differently laid out θ). */
  readonly work?: number;
  /** One unit of work. Resolves when its result is materialized (read back). */
  step(): void | Promise<void>;
  /** The loss of the last step, when the workload has one. */
  lastLoss?(): number | null;
  /** A short note shown in the table (e.g. which API was used). */
  readonly note?: string;
  /** Extra result of the last step worth printing (the gradient check's worst relative error). */
  detail?(): string;
}

/**
 * Warms a runner up: a first step (compilation, jit tracing), then more until `seconds` have passed in all, at
 * least two steps, so that it is timed in its steady state (a fresh process's heap and allocator keep growing for
 * its first seconds). bench/torch_bench.py follows the same rule.
 */
export const warmUp = async (r: Runner, seconds: number): Promise<{ firstStepSeconds: number; warmupSeconds: number; warmupSteps: number }> => {
  const t0 = performance.now();
  await r.step();
  const firstStepSeconds = (performance.now() - t0) / 1000;
  let warmupSteps = 1;
  do {
    await r.step();
    warmupSteps++;
  } while (performance.now() - t0 < seconds * 1000);
  return { firstStepSeconds, warmupSeconds: (performance.now() - t0) / 1000, warmupSteps };
};

/** A peer: builds a runner for a workload, or says why it does not run it. */
export type Peer = (w: Workload) => Promise<Runner | { skip: string }>;

// ---- statistics ----------------------------------------------------------------------------------------------

export const median = (xs: readonly number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

/**
 * The command line as the JSON records it: without `--out <file>`, which says only where the file was written
 * (a results file is committed, and the path where one machine wrote it means nothing elsewhere).
 */
export const recordedCommand = (args: readonly string[]): string => {
  const kept = args.filter((a, i) => a !== "--out" && args[i - 1] !== "--out" && !a.startsWith("--out="));
  return `npm run bench --${kept.length ? " " + kept.join(" ") : ""}`;
};
