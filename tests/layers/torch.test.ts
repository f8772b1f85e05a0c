/**
 * Exact agreement with PyTorch. The fixtures in tests/fixtures/torch were written by tools/torch_fixtures.py
 * (torch.nn.RNNCell tanh/relu, GRUCell, LSTMCell in float64): state dicts, inputs, initial state, the output at
 * every step, and the gradients of L = Σ_t Σ w<t> ⊙ h<t> (+ Σ v ⊙ c<T> for the LSTM) w.r.t. every weight,
 * the inputs and the initial state. Here the same weights load through `fromTorch`, `scan` unrolls the cell,
 * `grad` differentiates it, and `toTorch({ gradient: true })` maps the weight gradients back.
 *
 * Tolerance: 1e-10 absolute on values of order 1 (both sides compute in float64; only the summation order
 * of the fused matmul and of the two PyTorch biases differs, which moves the last few bits).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { tensor, type NestedArray, type Tensor } from "../../core/tensor.js";
import { add, mul, sum, valueAndGrad } from "../../autograd/index.js";
import { scan } from "../../layers/scan.js";
import { rnnCell } from "../../layers/cells/rnn.js";
import { gruCell } from "../../layers/cells/gru.js";
import { lstmCell } from "../../layers/cells/lstm.js";
import type { TorchCell } from "../../layers/cells/types.js";

const TOL = 1e-10;

interface Fixture {
  cell: string;
  options: { nonlinearity?: string };
  sizes: { D: number; H: number; B: number; T: number };
  stateDict: Record<string, NestedArray>;
  xs: NestedArray;
  h0: NestedArray;
  c0?: NestedArray;
  lossWeights: NestedArray;
  cLossWeights?: NestedArray;
  ys: NestedArray;
  hT: NestedArray;
  cT?: NestedArray;
  loss: number;
  grads: Record<string, NestedArray>;
}

const load = (name: string): Fixture => JSON.parse(readFileSync(new URL(`../fixtures/torch/${name}.json`, import.meta.url), "utf8")) as Fixture;

const flat = (v: NestedArray): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);

/** max |a - b| over two nested arrays of the same shape (Infinity when the shapes differ). */
const maxAbsDiff = (a: NestedArray | Tensor, b: NestedArray): number => {
  const x = flat(typeof a === "object" && !Array.isArray(a) ? a.toArray() : a), y = flat(b);
  if (x.length !== y.length) return Infinity;
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
};

const f64 = (v: NestedArray) => tensor(v, { dtype: "float64" });

const CASES: [string, () => TorchCell<any, any>][] = [
  ["rnn_tanh", () => rnnCell({ activation: "tanh" })],
  ["rnn_relu", () => rnnCell({ activation: "relu" })],
  ["gru", () => gruCell({ variant: "reset-after" })],
  ["lstm", () => lstmCell()],
];

describe.each(CASES)("PyTorch fixture %s", (name, makeCell) => {
  const fx = load(name);
  const cell = makeCell();
  const isLstm = fx.cell === "LSTMCell";
  const xs = f64(fx.xs);
  const carry0 = isLstm ? { a: f64(fx.h0), c: f64(fx.c0!) } : f64(fx.h0);
  const w = f64(fx.lossWeights);

  const loss = (params: unknown, xs: Tensor, carry0: unknown) => {
    const [carryT, ys] = scan((c: unknown, x: Tensor) => cell.step(params, c, x), carry0, xs);
    const L = sum(mul(w, ys));
    return [isLstm ? add(L, sum(mul(f64(fx.cLossWeights!), (carryT as { c: Tensor }).c))) : L, { ys, carryT }] as const;
  };

  it(`loads the ${fx.cell} state dict and reproduces its output at every step to ${TOL}`, () => {
    const params = cell.fromTorch(fx.stateDict, "float64");
    const [, { ys, carryT }] = loss(params, xs, carry0);
    expect(ys.shape).toEqual([fx.sizes.T, fx.sizes.B, fx.sizes.H]);
    expect(maxAbsDiff(ys, fx.ys)).toBeLessThanOrEqual(TOL);
    const aT = isLstm ? (carryT as { a: Tensor }).a : (carryT as Tensor);
    expect(maxAbsDiff(aT, fx.hT)).toBeLessThanOrEqual(TOL);
    if (isLstm) expect(maxAbsDiff((carryT as { c: Tensor }).c, fx.cT!)).toBeLessThanOrEqual(TOL);
  });

  it(`matches PyTorch's gradients w.r.t. every weight, the inputs and the initial state to ${TOL}`, () => {
    const params = cell.fromTorch(fx.stateDict, "float64");
    const [[L], [gParams, gXs, gCarry]] = valueAndGrad(loss, { argnums: [0, 1, 2], hasAux: true })(params, xs, carry0);
    expect(Math.abs((L as Tensor).item() - fx.loss)).toBeLessThanOrEqual(TOL);
    const g = cell.toTorch(gParams, { gradient: true });
    for (const k of ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] as const) {
      expect(g[k].shape, k).toEqual(cell.toTorch(params)[k].shape);
      expect(maxAbsDiff(g[k], fx.grads[k]!), k).toBeLessThanOrEqual(TOL);
    }
    expect(maxAbsDiff(gXs, fx.grads["xs"]!)).toBeLessThanOrEqual(TOL);
    if (isLstm) {
      expect(maxAbsDiff(gCarry.a, fx.grads["h0"]!)).toBeLessThanOrEqual(TOL);
      expect(maxAbsDiff(gCarry.c, fx.grads["c0"]!)).toBeLessThanOrEqual(TOL);
    } else expect(maxAbsDiff(gCarry, fx.grads["h0"]!)).toBeLessThanOrEqual(TOL);
  });

  it("maps parameters back to a state dict that runs the same function in PyTorch's layout", () => {
    const params = cell.fromTorch(fx.stateDict, "float64");
    const sd = cell.toTorch(params);
    // weights come back exactly; the two biases may be re-split, but their sum is PyTorch's
    expect(sd.weight_ih.toArray()).toEqual(fx.stateDict["weight_ih"]);
    expect(sd.weight_hh.toArray()).toEqual(fx.stateDict["weight_hh"]);
    const want = flat(fx.stateDict["bias_ih"]!).map((v, i) => v + flat(fx.stateDict["bias_hh"]!)[i]!);
    const got = sd.bias_ih.toFlatArray().map((v, i) => v + sd.bias_hh.toFlatArray()[i]!);
    if (fx.cell === "GRUCell") {
      expect(sd.bias_ih.toArray()).toEqual(fx.stateDict["bias_ih"]);
      expect(sd.bias_hh.toArray()).toEqual(fx.stateDict["bias_hh"]);
    } else expect(got).toEqual(want);
    // and reloading gives the same parameters, bit for bit
    const again = cell.fromTorch(sd);
    for (const k of Object.keys(params)) expect((again as Record<string, Tensor>)[k]!.toArray(), k).toEqual((params as Record<string, Tensor>)[k]!.toArray());
  });
});
