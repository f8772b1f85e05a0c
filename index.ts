/** seqgrad: functional reverse-mode autodiff for sequence models. Re-exports every subpath. */
export * from "./core/index.js";
export * from "./autograd/index.js";
export * from "./layers/index.js";
export * from "./models/index.js";
export * from "./proofs/index.js";
