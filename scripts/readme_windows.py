#!/usr/bin/env python3
"""Composes docs/sliding_windows.png from `make demo`'s out/lenet_windows_{3,8,1}: the strip of
three digits and LeNet's sliding-window LRP heatmap of it for the classes 3, 8 and 1 (windows
of 28 x 28 every 14 pixels, scores summed), each scaled up 4x without smoothing."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SCALE = 4
NAME = "mnist_strip_x.npy_0.png"


def labelled(img, label):
    img = img.convert("RGB").resize((img.width * SCALE, img.height * SCALE), Image.NEAREST)
    canvas = Image.new("RGB", (img.width, img.height + 16), "white")
    canvas.paste(img, (0, 16))
    ImageDraw.Draw(canvas).text((2, 2), label, fill="black")
    return canvas


def main():
    strip = np.load("assets/data/mnist_strip_x.npy")[0, 0]
    rows = [labelled(Image.fromarray((strip * 255).clip(0, 255).astype(np.uint8)), "input (28 x 84)")]
    for t in (3, 8, 1):
        rows.append(labelled(Image.open(Path(f"out/lenet_windows_{t}") / NAME), f"LRP for class {t}, windows summed"))
    sheet = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save("docs/sliding_windows.png")
    print("wrote docs/sliding_windows.png", sheet.size)


if __name__ == "__main__":
    main()
