#!/usr/bin/env python3
"""A few Keras applications through tf2onnx and glimpse, as a new user would try them: random
weights (`weights=None`, logits: `classifier_activation=None`), tf2onnx at opset 17 (NHWC input;
tf2onnx transposes to NCHW before the first convolution), one seeded input uniform(-1, 1), then
the same steps as scripts/zoo.py: onnxruntime's logits, `glimpse predict`, `glimpse explain`
(EpsilonPlusFlat and the gradient). Writes docs/models_keras.md and docs/models_keras.json
after each application; a rerun skips those in the JSON unless named in --redo.

    pip install tensorflow-cpu tf2onnx     # TensorFlow 2.21, tf2onnx 1.17 here
    python3 scripts/zoo_keras.py [--redo MobileNetV3Small,VGG16]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import onnxruntime as ort
import tensorflow as tf
import tf2onnx

from zoo_common import ROOT, SEED, cpu_name, first_error, run

WORK = "/tmp/glimpse-zoo-keras"
APPS = {
    "MobileNetV2": 224, "MobileNetV3Small": 224, "ResNet50": 224, "EfficientNetB0": 224,
    "DenseNet121": 224, "VGG16": 224, "InceptionV3": 299, "Xception": 299, "ConvNeXtTiny": 224,
}


def try_app(glimpse, work, name, size):
    r = {"model": name, "size": size}
    tf.keras.utils.set_random_seed(SEED)
    m = getattr(tf.keras.applications, name)(weights=None, input_shape=(size, size, 3),
                                             classifier_activation=None)
    x = np.random.RandomState(SEED).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    onnx_path = os.path.join(work, f"{name}.onnx")
    x_path = os.path.join(work, f"{name}_x.npy")
    np.save(x_path, x)
    t = time.time()
    try:
        spec = (tf.TensorSpec((None, size, size, 3), tf.float32, name="input"),)
        tf2onnx.convert.from_keras(m, input_signature=spec, opset=17, output_path=onnx_path)
    except Exception as e:  # a converter failure is a result too
        r["export_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
        return r
    r["export_s"] = round(time.time() - t, 1)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {sess.get_inputs()[0].name: x})[0][0]
    r["max_abs_logit"] = float(np.abs(ref).max())
    r["keras_vs_onnxruntime"] = float(np.abs(m(x).numpy()[0] - ref).max() / np.abs(ref).max())
    code, out, err, secs = run([glimpse, "predict", "--json", "--batch", "1", "--model", onnx_path, x_path])
    if code != 0:
        r["loads"], r["error"] = False, first_error(err or out)
        return r
    r["loads"], r["predict_s"] = True, round(secs, 1)
    got = np.array(json.loads(out.splitlines()[0])["output"])
    r["logit_rel_err"] = float(np.abs(got - ref).max() / np.abs(ref).max())
    for key, args in [("lrp", ["--composite", "epsilon-plus-flat"]), ("gradient", ["--method", "gradient"])]:
        dest = os.path.join(work, f"{name}_{key}")
        code, out, err, secs = run([glimpse, "explain", "--overwrite", "--batch", "1", "--model", onnx_path,
                                    *args, "--out", dest, x_path])
        r[f"{key}_runs"], r[f"{key}_s"] = code == 0, round(secs, 1)
        if code != 0:
            r[f"{key}_error"] = first_error(err or out)
            continue
        with open(os.path.join(dest, "summary.jsonl")) as f:
            s = json.loads(f.readline())
        if key == "lrp":
            r["relevance_over_logit"] = s["relevance_sum"] / s["score"] if s["score"] else None
    return r


def table(rows, cpu):
    lines = [
        "# Keras applications through tf2onnx and glimpse",
        "",
        f"Measured by `scripts/zoo_keras.py` on {cpu}, glimpse on lavapipe: TensorFlow "
        f"{tf.__version__}, tf2onnx {tf2onnx.__version__} at opset 17, random weights, batch 1. "
        "Columns as in [models.md](models.md).",
        "",
    ]
    missing = [a for a in APPS if a not in {r["model"] for r in rows}]
    if missing:
        lines += ["Not measured yet: " + ", ".join(missing) + ".", ""]
    lines += [
        "| model | size | loads | Δlogit | LRP (s) | ΣR ÷ logit | gradient (s) | refused because |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        why = (r.get("export_error") or r.get("error") or r.get("lrp_error") or r.get("gradient_error")
               or "").replace("|", "\\|")
        ok = "export failed" if "export_error" in r else ("yes" if r.get("loads") else "no")
        rel = r.get("relevance_over_logit")
        lines.append(
            f"| {r['model']} | {r['size']} | {ok} | "
            + (f"{r['logit_rel_err']:.1e}" if "logit_rel_err" in r else "") + " | "
            + (f"{r['lrp_s']:.1f}" if r.get("lrp_runs") else ("fails" if "lrp_runs" in r else "")) + " | "
            + (f"{rel:.3f}" if rel is not None else "") + " | "
            + (f"{r['gradient_s']:.1f}" if r.get("gradient_runs") else ("fails" if "gradient_runs" in r else ""))
            + f" | {why} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redo", default="", help="comma-separated applications to measure again")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        # One application in its own process: a conversion that exhausts memory kills only it.
        os.makedirs(WORK, exist_ok=True)
        print(json.dumps(try_app(os.path.join(ROOT, "target/release/glimpse"), WORK, args.one, APPS[args.one])))
        return 0
    json_path = os.path.join(ROOT, "docs/models_keras.json")
    done = {}
    if os.path.exists(json_path):
        with open(json_path) as f:
            done = {r["model"]: r for r in json.load(f)["results"]}
    redo = set(filter(None, args.redo.split(",")))
    cpu = cpu_name()

    def write():
        rows = [done[a] for a in APPS if a in done]
        with open(json_path, "w") as f:
            json.dump({"cpu": cpu, "tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__,
                       "results": rows}, f, indent=1)
        with open(os.path.join(ROOT, "docs/models_keras.md"), "w") as f:
            f.write(table(rows, cpu))

    for name, size in APPS.items():
        if name in done and name not in redo:
            continue
        t = time.time()
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", name], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        lines = p.stdout.strip().splitlines()
        if p.returncode == 0 and lines:
            done[name] = json.loads(lines[-1])
        else:
            # glimpse runs as a child of that process: a kill here is TensorFlow's, tf2onnx's or onnxruntime's.
            last = [line for line in p.stderr.splitlines() if "Error" in line][-1:]
            why = ("was killed (SIGKILL: out of memory)" if p.returncode == -9
                   else f"ended with status {p.returncode}: " + (last[0][:300] if last else "no message"))
            done[name] = {"model": name, "size": size,
                          "export_error": f"the Python process (TensorFlow, tf2onnx, onnxruntime) {why}"}
        shutil.rmtree(WORK, ignore_errors=True)
        print(f"{name}: {json.dumps(done[name])} ({time.time() - t:.0f} s)", flush=True)
        write()
    write()
    print("wrote docs/models_keras.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
