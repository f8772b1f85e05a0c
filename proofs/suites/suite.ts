/**
 * A proof suite is data: `{ name, family, cases, tolerance, run(seed, runs?) => SuiteResult }`. The same suites
 * run under vitest and from `seqgrad proofs`. `propertySuite` builds one from a fast-check arbitrary of plain
 * case data (shapes and numbers, so counterexamples print and shrink well) and a check that turns one case into
 * gradient reports. Randomness comes only from fast-check's seed (and seeded PRNGs fed by generated integers).
 */
import fc from "fast-check";
import { tensor, type Tensor } from "../../core/tensor.js";
import { mul, sum } from "../../autograd/index.js";
import { seededUniform, type GradReport } from "../checkGrad.js";

export interface Tolerance {
  readonly eps: number;
  readonly rtol: number;
  readonly atol: number;
}

/**
 * The suites' tolerance: checkGrad's rtol 1e-6 and atol 1e-9, with the step ε = 1e-5 ≈ (3u)^(1/3) (u = 2⁻⁵³),
 * the textbook step that balances the truncation error of central differences (ε²/6 · f‴, relative ≈ 2e-11
 * for these ops on their domains) against rounding (≈ u · |partial sums of f| / ε). With checkGrad's default
 * ε = 1e-6 the rounding term alone reaches ~1.5e-9 on the suites' largest cases (64 entries, values up to
 * e⁵), just over atol, so correct VJPs could fail; ε = 1e-5 divides that term by 10.
 */
export const DEFAULT_TOLERANCE: Tolerance = { eps: 1e-5, rtol: 1e-6, atol: 1e-9 };

/** One gradient check made while proving a case: what was checked, and its report. */
export interface CaseCheck {
  readonly label: string;
  readonly report: GradReport;
}

export interface SuiteFailure {
  /** Why the suite failed: the failing report in one line, or the error a case threw. */
  readonly message: string;
  /** The (shrunk) failing case, as fast-check prints it. */
  readonly counterexample: string | null;
  /** fast-check's seed and path: replay with `fc.check(prop, { seed, path })` or `seqgrad proofs --seed`. */
  readonly seed: number;
  readonly path: string | null;
  /** The failing check of the shrunk case, when it failed by tolerance rather than by throwing. */
  readonly check: CaseCheck | null;
}

export interface SuiteResult {
  readonly name: string;
  readonly family: string;
  readonly ok: boolean;
  /** Property runs fast-check made (cases). */
  readonly runs: number;
  /** Gradient checks made, counting every case (and shrink step); a case may make more than one. */
  readonly checks: number;
  /** Gradient entries compared against finite differences over all checks. */
  readonly entries: number;
  /** The check whose worst entry came closest to (or went furthest past) its tolerance. */
  readonly worst: CaseCheck | null;
  readonly tolerance: Tolerance;
  readonly seed: number;
  readonly failure: SuiteFailure | null;
}

export interface Suite {
  readonly name: string;
  /** unary, binary, reduce, shape, matmul, softmax, second-order, cells, ... */
  readonly family: string;
  /** Default number of property runs. */
  readonly cases: number;
  readonly tolerance: Tolerance;
  /** What the suite proves, one line. */
  readonly description: string;
  /** Runs the suite with fast-check seed `seed` and `runs` property runs (default `cases`). */
  readonly run: (seed: number, runs?: number) => SuiteResult;
}

/** How far a report's worst entry is from failing: min(relErr / rtol, absErr / atol); > 1 means it failed. */
export const excess = (r: GradReport): number => {
  if (!r.worst) return 0;
  return Math.min(r.worst.relError / r.tolerance.rtol, r.worst.absError / r.tolerance.atol);
};

export interface PropertySuiteSpec<T> {
  name: string;
  family: string;
  description: string;
  cases: number;
  tolerance?: Tolerance;
  arbitrary: fc.Arbitrary<T>;
  /** Proves one case; may return several checks (e.g. first and second order). */
  check: (value: T, tolerance: Tolerance) => CaseCheck | readonly CaseCheck[];
}

/** Builds a suite from an arbitrary of case data and a check; failures shrink to a minimal case. */
export const propertySuite = <T>(spec: PropertySuiteSpec<T>): Suite => {
  const tolerance = spec.tolerance ?? DEFAULT_TOLERANCE;
  const run = (seed: number, runs = spec.cases): SuiteResult => {
    let checks = 0, entries = 0;
    let worst: CaseCheck | null = null;
    const prove = (value: T): readonly CaseCheck[] => {
      const out = spec.check(value, tolerance);
      const list = Array.isArray(out) ? (out as readonly CaseCheck[]) : [out as CaseCheck];
      for (const c of list) {
        checks++;
        entries += c.report.entriesChecked;
        if (worst === null || excess(c.report) > excess(worst.report)) worst = c;
      }
      return list;
    };
    const details = fc.check(
      fc.property(spec.arbitrary, (v) => prove(v).every((c) => c.report.ok)),
      { seed, numRuns: runs },
    );
    let failure: SuiteFailure | null = null;
    if (details.failed) {
      const cx = details.counterexample ? details.counterexample[0] : undefined;
      let check: CaseCheck | null = null;
      let message: string;
      const describeError = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      if (cx !== undefined) {
        // replay the shrunk case once to get its report (or the error it throws)
        try {
          const out = spec.check(cx, tolerance);
          const list = Array.isArray(out) ? (out as readonly CaseCheck[]) : [out as CaseCheck];
          check = list.find((c) => !c.report.ok) ?? null;
          message = check ? `${check.label}: gradient outside tolerance` : `failed: ${describeError(details.errorInstance)}`;
        } catch (e) {
          message = `threw ${describeError(e)}`;
        }
      } else message = details.interrupted ? "interrupted" : `too many skipped cases (${details.numSkips})`;
      failure = { message, counterexample: cx === undefined ? null : fc.stringify(cx), seed: details.seed, path: details.counterexamplePath, check };
      if (check) worst = check;
    }
    return {
      name: spec.name,
      family: spec.family,
      ok: !details.failed,
      runs: details.numRuns,
      checks,
      entries,
      worst,
      tolerance,
      seed,
      failure,
    };
  };
  return { name: spec.name, family: spec.family, cases: spec.cases, tolerance, description: spec.description, run };
};

// ---- case data and arbitraries ----------------------------------------------------------------------------

/** A tensor as plain data inside a generated case. */
export interface Arr {
  readonly shape: number[];
  readonly values: number[];
}

export const sizeOfShape = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/** float64 tensor from case data. */
export const toT = (a: Arr): Tensor => tensor(a.values, { shape: a.shape, dtype: "float64" });

/** `[2,1,3]` */
export const fmt = (s: readonly number[]): string => `[${s.join(",")}]`;

/** Where an op's input values live. */
export type Domain =
  | { readonly kind: "range"; readonly min: number; readonly max: number }
  /** |v| in [min, max] with either sign: keeps values away from a kink at 0 (relu, abs) or a pole (div). */
  | { readonly kind: "awayFromZero"; readonly min: number; readonly max: number }
  /** Distinct multiples of `step` in [-limit·step, limit·step]: no ties anywhere (max, maximum, clip). */
  | { readonly kind: "grid"; readonly step: number; readonly limit: number };

export const range = (min: number, max: number): Domain => ({ kind: "range", min, max });
export const awayFromZero = (min: number, max: number): Domain => ({ kind: "awayFromZero", min, max });
/** Grid of step 0.04 over [-4, 4]: 201 distinct values, gaps 0.04 ≫ ε. */
export const GRID: Domain = { kind: "grid", step: 0.04, limit: 100 };

const double = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

/** `n` values from a domain. */
export const valuesArb = (n: number, d: Domain): fc.Arbitrary<number[]> => {
  switch (d.kind) {
    case "range":
      return fc.array(double(d.min, d.max), { minLength: n, maxLength: n });
    case "awayFromZero":
      return fc.array(fc.tuple(fc.boolean(), double(d.min, d.max)).map(([s, v]) => (s ? v : -v)), { minLength: n, maxLength: n });
    case "grid":
      return fc.uniqueArray(fc.integer({ min: -d.limit, max: d.limit }), { minLength: n, maxLength: n }).map((ks) => ks.map((k) => k * d.step));
  }
};

export const arrArb = (shape: readonly number[], d: Domain): fc.Arbitrary<Arr> => valuesArb(sizeOfShape(shape), d).map((values) => ({ shape: shape.slice(), values }));

/** A shape of rank in [minRank, maxRank] with dims in [minDim, maxDim]. */
export const shapeArb = (minRank = 0, maxRank = 3, maxDim = 4, minDim = 1): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/** A tensor of any shape drawn by `shapes`, values from `d`. */
export const tensorArb = (shapes: fc.Arbitrary<number[]>, d: Domain): fc.Arbitrary<Arr> => shapes.chain((s) => arrArb(s, d));

/** A shape that broadcasts to `out`: some leading axes dropped, some remaining axes set to 1. */
export const broadcastableTo = (out: readonly number[]): fc.Arbitrary<number[]> =>
  fc.tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length })).map(([drop, ones]) =>
    out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)),
  );

/** `k` shapes that broadcast together (ranks and size-1 dims differ), for binary and ternary ops. */
export const broadcastShapesArb = (k: number, maxRank = 3, maxDim = 3): fc.Arbitrary<number[][]> =>
  shapeArb(0, maxRank, maxDim).chain((out) => fc.tuple(...Array.from({ length: k }, () => broadcastableTo(out))));

/** An axis of a rank-r tensor, possibly negative. */
export const axisArb = (rank: number): fc.Arbitrary<number> => fc.integer({ min: -rank, max: rank - 1 });

/** A float64 tensor of `shape` with entries uniform in [-1, 1), from a seeded PRNG: a fixed cotangent. */
export const probe = (shape: readonly number[], seed: number): Tensor => {
  const rand = seededUniform(seed);
  return tensor(Float64Array.from({ length: sizeOfShape(shape) }, () => 2 * rand() - 1), { shape: shape.slice(), dtype: "float64" });
};

/** `Σ y ⊙ w` for a seeded random w: a scalar whose gradient is the VJP of the op with cotangent w (not just ones). */
export const weighted = (y: Tensor, seed: number): Tensor => sum(mul(y, probe(y.shape, seed)));

/** The cotangent seed of a case. */
export const seedArb = fc.integer({ min: 0, max: 0x7fffffff });
