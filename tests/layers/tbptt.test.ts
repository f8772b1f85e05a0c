import { describe, expect, it } from "vitest";
import { tensor, type Tensor } from "../../core/tensor.js";
import { ArgumentError, ShapeError } from "../../core/errors.js";
import { foldIn, normal, randomKey } from "../../core/random.js";
import { add, grad, matmul, mul, oneHot, sum, valueAndGrad } from "../../autograd/index.js";
import { flatten, type Tree } from "../../autograd/tree.js";
import { scan } from "../../layers/scan.js";
import { lstmCell, type LstmCarry, type LstmParams } from "../../layers/cells/lstm.js";
import { sequenceLoss } from "../../layers/losses.js";
import { adam } from "../../layers/optimizers.js";
import { tbpttGrads, tbpttStep, timeChunks, type ChunkLoss } from "../../layers/tbptt.js";

// float64 throughout; "exactly" below means every entry compared with toEqual (bit for bit).
const key = randomKey(31337);
const T = 12, B = 2, D = 3, H = 4, K = 5; // chunks: steps 0-4, 5-9, 10-11
const cell = lstmCell();
const params = cell.init(foldIn(key, 0), D, H, "float64");
const xs = normal(foldIn(key, 1), [T, B, D], { dtype: "float64" });
const wy = normal(foldIn(key, 2), [T, B, H], { dtype: "float64" });
const carry0 = { a: normal(foldIn(key, 3), [B, H], { dtype: "float64" }), c: normal(foldIn(key, 4), [B, H], { dtype: "float64" }) };

type Chunk = { x: Tensor; w: Tensor };
/** L_chunk = Σ_t Σ_b w<t>_b · a<t>_b over the chunk's steps. */
const chunkLoss: ChunkLoss<LstmParams, LstmCarry, Chunk> = (p, carry, { x, w }) => {
  const [cT, ys] = scan((c: LstmCarry, xt: Tensor) => cell.step(p, c, xt), carry, x);
  return [sum(mul(ys, w)), cT];
};
const flat = (t: unknown): number[][] => flatten(t as Tree).leaves.map((l) => l.toFlatArray());
const rowsOf = (t: Tensor, from: number, to: number): number[] => t.toFlatArray().slice(from * B * D, to * B * D);

describe("timeChunks", () => {
  it("cuts a tree of time-major tensors into chunks of K steps, the last one shorter", () => {
    const y = tensor(Array.from({ length: T * B }, (_, i) => i), { dtype: "float64", shape: [T, B] });
    const chunks = timeChunks({ x: xs, y }, K);
    expect(chunks.map((c) => [c.index, c.start, c.length])).toEqual([[0, 0, 5], [1, 5, 5], [2, 10, 2]]);
    const xv = xs.toFlatArray();
    chunks.forEach((c) => {
      expect(c.data.x.shape).toEqual([c.length, B, D]);
      expect(c.data.x.toFlatArray()).toEqual(xv.slice(c.start * B * D, (c.start + c.length) * B * D));
      expect(c.data.y.toFlatArray()).toEqual(Array.from({ length: c.length * B }, (_, i) => c.start * B + i));
    });
  });

  it("refuses a chunk length that is not a positive integer and data whose T differ", () => {
    for (const bad of [0, -1, 2.5, Number.NaN, "5"] as unknown[]) expect(() => timeChunks(xs, bad as number)).toThrow(/timeChunks: K must be a positive integer/);
    expect(() => timeChunks({ x: xs, w: normal(key, [T + 1, B], { dtype: "float64" }) }, K)).toThrow(ShapeError);
    expect(() => timeChunks({ x: xs, w: normal(key, [T + 1, B], { dtype: "float64" }) }, K)).toThrow(/data w has shape \[13,2\] but data x has T = 12/);
    expect(() => timeChunks({}, K)).toThrow(/timeChunks: data has no tensors/);
  });
});

describe("truncated BPTT", () => {
  const chunks = (x: Tensor) => timeChunks({ x, w: wy }, K);

  it("gives chunk 2's loss exactly zero gradient with respect to chunk 1's inputs", () => {
    const step = tbpttStep(chunkLoss);
    const dxs = grad((x: Tensor) => {
      const [c1, c2] = chunks(x);
      const r1 = step(params, carry0, c1!.data);
      return step(params, r1.carry, c2!.data).loss;
    })(xs) as Tensor;
    expect(rowsOf(dxs, 0, K).every((v) => v === 0)).toBe(true);
    expect(rowsOf(dxs, K, 2 * K).some((v) => v !== 0)).toBe(true);
    // the control: the same two chunks with the carry NOT detached do send gradient into chunk 1
    const leaky = grad((x: Tensor) => {
      const [c1, c2] = chunks(x);
      const [, carry1] = chunkLoss(params, carry0, c1!.data);
      return chunkLoss(params, carry1, c2!.data)[0];
    })(xs) as Tensor;
    expect(rowsOf(leaky, 0, K).some((v) => v !== 0)).toBe(true);
  });

  it("gives chunk 2 the gradient of running chunk 2 alone from a constant copy of the carry", () => {
    const step = tbpttStep(chunkLoss);
    const [c1, c2] = chunks(xs);
    const r1 = step(params, carry0, c1!.data);
    const r2 = step(params, r1.carry, c2!.data);
    // an independent constant with the carry's values (rebuilt from plain numbers)
    const copy = { a: tensor(r1.carry.a.toArray() as number[][], { dtype: "float64" }), c: tensor(r1.carry.c.toArray() as number[][], { dtype: "float64" }) };
    const [alone, gAlone] = valueAndGrad((p: LstmParams) => chunkLoss(p, copy, c2!.data)[0])(params);
    expect(r2.loss.item()).toBe(alone.item());
    expect(flat(r2.grads)).toEqual(flat(gAlone));
    // and the carry handed on is chunk 1's final carry, unchanged in value
    const [, full1] = chunkLoss(params, carry0, c1!.data);
    expect(flat(r1.carry)).toEqual(flat(full1));
  });

  it("sums the chunk gradients, carries the state through every chunk, and is full BPTT when one chunk holds the sequence", () => {
    const data = { x: xs, w: wy };
    const r = tbpttGrads(chunkLoss, params, carry0, data, K);
    expect(r.losses).toHaveLength(3);
    // by hand: chunk after chunk with tbpttStep, gradients added in order
    const step = tbpttStep(chunkLoss);
    let carry: LstmCarry = carry0, sumW: Tensor | undefined, sumB: Tensor | undefined;
    for (const c of chunks(xs)) {
      const s = step(params, carry, c.data);
      sumW = sumW ? add(sumW, s.grads.W) : s.grads.W;
      sumB = sumB ? add(sumB, s.grads.b) : s.grads.b;
      carry = s.carry;
    }
    expect(flat(r.grads)).toEqual(flat({ W: sumW!, b: sumB! }));
    // the forward pass is not truncated: the final carry is the full sequence's
    const [, fullCarry] = chunkLoss(params, carry0, data);
    expect(flat(r.carry)).toEqual(flat(fullCarry));
    const total = r.losses.reduce((s, l) => s + l.item(), 0);
    expect(Math.abs(total - chunkLoss(params, carry0, data)[0].item())).toBeLessThanOrEqual(1e-12 * Math.abs(total));
    // one chunk covering everything is plain BPTT, bit for bit
    const whole = tbpttGrads(chunkLoss, params, carry0, data, T);
    expect(flat(whole.grads)).toEqual(flat(grad((p: LstmParams) => chunkLoss(p, carry0, data)[0])(params)));
    // and with K < T the gradient really is truncated (it differs from full BPTT)
    expect(flat(r.grads)).not.toEqual(flat(whole.grads));
  });

  it("trains a small LSTM language model on one long stream, updating after every chunk", () => {
    // the stream "abcdabcd…" as one-hot inputs x<t> = y<t-1>, the carry handed from chunk to chunk
    const V = 4, L = 240, Kc = 8, Hc = 8;
    const ids = Array.from({ length: L + 1 }, (_, t) => t % V);
    const x = oneHot(tensor(ids.slice(0, L), { shape: [L, 1] }), V, "float64");
    const y = tensor(ids.slice(1), { dtype: "float64", shape: [L, 1] });
    type P = { rnn: LstmParams; out: { W: Tensor; b: Tensor } };
    let p: P = { rnn: cell.init(foldIn(key, 10), V, Hc, "float64"), out: { W: normal(foldIn(key, 11), [Hc, V], { dtype: "float64" }), b: tensor([0, 0, 0, 0], { dtype: "float64" }) } };
    const lm: ChunkLoss<P, LstmCarry, { x: Tensor; y: Tensor }> = (p, carry, chunk) => {
      const [cT, ys] = scan((c: LstmCarry, xt: Tensor) => cell.step(p.rnn, c, xt), carry, chunk.x);
      return [sequenceLoss(add(matmul(ys, p.out.W), p.out.b), chunk.y, undefined, { reduction: "mean" }), cT];
    };
    const opt = adam(0.05);
    let state = opt.init(p);
    const step = tbpttStep(lm);
    const epochLoss: number[] = [];
    let first: number | undefined;
    for (let epoch = 0; epoch < 3; epoch++) {
      let carry = cell.initialCarry(p.rnn, 1), total = 0;
      for (const c of timeChunks({ x, y }, Kc)) {
        const r = step(p, carry, c.data);
        [p, state] = opt.update(r.grads, state, p);
        carry = r.carry;
        total += r.loss.item();
        first ??= r.loss.item();
      }
      epochLoss.push(total / (L / Kc));
    }
    // the untrained first chunk costs at least half of ln 4 ≈ 1.39 nats per step (Kc steps per chunk); after three
    // passes over the stream a chunk must average below a tenth of ln 4 per step
    console.info(`tbptt LM: first chunk ${first!.toFixed(3)}, epoch means ${epochLoss.map((l) => l.toFixed(3)).join(" ")}`);
    expect(first!).toBeGreaterThan(0.5 * Math.log(V) * Kc);
    expect(epochLoss.at(-1)!).toBeLessThan(0.1 * Math.log(V) * Kc);
  });

  it("refuses a chunk loss that is not a function or returns something other than [loss, carry]", () => {
    expect(() => tbpttStep(3 as never)).toThrow(ArgumentError);
    expect(() => tbpttGrads(null as never, params, carry0, { x: xs, w: wy }, K)).toThrow(/tbpttGrads: chunkLoss must be a function/);
    const bad = (() => sum(xs)) as unknown as ChunkLoss<LstmParams, LstmCarry, Chunk>;
    expect(() => tbpttStep(bad)(params, carry0, { x: xs, w: wy })).toThrow(/tbpttStep: chunkLoss must return \[loss, carry\]/);
    expect(() => tbpttGrads(chunkLoss, params, carry0, { x: xs, w: wy }, 0)).toThrow(/tbpttGrads: K must be a positive integer/);
  });
});
