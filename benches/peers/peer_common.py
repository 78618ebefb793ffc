"""Shared by the peer benchmarks: the three architectures glimpse's benches time (LeNet and
the ResNet of the fixtures, from scripts/glimpse_models.py, and a torchvision-free VGG16 at
224²), seeded random weights (timing does not need the shipped ones), the shipped
EfficientNet-Lite0 (`efficientnet_lite0`, Zennit bench only), inputs, and a median
timer. On the CPU by default, as many threads as the machine has cores (glimpse's lavapipe uses
them all); `--device cuda` in each bench puts models and inputs on the GPU, and the timer then
waits for the GPU's work to finish (scripts/device-check.sh).
"""

import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from glimpse_models import LeNet, ResNetFashion, attach_zennit_sum  # noqa: E402

torch.set_num_threads(os.cpu_count() or 1)
torch.manual_seed(16)

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
             512, 512, 512, "M", 512, 512, 512, "M"]


class VGG16(nn.Module):
    """VGG16 (configuration D) for 3×224×224 inputs, 1000 classes; every ReLU its own module
    (Zennit and Captum hook modules), no dropout (inference)."""

    def __init__(self):
        super().__init__()
        layers, c = [], 3
        for v in VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
                c = v
        self.features = nn.Sequential(*layers)
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(),
            nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, 1000))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def build(name):
    """(model in eval mode, per-item input shape, the last conv layer for Grad-CAM)."""
    if name == "lenet":
        m = LeNet()
        return m.eval(), (1, 28, 28), m.conv2
    if name == "resnet":
        m = attach_zennit_sum(ResNetFashion())
        return m.eval(), (1, 28, 28), m.block2.conv2
    if name == "vgg16":
        m = VGG16()
        return m.eval(), (3, 224, 224), m.features[28]
    if name == "efficientnet_lite0":
        # The shipped ImageNet model, rebuilt from its ONNX for Zennit (see golden_zennit_lite0.py).
        from golden_zennit_lite0 import ONNX, OnnxNet
        m = OnnxNet(str(Path(__file__).resolve().parents[2] / ONNX))
        return m.eval(), (3, 224, 224), None
    raise SystemExit(f"unknown model {name}; use lenet, resnet, vgg16, efficientnet_lite0")


def inputs(shape, batch):
    return torch.randn((batch,) + tuple(shape), generator=torch.Generator().manual_seed(batch))


def synchronize():
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def median_time(f, reps, budget_s=60.0):
    """One warm-up call, then up to `reps` timed calls (fewer when they exceed `budget_s`), each
    until the GPU's work (if any) is done."""
    f()
    synchronize()
    times, spent = [], 0.0
    for _ in range(max(reps, 1)):
        t = time.perf_counter()
        f()
        synchronize()
        times.append(time.perf_counter() - t)
        spent += times[-1]
        if spent > budget_s:
            break
    return statistics.median(times)


def forward_time(model, x, reps):
    with torch.no_grad():
        return median_time(lambda: model(x), reps)


def device_of(name):
    """`cpu` or `cuda` (refused when PyTorch sees no GPU)."""
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: PyTorch sees no GPU")
    return torch.device(name)


def environment(device=None):
    if device is not None and device.type == "cuda":
        tf32 = "TF32" if torch.backends.cudnn.allow_tf32 else "strict fp32"
        return (f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
                f"{torch.cuda.get_device_name(device)}, cuDNN convolutions in {tf32}")
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}"
