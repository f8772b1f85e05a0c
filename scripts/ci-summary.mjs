// Prints the plain `N passed, N failed` line CI reads, from vitest's JSON report.
// A missing or unreadable report (typecheck failed, vitest crashed) counts as one failure.
import { readFileSync } from "node:fs";

const [file, rcArg] = process.argv.slice(2);
const rc = Number(rcArg ?? 0);
let passed = 0;
let failed = 0;
try {
  const r = JSON.parse(readFileSync(file, "utf8"));
  passed = r.numPassedTests ?? 0;
  failed = r.numFailedTests ?? 0;
  // test files that failed to load report no assertions; count each as one failure
  for (const s of r.testResults ?? []) if (s.status === "failed" && !(s.assertionResults ?? []).length) failed += 1;
  const pending = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if (pending) console.log(`note: ${pending} skipped or todo test(s)`);
  // a suite that fails to load has no failed tests but must still fail CI
  if (rc !== 0 && failed === 0) failed = 1;
} catch (e) {
  console.log(`ci-summary: no readable vitest report at ${file} (${e.message.split("\n")[0]})`);
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed`);
