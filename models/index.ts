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
export { Vocabulary, VocabularyError, tokenize, PAD, UNK, BOS, EOS, BASE_SPECIALS } from "./vocabulary.js";
export type { VocabularyLevel, VocabularyOptions, VocabularyErrorKind, VocabularyJSON } from "./vocabulary.js";
export {
  DatasetError, datasetFromPackage, namesDataset, loadNames, mobyDickDataset, loadMobyDick, mobyDickSentences, sentencesOf,
  NAME_LABELS, hashSplit, keySplit, fnv1a32, padSequences, batchIndices,
} from "./data.js";
export type { LabelledName, NameLabel, NamesOptions, Chapter, MobyDickOptions, Splits, SplitFractions, PaddedBatch, PadOptions, BatchOptions } from "./data.js";
export { train, loadTrainCheckpoint, TrainError } from "./train.js";
export type { TrainOptions, TrainResult, TrainState, TrainCheckpoint, TrainCheckpointOptions, EpochRecord, EvalResult, EarlyStopOptions } from "./train.js";
export { lineChartSvg, lossCurveSvg, niceTicks } from "./plot.js";
export type { Series, PlotOptions, CurveData } from "./plot.js";
export { fitBigram, tuneBigram } from "./bigram.js";
export type { BigramModel } from "./bigram.js";
export {
  createLanguageModel, bindLanguageModel, cellOf, fitLanguageModel, loadLanguageModel, lmBatches, lmEvalFn, lmMetadata, languageModelFromMetadata, LM_METADATA,
} from "./languageModel.js";
export type {
  CellKind, LanguageModel, LanguageModelConfig, LanguageModelParams, BoundLanguageModel, TextExample, LmBatch, LogProb, LmEvaluation, SampleOptions, LmState, FitLanguageModelOptions,
} from "./languageModel.js";
export { namesData, createNameGenerator, sampleNames, labelAccuracy, asExamples, NAMES_SPLIT_SALT } from "./names.js";
export type { NamesData, NameGeneratorConfig } from "./names.js";
export { editDistance, scorePrediction, errorRates } from "./editDistance.js";
export type { Seq, ScoredPrediction, ErrorRates } from "./editDistance.js";
export { createSeq2Seq, greedySearch, beamSearch } from "./seq2seq.js";
export type { Seq2Seq, Seq2SeqConfig, Seq2SeqParams, Seq2SeqPair, Seq2SeqBatch, SourceBatch, DecoderState, SearchModel, Hypothesis, Decoded, SearchOptions, BeamSearchOptions, DecodeOptions } from "./seq2seq.js";
export {
  PHONEMES, STRESSED_PHONEMES, LETTERS, cleanCmudict, cmudictDataset, loadCmudict, g2pSplits, letterVocabulary, phonemeVocabulary, g2pPair,
  evaluateG2p, createG2p, G2P_METADATA, g2pMetadata, loadG2p, g2pEvalFn, fitG2p,
} from "./g2p.js";
export type { G2pEntry, CmudictOptions, G2pEvaluation, G2pEvaluateOptions, FitG2pOptions } from "./g2p.js";
export { accuracy, precision, recall, f1Score, confusion, scoresOf, binaryScores, entitySpans, entityCounts, entityScores } from "./metrics.js";
export type { Confusion, BinaryScores, EntityScores, Span } from "./metrics.js";
export { createClassifier, classifierBatches, classifierEvalFn, activationOf, encoderLayer, resolveCell } from "./classifier.js";
export type { Classifier, ClassifierConfig, ClassifierParams, ClassifierBatch, ClassifierEvaluation, LabelledText, Pooling } from "./classifier.js";
export {
  SPAM_ASSASSIN_PACKAGE, SPAM_GROUPS, spamAssassinDataset, loadSpamAssassin, spamInstallHint, splitEmail, bodyText, preprocessEmail, spamExamples,
  truncateTokens, splitSpam, spamSplits, runSpamExperiment,
} from "./spam.js";
export type { SpamGroup, SpamEmail, SpamLoadOptions, PreprocessOptions, SpamExperimentOptions, SpamExperimentResult } from "./spam.js";
export { createTagger, taggerVocabulary, taggerBatches, taggerEvalFn, runTaggerExperiment } from "./tagger.js";
export type { Tagger, TaggerConfig, TaggerParams, TaggedTokens, TaggerBatch, TaggerEvaluation, TaggerBatchOptions, TaggerExperimentOptions, TaggerExperimentResult, TaggerRun } from "./tagger.js";
export { SURNAMES, PLACES, HOMOGRAPHS, templateWords, nerPools, splitNerPools, generateNerSentences, nerDataset } from "./nerData.js";
export type { NerSentence, NerCue, NerPools, NerPoolSplits, NerMix, NerDataset, NerDatasetOptions } from "./nerData.js";
