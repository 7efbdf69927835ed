"""PyTorch side of bench/train_step_p2.ts: one yolov8n-pose training step (train-mode forward,
v8PoseLoss, backward, gradient clipping at 10, SGD step) on the batch the TS bench wrote, timed.

The network is bench/model_forward_torch.py's re-declaration (Ultralytics' state-dict names, the
checkpoint read without Ultralytics). The loss is written here from Ultralytics 8.2.82's formulas
(utils/loss.py v8PoseLoss, utils/tal.py TaskAlignedAssigner, utils/metrics.py bbox_iou CIoU):
TaskAlignedAssigner (topk 10, alpha 0.5, beta 6), CIoU + DFL box losses weighted by the target
scores, BCE class loss over every anchor, the OKS-shaped keypoint loss and the keypoint-visibility
BCE; gains box 7.5, pose 12, kobj 1, cls 0.5, dfl 1.5; total = sum x batch size.

usage:
  /usr/bin/python3 bench/torch_train_step.py --golden test/fixtures/loss/parity_head.safetensors
      the loss on Ultralytics' own head outputs and batch, against its loss_items (prints one JSON line)
  /usr/bin/python3 bench/torch_train_step.py --batch BATCH.safetensors --weights W.pt [--runs 5] [--warmup 1] [--threads 2]
      times the step (prints one JSON line: wall and CPU ms per step, the first step's loss items)
"""
import argparse
import json
import math
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_forward_torch import Pose, load_state_dict, pose_n  # noqa: E402

OKS_SIGMA = torch.tensor([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89]) / 10.0
GAINS = (7.5, 12.0, 1.0, 0.5, 1.5)  # box, pose, kobj, cls, dfl (Ultralytics' loss_items order)
_NP = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=_NP[v["dtype"]]).reshape(v["shape"])
        out[k] = torch.from_numpy(arr.copy())
    return out


# ---- the network's train-mode outputs ---------------------------------------------------------

def forward_raw(net, x):
    """Per level (B, 65, h, w) box+class maps and (B, 51, A) raw keypoints, as the loss wants them."""
    y = []
    for m, f in zip(net.model, net.froms):
        if f != -1:
            x = y[f] if isinstance(f, int) else [x if j == -1 else y[j] for j in f]
        if isinstance(m, Pose):
            bs = x[0].shape[0]
            kpt = torch.cat([m.cv4[i](x[i]).view(bs, m.nk, -1) for i in range(m.nl)], -1)
            return [torch.cat((m.cv2[i](x[i]), m.cv3[i](x[i])), 1) for i in range(m.nl)], kpt
        x = m(x)
        y.append(x)
    raise RuntimeError("no Pose head")


# ---- v8PoseLoss ---------------------------------------------------------------------------------

def anchors_for(feats, strides):
    pts, st = [], []
    for f, s in zip(feats, strides):
        h, w = f.shape[2:]
        gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float32) + 0.5, torch.arange(w, dtype=torch.float32) + 0.5, indexing="ij")
        pts.append(torch.stack((gx, gy), -1).view(-1, 2))
        st.append(torch.full((h * w, 1), float(s)))
    return torch.cat(pts), torch.cat(st)  # (A, 2) grid units, (A, 1)


def ciou(a, b, eps=1e-7):
    """Complete IoU of xyxy boxes a and b (..., 4) -> (...)."""
    ax1, ay1, ax2, ay2 = a.unbind(-1)
    bx1, by1, bx2, by2 = b.unbind(-1)
    wa, ha = ax2 - ax1, ay2 - ay1 + eps
    wb, hb = bx2 - bx1, by2 - by1 + eps
    inter = (torch.minimum(ax2, bx2) - torch.maximum(ax1, bx1)).clamp(0) * (torch.minimum(ay2, by2) - torch.maximum(ay1, by1)).clamp(0)
    iou = inter / (wa * ha + wb * hb - inter + eps)
    cw = torch.maximum(ax2, bx2) - torch.minimum(ax1, bx1)
    ch = torch.maximum(ay2, by2) - torch.minimum(ay1, by1)
    c2 = cw ** 2 + ch ** 2 + eps
    rho2 = ((bx1 + bx2 - ax1 - ax2) ** 2 + (by1 + by2 - ay1 - ay2) ** 2) / 4
    v = (4 / math.pi ** 2) * (torch.atan(wb / hb) - torch.atan(wa / ha)) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


@torch.no_grad()
def assign(scores, boxes, anc, gt_cls, gt_box, mask_gt, topk=10, alpha=0.5, beta=6.0, eps=1e-9):
    """TaskAlignedAssigner. scores (B, A, nc) probabilities, boxes (B, A, 4) xyxy pixels, anc (A, 2)
    pixels, gt_cls (B, M) long, gt_box (B, M, 4) xyxy pixels, mask_gt (B, M) bool.
    Returns target boxes (B, A, 4), target scores (B, A, nc), fg (B, A) bool, gt index (B, A)."""
    B, M = gt_box.shape[:2]
    A, nc = anc.shape[0], scores.shape[-1]
    inside = torch.cat((anc - gt_box[:, :, None, :2], gt_box[:, :, None, 2:] - anc), -1).amin(-1) > eps  # (B, M, A)
    valid = inside & mask_gt[..., None]
    cls_score = scores.transpose(1, 2).gather(1, gt_cls[..., None].expand(-1, -1, A))  # (B, M, A)
    overlaps = torch.zeros(B, M, A)
    overlaps[valid] = ciou(gt_box[:, :, None].expand(-1, -1, A, -1)[valid], boxes[:, None].expand(-1, M, -1, -1)[valid]).clamp(0)
    metric = torch.where(valid, cls_score, torch.zeros(())).pow(alpha) * overlaps.pow(beta)
    idx = metric.topk(topk, -1).indices.masked_fill(~mask_gt[..., None], 0)  # (B, M, topk)
    count = torch.zeros(B, M, A).scatter_add_(-1, idx, torch.ones(idx.shape))
    mask_pos = torch.where(count > 1, torch.zeros(()), count) * valid
    fg = mask_pos.sum(1)  # (B, A)
    if fg.max() > 1:  # an anchor claimed by several boxes keeps the one it overlaps most
        best = torch.zeros_like(mask_pos).scatter_(1, overlaps.argmax(1, keepdim=True), 1)
        mask_pos = torch.where(fg[:, None] > 1, best, mask_pos)
        fg = mask_pos.sum(1)
    gt_idx = mask_pos.argmax(1)  # (B, A)
    flat = gt_idx + torch.arange(B)[:, None] * M
    t_box = gt_box.reshape(-1, 4)[flat]
    t_scores = F.one_hot(gt_cls.reshape(-1)[flat].clamp(0), nc).float() * (fg > 0)[..., None]
    metric = metric * mask_pos
    norm = (metric * (overlaps * mask_pos).amax(-1, keepdim=True) / (metric.amax(-1, keepdim=True) + eps)).amax(1)  # (B, A)
    return t_box, t_scores * norm[..., None], fg > 0, gt_idx


def pose_loss(feats, kpt_raw, batch, nc=1, R=16, strides=(8, 16, 32), kpt_shape=(17, 3)):
    """v8PoseLoss: (total with gradient, the 5 gained items detached)."""
    B, no, K = feats[0].shape[0], 4 * R + nc, kpt_shape[0]
    x = torch.cat([f.view(B, no, -1) for f in feats], 2)
    dist, logits = x[:, :4 * R].transpose(1, 2), x[:, 4 * R:].transpose(1, 2)  # (B, A, 4R), (B, A, nc)
    A = x.shape[2]
    kpt = kpt_raw.transpose(1, 2).reshape(B, A, K, kpt_shape[1])
    anc, stride = anchors_for(feats, strides)
    img_h, img_w = feats[0].shape[2] * strides[0], feats[0].shape[3] * strides[0]

    # targets padded per image: (B, M, ...)
    bi = batch["batch_idx"].long().view(-1)
    M = int(torch.bincount(bi, minlength=B).max()) if bi.numel() else 0
    gt_cls, gt_box = torch.zeros(B, M, dtype=torch.long), torch.zeros(B, M, 4)
    gt_kpt = torch.zeros(B, M, K, kpt_shape[1])
    xywh = batch["bboxes"] * torch.tensor([img_w, img_h, img_w, img_h], dtype=torch.float32)
    kps = batch["keypoints"].clone().float()
    kps[..., 0] *= img_w
    kps[..., 1] *= img_h
    for b in range(B):
        sel = bi == b
        n = int(sel.sum())
        gt_cls[b, :n] = batch["cls"].view(-1)[sel].long()
        c, wh = xywh[sel, :2], xywh[sel, 2:]
        gt_box[b, :n] = torch.cat((c - wh / 2, c + wh / 2), -1)
        gt_kpt[b, :n] = kps[sel]
    mask_gt = gt_box.sum(-1) > 0

    ltrb = dist.reshape(B, A, 4, R).softmax(-1) @ torch.arange(R, dtype=torch.float32)  # (B, A, 4)
    pred_box = torch.cat((anc - ltrb[..., :2], anc + ltrb[..., 2:]), -1)  # xyxy, grid units
    t_box, t_scores, fg, gt_idx = assign(logits.detach().sigmoid(), pred_box.detach() * stride, anc * stride, gt_cls, gt_box, mask_gt)
    tss = max(t_scores.sum(), 1)
    cls = F.binary_cross_entropy_with_logits(logits, t_scores, reduction="none").sum() / tss

    zero = torch.zeros(())
    box = dfl = pose = kobj = zero
    if fg.any():
        t_box = t_box / stride
        w = t_scores.sum(-1)[fg][:, None]  # (N, 1)
        box = ((1.0 - ciou(pred_box[fg], t_box[fg]))[:, None] * w).sum() / tss
        target = torch.cat((anc - t_box[..., :2], t_box[..., 2:] - anc), -1)[fg].clamp(0, R - 1 - 0.01)  # (N, 4)
        left = target.long()
        wl = left + 1 - target
        logit = dist[fg].reshape(-1, R)
        ce = lambda t: F.cross_entropy(logit, t.reshape(-1), reduction="none").view(t.shape)  # noqa: E731
        dfl = ((ce(left) * wl + ce(left + 1) * (1 - wl)).mean(-1, keepdim=True) * w).sum() / tss

        gk = gt_kpt[torch.arange(B)[:, None], gt_idx][fg]  # (N, K, 3) pixels
        st = stride.expand(B, -1, -1)[fg].view(-1, 1)
        gxy = gk[..., :2] / st[..., None]
        tb = t_box[fg]
        area = ((tb[:, 2] - tb[:, 0]) * (tb[:, 3] - tb[:, 1]))[:, None]
        a = anc.expand(B, -1, -1)[fg]  # (N, 2)
        pk = kpt[fg]
        px = pk[..., 0] * 2.0 + (a[:, :1] - 0.5)
        py = pk[..., 1] * 2.0 + (a[:, 1:] - 0.5)
        vis = gk[..., 2] != 0
        d = (px - gxy[..., 0]) ** 2 + (py - gxy[..., 1]) ** 2
        factor = K / (vis.sum(1) + 1e-9)
        e = d / ((2 * OKS_SIGMA) ** 2 * (area + 1e-9) * 2)
        pose = (factor[:, None] * ((1 - torch.exp(-e)) * vis)).mean()
        kobj = F.binary_cross_entropy_with_logits(pk[..., 2], vis.float())

    items = torch.stack([box * GAINS[0], pose * GAINS[1], kobj * GAINS[2], cls * GAINS[3], dfl * GAINS[4]])
    return items.sum() * B, items.detach()


# ---- the optimizer as our trainer builds it (tasks/train/optimizer.ts, Ultralytics' build_optimizer) ----

def sgd(net, lr=0.01, momentum=0.937, decay=5e-4):
    biases, decayed, bn = [], [], []
    for mod in net.modules():
        for name, p in mod.named_parameters(recurse=False):
            if name == "bias":
                biases.append(p)
            elif isinstance(mod, torch.nn.BatchNorm2d):
                bn.append(p)
            else:
                decayed.append(p)
    groups = [{"params": biases, "weight_decay": 0.0}, {"params": decayed, "weight_decay": decay}, {"params": bn, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=True)


def golden(path):
    g = read_safetensors(path)
    batch = {k: g[f"batch_{k}"] for k in ("batch_idx", "cls", "bboxes", "keypoints")}
    total, items = pose_loss([g[f"train_feat{i}"] for i in range(3)], g["train_kpt_raw"], batch)
    ref = g["loss_items"]
    print(json.dumps({"items": items.tolist(), "ultralytics": ref.tolist(), "total": total.item(), "ultralytics_total": g["loss_total"].item(),
                      "max_rel_diff": ((items - ref).abs() / ref.abs().clamp(min=1e-12)).max().item()}))


def bench(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = pose_n()
    net.load_state_dict(load_state_dict(a.weights))
    net.train()
    for p in net.parameters():
        p.requires_grad_(True)
    for m in net.modules():  # DFL's fixed projection takes no gradient (as in Ultralytics)
        if m.__class__.__name__ == "DFL":
            m.conv.requires_grad_(False)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = sgd(net)
    b = read_safetensors(a.batch)
    images = b["images"]
    batch = {k: b[k] for k in ("batch_idx", "cls", "bboxes", "keypoints")}

    def step():
        feats, kpt = forward_raw(net, images)
        loss, items = pose_loss(feats, kpt, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, max_norm=10.0)
        opt.step()
        opt.zero_grad()
        return items

    first = step().tolist()  # also the first warm-up step
    for _ in range(a.warmup - 1):
        step()
    wall, cpu = [], []
    for _ in range(a.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "runs": a.runs, "warmup": a.warmup,
                      "wall_ms_median": statistics.median(wall), "wall_ms_min": min(wall), "cpu_ms_median": statistics.median(cpu),
                      "first_items": first, "shape": list(images.shape),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden")
    ap.add_argument("--batch")
    ap.add_argument("--weights")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if a.golden:
        golden(a.golden)
    else:
        if not (a.batch and a.weights):
            ap.error("--batch and --weights are required (or --golden)")
        bench(a)


if __name__ == "__main__":
    main()
