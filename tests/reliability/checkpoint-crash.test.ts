import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCheckpoint, saveCheckpointSync } from "../../models/checkpoint.js";
import { treeDiff } from "./helpers/trees.js";
import { versionTree } from "./helpers/versions.js";

// A child process saves growing versions of a checkpoint in a loop; it is killed with SIGKILL at random
// moments. After every kill the checkpoint must load and equal, bit for bit, a version that was completely
// written, and never be older than the last version whose save had returned.

const dir = mkdtempSync(join(tmpdir(), "seqgrad-crash-"));
const work = join(dir, "ckpt");
const bundle = join(dir, "save-loop.mjs");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The saver is the TypeScript script helpers/save-loop.ts (runnable by hand with `node --import tsx`); it is
// bundled once with esbuild (tsx's own compiler) so each of the many child processes starts in a fraction
// of the time the tsx loader needs.
beforeAll(async () => {
  const { build } = await import("esbuild");
  await build({ entryPoints: [join(__dirname, "helpers", "save-loop.ts")], bundle: true, platform: "node", format: "esm", outfile: bundle, logLevel: "error" });
  mkdirSync(work);
});

const TRIALS = 40;
const SEED = 20_240_611;
const MAX_DELAY_MS = 600;

interface Trial {
  confirmed: number;
  midWrite: boolean;
}

/** Starts the saver at version `start`, kills it `delay` ms after it is ready; returns the last version it confirmed. */
const runTrial = (path: string, start: number, delay: number): Promise<number> =>
  new Promise((done, fail) => {
    const child = spawn(process.execPath, [bundle, path, String(start)], { stdio: ["ignore", "pipe", "pipe"] });
    let confirmed = start - 1;
    let out = "";
    let err = "";
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      out += chunk;
      const lines = out.split("\n");
      out = lines.pop()!;
      for (const line of lines) {
        if (line === "ready" && timer === undefined) timer = setTimeout(() => child.kill("SIGKILL"), delay);
        const m = /^saved (\d+)$/.exec(line);
        if (m) confirmed = Number(m[1]);
      }
    });
    child.stderr.on("data", (c) => (err += String(c)));
    child.on("error", fail);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") fail(new Error(`the saver exited by itself (code ${code}, signal ${signal}): ${err}`));
      else done(confirmed);
    });
  });

describe("checkpoints under SIGKILL", () => {
  it("always load as the last completely written version, however often the writer is killed mid-save", async () => {
    const path = join(work, "model.safetensors");
    saveCheckpointSync(path, versionTree(0), { version: "0" });
    const delays = fc.sample(fc.integer({ min: 0, max: MAX_DELAY_MS }), { seed: SEED, numRuns: TRIALS });
    const trials: Trial[] = [];
    let onDisk = 0;
    for (const delay of delays) {
      const before = new Set(readdirSync(work));
      const confirmed = await runTrial(path, onDisk + 1, delay);
      const { tree, metadata } = await loadCheckpoint(path);
      const v = Number(metadata.version);
      // durable: never older than the last save that returned; atomic: at most the one save in flight
      expect(v, `after the kill the file holds version ${v}; the last confirmed save was ${confirmed}`).toBeGreaterThanOrEqual(Math.max(confirmed, onDisk));
      expect(v).toBeLessThanOrEqual(confirmed + 1);
      expect(treeDiff(tree, versionTree(v)), `version ${v} is complete`).toBeNull();
      const leftovers = readdirSync(work).filter((f) => !before.has(f));
      expect(leftovers.every((f) => /^\.model\.safetensors\.\d+\.\d+\.[0-9a-f]{12}\.tmp$/.test(f)), leftovers.join(", ")).toBe(true);
      trials.push({ confirmed, midWrite: leftovers.length > 0 });
      onDisk = v;
    }
    const midWrite = trials.filter((t) => t.midWrite).length;
    const saves = onDisk;
    console.log(`checkpoint crash test: ${trials.length} SIGKILL trials survived (seed ${SEED}); ${midWrite} kills left a half-written temp file; ${saves} versions written in all`);
    expect(trials.length).toBe(TRIALS);
    expect(saves).toBeGreaterThan(0);
    // the test means something only if some kills landed between the temp file's creation and the rename
    expect(midWrite).toBeGreaterThan(0);
  }, 180_000);
});
