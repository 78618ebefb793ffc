#!/usr/bin/env python3
"""Composes docs/pooling_breast_cancer.png from `make demo`'s out/tabular_epsilon_plus: the
per-feature bar chart of the first held-out patient and the same relevance pooled per
measurement (groups: assets/data/breast_cancer_groups.json)."""

from pathlib import Path

from PIL import Image

OUT = Path("out/tabular_epsilon_plus")


def main():
    a = Image.open(OUT / "breast_cancer_x.npy_0.png").convert("RGB")
    b = Image.open(OUT / "breast_cancer_x.npy_0_pool.png").convert("RGB")
    sheet = Image.new("RGB", (a.width + b.width, max(a.height, b.height)), "white")
    sheet.paste(a, (0, 0))
    sheet.paste(b, (a.width, 0))
    sheet.save("docs/pooling_breast_cancer.png")
    print("wrote docs/pooling_breast_cancer.png", sheet.size)


if __name__ == "__main__":
    main()
