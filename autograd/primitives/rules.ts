/** The complete rule tables: a missing primitive (or its VJP) is a type error here. */
import type { MultiRuleTable, RuleTable } from "./table.js";
import { identityRules, unaryBackwardRules, unaryRules } from "./unary.js";
import { binaryRules, whereRules } from "./binary.js";
import { reduceRules } from "./reduce.js";
import { shapeRules } from "./shape.js";
import { matmulRules } from "./matmul.js";
import { fusedMultiRules, fusedRules } from "./fused.js";

export const rules: RuleTable = { ...unaryRules, ...unaryBackwardRules, ...identityRules, ...binaryRules, ...whereRules, ...reduceRules, ...shapeRules, ...matmulRules, ...fusedRules };

export const multiRules: MultiRuleTable = { ...fusedMultiRules };
