/**
 * Child process of the soak test: trains a small character LSTM language model for many steps (valueAndGrad,
 * global-norm clipping, Adam: the library's own training step, no dispose call anywhere) and measures the live
 * heap after a full GC at chosen steps, and counts the live Tensor objects and typed arrays (the inspector's
 * queryObjects: a leak of even one tensor per step shows there exactly, whatever V8's compiled code does to the
 * byte figures). Prints one JSON line per sample and a final summary line.
 * Usage: node --expose-gc --no-concurrent-recompilation --import tsx soak-lm.ts <steps> <sample step> [<sample step> …]
 */
import { writeSync } from "node:fs";
import { getHeapSpaceStatistics } from "node:v8";
import { Session } from "node:inspector";
import { randomKey } from "../../../core/random.js";
import { Tensor } from "../../../core/tensor.js";
import { valueAndGrad } from "../../../autograd/index.js";
import type { Tree } from "../../../autograd/tree.js";
import { clipByGlobalNorm } from "../../../layers/clip.js";
import { adam } from "../../../layers/optimizers.js";
import { Vocabulary } from "../../../models/vocabulary.js";
import { createLanguageModel, type LanguageModelParams } from "../../../models/languageModel.js";

const [steps, ...sampleAt] = process.argv.slice(2).map(Number) as [number, ...number[]];
if (!(steps! > 0)) throw new Error("usage: soak-lm.ts <steps> <sample step> …");
const gcOnce = (globalThis as { gc?: () => void }).gc;
if (gcOnce === undefined) throw new Error("soak-lm.ts needs node --expose-gc");
const gc = () => (gcOnce(), gcOnce()); // twice: freed array buffers are only accounted for after the second
const say = (o: unknown) => writeSync(1, JSON.stringify(o) + "\n");

/** The number of live objects whose prototype is `proto` (the inspector's queryObjects, after a full GC). */
const session = new Session();
session.connect();
const post = <R>(method: string, params: object): R => {
  let result: R | undefined, error: Error | null = null;
  session.post(method, params, (e, r) => ((error = e), (result = r as R)));
  if (error) throw error;
  if (result === undefined) throw new Error(`inspector ${method} did not answer synchronously`);
  return result;
};
const countInstances = (proto: object): number => {
  (globalThis as { __soakProto?: object }).__soakProto = proto;
  const { result: protoRef } = post<{ result: { objectId: string } }>("Runtime.evaluate", { expression: "globalThis.__soakProto", objectGroup: "soak" });
  const { objects } = post<{ objects: { objectId: string } }>("Runtime.queryObjects", { prototypeObjectId: protoRef.objectId, objectGroup: "soak" });
  const { result } = post<{ result: { value: number } }>("Runtime.callFunctionOn", { functionDeclaration: "function () { return this.length; }", objectId: objects.objectId, returnByValue: true, objectGroup: "soak" });
  post("Runtime.releaseObjectGroup", { objectGroup: "soak" });
  delete (globalThis as { __soakProto?: object }).__soakProto;
  return result.value;
};

const texts = [
  "anna", "bernard", "chloe", "daniel", "emma", "felix", "grace", "hugo", "iris", "jules", "karl", "lena",
  "marc", "nina", "oscar", "paula", "quentin", "rosa", "simon", "tara", "ugo", "vera", "willem", "xena",
  "yann", "zoe", "alice", "bruno", "carla", "david", "elsa", "fanny",
];
const vocab = Vocabulary.buildOrThrow(texts, { level: "char" });
const model = createLanguageModel(vocab, { cell: "lstm", hidden: 16 });
const batches = Array.from({ length: 8 }, (_, i) => model.batch(texts.slice(i * 4, i * 4 + 4).map((text) => ({ text }))));
const opt = adam(0.01);
let params: LanguageModelParams = model.init(randomKey(7));
let state = opt.init(params as unknown as Tree);
const lossAndGrad = valueAndGrad((p: LanguageModelParams, b: (typeof batches)[number]) => model.loss(p, b));
const wanted = new Set(sampleAt);

/**
 * One training step. Its intermediates (loss, gradients, clipped gradients) live only in this function's frame,
 * which is gone by the time a sample counts objects: a loop body that kept them in the counting frame could
 * leave a stale register holding some of them, and how many depends on which compiler tier runs the loop at
 * that moment, which a background compiler decides.
 */
function trainStep(step: number): number {
  const [loss, grads] = lossAndGrad(params, batches[step % batches.length]!) as [Tensor, Tree];
  const [clipped] = clipByGlobalNorm(grads, 5);
  [params, state] = opt.update(clipped, state, params as unknown as Tree) as unknown as [LanguageModelParams, typeof state];
  return loss.item();
}

/** Measures the live heap after a full GC and counts live tensors and typed arrays, then prints them. */
function sample(step: number): void {
  gc();
  const m = process.memoryUsage();
  // per V8 space, so a growth of compiled code (code_space) can be told from a growth of data (old_space)
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, sp.space_used_size]));
  const bytes = { step, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, live: m.heapUsed + m.arrayBuffers, spaces, seconds: (performance.now() - t0) / 1000 };
  // counted after the byte figures are read, so the counting cannot show up in them
  say({ ...bytes, tensors: countInstances(Tensor.prototype), float32Arrays: countInstances(Float32Array.prototype), float64Arrays: countInstances(Float64Array.prototype) });
}

const t0 = performance.now();
let first = NaN, last = NaN;
for (let step = 1; step <= steps; step++) {
  last = trainStep(step);
  if (step === 1) first = last;
  if (wanted.has(step)) sample(step);
}
say({ done: true, steps, seconds: (performance.now() - t0) / 1000, firstLoss: first, lastLoss: last });
