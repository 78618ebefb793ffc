"""Writes tests/data/zennit_palettes.json: reference values from Zennit for src/render/.

Run from the repository root with Zennit installed: python3 scripts/zennit_palettes.py

Contents:
- "palettes": the 256-entry RGB palette (level 1.0) of every built-in colour map in
  zennit.image.CMAPS;
- "levels": palettes of a few maps at other levels;
- "sources": palettes compiled from extra colour-map-language sources, and sources that
  Zennit refuses ("invalid");
- "imgify": a small float32 map rendered by zennit.image.imgify, symmetric and not.
"""

import json

import numpy as np
import zennit
import zennit.image
from zennit.cmap import ColorMap
from zennit.image import CMAPS, imgify, palette

# Recent Pillow rejects the numpy palette imgify hands to putpalette; give it the same
# palette as bytes so imgify itself runs unchanged.
zennit.image.palette = lambda cmap="bwr", level=1.0: palette(cmap, level).tobytes()

OUT = "tests/data/zennit_palettes.json"

SOURCES = [
    "123456,30:abc,def,fedcba,e0:000",
    "f00,0f0,00f,fff",
    "10:f00,c:0f0,ff:00f",
    "00:abcdef, 7f:012345 ,80:fff, ff:000",
    "f00,40:0f0,40:00f,fff",
    "fff,000,fff,000,fff,000,fff,000,fff,000,fff",
    "f00,0f0,",
    "f00,80 : 0f0",
    "0:f00,fff",
    "ff:f00,0f0",
    "12:f00,0f0,00f,e0:fff",
]

INVALID = [
    "f00",
    "",
    "80:f00,40:0f0",
    "f00,,0f0",
    "xyz,000",
    "f00:0f0",
    "80:",
    "8:,fff",
    ",f00,0f0",
    "f00 0f0",
    "1234,fff",
    "f00,80:0f0,40:00f",
]


def rows(p):
    return [[int(v) for v in row] for row in p]


def main():
    out = {}
    out["palettes"] = {name: rows(palette(name, 1.0)) for name in CMAPS}
    out["levels"] = [
        {"cmap": name, "level": level, "palette": rows(palette(name, level))}
        for name, level in [("bwr", 0.5), ("bwr", 2.0), ("coldnhot", 0.75), ("hot", 1.5)]
    ]
    out["sources"] = [{"source": s, "palette": rows(ColorMap(s).palette())} for s in SOURCES]
    invalid = []
    for s in INVALID:
        try:
            ColorMap(s)
        except RuntimeError:
            invalid.append(s)
        else:
            raise AssertionError(f"Zennit accepted {s!r}")
    out["invalid"] = invalid

    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((4, 5)) * 3).astype(np.float32)
    arr[0, 0] = 0.0
    out["imgify"] = {
        "input": arr.tolist(),
        "symmetric_coldnhot": np.asarray(imgify(arr, symmetric=True, cmap="coldnhot").convert("RGB")).tolist(),
        "minmax_hot": np.asarray(imgify(arr, symmetric=False, cmap="hot").convert("RGB")).tolist(),
        "abs_symmetric_bwr": np.asarray(imgify(np.abs(arr), symmetric=True, cmap="bwr").convert("RGB")).tolist(),
    }
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
