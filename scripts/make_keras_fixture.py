#!/usr/bin/env python3
"""A small Keras CNN through tf2onnx, as a TensorFlow user brings a model: channels-last input
(tf2onnx transposes it to NCHW before the first convolution), Conv2D with BatchNormalization,
DepthwiseConv2D with Keras' hard swish (`x · relu6(x + 3) · ⅙` as in keras.applications'
MobileNetV3: Add, Clip, Mul, Mul), a squeeze-excitation gate (GlobalAveragePooling2D as a
channels-last ReduceMean, Dense, sigmoid, Multiply), a residual Add, GlobalAveragePooling2D and
Dense logits.

Writes assets/models/keras_cnn.onnx (tf2onnx, opset 17), assets/data/keras_x.npy (4, 32, 32, 3)
uniform(-1, 1) and assets/reference/keras_cnn_logits.npy (onnxruntime, optimisations off), and
checks Keras' own logits against onnxruntime's. Needs TensorFlow and tf2onnx only (no PyTorch:
the two frameworks' LLVMs cannot share a process).

    pip install tensorflow-cpu tf2onnx && python3 scripts/make_keras_fixture.py
"""

import os

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import onnxruntime as ort
import tensorflow as tf
import tf2onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
L = tf.keras.layers


def hard_swish(x):
    """keras.applications.mobilenet_v3's hard_swish."""
    return L.Multiply()([x, L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)])


def build():
    tf.keras.utils.set_random_seed(20261203)
    x_in = tf.keras.Input((32, 32, 3), name="input")
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x_in)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    y = L.DepthwiseConv2D(3, padding="same")(x)
    y = hard_swish(y)
    s = L.GlobalAveragePooling2D(keepdims=True)(y)
    s = L.Dense(4, activation="relu")(s)
    s = L.Dense(8, activation="sigmoid")(s)
    y = L.Multiply()([y, s])
    x = L.Add()([x, y])
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(10)(x)
    m = tf.keras.Model(x_in, out)
    # Random BatchNorm statistics, so that the normalisation does something.
    bn = m.layers[2]
    bn.set_weights([w + np.random.RandomState(1).uniform(0.2, 0.8, w.shape).astype(np.float32)
                    for w in bn.get_weights()])
    return m


def main():
    m = build()
    x = np.random.RandomState(20261203).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    onnx_path = os.path.join(ROOT, "assets/models/keras_cnn.onnx")
    spec = (tf.TensorSpec((None, 32, 32, 3), tf.float32, name="input"),)
    tf2onnx.convert.from_keras(m, input_signature=spec, opset=17, output_path=onnx_path)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    keras = m(x).numpy()
    print(f"Keras vs onnxruntime: {np.abs(keras - ref).max():.2e} of max |logit| {np.abs(ref).max():.3f}")
    assert np.abs(keras - ref).max() < 1e-5 * max(1.0, float(np.abs(ref).max()))
    np.save(os.path.join(ROOT, "assets/data/keras_x.npy"), x)
    np.save(os.path.join(ROOT, "assets/reference/keras_cnn_logits.npy"), ref)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} B), keras_x.npy, keras_cnn_logits.npy")


if __name__ == "__main__":
    main()
