/** seqgrad/proofs: gradient checks and the suites that prove every primitive (and, appended below, every cell). */
export { checkGrad, checkGradSecondOrder, formatReport, seededUniform } from "./checkGrad.js";
export type { CheckGradOptions, GradEntry, GradReport, ScalarFn } from "./checkGrad.js";
export { allSuites, primitiveSuites, secondOrderSuites, propertySuite, excess, DEFAULT_TOLERANCE } from "./suites/index.js";
export type { Suite, SuiteResult, SuiteFailure, CaseCheck, Tolerance, PropertySuiteSpec } from "./suites/index.js";
export { runSuites, formatTable, toJson, selectSuites } from "./runner.js";
export type { RunOptions, RunSummary, TimedResult } from "./runner.js";
export { checkCell, formatCellReport, compareTrees, assertCell, maskPattern, REASSOCIATION_TOLERANCE } from "./checkCell.js";
export type { CheckCellOptions, CellCheck, CellReport } from "./checkCell.js";
export { cellSuites, identitySuites } from "./suites/index.js";
