/** seqgrad/layers: pure building blocks — dense, embedding, dropout, initializers, cells, scan, losses, optimizers, clipping. */
export { softmaxCrossEntropy, binaryCrossEntropy, sequenceLoss } from "./losses.js";
export type { LossTargets, BinaryCrossEntropyOptions, SequenceLossOptions, LossReduction } from "./losses.js";
export { sgd, momentum, adagrad, rmsprop, adam } from "./optimizers.js";
export type { Optimizer, SgdState, MomentumState, AdagradState, RmspropState, AdamState, RmspropOptions, AdamOptions } from "./optimizers.js";
export { globalNorm, clipByGlobalNorm, clipByValue } from "./clip.js";
export { dense, embedding, dropout } from "./dense.js";
export type { DenseParams, EmbeddingParams } from "./dense.js";
export { zerosInit, normalInit, glorotUniform, orthogonal } from "./init.js";
export type { Initializer } from "./init.js";
