#!/usr/bin/env python3
"""Composes docs/filtering_lenet.png from `make demo`'s out/lenet_concepts and
out/lenet_conditional: the digit's plain LRP heatmap and concept relevance at /conv2/Conv,
then the conditional heatmaps of its four most relevant channels (8, 4, 1, 13, the order the
concept chart gives), each scaled up 6x without smoothing."""

import json
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path("out")
NAME = "mnist_0_label3.png"
CHANNELS = [8, 4, 1, 13]
SCALE = 6


def tile(path, label):
    img = Image.open(path).convert("RGB")
    img = img.resize((img.width * SCALE, img.height * SCALE), Image.NEAREST)
    canvas = Image.new("RGB", (img.width, img.height + 18), "white")
    canvas.paste(img, (0, 18))
    ImageDraw.Draw(canvas).text((2, 2), label, fill="black")
    return canvas


def main():
    line = json.loads((OUT / "lenet_concepts/summary.jsonl").read_text().splitlines()[0])
    concepts = line["concepts"]["/conv2/Conv"]
    top = sorted(range(len(concepts)), key=lambda c: -concepts[c])[:4]
    assert top == CHANNELS, f"the most relevant channels are {top}; update the Makefile and CHANNELS"
    tiles = [tile(OUT / f"lenet_concepts/{NAME}.png", "LRP, class 3")]
    for j, c in enumerate(CHANNELS):
        tiles.append(tile(OUT / f"lenet_conditional/{NAME}_cond{j}.png", f"via /conv2/Conv:{c} ({concepts[c]:.2f})"))
    chart = Image.open(OUT / f"lenet_concepts/{NAME}_concepts_conv2_Conv.png").convert("RGB")
    width = sum(t.width for t in tiles)
    sheet = Image.new("RGB", (max(width, chart.width), tiles[0].height + chart.height), "white")
    x = 0
    for t in tiles:
        sheet.paste(t, (x, 0))
        x += t.width
    sheet.paste(chart, (0, tiles[0].height))
    sheet.save("docs/filtering_lenet.png")
    print("wrote docs/filtering_lenet.png", sheet.size)


if __name__ == "__main__":
    main()
