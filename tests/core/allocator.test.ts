import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { allocatorHinted } from "../../core/allocator.js";
import "../../core/tensor.js"; // loading seqgrad is what gives the hint

/** glibc's version where this process runs on glibc (Node's diagnostic report names it), else undefined. */
const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;

/**
 * A child process that loads seqgrad, then makes a 24 MiB tensor three times, each dropped and collected before
 * the next, and reports whether the hint was given and the minor page faults each of the three cost.
 */
const faultsOfRepeats = (hint: boolean): { hinted: boolean; faults: number[] } => {
  const tensorModule = new URL("../../core/tensor.ts", import.meta.url).href;
  const allocatorModule = new URL("../../core/allocator.ts", import.meta.url).href;
  const script = `
    const { full } = await import(${JSON.stringify(tensorModule)});
    const { allocatorHinted } = await import(${JSON.stringify(allocatorModule)});
    globalThis.gc(); // frees the hint's block now rather than at the next collection
    const faults = [];
    for (let i = 0; i < 3; i++) {
      const f0 = process.resourceUsage().minorPageFault;
      let t = full([6, 1024, 1024], 1); // 24 MiB of float32, every page written
      faults.push(process.resourceUsage().minorPageFault - f0);
      t = null;
      globalThis.gc();
    }
    console.log(JSON.stringify({ hinted: allocatorHinted(), faults }));
  `;
  const env: NodeJS.ProcessEnv = { ...process.env, SEQGRAD_MALLOC_HINT: hint ? "" : "0" };
  delete env["MALLOC_MMAP_THRESHOLD_"]; // either variable turns glibc's dynamic thresholds off
  delete env["MALLOC_TRIM_THRESHOLD_"];
  const args = ["--expose-gc", "--single-threaded-gc", "--import", "tsx", "--input-type=module", "-e", script];
  const child = spawnSync(process.execPath, args, { encoding: "utf8", env });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split("\n").pop()!) as { hinted: boolean; faults: number[] };
};

describe("the allocator hint (core/allocator.ts)", () => {
  it("is given in this Node process on Linux and not elsewhere", () => {
    expect(allocatorHinted()).toBe(process.platform === "linux" && process.env["SEQGRAD_MALLOC_HINT"] !== "0");
  });

  it.runIf(glibc !== undefined)("makes glibc reuse a freed 24 MiB block instead of faulting in fresh pages", () => {
    const pages = (24 * 1024 * 1024) / 4096;
    // Without the hint, glibc mmaps the first 24 MiB block and unmaps it when freed (raising its threshold to
    // 24 MiB), so the second one comes from fresh heap pages and faults on every page again. With it, the first
    // block already comes from the heap and, freed, stays there under the 62 MiB trim threshold, so the
    // second reuses its pages. Stated bounds: at least 90% of the pages fault without, at most 10% with.
    const without = faultsOfRepeats(false), withHint = faultsOfRepeats(true);
    expect(without.hinted).toBe(false);
    expect(withHint.hinted).toBe(true);
    expect(without.faults[1]).toBeGreaterThan(0.9 * pages);
    expect(withHint.faults[1]).toBeLessThan(0.1 * pages);
  });
});
