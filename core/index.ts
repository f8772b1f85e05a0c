/** seqgrad/core: immutable tensors, shapes, errors and the functional PRNG. */
export { Tensor, tensor, zeros, ones, full, eye, arange, isTensor } from "./tensor.js";
export type { DType, NestedArray, TensorOptions } from "./tensor.js";
export { ShapeError, ArgumentError, NonFiniteError } from "./errors.js";
export { MAX_ELEMENTS, broadcastShapes } from "./shape.js";
export type { Shape } from "./shape.js";
export { isKey, randomKey, splitKey, foldIn, uniform, normal, bernoulli, categorical, permutation, randint } from "./random.js";
export type { Key, UniformOptions, NormalOptions } from "./random.js";
export {
  setKernelBackend, getKernelBackend, setKernelThreads, getKernelThreads, wasmReady, wasmAvailable, wasmFusedMultiplyAdd, wasmThreadsAvailable,
} from "./wasm/backend.js";
export type { KernelBackend } from "./wasm/backend.js";
