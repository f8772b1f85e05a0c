#!/usr/bin/env python3
"""Trains seqgrad's character language model in PyTorch on the same split, for a side-by-side test NLL.

Run by hand (never in CI), with Debian's python3-torch:

    npx tsx cli/seqgrad.ts train lm --cell lstm --hidden 128 --epochs 20 --lr 0.005 --patience 3 \
        --export-split names-split.json --out lstm.safetensors
    python3 tools/torch_lm_reference.py names-split.json

The JSON file (written by `--export-split`) holds the train/valid/test texts, the vocabulary (ids in
seqgrad's order: <pad> 0, <unk> 1, <bos> 2, <eos> 3, then the corpus tokens), the model config and the
training settings. This script builds the same model:

    x<1> = 0 (or one-hot <bos> / the label), x<t> = one-hot(y<t-1>), a<t> = cell(a<t-1>, x<t>),
    logits<t> = W_ya a<t> + b_y over all V tokens, loss = sum of -log softmax at the targets / tokens,

with torch.nn.RNN (tanh) / GRU / LSTM, Adam at the same learning rate, gradient clipping to the same global
norm, the same batch size and epochs, and early stopping on the validation NLL with the same patience when
given. It prints one JSON line with the best epoch and the test NLL per token (nats, <eos> included), which
is what `seqgrad eval` reports. Initialisation and batch order differ (PyTorch's defaults, Python's RNG), so
the two figures agree only up to run-to-run noise.
"""
import argparse
import json
import math
import random
import time

import torch


def encode(text, vocab, level, lowercase):
    ids = {t: i for i, t in enumerate(vocab)}
    s = text.lower() if lowercase else text
    if level == "char":
        tokens = list(s)
    else:
        import re
        tokens = re.findall(r"[^\W_]+(?:['’\-][^\W_]+)*|[^\s\w]|_", s)
    return [ids.get(t, 1) for t in tokens] + [3]  # unknown -> <unk> (1), then <eos> (3)


class LanguageModel(torch.nn.Module):
    def __init__(self, cell, V, L, H, layers, start_row):
        super().__init__()
        rnn = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]
        self.D = V + L
        self.rnn = rnn(self.D, H, num_layers=layers)
        self.out = torch.nn.Linear(H, V)
        self.start_row = start_row

    def forward(self, rows):
        # rows [T, B]: input row per step (-1 = zero vector)
        x = torch.zeros(rows.shape[0], rows.shape[1], self.D)
        valid = rows >= 0
        x[valid] = torch.nn.functional.one_hot(rows[valid], self.D).float()
        y, _ = self.rnn(x)
        return self.out(y)


def make_batch(examples, V, labels, start_row):
    seqs = [e[0] for e in examples]
    T, B = max(len(s) for s in seqs), len(seqs)
    targets = torch.zeros(T, B, dtype=torch.long)
    mask = torch.zeros(T, B)
    rows = torch.zeros(T, B, dtype=torch.long)
    for b, (s, label) in enumerate(examples):
        rows[0, b] = V + labels.index(label) if label is not None else start_row
        for t, y in enumerate(s):
            targets[t, b] = y
            mask[t, b] = 1
            if t + 1 < T:
                rows[t + 1, b] = y
    return rows, targets, mask


def nll_sum(model, batch):
    rows, targets, mask = batch
    logp = torch.log_softmax(model(rows), dim=-1)
    picked = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -(picked * mask).sum(), mask.sum()


def batches_of(examples, size, rng, pool=32):
    order = list(range(len(examples)))
    rng.shuffle(order)
    sorted_ = []
    for s in range(0, len(order), pool * size):
        sorted_ += sorted(order[s : s + pool * size], key=lambda i: len(examples[i][0]))
    bs = [sorted_[s : s + size] for s in range(0, len(sorted_), size)]
    rng.shuffle(bs)
    return [[examples[i] for i in b] for b in bs]


def evaluate(model, examples, V, labels, start_row, size=256):
    model.eval()
    total, tokens = 0.0, 0.0
    with torch.no_grad():
        for s in range(0, len(examples), size):
            n, k = nll_sum(model, make_batch(examples[s : s + size], V, labels, start_row))
            total += n.item()
            tokens += k.item()
    model.train()
    return total / tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("split", help="JSON written by `seqgrad train lm --export-split`")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--patience", type=int, default=None, help="early stopping patience (default: none)")
    ap.add_argument("--epochs", type=int, default=None, help="override the epochs in the split file")
    ap.add_argument("--cell", choices=["rnn", "gru", "lstm"], default=None, help="override the cell in the split file")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)

    with open(args.split) as f:
        d = json.load(f)
    voc, cfg, tr = d["vocabulary"], d["config"], d["training"]
    vocab, level, lowercase = voc["tokens"], voc["level"], voc["lowercase"]
    if cfg.get("input", "onehot") != "onehot":
        raise SystemExit("this reference implements one-hot inputs (the character models); got input = %r" % cfg.get("input"))
    V = len(vocab)
    labels = cfg.get("labels") or []
    start_row = 2 if cfg.get("start") == "bos" else -1
    hidden = cfg["hidden"] if isinstance(cfg["hidden"], list) else [cfg["hidden"]]
    if len(set(hidden)) != 1:
        raise SystemExit("torch.nn.RNN stacks layers of one size; got hidden = %r" % hidden)

    def ex(items):
        out = []
        for it in items:
            text, label = (it, None) if isinstance(it, str) else (it["text"], it.get("label"))
            out.append((encode(text, vocab, level, lowercase), label))
        return out

    train, valid, test = ex(d["train"]), ex(d["valid"]), ex(d["test"])
    cell = args.cell or cfg["cell"]
    model = LanguageModel(cell, V, len(labels), hidden[0], len(hidden), start_row)
    opt = torch.optim.Adam(model.parameters(), lr=tr["lr"])
    epochs = args.epochs or tr["epochs"]
    best, best_epoch, bad, best_state = math.inf, 0, 0, None
    history = []
    t0 = time.time()
    for epoch in range(1, epochs + 1):
        te = time.time()
        tokens = 0
        for batch in batches_of(train, tr["batchSize"], rng):
            b = make_batch(batch, V, labels, start_row)
            loss_sum, k = nll_sum(model, b)
            loss = loss_sum / k
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tr["clip"])
            opt.step()
            tokens += k.item()
        v = evaluate(model, valid, V, labels, start_row)
        history.append({"epoch": epoch, "valid": v, "seconds": time.time() - te, "tokensPerSecond": tokens / (time.time() - te)})
        print(json.dumps(history[-1]), flush=True)
        if v < best:
            best, best_epoch, bad = v, epoch, 0
            best_state = {k: t.clone() for k, t in model.state_dict().items()}
        else:
            bad += 1
            if args.patience is not None and bad >= args.patience:
                break
    model.load_state_dict(best_state)
    print(json.dumps({
        "implementation": "pytorch " + torch.__version__, "cell": cell, "hidden": hidden, "epochsRun": len(history),
        "bestEpoch": best_epoch, "validNll": best, "testNllPerToken": evaluate(model, test, V, labels, start_row),
        "seconds": time.time() - t0, "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
