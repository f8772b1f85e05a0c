/**
 * Child process of the crash test: saves versions start, start+1, ... of `versionTree` to one checkpoint
 * path, forever, alternating the async and sync writers, and prints `saved v` after each save returns.
 * The parent kills it with SIGKILL at a random moment.
 * Usage: node --import tsx save-loop.ts <path> <start>
 */
import { writeSync } from "node:fs";
import { saveCheckpoint, saveCheckpointSync } from "../../../models/checkpoint.js";
import { versionTree } from "./versions.js";

const [path, startArg] = process.argv.slice(2);
if (!path || !startArg) throw new Error("usage: save-loop.ts <path> <start>");
const say = (line: string) => writeSync(1, `${line}\n`); // synchronous, so a printed line is never lost in a buffer

say("ready");
for (let v = Number(startArg); ; v++) {
  const tree = versionTree(v);
  if (v % 2 === 0) await saveCheckpoint(path, tree, { version: String(v) });
  else saveCheckpointSync(path, tree, { version: String(v) });
  say(`saved ${v}`);
}
