#!/usr/bin/env python3
"""assets/images/atlas/: 48 views of the four shipped 224 x 224 photographs (chelsea, coffee,
astronaut, rocket) — seeded random square crops covering 35-100 % of the side, half of them
mirrored, each resized back to 224 x 224 — so that `make demo`'s concept atlas of
EfficientNet-Lite0 has a small data set of varied parts to rank (docs/atlas_lite0.png)."""

import random
from pathlib import Path

from PIL import Image

PHOTOS = ["chelsea", "coffee", "astronaut", "rocket"]
OUT = Path("assets/images/atlas")


def main():
    rng = random.Random(0)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        photo = Image.open(f"assets/images/{name}_224.png").convert("RGB")
        for k in range(12):
            side = int(224 * rng.uniform(0.35, 1.0))
            x, y = rng.randint(0, 224 - side), rng.randint(0, 224 - side)
            view = photo.crop((x, y, x + side, y + side)).resize((224, 224), Image.BICUBIC)
            if k % 2:
                view = view.transpose(Image.FLIP_LEFT_RIGHT)
            view.save(OUT / f"{name}_{k:02}.jpg", quality=88)
    print("wrote", len(list(OUT.glob("*.jpg"))), "views to", OUT)


if __name__ == "__main__":
    main()
