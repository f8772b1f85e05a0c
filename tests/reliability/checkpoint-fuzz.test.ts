import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { tensor } from "../../core/tensor.js";
import { CheckpointError, decodeSafetensors, encodeSafetensors, MAX_HEADER_BYTES } from "../../models/checkpoint.js";
import { bytesOf, leavesByName, metadataArb, oracleRead, treeArb } from "./helpers/trees.js";

// The reader is fed hostile files. Every outcome must be a correct load or a CheckpointError: never another
// exception type, never a hang, never a change to a prototype.

const tally: Record<string, { runs: number; loaded: number; refused: number }> = {};
const count = (property: string, outcome: "loaded" | "refused") => {
  const t = (tally[property] ??= { runs: 0, loaded: 0, refused: 0 });
  t.runs++;
  t[outcome]++;
};
afterAll(() => {
  // inputs tried per property, for the reliability report
  for (const [p, t] of Object.entries(tally)) console.log(`checkpoint fuzz: ${p}: ${t.runs} inputs, ${t.loaded} loaded, ${t.refused} refused with CheckpointError`);
});

/** Decodes; a load must agree with the oracle reader, and anything thrown must be a CheckpointError. */
const decodeOrRefuse = (property: string, bytes: Uint8Array): void => {
  let loaded;
  try {
    loaded = decodeSafetensors(bytes, "fuzz.safetensors");
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw new Error(`expected a CheckpointError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    expect(e.path).toBe("fuzz.safetensors");
    expect(e.detail.length).toBeGreaterThan(0);
    count(property, "refused");
    return;
  }
  count(property, "loaded");
  const oracle = oracleRead(bytes);
  expect(oracle).not.toBeNull();
  const leaves = leavesByName(loaded.tree);
  expect(leaves.size).toBe(oracle!.tensors.size);
  for (const [name, t] of leaves) {
    const want = oracle!.tensors.get(name);
    expect(want, `tensor ${name} is in the file`).toBeDefined();
    expect(want!.dtype).toBe(t.dtype === "float64" ? "F64" : "F32");
    expect(want!.shape).toEqual(t.shape);
    expect(bytesOf(t)).toEqual(Uint8Array.from(want!.bytes));
  }
  for (const [k, v] of Object.entries(loaded.metadata)) expect(oracle!.metadata?.[k]).toBe(v);
};

const u64 = (n: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
};
const withHeader = (header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array => {
  const h = new TextEncoder().encode(header);
  return Uint8Array.from([...u64(BigInt(h.length)), ...h, ...data]);
};

type Mutation =
  | { kind: "flip"; inHeader: boolean; pos: number; bit: number }
  | { kind: "set"; inHeader: boolean; pos: number; value: number }
  | { kind: "truncate"; pos: number }
  | { kind: "insert"; inHeader: boolean; pos: number; bytes: Uint8Array }
  | { kind: "length"; value: bigint }
  | { kind: "text"; pos: number; text: string; overwrite: boolean }
  | { kind: "digit"; nth: number; digit: number };

const TOKENS = ['"', "{", "}", "[", "]", ",", ":", "-1", "1e309", "0.5", "__proto__", "constructor", "0", "18446744073709551615", "\\u0000", " ", "null", '"F16"', '"F64"', "[]", "{}", "\\"];
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), inHeader: fc.boolean(), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), inHeader: fc.boolean(), pos: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("truncate" as const), pos: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), inHeader: fc.boolean(), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("length" as const), value: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 600n })) }),
  fc.record({ kind: fc.constant("text" as const), pos: fc.nat(), text: fc.constantFrom(...TOKENS), overwrite: fc.boolean() }),
  fc.record({ kind: fc.constant("digit" as const), nth: fc.nat(), digit: fc.integer({ min: 0, max: 9 }) }),
);

/** Applies a mutation; positions wrap into the header (when asked) or the whole file. */
const mutate = (file: Uint8Array, m: Mutation): Uint8Array => {
  const headerEnd = file.length >= 8 ? Math.min(file.length, 8 + Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true) % 2n ** 32n)) : file.length;
  const at = (pos: number, inHeader: boolean) => (inHeader && headerEnd > 8 ? 8 + (pos % (headerEnd - 8)) : pos % Math.max(1, file.length));
  const out = Uint8Array.from(file);
  switch (m.kind) {
    case "flip":
      if (file.length) out[at(m.pos, m.inHeader)]! ^= 1 << m.bit;
      return out;
    case "set":
      if (file.length) out[at(m.pos, m.inHeader)] = m.value;
      return out;
    case "truncate":
      return out.subarray(0, m.pos % (file.length + 1));
    case "insert": {
      const p = at(m.pos, m.inHeader);
      return Uint8Array.from([...file.subarray(0, p), ...m.bytes, ...file.subarray(p)]);
    }
    case "length":
      if (file.length >= 8) out.set(u64(m.value), 0);
      return out;
    case "text": {
      const p = at(m.pos, true);
      const t = new TextEncoder().encode(m.text);
      return Uint8Array.from([...file.subarray(0, p), ...t, ...file.subarray(m.overwrite ? Math.min(file.length, p + t.length) : p)]);
    }
    case "digit": {
      const digits: number[] = [];
      for (let i = 8; i < headerEnd; i++) if (file[i]! >= 0x30 && file[i]! <= 0x39) digits.push(i);
      if (digits.length) out[digits[m.nth % digits.length]!] = 0x30 + m.digit;
      return out;
    }
  }
};

describe("the safetensors reader fed hostile bytes", () => {
  it("refuses random bytes with a CheckpointError", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => decodeOrRefuse("random bytes", bytes)), { numRuns: 1000 });
  });

  it("refuses or correctly loads a valid header length followed by random JSON", () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 4 }), fc.uint8Array({ maxLength: 64 }), (json, data) => decodeOrRefuse("random JSON header", withHeader(json, data))),
      { numRuns: 500 },
    );
  });

  it("refuses or correctly loads real checkpoints after random mutations", () => {
    fc.assert(
      fc.property(treeArb, metadataArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (tree, metadata, mutations) => {
        const bytes = mutations.reduce(mutate, encodeSafetensors(tree, metadata));
        decodeOrRefuse("mutated checkpoints", bytes);
      }),
      { numRuns: 600 },
    );
  });

  it("loads checkpoints whose data bytes were corrupted as exactly those bytes (the format has no checksum)", () => {
    fc.assert(
      fc.property(treeArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }), (tree, hits) => {
        const bytes = encodeSafetensors(tree);
        const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
        if (dataStart === bytes.length) return; // no data bytes to corrupt
        for (const [pos, x] of hits) bytes[dataStart + (pos % (bytes.length - dataStart))]! ^= x;
        decodeOrRefuse("data-corrupted checkpoints", bytes);
        expect(tally["data-corrupted checkpoints"]!.refused).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses or correctly loads headers assembled from plausible but wrong fields", () => {
    const dim = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(-1, 1.5, 2 ** 31, 2 ** 53, 1e300, "2", null));
    const entry = fc.record({
      dtype: fc.constantFrom("F32", "F64", "F16", "I64", "f32", ""),
      shape: fc.array(dim, { maxLength: 3 }),
      data_offsets: fc.tuple(fc.oneof(fc.integer({ min: 0, max: 80 }), fc.constantFrom(-8, 2 ** 60)), fc.oneof(fc.integer({ min: 0, max: 80 }), fc.constantFrom(-8, 2 ** 60))),
    });
    const name = fc.constantFrom("a", "b", "a.b", "a.0", "", "x.__proto__", "__proto__", "constructor.prototype", "layers.1.W");
    fc.assert(
      fc.property(fc.array(fc.tuple(name, entry), { maxLength: 4 }), fc.integer({ min: 0, max: 80 }), (entries, dataLen) => {
        const header = `{${entries.map(([n, e]) => `${JSON.stringify(n)}:${JSON.stringify(e)}`).join(",")}}`;
        decodeOrRefuse("assembled headers", withHeader(header, new Uint8Array(dataLen).map((_, i) => i)));
      }),
      { numRuns: 800 },
    );
  });

  it("refuses a header claiming a huge length without allocating it", () => {
    for (const n of [2n ** 64n - 1n, 2n ** 63n, BigInt(MAX_HEADER_BYTES) + 1n, 2n ** 32n, 1000n]) {
      const bytes = Uint8Array.from([...u64(n), ...new TextEncoder().encode("{}")]);
      expect(() => decodeSafetensors(bytes)).toThrow(CheckpointError);
    }
    expect(() => decodeSafetensors(Uint8Array.from([...u64(2n ** 64n - 1n)]))).toThrow(/over the limit of 100000000/);
  });

  it("refuses tensors whose claimed size exceeds the file before allocating them", () => {
    const huge = [
      { dtype: "F64", shape: [2 ** 31 - 1], data_offsets: [0, (2 ** 31 - 1) * 8] },
      { dtype: "F32", shape: [65536, 65536], data_offsets: [0, 2 ** 34] },
      { dtype: "F32", shape: [2 ** 26, 2 ** 26, 0, 2 ** 26], data_offsets: [0, 0] },
    ];
    for (const h of huge) {
      const err = (() => {
        try {
          decodeSafetensors(withHeader(JSON.stringify({ t: h }), new Uint8Array(16)));
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CheckpointError);
    }
    // a zero-size tensor with a huge-but-empty shape is legal only when the product really is 0
    const ok = decodeSafetensors(withHeader(JSON.stringify({ t: { dtype: "F32", shape: [0, 2 ** 30], data_offsets: [0, 0] } })));
    expect((ok.tree as unknown as { t: { shape: number[] } }).t.shape).toEqual([0, 2 ** 30]);
  });

  it("never pollutes a prototype, whatever keys the file uses", () => {
    const t = { dtype: "F32", shape: [1], data_offsets: [0, 4] };
    const data = new Uint8Array(4);
    const attempts = [
      `{"__proto__":${JSON.stringify(t)}}`,
      `{"__proto__.polluted":${JSON.stringify(t)}}`,
      `{"a.__proto__.polluted":${JSON.stringify(t)}}`,
      `{"constructor.prototype.polluted":${JSON.stringify(t)}}`,
      `{"prototype":${JSON.stringify(t)}}`,
      `{"__metadata__":{"__proto__":"x"},"a":${JSON.stringify(t)}}`,
      `{"__metadata__":{"constructor":"x"},"a":${JSON.stringify(t)}}`,
      `{"__metadata__":{"seqgrad.tree":${JSON.stringify('{"o":[["__proto__",{"o":[["polluted",0]]}]]}')}},"__proto__.polluted":${JSON.stringify(t)}}`,
      `{"__metadata__":{"seqgrad.tree":${JSON.stringify('{"o":[["a",0],["a",0]]}')}},"a":${JSON.stringify(t)}}`,
      `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"__proto__":{"polluted":1}}}`,
    ];
    for (const h of attempts) {
      expect(() => decodeSafetensors(withHeader(h, data)), h).toThrow(CheckpointError);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted")).toBe(false);
    }
    // a key that merely contains the word is fine
    const loaded = decodeSafetensors(withHeader(`{"my__proto__x":${JSON.stringify(t)}}`, data));
    expect(Object.keys(loaded.tree as object)).toEqual(["my__proto__x"]);
  });

  it("reads many zero-size tensors and deep but legal trees without a stack overflow", () => {
    const many: Record<string, unknown> = {};
    for (let i = 0; i < 20_000; i++) many[`t${i}`] = tensor([], { dtype: "float32" });
    const back = decodeSafetensors(encodeSafetensors(many as never));
    expect(Object.keys(back.tree as object).length).toBe(20_000);
    let deep: unknown = tensor(1, { dtype: "float64" });
    for (let i = 0; i < 900; i++) deep = { k: deep };
    const d = decodeSafetensors(encodeSafetensors(deep as never));
    expect(leavesByName(d.tree).size).toBe(1);
    expect(() => decodeSafetensors(withHeader(`{"__metadata__":{"seqgrad.tree":${JSON.stringify("[".repeat(5000) + "]".repeat(5000))}}}`))).toThrow(/nesting deeper than 3001/);
    expect(() => decodeSafetensors(withHeader(`{"__metadata__":{"seqgrad.tree":${JSON.stringify("[".repeat(1500) + "]".repeat(1500))}}}`))).toThrow(/nests deeper than 1000 levels/);
  });
});
