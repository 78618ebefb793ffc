"""PyTorch definitions of the fixture models shipped in assets/models/.

Shared by make_fixtures.py (training + ONNX export) and the golden scripts
(golden_zennit.py, golden_captum.py), which rebuild the PyTorch modules from
the ONNX initializers so that the goldens are computed on exactly the shipped
weights.

Every ReLU is its own nn.ReLU module (never reused, never functional) because
Captum's GuidedBackprop / Deconvolution / DeepLift and Zennit's rules hook
nn.Module instances.  Module registration order matters for Zennit's
SequentialMergeBatchNorm canonizer (it merges a BatchNorm into the linear
layer registered immediately before it), so every conv is registered directly
before its BatchNorm, and the deliberately unfoldable BatchNorm `bn_final` is
registered after the ReLU `relu_out` of the last block.
"""

import numpy as np
import torch
import torch.nn as nn


class LeNet(nn.Module):
    """Conv(1->6,5x5,pad2)-ReLU-MaxPool2-Conv(6->16,5x5)-ReLU-MaxPool2-Flatten-
    Gemm(400->120)-ReLU-Gemm(120->84)-ReLU-Gemm(84->10)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(400, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu3(self.fc1(x))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    """Identity residual block: conv1-bn1-relu1-conv2-bn2, + x, relu_out."""

    def __init__(self, ch):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.relu_out = nn.ReLU()

    def residual(self, x):
        return self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))

    def add(self, a, b):
        # With a zennit.layer.Sum attached as `self.sum` (see attach_zennit_sum) the
        # residual addition is expressed as Sum(stack([a, b], -1)) so that Zennit's
        # Norm rule applies to it; numerically identical to a + b.
        if "sum" in self._modules:
            return self.sum(torch.stack([a, b], dim=-1))
        return a + b

    def forward(self, x):
        return self.relu_out(self.add(self.residual(x), x))


class DownBlock(nn.Module):
    """Downsampling block: conv1(s2)-bn1-relu1-conv2-bn2; skip conv1x1(s2)-bn; add; relu_out."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip_conv = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.skip_bn = nn.BatchNorm2d(cout)
        self.relu_out = nn.ReLU()

    def residual(self, x):
        return self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))

    def shortcut(self, x):
        return self.skip_bn(self.skip_conv(x))

    def add(self, a, b):
        # With a zennit.layer.Sum attached as `self.sum` (see attach_zennit_sum) the
        # residual addition is expressed as Sum(stack([a, b], -1)) so that Zennit's
        # Norm rule applies to it; numerically identical to a + b.
        if "sum" in self._modules:
            return self.sum(torch.stack([a, b], dim=-1))
        return a + b

    def forward(self, x):
        return self.relu_out(self.add(self.residual(x), self.shortcut(x)))


class ResNetFashion(nn.Module):
    """stem conv3x3(1->16)+BN+ReLU; BasicBlock(16); AvgPool2d(2) (28->14);
    DownBlock(16->32) (14->7); BatchNorm2d(32) after the block's ReLU
    (unfoldable); AdaptiveAvgPool2d(1) (-> ONNX GlobalAveragePool); Flatten;
    Linear(32->10)."""

    def __init__(self):
        super().__init__()
        self.stem_conv = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        self.stem_relu = nn.ReLU()
        self.block1 = BasicBlock(16)
        self.pool = nn.AvgPool2d(2)
        self.block2 = DownBlock(16, 32)
        self.bn_final = nn.BatchNorm2d(32)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.stem_relu(self.stem_bn(self.stem_conv(x)))
        x = self.block1(x)
        x = self.pool(x)
        x = self.block2(x)
        x = self.bn_final(x)
        x = self.flatten(self.gap(x))
        return self.fc(x)


def attach_zennit_sum(model):
    """Give both residual blocks of a ResNetFashion a zennit.layer.Sum child
    (registered last in each block, after relu_out, so it does not disturb
    SequentialMergeBatchNorm's adjacency scan). Returns the model."""
    from zennit.layer import Sum
    model.block1.sum = Sum(dim=-1)
    model.block2.sum = Sum(dim=-1)
    return model


# ---------------------------------------------------------------------------
# BN folding (used for resnet_fashion_folded.onnx)
# ---------------------------------------------------------------------------

def fold_conv_bn(conv, bn):
    """Return a new Conv2d (with bias) equal to bn(conv(x)) in eval mode."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    return fuse_conv_bn_eval(conv.eval(), bn.eval())


class FoldedBasicBlock(nn.Module):
    def __init__(self, blk):
        super().__init__()
        self.conv1 = fold_conv_bn(blk.conv1, blk.bn1)
        self.relu1 = nn.ReLU()
        self.conv2 = fold_conv_bn(blk.conv2, blk.bn2)
        self.relu_out = nn.ReLU()

    def forward(self, x):
        return self.relu_out(self.conv2(self.relu1(self.conv1(x))) + x)


class FoldedDownBlock(nn.Module):
    def __init__(self, blk):
        super().__init__()
        self.conv1 = fold_conv_bn(blk.conv1, blk.bn1)
        self.relu1 = nn.ReLU()
        self.conv2 = fold_conv_bn(blk.conv2, blk.bn2)
        self.skip_conv = fold_conv_bn(blk.skip_conv, blk.skip_bn)
        self.relu_out = nn.ReLU()

    def forward(self, x):
        return self.relu_out(self.conv2(self.relu1(self.conv1(x))) + self.skip_conv(x))


class FoldedResNetFashion(nn.Module):
    def __init__(self, m):
        super().__init__()
        m = m.eval()
        self.stem_conv = fold_conv_bn(m.stem_conv, m.stem_bn)
        self.stem_relu = nn.ReLU()
        self.block1 = FoldedBasicBlock(m.block1)
        self.pool = nn.AvgPool2d(2)
        self.block2 = FoldedDownBlock(m.block2)
        import copy
        self.bn_final = copy.deepcopy(m.bn_final)  # not adjacent to a conv: stays
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = copy.deepcopy(m.fc)

    def forward(self, x):
        x = self.stem_relu(self.stem_conv(x))
        x = self.block1(x)
        x = self.pool(x)
        x = self.block2(x)
        x = self.bn_final(x)
        return self.fc(self.flatten(self.gap(x)))


# ---------------------------------------------------------------------------
# Rebuilding the PyTorch modules from the shipped ONNX files
# ---------------------------------------------------------------------------

def onnx_initializers(path):
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    return {i.name: numpy_helper.to_array(i).copy() for i in model.graph.initializer}


def load_from_onnx(module, path):
    """Copy every parameter/buffer of `module` from the ONNX initializer of the
    same name (the legacy TorchScript exporter keeps state_dict names).
    Raises if anything is missing or mis-shaped."""
    inits = onnx_initializers(path)
    sd = module.state_dict()
    new = {}
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            new[k] = v
            continue
        if k not in inits:
            raise KeyError(f"{k} not found among ONNX initializers of {path}: {sorted(inits)}")
        arr = torch.from_numpy(inits[k])
        if tuple(arr.shape) != tuple(v.shape):
            raise ValueError(f"shape mismatch for {k}: {arr.shape} vs {v.shape}")
        new[k] = arr.to(v.dtype)
    module.load_state_dict(new)
    return module.eval()


def lenet_from_onnx(path):
    return load_from_onnx(LeNet(), path)


def resnet_from_onnx(path):
    """ResNetFashion with the weights of the UNFOLDED export (resnet_fashion.onnx)."""
    return load_from_onnx(ResNetFashion(), path)


def ort_run(path, x):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]
