/**
 * Research loops as the API and the CLI see them (`@loopy/core/research/loops`):
 * creating and validating (loop-create, loop-validate), reading (loop-queries,
 * experiment-queries), status changes (loop-control), results.tsv export and
 * import (loop-results-tsv), and slot usage (slot-usage). The engine that runs
 * a loop is in engine.ts.
 */
export {
  type ExperimentSummary,
  experimentDetailSelect,
  experimentSummarySelect,
  getExperiment,
  getPoints,
  listExperiments,
  type PointSeries,
} from "./experiment-queries.ts";
export { cancelResearchLoop, finishLoop, pauseResearchLoop, resumeResearchLoop } from "./loop-control.ts";
export { createResearchLoop, writeResearchLoop } from "./loop-create.ts";
export {
  getLoop,
  type LoopDetail,
  type LoopListItem,
  type LoopSummary,
  listLoops,
  loopDetailSelect,
  loopSummarySelect,
} from "./loop-queries.ts";
export { exportResultsTsv, importResultsTsv } from "./loop-results-tsv.ts";
export {
  type CreateResearchLoopInput,
  MAX_BUDGET_MS,
  type PreparedLoop,
  prepareResearchLoop,
} from "./loop-validate.ts";
export { slotUsage } from "./slot-usage.ts";
