import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { type Tensor } from "../../core/tensor.js";
import { customVjp, mul, sub, tanh } from "../../autograd/index.js";
import { formatTable, runSuites, selectSuites, toJson } from "../../proofs/runner.js";
import { proveGrad } from "../../proofs/suites/check.js";
import { fmt, propertySuite, range, seedArb, shapeArb, tensorArb, toT, weighted, type Suite } from "../../proofs/suites/suite.js";

/** tanh with a VJP off by a factor 2. */
const badTanh = customVjp((x: Tensor) => tanh(x), (dy, _xs, y) => [mul(dy, mul(2, sub(1, mul(y, y))))], "badTanh");

const tanhSuite = (name: string, op: (x: Tensor) => Tensor): Suite =>
  propertySuite({
    name,
    family: "test",
    description: `vjp of ${name}`,
    cases: 15,
    arbitrary: fc.record({ x: tensorArb(shapeArb(0, 2), range(-2, 2)), w: seedArb }),
    check: ({ x, w }, tol) => proveGrad(`${name} x${fmt(x.shape)}`, (t: Tensor) => weighted(op(t), w), [toT(x)], tol),
  });

const good = tanhSuite("goodTanh", tanh);
const bad = tanhSuite("badTanh", badTanh);
const throwing: Suite = propertySuite({
  name: "throwing",
  family: "test",
  description: "a case that throws",
  cases: 5,
  arbitrary: fc.integer(),
  check: () => {
    throw new RangeError("boom");
  },
});

describe("runSuites", () => {
  it("passes a correct VJP and fails a wrong one, naming the failed suite", () => {
    const s = runSuites([good, bad], { seed: 7 });
    expect(s.ok).toBe(false);
    expect(s.suites).toBe(2);
    expect(s.failed).toEqual(["badTanh"]);
    expect(s.results[0]!.ok).toBe(true);
    expect(s.results[0]!.runs).toBe(15);
    const f = s.results[1]!.failure!;
    expect(f.check!.report.ok).toBe(false);
    expect(f.check!.report.worst!.relError).toBeCloseTo(1 / 3, 6);
    expect(f.seed).toBe(7);
    expect(f.counterexample).not.toBeNull();
  });

  it("reports a case that throws as a failure with the error's message", () => {
    const s = runSuites([throwing], { seed: 1 });
    expect(s.ok).toBe(false);
    expect(s.results[0]!.failure!.message).toContain("RangeError: boom");
  });

  it("uses the requested number of runs and seed for every suite", () => {
    const s = runSuites([good], { seed: 3, runs: 4 });
    expect(s.results[0]!.runs).toBe(4);
    expect(s.results[0]!.seed).toBe(3);
    expect(s.runs).toBe(4);
  });

  it("gives the same worst entry for the same seed", () => {
    const a = runSuites([good], { seed: 11 }).results[0]!.worst!.report.worst;
    const b = runSuites([good], { seed: 11 }).results[0]!.worst!.report.worst;
    expect(b).toEqual(a);
  });

  it("selects suites by name or family, case-insensitively", () => {
    expect(selectSuites([good, bad, throwing], "BADTANH").map((s) => s.name)).toEqual(["badTanh"]);
    expect(selectSuites([good, bad, throwing], "test")).toHaveLength(3);
    expect(selectSuites([good, bad], undefined)).toHaveLength(2);
  });
});

describe("formatTable", () => {
  it("prints one row per suite with its verdict, then the failure details and a summary", () => {
    const text = formatTable(runSuites([good, bad], { seed: 7 }));
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^suite\s+family\s+cases.*worst rel err.*rtol.*result$/);
    expect(lines.find((l) => l.startsWith("goodTanh"))).toMatch(/pass$/);
    expect(lines.find((l) => l.startsWith("badTanh "))).toMatch(/FAIL$/);
    expect(text).toContain("FAIL badTanh: badTanh x");
    expect(text).toContain('replay: seqgrad proofs --only "badTanh" --seed 7');
    expect(lines[lines.length - 1]).toMatch(/^1 of 2 suites FAILED \(seed 7, .*: badTanh$/);
  });

  it("summarises a clean run as all passed", () => {
    const text = formatTable(runSuites([good], { seed: 7 }));
    expect(text.split("\n").pop()).toMatch(/^all 1 suites passed \(seed 7/);
  });
});

describe("toJson", () => {
  it("keeps non-finite errors as strings instead of dropping them", () => {
    const s = runSuites([throwing], { seed: 1 });
    const j = toJson({ ...s, totalMs: Infinity }) as { totalMs: unknown; ok: boolean };
    expect(j.totalMs).toBe("Infinity");
    expect(j.ok).toBe(false);
  });
});
