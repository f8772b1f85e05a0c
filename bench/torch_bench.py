"""PyTorch side of the seqgrad benchmark: a child process of bench/run.ts.

Protocol: one JSON request per line on stdin, one JSON reply per line on the original stdout (anything a
library prints goes to stderr). Requests and replies are the ones in bench/common.ts. The weights and data
are generated with the same integer hash as bench/common.ts, so every implementation starts from the same
bits. Run by run.ts with OPENBLAS_NUM_THREADS set to --threads, OMP_NUM_THREADS to 1 and OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE removed from the environment. --threads is the cores PyTorch may use, through its BLAS: its own
(OpenMP) intra-op pool stays at one thread. With two threads in each pool the pools fought over the two cores:
the LSTM H = 128 step ran at 22K tokens/s, against 72K with one OpenMP thread and two OpenBLAS threads (and 67K
with two OpenMP threads and one OpenBLAS thread; at H = 512, 13.5K against 11.1K).
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# ---- deterministic values (mirror of bench/common.ts) ------------------------------------------------------

M32 = 0xFFFFFFFF


def hash32(i, salt):
    h = (i.astype(np.uint64) * np.uint64(0x9E3779B1) + np.uint64((salt * 0x85EBCA77) & M32) + np.uint64(0x165667B1)) & np.uint64(M32)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x2C1B3C6D)) & np.uint64(M32)
    h ^= h >> np.uint64(12)
    h = (h * np.uint64(0x297A2D39)) & np.uint64(M32)
    h ^= h >> np.uint64(15)
    return h


def uniform(shape, salt, scale, dtype):
    n = int(np.prod(shape)) if len(shape) else 1
    h = hash32(np.arange(n, dtype=np.uint64), salt).astype(np.float64)
    v = (2.0 * (h / 4294967296.0) - 1.0) * scale
    return torch.from_numpy(v.astype(dtype).reshape(shape))


def token_ids(n, V, salt):
    return (hash32(np.arange(n, dtype=np.uint64), salt) % np.uint64(V)).astype(np.int64)


GATES = {"lstm": 4, "gru": 3, "rnn": 1}

# ---- workloads ---------------------------------------------------------------------------------------------


class Matmul:
    def __init__(self, w):
        self.a = uniform([w["M"], w["K"]], 11, 1.0, np.float32)
        self.b = uniform([w["K"], w["N"]], 12, 1.0, np.float32)
        self.initial_loss = None
        self.note = "torch.mm"

    def step(self):
        torch.mm(self.a, self.b)

    def last_loss(self):
        return None


class RnnLm:
    """nn.LSTM / nn.GRU / nn.RNN (time-major) + nn.Linear, summed cross-entropy, torch.optim.SGD."""

    def __init__(self, w):
        V, H, B, T, cell = w["V"], w["H"], w["B"], w["T"], w["cell"]
        G = GATES[cell] * H
        s = 1.0 / math.sqrt(H)
        mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
        self.rnn = mod(V, H)
        self.out = torch.nn.Linear(H, V)
        with torch.no_grad():
            self.rnn.weight_ih_l0.copy_(uniform([G, V], 1, s, np.float32))
            self.rnn.weight_hh_l0.copy_(uniform([G, H], 2, s, np.float32))
            self.rnn.bias_ih_l0.copy_(uniform([G], 3, s, np.float32))
            self.rnn.bias_hh_l0.copy_(uniform([G], 4, s, np.float32))
            self.out.weight.copy_(uniform([V, H], 5, s, np.float32))
            self.out.bias.copy_(uniform([V], 6, s, np.float32))
        seq = torch.from_numpy(token_ids((T + 1) * B, V, 7)).reshape(T + 1, B)
        self.x = F.one_hot(seq[:T], V).to(torch.float32)  # [T, B, V]
        self.y = seq[1:].reshape(-1)
        self.V = V
        self.params = list(self.rnn.parameters()) + list(self.out.parameters())
        self.opt = torch.optim.SGD(self.params, lr=w["lr"])
        with torch.no_grad():
            self.initial_loss = self.loss().item()
        self.last = None
        self.note = f"nn.{mod.__name__} + nn.Linear, optim.SGD"

    def loss(self):
        h, _ = self.rnn(self.x)
        return F.cross_entropy(self.out(h).reshape(-1, self.V), self.y, reduction="sum")

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        l = self.loss()
        l.backward()
        self.opt.step()
        self.last = l.item()

    def last_loss(self):
        return self.last


class Gradcheck:
    """Central differences over every entry of an nn.LSTMCell's parameters, float64, under no_grad."""

    def __init__(self, w):
        D, H, B = w["D"], w["H"], w["B"]
        s = 1.0 / math.sqrt(H)
        self.eps = w["eps"]
        self.cell = torch.nn.LSTMCell(D, H).double()
        with torch.no_grad():
            self.cell.weight_ih.copy_(uniform([4 * H, D], 21, s, np.float64))
            self.cell.weight_hh.copy_(uniform([4 * H, H], 22, s, np.float64))
            self.cell.bias_ih.copy_(uniform([4 * H], 23, s, np.float64))
            self.cell.bias_hh.copy_(uniform([4 * H], 24, s, np.float64))
        self.x = uniform([B, D], 25, 1.0, np.float64)
        self.a0 = uniform([B, H], 26, 1.0, np.float64)
        self.c0 = uniform([B, H], 27, 1.0, np.float64)
        self.ra = uniform([B, H], 28, 1.0, np.float64)
        self.rc = uniform([B, H], 29, 1.0, np.float64)
        self.params = [self.cell.weight_ih, self.cell.weight_hh, self.cell.bias_ih, self.cell.bias_hh]
        with torch.no_grad():
            self.initial_loss = self.f().item()
        self.worst = float("nan")
        self.note = "nn.LSTMCell, autograd + manual central differences"

    def f(self):
        a1, c1 = self.cell(self.x, (self.a0, self.c0))
        return (a1 * self.ra).sum() + (c1 * self.rc).sum()

    def step(self):
        for p in self.params:
            p.grad = None
        self.f().backward()
        worst = 0.0
        eps = self.eps
        with torch.no_grad():
            for p in self.params:
                flat = p.view(-1)
                analytic = p.grad.view(-1).tolist()
                for i in range(flat.numel()):
                    orig = flat[i].item()
                    flat[i] = orig + eps
                    fp = self.f().item()
                    flat[i] = orig - eps
                    fm = self.f().item()
                    flat[i] = orig
                    num = (fp - fm) / (2 * eps)
                    a = analytic[i]
                    worst = max(worst, abs(a - num) / max(abs(a) + abs(num), 1e-300))
        self.worst = worst

    def last_loss(self):
        return None


# ---- the loop ----------------------------------------------------------------------------------------------


def blas_info():
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))  # make sure the BLAS library is loaded
    libs = set()
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                base = os.path.basename(path)
                if "blas" in base or "mkl" in base or "lapack" in base:
                    libs.add(path)
    except OSError:
        pass
    cfg = torch.__config__.show()
    blas_cfg = next((tok.split("=")[1].rstrip(",") for tok in cfg.split() if tok.startswith("BLAS_INFO=")), "?")
    found = sorted(libs)
    kind = "OpenBLAS" if any("openblas" in p for p in found) else ("MKL" if any("mkl" in p for p in found) else "reference BLAS (slow)" if found else "none found")
    return {"blas": kind, "blasLibraries": " ".join(found), "torchBuildBLAS": blas_cfg}


def rss_kb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1, help="threads of the BLAS (set by run.ts in OPENBLAS_NUM_THREADS)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed by libraries goes to stderr

    def send(obj):
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    info = {"torch": torch.__version__, "threads": str(args.threads), "intraOpThreads": str(torch.get_num_threads()),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "unset")}
    info.update(blas_info())
    send({"ok": True, "kind": "hello", "impl": f"torch-{args.threads}t", "info": info, "rssKB": rss_kb()})
    runner = None
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        try:
            cmd = msg["cmd"]
            if cmd == "setup":
                w = msg["workload"]
                runner = {"matmul": Matmul, "rnnlm": RnnLm, "gradcheck": Gradcheck}[w["kind"]](w)
                # warm-up (allocator, first-call paths), one more step to settle, then more until the parent's
                # warm-up time has passed (the same rule as bench/common.ts warmUp)
                t0 = time.perf_counter()
                runner.step()
                first = time.perf_counter() - t0
                steps = 1
                while True:
                    runner.step()
                    steps += 1
                    if time.perf_counter() - t0 >= msg["warmupSeconds"]:
                        break
                send({"ok": True, "kind": "setup", "initialLoss": runner.initial_loss, "firstStepSeconds": first,
                      "warmupSeconds": time.perf_counter() - t0, "warmupSteps": steps, "note": runner.note})
            elif cmd == "round":
                faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                t0 = time.perf_counter()
                until = t0 + msg["seconds"]
                reps = 0
                while True:
                    runner.step()
                    reps += 1
                    if time.perf_counter() >= until:
                        break
                seconds = time.perf_counter() - t0
                faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
                reply = {"ok": True, "kind": "round", "seconds": seconds, "reps": reps, "loss": runner.last_loss(), "minorFaults": faults}
                if isinstance(runner, Gradcheck):
                    reply["detail"] = f"worst relative error {runner.worst:.2e}"
                send(reply)
            elif cmd == "rss":
                send({"ok": True, "kind": "rss", "maxRssKB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "rssKB": rss_kb()})
            elif cmd == "exit":
                return
        except Exception as e:  # report, keep serving
            send({"ok": False, "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
