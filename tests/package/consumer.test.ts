import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// The consumer path: build, `npm pack`, install the tarball into an empty project, import and differentiate.
const root = resolve(__dirname, "../..");
const work = mkdtempSync(join(tmpdir(), "seqgrad-consumer-"));
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_loglevel: "error" } });

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the packed package", () => {
  it("installs into an empty project and computes a gradient from plain Node and from tsx", () => {
    run("npm", ["run", "build", "--silent"], root);
    run("npm", ["pack", "--silent", "--ignore-scripts", "--pack-destination", work], root);
    const tgz = readdirSync(work).find((f) => f.endsWith(".tgz"));
    expect(tgz).toBeDefined();
    const app = join(work, "app");
    run("mkdir", ["-p", app], work);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", type: "module", private: true }));
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--omit=optional", join(work, tgz!)], app);
    const code = `
      import { grad, tensor, mul, sum, tanh } from "seqgrad";
      import { checkGrad } from "seqgrad/proofs";
      import { scan } from "seqgrad/layers";
      const x = tensor([0.5, -1, 2], { dtype: "float64" });
      const f = (v) => sum(mul(tanh(v), v));
      const g = grad(f)(x).toArray();
      const report = checkGrad(f, [x]);
      console.log(JSON.stringify({ g, ok: report.ok, scan: typeof scan }));
    `;
    writeFileSync(join(app, "main.mjs"), code);
    const expected = [0.5, -1, 2].map((v) => Math.tanh(v) + v * (1 - Math.tanh(v) ** 2));
    const check = (out: string) => {
      const r = JSON.parse(out.trim().split("\n").pop()!);
      expect(r.ok).toBe(true);
      expect(r.scan).toBe("function");
      r.g.forEach((v: number, i: number) => expect(v).toBeCloseTo(expected[i]!, 12));
    };
    check(run("node", ["main.mjs"], app));
    writeFileSync(join(app, "main.ts"), code.replace("(v) =>", "(v: any) =>"));
    check(run(join(root, "node_modules/.bin/tsx"), ["main.ts"], app));
  }, 600_000); // build (wasm + tsc), pack and an npm install: minutes on a loaded 2-core machine
});
