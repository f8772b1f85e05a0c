/** seqgrad/autograd: differentiable ops, transforms and parameter trees. */
export { neg, exp, log, sqrt, tanh, sigmoid, relu, abs, cast, square } from "./primitives/unary.js";
export { add, sub, mul, div, pow, maximum, minimum, where, clip, greater, greaterEqual, less, lessEqual, equal } from "./primitives/binary.js";
export { sum, mean, max, broadcastTo, logSumExp, softmax, logSoftmax, argmax } from "./primitives/reduce.js";
export { reshape, transpose, slice, concat, stack, expandDims, squeeze, gather, oneHot } from "./primitives/shape.js";
export type { Indices } from "./primitives/shape.js";
export { matmul } from "./primitives/matmul.js";
export { grad, valueAndGrad, vjp, jvp, stopGradient, customVjp } from "./transforms.js";
export type { GradOptions, ValueAndGradOptions, Pullback } from "./transforms.js";
export { setDebugNans, withDebugNans, debugNansEnabled } from "./tape.js";
export * as tree from "./tree.js";
export { TreeMismatchError, type Tree } from "./tree.js";
export { checkpoint } from "./remat.js";
