import { describe, expect, it } from "vitest";
import { dataOf, tensor, zeros, type DType, type Tensor } from "../../core/tensor.js";
import { ArgumentError } from "../../core/errors.js";
import { normal, splitKey, type Key } from "../../core/random.js";
import { add, concat, customVjp, matmul, mean, mul, sigmoid, stopGradient, sub, tanh, transpose } from "../../autograd/index.js";
import { checkCell, compareTrees, formatCellReport, maskPattern } from "../../proofs/checkCell.js";
import type { Cell } from "../../layers/cells/types.js";
import { LIBRARY_CELLS, cellSuites, reportToChecks } from "../../proofs/suites/cells.js";
import { allSuites } from "../../proofs/suites/index.js";

// Tiny cells written here, independent of the library cells, so checkCell is tested on its own.

interface ElmanParams {
  readonly W: Tensor;
  readonly b: Tensor;
}
type Act = (x: Tensor) => Tensor;

const initElman = (key: Key, D: number, H: number, dtype: DType = "float32"): ElmanParams => {
  const [k1, k2] = splitKey(key, 2) as [Key, Key];
  return { W: normal(k1, [H, H + D], { dtype, std: 0.6 }), b: normal(k2, [H], { dtype, std: 0.1 }) };
};

/** `a<t> = g([a<t-1>, x<t>] Wᵀ + b)` with a pluggable g (and a pluggable pre-activation tweak). */
const elman = (g: Act = tanh, extra: (a: Tensor, z: Tensor) => Tensor = (_a, z) => z): Cell<ElmanParams, Tensor> => ({
  init: initElman,
  initialCarry: (p, batch) => zeros([batch, p.b.shape[0]!], p.b.dtype),
  step: (p, a, x) => {
    const next = g(extra(a, add(matmul(concat([a, x], 1), transpose(p.W)), p.b)));
    return [next, next];
  },
});

/** A gated cell with a record carry `{ a, c }`: c<t> = Γf c<t-1> + tanh(z_c), a<t> = tanh(c<t>). */
interface GatedParams {
  readonly W_f: Tensor;
  readonly W_c: Tensor;
  readonly b_f: Tensor;
}
const gated: Cell<GatedParams, { a: Tensor; c: Tensor }> = {
  init: (key, D, H, dtype = "float32") => {
    const [k1, k2] = splitKey(key, 2) as [Key, Key];
    return { W_f: normal(k1, [H + D, H], { dtype, std: 0.5 }), W_c: normal(k2, [H + D, H], { dtype, std: 0.5 }), b_f: zeros([H], dtype) };
  },
  initialCarry: (p, batch) => ({ a: zeros([batch, p.b_f.shape[0]!], p.b_f.dtype), c: zeros([batch, p.b_f.shape[0]!], p.b_f.dtype) }),
  step: (p, { a, c }, x) => {
    const v = concat([a, x], 1);
    const c1 = add(mul(sigmoid(add(matmul(v, p.W_f), p.b_f)), c), tanh(matmul(v, p.W_c)));
    const a1 = tanh(c1);
    return [{ a: a1, c: c1 }, a1];
  },
};

/** tanh with a deliberately wrong VJP: 2(1 - y²). */
const badTanh = customVjp((x: Tensor) => tanh(x), (dy, _xs, y) => [mul(dy, mul(2, sub(1, mul(y, y))))], "badTanh");
/** tanh whose VJP is right to first order but not differentiable (1 - y² frozen). */
const frozenTanh = customVjp((x: Tensor) => tanh(x), (dy, _xs, y) => [mul(dy, stopGradient(sub(1, mul(y, y))))], "frozenTanh");

const check = (r: ReturnType<typeof checkCell>, name: string) => {
  const c = r.checks.find((c) => c.name === name);
  if (!c) throw new Error(`no check named ${name} in ${r.checks.map((c) => c.name).join(", ")}`);
  return c;
};

describe("checkCell", () => {
  it("passes a correct tanh cell on every check, first and second order", () => {
    const r = checkCell(elman(), { secondOrder: true, label: "elman" });
    expect(r.ok, formatCellReport(r)).toBe(true);
    expect(r.checks.map((c) => c.name)).toEqual([
      "shape contract",
      "BPTT gradient: params",
      "BPTT gradient: inputs xs",
      "BPTT gradient: initial carry",
      "parameter sharing",
      "masking",
      "second order (H·v)",
      "purity: same inputs, same outputs",
      "purity: inputs untouched",
    ]);
    // D=3, H=4: W [4, 7] and b [4]; xs [5, 2, 3]; carry [2, 4]
    expect(check(r, "BPTT gradient: params").report!.entriesChecked).toBe(28 + 4);
    expect(check(r, "BPTT gradient: inputs xs").report!.entriesChecked).toBe(30);
    expect(check(r, "BPTT gradient: initial carry").report!.entriesChecked).toBe(8);
    expect(r.maxRelError).toBeLessThan(1e-6);
    expect(r.maxRelError).toBeGreaterThan(0);
  });

  it("passes a cell whose carry is a record { a, c } with options for sizes and steps", () => {
    const r = checkCell(gated, { inputSize: 2, hiddenSize: 3, batch: 3, steps: 4, seed: 7, secondOrder: true });
    expect(r.ok, formatCellReport(r)).toBe(true);
    expect(r.options).toEqual({ inputSize: 2, hiddenSize: 3, batch: 3, steps: 4, seed: 7, secondOrder: true });
    expect(check(r, "BPTT gradient: initial carry").report!.entriesChecked).toBe(2 * 3 * 3);
    expect(check(r, "shape contract").detail).toContain("{a: *, c: *}");
  });

  it("fails the BPTT checks of a cell with a wrong derivative and points at a parameter entry", () => {
    const r = checkCell(elman(badTanh));
    expect(r.ok).toBe(false);
    for (const n of ["BPTT gradient: params", "BPTT gradient: inputs xs", "BPTT gradient: initial carry"]) expect(check(r, n).ok).toBe(false);
    expect(check(r, "shape contract").ok).toBe(true);
    expect(check(r, "purity: same inputs, same outputs").ok).toBe(true);
    const g = check(r, "BPTT gradient: params");
    expect(g.maxRelError!).toBeGreaterThan(1e-2);
    expect(g.report!.worst!.path).toMatch(/^arg0\.(W|b)$/);
    expect(r.worst!.relError).toBeGreaterThan(1e-2);
    expect(formatCellReport(r)).toMatch(/FAIL\s+BPTT gradient: params/);
  });

  it("fails only the second-order check of a cell whose VJP is right but not differentiable", () => {
    const r1 = checkCell(elman(frozenTanh));
    expect(r1.ok, formatCellReport(r1)).toBe(true);
    const r2 = checkCell(elman(frozenTanh), { secondOrder: true });
    expect(r2.ok).toBe(false);
    expect(r2.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["second order (H·v)"]);
  });

  it("fails the purity check of a cell with hidden state that changes its output", () => {
    let calls = 0;
    const base = elman();
    const impure: Cell<ElmanParams, Tensor> = { ...base, step: (p, a, x) => { calls++; const [c, y] = base.step(p, a, x); return [c, add(y, calls * 1e-3)]; } };
    const r = checkCell(impure);
    const c = check(r, "purity: same inputs, same outputs");
    expect(c.ok).toBe(false);
    expect(c.detail).toContain("step");
    expect(r.ok).toBe(false);
  });

  it("fails the inputs-untouched check of a cell that writes into its parameters", () => {
    const base = elman();
    const writer: Cell<ElmanParams, Tensor> = {
      ...base,
      step: (p, a, x) => {
        dataOf(p.b)[0] = dataOf(p.b)[0]! + 0.5; // what a cell must never do (dataOf is internal)
        return base.step(p, a, x);
      },
    };
    const r = checkCell(writer);
    const c = check(r, "purity: inputs untouched");
    expect(c.ok).toBe(false);
    expect(c.detail).toContain("params.b");
  });

  it("fails the masking check of a cell that mixes the rows of a batch", () => {
    const mixing = elman(tanh, (a, z) => add(z, mean(a, 0)));
    const r = checkCell(mixing);
    const c = check(r, "masking");
    expect(c.ok).toBe(false);
    expect(c.maxRelError!).toBeGreaterThan(1e-6);
    // its gradients are still right: only the masking contract is broken
    expect(check(r, "BPTT gradient: params").ok).toBe(true);
  });

  it("fails the shape contract of a cell whose output is not [B, H] and still runs the other checks", () => {
    const base = elman();
    const wide: Cell<ElmanParams, Tensor> = { ...base, step: (p, a, x) => { const [c, y] = base.step(p, a, x); return [c, concat([y, y], 1)]; } };
    const r = checkCell(wide);
    const c = check(r, "shape contract");
    expect(c.ok).toBe(false);
    expect(c.detail).toContain("expected [B, H] = [2,4]");
    expect(check(r, "BPTT gradient: params").ok).toBe(true);
  });

  it("stops at the shape contract when init ignores the dtype, and says init must honour it", () => {
    const base = elman();
    const f32: Cell<ElmanParams, Tensor> = { ...base, init: (key, D, H) => initElman(key, D, H, "float32") };
    const r = checkCell(f32);
    expect(r.ok).toBe(false);
    expect(r.checks).toHaveLength(1);
    expect(check(r, "shape contract").detail).toContain("'float64') returned leaves of type float32");
    expect(check(r, "shape contract").detail).toContain("init must honour its dtype argument");
  });

  it("fails the shape contract of a cell whose step changes the carry's structure", () => {
    const broken: Cell<GatedParams, { a: Tensor; c: Tensor }> = { ...gated, step: (p, carry, x) => { const [c, y] = gated.step(p, carry, x); return [{ a: c.a, c: c.c, extra: c.a } as never, y]; } };
    const r = checkCell(broken);
    expect(r.ok).toBe(false);
    expect(r.checks[0]!.name).toBe("shape contract");
    expect(r.checks[0]!.ok).toBe(false);
  });

  it("names the missing method when the object is not a cell", () => {
    const { step: _s, ...noStep } = elman();
    expect(() => checkCell(noStep as never)).toThrow(ArgumentError);
    expect(() => checkCell(noStep as never)).toThrow(/missing method 'step'/);
    expect(() => checkCell({ init: () => ({}) } as never)).toThrow(/missing methods 'initialCarry', 'step'/);
    expect(() => checkCell({ ...elman(), step: 3 } as never)).toThrow(/step is number, not a function/);
    expect(() => checkCell(elman as never)).toThrow(/call the factory first/);
    expect(() => checkCell(null as never)).toThrow(/must be an object/);
  });

  it("rejects bad options with the option's name", () => {
    expect(() => checkCell(elman(), { steps: 0 })).toThrow(/opts\.steps/);
    expect(() => checkCell(elman(), { hiddenSize: 2.5 })).toThrow(/opts\.hiddenSize/);
    expect(() => checkCell(elman(), { rtol: -1 })).toThrow(/opts\.rtol/);
  });

  it("gives bit-identical reports for the same seed and different problems for another seed", () => {
    const a = checkCell(elman(), { seed: 3 }), b = checkCell(elman(), { seed: 3 }), c = checkCell(elman(), { seed: 4 });
    expect(a.maxRelError).toBe(b.maxRelError);
    expect(a.worst).toEqual(b.worst);
    expect(c.worst).not.toEqual(a.worst);
  });

  it("formats one line per check with the verdict first", () => {
    const r = checkCell(elman(), { steps: 2, label: "tiny" });
    const text = formatCellReport(r);
    expect(text.split("\n")[0]).toMatch(/^checkCell\(tiny\): ok — T=2 B=2 D=3 H=4, seed 0/);
    expect(text.split("\n").filter((l) => /^\s+ok\s{2}/.test(l))).toHaveLength(r.checks.length);
  });
});

describe("maskPattern", () => {
  it("gives row 0 an interior hole and a padded end, and row 1 trailing padding", () => {
    const m = maskPattern(5, 3);
    expect(m.map((r) => r[0])).toEqual([1, 0, 1, 1, 0]);
    expect(m.map((r) => r[1])).toEqual([1, 1, 1, 0, 0]);
    expect(m.map((r) => r[2])).toEqual([1, 1, 0, 1, 1]);
  });
});

describe("compareTrees", () => {
  it("uses checkGrad's relative error |a - b| / (|a| + |b|) and names the worst leaf path", () => {
    const f64 = (v: number[]) => tensor(v, { dtype: "float64" });
    const r = compareTrees("t", { u: f64([1, 2]), v: f64([3]) }, { u: f64([1, 2]), v: f64([3.3]) }, { rtol: 1e-6, atol: 1e-9 });
    expect(r.ok).toBe(false);
    expect(r.failures).toBe(1);
    expect(r.entriesChecked).toBe(3);
    expect(r.worst!.path).toBe("v");
    expect(r.worst!.relError).toBeCloseTo(0.3 / 6.3, 12);
    expect(compareTrees("t", f64([0, 1e-13]), f64([1e-13, 0]), { rtol: 1e-6, atol: 1e-12 }).ok).toBe(true);
  });
});

describe("the library cell suites", () => {
  it("prove every cell and variant with checkCell, first and second order, and are registered", () => {
    const names = allSuites.map((s) => s.name);
    expect(LIBRARY_CELLS.map((c) => c.name)).toEqual(["rnn tanh", "rnn relu", "gru minimal", "gru full", "gru reset-after", "lstm forgetBias 1", "lstm forgetBias 0"]);
    for (const suite of cellSuites) {
      expect(names).toContain(suite.name);
      const r = suite.run(42);
      expect(r.ok, r.failure ? `${suite.name}: ${r.failure.message}\n${r.failure.counterexample}` : "").toBe(true);
      // six numeric comparisons per case: 3 BPTT gradients, sharing, masking, H·v
      expect(r.checks).toBe(6 * suite.cases);
    }
  });

  it("turn a failed check without numbers into a thrown error that carries the report", () => {
    const r = checkCell(elman(), { steps: 2 });
    const broken = { ...r, ok: false, checks: r.checks.map((c) => (c.name === "purity: inputs untouched" ? { ...c, ok: false, detail: "params.b changed" } : c)) };
    expect(() => reportToChecks(broken, "case")).toThrow(/purity: inputs untouched: params.b changed/);
    expect(reportToChecks(r, "case").map((c) => c.label)).toContain("case parameter sharing");
  });
});
