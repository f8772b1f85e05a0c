/**
 * Sequence layers built on `scan`: a cell unrolled over time (`rnn`), the bidirectional RNN
 * (`bidirectional`), and deep RNNs (`stacked`, layer l's outputs are layer l+1's inputs).
 *
 * Every one of them is a `SequenceLayer`:
 * - `init(key, inputSize, hiddenSize, dtype?) => params` (a plain tree: the cell's params, `{ fwd, bwd }`, or an array per layer);
 * - `initialCarry(params, batch) => carry` (zeros; `{ fwd, bwd }` or an array per layer for the composites);
 * - `apply(params, xs, { mask?, carry0? }) => [carryT, ys]` with time-major `xs` `[T, B, D]` and `ys` `[T, B, outputSize]`;
 * - `outputSize(hiddenSize)`: the last axis of `ys` (2H for a concatenating bidirectional layer).
 * With a `[T, B]` mask (1 = real step, 0 = padding), padded steps keep the carry and output 0, in every layer.
 */
import { ArgumentError, ShapeError, fmtShape } from "../core/errors.js";
import { describe, optionsObject } from "../core/shape.js";
import { isTensor, type DType, type Tensor } from "../core/tensor.js";
import { splitKey, type Key } from "../core/random.js";
import { add, concat } from "../autograd/index.js";
import { scan, type ScanOptions } from "./scan.js";
import type { Cell } from "./cells/types.js";

/** Options of a SequenceLayer's `apply`. */
export interface SequenceApplyOptions<C = any> {
  /** `[T, B]`: 1 for a real step, 0 for padding (see `scan`). */
  readonly mask?: ScanOptions["mask"];
  /** The carry before the first step (default: `initialCarry(params, B)`). */
  readonly carry0?: C;
}

/** A layer over whole sequences: `apply(params, xs[T, B, D]) => [carryT, ys[T, B, outputSize]]`. */
export interface SequenceLayer<P = any, C = any> {
  readonly init: (key: Key, inputSize: number, hiddenSize: number, dtype?: DType) => P;
  readonly initialCarry: (params: P, batch: number) => C;
  readonly apply: (params: P, xs: Tensor, options?: SequenceApplyOptions<C>) => [C, Tensor];
  readonly outputSize: (hiddenSize: number) => number;
}

const isFn = (x: unknown): boolean => typeof x === "function";

/** True for a cell (`step` + `initialCarry` + `init`), as opposed to a SequenceLayer (`apply`). */
const isCell = (x: unknown): x is Cell => x !== null && typeof x === "object" && isFn((x as Cell).step) && isFn((x as Cell).initialCarry);
const isLayer = (x: unknown): x is SequenceLayer => x !== null && typeof x === "object" && isFn((x as SequenceLayer).apply) && isFn((x as SequenceLayer).initialCarry);

const expectCell = (op: string, argument: string, cell: unknown): Cell => {
  if (!isCell(cell))
    throw new ArgumentError(op, argument, `must be a cell: an object with step(params, carry, x) => [carry, y], initialCarry(params, batch) and init(key, inputSize, hiddenSize); got ${describe(cell)}`);
  return cell;
};

const expectXs = (op: string, xs: unknown): Tensor => {
  if (!isTensor(xs)) throw new ArgumentError(op, "xs", `must be a time-major [T, B, D] Tensor, got ${describe(xs)}`);
  if (xs.shape.length !== 3) throw new ShapeError(op, [xs.shape], `xs must be time-major [T, B, D], got shape ${fmtShape(xs.shape)}`);
  return xs;
};

const expectOptions = (op: string, options: unknown): SequenceApplyOptions => {
  return optionsObject(op, "options", options, "{ mask, carry0 }");
};

/** Options of `rnn`. */
export interface RnnLayerOptions {
  /** Read the sequence right to left (ys still in the original time order). */
  readonly reverse?: boolean;
}

/** `rnn(cell)`: `a<t>, y<t> = cell.step(params, a<t-1>, x<t>)` for t = 1…T, via `scan`. Params and carry are the cell's. */
export const rnn = <P, C>(cell: Cell<P, C, Tensor>, options: RnnLayerOptions = {}): SequenceLayer<P, C> => {
  const c = expectCell("rnn", "cell", cell) as Cell<P, C, Tensor>;
  const reverse = options.reverse ?? false;
  if (typeof reverse !== "boolean") throw new ArgumentError("rnn", "options.reverse", `must be a boolean, got ${describe(reverse)}`);
  return {
    init: (key, inputSize, hiddenSize, dtype) => {
      if (!isFn(c.init)) throw new ArgumentError("rnn.init", "cell", "has no init(key, inputSize, hiddenSize, dtype?) to make parameters with");
      return c.init(key, inputSize, hiddenSize, dtype);
    },
    initialCarry: (params, batch) => c.initialCarry(params, batch),
    apply: (params, xs, opts = {}) => {
      const x = expectXs("rnn.apply", xs);
      const o = expectOptions("rnn.apply", opts);
      const carry0 = o.carry0 ?? c.initialCarry(params, x.shape[1]!);
      const scanOpts: ScanOptions = o.mask === undefined ? { reverse } : { mask: o.mask, reverse };
      return scan((carry: C, xt: Tensor) => c.step(params, carry, xt), carry0, x, scanOpts);
    },
    outputSize: (hiddenSize) => hiddenSize,
  };
};

/** Options of `bidirectional`. */
export interface BidirectionalOptions {
  /** How to join the two directions' outputs: `'concat'` (default, `[T, B, 2H]`) or `'sum'` (`[T, B, H]`). */
  readonly merge?: "concat" | "sum";
}

/** Params of a bidirectional layer: one tree per direction. */
export type BidirectionalParams<P1 = any, P2 = any> = {
  readonly fwd: P1;
  readonly bwd: P2;
};
/** Carry of a bidirectional layer: each direction's final carry (the backward one is at t = 1). */
export type BidirectionalCarry<C1 = any, C2 = any> = {
  readonly fwd: C1;
  readonly bwd: C2;
};

/**
 * `bidirectional(fwdCell, bwdCell, { merge })`, the BRNN: `y<t> = merge(→a<t>, ←a<t>)` where →a runs
 * t = 1…T and ←a runs t = T…1, so every output sees the whole sequence, past and future.
 */
export const bidirectional = <P1, C1, P2, C2>(
  fwdCell: Cell<P1, C1, Tensor>,
  bwdCell: Cell<P2, C2, Tensor>,
  options: BidirectionalOptions = {},
): SequenceLayer<BidirectionalParams<P1, P2>, BidirectionalCarry<C1, C2>> => {
  const fwd = rnn(expectCell("bidirectional", "fwdCell", fwdCell) as Cell<P1, C1, Tensor>);
  const bwd = rnn(expectCell("bidirectional", "bwdCell", bwdCell) as Cell<P2, C2, Tensor>, { reverse: true });
  const merge = options.merge ?? "concat";
  if (merge !== "concat" && merge !== "sum") throw new ArgumentError("bidirectional", "options.merge", `must be 'concat' or 'sum', got ${JSON.stringify(merge)}`);
  return {
    init: (key, inputSize, hiddenSize, dtype) => {
      const [k1, k2] = splitKey(key, 2) as [Key, Key];
      return { fwd: fwd.init(k1, inputSize, hiddenSize, dtype), bwd: bwd.init(k2, inputSize, hiddenSize, dtype) };
    },
    initialCarry: (params, batch) => ({ fwd: fwd.initialCarry(params.fwd, batch), bwd: bwd.initialCarry(params.bwd, batch) }),
    apply: (params, xs, opts = {}) => {
      const o = expectOptions("bidirectional.apply", opts);
      const mask = o.mask === undefined ? {} : { mask: o.mask };
      const [cf, yf] = fwd.apply(params.fwd, xs, o.carry0 === undefined ? mask : { ...mask, carry0: o.carry0.fwd });
      const [cb, yb] = bwd.apply(params.bwd, xs, o.carry0 === undefined ? mask : { ...mask, carry0: o.carry0.bwd });
      if (merge === "sum" && (yf.shape[2] !== yb.shape[2]))
        throw new ShapeError("bidirectional.apply", [yf.shape, yb.shape], `merge 'sum' needs both directions to output the same size, got ${fmtShape(yf.shape)} and ${fmtShape(yb.shape)}; use merge 'concat'`);
      return [{ fwd: cf, bwd: cb }, merge === "concat" ? concat([yf, yb], 2) : add(yf, yb)];
    },
    outputSize: (hiddenSize) => (merge === "concat" ? 2 * hiddenSize : hiddenSize),
  };
};

/** A stacked layer's `init` also takes one hidden size per layer. */
export interface StackedLayer extends SequenceLayer<readonly any[], readonly any[]> {
  readonly init: (key: Key, inputSize: number, hiddenSize: number | readonly number[], dtype?: DType) => readonly any[];
  readonly outputSize: (hiddenSize: number | readonly number[]) => number;
}

/**
 * `stacked([c1, c2, …])`, a deep RNN: `ys⁽ˡ⁾ = layer_l(ys⁽ˡ⁻¹⁾)` with `ys⁽⁰⁾ = xs`. Items are cells (run
 * with `rnn`) or SequenceLayers (e.g. `bidirectional`). Params and carry are arrays, one entry per layer.
 */
export const stacked = (cellsOrLayers: readonly (Cell | SequenceLayer)[]): StackedLayer => {
  if (!Array.isArray(cellsOrLayers) || cellsOrLayers.length === 0)
    throw new ArgumentError("stacked", "cellsOrLayers", `must be a non-empty array of cells or sequence layers, got ${describe(cellsOrLayers)}`);
  const layers: SequenceLayer[] = cellsOrLayers.map((x, i) => {
    if (isLayer(x)) return x;
    if (isCell(x)) return rnn(x);
    throw new ArgumentError("stacked", `cellsOrLayers[${i}]`, `must be a cell (step, initialCarry, init) or a sequence layer (apply, initialCarry, init), got ${describe(x)}`);
  });
  const L = layers.length;
  const sizes = (op: string, hiddenSize: number | readonly number[]): readonly number[] => {
    const hs = typeof hiddenSize === "number" ? new Array<number>(L).fill(hiddenSize) : hiddenSize;
    if (!Array.isArray(hs) || hs.length !== L)
      throw new ArgumentError(op, "hiddenSize", `must be a number or one number per layer (${L}), got ${describe(hiddenSize)}`);
    return hs;
  };
  const expectPerLayer = (op: string, name: string, v: unknown): readonly unknown[] => {
    if (!Array.isArray(v) || v.length !== L) throw new ArgumentError(op, name, `must be an array with one entry per layer (${L}), got ${describe(v)}`);
    return v;
  };
  return {
    init: (key, inputSize, hiddenSize, dtype) => {
      const hs = sizes("stacked.init", hiddenSize);
      const keys = splitKey(key, L);
      let d = inputSize;
      return layers.map((layer, l) => {
        const p = layer.init(keys[l]!, d, hs[l]!, dtype);
        d = layer.outputSize(hs[l]!);
        return p;
      });
    },
    initialCarry: (params, batch) => expectPerLayer("stacked.initialCarry", "params", params).map((p, l) => layers[l]!.initialCarry(p, batch)),
    apply: (params, xs, opts = {}) => {
      const o = expectOptions("stacked.apply", opts);
      const ps = expectPerLayer("stacked.apply", "params", params);
      const c0 = o.carry0 === undefined ? undefined : expectPerLayer("stacked.apply", "options.carry0", o.carry0);
      const carries: unknown[] = [];
      let h = xs;
      layers.forEach((layer, l) => {
        const lo: SequenceApplyOptions = { ...(o.mask === undefined ? {} : { mask: o.mask }), ...(c0 === undefined ? {} : { carry0: c0[l] }) };
        const [c, ys] = layer.apply(ps[l], h, lo);
        carries.push(c);
        h = ys;
      });
      return [carries, h];
    },
    outputSize: (hiddenSize) => {
      const hs = sizes("stacked.outputSize", hiddenSize);
      return layers[L - 1]!.outputSize(hs[L - 1]!);
    },
  };
};
