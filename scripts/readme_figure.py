"""Composes docs/heatmaps.png for the README from the heatmaps `make demo` wrote to out/.

Run after `make demo`: python3 scripts/readme_figure.py (needs Pillow).
Blocks: the photographs (EfficientNet-Lite0, ImageNet), the digits (LeNet) and the
Fashion-MNIST items (residual net). Rows: input, then one row per explanation folder;
columns: the shipped images; photographs are captioned with the predicted class.
"""
import json
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path("out")
CELL = 84
PHOTO_CELL = 168
ROWS_P = [
    ("input", None),
    ("LRP EpsilonGammaBox\n(EfficientNet-Lite0)", "photos_epsilon_gamma_box"),
    ("LRP EpsilonPlusFlat\n(EfficientNet-Lite0)", "photos_epsilon_plus_flat"),
    ("Grad-CAM, conv_head\n(overlay)", "photos_grad_cam:_overlay"),
]
ROWS = [
    ("input", None),
    ("LRP EpsilonPlusFlat\n(LeNet)", "lenet_epsilon_plus_flat"),
    ("Deep Taylor, bounded\n(LeNet)", "lenet_deep_taylor_bounded"),
    ("Integrated gradients\n(LeNet)", "lenet_integrated_gradients"),
]
ROWS_F = [
    ("input", None),
    ("LRP EpsilonGammaBox\n(ResNet)", "resnet_epsilon_gamma_box"),
    ("LRP EpsilonAlpha2Beta1Flat\n(ResNet)", "resnet_epsilon_alpha2_beta1_flat"),
    ("Grad-CAM, block2.conv2\n(ResNet, overlay)", "resnet_grad_cam:_overlay"),
]


def predicted_names(folder):
    """Input file name → predicted class name, from an explain summary."""
    lines = (OUT / folder / "summary.jsonl").read_text().splitlines()
    return {d["input"]: d.get("name", str(d["class"])) for d in map(json.loads, lines)}


def block(images, rows, cell=CELL, captions=None):
    label_w = 170
    top = 16 if captions else 0
    sheet = Image.new("RGB", (label_w + cell * len(images), top + cell * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, img in enumerate(images):
        if captions:
            draw.text((label_w + c * cell + 4, 2), captions[img.name], fill="black")
    for r, (label, folder) in enumerate(rows):
        draw.multiline_text((6, top + r * cell + cell // 2 - 12), label, fill="black")
        for c, img in enumerate(images):
            if folder is None:
                path = img
            else:
                name, _, suffix = folder.partition(":")
                # Outputs keep the input's extension: chelsea_224.png → chelsea_224.png_overlay.png.
                path = OUT / name / (img.name + suffix + ".png")
            resample = Image.LANCZOS if cell == PHOTO_CELL else Image.NEAREST
            tile = Image.open(path).convert("RGB").resize((cell - 4, cell - 4), resample)
            sheet.paste(tile, (label_w + c * cell + 2, top + r * cell + 2))
    return sheet


def main():
    mnist = sorted(Path("assets/images").glob("mnist_*.png"))
    fashion = sorted(Path("assets/images").glob("fashion_*.png"))
    photos = [Path(f"assets/images/{n}_224.png") for n in ["chelsea", "coffee", "astronaut", "rocket"]]
    names = predicted_names("photos_epsilon_gamma_box")
    blocks = [block(photos, ROWS_P, PHOTO_CELL, names), block(mnist, ROWS), block(fashion, ROWS_F)]
    width = max(b.width for b in blocks)
    sheet = Image.new("RGB", (width, sum(b.height + 10 for b in blocks) - 10), "white")
    y = 0
    for b in blocks:
        sheet.paste(b, (0, y))
        y += b.height + 10
    Path("docs").mkdir(exist_ok=True)
    sheet.save("docs/heatmaps.png")
    print("wrote docs/heatmaps.png", sheet.size)


if __name__ == "__main__":
    main()
