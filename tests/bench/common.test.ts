import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { gradcheckEntries, hash32, lmData, lmWeights, recordedCommand, tokenIds, transpose2d, uniformValues, workOf } from "../../bench/common.js";

/** The hash written again with BigInt arithmetic mod 2³², the way torch_bench.py computes it with uint64. */
const hashBig = (i: number, salt: number): number => {
  const M = (1n << 32n) - 1n;
  let h = (BigInt(i) * 0x9e3779b1n + ((BigInt(salt) * 0x85ebca77n) & M) + 0x165667b1n) & M;
  h ^= h >> 15n;
  h = (h * 0x2c1b3c6dn) & M;
  h ^= h >> 12n;
  h = (h * 0x297a2d39n) & M;
  h ^= h >> 15n;
  return Number(h);
};

describe("bench/common", () => {
  it("hash32 agrees with an arbitrary-precision version of the same hash (the one the Python peer uses)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 << 22 }), fc.integer({ min: 0, max: 64 }), (i, salt) => {
        expect(hash32(i, salt)).toBe(hashBig(i, salt));
      }),
      { numRuns: 100, seed: 5 },
    );
  });

  it("uniform values stay inside [-scale, scale) and repeat exactly for the same salt", () => {
    const a = uniformValues(new Float64Array(1000), 3, 0.25);
    const b = uniformValues(new Float64Array(1000), 3, 0.25);
    expect(Array.from(a)).toEqual(Array.from(b));
    for (const v of a) {
      expect(v).toBeGreaterThanOrEqual(-0.25);
      expect(v).toBeLessThan(0.25);
    }
    expect(Array.from(uniformValues(new Float64Array(8), 4, 0.25))).not.toEqual(Array.from(a.slice(0, 8)));
  });

  it("the language-model targets are the inputs shifted by one time step", () => {
    const w = { kind: "rnnlm", cell: "lstm", V: 64, H: 8, B: 3, T: 5, lr: 0.1 } as const;
    const { inputs, targets } = lmData(w);
    const seq = tokenIds((w.T + 1) * w.B, w.V, 7);
    for (let t = 0; t < w.T; t++)
      for (let b = 0; b < w.B; b++) {
        expect(inputs[t * w.B + b]).toBe(seq[t * w.B + b]);
        expect(targets[t * w.B + b]).toBe(seq[(t + 1) * w.B + b]);
        expect(inputs[t * w.B + b]).toBeLessThan(w.V);
      }
  });

  it("weights have PyTorch's state-dict shapes for every cell", () => {
    for (const [cell, gates] of [["lstm", 4], ["gru", 3], ["rnn", 1]] as const) {
      const W = lmWeights({ kind: "rnnlm", cell, V: 10, H: 6, B: 2, T: 2, lr: 0.1 });
      expect(W.weight_ih.shape).toEqual([gates * 6, 10]);
      expect(W.weight_hh.shape).toEqual([gates * 6, 6]);
      expect(W.bias_ih.data.length).toBe(gates * 6);
      expect(W.out_w.shape).toEqual([10, 6]);
    }
  });

  it("transpose2d moves entry (i, j) to (j, i)", () => {
    const x = Float32Array.from({ length: 6 }, (_, k) => k); // [[0,1,2],[3,4,5]]
    expect(Array.from(transpose2d(x, 2, 3))).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it("work units count flops, tokens and every checked parameter entry", () => {
    expect(workOf({ kind: "matmul", M: 2, K: 3, N: 4 })).toEqual({ amount: 48 / 1e9, unit: "GFLOP/s" });
    expect(workOf({ kind: "rnnlm", cell: "gru", V: 64, H: 8, B: 32, T: 64, lr: 0.1 }).amount).toBe(2048);
    // weight_ih [4H, D] + weight_hh [4H, H] + two biases [4H]
    expect(gradcheckEntries({ kind: "gradcheck", D: 10, H: 20, B: 4, eps: 1e-6 })).toBe(80 * 10 + 80 * 20 + 2 * 80);
  });
});

describe("recordedCommand", () => {
  it("records the bench's options without where the results were written", () => {
    expect(recordedCommand([])).toBe("npm run bench --");
    expect(recordedCommand(["--rounds", "3"])).toBe("npm run bench -- --rounds 3");
    expect(recordedCommand(["--rounds", "3", "--out", "/some/dir/run.json", "--only", "lstm"])).toBe("npm run bench -- --rounds 3 --only lstm");
    expect(recordedCommand(["--out=/some/dir/run.json", "--quick"])).toBe("npm run bench -- --quick");
  });
});
