/**
 * `seqgrad train g2p`: the encoder-decoder on CMUdict, then phoneme and word error rates on the held-out words
 * for greedy and beam-search decoding. `registerTrainG2p(trainCmd)` adds the target to `seqgrad train`.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { main, type G2pExampleOptions } from "../examples/g2p.js";

const int = (name: string, min: number) => (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
};
const positive = (name: string) => (value: string): number => {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
};

interface G2pCliOptions {
  hidden: number;
  embed: number;
  attention: "none" | "bilinear";
  epochs: number;
  wordsPerEpoch?: number;
  trainWords?: number;
  validWords: number;
  testWords?: number;
  batch: number;
  lr: number;
  beam: number;
  seed: number;
  stress?: boolean;
  out?: string;
  resume?: string;
  from?: string;
  curve?: string;
  quiet?: boolean;
}

/** Adds `g2p` to the `train` command. */
export const registerTrainG2p = (trainCmd: Command): void => {
  trainCmd
    .command("g2p")
    .description("train the encoder-decoder (BLSTM encoder, LSTM decoder, teacher forcing) on CMUdict letters → phonemes; report held-out PER and WER for greedy and beam decoding")
    .option("--hidden <n>", "hidden size of the decoder and of each encoder direction", int("--hidden", 1), 64)
    .option("--embed <n>", "letter and phoneme embedding size", int("--embed", 1), 32)
    .addOption(new Option("--attention <kind>", "none (the course's encoder-decoder) or bilinear (attention with the score s·W·h, no input feeding)").choices(["none", "bilinear"]).default("none"))
    .option("--epochs <n>", "epochs to train", int("--epochs", 1), 2)
    .option("--words-per-epoch <n>", "training words per epoch (default: all); smaller epochs validate and checkpoint more often", int("--words-per-epoch", 1))
    .option("--train-words <n>", "use only n training words, spread over the alphabet (default: all 111,572)", int("--train-words", 1))
    .option("--valid-words <n>", "validation words scored after each epoch", int("--valid-words", 1), 500)
    .option("--test-words <n>", "test words scored at the end (default: all 6,174)", int("--test-words", 1))
    .option("--batch <n>", "words per batch", int("--batch", 1), 128)
    .option("--lr <x>", "Adam learning rate", positive("--lr"), 0.003)
    .option("--beam <k>", "beam width for the beam-search figures", int("--beam", 1), 5)
    .option("--seed <n>", "seed of the PRNG key (init, shuffling)", int("--seed", 0), 0)
    .option("--stress", "keep stress digits (69 symbols instead of 39 phonemes)")
    .option("--out <path>", "write the checkpoint (safetensors; vocabularies and config in its metadata)")
    .option("--resume <path>", "continue from a checkpoint written with the same options and seed, up to --epochs")
    .option("--from <path>", "skip training: score a checkpoint written with --out")
    .option("--curve <path>", "write the loss curve as SVG")
    .option("--quiet", "no progress bar")
    .action(async (o: G2pCliOptions) => {
      const opts: G2pExampleOptions = {
        hidden: o.hidden, embed: o.embed, attention: o.attention, epochs: o.epochs, validWords: o.validWords, batch: o.batch, lr: o.lr, beam: o.beam, seed: o.seed,
        stress: o.stress ?? false, progress: o.quiet ? false : "auto",
        ...(o.wordsPerEpoch !== undefined ? { wordsPerEpoch: o.wordsPerEpoch } : {}),
        ...(o.trainWords !== undefined ? { trainWords: o.trainWords } : {}),
        ...(o.testWords !== undefined ? { testWords: o.testWords } : {}),
        ...(o.out !== undefined ? { out: o.out } : {}),
        ...(o.resume !== undefined ? { resume: o.resume } : {}),
        ...(o.from !== undefined ? { from: o.from } : {}),
        ...(o.curve !== undefined ? { curve: o.curve } : {}),
        log: (line) => void process.stdout.write(`${line}\n`),
      };
      await main(opts);
    });
};
