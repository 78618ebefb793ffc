"""What scripts/zoo.py and scripts/zoo_keras.py share, with no framework imported (PyTorch and
TensorFlow each bring an LLVM, and the two cannot live in one process)."""

import os
import platform
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20261203


def first_error(text):
    """glimpse's first error line, without the list of supported operators."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    line = next((l for l in lines if l.startswith(("glimpse:", "error")) or "Error" in l),
                lines[-1] if lines else "no output")
    return line.split(". Supported:")[0][:300]


def run(cmd, timeout=900):
    t = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr, time.time() - t
    except subprocess.TimeoutExpired:
        return -1, "", f"timed out after {timeout} s", time.time() - t


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} cores)"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
