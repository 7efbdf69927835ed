"""PyTorch CPU baseline for bench/model_forward.ts: yolov8n-pose forward latency, fused, eval.

Ultralytics is not needed: the network is re-declared below with Ultralytics' attribute names, and
the checkpoint is read with an unpickler that turns Ultralytics' classes into plain nn.Module
shells, so only the state dict is taken from it. Prints one JSON line.

usage: /usr/bin/python3 bench/model_forward_torch.py WEIGHTS.pt [--imgsz 640] [--batch 1] [--runs 10] [--warmup 1] [--threads 2]
       [--device cpu|cuda]   (wall ms and process CPU ms per forward, medians; cuda: times include
       torch.cuda.synchronize(), as the engine's include the read-back)
"""
import argparse
import json
import pickle
import resource
import statistics
import time

import torch
import torch.nn as nn


class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.conv(x)) if self.bn is None else self.act(self.bn(self.conv(x)))

    def fuse(self):
        bn, w = self.bn, self.conv.weight
        s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv2d(self.conv.in_channels, self.conv.out_channels, self.conv.kernel_size, self.conv.stride, self.conv.padding, bias=True)
        fused.weight.data = w * s.view(-1, 1, 1, 1)
        fused.bias.data = bn.bias - bn.running_mean * s
        self.conv, self.bn = fused, None


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut):
        super().__init__()
        self.cv1, self.cv2, self.add = Conv(c1, c2, 3), Conv(c2, c2, 3), shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, c1, c2, n, shortcut=False):
        super().__init__()
        self.c = c2 // 2
        self.cv1, self.cv2 = Conv(c1, 2 * self.c), Conv((2 + n) * self.c, c2)
        self.m = nn.ModuleList(Bottleneck(self.c, self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        self.cv1, self.cv2, self.m = Conv(c1, c1 // 2), Conv(c1 // 2 * 4, c2), nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class Concat(nn.Module):
    def forward(self, xs):
        return torch.cat(xs, 1)


class DFL(nn.Module):
    def __init__(self, c1=16):
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x):
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)


def branch(x, c, out):
    return nn.Sequential(Conv(x, c, 3), Conv(c, c, 3), nn.Conv2d(c, out, 1))


class Pose(nn.Module):
    def __init__(self, nc, kpt_shape, ch, strides):
        super().__init__()
        self.nc, self.nl, self.reg_max, self.kpt_shape = nc, len(ch), 16, kpt_shape
        self.no, self.nk, self.strides_ = nc + 64, kpt_shape[0] * kpt_shape[1], strides
        c2, c3, c4 = max(16, ch[0] // 4, 64), max(ch[0], min(nc, 100)), max(ch[0] // 4, self.nk)
        self.cv2 = nn.ModuleList(branch(x, c2, 64) for x in ch)
        self.cv3 = nn.ModuleList(branch(x, c3, nc) for x in ch)
        self.dfl = DFL(16)
        self.cv4 = nn.ModuleList(branch(x, c4, self.nk) for x in ch)

    def forward(self, x):
        bs = x[0].shape[0]
        kpt = torch.cat([self.cv4[i](x[i]).view(bs, self.nk, -1) for i in range(self.nl)], -1)
        x = [torch.cat((self.cv2[i](x[i]), self.cv3[i](x[i])), 1) for i in range(self.nl)]
        anchors, strides = [], []
        for xi, s in zip(x, self.strides_):
            h, w = xi.shape[2:]
            sy, sx = torch.meshgrid(torch.arange(h, device=xi.device) + 0.5, torch.arange(w, device=xi.device) + 0.5, indexing="ij")
            anchors.append(torch.stack((sx, sy), -1).view(-1, 2))
            strides.append(torch.full((h * w, 1), float(s), device=xi.device))
        anchors, strides = torch.cat(anchors).T, torch.cat(strides).T
        box, cls = torch.cat([xi.view(bs, self.no, -1) for xi in x], 2).split((64, self.nc), 1)
        lt, rb = self.dfl(box).chunk(2, 1)
        x1y1, x2y2 = anchors - lt, anchors + rb
        dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
        y, nd = kpt.clone(), self.kpt_shape[1]
        if nd == 3:
            y[:, 2::3] = y[:, 2::3].sigmoid()
        y[:, 0::nd] = (y[:, 0::nd] * 2.0 + (anchors[0] - 0.5)) * strides
        y[:, 1::nd] = (y[:, 1::nd] * 2.0 + (anchors[1] - 0.5)) * strides
        return torch.cat((dbox, cls.sigmoid(), y), 1)


def pose_n(nc=1, kpt_shape=(17, 3)):
    """yolov8n-pose: widths 16..256, C2f repeats 1, 2, 2, 1 (depth 0.33)."""
    layers = [Conv(3, 16, 3, 2), Conv(16, 32, 3, 2), C2f(32, 32, 1, True), Conv(32, 64, 3, 2), C2f(64, 64, 2, True),
              Conv(64, 128, 3, 2), C2f(128, 128, 2, True), Conv(128, 256, 3, 2), C2f(256, 256, 1, True), SPPF(256, 256),
              nn.Upsample(None, 2, "nearest"), Concat(), C2f(384, 128, 1), nn.Upsample(None, 2, "nearest"), Concat(),
              C2f(192, 64, 1), Conv(64, 64, 3, 2), Concat(), C2f(192, 128, 1), Conv(128, 128, 3, 2), Concat(),
              C2f(384, 256, 1), Pose(nc, kpt_shape, (64, 128, 256), (8, 16, 32))]
    froms = [-1] * 10 + [-1, [-1, 6], -1, -1, [-1, 4], -1, -1, [-1, 12], -1, -1, [-1, 9], -1, [15, 18, 21]]
    return PoseNet(layers, froms)


class PoseNet(nn.Module):
    def __init__(self, layers, froms):
        super().__init__()
        self.model, self.froms = nn.Sequential(*layers), froms

    def forward(self, x):
        y = []
        for m, f in zip(self.model, self.froms):
            if f != -1:
                x = y[f] if isinstance(f, int) else [x if j == -1 else y[j] for j in f]
            x = m(x)
            y.append(x)
        return x

    def fuse(self):
        for m in self.modules():
            if isinstance(m, Conv):
                m.fuse()
        return self


class _Shell(nn.Module):
    """Stands in for any Ultralytics class while unpickling: keeps its state, runs none of its code."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.startswith("ultralytics."):
            return _Shell
        return super().find_class(module, name)


def load_state_dict(path):
    # torch.load subclasses pickle.Unpickler when it is called (and torch 1.13 ignores pickle_module=),
    # so the shell-making unpickler is swapped in for the duration of the call.
    original, pickle.Unpickler = pickle.Unpickler, _Unpickler
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    finally:
        pickle.Unpickler = original
    if "state_dict" in ckpt:  # a yolo-ts checkpoint
        return ckpt["state_dict"]
    return (ckpt.get("ema") or ckpt["model"]).float().state_dict()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--warmup", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net = pose_n()
    net.load_state_dict(load_state_dict(a.weights))
    net.eval().fuse().to(a.device)
    x = torch.rand(a.batch, 3, a.imgsz, a.imgsz, device=a.device)
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)
    times, cpu = [], []
    with torch.inference_mode():
        for _ in range(a.warmup):
            out = net(x)
        sync()
        for _ in range(a.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            out = net(x)
            sync()
            times.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
    print(json.dumps({
        "torch": torch.__version__, "device": a.device, "threads": torch.get_num_threads(), "shape": list(out.shape),
        "ms_median": statistics.median(times), "ms_min": min(times), "runs": a.runs, "warmup": a.warmup,
        "cpu_ms_median": statistics.median(cpu),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "params": sum(p.numel() for p in net.parameters()),
    }))


if __name__ == "__main__":
    main()
