"""Composes docs/prototypes.png for the README from the prototype grids `make demo` wrote to
out/ (each folder's grid.png, one row per folder, with its label on the left).

Run after `make demo`: python3 scripts/readme_prototypes.py (needs Pillow).
"""
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path("out")
ROWS = [
    ("plain AM\n(L2 weight 1e-3)", "prototypes_plain"),
    ("expert: diagonal Gaussian,\nweight 0.002 (under-fitted)", "prototypes_expert_low"),
    ("expert: 10-component\nfull GMM, weight 0.0015", "prototypes_expert_high"),
    ("same GMM, weight 0.1\n(over-fitted: data, not class)", "prototypes_expert_high_strong"),
    ("code space\n(VAE decoder)", "prototypes_code"),
    ("EfficientNet-Lite0: macaw,\nlion, Granny Smith, channel\n10 of block 9 (Fourier basis,\njitter, scale, 96 steps)", "prototypes_lite0"),
    ("the same channel, three\ncopies pushed apart by\nLucid's diversity term\n(Gram cosines, block 6)", "prototypes_lite0_diversity"),
]
LABEL = 230


def main():
    rows = [(label, Image.open(OUT / d / "grid.png").convert("RGB"))
            for label, d in ROWS if (OUT / d / "grid.png").exists()]
    width = LABEL + max(img.width for _, img in rows)
    height = sum(img.height for _, img in rows)
    fig = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(fig)
    y = 0
    for label, img in rows:
        fig.paste(img, (LABEL, y))
        draw.multiline_text((6, y + img.height // 2 - 14), label, fill="black")
        y += img.height
    Path("docs").mkdir(exist_ok=True)
    fig.save("docs/prototypes.png")
    print(f"wrote docs/prototypes.png ({width}x{height})")


if __name__ == "__main__":
    main()
