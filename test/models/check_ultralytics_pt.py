"""Checks a .pt written by yolo-ts against Ultralytics 8.2.82's layout, with the stand-in classes of
ultralytics_standins.py (no Ultralytics code). Prints one JSON object of findings; the tap test
(test/models/ultralytics_pt.test.ts) asserts on it.

usage: /usr/bin/python3 check_ultralytics_pt.py CKPT.pt SPEC.json [GENUINE.pt]
  SPEC.json: {"slot": "model"|"ema", "kind": "model"|"trainer", "state": {name: shape},
              "io": path of a safetensors-like raw file pair (input.bin, output.bin) with shapes}
  GENUINE.pt: an Ultralytics-written checkpoint; every class both files use must carry the same keys.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ultralytics_standins as U  # noqa: E402


def walk(m, prefix=""):
    yield prefix, m
    for k, c in m._modules.items():
        yield from walk(c, f"{prefix}{k}.")


def layout(model):
    """class -> set of __dict__ keys (minus what torch >= 2 adds on load) for every module in `model`."""
    out = {}
    for _, m in walk(model):
        keys = [k for k in m.__dict__ if k in U.MODULE_KEYS or not k.startswith("_") or k == "_reversed_padding_repeated_twice"]
        out.setdefault(U.qualname(m), set()).update(keys)
    return out


def main():
    path, spec_path = sys.argv[1], sys.argv[2]
    spec = json.loads(Path(spec_path).read_text())
    ck = torch.load(path, map_location="cpu")
    found = {"keys": list(ck.keys()), "errors": []}
    err = found["errors"].append
    model = ck[spec["slot"]]
    other = "ema" if spec["slot"] == "model" else "model"
    if ck.get(other) is not None:
        err(f"ck['{other}'] should be None")
    found["class"] = U.qualname(model)

    # every module: its class is one 8.2.82 pickles, with exactly the __dict__ keys that class has there
    for name, m in walk(model):
        cls = U.qualname(m)
        want = U.ATTRIBUTES.get(cls)
        if want is None:
            err(f"{name or '<root>'}: unexpected class {cls}")
            continue
        if isinstance(want, dict):
            want = want[spec["kind"]]
        layer = name.count(".") == 2 and name.startswith("model.") and cls != "ultralytics.nn.modules.head.Pose"
        want = U.MODULE_KEYS + want + (U.LAYER if layer else [])
        got = [k for k in m.__dict__ if not k.endswith("_with_kwargs") and k not in ("_forward_hooks_always_called", "_state_dict_pre_hooks")]
        if got != want:
            err(f"{name or '<root>'} ({cls}): keys {got}, expected {want}")
        if layer and m.type != cls:
            err(f"{name}: type {m.type!r}, expected {cls!r}")
        if cls == "torch.nn.modules.conv.Conv2d":
            w = m.weight
            if (m.out_channels, m.in_channels // m.groups) != tuple(w.shape[:2]) or m.kernel_size != tuple(w.shape[2:]):
                err(f"{name}: Conv2d attributes disagree with its weight {tuple(w.shape)}")
            if m.padding_mode != "zeros" or m._reversed_padding_repeated_twice != (m.padding[0],) * 4:
                err(f"{name}: padding attributes")
        for k, p in m._parameters.items():
            if p is not None and (not isinstance(p, torch.nn.Parameter) or p.dtype != torch.float16):
                err(f"{name}{k}: a {type(p).__name__} of {p.dtype}, expected an fp16 Parameter")
            if p is not None and p.requires_grad != spec["requires_grad"] and not name.endswith("dfl.conv."):
                err(f"{name}{k}: requires_grad {p.requires_grad}")
        for k, b in m._buffers.items():
            if b.dtype != (torch.int64 if k == "num_batches_tracked" else torch.float16):
                err(f"{name}{k}: buffer of {b.dtype}")
    found["modules"] = sum(1 for _ in walk(model))
    found["silu_objects"] = len({id(m) for _, m in walk(model) if isinstance(m, torch.nn.SiLU)})

    # the state dict Ultralytics would see: our names, order and shapes
    sd = model.float().state_dict()
    names = list(sd)
    if names != list(spec["state"]):
        err(f"state dict keys differ: first mismatch {next(((a, b) for a, b in zip(names, spec['state']) if a != b), (len(names), len(spec['state'])))}")
    for k, shape in spec["state"].items():
        if k in sd and list(sd[k].shape) != shape:
            err(f"{k}: shape {list(sd[k].shape)}, expected {shape}")
    found["params"] = len(names)
    found["yaml"] = {k: model.yaml[k] for k in ("nc", "kpt_shape", "scale", "yaml_file", "ch")}
    found["yaml_keys"] = list(model.yaml)
    found["names"] = {str(k): v for k, v in model.names.items()}
    found["stride"] = model.stride.tolist()
    found["head_stride_dtype"] = str(model.model[-1].stride.dtype)
    found["args_type"] = U.qualname(model.args)
    found["scale_factor"] = repr(next(m for _, m in walk(model) if isinstance(m, torch.nn.Upsample)).scale_factor)
    found["training"] = model.training

    if ck.get("optimizer"):
        o = ck["optimizer"]
        found["optimizer"] = {"groups": [len(g["params"]) for g in o["param_groups"]], "group_keys": sorted(o["param_groups"][0]),
                              "state": len(o["state"]), "state_dtypes": sorted({f"{k}:{v.dtype}" for s in o["state"].values() for k, v in s.items()})}

    # the stand-ins' forward (bench/model_forward_torch.py's network) against our output
    if "input" in spec:
        x = torch.from_numpy(np.fromfile(spec["input"], dtype=np.float32).reshape(spec["input_shape"]))
        want = np.fromfile(spec["output"], dtype=np.float32).reshape(spec["output_shape"])
        with torch.no_grad():
            y = model.float().eval()(x).numpy()
        found["output_shape"] = list(y.shape)
        found["max_abs_diff"] = float(np.abs(y - want).max()) if y.shape == want.shape else None

    # a genuine Ultralytics file: every class both use carries the same keys in it
    if len(sys.argv) > 3:
        g = torch.load(sys.argv[3], map_location="cpu")
        theirs, ours = layout(g.get("ema") or g["model"]), layout(model)
        ignore = {"criterion", "shape"}  # set by a loss call / an eval forward, not by building or saving
        for cls in sorted(set(theirs) & set(ours)):
            if theirs[cls] - ignore != ours[cls] - ignore:
                err(f"{cls}: keys {sorted(ours[cls])} differ from the genuine file's {sorted(theirs[cls])}")
        found["genuine_classes_compared"] = len(set(theirs) & set(ours))
        found["genuine_top_keys"] = list(g.keys())
    print(json.dumps(found))


if __name__ == "__main__":
    main()
