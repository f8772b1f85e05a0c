/** One gradient check as a suite case: checkGrad (or its second-order form) with the suite's tolerance. */
import { checkGrad, checkGradSecondOrder, type CheckGradOptions, type ScalarFn } from "../checkGrad.js";
import type { CaseCheck, Tolerance } from "./suite.js";

/** First-order check of `f` at `args`, labelled for the suite table. */
export const proveGrad = (label: string, f: ScalarFn, args: readonly unknown[], tol: Tolerance, opts: CheckGradOptions = {}): CaseCheck => ({
  label,
  report: checkGrad(f, args, { ...tol, ...opts, label }),
});

/** Second-order check (Hessian-vector product against finite differences of the gradient). */
export const proveGrad2 = (label: string, f: ScalarFn, args: readonly unknown[], tol: Tolerance, opts: CheckGradOptions = {}): CaseCheck => ({
  label,
  report: checkGradSecondOrder(f, args, { ...tol, ...opts, label }),
});
