/**
 * The suite registry: every proof `seqgrad proofs` runs, in table order. A new family (cells, course identities)
 * is one more array of `Suite`s appended to `allSuites` below.
 */
import type { Suite } from "./suite.js";
import { unarySuites } from "./unary.js";
import { binarySuites } from "./binary.js";
import { reduceSuites } from "./reduce.js";
import { softmaxSuites } from "./softmax.js";
import { shapeSuites } from "./shape.js";
import { matmulSuites } from "./matmul.js";
import { secondOrderSuites } from "./secondOrder.js";
import { cellSuites } from "./cells.js";
import { identitySuites } from "./identities.js";

/** Every primitive's VJP, proved against finite differences in float64. */
export const primitiveSuites: readonly Suite[] = [...unarySuites, ...binarySuites, ...reduceSuites, ...softmaxSuites, ...shapeSuites, ...matmulSuites];

/** All registered suites. Append new families here. */
export const allSuites: readonly Suite[] = [
  ...primitiveSuites,
  ...secondOrderSuites,
  ...cellSuites,
  ...identitySuites,
];

export { unarySuites, binarySuites, reduceSuites, softmaxSuites, shapeSuites, matmulSuites, secondOrderSuites };
export { cellSuites, identitySuites };
export { propertySuite, excess, DEFAULT_TOLERANCE } from "./suite.js";
export type { Suite, SuiteResult, SuiteFailure, CaseCheck, Tolerance, PropertySuiteSpec } from "./suite.js";
