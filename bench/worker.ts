/**
 * One benchmark child process: `worker.ts <impl>` runs one JavaScript implementation, driven by `run.ts` over
 * the IPC channel (so library chatter on stdout cannot corrupt the protocol). A fresh child per workload group
 * makes its peak RSS (`process.resourceUsage().maxRSS`) that implementation's own.
 */
import { warmUp, type Peer, type Reply, type Request, type Runner } from "./common.js";

const impl = process.argv[2] ?? "";

const loadPeer = async (name: string): Promise<{ peer: Peer; info: Record<string, string> }> => {
  if (name === "seqgrad" || name === "seqgrad-1t" || name === "seqgrad-1t-fma" || name === "seqgrad-raw") {
    // seqgrad-1t is seqgrad with SEQGRAD_THREADS=1 in its environment, seqgrad-1t-fma also with relaxed SIMD on (both set by run.ts)
    const m = await import("./peers/seqgrad.js");
    return { peer: name === "seqgrad-raw" ? m.seqgradRawPeer : m.seqgradPeer, info: m.seqgradInfo() };
  }
  if (name.startsWith("tfjs-")) {
    const m = await import("./peers/tfjs.js");
    return m.tfjsPeer(name);
  }
  if (name === "jax-wasm") {
    const m = await import("./peers/jax.js");
    return m.jaxPeer();
  }
  throw new Error(`unknown implementation '${name}'`);
};

const send = (r: Reply): void => void process.send!(r);
const rssKB = (): number => Math.round(process.memoryUsage.rss() / 1024);

const main = async (): Promise<void> => {
  const { peer, info } = await loadPeer(impl);
  let runner: Runner | null = null;
  send({ ok: true, kind: "hello", impl, info, rssKB: rssKB() });
  process.on("message", async (msg: Request) => {
    try {
      if (msg.cmd === "setup") {
        runner = null;
        const r = await peer(msg.workload);
        if ("skip" in r) {
          send({ ok: false, error: `skip: ${r.skip}` });
          return;
        }
        const warm = await warmUp(r, msg.warmupSeconds);
        runner = r;
        send({ ok: true, kind: "setup", initialLoss: r.initialLoss, ...(r.work !== undefined ? { work: r.work } : {}), ...warm, ...(r.note ? { note: r.note } : {}) });
      } else if (msg.cmd === "round") {
        if (!runner) throw new Error("round before setup");
        const faults0 = process.resourceUsage().minorPageFault;
        const t0 = performance.now(), until = t0 + msg.seconds * 1000;
        let reps = 0;
        do {
          await runner.step();
          reps++;
        } while (performance.now() < until);
        const seconds = (performance.now() - t0) / 1000;
        const detail = runner.detail?.();
        const minorFaults = process.resourceUsage().minorPageFault - faults0;
        send({ ok: true, kind: "round", seconds, reps, loss: runner.lastLoss?.() ?? null, minorFaults, ...(detail ? { detail } : {}) });
      } else if (msg.cmd === "rss") {
        send({ ok: true, kind: "rss", maxRssKB: process.resourceUsage().maxRSS, rssKB: rssKB() });
      } else if (msg.cmd === "exit") {
        process.exit(0);
      }
    } catch (e) {
      send({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  });
};

main().catch((e) => {
  send({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  process.exit(1);
});
