"""How data-like prototypes are (the paper's point about experts and code space): experts are
fitted on the first 256 shipped MNIST test digits, a held-out density (a 10-component
diagonal GMM) on the other 256; prototypes of the ten digits by plain AM, AM with an under- and
an over-fitted expert, and AM in the VAE decoder's code space are scored by their mean log p
under the held-out density and their mean distance to the nearest held-out digit.

    python3 scripts/prototype_quality.py   # after `cargo build --release`; writes out/quality/
Needs numpy; runs ./target/release/glimpse.
"""
import json
import re
import subprocess
from pathlib import Path

import numpy as np

G = "./target/release/glimpse"
OUT = Path("out/quality")
DATA = "assets/data/mnist_test_x.npy"
TARGETS = sum([["--target", f"class:{k}"] for k in range(10)], [])


def run(*args):
    return subprocess.run([G, *args], check=True, capture_output=True, text=True).stdout


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    fit = {"low": "gmm-diag:1", "high": "gmm:10", "heldout": "gmm-diag:10"}
    for name, kind in fit.items():
        if (OUT / f"{name}.expert").exists():
            continue
        rows = ["--skip", "256"] if name == "heldout" else ["--rows", "256"]
        run("expert", "fit", "--force", "--kind", kind, "--data", DATA, *rows,
            "--out", str(OUT / f"{name}.expert"))
    am = [G, "interpret", "--overwrite", "--model", "assets/models/lenet_mnist.onnx", *TARGETS]
    s200 = ["--steps", "200"]
    runs = {
        "plain": s200,
        "expert_low": [*s200, "--l2", "0", "--expert", str(OUT / "low.expert"),
                       "--expert-weight", "0.002"],
        "expert_high": [*s200, "--l2", "0", "--expert", str(OUT / "high.expert"),
                        "--expert-weight", "0.0015"],
        "expert_high_strong": [*s200, "--l2", "0", "--expert", str(OUT / "high.expert"),
                               "--expert-weight", "0.1"],
        "code": ["--generator", "assets/models/mnist_generator.onnx", "--steps", "300"],
    }
    held = np.load(DATA)[256:].reshape(256, -1)
    report = {}
    for name, extra in runs.items():
        out = subprocess.run([*am, *extra, "--out", str(OUT / name)], check=True,
                             capture_output=True, text=True).stdout
        probs = [float(p) for p in re.findall(r" p ([0-9.]+)", out)]
        x = np.stack([np.load(OUT / name / f"class{k}.npy").reshape(-1) for k in range(10)])
        np.save(OUT / f"{name}_all.npy", x.reshape(10, 1, 28, 28).astype(np.float32))
        ev = run("expert", "eval", "--expert", str(OUT / "heldout.expert"), "--data",
                 str(OUT / f"{name}_all.npy"))
        logp = float(re.search(r"mean log p: (-?[0-9.]+(?:e[-+]?[0-9]+)?)", ev).group(1))
        nn = np.sqrt(((x[:, None, :] - held[None, :, :]) ** 2).sum(-1)).min(1).mean()
        report[name] = {"heldout_log_p": logp, "nearest_neighbour_l2": float(nn),
                        "min_p": min(probs), "p": probs}
        print(f"{name:20s} held-out log p {logp:10.1f}  nearest held-out digit {nn:6.2f}  "
              f"min p {min(probs):.4f}")
    (OUT / "quality.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
