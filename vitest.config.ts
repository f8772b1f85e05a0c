import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // default output for people, plus a JSON report that .ci/run turns into `N passed, N failed`
    reporters: ["default", ["json", { outputFile: ".tmp/vitest-report.json" }]],
  },
});
