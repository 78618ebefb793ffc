"""Writes the tiny NumPy fixtures in tests/data/npy/ read by src/io/npy.rs's tests.

Run from the repository root: python3 scripts/make_npy_fixtures.py
Every array holds small exact values so the Rust tests can compare them exactly.
"""

import os

import numpy as np
from numpy.lib import format as npformat

OUT = os.path.join("tests", "data", "npy")


def save(name, array, version=None):
    path = os.path.join(OUT, name)
    if version is None:
        np.save(path, array)
    else:
        with open(path, "wb") as f:
            npformat.write_array(f, array, version=version)


def main():
    os.makedirs(OUT, exist_ok=True)
    base = np.arange(6).reshape(2, 3)
    save("f4.npy", (base * 0.5 - 1).astype("<f4"))  # [-1, -0.5, 0, 0.5, 1, 1.5]
    save("f8.npy", (base * 0.25).astype("<f8"))  # [0, .25, .5, .75, 1, 1.25]
    save("f2.npy", (base - 2.5).astype("<f2"))  # [-2.5 .. 2.5]
    save("i8.npy", (base * 1000 - 2000).astype("<i8"))
    save("i4.npy", (base - 3).astype("<i4"))
    save("u1.npy", (base * 50).astype("|u1"))
    save("scalar.npy", np.array(7.25, dtype="<f4"))
    save("v2.npy", np.array([1.5, -2.0, 3.25], dtype="<f4"), version=(2, 0))
    save("v3.npy", np.array([1.5, -2.0, 3.25], dtype="<f4"), version=(3, 0))
    save("fortran.npy", np.asfortranarray(base.astype("<f4")))
    save("big_endian.npy", base.astype(">f4"))
    # A batch of two 1x2x2 items for src/io/inputs.rs.
    save("batch.npy", (np.arange(8).reshape(2, 1, 2, 2) / 8).astype("<f4"))


if __name__ == "__main__":
    main()
