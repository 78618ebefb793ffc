#!/usr/bin/env python3
"""Gradient / DeepLift / CAM goldens from Captum and pytorch-grad-cam.

Writes assets/golden/captum_*.npy, gradcam_*.npy, smoothgrad_noise.npy
(+ entries in assets/golden/manifest.json). See assets/golden/README.md.

Each golden is cross-checked against an explicit re-implementation of the
documented formula (asserted to 1e-6 of the map's max |value|).
"""

import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import golden_common as gc

import captum
from captum.attr import (DeepLift, Deconvolution, GuidedBackprop, InputXGradient, IntegratedGradients,
                         LayerGradCam, NoiseTunnel, Saliency)
from captum.attr._utils.approximation_methods import approximation_parameters

import cv2
import pytorch_grad_cam
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

DTYPE = torch.float64
IG_STEPS = 64
SG_SAMPLES = 16
SG_SIGMA = 0.15
SG_SEED = 1234

# CAM layers: (module path, ONNX node whose output is the hooked activation, shape note)
CAM_LAYERS = {
    "lenet_mnist": [("conv2", {"lenet_mnist.onnx": "/conv2/Conv"},
                     "output of the last Conv (pre-ReLU), (N,16,10,10)")],
    "resnet_fashion": [
        ("block2.conv2", {"resnet_fashion.onnx": "/block2/conv2/Conv (pre-BatchNorm; this tensor does not exist in "
                                                  "resnet_fashion_folded.onnx, where the conv already includes bn2)"},
         "output of the last Conv of the residual branch before its BatchNorm, (N,32,7,7)"),
        ("bn_final", {"resnet_fashion.onnx": "/bn_final/BatchNormalization",
                      "resnet_fashion_folded.onnx": "/bn_final/BatchNormalization"},
         "final feature map = input of GlobalAveragePool, (N,32,7,7)"),
    ],
}


def get_module(model, path):
    m = model
    for part in path.split("."):
        m = getattr(m, part)
    return m


def per_item_rel(a, b):
    a = torch.as_tensor(np.asarray(a), dtype=torch.float64)
    b = torch.as_tensor(np.asarray(b), dtype=torch.float64)
    return [float((a[i] - b[i]).abs().max() / a[i].abs().max().clamp(min=1e-30)) for i in range(a.shape[0])]


def check(name, got, ref, tol=1e-6):
    got = torch.as_tensor(np.asarray(got), dtype=torch.float64)
    ref = torch.as_tensor(np.asarray(ref), dtype=torch.float64)
    err = float((got - ref).abs().max() / got.abs().max().clamp(min=1e-30))
    assert err < tol, (name, err)
    return err


# ---------------------------------------------------------------------------
# explicit re-implementations
# ---------------------------------------------------------------------------

def grad_of_target(model, x, targets):
    x = x.clone().requires_grad_(True)
    out = model(x)
    sel = out[torch.arange(x.shape[0]), targets].sum()
    return torch.autograd.grad(sel, x)[0]


class _DLReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, r):
        ctx.save_for_backward(x, r)
        return F.relu(x)

    @staticmethod
    def backward(ctx, g):
        x, r = ctx.saved_tensors
        d = x - r
        m = torch.where(d.abs() < 1e-10, (x > 0).to(x), (F.relu(x) - F.relu(r)) / torch.where(d == 0, 1, d))
        return g * m, None


class _DLMaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, r, k):
        y, ix = F.max_pool2d(x, k, return_indices=True)
        yr, ir = F.max_pool2d(r, k, return_indices=True)
        ctx.save_for_backward(x, r, y, yr, ix, ir)
        ctx.k = k
        return y

    @staticmethod
    def backward(ctx, g):
        x, r, y, yr, ix, ir = ctx.saved_tensors
        k = ctx.k
        ymax = torch.max(y, yr)
        num = (F.max_unpool2d(g * (ymax - yr), ix, k, output_size=x.shape[-2:])
               + F.max_unpool2d(g * (y - ymax), ir, k, output_size=x.shape[-2:]))
        d = x - r
        plain = F.max_unpool2d(g, ix, k, output_size=x.shape[-2:])
        return torch.where(d.abs() < 1e-10, plain, num / torch.where(d == 0, 1, d)), None, None


def deeplift_ref(model, x, targets, maxpool_rule=False):
    """DeepLift-Rescale with zero baseline, explicit: run the baseline, then the input with
    ReLU (and, if maxpool_rule, MaxPool2d) replaced by functions whose backward uses the
    DeepLift multipliers.  maxpool_rule=False is what captum actually computes on LeNet:
    its MaxPool2d multiplier is overwritten because the MaxPool's input tensor is the
    preceding nn.ReLU's output, on which captum registered the ReLU's grad_output-capturing
    tensor hook first (it stores the unmodified gradient and uses it for the ReLU multiplier)."""
    base = torch.zeros_like(x)
    ref_in = {}
    hs = [m.register_forward_hook(lambda mod, i, o: ref_in.__setitem__(mod, i[0].detach()))
          for m in model.modules() if isinstance(m, (nn.ReLU, nn.MaxPool2d))]
    with torch.no_grad():
        model(base)
    for h in hs:
        h.remove()

    def swap(mod, i, o):
        if isinstance(mod, nn.ReLU):
            return _DLReLU.apply(i[0], ref_in[mod])
        if maxpool_rule:
            return _DLMaxPool.apply(i[0], ref_in[mod], mod.kernel_size)
        return None  # MaxPool2d: ordinary gradient (switches of the actual input)

    hs = [m.register_forward_hook(swap) for m in ref_in]
    try:
        g = grad_of_target(model, x, targets)
    finally:
        for h in hs:
            h.remove()
    return (x - base) * g


def guided_ref(model, x, targets, deconv):
    def hook(mod, gin, gout):
        return (F.relu(gout[0]),) if deconv else (F.relu(gin[0]),)
    hs = [m.register_full_backward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        return grad_of_target(model, x, targets)
    finally:
        for h in hs:
            h.remove()


def layer_act_grad(model, layer, x, targets):
    store = {}

    def fh(mod, i, o):
        store["a"] = o
        o.register_hook(lambda g: store.__setitem__("g", g))
    h = layer.register_forward_hook(fh)
    try:
        xx = x.clone().requires_grad_(True)
        out = model(xx)
        out[torch.arange(x.shape[0]), targets].sum().backward()
    finally:
        h.remove()
    return store["a"].detach(), store["g"].detach()


def minmax(img):
    img = img - img.min()
    return img / (1e-7 + img.max())


# ---------------------------------------------------------------------------

def main():
    t0 = time.time()
    gc.setup()
    man = gc.Manifest("scripts/golden_captum.py")

    # SmoothGrad noise, shared by both models (both take (8,1,28,28) inputs)
    rng = np.random.default_rng(SG_SEED)
    noise = (rng.standard_normal((SG_SAMPLES, gc.N_GOLD, 1, 28, 28)) * SG_SIGMA).astype(np.float32)
    noise_entry = man.save_array(
        "smoothgrad_noise.npy", noise, kind="input noise for SmoothGrad",
        generator=f"numpy.random.default_rng({SG_SEED}).standard_normal((16,8,1,28,28)) * {SG_SIGMA}, cast to float32",
        sigma=SG_SIGMA, note="noise[s, i] is added to input i for sample s; the same noise is used for both models")
    del noise_entry

    ig_params = {}
    for method in ("riemann_trapezoid", "riemann_middle"):
        step_sizes, alphas = approximation_parameters(method)
        ig_params[method] = {"alphas": [float(a) for a in alphas(IG_STEPS)],
                             "step_sizes": [float(s) for s in step_sizes(IG_STEPS)]}

    for mname in ("lenet_mnist", "resnet_fashion"):
        print(f"[{mname}]")
        model, x, targets, info = gc.load_case(mname, DTYPE)
        model32, x32, _, _ = gc.load_case(mname, torch.float32)
        relus = [n for n, m in model.named_modules() if isinstance(m, nn.ReLU)]
        info["relu_modules"] = relus
        common = dict(info)
        common.update({"library": f"captum {captum.__version__}", "torch": torch.__version__,
                       "computed_in": "float64 (stored as float32)", "baseline": "zeros (where applicable)"})

        def run(fn):
            a64 = fn(model, x)
            a32 = fn(model32, x32)
            return a64, per_item_rel(a64, a32)

        def save(rel, arr, cond, **fields):
            f = dict(common)
            f.update(fields)
            f["float32_vs_float64_rel_diff_per_item"] = cond
            f["well_conditioned"] = max(cond) < 1e-5
            man.save_array(rel, arr, **f)
            print(f"    {rel}: max={float(np.abs(np.asarray(arr)).max()):.4g} f32-vs-f64 max={max(cond):.1e}")

        t = targets
        # --- Saliency
        a, cond = run(lambda m, xx: Saliency(m).attribute(xx, target=t, abs=True).detach())
        check("saliency", a, grad_of_target(model, x, t).abs())
        save(f"captum_{mname}_saliency.npy", a, cond, method="Saliency(abs=True)",
             formula="|d logit_target / d x|")
        # --- InputXGradient
        a, cond = run(lambda m, xx: InputXGradient(m).attribute(xx, target=t).detach())
        check("ixg", a, x * grad_of_target(model, x, t))
        save(f"captum_{mname}_input_x_gradient.npy", a, cond, method="InputXGradient",
             formula="x * d logit_target / d x")
        # --- Integrated gradients
        for method, short in (("riemann_trapezoid", "trapezoid"), ("riemann_middle", "middle")):
            a, cond = run(lambda m, xx: IntegratedGradients(m).attribute(
                xx, baselines=torch.zeros_like(xx), target=t, n_steps=IG_STEPS, method=method).detach())
            al, st = ig_params[method]["alphas"], ig_params[method]["step_sizes"]
            ref = sum(s * grad_of_target(model, al_ * x, t) for al_, s in zip(al, st)) * x
            check("ig", a, ref)
            save(f"captum_{mname}_ig_{short}.npy", a, cond,
                 method=f"IntegratedGradients(n_steps={IG_STEPS}, method='{method}', baselines=0)",
                 formula="x * sum_k step_sizes[k] * grad(alphas[k] * x)  (baseline 0)",
                 alphas=ig_params[method]["alphas"], step_sizes=ig_params[method]["step_sizes"],
                 note=("captum's riemann_trapezoid uses alphas = torch.linspace(0,1,n) (float32, then .tolist()) "
                       "and step sizes 1/n with the first and last halved: they sum to 1-1/n, not 1"
                       if short == "trapezoid" else
                       "alphas = torch.linspace(1/(2n), 1-1/(2n), n) (float32 values), step sizes 1/n"))
        # --- DeepLift
        def dl_per_item(m, xx):
            # one input per call: captum's MaxPool DeepLift handler reads grad_input[0] (batch item 0) where
            # |x - r| < eps, which makes batched results depend on item 0; with batch size 1 that is the item itself
            return torch.cat([DeepLift(m).attribute(xx[i:i + 1], baselines=torch.zeros_like(xx[i:i + 1]),
                                                    target=t[i:i + 1]).detach() for i in range(xx.shape[0])])
        a, cond = run(dl_per_item)
        check("deeplift", a, deeplift_ref(model, x, t))
        batched = DeepLift(model).attribute(x, baselines=torch.zeros_like(x), target=t).detach()
        dl_batch_effect = per_item_rel(a, batched)
        print(f"    deeplift batched-vs-per-item (captum MaxPool grad_input[0] bug): {max(dl_batch_effect):.1e}")
        dl_extra = {}
        if mname == "lenet_mnist":
            intended = deeplift_ref(model, x, t, maxpool_rule=True)
            dl_extra["captum_maxpool_rule_if_it_were_applied_rel_diff_per_item"] = per_item_rel(a, intended)
        save(f"captum_{mname}_deeplift.npy", a, cond, method="DeepLift(model) rescale, baselines=0, "
             "multiply_by_inputs=True, eps=1e-10",
             formula="(x - 0) * m, m = gradient with ReLU/MaxPool2d multipliers replaced as documented in README "
                     "(DeepLift section); linear layers (Conv, Gemm, BatchNorm, AveragePool, GlobalAveragePool, Add, "
                     "Flatten) use their ordinary gradient",
             computed_per_item=True, **dl_extra,
             batched_vs_per_item_rel_diff=dl_batch_effect,
             captum_bug=("captum.attr._core.deep_lift.maxpool uses torch.where(|x-r| < eps, grad_input[0], ...) with "
                         "grad_input a (2N,...) tensor, i.e. the plain gradient of batch item 0 for every item; "
                         "calling attribute() with one input at a time makes that the item's own plain gradient, "
                         "which is what this golden (and the README formula) uses"))
        # --- Guided backprop / Deconvolution
        a, cond = run(lambda m, xx: GuidedBackprop(m).attribute(xx, target=t).detach())
        check("gbp", a, guided_ref(model, x, t, deconv=False))
        save(f"captum_{mname}_guided_backprop.npy", a, cond, method="GuidedBackprop",
             formula="gradient where every nn.ReLU backward is relu(grad_out * (x > 0)); MaxPool: ordinary gradient")
        a, cond = run(lambda m, xx: Deconvolution(m).attribute(xx, target=t).detach())
        check("deconv", a, guided_ref(model, x, t, deconv=True))
        save(f"captum_{mname}_deconvolution.npy", a, cond, method="Deconvolution",
             formula="gradient where every nn.ReLU backward is relu(grad_out) (forward mask ignored); "
                     "MaxPool: ordinary gradient (switches from the forward pass)")
        # --- SmoothGrad (explicit noise), checked against captum NoiseTunnel fed the same noise
        nz64 = torch.from_numpy(noise).to(DTYPE)

        def smooth(m, xx):
            nz = nz64.to(xx.dtype)
            sal = Saliency(m)
            return torch.stack([sal.attribute(xx + nz[s], target=t, abs=True).detach()
                                for s in range(SG_SAMPLES)]).mean(0)
        a, cond = run(smooth)
        # captum's NoiseTunnel draws torch.normal(0, stdev_expanded) for the (B*S) repeat_interleaved batch
        orig_normal = torch.normal
        arranged = nz64.permute(1, 0, 2, 3, 4).reshape(gc.N_GOLD * SG_SAMPLES, 1, 28, 28)
        torch.normal = lambda mean, std, *args, **kw: arranged.to(std.dtype).clone()
        try:
            nt = NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad", nt_samples=SG_SAMPLES,
                                                        nt_samples_batch_size=SG_SAMPLES, stdevs=SG_SIGMA,
                                                        target=t, abs=True).detach()
        finally:
            torch.normal = orig_normal
        check("smoothgrad vs NoiseTunnel", a, nt)
        save(f"captum_{mname}_smoothgrad.npy", a, cond,
             method=f"NoiseTunnel(Saliency), nt_type='smoothgrad', nt_samples={SG_SAMPLES}, stdevs={SG_SIGMA}, "
                    "noise supplied explicitly",
             formula="mean over s of |grad(x + noise[s])|, noise = assets/golden/smoothgrad_noise.npy[:, i] "
                     "(float32 noise added to the float32 input, computed in float64)")

        # --- CAMs
        for layer_name, onnx_nodes, shape_note in CAM_LAYERS[mname]:
            tag = layer_name.replace(".", "_")
            lay = lambda m: get_module(m, layer_name)  # noqa: E731
            act, grd = layer_act_grad(model, lay(model), x, t)
            cam_fields = {"layer": layer_name, "onnx_tensor": onnx_nodes, "layer_note": shape_note}
            # Captum LayerGradCam (defaults: relu_attributions=False, attribute_to_layer_input=False)
            a, cond = run(lambda m, xx: LayerGradCam(m, lay(m)).attribute(xx, target=t).detach())
            raw = (grd.mean(dim=(2, 3), keepdim=True) * act).sum(1, keepdim=True)
            check("layergradcam", a, raw)
            save(f"captum_{mname}_layergradcam_{tag}.npy", a, cond,
                 method="LayerGradCam(model, layer).attribute(x, target) with defaults "
                        "(relu_attributions=False, attribute_to_layer_input=False)",
                 formula="sum_c mean_{h,w}(dy_t/dA_c) * A_c, keepdim -> (8,1,h,w); NO ReLU, NO upsampling",
                 **cam_fields)
            # pytorch-grad-cam
            for cls, short in ((GradCAM, "gradcam"), (GradCAMPlusPlus, "gradcampp")):
                def lib_cam(m, xx, cls=cls):
                    cam = cls(model=m, target_layers=[lay(m)])
                    targets_l = [ClassifierOutputTarget(int(c)) for c in t]
                    up = cam(input_tensor=xx, targets=targets_l)
                    acts = cam.activations_and_grads.activations[0].numpy()
                    grads = cam.activations_and_grads.gradients[0].numpy()
                    rawc = cam.get_cam_image(xx, lay(m), targets_l, acts, grads)
                    cam.activations_and_grads.release()
                    return np.asarray(rawc, dtype=np.float64), np.asarray(up, dtype=np.float64)
                raw64, up64 = lib_cam(model, x)
                raw32, up32 = lib_cam(model32, x32)
                A, G = act.numpy(), grd.numpy()
                if short == "gradcam":
                    w = G.mean(axis=(2, 3))
                else:
                    g2, g3 = G ** 2, G ** 3
                    sa = A.sum(axis=(2, 3))[:, :, None, None]
                    aij = g2 / (2 * g2 + sa * g3 + 1e-6)
                    aij = np.where(G != 0, aij, 0)
                    w = (np.maximum(G, 0) * aij).sum(axis=(2, 3))
                raw_ref = (w[:, :, None, None] * A).sum(1)
                check(short + " raw", raw64, raw_ref)
                up_ref = []
                up_torch = []
                for i in range(gc.N_GOLD):
                    s1 = minmax(np.maximum(raw_ref[i], 0)).astype(np.float32)
                    r = cv2.resize(s1, (28, 28))
                    up_ref.append(minmax(np.maximum(r, 0)))
                    rt = F.interpolate(torch.from_numpy(s1)[None, None], size=(28, 28), mode="bilinear",
                                       align_corners=False)[0, 0].numpy()
                    up_torch.append(minmax(np.maximum(rt, 0)))
                up_ref = np.stack(up_ref)
                check(short + " upsampled", up64, up_ref, tol=1e-5)
                cv2_vs_torch = float(np.abs(up_ref - np.stack(up_torch)).max())
                lib = f"pytorch-grad-cam (grad-cam {getattr(pytorch_grad_cam, '__version__', '1.5.7')})"
                wdoc = ("w_c = mean_{h,w} G_c" if short == "gradcam" else
                        "w_c = sum_{h,w} relu(G) * a, a = G^2 / (2 G^2 + (sum_{h,w} A_c) G^3 + 1e-6), a := 0 where "
                        "G == 0 (G = dy_t/dA, plain gradient of the raw logit)")
                save(f"{short}_{mname}_{tag}_raw.npy", raw64[:, None], per_item_rel(raw64, raw32),
                     method=f"{cls.__name__}(model, target_layers=[layer]).get_cam_image (raw)",
                     library=lib, formula=f"sum_c w_c * A_c, {wdoc}; before ReLU and normalisation, (8,1,h,w)",
                     **cam_fields)
                save(f"{short}_{mname}_{tag}_upsampled.npy", up64[:, None], per_item_rel(up64, up32),
                     method=f"{cls.__name__}(model, target_layers=[layer])(x, [ClassifierOutputTarget(t)])",
                     library=lib,
                     formula="per image: c = relu(raw); c = (c - min c) / (1e-7 + max(c - min c)); "
                             "c = cv2.resize(float32(c), (28, 28)) [INTER_LINEAR, half-pixel centres]; "
                             "c = relu(c); c = (c - min c) / (1e-7 + max(c - min c)); (8,1,28,28)",
                     cv2_vs_torch_bilinear_align_corners_false_max_abs=cv2_vs_torch, **cam_fields)

    man.write({"captum": {"version": captum.__version__, "ig_approximation": ig_params,
                          "smoothgrad": {"samples": SG_SAMPLES, "sigma": SG_SIGMA, "seed": SG_SEED}}})
    print(f"golden_captum.py done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
