#!/usr/bin/env python3
"""Composes docs/atlas_lite0.png from `make demo`'s out/atlas_lite0: the contact sheets of four
channels of EfficientNet-Lite0's _blocks.9._expand_conv (565, 645, 409, 2), stacked — each the
six most relevant of the 48 views in assets/images/atlas, cropped to what the heatmap from the
channel's peak neuron reaches, over that heatmap."""

from pathlib import Path

from PIL import Image

SHEETS = [Path(f"out/atlas_lite0/channel_{c:04}.png") for c in (565, 645, 409, 2)]


def main():
    sheets = [Image.open(p).convert("RGB") for p in SHEETS]
    out = Image.new("RGB", (max(s.width for s in sheets), sum(s.height for s in sheets)), "white")
    y = 0
    for s in sheets:
        out.paste(s, (0, y))
        y += s.height
    out.save("docs/atlas_lite0.png")
    print("wrote docs/atlas_lite0.png", out.size)


if __name__ == "__main__":
    main()
