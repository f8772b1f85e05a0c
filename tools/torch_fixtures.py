#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for seqgrad's recurrent cells (tests/fixtures/torch/*.json).

Run by hand (never in CI), with Debian's python3-torch:

    python3 tools/torch_fixtures.py

For torch.nn.RNNCell (tanh, relu), GRUCell and LSTMCell, in float64, with a fixed seed, it records the
cell's state dict, the inputs xs [T, B, D], the initial state h0 (and c0), the output h<t> at every step,
and the gradients of the scalar loss

    L = sum_t sum(w<t> * h<t>)  (+ sum(v * c<T>) for the LSTM)

with respect to every weight, the inputs and the initial state. Numbers are written with Python's
shortest round-trip repr, so every float64 arrives in JavaScript bit for bit.
"""
import json
import pathlib

import torch

D, H, B, T = 3, 4, 2, 5
SEED = 20240611
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch"

CASES = {
    "rnn_tanh": (torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "gru": (torch.nn.GRUCell, {}),
    "lstm": (torch.nn.LSTMCell, {}),
}


def nested(t: torch.Tensor):
    return t.detach().tolist()


def make(name: str, cls, kwargs, generator: torch.Generator) -> dict:
    torch.manual_seed(SEED + sum(map(ord, name)))
    cell = cls(D, H, **kwargs)
    # Scale the weights up a little so the gates leave their linear regime and relu units switch.
    with torch.no_grad():
        for p in cell.parameters():
            p.mul_(2.0)
    is_lstm = cls is torch.nn.LSTMCell
    xs = torch.randn(T, B, D, generator=generator, requires_grad=True)
    h0 = torch.randn(B, H, generator=generator, requires_grad=True)
    c0 = torch.randn(B, H, generator=generator, requires_grad=True) if is_lstm else None
    w = torch.randn(T, B, H, generator=generator)
    v = torch.randn(B, H, generator=generator) if is_lstm else None

    h, c = h0, c0
    ys = []
    for t in range(T):
        if is_lstm:
            h, c = cell(xs[t], (h, c))
        else:
            h = cell(xs[t], h)
        ys.append(h)
    ys = torch.stack(ys)
    loss = (w * ys).sum()
    if is_lstm:
        loss = loss + (v * c).sum()
    loss.backward()

    out = {
        "cell": cls.__name__,
        "options": kwargs,
        "dtype": "float64",
        "sizes": {"D": D, "H": H, "B": B, "T": T},
        "stateDict": {k: nested(p) for k, p in cell.state_dict().items()},
        "xs": nested(xs),
        "h0": nested(h0),
        "lossWeights": nested(w),
        "ys": nested(ys),
        "hT": nested(h),
        "loss": loss.item(),
        "grads": {k: nested(p.grad) for k, p in cell.named_parameters()},
    }
    out["grads"]["xs"] = nested(xs.grad)
    out["grads"]["h0"] = nested(h0.grad)
    if is_lstm:
        out["c0"] = nested(c0)
        out["cLossWeights"] = nested(v)
        out["cT"] = nested(c)
        out["grads"]["c0"] = nested(c0.grad)
    return out


def main() -> None:
    torch.set_default_dtype(torch.float64)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (cls, kwargs) in CASES.items():
        g = torch.Generator().manual_seed(SEED + len(name))
        fixture = {"generator": f"tools/torch_fixtures.py with torch {torch.__version__}, seed {SEED}", **make(name, cls, kwargs, g)}
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(fixture, indent=1) + "\n")
        print(f"wrote {path.relative_to(OUT.parent.parent.parent)}")


if __name__ == "__main__":
    main()
