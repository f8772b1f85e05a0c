/**
 * Float32 elementwise kernels in WebAssembly SIMD (core/wasm/elementwise.as): exp, sigmoid and tanh, the
 * transcendental part of LSTM/GRU gate math. Operands are copied into the module's memory and results
 * out into a fresh Float32Array. Accuracy against the correctly rounded value (which is what the
 * TypeScript reference kernels return): ELEMENTWISE_MAX_ULPS, tested in tests/core/wasm.test.ts.
 */
import { ELEMENTWISE_WASM_BASE64 } from "./kernels.generated.js";
import { decodeBase64, getKernelBackend } from "./backend.js";

/** The ops the elementwise module computes. */
export type WasmUnaryOp = "exp" | "sigmoid" | "tanh";

const OPS: Record<WasmUnaryOp, number> = { exp: 0, sigmoid: 1, tanh: 2 };

/**
 * Largest distance, in float32 steps (ulps; 2^-149 where the result is subnormal), of each op from the
 * correctly rounded value. Measured maxima over every 997th float32 bit pattern (4.3 million inputs):
 * exp 1, sigmoid 3, tanh 1; the bounds leave one step for inputs that sweep missed.
 */
export const ELEMENTWISE_MAX_ULPS: Readonly<Record<WasmUnaryOp, number>> = { exp: 2, sigmoid: 4, tanh: 2 };

/**
 * Smallest float32 array worth copying into WebAssembly for exp/sigmoid/tanh under 'auto': measured
 * (CPU time, this machine) 0.6-1.1x the TypeScript kernels at 4-32 elements, 1.1-1.8x at 64 and
 * 2.4-3.3x at 256; 4-8x from 4096 up.
 */
export const ELEMENTWISE_WASM_MIN_SIZE = 256;

/** Whether `unary(op)` on n float32 values should use unaryWasm under the current kernel choice (setKernelBackend). */
export function unaryPrefersWasm(op: string, n: number): op is WasmUnaryOp {
  if (op !== "exp" && op !== "sigmoid" && op !== "tanh") return false;
  const choice = getKernelBackend();
  return choice === "wasm" || (choice === "auto" && n >= ELEMENTWISE_WASM_MIN_SIZE);
}

interface Exports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  unaryF32(op: number, x: number, y: number, n: number): void;
}

let k: Exports | null = null;
let tried = false;

function load(): Exports | null {
  if (tried) return k;
  tried = true;
  try {
    k = new WebAssembly.Instance(new WebAssembly.Module(decodeBase64(ELEMENTWISE_WASM_BASE64)), {}).exports as unknown as Exports;
  } catch {
    k = null;
  }
  return k;
}

/** Whether the elementwise WebAssembly kernels loaded. */
export function elementwiseWasmAvailable(): boolean {
  return load() !== null;
}

/** y = op(x) elementwise for float32 x (exp, sigmoid(x) = 1/(1+e^-x), tanh); null when WebAssembly is unavailable. */
export function unaryWasm(op: WasmUnaryOp, x: Float32Array): Float32Array | null {
  const e = load();
  if (!e) return null;
  const n = x.length;
  const xPtr = Math.ceil(e.heapBase() / 64) * 64;
  const yPtr = xPtr + Math.ceil((n * 4) / 64) * 64;
  const end = yPtr + n * 4;
  const have = e.memory.buffer.byteLength;
  if (end > have) {
    try {
      e.memory.grow(Math.ceil((end - have) / 65536));
    } catch {
      return null;
    }
  }
  const buf = e.memory.buffer;
  new Float32Array(buf, xPtr, n).set(x);
  e.unaryF32(OPS[op], xPtr, yPtr, n);
  return new Float32Array(buf, yPtr, n).slice();
}
