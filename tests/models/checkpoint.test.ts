import fc from "fast-check";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { allocData, tensor, withScratchBuffers, zeros, type Tensor } from "../../core/tensor.js";
import { ArgumentError } from "../../core/errors.js";
import {
  CheckpointError,
  decodeSafetensors,
  encodeSafetensors,
  loadCheckpoint,
  loadCheckpointSync,
  saveCheckpoint,
  saveCheckpointSync,
} from "../../models/checkpoint.js";
import { leavesByName, metadataArb, oracleRead, treeArb, treeDiff } from "../reliability/helpers/trees.js";

const dir = mkdtempSync(join(tmpdir(), "seqgrad-ckpt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f64 = (v: number[] | number, shape?: number[]) => tensor(v, { dtype: "float64", ...(shape ? { shape } : {}) });
const f32 = (v: number[] | number, shape?: number[]) => tensor(v, { dtype: "float32", ...(shape ? { shape } : {}) });

/** Builds a safetensors file by hand from a header object and data bytes, as the format describes it. */
const handMade = (header: object | string | Uint8Array, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array => {
  const h = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
};
const le32 = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
const le64 = (xs: number[]) => new Uint8Array(Float64Array.from(xs).buffer);

const expectCheckpointError = (f: () => unknown, pattern: RegExp): CheckpointError => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as CheckpointError).message).toMatch(pattern);
  return err as CheckpointError;
};

describe("saveCheckpoint and loadCheckpoint", () => {
  it("round-trip a nested tree of float32 and float64 tensors, scalars and zero-size tensors with its metadata", async () => {
    const tree = {
      embed: f32([1, 2, 3, 4, 5, 6], [2, 3]),
      layers: [
        { W: f64([0.1, -0.2, Number.NaN, Infinity], [2, 2]), b: f64([-0], [1]) },
        { W: zeros([0, 4], "float32"), b: f32(7.5) },
      ],
      step: f64(12),
      empty: [],
      nothing: {},
    };
    const path = join(dir, "a.safetensors");
    await saveCheckpoint(path, tree, { epoch: "3", note: "héllo ✓" });
    const { tree: back, metadata } = await loadCheckpoint(path);
    expect(treeDiff(back, tree)).toBeNull();
    expect(metadata).toEqual({ epoch: "3", note: "héllo ✓" });
    expect(Array.isArray((back as { layers: unknown }).layers)).toBe(true);
    expect(Object.keys(back as object)).toEqual(["embed", "layers", "step", "empty", "nothing"]);
  });

  it("round-trip through the synchronous forms and read each other's files", async () => {
    const tree = { z: f32([1, 2]), a: [f64(3)] };
    const p1 = join(dir, "sync.safetensors");
    saveCheckpointSync(p1, tree, { k: "v" });
    expect(treeDiff((await loadCheckpoint(p1)).tree, tree)).toBeNull();
    const p2 = join(dir, "async.safetensors");
    await saveCheckpoint(p2, tree);
    const back = loadCheckpointSync(p2);
    expect(treeDiff(back.tree, tree)).toBeNull();
    expect(back.metadata).toEqual({});
    expect(readFileSync(p1).subarray(8)).not.toEqual(readFileSync(p2).subarray(8)); // metadata differs, so the bytes do
  });

  it("round-trip a single tensor as the whole tree and an empty tree", () => {
    const t = f64([1, 2, 3], [3, 1]);
    expect(treeDiff(decodeSafetensors(encodeSafetensors(t)).tree, t)).toBeNull();
    expect(treeDiff(decodeSafetensors(encodeSafetensors({})).tree, {})).toBeNull();
    expect(treeDiff(decodeSafetensors(encodeSafetensors([])).tree, [])).toBeNull();
  });

  it("round-trip every generated tree and metadata exactly, bit for bit, keeping arrays, objects and key order", () => {
    let runs = 0;
    fc.assert(
      fc.property(treeArb, metadataArb, (tree, metadata) => {
        runs++;
        const back = decodeSafetensors(encodeSafetensors(tree, metadata));
        expect(treeDiff(back.tree, tree)).toBeNull();
        expect(back.metadata).toEqual(metadata);
        expect(Object.keys(back.metadata)).toEqual(Object.keys(metadata));
      }),
      { numRuns: 100 },
    );
    expect(runs).toBeGreaterThanOrEqual(100);
  });

  it("write files the reference format reads: names are tree paths, data little-endian and 8-byte aligned", () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        const bytes = encodeSafetensors(tree);
        const file = oracleRead(bytes);
        expect(file).not.toBeNull();
        const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        expect((8 + n) % 8).toBe(0);
        const leaves = leavesByName(tree);
        expect([...file!.tensors.keys()].sort()).toEqual([...leaves.keys()].sort());
        for (const [name, t] of leaves) {
          const got = file!.tensors.get(name)!;
          expect(got.dtype).toBe(t.dtype === "float64" ? "F64" : "F32");
          expect(got.shape).toEqual(t.shape);
          const want = t.toTypedArray();
          expect(got.bytes).toEqual(new Uint8Array(want.buffer));
          if (t.dtype === "float64") expect((got.bytes.byteOffset - bytes.byteOffset) % 8).toBe(0);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("write exactly the bytes the format prescribes for a small tree", () => {
    const bytes = encodeSafetensors({ w: f32([1.5, -2], [2]), s: f64(0.25) }, { k: "v" });
    const header =
      '{"__metadata__":{"seqgrad.format":"1","seqgrad.tree":"{\\"o\\":[[\\"w\\",0],[\\"s\\",0]]}","k":"v"},' +
      '"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}';
    const padded = header + " ".repeat((8 - ((8 + header.length) % 8)) % 8);
    const want = handMade(padded, new Uint8Array([...le64([0.25]), ...le32([1.5, -2])]));
    expect(Array.from(bytes)).toEqual(Array.from(want));
    // spot-check raw little-endian bytes: 0.25 = 0x3FD0000000000000, 1.5f = 0x3FC00000
    const at = 8 + padded.length;
    expect(Array.from(bytes.subarray(at, at + 8))).toEqual([0, 0, 0, 0, 0, 0, 0xd0, 0x3f]);
    expect(Array.from(bytes.subarray(at + 8, at + 12))).toEqual([0, 0, 0xc0, 0x3f]);
  });

  it("read a file built by hand byte by byte as another tool writes it (no seqgrad metadata, unpadded header, any key order)", () => {
    const file = handMade(
      {
        "encoder.bias": { dtype: "F32", shape: [2], data_offsets: [24, 32] },
        "encoder.weight": { dtype: "F64", shape: [1, 3], data_offsets: [0, 24] },
        "head.0": { dtype: "F32", shape: [], data_offsets: [32, 36] },
        __metadata__: { format: "pt" },
      },
      new Uint8Array([...le64([1, 2, 3]), ...le32([0.5, -0.5]), ...le32([9])]),
    );
    const { tree, metadata } = decodeSafetensors(file, "hand.safetensors");
    expect(metadata).toEqual({ format: "pt" });
    const t = tree as { encoder: { bias: Tensor; weight: Tensor }; head: { "0": Tensor } };
    expect(Object.keys(t)).toEqual(["encoder", "head"]);
    expect(t.encoder.weight.dtype).toBe("float64");
    expect(t.encoder.weight.toArray()).toEqual([[1, 2, 3]]);
    expect(t.encoder.bias.toArray()).toEqual([0.5, -0.5]);
    expect(t.head["0"].shape).toEqual([]);
    expect(t.head["0"].item()).toBe(9);
  });

  it("leave the old checkpoint intact and no temp file behind when a write fails", async () => {
    const sub = join(dir, "fail");
    mkdirSync(sub);
    const path = join(sub, "ckpt.safetensors");
    const old = { w: f32([1, 2, 3]) };
    await saveCheckpoint(path, old);
    const before = readFileSync(path);
    // a bad tree is refused before the disk is touched
    await expect(saveCheckpoint(path, { w: [1, 2, 3] } as never)).rejects.toBeInstanceOf(ArgumentError);
    // the rename fails when the target is a non-empty folder: the temp file must be removed
    const blocked = join(sub, "blocked");
    mkdirSync(join(blocked, "inner"), { recursive: true });
    await expect(saveCheckpoint(blocked, old)).rejects.toBeInstanceOf(CheckpointError);
    expect(() => saveCheckpointSync(blocked, old)).toThrow(CheckpointError);
    // a missing folder
    await expect(saveCheckpoint(join(sub, "no", "such", "x.safetensors"), old)).rejects.toThrow(/could not be written/);
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(sub).sort()).toEqual(["blocked", "ckpt.safetensors"]);
  });

  it("overwrite an existing checkpoint with a new version", async () => {
    const path = join(dir, "over.safetensors");
    await saveCheckpoint(path, { v: f32([1]) }, { version: "1" });
    await saveCheckpoint(path, { v: f32([2, 2]) }, { version: "2" });
    const back = await loadCheckpoint(path);
    expect(back.metadata.version).toBe("2");
    expect((back.tree as { v: Tensor }).v.toArray()).toEqual([2, 2]);
  });

  it("refuse reserved metadata keys, non-string metadata, unsafe keys and colliding tensor names when saving", () => {
    const t = f32([1]);
    expect(() => encodeSafetensors({ w: t }, { "seqgrad.tree": "x" })).toThrow(/reserved prefix "seqgrad\."/);
    expect(() => encodeSafetensors({ w: t }, { n: 3 } as never)).toThrow(/must be a string/);
    expect(() => encodeSafetensors({ constructor: t } as never)).toThrow(/refuse __proto__, constructor and prototype/);
    expect(() => encodeSafetensors(JSON.parse('{"__proto__": 1}') as never, undefined)).toThrow(ArgumentError);
    expect(() => encodeSafetensors({ "a.b": t, a: { b: t } })).toThrow(/two leaves with the tensor name "a\.b"/);
    expect(() => encodeSafetensors({ __metadata__: t })).toThrow(/reserves/);
    expect(() => encodeSafetensors({ w: 3 } as never)).toThrow(/non-tensor leaf at w/);
  });

  it("name the file and the problem when loading a missing or malformed file", async () => {
    const missing = join(dir, "missing.safetensors");
    await expect(loadCheckpoint(missing)).rejects.toThrow(new RegExp(`checkpoint ${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: could not be read`));
    const junk = join(dir, "junk.safetensors");
    writeFileSync(junk, "hello world, not a checkpoint");
    const err = (await loadCheckpoint(junk).catch((e) => e)) as CheckpointError;
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.path).toBe(junk);
    expect(err.detail).toMatch(/claims a header of \d+ bytes/);
    expect(() => loadCheckpointSync(junk)).toThrow(CheckpointError);
  });

  it("reject each kind of malformed file with a CheckpointError saying what is wrong", () => {
    const ok = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
    const d8 = le32([1, 2]);
    const cases: [string, Uint8Array, RegExp][] = [
      ["too short", new Uint8Array(5), /too short/],
      ["huge header length", handMade({ a: ok }, d8, 2n ** 63n), /over the limit of 100000000/],
      ["header past the end", handMade({ a: ok }, d8, 1000n), /only \d+ bytes follow/],
      ["not an object", handMade("[1,2]"), /does not start with '\{'/],
      ["bad JSON", handMade('{"a": }'), /not valid JSON/],
      ["invalid UTF-8", handMade(new Uint8Array([0x7b, 0xff, 0x7d])), /not valid UTF-8/],
      ["duplicate key", handMade('{"a":' + JSON.stringify(ok) + ',"a":' + JSON.stringify(ok) + "}", d8), /duplicate key "a"/],
      ["unknown dtype", handMade({ a: { ...ok, dtype: "Q7" } }, d8), /not a safetensors dtype/],
      ["unsupported dtype", handMade({ a: { ...ok, dtype: "BF16", shape: [4] } }, d8), /reads only F32 and F64/],
      ["negative dim", handMade({ a: { ...ok, shape: [-2] } }, d8), /shape\[0\] must be a non-negative integer/],
      ["fractional dim", handMade({ a: { ...ok, shape: [1.5] } }, d8), /non-negative integer/],
      ["string dim", handMade({ a: { ...ok, shape: ["2"] } }, d8), /non-negative integer/],
      ["huge shape", handMade({ a: { ...ok, shape: [1e6, 1e6] } }, d8), /more than 2147483647 elements/],
      ["size mismatch", handMade({ a: { ...ok, shape: [3] } }, d8), /needs 12 bytes/],
      ["offsets reversed", handMade({ a: { ...ok, data_offsets: [8, 0] } }, d8), /end before they begin/],
      ["offsets past data", handMade({ a: { ...ok, data_offsets: [8, 16] } }, d8), /run past the data section/],
      ["overlap", handMade({ a: ok, b: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, le32([1, 2, 3])), /overlap/],
      ["gap", handMade({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, d8), /unused bytes \[0, 4\)/],
      ["trailing bytes", handMade({ a: ok }, le32([1, 2, 3])), /cover only 8/],
      ["metadata not strings", handMade({ __metadata__: { a: 1 } }), /must be a string/],
      ["extra field", handMade({ a: { ...ok, extra: 1 } }, d8), /unknown field "extra"/],
      ["missing offsets", handMade({ a: { dtype: "F32", shape: [2] } }, d8), /data_offsets must be/],
      ["deep nesting", handMade('{"a":' + "[".repeat(50) + "]".repeat(50) + "}"), /nesting deeper/],
      ["wrong format version", handMade({ __metadata__: { "seqgrad.format": "9" } }), /format "9"/],
      ["bad stored tree", handMade({ __metadata__: { "seqgrad.tree": '{"x":1}' } }), /malformed node/],
      ["stored tree names a missing tensor", handMade({ __metadata__: { "seqgrad.tree": '{"o":[["w",0]]}' } }), /no tensor of that name/],
      ["tensor outside the stored tree", handMade({ __metadata__: { "seqgrad.tree": '{"o":[]}' }, a: ok }, d8), /not part of the tree/],
      ["path clash", handMade({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, "a.b": { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, d8), /itself a tensor/],
    ];
    for (const [what, bytes, pattern] of cases) {
      const err = expectCheckpointError(() => decodeSafetensors(bytes, `${what}.safetensors`), pattern);
      expect(err.path).toBe(`${what}.safetensors`);
    }
  });
});

describe("decoding into buffers that share an ArrayBuffer", () => {
  it("writes each tensor's own bytes only (withScratchBuffers carves tensors from one slab)", () => {
    const tree = { a: f64([1.5, -2, 3.25, 4, 5, 6, 7, 8, 9, 10], [2, 5]), b: f32(Array.from({ length: 30 }, (_, i) => i / 8), [30]) };
    const bytes = encodeSafetensors(tree);
    const [guard, back, guard2] = withScratchBuffers(() => {
      const before = allocData("float64", 16).fill(-1);
      const t = decodeSafetensors(bytes).tree as typeof tree;
      return [before, t, allocData("float64", 16)];
    });
    expect(treeDiff(back, tree)).toBeNull();
    expect(Array.from(guard!)).toEqual(new Array(16).fill(-1));
    expect(Array.from(guard2!)).toEqual(new Array(16).fill(0));
  });
});
