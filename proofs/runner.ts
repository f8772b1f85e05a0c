/**
 * Runs proof suites and reports them: one table row per suite (cases, worst relative error against its
 * tolerance, pass/FAIL), then the details of every failure with what is needed to replay it.
 */
import { formatReport } from "./checkGrad.js";
import { allSuites } from "./suites/index.js";
import { excess, type Suite, type SuiteResult } from "./suites/suite.js";

export interface RunOptions {
  /** Property runs per suite; default each suite's own `cases`. */
  runs?: number;
  /** fast-check seed shared by every suite. Default 42, so a plain run is reproducible. */
  seed?: number;
  /** Keep only suites whose name or family contains this text (case-insensitive). */
  only?: string;
  /** Called after each suite, e.g. for progress output. */
  onResult?: (result: TimedResult, index: number, count: number) => void;
}

export interface TimedResult extends SuiteResult {
  /** Wall-clock milliseconds (reported, never asserted). */
  readonly ms: number;
}

export interface RunSummary {
  readonly ok: boolean;
  readonly seed: number;
  readonly runs: number | null;
  readonly suites: number;
  readonly failed: readonly string[];
  readonly slowest: { readonly name: string; readonly ms: number } | null;
  readonly totalMs: number;
  readonly results: readonly TimedResult[];
}

export const DEFAULT_SEED = 42;

/** Suites matching `only` (by name or family, case-insensitive); all of them when it is empty. */
export const selectSuites = (suites: readonly Suite[], only?: string): Suite[] => {
  if (!only) return suites.slice();
  const q = only.toLowerCase();
  return suites.filter((s) => s.name.toLowerCase().includes(q) || s.family.toLowerCase().includes(q));
};

/** Runs `suites` (default: every registered suite) one after another and summarises them. */
export const runSuites = (suites: readonly Suite[] = allSuites, opts: RunOptions = {}): RunSummary => {
  const seed = opts.seed ?? DEFAULT_SEED;
  const chosen = selectSuites(suites, opts.only);
  const results: TimedResult[] = [];
  const t0 = performance.now();
  chosen.forEach((s, i) => {
    const start = performance.now();
    const r = s.run(seed, opts.runs);
    const timed: TimedResult = { ...r, ms: performance.now() - start };
    results.push(timed);
    opts.onResult?.(timed, i, chosen.length);
  });
  const slowest = results.reduce<TimedResult | null>((m, r) => (m === null || r.ms > m.ms ? r : m), null);
  const failed = results.filter((r) => !r.ok).map((r) => r.name);
  return {
    ok: failed.length === 0,
    seed,
    runs: opts.runs ?? null,
    suites: results.length,
    failed,
    slowest: slowest ? { name: slowest.name, ms: slowest.ms } : null,
    totalMs: performance.now() - t0,
    results,
  };
};

const sci = (v: number | undefined): string => (v === undefined ? "-" : !Number.isFinite(v) ? String(v) : v === 0 ? "0" : v.toExponential(1));

const pct = (x: number): string => (!Number.isFinite(x) ? "∞" : x >= 10 ? `${x.toExponential(1)}×` : x >= 0.001 ? `${(100 * x).toFixed(1)}%` : "<0.1%");

const pad = (rows: string[][], right: ReadonlySet<number>): string[] => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ").trimEnd());
};

/** The results as a text table, followed by each failure's details and a one-line summary. */
export const formatTable = (summary: RunSummary): string => {
  // "tol used" is the worst entry's min(relErr / rtol, absErr / atol): under 100% passes. An entry whose true
  // gradient is ~0 can show a large relative error yet pass on atol, so read the two error columns together.
  const header = ["suite", "family", "cases", "checks", "entries", "worst rel err", "(abs)", "tol used", "rtol", "atol", "eps", "ms", "result"];
  const rows = summary.results.map((r) => {
    const w = r.worst?.report.worst ?? undefined;
    return [
      r.name, r.family, String(r.runs), String(r.checks), String(r.entries),
      sci(w?.relError), sci(w?.absError), r.worst ? pct(excess(r.worst.report)) : "-",
      sci(r.tolerance.rtol), sci(r.tolerance.atol), sci(r.tolerance.eps),
      r.ms.toFixed(0), r.ok ? "pass" : "FAIL",
    ];
  });
  const lines = pad([header, ...rows], new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
  const rule = "-".repeat(Math.max(...lines.map((l) => l.length)));
  const out = [lines[0]!, rule, ...lines.slice(1), rule];
  for (const r of summary.results.filter((x) => !x.ok)) {
    const f = r.failure!;
    out.push(`FAIL ${r.name}: ${f.message}`);
    if (f.check) out.push(`  ${formatReport(f.check.report)}`);
    if (f.counterexample) out.push(`  counterexample: ${f.counterexample.length > 600 ? `${f.counterexample.slice(0, 600)}…` : f.counterexample}`);
    out.push(`  replay: seqgrad proofs --only ${JSON.stringify(r.name)} --seed ${f.seed}${summary.runs !== null ? ` --runs ${summary.runs}` : ""}  (fast-check path ${f.path ?? "-"})`);
  }
  const slow = summary.slowest ? `; slowest ${summary.slowest.name} (${summary.slowest.ms.toFixed(0)} ms)` : "";
  out.push(
    `${summary.ok ? "all" : `${summary.failed.length} of`} ${summary.suites} suites ${summary.ok ? "passed" : "FAILED"} ` +
      `(seed ${summary.seed}, ${(summary.totalMs / 1000).toFixed(1)} s${slow})${summary.ok ? "" : `: ${summary.failed.join(", ")}`}`,
  );
  return out.join("\n");
};

/** A JSON-ready view of a run (non-finite numbers become strings so nothing is lost). */
export const toJson = (summary: RunSummary): unknown =>
  JSON.parse(JSON.stringify(summary, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v)));
