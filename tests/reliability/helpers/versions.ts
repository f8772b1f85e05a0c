/**
 * The checkpoint versions of the crash test: version v is a deterministic tree whose tensor sizes change
 * with v (so a torn or mixed write cannot pass for a complete one), about 1 MB each.
 */
import { tensor, type Tensor } from "../../../core/tensor.js";

export interface VersionTree {
  step: Tensor;
  layers: { W: Tensor; b: Tensor }[];
}

/** Version v: `step = v`, and weights whose values and lengths are functions of v. */
export const versionTree = (v: number): VersionTree => {
  const n = 120_000 + ((v * 7919) % 37) * 3_000;
  const m = 40_000 + ((v * 104_729) % 23) * 1_000;
  const W0 = new Float32Array(n);
  for (let i = 0; i < n; i++) W0[i] = v + i * 1e-3;
  const W1 = new Float64Array(m);
  for (let i = 0; i < m; i++) W1[i] = v * 1e6 + i;
  return {
    step: tensor(v, { dtype: "float64" }),
    layers: [
      { W: tensor(W0, { shape: [n / 1000, 1000] }), b: tensor([v, -v], { dtype: "float32" }) },
      { W: tensor(W1, { shape: [m] }), b: tensor([], { dtype: "float64" }) },
    ],
  };
};
