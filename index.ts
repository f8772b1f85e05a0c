/** seqgrad: functional reverse-mode autodiff for sequence models. */
export * from "./core/index.js";
export * from "./autograd/index.js";
