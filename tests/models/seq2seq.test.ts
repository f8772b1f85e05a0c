import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { beamSearch, createSeq2Seq, greedySearch, type Seq2Seq, type Seq2SeqPair, type Seq2SeqParams, type SearchModel } from "../../models/seq2seq.js";
import { Vocabulary } from "../../models/vocabulary.js";
import { randomKey } from "../../core/random.js";
import { getKernelBackend, setKernelBackend, type KernelBackend } from "../../core/wasm/backend.js";
import { ArgumentError } from "../../core/errors.js";
import { valueAndGrad } from "../../autograd/transforms.js";
import type { Tree } from "../../autograd/tree.js";
import { adam } from "../../layers/optimizers.js";
import { checkGrad } from "../../proofs/checkGrad.js";
import type { Tensor } from "../../core/tensor.js";

// ---- a hand-built conditional distribution: a first-order Markov chain over tokens ----------------------
// Tokens: 0 = <bos> (never emitted), 1 = <eos>, 2.. = symbols. P[prev][next] are probabilities.
type Chain = readonly (readonly number[])[];
const chainModel = (P: Chain): SearchModel<Int32Array> => ({
  V: P[0]!.length,
  bos: 0,
  eos: 1,
  banned: [0],
  step: (state, prev) => {
    const V = P[0]!.length;
    const lp = new Float64Array(prev.length * V);
    prev.forEach((p, r) => P[p]!.forEach((q, v) => (lp[r * V + v] = Math.log(q))));
    return [prev.slice(), lp];
  },
  select: (state, rows) => Int32Array.from(rows, (r) => state[r]!),
});
const start = (B: number) => new Int32Array(B);

/** log P(ids, <eos>) under the chain: the test's own arithmetic, from the table. */
const chainLogProb = (P: Chain, ids: readonly number[], finished = true): number => {
  let prev = 0, s = 0;
  for (const t of ids) {
    s += Math.log(P[prev]![t]!);
    prev = t;
  }
  return finished ? s + Math.log(P[prev]![1]!) : s;
};

/** Every sequence of symbols of length < maxLength followed by <eos>, with its log-probability: exhaustive search. */
const bruteForceBest = (P: Chain, maxLength: number): { ids: number[]; logProb: number } => {
  const V = P[0]!.length;
  let best = { ids: [] as number[], logProb: -Infinity };
  const walk = (ids: number[]) => {
    const lp = chainLogProb(P, ids);
    if (lp > best.logProb) best = { ids: ids.slice(), logProb: lp };
    if (ids.length + 1 >= maxLength) return;
    for (let v = 2; v < V; v++) walk([...ids, v]);
  };
  walk([]);
  return best;
};

// A chain on which a beam of width 2 ends below greedy decoding (see the test that uses it):
// from <bos>: a .5, b .45, c .05; a → y .4, z .35, <eos> .25; b → x .55, w .45; x → q .36, q2 .34, <eos> .3; y, z, q, q2 → <eos> 1.
const [BOS, EOS, A, B, C, X, W, Y, Z, Q, Q2] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const row = (entries: Record<number, number>): number[] => Array.from({ length: 11 }, (_, v) => entries[v] ?? 0);
const TRAP: Chain = [
  row({ [A]: 0.5, [B]: 0.45, [C]: 0.05 }), // <bos>
  row({ [EOS]: 1 }), // <eos> (never read)
  row({ [Y]: 0.4, [Z]: 0.35, [EOS]: 0.25 }), // a
  row({ [X]: 0.55, [W]: 0.45 }), // b
  row({ [EOS]: 1 }), // c
  row({ [Q]: 0.36, [Q2]: 0.34, [EOS]: 0.3 }), // x
  row({ [Q]: 0.36, [Q2]: 0.34, [EOS]: 0.3 }), // w
  row({ [EOS]: 1 }), // y
  row({ [EOS]: 1 }), // z
  row({ [EOS]: 1 }), // q
  row({ [EOS]: 1 }), // q2
];

/** Random chains over V tokens: every row a distribution with full support (fast-check draws the weights). */
const chains = (V: number) =>
  fc.array(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: V, maxLength: V }), { minLength: V, maxLength: V }).map((rows) =>
    rows.map((r) => {
      const w = r.map((x, v) => (v === 0 ? 0 : x)); // <bos> is never a next token
      const s = w.reduce((a, b) => a + b, 0);
      return w.map((x) => x / s);
    }),
  );

describe("greedySearch and beamSearch on a hand-built chain", () => {
  it("greedy takes the most probable next token until <eos>", () => {
    const [h] = greedySearch(chainModel(TRAP), start(1), 1);
    expect(h!.ids).toEqual([A, Y]);
    expect(h!.finished).toBe(true);
    expect(h!.logProb).toBeCloseTo(Math.log(0.5 * 0.4 * 1), 12);
  });

  it("breaks ties toward the smaller token id in both searches", () => {
    const P: Chain = [
      [0, 0, 0.5, 0.5],
      [0, 1, 0, 0],
      [0, 1, 0, 0],
      [0, 1, 0, 0],
    ];
    expect(greedySearch(chainModel(P), start(1), 1)[0]!.ids).toEqual([2]);
    expect(beamSearch(chainModel(P), start(1), 1, { beamWidth: 1 })[0]![0]!.ids).toEqual([2]);
    expect(beamSearch(chainModel(P), start(1), 1, { beamWidth: 2 })[0]!.map((h) => h.ids)).toEqual([[2], [3]]);
  });

  it("a beam of width 1 is greedy decoding, token for token and to the last bit of the log-probability", () => {
    fc.assert(
      fc.property(chains(6), fc.integer({ min: 1, max: 7 }), (P, maxLength) => {
        const g = greedySearch(chainModel(P), start(3), 3, { maxLength });
        const b = beamSearch(chainModel(P), start(3), 3, { beamWidth: 1, maxLength });
        b.forEach((hs, i) => {
          expect(hs).toHaveLength(1);
          expect(hs[0]).toEqual(g[i]);
        });
      }),
      { numRuns: 60, seed: 3 },
    );
  });

  it("a beam wide enough to hold every prefix finds the most probable sequence (checked by exhaustive search)", () => {
    fc.assert(
      fc.property(chains(5), (P) => {
        const maxLength = 4; // 3 symbols (3^3 = 27 prefixes at most) then <eos>
        const best = bruteForceBest(P, maxLength);
        const [hs] = beamSearch(chainModel(P), start(1), 1, { beamWidth: 27, maxLength });
        expect(hs![0]!.logProb).toBeCloseTo(best.logProb, 10);
        expect(chainLogProb(P, hs![0]!.ids)).toBeCloseTo(best.logProb, 10);
        const [g] = greedySearch(chainModel(P), start(1), 1, { maxLength });
        if (g!.finished) expect(hs![0]!.logProb).toBeGreaterThanOrEqual(g!.logProb - 1e-12);
      }),
      { numRuns: 50, seed: 5 },
    );
  });

  it("reports each hypothesis's log-probability as the chain gives it, best first", () => {
    const hs = beamSearch(chainModel(TRAP), start(1), 1, { beamWidth: 4 })[0]!;
    for (const h of hs) expect(h.logProb).toBeCloseTo(chainLogProb(TRAP, h.ids), 12);
    for (let i = 1; i < hs.length; i++) expect(hs[i - 1]!.logProb).toBeGreaterThanOrEqual(hs[i]!.logProb);
    expect(hs[0]!.ids).toEqual([A, Y]); // width 4 keeps a·y alive: 0.2 beats b·x·q (0.089)
  });

  it("is a heuristic: on this chain a beam of width 2 drops greedy's prefix and ends less probable", () => {
    // step 2 ranks b·x (.2475) and b·w (.2025) above a·y (.2), so a·y is pruned; every b-path ends below .2
    const [g] = greedySearch(chainModel(TRAP), start(1), 1);
    const [hs] = beamSearch(chainModel(TRAP), start(1), 1, { beamWidth: 2 });
    expect(hs![0]!.ids).toEqual([B, X, Q]);
    expect(hs![0]!.logProb).toBeCloseTo(Math.log(0.45 * 0.55 * 0.36), 12);
    expect(hs![0]!.logProb).toBeLessThan(g!.logProb);
  });

  it("with lengthPenalty 1 ranks finished hypotheses by log-probability per token", () => {
    // a chain where the two rankings disagree: <bos> → <eos> .5, s .5; s → <eos> .8
    const P2: Chain = [
      [0, 0.5, 0.5],
      [0, 1, 0],
      [0, 0.8, 0.2],
    ];
    expect(beamSearch(chainModel(P2), start(1), 1, { beamWidth: 2 })[0]![0]!.ids).toEqual([]); // .5 > .4
    expect(beamSearch(chainModel(P2), start(1), 1, { beamWidth: 2, lengthPenalty: 1 })[0]![0]!.ids).toEqual([2]); // log(.4)/2 > log(.5)
  });

  it("returns unfinished hypotheses cut at maxLength when nothing ended", () => {
    const P: Chain = [
      [0, 0.01, 0.99],
      [0, 1, 0],
      [0, 0.01, 0.99],
    ];
    const [g] = greedySearch(chainModel(P), start(1), 1, { maxLength: 4 });
    expect(g).toEqual({ ids: [2, 2, 2, 2], logProb: expect.closeTo(4 * Math.log(0.99), 12), finished: false });
    const [hs] = beamSearch(chainModel(P), start(1), 1, { beamWidth: 1, maxLength: 4 });
    expect(hs).toEqual([g]);
  });

  it("decodes many sources at once exactly as one at a time", () => {
    const P = TRAP;
    const many = beamSearch(chainModel(P), start(4), 4, { beamWidth: 3 });
    const one = beamSearch(chainModel(P), start(1), 1, { beamWidth: 3 })[0]!;
    for (const hs of many) expect(hs).toEqual(one);
  });

  it("refuses a bad beam width, length penalty or step output with the argument named", () => {
    expect(() => beamSearch(chainModel(TRAP), start(1), 1, { beamWidth: 0 })).toThrow(/beamSearch.*beamWidth/);
    expect(() => beamSearch(chainModel(TRAP), start(1), 1, { lengthPenalty: -1 })).toThrow(/beamSearch.*lengthPenalty/);
    const broken: SearchModel<Int32Array> = { ...chainModel(TRAP), step: (s) => [s, new Float64Array(3)] };
    expect(() => greedySearch(broken, start(1), 1)).toThrow(/greedySearch.*model.step.*expected 11/);
    expect(() => greedySearch({ ...chainModel(TRAP), banned: [1] }, start(1), 1)).toThrow(/<eos>/);
  });
});

// ---- the network ------------------------------------------------------------------------------------------

const letters = Vocabulary.fromTokens([..."abcdefgh"], { level: "char" });
const sounds = Vocabulary.fromTokens(["A", "B", "K", "D", "E"], { level: "word" });
if (letters._tag === "Left" || sounds._tag === "Left") throw new Error("test vocabularies");
const src = letters.right, tgt = sounds.right;
const PAIRS: Seq2SeqPair[] = [
  { source: "ab", target: "A B" },
  { source: "cab", target: "K A B" },
  { source: "bad", target: "B A D" },
  { source: "dead", target: "D E D" },
  { source: "e", target: "E" },
  { source: "bed", target: "B E D" },
  { source: "ace", target: "E K" },
  { source: "deed", target: "D E E D" },
];

/**
 * Runs `f` with one kernel choice for every size. Under 'auto' the kernels are picked by size (matmul from 512
 * multiply-adds and exp/tanh/sigmoid from 256 float32 values run in WebAssembly: float32 sums, SIMD functions a few
 * ulp from Math's), so a row's float32 result depends on how many rows share the call; under 'ts' (or 'wasm') it does not.
 */
const withKernels = <R>(choice: KernelBackend, f: () => R): R => {
  const previous = getKernelBackend();
  setKernelBackend(choice);
  try {
    return f();
  } finally {
    setKernelBackend(previous);
  }
};

const trainSmall = (model: Seq2Seq, steps: number, seed = 0): { params: Seq2SeqParams; losses: number[] } => {
  let params = model.init(randomKey(seed));
  const opt = adam(0.03);
  let state = opt.init(params as unknown as Tree);
  const vg = valueAndGrad((p: Seq2SeqParams) => model.loss(p, model.batch(PAIRS)));
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const [l, g] = vg(params) as unknown as [Tensor, Seq2SeqParams];
    losses.push(l.item());
    [params, state] = opt.update(g as unknown as Tree, state, params as unknown as Tree) as unknown as [Seq2SeqParams, typeof state];
  }
  return { params, losses };
};

describe.each(["none", "bilinear"] as const)("createSeq2Seq (attention: %s)", (attention) => {
  const model = createSeq2Seq(src, tgt, { hidden: 16, embedDim: 8, attention });
  let trained: { params: Seq2SeqParams; losses: number[] };
  beforeAll(() => {
    trained = trainSmall(model, 60);
  });

  it("gives time-major logits [T_y, B, V] with T_y counting <eos>", () => {
    const b = model.batch(PAIRS);
    expect(b.Ty).toBe(5); // "D E E D" + <eos>
    expect(b.source.Tx).toBe(4);
    expect(b.tokens).toBe(PAIRS.reduce((a, p) => a + p.target.split(" ").length + 1, 0));
    expect(model.logits(model.init(randomKey(1)), b).shape).toEqual([5, PAIRS.length, tgt.size]);
  });

  it("starts near chance and the loss falls on a handful of words", () => {
    const { losses } = trained;
    expect(losses[0]!).toBeGreaterThan(0.8 * Math.log(tgt.size)); // chance is ln V = 2.2
    expect(losses[losses.length - 1]!).toBeLessThan(0.25 * losses[0]!);
  });

  it("scores a pair the same inside a padded batch as alone (source and target padding are masked)", () => {
    const { params } = trained;
    const together = model.logProbs(params, PAIRS);
    PAIRS.forEach((p, i) => expect(model.logProbs(params, [p])[0]!).toBeCloseTo(together[i]!, 4));
  });

  it("has a loss equal to minus the summed log-probabilities per target token", () => {
    const { params } = trained;
    const b = model.batch(PAIRS);
    const lps = model.logProbs(params, PAIRS);
    expect(model.loss(params, b).item()).toBeCloseTo(-lps.reduce((a, x) => a + x, 0) / b.tokens, 4);
  });

  it("decodes phoneme strings that end at <eos> and never contain a special token", () => {
    const out = model.greedy(trained.params, PAIRS.map((p) => p.source));
    for (const d of out) {
      expect(d.finished).toBe(true);
      for (const id of d.ids) expect(tgt.isSpecial(id)).toBe(false);
      expect(d.text).toMatch(/^([A-Z]+( [A-Z]+)*)?$/);
      expect(d.text.split(" ").filter((s) => s).map((t) => tgt.idOf(t))).toEqual(d.ids);
    }
    // after 60 steps it reproduces most training targets
    const right = out.filter((d, i) => d.text === PAIRS[i]!.target).length;
    expect(right).toBeGreaterThanOrEqual(6);
  });

  it("decodes step by step with the same probabilities as teacher forcing", () => {
    const { params } = trained;
    const out = model.greedy(params, PAIRS.map((p) => p.source));
    const rescored = model.logProbs(params, PAIRS.map((p, i) => ({ source: p.source, target: out[i]!.text })));
    out.forEach((d, i) => expect(d.logProb).toBeCloseTo(rescored[i]!, 4));
  });

  it("gives beam width 1 the greedy result exactly, and a wider beam a log-probability at least greedy's", () => {
    const { params } = trained;
    const words = [...PAIRS.map((p) => p.source), "hag", "fade", "cafe", "gaff"];
    const g = model.greedy(params, words);
    expect(model.beam(params, words, { beamWidth: 1 })).toEqual(g);
    const b = model.beam(params, words, { beamWidth: 4 });
    // Greedy's hypothesis is in the beam, but rescored in calls of another batch size: under 'auto' that can pick other
    // float32 kernels (see withKernels), so its score can move by float32 rounding (~1e-7 seen), not by a lost prefix.
    b.forEach((d, i) => expect(d.logProb).toBeGreaterThanOrEqual(g[i]!.logProb - 1e-5 * Math.max(1, Math.abs(g[i]!.logProb))));
    // with one kernel choice for every size, each row is computed the same whatever the batch: then no slack at all
    withKernels("ts", () => {
      const gt = model.greedy(params, words), bt = model.beam(params, words, { beamWidth: 4 });
      bt.forEach((d, i) => expect(d.logProb).toBeGreaterThanOrEqual(gt[i]!.logProb));
    });
    const nb = model.nBest(params, words, { beamWidth: 4 });
    nb.forEach((hs, i) => {
      expect(hs[0]).toEqual(b[i]);
      expect(hs.length).toBeGreaterThan(1);
    });
  });

  it("decodes in chunks exactly as in one batch under one kernel choice, and to float32 rounding under 'auto'", () => {
    const words = PAIRS.map((p) => p.source);
    const chunked = () => model.beam(trained.params, words, { beamWidth: 3, batchSize: 3 }), whole = () => model.beam(trained.params, words, { beamWidth: 3 });
    withKernels("ts", () => expect(chunked()).toEqual(whole()));
    const [c, w] = [chunked(), whole()];
    expect(c.map((d) => [d.text, d.finished])).toEqual(w.map((d) => [d.text, d.finished]));
    c.forEach((d, i) => expect(Math.abs(d.logProb - w[i]!.logProb)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(w[i]!.logProb))));
  });
});

describe("createSeq2Seq gradients", () => {
  it.each(["none", "bilinear"] as const)("match central differences through encoder, bridge, decoder and attention (%s), float64", (attention) => {
    const model = createSeq2Seq(src, tgt, { hidden: 3, encoderHidden: 2, embedDim: 2, attention, dtype: "float64" });
    const params = model.init(randomKey(4));
    const b = model.batch(PAIRS.slice(0, 3));
    const r = checkGrad((p: Seq2SeqParams) => model.loss(p, b), [params], { eps: 1e-6, rtol: 1e-5, atol: 1e-8, maxEntries: 120, seed: 1 });
    expect(r.failures, `worst ${JSON.stringify(r.worst)}`).toBe(0);
    expect(r.entriesChecked).toBe(120);
  });
});

describe("createSeq2Seq errors", () => {
  const model = createSeq2Seq(src, tgt, { hidden: 4 });
  it("refuses an empty source, a bad config and non-string pairs", () => {
    expect(() => model.sources(["ab", ""])).toThrow(/seq2seq.sources.*texts\[1\].*at least one/);
    expect(() => createSeq2Seq(src, tgt, { hidden: 0 })).toThrow(ArgumentError);
    expect(() => createSeq2Seq(src, tgt, { hidden: 4, attention: "bahdanau" as "none" })).toThrow(/config.attention/);
    expect(() => model.batch([{ source: "ab", target: 3 as unknown as string }])).toThrow(/seq2seq.batch.*pairs\[0\]/);
  });
});