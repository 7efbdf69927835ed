"""PyTorch CPU baseline for bench/conv2d.ts: conv2d forward and backward (grad-input + grad-weight)
time per layer shape, float32, torch.set_num_threads(THREADS). Prints one JSON line:
[{"fwd_ms": ..., "bwd_ms": ..., "fwd_cpu_ms": ..., "bwd_cpu_ms": ...}, ...] in the order of the shapes
given; *_cpu_ms is the process CPU time per run (all threads), for comparisons on a loaded machine.

usage: /usr/bin/python3 bench/torch_conv2d.py '<json list of [n, c, h, w, o, k, s]>' [--threads 2] [--min-time 0.3]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def timed(fn, min_time):
    """(wall ms, process CPU ms) per call, after a warm-up call."""
    fn()
    reps, start, cpu0 = 0, time.perf_counter(), time.process_time()
    while True:
        fn()
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and reps >= 2:
            return elapsed / reps * 1e3, (time.process_time() - cpu0) / reps * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shapes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=0.3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = []
    for n, c, h, w, o, k, s in json.loads(args.shapes):
        x = torch.randn(n, c, h, w, requires_grad=True)
        wt = torch.randn(o, c, k, k, requires_grad=True)
        b = torch.randn(o)
        with torch.no_grad():
            fwd = timed(lambda: F.silu(F.conv2d(x, wt, b, stride=s, padding=k // 2)), args.min_time)
        y = F.conv2d(x, wt, None, stride=s, padding=k // 2)
        gy = torch.randn_like(y)
        # grad-input and grad-weight, the two GEMMs of the backward
        bwd = timed(lambda: torch.autograd.grad(y, (x, wt), gy, retain_graph=True), args.min_time)
        out.append({"fwd_ms": fwd[0], "bwd_ms": bwd[0], "fwd_cpu_ms": fwd[1], "bwd_cpu_ms": bwd[1]})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
