/** Errors that carry data, so tests (and users) can read fields rather than parse text. */

export type Shape = readonly number[];

/** A shape or argument problem in a named op: `matmul: inner dimensions differ, got [2,3] and [4,5]`. */
export class ShapeError extends Error {
  override readonly name = "ShapeError";
  constructor(
    readonly op: string,
    readonly shapes: readonly Shape[],
    readonly detail: string,
  ) {
    super(`${op}: ${detail}`);
  }
}

/** A value of the wrong kind or dtype handed to a named op (`add: argument b is a string`). */
export class ArgumentError extends TypeError {
  override readonly name = "ArgumentError";
  constructor(
    readonly op: string,
    readonly argument: string,
    readonly detail: string,
  ) {
    super(`${op}: ${argument} ${detail}`);
  }
}

/** NaN or Inf produced by an op while debugNans mode is on. */
export class NonFiniteError extends Error {
  override readonly name = "NonFiniteError";
  constructor(
    readonly op: string,
    readonly phase: "forward" | "backward",
    readonly shapes: readonly Shape[],
    readonly index: number,
    readonly value: number,
  ) {
    super(
      `${op}: ${phase} pass produced ${value} at flat index ${index} (input shapes ${shapes.map(fmtShape).join(", ")}); ` +
        `debugNans is on, so seqgrad stopped at the first op that made a non-finite value from finite inputs`,
    );
  }
}

export const fmtShape = (s: Shape): string => `[${s.join(",")}]`;
