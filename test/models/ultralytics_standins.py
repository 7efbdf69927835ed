"""Test-only stand-ins for the classes Ultralytics 8.2.82 pickles into a .pt, under their Ultralytics
module names, so Debian's torch can torch.load a checkpoint without Ultralytics installed. No
Ultralytics code: the forwards are bench/model_forward_torch.py's re-declaration of the network,
driven only by the state each object carries in the pickle (m.f, m.i, model.save, head.stride...).

`import ultralytics_standins` registers the modules `ultralytics.nn.tasks`, `ultralytics.nn.modules.
{conv,block,head}` and `ultralytics.utils` in sys.modules; after that a plain torch.load works.
`ATTRIBUTES` lists, per class, the __dict__ keys 8.2.82 (on torch 1.13) pickles, read off genuine
checkpoints with pickletools.
"""
import importlib.util
import sys
import types
from pathlib import Path

import torch
import torch.nn as nn

_spec = importlib.util.spec_from_file_location("model_forward_torch", Path(__file__).resolve().parents[2] / "bench" / "model_forward_torch.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

MODULE_KEYS = ["training", "_parameters", "_buffers", "_non_persistent_buffers_set", "_backward_hooks", "_is_full_backward_hook",
               "_forward_hooks", "_forward_pre_hooks", "_state_dict_hooks", "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks", "_modules"]
LAYER = ["i", "f", "type"]
ATTRIBUTES = {
    "ultralytics.nn.tasks.PoseModel": {
        "trainer": ["yaml", "save", "names", "inplace", "end2end", "stride", "nc", "args", "kpt_shape"],
        "model": ["yaml", "save", "names", "inplace", "end2end", "stride", "args", "task"],
    },
    "ultralytics.nn.modules.conv.Conv": [],
    "ultralytics.nn.modules.conv.Concat": ["d"],
    "ultralytics.nn.modules.block.C2f": ["c"],
    "ultralytics.nn.modules.block.C2": ["c"],
    "ultralytics.nn.modules.block.Bottleneck": ["add"],
    "ultralytics.nn.modules.block.SPPF": [],
    "ultralytics.nn.modules.block.DFL": ["c1"],
    "ultralytics.nn.modules.head.Pose": ["nc", "nl", "reg_max", "no", "stride", "kpt_shape", "nk", "i", "f", "type", "inplace", "anchors", "strides"],
    "torch.nn.modules.conv.Conv2d": ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "transposed", "output_padding",
                                     "groups", "padding_mode", "_reversed_padding_repeated_twice"],
    "torch.nn.modules.batchnorm.BatchNorm2d": ["num_features", "eps", "momentum", "affine", "track_running_stats"],
    "torch.nn.modules.activation.SiLU": ["inplace"],
    "torch.nn.modules.pooling.MaxPool2d": ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"],
    "torch.nn.modules.upsampling.Upsample": ["name", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"],
    "torch.nn.modules.container.Sequential": [],
    "torch.nn.modules.container.ModuleList": [],
}


def _module(name):
    """Creates (or returns) the module `name` and its parents in sys.modules."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        full = ".".join(parts[:i])
        if full not in sys.modules:
            sys.modules[full] = types.ModuleType(full)
            if i > 1:
                setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], sys.modules[full])
    return sys.modules[name]


def _register(module, cls):
    cls.__module__ = module
    setattr(_module(module), cls.__name__, cls)
    return cls


class Conv(bench.Conv):
    pass


class Bottleneck(bench.Bottleneck):
    pass


class C2f(bench.C2f):
    pass


class C2(nn.Module):
    def forward(self, x):
        a, b = self.cv1(x).chunk(2, 1)
        return self.cv2(torch.cat((self.m(a), b), 1))


class SPPF(bench.SPPF):
    pass


class DFL(bench.DFL):
    pass


class Concat(nn.Module):
    def forward(self, xs):
        return torch.cat(xs, self.d)


class Pose(bench.Pose):
    @property
    def strides_(self):  # bench's Pose takes its level strides from here; Ultralytics keeps a tensor
        return [float(s) for s in self.stride]


class PoseModel(nn.Module):
    def forward(self, x):
        y = []
        for m in self.model:
            if m.f != -1:
                x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
            x = m(x)
            y.append(x if m.i in self.save else None)
        return x


class IterableSimpleNamespace(types.SimpleNamespace):
    pass


for _m, _classes in {
    "ultralytics.nn.modules.conv": [Conv, Concat],
    "ultralytics.nn.modules.block": [Bottleneck, C2f, C2, SPPF, DFL],
    "ultralytics.nn.modules.head": [Pose],
    "ultralytics.nn.tasks": [PoseModel],
    "ultralytics.utils": [IterableSimpleNamespace],
}.items():
    for _c in _classes:
        _register(_m, _c)


def qualname(obj):
    return f"{type(obj).__module__}.{type(obj).__name__}"
