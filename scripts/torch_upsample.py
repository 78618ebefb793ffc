"""Writes tests/data/torch_upsample.json: reference values for src/render/upsample.rs.

Run from the repository root with PyTorch installed: python3 scripts/torch_upsample.py
Each case is a float32 map upsampled (or downsampled) with
F.interpolate(mode="bilinear", align_corners=False), as Captum and Grad-CAM do for CAMs.
"""

import json

import torch
import torch.nn.functional as F

OUT = "tests/data/torch_upsample.json"

CASES = [((3, 4), (7, 5)), ((5, 6), (2, 3)), ((2, 2), (4, 4)), ((1, 1), (3, 2)),
         ((4, 4), (4, 4)), ((3, 5), (3, 10)), ((7, 7), (32, 32)), ((6, 1), (4, 3))]


def main():
    g = torch.Generator().manual_seed(0)
    cases = []
    for (h, w), (oh, ow) in CASES:
        x = torch.randn(h, w, generator=g, dtype=torch.float32)
        y = F.interpolate(x[None, None], size=(oh, ow), mode="bilinear", align_corners=False)[0, 0]
        cases.append({"input": x.tolist(), "size": [oh, ow], "output": y.tolist()})
    with open(OUT, "w") as f:
        json.dump({"torch_version": torch.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
