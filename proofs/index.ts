/** seqgrad/proofs: gradient checks and the suites that prove every primitive (and, appended below, every cell). */
export { checkGrad, checkGradSecondOrder, formatReport, seededUniform } from "./checkGrad.js";
export type { CheckGradOptions, GradEntry, GradReport, ScalarFn } from "./checkGrad.js";
