#!/usr/bin/env node
// Compiles core/wasm/kernels.as and core/wasm/elementwise.as (AssemblyScript) to WebAssembly with SIMD
// and writes the bytes, base64 encoded, into core/wasm/kernels.generated.ts, so Node and browsers load
// the same kernels with no fs access and no compiler on the user's machine.
//
//   node scripts/build-wasm.mjs            build and write the generated module
//   node scripts/build-wasm.mjs --check    build and fail if the committed module differs
//   node scripts/build-wasm.mjs --wat F    also write the text format to F (for reading the code)
//   node scripts/build-wasm.mjs --wasm F   also write the raw .wasm binary to F
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sourcePath = join(root, "core/wasm/kernels.as");
const outPath = join(root, "core/wasm/kernels.generated.ts");

const args = process.argv.slice(2);
const check = args.includes("--check");
const watIndex = args.indexOf("--wat");
const watPath = watIndex >= 0 ? args[watIndex + 1] : undefined;
const wasmIndex = args.indexOf("--wasm");
const wasmPath = wasmIndex >= 0 ? args[wasmIndex + 1] : undefined;

let asc;
// asc inspects process.argv when it is imported; keep our own flags away from it.
process.argv.length = 2;
try {
  asc = (await import("assemblyscript/asc")).default;
} catch (e) {
  // Installing seqgrad as a dependency runs no build: the committed module is used as is.
  if (e?.code === "ERR_MODULE_NOT_FOUND" && existsSync(outPath)) {
    console.log("build-wasm: assemblyscript is not installed; keeping the committed core/wasm/kernels.generated.ts");
    process.exit(0);
  }
  throw e;
}

const source = readFileSync(sourcePath, "utf8");
const elementwisePath = join(root, "core/wasm/elementwise.as");
const elementwiseSource = readFileSync(elementwisePath, "utf8");
/** Largest shared memory the threaded build declares (pages of 64 KiB); core/wasm/backend.ts mirrors it. */
const SHARED_MAX_PAGES = 32767;

/** A variant's source: `text` with `from` replaced by `to`; the build fails unless `from` is in `file` exactly once. */
function replaceOnce(text, from, to, file) {
  if (text.split(from).length !== 2) {
    console.error(`build-wasm: expected \`${from}\` exactly once in ${file}`);
    process.exit(1);
  }
  return text.replace(from, to);
}

// The fused variant: madd32's body (float32 only) becomes relaxed SIMD's fused multiply-add.
const fusedSource = replaceOnce(source, "return f32x4.add(c, f32x4.mul(a, b));", "return f32x4.relaxed_madd(a, b, c);", "core/wasm/kernels.as");
// The small variants: no zero-step skipping, so that the single-thread module fits in the 4096 bytes a
// browser's main thread compiles synchronously (the full one is swapped in by wasmReady()).
const smallOf = (text) => replaceOnce(text, "const SKIP_ZERO_STEPS: bool = true;", "const SKIP_ZERO_STEPS: bool = false;", "core/wasm/kernels.as");
/** Largest module a browser compiles synchronously on its main thread. */
const SYNC_COMPILE_MAX_BYTES = 4096;
/** Fails the build if a small variant is over SYNC_COMPILE_MAX_BYTES. */
function checkSyncSize(name, built) {
  if (built.binary.length > SYNC_COMPILE_MAX_BYTES) {
    console.error(`build-wasm: the ${name} module is ${built.binary.length} bytes, over the ${SYNC_COMPILE_MAX_BYTES} a browser compiles synchronously`);
    process.exit(1);
  }
}

async function compile(variant, text = source) {
  // asc only reads .ts entry files; the sources are named .as so the project's tsc leaves them alone.
  const shared = variant.startsWith("shared");
  const fused = variant.endsWith("fma");
  const features = ["simd", "bulk-memory", ...(shared ? ["threads"] : []), ...(fused ? ["relaxed-simd"] : [])];
  const result = await asc.compileString(
    { "kernels.ts": text },
    {
      optimizeLevel: 1, // not higher: -O3 ran the float32 micro-kernel 5% slower (see kernels.as)
      shrinkLevel: 0,
      converge: true,
      runtime: "stub",
      noAssert: true,
      enable: features,
      use: ["abort="],
      ...(shared ? { importMemory: true, sharedMemory: true, maximumMemory: SHARED_MAX_PAGES } : {}),
    },
  );
  if (result.error) {
    process.stderr.write(result.stderr.toString());
    console.error(`build-wasm: compiling core/wasm/kernels.as (${variant}) failed: ${result.error.message}`);
    process.exit(1);
  }
  return result;
}

// "single": exports its own memory, for one thread anywhere. "shared": imports a shared memory so a
// worker thread can run the same kernels on the same buffers (Node; browsers need cross-origin isolation).
const single = await compile("single");
const shared = await compile("shared");
const singleFma = await compile("single-fma", fusedSource);
const sharedFma = await compile("shared-fma", fusedSource);
if (!singleFma.text.includes("f32x4.relaxed_madd")) {
  console.error("build-wasm: the fused build has no f32x4.relaxed_madd");
  process.exit(1);
}
const singleSmall = await compile("single-small", smallOf(source));
const singleSmallFma = await compile("single-small-fma", smallOf(fusedSource));
for (const [name, built] of [["single-small", singleSmall], ["single-small-fma", singleSmallFma]]) {
  checkSyncSize(name, built);
  if (built.text.includes("kernel32<i32>")) {
    console.error(`build-wasm: the ${name} module still has the zero-step kernel`);
    process.exit(1);
  }
}
const elementwise = await compile("elementwise", elementwiseSource);
// The small elementwise build: no softmax kernel, for a browser main thread's synchronous compile.
const elementwiseSmall = await compile(
  "elementwise-small",
  replaceOnce(elementwiseSource, "const FULL: bool = true;", "const FULL: bool = false;", "core/wasm/elementwise.as"),
);
checkSyncSize("elementwise-small", elementwiseSmall);
if (watPath) writeFileSync(watPath, single.text);
if (wasmPath) writeFileSync(wasmPath, single.binary);

const sourceHash = createHash("sha256").update(source).update(elementwiseSource).digest("hex");
const base64Lines = (bytes) => (Buffer.from(bytes).toString("base64").match(/.{1,100}/g) ?? []).map((l) => `  "${l}"`).join(" +\n");
const generated = `// Generated by scripts/build-wasm.mjs from core/wasm/kernels.as; do not edit. Rebuild: npm run build:wasm
/** sha256 of the AssemblyScript sources these bytes were compiled from (kernels.as, then elementwise.as). */
export const KERNELS_SOURCE_SHA256 = "${sourceHash}";
/** Size of the single-thread WebAssembly module in bytes (browsers compile up to 4096 synchronously). */
export const KERNELS_WASM_BYTES = ${single.binary.length};
/** The single-thread WebAssembly module (exports its memory), base64 encoded. */
export const KERNELS_WASM_BASE64 =
${base64Lines(single.binary)};
/** Size of KERNELS_SMALL_WASM_BASE64 in bytes (at most 4096: scripts/build-wasm.mjs fails otherwise). */
export const KERNELS_SMALL_WASM_BYTES = ${singleSmall.binary.length};
/** Size of KERNELS_SMALL_FMA_WASM_BASE64 in bytes (at most 4096 as well). */
export const KERNELS_SMALL_FMA_WASM_BYTES = ${singleSmallFma.binary.length};
/** KERNELS_WASM_BASE64 without zero-step skipping, small enough for a browser's synchronous compile. */
export const KERNELS_SMALL_WASM_BASE64 =
${base64Lines(singleSmall.binary)};
/** KERNELS_SMALL_WASM_BASE64 with float32 multiply-adds fused (relaxed SIMD). */
export const KERNELS_SMALL_FMA_WASM_BASE64 =
${base64Lines(singleSmallFma.binary)};
/** Pages of 64 KiB the shared module's imported memory may grow to. */
export const KERNELS_SHARED_MAX_PAGES = ${SHARED_MAX_PAGES};
/** The same kernels importing a shared memory \`env.memory\` (for a worker thread), base64 encoded. */
export const KERNELS_SHARED_WASM_BASE64 =
${base64Lines(shared.binary)};
/** KERNELS_WASM_BASE64 with float32 multiply-adds fused (relaxed SIMD), for engines that validate it. */
export const KERNELS_FMA_WASM_BASE64 =
${base64Lines(singleFma.binary)};
/** KERNELS_SHARED_WASM_BASE64 with float32 multiply-adds fused (relaxed SIMD). */
export const KERNELS_SHARED_FMA_WASM_BASE64 =
${base64Lines(sharedFma.binary)};
/** Size of the elementwise module (core/wasm/elementwise.as) in bytes. */
export const ELEMENTWISE_WASM_BYTES = ${elementwise.binary.length};
/** The float32 elementwise kernels (exp, sigmoid, tanh, gate math, softmax rows; exports its memory), base64 encoded. */
export const ELEMENTWISE_WASM_BASE64 =
${base64Lines(elementwise.binary)};
/** Size of ELEMENTWISE_SMALL_WASM_BASE64 in bytes (at most 4096: scripts/build-wasm.mjs fails otherwise). */
export const ELEMENTWISE_SMALL_WASM_BYTES = ${elementwiseSmall.binary.length};
/** ELEMENTWISE_WASM_BASE64 without the softmax kernel, small enough for a browser's synchronous compile. */
export const ELEMENTWISE_SMALL_WASM_BASE64 =
${base64Lines(elementwiseSmall.binary)};
`;
const bytes = single.binary;

if (check) {
  const current = existsSync(outPath) ? readFileSync(outPath, "utf8") : "";
  if (current !== generated) {
    console.error("build-wasm: core/wasm/kernels.generated.ts is out of date with core/wasm/kernels.as; run npm run build:wasm and commit it");
    process.exit(1);
  }
  console.log(`build-wasm: core/wasm/kernels.generated.ts is up to date (${bytes.length} bytes)`);
} else {
  writeFileSync(outPath, generated);
  console.log(`build-wasm: wrote core/wasm/kernels.generated.ts (${bytes.length} bytes of WebAssembly)`);
}
