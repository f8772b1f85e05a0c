/**
 * `npm run check:browser`: runs tests/browser/workload.ts in headless Chromium's main thread (no shared memory,
 * no worker threads, synchronous WebAssembly compilation refused above 4 KB) and in this Node process, and
 * checks that
 * - the page loaded the kernels synchronously as the small build, and `await wasmReady()` swapped the full one in;
 * - every result is the same bit for bit on the small and the full build (zero-step skipping is exact) and in
 *   Node (the same WebAssembly kernels and the same float64 TypeScript kernels);
 * - the float32 WebAssembly matmul is within float32 rounding of the TypeScript reference, and add is bit-equal.
 *
 * Chromium comes from Debian (`apt-get install chromium`; `CHROMIUM=/path` to use another). Not part of
 * `npm test`, so CI does not need a browser; its findings are quoted in the README.
 */
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runChecks, type BrowserCheck } from "./workload.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";

const bundle = await build({
  stdin: {
    contents: `import { runChecks } from "./workload.ts";
      runChecks().then((r) => { document.body.textContent = "RESULT " + JSON.stringify(r); },
        (e) => { document.body.textContent = "ERROR " + (e && e.stack || e); });`,
    resolveDir: here,
    loader: "ts",
  },
  bundle: true,
  format: "iife",
  platform: "browser",
  target: "es2022",
  write: false,
  // the dataset loaders read import.meta.url only in Node, behind a check that the page never passes
  logOverride: { "empty-import-meta": "silent" },
});
const dir = mkdtempSync(path.join(tmpdir(), "seqgrad-browser-"));
let page: string;
try {
  const html = path.join(dir, "index.html");
  const script = bundle.outputFiles[0]!.text.replaceAll("</script", "<\\/script");
  writeFileSync(html, `<!doctype html><html><body>running</body><script>${script}</script></html>`);
  const args = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=120000", "--dump-dom", `file://${html}`];
  page = execFileSync(chromium, args, { encoding: "utf8", maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "ignore"] });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const body = /<body>([\s\S]*?)<\/body>/.exec(page)?.[1]?.trim() ?? page;
if (!body.startsWith("RESULT ")) throw new Error(`the page did not finish: ${body.slice(0, 2000)}`);
const browser = JSON.parse(body.slice("RESULT ".length).replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll("&gt;", ">")) as BrowserCheck;
const version = execFileSync(chromium, ["--version"], { encoding: "utf8" }).trim();
const node = await runChecks();

const failures: string[] = [];
const expect = (ok: boolean, what: string): void => void (ok || failures.push(what));
/** Index and values of the first entry whose bits differ (NaN equals NaN), or null. */
const firstDifference = (x: readonly number[], y: readonly number[]): string | null => {
  if (x.length !== y.length) return `lengths ${x.length} and ${y.length}`;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i]) && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return `[${i}] ${x[i]} vs ${y[i]}`;
  return null;
};
const sameBits = (x: Record<string, number[]>, y: Record<string, number[]>, what: string): void => {
  for (const key of Object.keys(x)) {
    const d = firstDifference(x[key]!, y[key] ?? []);
    expect(d === null, `${what}: ${key} differs at ${d}`);
  }
};

expect(browser.syncAvailable, "the page could not load the kernels synchronously");
expect(!browser.readySmallBuild, "wasmReady() did not leave the full build loaded");
expect(browser.fused === node.fused, `the browser ${browser.fused ? "fuses" : "does not fuse"} float32 multiply-adds and Node ${node.fused ? "does" : "does not"}: run Node with --experimental-wasm-relaxed-simd (npm run check:browser does)`);
sameBits(browser.sync, browser.ready, "browser small build vs full build");
// float64 TypeScript kernels call the engine's Math.exp / Math.tanh / Math.log, and engines differ there: V8
// in Chromium 150 and in Node 20 give tanh results one ulp apart on some inputs. So float64 results from those
// are compared normwise, |Δᵢ| ≤ 1e-12 · maxⱼ|yⱼ| (an ulp of tanh is 1.1e-16 relative; carried through a 12-step
// LSTM and the sums of its backward pass it grows by orders of magnitude, not by ten thousand), the rest bit for bit.
const ENGINE_MATH = ["math", "lstm64"];
const relative = (x: readonly number[], y: readonly number[]): { worst: number; worstEntry: number; differing: number } => {
  const scale = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0); // a reduce: spreading 100,000 arguments nears V8's limit
  let worst = 0, worstEntry = 0, differing = 0;
  x.forEach((v, i) => {
    if (Object.is(v, y[i])) return;
    differing++;
    worst = Math.max(worst, Math.abs(v - y[i]!) / scale);
    worstEntry = Math.max(worstEntry, Math.abs(v - y[i]!) / Math.max(Math.abs(v), Math.abs(y[i]!)));
  });
  return { worst, worstEntry, differing };
};
const bitKeys = Object.keys(browser.ready).filter((k) => !ENGINE_MATH.includes(k));
sameBits(Object.fromEntries(bitKeys.map((k) => [k, browser.ready[k]!])), node.ready, "browser vs Node");
const engine = ENGINE_MATH.map((k) => ({ k, ...relative(browser.ready[k]!, node.ready[k]!), n: browser.ready[k]!.length }));
for (const { k, worst } of engine) expect(worst <= 1e-12, `browser vs Node: ${k} differs by ${worst.toExponential(2)} of its largest value (tolerance 1e-12)`);
expect(firstDifference(browser.ready.add!, browser.ready.addTs!) === null, "browser add differs from the TypeScript reference");
// float32 matmul vs the float64-accumulating reference: |Δ| ≤ (K + 2)·2⁻²⁴·Σ|a||b| ≤ 72·2⁻²⁴·70 here (|a|, |b| < 1)
const bound = 72 * 2 ** -24 * 70;
const worst = browser.ready.matmul!.reduce((m, v, i) => Math.max(m, Math.abs(v - browser.ready.matmulTs![i]!)), 0);
expect(worst <= bound, `browser float32 matmul is ${worst} from the reference (bound ${bound})`);

const entries = Object.values(browser.ready).reduce((n, v) => n + v.length, 0);
console.log(`${version}: kernels loaded synchronously as the ${browser.syncSmallBuild ? "small" : "full"} build (${browser.fused ? "fused" : "separate"} multiply-adds), full build after wasmReady(); elementwise kernels as the ${browser.elementwiseSmallBuild ? "small" : "full"} build; ${entries} values per build`);
for (const { k, worst, worstEntry, differing, n } of engine)
  console.log(`${k} (float64 through the engine's Math functions): ${differing} of ${n} values differ from Node's, worst |Δ| ${worst.toExponential(2)} of the largest value (${worstEntry.toExponential(2)} of its own)`);
console.log(`matmul vs TypeScript reference: worst |Δ| ${worst.toExponential(2)} (bound ${bound.toExponential(2)})`);
if (failures.length > 0) {
  for (const f of failures) console.log(`FAIL ${f}`);
  process.exit(1);
}
console.log(`browser check passed: ${bitKeys.join(", ")} bit for bit in the browser (both builds) and in Node`);
