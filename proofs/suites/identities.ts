/**
 * The course's identities as properties. Each one compares two computations of the same quantity, entry by
 * entry, as a GradReport (left = the library's way, right = the other way), with a stated tolerance:
 * - EXACT (rtol = atol = 5e-324, the smallest double: any difference beyond one subnormal step fails) where the
 *   two sides do the same arithmetic (a row lookup vs a one-hot product, padding that must not matter at all,
 *   gradients that must be exactly 0);
 * - REASSOCIATION (|a-b| <= 1e-9 (|a|+|b|) or <= 1e-12) where only the order of additions differs;
 * - HAND (|a-b| <= 1e-10 (|a|+|b|) or <= 1e-14) where the right side is computed in plain JS doubles.
 *
 * 1. `W_a [a; x] = W_aa a + W_ax x`: the stacked `[W_aa | W_ax]` RNN equals the separate form, values and
 *    gradients, and `splitRnnWeights` inverts `stackRnnWeights`.
 * 2. `oneHot(i) E = E[i]`: a one-hot input times a matrix is a row lookup (`embedding`), and the two gradients
 *    w.r.t. E agree (the lookup's is a scatter-add).
 * 3. `∂/∂z softmaxCrossEntropy(z, y) = ŷ - y` with ŷ = softmax(z), for class indices and for distributions.
 * 4. The full GRU with the relevance gate held at 1 is the minimal GRU: W_r = 0 and b_r = 1000 give
 *    Γr = σ(1000) = 1 exactly in float64 (1 + e^{-1000} rounds to 1), so Γr * c = c bit for bit; outputs and
 *    gradients agree, and the relevance gate's parameters get exactly zero gradient (σ' = σ(1 - σ) = 0).
 * 5. A padded, masked batch gives each sequence the loss and gradients it gets alone, unpadded (through `scan`
 *    with a mask and `sequenceLoss`), and padding contributes exactly zero: ∂L/∂x at padded steps is 0, and
 *    replacing padded inputs and targets by anything leaves the loss and every gradient bit-identical.
 * 6. `clipByGlobalNorm(g, c)` returns `‖g‖`, bounds the global norm by c and preserves the direction:
 *    the result is `g · min(1, c / ‖g‖)`, one scale for every leaf.
 */
import fc from "fast-check";
import { full, tensor, zeros, type Tensor } from "../../core/tensor.js";
import { randomKey } from "../../core/random.js";
import { add, concat, gather, grad, matmul, mul, oneHot, relu, sigmoid, slice, squeeze, sub, sum, tanh, transpose } from "../../autograd/index.js";
import { flatten, map, type Tree } from "../../autograd/tree.js";
import { rnnCell, splitRnnWeights, stackRnnWeights } from "../../layers/cells/rnn.js";
import { gruCell } from "../../layers/cells/gru.js";
import { embedding } from "../../layers/dense.js";
import { sequenceLoss, softmaxCrossEntropy } from "../../layers/losses.js";
import { clipByGlobalNorm, globalNorm } from "../../layers/clip.js";
import { scan } from "../../layers/scan.js";
import { compareTrees, REASSOCIATION_TOLERANCE } from "../checkCell.js";
import { LIBRARY_CELLS, type CellUnderProof } from "./cells.js";
import { fmt, probe, propertySuite, seedArb, type CaseCheck, type Suite, type Tolerance } from "./suite.js";

/** The two sides do the same arithmetic: they must agree bit for bit (a non-zero tolerance only so ratios stay finite). */
export const EXACT = { rtol: Number.MIN_VALUE, atol: Number.MIN_VALUE } as const;
/** The right side is computed by hand in plain JS doubles (its own rounding, ~1e-16 relative per operation). */
export const HAND = { rtol: 1e-10, atol: 1e-14 } as const;

/** The suites' table tolerance (eps 0: nothing here is a finite difference); each report carries its own. */
const TABLE_TOLERANCE: Tolerance = { eps: 0, rtol: REASSOCIATION_TOLERANCE.rtol, atol: REASSOCIATION_TOLERANCE.atol };

const cmp = (label: string, a: Tree, b: Tree, tol: { rtol: number; atol: number }): CaseCheck => ({ label, report: compareTrees(label, a, b, tol) });
const f64 = (v: number | number[] | number[][] | number[][][]): Tensor => tensor(v, { dtype: "float64" });
const seeds = (seed: number, n: number): number[] => Array.from({ length: n }, (_, i) => (seed + 7919 * (i + 1)) >>> 0);

// ---- 1. stacked vs separate ---------------------------------------------------------------------------------

export interface StackedCase {
  readonly H: number;
  readonly D: number;
  readonly B: number;
  readonly activation: "tanh" | "relu";
  readonly seed: number;
}
export const stackedCaseArb: fc.Arbitrary<StackedCase> = fc.record({
  H: fc.integer({ min: 1, max: 4 }),
  D: fc.integer({ min: 1, max: 4 }),
  B: fc.integer({ min: 1, max: 3 }),
  activation: fc.constantFrom("tanh" as const, "relu" as const),
  seed: seedArb,
});

/** Identity 1 for one case; `stack` and `split` are the implementations under test (the library's by default). */
export const stackedCheck = ({ H, D, B, activation, seed }: StackedCase, stack = stackRnnWeights, split = splitRnnWeights): CaseCheck[] => {
  const [s1, s2, s3, s4, s5, s6] = seeds(seed, 6) as [number, number, number, number, number, number];
  const W_aa = probe([H, H], s1), W_ax = probe([H, D], s2), b_a = probe([H], s3), a = probe([B, H], s4), x = probe([B, D], s5), w = probe([B, H], s6);
  const g = activation === "tanh" ? tanh : relu;
  const cell = rnnCell({ activation });
  const stacked = (W_a: Tensor, b: Tensor) => cell.step({ W_a, b_a: b }, a, x)[1];
  const separate = (Waa: Tensor, Wax: Tensor, b: Tensor) => g(add(add(matmul(a, transpose(Waa)), matmul(x, transpose(Wax))), b));
  const W_a = stack(W_aa, W_ax);
  const tag = `${activation} H=${H} D=${D} B=${B}`;
  const [gWa, gb1] = grad((Wa: Tensor, b: Tensor) => sum(mul(stacked(Wa, b), w)), { argnums: [0, 1] })(W_a, b_a) as Tensor[];
  const [gWaa, gWax, gb2] = grad((Waa: Tensor, Wax: Tensor, b: Tensor) => sum(mul(separate(Waa, Wax, b), w)), { argnums: [0, 1, 2] })(W_aa, W_ax, b_a) as Tensor[];
  return [
    cmp(`a<t> stacked vs separate ${tag}`, stacked(W_a, b_a), separate(W_aa, W_ax, b_a), REASSOCIATION_TOLERANCE),
    cmp(`split(stack(W_aa, W_ax)) ${tag}`, split(W_a, H), { W_aa, W_ax }, EXACT),
    cmp(`∂/∂W_a = [∂/∂W_aa | ∂/∂W_ax] ${tag}`, { W: gWa!, b: gb1! }, { W: concat([gWaa!, gWax!], 1), b: gb2! }, REASSOCIATION_TOLERANCE),
  ];
};

const stackedSuite: Suite = propertySuite({
  name: "stacked [W_aa | W_ax] = separate",
  family: "identities",
  description: "rnn step with W_a = [W_aa | W_ax] equals g(a W_aaᵀ + x W_axᵀ + b), values and gradients; split inverts stack",
  cases: 30,
  tolerance: TABLE_TOLERANCE,
  arbitrary: stackedCaseArb,
  check: (c) => stackedCheck(c),
});

// ---- 2. one-hot times a matrix is a row lookup ---------------------------------------------------------------

export interface OneHotCase {
  readonly V: number;
  readonly dim: number;
  readonly ids: number[];
  readonly seed: number;
}
export const oneHotCaseArb: fc.Arbitrary<OneHotCase> = fc
  .record({ V: fc.integer({ min: 1, max: 6 }), dim: fc.integer({ min: 1, max: 4 }), N: fc.integer({ min: 1, max: 8 }), seed: seedArb })
  .chain(({ V, dim, N, seed }) => fc.record({ V: fc.constant(V), dim: fc.constant(dim), ids: fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: N, maxLength: N }), seed: fc.constant(seed) }));

/** Identity 2 for one case; `lookup(E, ids)` is the implementation under test (embedding.apply by default). */
export const oneHotCheck = ({ V, dim, ids, seed }: OneHotCase, lookup = (E: Tensor, ids: Int32Array): Tensor => embedding.apply({ E }, ids)): CaseCheck[] => {
  const [s1, s2] = seeds(seed, 2) as [number, number];
  const E = probe([V, dim], s1), w = probe([ids.length, dim], s2);
  const idx = Int32Array.from(ids);
  const viaOneHot = (E: Tensor) => matmul(oneHot(idx, V, "float64"), E);
  const viaLookup = (E: Tensor) => lookup(E, idx);
  const tag = `V=${V} dim=${dim} ids=${fmt(ids)}`;
  return [
    cmp(`oneHot(i) E vs E[i] ${tag}`, viaOneHot(E), viaLookup(E), EXACT),
    cmp(`∂/∂E oneHot vs lookup ${tag}`, grad((E: Tensor) => sum(mul(viaOneHot(E), w)))(E), grad((E: Tensor) => sum(mul(viaLookup(E), w)))(E), REASSOCIATION_TOLERANCE),
  ];
};

const oneHotSuite: Suite = propertySuite({
  name: "oneHot(i) E = E[i]",
  family: "identities",
  description: "one-hot input times E equals the embedding row lookup exactly; gradients w.r.t. E agree (scatter-add)",
  cases: 30,
  tolerance: TABLE_TOLERANCE,
  arbitrary: oneHotCaseArb,
  check: (c) => oneHotCheck(c),
});

// ---- 3. softmax cross-entropy gradient ----------------------------------------------------------------------

/** softmax of one row in plain JS doubles (max subtracted). */
const softmaxRow = (z: readonly number[]): number[] => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((p, v) => p + v, 0);
  return e.map((v) => v / s);
};

export interface SoftmaxCeCase {
  readonly z: number[][];
  readonly w: number[];
  /** Class indices [N], or distributions [N][V]. */
  readonly y: number[] | number[][];
}
export const softmaxCeCaseArb: fc.Arbitrary<SoftmaxCeCase> = fc
  .record({ N: fc.integer({ min: 1, max: 4 }), V: fc.integer({ min: 1, max: 6 }), distribution: fc.boolean() })
  .chain(({ N, V, distribution }) =>
    fc.record({
      z: fc.array(fc.array(fc.double({ min: -6, max: 6, noNaN: true }), { minLength: V, maxLength: V }), { minLength: N, maxLength: N }),
      w: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: N, maxLength: N }),
      y: (distribution
        ? fc
            .array(fc.array(fc.double({ min: 0.01, max: 1, noNaN: true }), { minLength: V, maxLength: V }), { minLength: N, maxLength: N })
            .map((rows) => rows.map((r) => r.map((v) => v / r.reduce((p, q) => p + q, 0))))
        : fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: N, maxLength: N })) as fc.Arbitrary<number[] | number[][]>,
    }),
  );

/** Identity 3 for one case; `loss(z, targets)` (per example) is the implementation under test. */
export const softmaxCeCheck = ({ z, w, y }: SoftmaxCeCase, loss: (z: Tensor, targets: Tensor | Int32Array) => Tensor = softmaxCrossEntropy): CaseCheck => {
  const V = z[0]!.length;
  const indices = typeof y[0] === "number";
  const yRows: number[][] = indices ? (y as number[]).map((t) => Array.from({ length: V }, (_, k) => (k === t ? 1 : 0))) : (y as number[][]);
  const targets = indices ? Int32Array.from(y as number[]) : f64(y as number[][]);
  const g = grad((zt: Tensor) => sum(mul(loss(zt, targets), f64(w))))(f64(z)) as Tensor;
  const expected = f64(z.map((row, n) => softmaxRow(row).map((p, k) => w[n]! * (p - yRows[n]![k]!))));
  return cmp(`∂L/∂z vs w (ŷ - y), ${indices ? "indices" : "distribution"}, z${fmt([z.length, V])}`, g, expected, HAND);
};

const softmaxCeSuite: Suite = propertySuite({
  name: "∂ softmaxCE / ∂z = ŷ - y",
  family: "identities",
  description: "gradient of Σ_n w_n softmaxCrossEntropy(z_n, y_n) is w_n (ŷ_n - y_n), targets as indices or distributions",
  cases: 30,
  tolerance: TABLE_TOLERANCE,
  arbitrary: softmaxCeCaseArb,
  check: (c) => softmaxCeCheck(c),
});

// ---- 4. full GRU with Γr = 1 is the minimal GRU --------------------------------------------------------------

/** Full-GRU params that hold Γr at exactly 1 and otherwise equal minimal-GRU params `{ W: [W_u; W_c], b: [b_u; b_c] }`. */
export const fullFromMinimal = (p: { W: Tensor; b: Tensor }, H: number) => {
  const cols = p.W.shape[1]!;
  return {
    W: concat([slice(p.W, [0, 0], [H, cols]), zeros([H, cols], p.W.dtype)], 0),
    b: concat([slice(p.b, [0], [H]), full([H], 1000, p.b.dtype)], 0),
    W_c: slice(p.W, [H, 0], [H, cols]),
    b_c: slice(p.b, [H], [H]),
  };
};

export interface GruCase {
  readonly D: number;
  readonly H: number;
  readonly B: number;
  readonly T: number;
  readonly seed: number;
}
export const gruCaseArb: fc.Arbitrary<GruCase> = fc.record({
  D: fc.integer({ min: 1, max: 3 }),
  H: fc.integer({ min: 1, max: 4 }),
  B: fc.integer({ min: 1, max: 3 }),
  T: fc.integer({ min: 1, max: 5 }),
  seed: seedArb,
});

/** Identity 4 for one case; `construct` builds the full GRU's params from the minimal GRU's (fullFromMinimal). */
export const gruCheck = ({ D, H, B, T, seed }: GruCase, construct = fullFromMinimal): CaseCheck[] => {
  const [s1, s2, s3, s4, s5] = seeds(seed, 5) as [number, number, number, number, number];
  const minimal = gruCell({ variant: "minimal" }), fullCell = gruCell({ variant: "full" });
  const pMin = { W: minimal.init(randomKey(seed), D, H, "float64").W, b: probe([2 * H], s1) };
  const xs = probe([T, B, D], s2), c0 = probe([B, H], s3), wy = probe([T, B, H], s4), wc = probe([B, H], s5);
  const run = (cell: typeof minimal | typeof fullCell) => (p: any, x: Tensor, c: Tensor) => scan((a: Tensor, xt: Tensor) => cell.step(p, a, xt), c, x);
  const loss = (cell: typeof minimal | typeof fullCell) => (p: any, x: Tensor, c: Tensor) => {
    const [cT, ys] = run(cell)(p, x, c);
    return add(sum(mul(ys, wy)), sum(mul(cT, wc)));
  };
  const pFull = construct(pMin, H);
  const [cMin, yMin] = run(minimal)(pMin, xs, c0);
  const [cFull, yFull] = run(fullCell)(pFull, xs, c0);
  const gMin = grad(loss(minimal), { argnums: [0, 1, 2] })(pMin, xs, c0) as [{ W: Tensor; b: Tensor }, Tensor, Tensor];
  const gFull = grad(loss(fullCell), { argnums: [0, 1, 2] })(pFull, xs, c0) as [ReturnType<typeof fullFromMinimal>, Tensor, Tensor];
  const cols = H + D;
  const mapped = {
    W: concat([slice(gFull[0].W, [0, 0], [H, cols]), gFull[0].W_c], 0),
    b: concat([slice(gFull[0].b, [0], [H]), gFull[0].b_c], 0),
  };
  const relevance = { W_r: slice(gFull[0].W, [H, 0], [H, cols]), b_r: slice(gFull[0].b, [H], [H]) };
  const tag = `D=${D} H=${H} B=${B} T=${T}`;
  const x1 = squeeze(slice(xs, [0, 0, 0], [1, B, D]), 0);
  const gate = sigmoid(add(matmul(concat([c0, x1], 1), transpose(slice(pFull.W, [H, 0], [H, cols]))), slice(pFull.b, [H], [H])));
  return [
    cmp(`Γr<1> = σ(W_r [c<0>, x<1>] + b_r) is exactly 1 ${tag}`, gate, full([B, H], 1, "float64"), EXACT),
    cmp(`full(Γr=1) vs minimal: c<T>, y ${tag}`, { cT: cFull, ys: yFull }, { cT: cMin, ys: yMin }, REASSOCIATION_TOLERANCE),
    cmp(`full(Γr=1) vs minimal: ∂L/∂(W, b, xs, c<0>) ${tag}`, { params: mapped, xs: gFull[1], c0: gFull[2] }, { params: gMin[0], xs: gMin[1], c0: gMin[2] }, REASSOCIATION_TOLERANCE),
    cmp(`∂L/∂(W_r, b_r) is exactly 0 ${tag}`, relevance, { W_r: zeros([H, cols], "float64"), b_r: zeros([H], "float64") }, EXACT),
  ];
};

const gruSuite: Suite = propertySuite({
  name: "full GRU with Γr = 1 = minimal GRU",
  family: "identities",
  description: "W_r = 0, b_r = 1000 make Γr = 1 exactly: T-step outputs and BPTT gradients equal the minimal GRU's; Γr's params get 0",
  cases: 15,
  tolerance: TABLE_TOLERANCE,
  arbitrary: gruCaseArb,
  check: (c) => gruCheck(c),
});

// ---- 5. a padded, masked batch is each sequence alone -------------------------------------------------------

export interface PadCase {
  readonly cell: number;
  readonly D: number;
  readonly H: number;
  readonly V: number;
  readonly T: number;
  readonly lengths: number[];
  readonly targets: number[][];
  readonly seed: number;
}

export const padCaseArb: fc.Arbitrary<PadCase> = fc
  .record({
    cell: fc.integer({ min: 0, max: LIBRARY_CELLS.length - 1 }),
    D: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 3 }),
    V: fc.integer({ min: 2, max: 4 }),
    T: fc.integer({ min: 2, max: 5 }),
    B: fc.integer({ min: 2, max: 3 }),
    seed: seedArb,
  })
  .chain(({ B, T, V, ...rest }) =>
    fc.record({
      // the first sequence is full length, the others are padded (length 1 .. T-1)
      lengths: fc.array(fc.integer({ min: 1, max: T - 1 }), { minLength: B - 1, maxLength: B - 1 }).map((ls) => [T, ...ls]),
      targets: fc.array(fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: B, maxLength: B }), { minLength: T, maxLength: T }),
      T: fc.constant(T),
      V: fc.constant(V),
      ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, fc.constant(v)])),
    }) as fc.Arbitrary<PadCase>,
  );

/** Identity 5 for one case; `cells` are the cells under test (case.cell picks one). */
export const paddingCheck = ({ cell: ci, D, H, V, T, lengths, targets, seed }: PadCase, cells: readonly CellUnderProof[] = LIBRARY_CELLS): CaseCheck[] => {
  const u = cells[ci % cells.length]!;
  const cell = u.make();
  const B = lengths.length;
  const [s1, s2, s3, s4] = seeds(seed, 4) as [number, number, number, number];
  const params = { cell: cell.init(randomKey(seed), D, H, "float64") as Tree, W_y: probe([H, V], s1) };
  const carry0 = map((l: Tensor) => probe(l.shape, s2 + l.size), cell.initialCarry(params.cell, B) as Tree);
  const xs = probe([T, B, D], s3);
  const maskRows = Array.from({ length: T }, (_, t) => lengths.map((L) => (t < L ? 1 : 0)));
  const mask = f64(maskRows);
  const tgt = f64(targets);
  // What padding holds must not matter: other inputs, other targets.
  const m3 = f64(maskRows.map((r) => r.map((m) => [m]))); // [T, B, 1]
  const xsOther = add(mul(xs, m3), mul(probe([T, B, D], s4), sub(1, m3)));
  const tgtOther = f64(targets.map((row, t) => row.map((k, b) => (t < lengths[b]! ? k : (k + 1) % V))));

  const batchLoss = (reduction: "sum" | "none") => (p: typeof params, x: Tensor, c: Tree, y: Tensor): Tensor => {
    const [, ys] = scan((carry: Tree, xt: Tensor) => cell.step(p.cell, carry, xt), c, x, { mask });
    return sequenceLoss(matmul(ys as Tensor, p.W_y), y, mask, { reduction });
  };
  const rowOf = (t: Tree, b: number): Tree => map((l: Tensor) => slice(l, [b, ...l.shape.slice(1).map(() => 0)], [1, ...l.shape.slice(1)]), t);
  const aloneLoss = (b: number) => (p: typeof params, x: Tensor, c: Tree): Tensor => {
    const [, ys] = scan((carry: Tree, xt: Tensor) => cell.step(p.cell, carry, xt), c, x);
    return sequenceLoss(matmul(ys as Tensor, p.W_y), slice(tgt, [0, b], [lengths[b]!, 1]), undefined, { reduction: "sum" });
  };

  const perSeq = batchLoss("none")(params, xs, carry0, tgt);
  const [gP, gX] = grad(batchLoss("sum"), { argnums: [0, 1] })(params, xs, carry0, tgt) as [Tree, Tensor];
  const [gPo, gXo] = grad(batchLoss("sum"), { argnums: [0, 1] })(params, xsOther, carry0, tgtOther) as [Tree, Tensor];
  const alone = lengths.map((L, b) => {
    const x = slice(xs, [0, b, 0], [L, 1, D]);
    const c = rowOf(carry0, b);
    const value = aloneLoss(b)(params, x, c);
    const [gp, gx] = grad(aloneLoss(b), { argnums: [0, 1] })(params, x, c) as [Tree, Tensor];
    return { value, gp, gx };
  });
  const sumTrees = (ts: Tree[]): Tree => ts.reduce((a, t) => map((x: Tensor, y: Tensor) => add(x, y), a, t));
  // ∂L/∂xs expected: each sequence's own gradient at its real steps, 0 at padded steps
  const expectedGx = concat(lengths.map((L, b) => (L === T ? alone[b]!.gx : concat([alone[b]!.gx, zeros([T - L, 1, D], "float64")], 0))), 1);
  const gxd = gX.toTypedArray();
  const padded: number[] = [];
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) if (t >= lengths[b]!) for (let d = 0; d < D; d++) padded.push(gxd[(t * B + b) * D + d]!);
  const tag = `${u.name} T=${T} lengths=${fmt(lengths)}`;
  return [
    cmp(`per-sequence loss vs alone ${tag}`, perSeq, f64(alone.map((a) => a.value.item())), REASSOCIATION_TOLERANCE),
    cmp(`∂L/∂params = Σ alone ${tag}`, gP, sumTrees(alone.map((a) => a.gp)), REASSOCIATION_TOLERANCE),
    cmp(`∂L/∂xs vs alone (0 at padding) ${tag}`, gX, expectedGx, REASSOCIATION_TOLERANCE),
    cmp(`∂L/∂x<t> at padded steps is exactly 0 ${tag}`, f64(padded), zeros([padded.length], "float64"), EXACT),
    cmp(`other padding values: same loss and gradients ${tag}`, { loss: batchLoss("sum")(params, xsOther, carry0, tgtOther), gP: gPo, gX: gXo }, { loss: batchLoss("sum")(params, xs, carry0, tgt), gP, gX }, EXACT),
  ];
};

const paddingSuite: Suite = propertySuite({
  name: "padded batch = each sequence alone",
  family: "identities",
  description: "scan with a mask + sequenceLoss: per-sequence losses and summed gradients equal unpadded single runs; padding adds exactly 0",
  cases: 20,
  tolerance: TABLE_TOLERANCE,
  arbitrary: padCaseArb,
  check: (c) => paddingCheck(c),
});

// ---- 6. gradient clipping -----------------------------------------------------------------------------------

export interface ClipCase {
  readonly rows: number;
  readonly cols: number;
  readonly n: number;
  readonly scale: number;
  readonly maxNorm: number;
  readonly seed: number;
}
export const clipCaseArb: fc.Arbitrary<ClipCase> = fc.record({
  rows: fc.integer({ min: 1, max: 3 }),
  cols: fc.integer({ min: 1, max: 3 }),
  n: fc.integer({ min: 1, max: 4 }),
  scale: fc.constantFrom(1e-3, 1, 1e3),
  maxNorm: fc.double({ min: 0.1, max: 10, noNaN: true }),
  seed: seedArb,
});

/** Identity 6 for one case; `clip(tree, c) => [clipped, norm]` is the implementation under test. */
export const clipCheck = ({ rows, cols, n, scale, maxNorm, seed }: ClipCase, clip: (t: Tree, c: number) => [Tree, Tensor] = clipByGlobalNorm): CaseCheck[] => {
  const [s1, s2] = seeds(seed, 2) as [number, number];
  const g = { W: mul(probe([rows, cols], s1), scale), b: mul(probe([n], s2), scale) };
  const [clipped, norm] = clip(g, maxNorm);
  const all = flatten(g).leaves.flatMap((l) => l.toFlatArray());
  const byHand = Math.sqrt(all.reduce((p, v) => p + v * v, 0));
  const s = Math.min(1, maxNorm / byHand);
  const scaled = map((l: Tensor) => tensor(l.toFlatArray().map((v) => v * s), { shape: l.shape, dtype: "float64" }), g);
  const flatC = flatten(clipped as Tree).leaves.flatMap((l) => l.toFlatArray());
  const cos = flatC.reduce((p, v, i) => p + v * all[i]!, 0) / (Math.sqrt(flatC.reduce((p, v) => p + v * v, 0)) * byHand);
  const tag = `‖g‖=${byHand.toPrecision(3)} c=${maxNorm.toPrecision(3)}`;
  const checks: CaseCheck[] = [
    cmp(`returned norm vs sqrt(Σ g²) ${tag}`, norm, f64(byHand), HAND),
    cmp(`clipped = g · min(1, c/‖g‖) ${tag}`, clipped as Tree, scaled, HAND),
    cmp(`‖clipped‖ = min(‖g‖, c) ${tag}`, globalNorm(clipped as Tree), f64(Math.min(byHand, maxNorm)), HAND),
    cmp(`cos(clipped, g) = 1 ${tag}`, f64(cos), f64(1), HAND),
  ];
  if (byHand <= maxNorm) checks.push(cmp(`under the bound: unchanged ${tag}`, clipped as Tree, g, EXACT));
  return checks;
};

const clipSuite: Suite = propertySuite({
  name: "clipByGlobalNorm bounds norm, keeps direction",
  family: "identities",
  description: "clipByGlobalNorm(g, c) = [g · min(1, c/‖g‖), ‖g‖] with ‖g‖ = sqrt(Σ g²) by hand; the clipped norm is min(‖g‖, c)",
  cases: 40,
  tolerance: TABLE_TOLERANCE,
  arbitrary: clipCaseArb,
  check: (c) => clipCheck(c),
});

export const identitySuites: readonly Suite[] = [stackedSuite, oneHotSuite, softmaxCeSuite, gruSuite, paddingSuite, clipSuite];
