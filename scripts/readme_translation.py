#!/usr/bin/env python3
"""Composes docs/translation_trick.png from what `make demo` wrote to out/: EfficientNet-Lite0's
EpsilonPlusFlat heatmaps of the photographs, plain and with `--translate 2` and `--translate 3`,
and prints how much of each map's power sits at the stride-2 grid's frequencies (the
checkerboard of the first convolution's stride; ±2 bins around (π, 0), (0, π), (π, π))."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

OUT = Path("out")
PHOTOS = ["chelsea", "coffee", "astronaut", "rocket"]
ROWS = [("plain", "photos_epsilon_plus_flat"), ("--translate 2", "photos_epsilon_plus_flat_translate2"),
        ("--translate 3", "photos_epsilon_plus_flat_translate3")]
CELL = 224


def grid_share(r):
    power = np.abs(np.fft.fft2(r)) ** 2
    h, w = r.shape
    mask = np.zeros_like(power, bool)
    for a, b in [(h // 2, 0), (0, w // 2), (h // 2, w // 2)]:
        for da in range(-2, 3):
            for db in range(-2, 3):
                mask[(a + da) % h, (b + db) % w] = True
    return power[mask].sum() / power.sum()


def main():
    label_w = 120
    sheet = Image.new("RGB", (label_w + CELL * len(PHOTOS), CELL * len(ROWS)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, folder) in enumerate(ROWS):
        shares = []
        for c, name in enumerate(PHOTOS):
            tile = Image.open(OUT / folder / f"{name}_224.png.png").convert("RGB").resize((CELL - 4, CELL - 4))
            sheet.paste(tile, (label_w + c * CELL + 2, r * CELL + 2))
            shares.append(grid_share(np.load(OUT / folder / f"{name}_224.png.npy").sum(0)))
        draw.multiline_text((6, r * CELL + CELL // 2 - 12), label, fill="black")
        print(f"{label:14s} power at the stride-2 grid: " + ", ".join(f"{s:.2%}" for s in shares))
    sheet.save("docs/translation_trick.png")
    print("wrote docs/translation_trick.png", sheet.size)


if __name__ == "__main__":
    main()
