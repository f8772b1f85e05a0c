/**
 * The one training loop every model uses. It is generic over the model: the caller gives parameters (any
 * tree), a scalar `lossFn(params, batch, key)`, an optimizer, and the batches; the loop does the rest:
 *
 *   for each epoch e:   k_e = foldIn(key, e);  batches = batchesFn(foldIn(k_e, 0), e)
 *     for each batch i: g = ∇ lossFn(params, batch_i, foldIn(foldIn(k_e, 1), i));  g ← clip(g);  params ← update(g)
 *     evaluate (validation loss), early-stop bookkeeping, progress, loss curve, checkpoint
 *
 * Every key depends only on (key, epoch, batch index), never on how many epochs ran before, so resuming from
 * the checkpoint of epoch e with the same key replays exactly the steps the uninterrupted run would take,
 * and the parameters agree bit for bit. A checkpoint holds params, optimizer state (and the best params when
 * early stopping restores them) as safetensors tensors; the loop's own state (history, early-stop counters,
 * the key) is JSON in the metadata under `train.state`, beside whatever the caller adds (vocabulary, config).
 */
import { ArgumentError } from "../core/errors.js";
import { describe, optionsObject } from "../core/shape.js";
import type { Tensor } from "../core/tensor.js";
import { foldIn, isKey, type Key } from "../core/random.js";
import { valueAndGrad } from "../autograd/transforms.js";
import { assertTensorTree, type Tree } from "../autograd/tree.js";
import { clipByGlobalNorm, globalNorm } from "../layers/clip.js";
import type { Optimizer } from "../layers/optimizers.js";
import { loadCheckpoint, saveCheckpoint, type CheckpointMetadata } from "./checkpoint.js";
import { lossCurveSvg } from "./plot.js";

/** What `evalFn` returns: a validation loss (lower is better) and optional extra metrics to log. */
export interface EvalResult {
  readonly loss: number;
  readonly metrics?: Readonly<Record<string, number>>;
}

/** Stop when the monitored loss (validation if `evalFn` is given, else training) has not improved for `patience` epochs. */
export interface EarlyStopOptions {
  readonly patience: number;
  /** An improvement must beat the best loss by more than this (default 0). */
  readonly minDelta?: number;
  /** Return the parameters of the best epoch rather than the last (default true). */
  readonly restoreBest?: boolean;
}

export interface TrainCheckpointOptions {
  /** Where to write the checkpoint (safetensors, written atomically). */
  readonly path: string;
  /** Write every this many epochs (default 1); the last epoch is always written. */
  readonly every?: number;
  /** Extra string metadata stored beside the tensors (vocabulary, model config...). The key `train.state` is the loop's. */
  readonly metadata?: CheckpointMetadata;
}

/** One finished epoch. */
export interface EpochRecord {
  /** 1-based epoch number. */
  readonly epoch: number;
  /** Mean of the batch losses of this epoch. */
  readonly trainLoss: number;
  /** `evalFn`'s loss after this epoch. */
  readonly validLoss?: number;
  readonly metrics?: Readonly<Record<string, number>>;
  /** Mean global gradient norm before clipping. */
  readonly gradNorm: number;
  /** Batches whose gradient was clipped. */
  readonly clipped: number;
  readonly steps: number;
  readonly seconds: number;
  /** Tokens per second of training (when `tokensOf` is given). */
  readonly tokensPerSecond?: number;
  /** True when this epoch set a new best monitored loss. */
  readonly best: boolean;
}

export interface TrainOptions<P extends object, S, B> {
  /** The initial parameters (any tensor tree). Ignored when resuming: the checkpoint's are used. */
  readonly params: P;
  readonly optimizer: Optimizer<S>;
  /** The scalar to minimise for one batch; `key` is this step's own key (dropout, sampling). */
  readonly lossFn: (params: P, batch: B, key: Key) => Tensor;
  /** The batches of every epoch, or a function of the epoch's key making them (shuffling). */
  readonly batches: readonly B[] | ((key: Key, epoch: number) => readonly B[]);
  /** Train until this many epochs in total have run (a resumed run continues up to it). */
  readonly epochs: number;
  readonly key: Key;
  /** Clip the gradient to this global norm, `g · c / max(‖g‖, c)` (default: no clipping). */
  readonly clip?: number;
  /** Validation after each epoch: a loss (lower is better) or `{ loss, metrics }`. */
  readonly evalFn?: (params: P, epoch: number) => number | EvalResult;
  readonly earlyStop?: EarlyStopOptions;
  /** Called after each epoch (after evaluation and checkpointing). */
  readonly onEpoch?: (record: EpochRecord) => void;
  /** A progress bar on stderr: `'auto'` (default) shows it only on a TTY and never under a test runner or CI. */
  readonly progress?: boolean | "auto";
  /** Label at the start of the progress bar (default "train"). */
  readonly label?: string;
  readonly checkpoint?: TrainCheckpointOptions;
  /** Resume from this checkpoint file (written by `train`). The key must be the one the run started with. */
  readonly resume?: string;
  /** Write the loss curve as SVG to this path after every epoch. */
  readonly curve?: string | { readonly path: string; readonly title?: string };
  /** Tokens in a batch, for the tokens/s figure. */
  readonly tokensOf?: (batch: B) => number;
}

/** The loop's own state, stored as JSON in a checkpoint's metadata. */
export interface TrainState {
  readonly version: 1;
  readonly epoch: number;
  readonly key: readonly [number, number];
  readonly optimizer: string;
  readonly history: readonly EpochRecord[];
  readonly stepLosses: readonly number[];
  readonly stepsPerEpoch: readonly number[];
  readonly bestLoss: number | null;
  readonly bestEpoch: number;
  readonly badEpochs: number;
  readonly stopped: boolean;
}

export interface TrainResult<P extends object, S> {
  /** The final parameters (the best epoch's with `earlyStop.restoreBest`). */
  readonly params: P;
  /** The last epoch's parameters (equal to `params` unless the best ones were restored). */
  readonly lastParams: P;
  readonly optState: S;
  readonly history: readonly EpochRecord[];
  readonly stepLosses: readonly number[];
  readonly bestEpoch: number;
  readonly bestLoss: number | null;
  readonly stoppedEarly: boolean;
  readonly state: TrainState;
}

/** A training failure: `epoch` and `step` say where (1-based epoch, 0-based step). */
export class TrainError extends Error {
  override readonly name = "TrainError";
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly detail: string,
  ) {
    super(`train: epoch ${epoch}, step ${step}: ${detail}`);
  }
}

const STATE_KEY = "train.state";

/** A loaded training checkpoint. */
export interface TrainCheckpoint<P extends object = Tree, S = unknown> {
  readonly params: P;
  readonly optState: S;
  readonly best?: P;
  readonly state: TrainState;
  /** The caller's metadata (vocabulary, config...), `train.state` removed. */
  readonly metadata: CheckpointMetadata;
}

/** `loadTrainCheckpoint(path)`: params, optimizer state, loop state and metadata of a checkpoint `train` wrote. */
export const loadTrainCheckpoint = async <P extends object = Tree, S = unknown>(path: string): Promise<TrainCheckpoint<P, S>> => {
  const { tree, metadata } = await loadCheckpoint(path);
  const t = tree as { params?: Tree; optState?: Tree; best?: Tree };
  if (t === null || typeof t !== "object" || t.params === undefined)
    throw new ArgumentError("loadTrainCheckpoint", "path", `${path} is not a training checkpoint (no params subtree); it holds ${describe(tree)}`);
  const raw = metadata[STATE_KEY];
  let state: TrainState;
  try {
    state = JSON.parse(raw ?? "null") as TrainState;
  } catch {
    throw new ArgumentError("loadTrainCheckpoint", "path", `${path} has a malformed ${STATE_KEY} entry`);
  }
  if (state === null || typeof state !== "object" || state.version !== 1 || !Number.isInteger(state.epoch))
    throw new ArgumentError("loadTrainCheckpoint", "path", `${path} has no valid ${STATE_KEY} metadata; it was not written by train()`);
  const rest: CheckpointMetadata = { ...metadata };
  delete rest[STATE_KEY];
  return { params: t.params as P, optState: (t.optState ?? {}) as S, ...(t.best !== undefined ? { best: t.best as P } : {}), state, metadata: rest };
};

// ---- progress ------------------------------------------------------------------------------------------

interface Bar {
  start(total: number, value: number, payload?: object): void;
  update(value: number, payload?: object): void;
  stop(): void;
}

const inTestOrCi = (): boolean => {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  return Boolean(env.VITEST || env.JEST_WORKER_ID || env.CI || env.NODE_ENV === "test");
};

const stderrIsTty = (): boolean => Boolean((globalThis as { process?: { stderr?: { isTTY?: boolean } } }).process?.stderr?.isTTY);

/** A cli-progress bar on stderr, or null when quiet (or when cli-progress cannot be loaded). */
const makeBar = (mode: boolean | "auto"): Bar | null => {
  const show = mode === true || (mode === "auto" && stderrIsTty() && !inTestOrCi());
  if (!show) return null;
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (typeof get !== "function") return null;
  try {
    const req = (get("node:module") as { createRequire: (url: string) => (id: string) => any }).createRequire(import.meta.url);
    const cp = req("cli-progress");
    return new cp.SingleBar(
      {
        format: "{label} {epoch} |{bar}| {value}/{total} | loss {loss} | {tps} tok/s | eta {eta_formatted}",
        stream: (globalThis as any).process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        barsize: 24,
        etaBuffer: 20,
      },
      cp.Presets.shades_classic,
    ) as Bar;
  } catch {
    return null;
  }
};

const writeText = (path: string, text: string): void => {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (typeof get !== "function") throw new ArgumentError("train", "curve", "writing the loss curve needs Node.js >= 20.16");
  const fs = get("node:fs") as { writeFileSync(p: string, d: string): void; renameSync(a: string, b: string): void };
  const tmp = `${path}.tmp-${Date.now()}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, path);
};

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

// ---- the loop ------------------------------------------------------------------------------------------

const positiveInt = (name: string, v: unknown, min = 1): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ArgumentError("train", name, `must be an integer >= ${min}, got ${describe(v)}`);
  return v;
};

/**
 * `train(options) => Promise<TrainResult>`: minibatch gradient descent with `optimizer` on `lossFn`, optional
 * global-norm clipping, per-epoch evaluation, early stopping, a progress bar, an SVG loss curve and
 * checkpoints; resumable bit for bit (see the file header).
 */
export const train = async <P extends object, S, B>(options: TrainOptions<P, S, B>): Promise<TrainResult<P, S>> => {
  const o = options;
  optionsObject("train", "options", o, "{ epochs, learningRate }");
  if (!isKey(o.key)) throw new ArgumentError("train", "key", `must be a PRNG key from randomKey(seed), got ${describe(o.key)}`);
  if (typeof o.lossFn !== "function") throw new ArgumentError("train", "lossFn", `must be a function (params, batch, key) => scalar Tensor, got ${describe(o.lossFn)}`);
  if (o.optimizer === null || typeof o.optimizer !== "object" || typeof o.optimizer.update !== "function")
    throw new ArgumentError("train", "optimizer", `must be an optimizer such as adam(1e-3), got ${describe(o.optimizer)}`);
  if (typeof o.batches !== "function" && !Array.isArray(o.batches)) throw new ArgumentError("train", "batches", `must be an array of batches or a function (key, epoch) => batches, got ${describe(o.batches)}`);
  const epochs = positiveInt("epochs", o.epochs, 0);
  if (o.clip !== undefined && !(typeof o.clip === "number" && o.clip > 0)) throw new ArgumentError("train", "clip", `must be a positive number (a maximum global norm), got ${describe(o.clip)}`);
  const es = o.earlyStop;
  if (es !== undefined) positiveInt("earlyStop.patience", es.patience);
  const minDelta = es?.minDelta ?? 0;
  const restoreBest = es?.restoreBest ?? true;
  const every = o.checkpoint ? positiveInt("checkpoint.every", o.checkpoint.every ?? 1) : 1;
  if (o.checkpoint?.metadata && STATE_KEY in o.checkpoint.metadata) throw new ArgumentError("train", "checkpoint.metadata", `must not use the key ${STATE_KEY} (the loop's own state)`);
  const curve = typeof o.curve === "string" ? { path: o.curve } : o.curve;

  let params: P;
  let optState: S;
  let best: P | undefined;
  let history: EpochRecord[] = [];
  let stepLosses: number[] = [];
  let stepsPerEpoch: number[] = [];
  let bestLoss: number | null = null;
  let bestEpoch = 0;
  let badEpochs = 0;
  let stopped = false;
  let done = 0;
  if (o.resume !== undefined) {
    const ck = await loadTrainCheckpoint<P, S>(o.resume);
    const s = ck.state;
    if (s.key[0] !== o.key.words[0] || s.key[1] !== o.key.words[1])
      throw new ArgumentError("train", "key", `differs from the key the checkpoint ${o.resume} was trained with ([${s.key.join(", ")}]); resuming reproduces a run only with its own key`);
    if (s.optimizer !== o.optimizer.name) throw new ArgumentError("train", "optimizer", `is ${o.optimizer.name} but the checkpoint ${o.resume} was trained with ${s.optimizer}`);
    ({ params, optState } = ck);
    best = ck.best;
    history = s.history.slice();
    stepLosses = s.stepLosses.slice();
    stepsPerEpoch = s.stepsPerEpoch.slice();
    bestLoss = s.bestLoss;
    bestEpoch = s.bestEpoch;
    badEpochs = s.badEpochs;
    stopped = s.stopped;
    done = s.epoch;
  } else {
    assertTensorTree("train", "params", o.params);
    params = o.params;
    optState = o.optimizer.init(params as Tree);
  }

  const vg = valueAndGrad(o.lossFn);
  const bar = makeBar(o.progress ?? "auto");
  const label = o.label ?? "train";
  const stateNow = (): TrainState => ({
    version: 1, epoch: done, key: [o.key.words[0], o.key.words[1]], optimizer: o.optimizer.name,
    history, stepLosses, stepsPerEpoch, bestLoss, bestEpoch, badEpochs, stopped,
  });

  for (let epoch = done + 1; epoch <= epochs && !stopped; epoch++) {
    const ek = foldIn(o.key, epoch);
    const stepKeys = foldIn(ek, 1);
    const batches = typeof o.batches === "function" ? o.batches(foldIn(ek, 0), epoch) : o.batches;
    if (!Array.isArray(batches) || batches.length === 0) throw new TrainError(epoch, 0, `batches gave ${describe(batches)}; an epoch needs at least one batch`);
    const t0 = performance.now();
    let lastYield = t0;
    let sum = 0, normSum = 0, clipped = 0, tokens = 0;
    bar?.start(batches.length, 0, { label, epoch: `${epoch}/${epochs}`, loss: "-", tps: "-" });
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i]!;
      const [value, grads] = vg(params, batch, foldIn(stepKeys, i)) as [Tensor, P];
      const loss = value.item();
      if (!Number.isFinite(loss))
        throw new TrainError(epoch, i, `the loss is ${loss}; lower the learning rate, clip the gradient (clip: 1) or check the data (setDebugNans(true) finds the first op that made it)`);
      let g = grads as Tree;
      if (o.clip !== undefined) {
        const [c, norm] = clipByGlobalNorm(g, o.clip);
        const n = norm.item();
        if (!Number.isFinite(n)) throw new TrainError(epoch, i, `the gradient's global norm is ${n}; lower the learning rate or check the data`);
        normSum += n;
        if (n > o.clip) clipped++;
        g = c;
      } else normSum += globalNorm(g).item();
      const [np, ns] = o.optimizer.update(g, optState, params as Tree);
      [params, optState] = [np as P, ns];
      sum += loss;
      stepLosses.push(loss);
      if (o.tokensOf) tokens += o.tokensOf(batch);
      if (bar) {
        const secs = (performance.now() - t0) / 1000;
        bar.update(i + 1, { loss: (sum / (i + 1)).toFixed(4), tps: o.tokensOf && secs > 0 ? Math.round(tokens / secs) : "-" });
      }
      if (performance.now() - lastYield > 200) {
        await yieldToEventLoop(); // lets the progress bar redraw and signals arrive
        lastYield = performance.now();
      }
    }
    bar?.stop();
    stepsPerEpoch.push(batches.length);
    const seconds = (performance.now() - t0) / 1000;
    const trainLoss = sum / batches.length;
    let validLoss: number | undefined;
    let metrics: Readonly<Record<string, number>> | undefined;
    if (o.evalFn) {
      const r = o.evalFn(params, epoch);
      if (typeof r === "number") validLoss = r;
      else if (r !== null && typeof r === "object" && typeof r.loss === "number") [validLoss, metrics] = [r.loss, r.metrics];
      else throw new TrainError(epoch, batches.length, `evalFn returned ${describe(r)}; it must return a number or { loss, metrics }`);
    }
    const monitored = validLoss ?? trainLoss;
    const improved = Number.isFinite(monitored) && (bestLoss === null || monitored < bestLoss - minDelta);
    if (improved) {
      bestLoss = monitored;
      bestEpoch = epoch;
      badEpochs = 0;
      if (es && restoreBest) best = params;
    } else badEpochs++;
    if (es && badEpochs >= es.patience) stopped = true;
    const record: EpochRecord = {
      epoch, trainLoss, ...(validLoss !== undefined ? { validLoss } : {}), ...(metrics ? { metrics } : {}),
      gradNorm: normSum / batches.length, clipped, steps: batches.length, seconds,
      ...(o.tokensOf ? { tokensPerSecond: tokens / Math.max(seconds, 1e-9) } : {}), best: improved,
    };
    history.push(record);
    done = epoch;
    if (curve) writeText(curve.path, lossCurveSvg({ epochs: history, stepLosses, stepsPerEpoch }, { title: curve.title ?? "loss" }));
    if (o.checkpoint && (epoch % every === 0 || epoch === epochs || stopped)) {
      const tree: Record<string, Tree> = { params: params as Tree, optState: optState as unknown as Tree };
      if (best !== undefined) tree.best = best as Tree;
      await saveCheckpoint(o.checkpoint.path, tree, { ...(o.checkpoint.metadata ?? {}), [STATE_KEY]: JSON.stringify(stateNow()) });
    }
    o.onEpoch?.(record);
  }
  const finalParams = es && restoreBest && best !== undefined ? best : params;
  return { params: finalParams, lastParams: params, optState, history, stepLosses, bestEpoch, bestLoss, stoppedEarly: stopped, state: stateNow() };
};
