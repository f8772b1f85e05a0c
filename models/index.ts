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
