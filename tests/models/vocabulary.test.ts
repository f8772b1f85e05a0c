import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { Vocabulary, VocabularyError, tokenize, BASE_SPECIALS } from "../../models/vocabulary.js";

const leftOf = <A>(e: E.Either<VocabularyError, A>): VocabularyError => {
  if (E.isRight(e)) throw new Error("expected a Left");
  return e.left;
};

describe("Vocabulary.build", () => {
  it("puts <pad> <unk> <bos> <eos> at ids 0-3, then tokens by descending count with ties in code-point order", () => {
    // counts: a 4, b 2, c 2, d 1
    const v = Vocabulary.buildOrThrow(["abca", "ab", "ac", "ad"], { level: "char" });
    expect(v.tokens).toEqual(["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c", "d"]);
    expect([v.pad, v.unk, v.bos, v.eos]).toEqual([0, 1, 2, 3]);
    expect(v.size).toBe(8);
    expect(v.corpusTokens).toEqual(["a", "b", "c", "d"]);
  });

  it("drops tokens seen fewer than minCount times and cuts to maxSize entries, specials included", () => {
    const texts = ["aaaa", "bbb", "cc", "d"];
    expect(Vocabulary.buildOrThrow(texts, { level: "char", minCount: 2 }).corpusTokens).toEqual(["a", "b", "c"]);
    expect(Vocabulary.buildOrThrow(texts, { level: "char", maxSize: 6 }).corpusTokens).toEqual(["a", "b"]);
  });

  it("splits words and punctuation at word level and lower-cases when asked", () => {
    expect(tokenize("Hello, world! It's a sea-side inn.", "word", true)).toEqual(["hello", ",", "world", "!", "it's", "a", "sea-side", "inn", "."]);
    const v = Vocabulary.buildOrThrow(["The sea.", "the SEA"], { level: "word", lowercase: true });
    expect(v.corpusTokens).toEqual(["sea", "the", "."]);
  });

  it("places extra specials right after the base four", () => {
    const v = Vocabulary.buildOrThrow(["ab"], { level: "char", specials: ["<sep>", "<female>"] });
    expect(v.tokens.slice(0, 6)).toEqual([...BASE_SPECIALS, "<sep>", "<female>"]);
    expect(v.specialCount).toBe(6);
    expect(v.isSpecial(5)).toBe(true);
    expect(v.isSpecial(6)).toBe(false);
  });
});

describe("validation at the boundary", () => {
  it("returns a Left naming an empty corpus", () => {
    const e = leftOf(Vocabulary.build([], { level: "char" }));
    expect(e.kind).toBe("empty-corpus");
    expect(e.message).toContain("is empty");
    expect(leftOf(Vocabulary.build(["", "   "], { level: "word" })).kind).toBe("empty-corpus");
  });

  it("returns a Left naming the index of a non-string text", () => {
    const e = leftOf(Vocabulary.build(["ok", 42 as unknown as string], { level: "char" }));
    expect(e.kind).toBe("non-string");
    expect(e.message).toContain("texts[1]");
  });

  it("returns a Left for duplicate specials", () => {
    expect(leftOf(Vocabulary.build(["ab"], { level: "char", specials: ["<sep>", "<sep>"] })).kind).toBe("duplicate-special");
    const e = leftOf(Vocabulary.build(["ab"], { level: "char", specials: ["<unk>"] }));
    expect(e.kind).toBe("duplicate-special");
    expect(e.message).toContain("options.specials[0]");
  });

  it("returns a Left for bad options and throws the same error from buildOrThrow", () => {
    expect(leftOf(Vocabulary.build(["ab"], { level: "byte" as "char" })).kind).toBe("bad-option");
    expect(leftOf(Vocabulary.build(["ab"], { level: "char", maxSize: 4 })).kind).toBe("bad-option");
    expect(() => Vocabulary.buildOrThrow([], { level: "char" })).toThrow(VocabularyError);
  });

  it("builds a fixed vocabulary with fromTokens and refuses repeats", () => {
    const v = Vocabulary.fromTokens(["AA", "B"], { level: "word" });
    expect(E.isRight(v) && v.right.corpusTokens).toEqual(["AA", "B"]);
    expect(leftOf(Vocabulary.fromTokens(["AA", "AA"], { level: "word" })).message).toContain("repeats");
  });
});

describe("encode, decode, oneHot", () => {
  const v = Vocabulary.buildOrThrow(["abc", "cab"], { level: "char" });

  it("maps unknown tokens to <unk> and adds <bos>/<eos> when asked", () => {
    const [a, b, c] = ["a", "b", "c"].map((t) => v.idOf(t));
    expect(v.encode("abz")).toEqual([a, b, v.unk]);
    expect(v.encode("ca", { bos: true, eos: true })).toEqual([v.bos, c, a, v.eos]);
    expect(v.has("z")).toBe(false);
  });

  it("decodes back to the text for any string over the vocabulary's characters", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 12 }), (chars) => {
        const s = chars.join("");
        expect(v.decode(v.encode(s, { bos: true, eos: true }))).toBe(s);
      }),
      { numRuns: 50, seed: 7 },
    );
  });

  it("stops decoding at <eos> and writes <unk> by name", () => {
    expect(v.decode([v.idOf("a"), v.unk, v.eos, v.idOf("b")])).toBe("a<unk>");
    expect(v.decode([v.idOf("a"), v.eos, v.idOf("b")], { stopAtEos: false })).toBe("ab");
  });

  it("joins words with spaces and no space before punctuation", () => {
    const w = Vocabulary.buildOrThrow(["call me ishmael ."], { level: "word" });
    expect(w.decode(w.encode("call me ishmael ."))).toBe("call me ishmael.");
  });

  it("makes one-hot rows [n, V] and [T, B, V]", () => {
    const x = v.oneHot([v.idOf("b"), v.eos]);
    expect(x.shape).toEqual([2, v.size]);
    const rows = x.toArray() as number[][];
    expect(rows[0]![v.idOf("b")]).toBe(1);
    expect(rows[1]![3]).toBe(1);
    expect(rows.map((r) => r.reduce((p, q) => p + q, 0))).toEqual([1, 1]);
    expect(v.oneHot([[1, 2], [3, 4], [5, 6]]).shape).toEqual([3, 2, v.size]);
    expect(() => v.oneHot([99])).toThrow(/ids/);
  });
});

describe("serialisation", () => {
  it("round-trips through toJSON / JSON text / fromJSON", () => {
    const v = Vocabulary.buildOrThrow(["Call me Ishmael."], { level: "word", lowercase: true, specials: ["<sep>"] });
    const back = Vocabulary.fromJSONOrThrow(JSON.stringify(v));
    expect(back.tokens).toEqual(v.tokens);
    expect(back.level).toBe("word");
    expect(back.lowercase).toBe(true);
    expect(back.specialCount).toBe(5);
    expect(back.encode("CALL me")).toEqual(v.encode("call me"));
  });

  it("refuses malformed JSON with a Left saying what is wrong", () => {
    const good = Vocabulary.buildOrThrow(["ab"], { level: "char" }).toJSON();
    expect(leftOf(Vocabulary.fromJSON("{not json")).message).toContain("not valid JSON");
    expect(leftOf(Vocabulary.fromJSON({ ...good, format: "other" })).kind).toBe("bad-json");
    expect(leftOf(Vocabulary.fromJSON({ ...good, tokens: ["<unk>", "<pad>", "<bos>", "<eos>", "a"] })).message).toContain("at id 0");
    expect(leftOf(Vocabulary.fromJSON({ ...good, tokens: [...good.tokens, "a"] })).message).toContain("repeated");
  });
});
