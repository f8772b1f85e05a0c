/** seqgrad/models: what the course builds from the layers, and the checkpoints that store it. */
export {
  saveCheckpoint,
  loadCheckpoint,
  saveCheckpointSync,
  loadCheckpointSync,
  encodeSafetensors,
  decodeSafetensors,
  CheckpointError,
  RESERVED_METADATA_PREFIX,
  MAX_HEADER_BYTES,
} from "./checkpoint.js";
export type { Checkpoint, CheckpointMetadata, TreeLike } from "./checkpoint.js";
export { editDistance, scorePrediction, errorRates } from "./editDistance.js";
export type { Seq, ScoredPrediction, ErrorRates } from "./editDistance.js";
export { createSeq2Seq, greedySearch, beamSearch } from "./seq2seq.js";
export type { Seq2Seq, Seq2SeqConfig, Seq2SeqParams, Seq2SeqPair, Seq2SeqBatch, SourceBatch, DecoderState, SearchModel, Hypothesis, Decoded, SearchOptions, BeamSearchOptions, DecodeOptions } from "./seq2seq.js";
export {
  PHONEMES, STRESSED_PHONEMES, LETTERS, cleanCmudict, cmudictDataset, loadCmudict, g2pSplits, letterVocabulary, phonemeVocabulary, g2pPair,
  evaluateG2p, createG2p, G2P_METADATA, g2pMetadata, loadG2p, g2pEvalFn, fitG2p,
} from "./g2p.js";
export type { G2pEntry, CmudictOptions, G2pEvaluation, G2pEvaluateOptions, FitG2pOptions } from "./g2p.js";
