"""Composes docs/heatmaps.png for the README from the heatmaps `make demo` wrote to out/.

Run after `make demo`: python3 scripts/readme_figure.py (needs Pillow).
Rows: input, then one row per explanation folder; columns: the shipped test images.
"""
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path("out")
CELL = 84
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


def block(images, rows):
    label_w = 170
    sheet = Image.new("RGB", (label_w + CELL * len(images), CELL * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, folder) in enumerate(rows):
        draw.multiline_text((6, r * CELL + CELL // 2 - 12), label, fill="black")
        for c, img in enumerate(images):
            if folder is None:
                path = img
            else:
                name, _, suffix = folder.partition(":")
                path = OUT / name / (img.stem + suffix + img.suffix)
            tile = Image.open(path).convert("RGB").resize((CELL - 4, CELL - 4), Image.NEAREST)
            sheet.paste(tile, (label_w + c * CELL + 2, r * CELL + 2))
    return sheet


def main():
    mnist = sorted(Path("assets/images").glob("mnist_*.png"))
    fashion = sorted(Path("assets/images").glob("fashion_*.png"))
    a, b = block(mnist, ROWS), block(fashion, ROWS_F)
    sheet = Image.new("RGB", (max(a.width, b.width), a.height + b.height + 10), "white")
    sheet.paste(a, (0, 0))
    sheet.paste(b, (0, a.height + 10))
    Path("docs").mkdir(exist_ok=True)
    sheet.save("docs/heatmaps.png")
    print("wrote docs/heatmaps.png", sheet.size)


if __name__ == "__main__":
    main()
