#!/usr/bin/env python3
"""assets/data/mnist_strip_x.npy: the first three shipped test digits (a 3, an 8 and a 1) side by
side, [1, 1, 28, 84], for sliding LeNet's 28 x 28 window over an input three times its width
(`make demo`'s lenet_windows_* runs, docs/sliding_windows.png)."""

import numpy as np

x = np.load("assets/data/mnist_test_x.npy")
strip = np.concatenate([x[0, 0], x[1, 0], x[2, 0]], axis=1)[None, None].astype(np.float32)
np.save("assets/data/mnist_strip_x.npy", strip)
print("wrote assets/data/mnist_strip_x.npy", strip.shape)
