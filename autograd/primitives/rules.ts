/** The complete rule table: a missing primitive (or its VJP) is a type error here. */
import type { RuleTable } from "./table.js";
import { identityRules, unaryRules } from "./unary.js";
import { binaryRules, whereRules } from "./binary.js";
import { reduceRules } from "./reduce.js";
import { shapeRules } from "./shape.js";
import { matmulRules } from "./matmul.js";

export const rules: RuleTable = { ...unaryRules, ...identityRules, ...binaryRules, ...whereRules, ...reduceRules, ...shapeRules, ...matmulRules };
