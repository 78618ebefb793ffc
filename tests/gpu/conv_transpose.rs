//! Transposed convolutions on the GPU against the f64 reference: the forward pass over strides,
//! pads, output padding, dilation, groups and bias; the VJP (the input gradient through one
//! layer); every LRP linear-layer rule with the layer inside a net and as the first layer; and
//! the gradient of a small generator (Gemm → Reshape → ConvTranspose → Relu → ConvTranspose →
//! Sigmoid), built here and imported from the ONNX fixture.

use crate::common::{assert_close, gpu, reference_relevance, Rng};
use glimpse::explain::backward::{gradient_rules, reference_backward};
use glimpse::explain::gradient::{GradientMap, GradientPlan};
use glimpse::explain::{Bound, Composite, LrpPlan, Rule, Target};
use glimpse::layers::{
    reference_forward, Conv2d, ConvTranspose2d, Dense, Elementwise, Func, GradMode,
};
use glimpse::model::{Graph, Op, Tensor};
use glimpse::Predictor;

const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-4;

/// A transposed convolution `cin → cout` with a `k` kernel, small random weights.
fn ct(
    rng: &mut Rng,
    cin: usize,
    cout: usize,
    k: [usize; 2],
    groups: usize,
    bias: bool,
) -> ConvTranspose2d {
    let mut weight = rng.tensor(&[cin, cout / groups, k[0], k[1]]);
    weight.data.iter_mut().for_each(|v| *v *= 0.5);
    ConvTranspose2d {
        weight,
        bias: bias.then(|| rng.vec(cout)),
        stride: [1, 1],
        pads: [0; 4],
        dilation: [1, 1],
        output_padding: [0, 0],
        groups,
    }
}

/// The geometries under test: (what, input [C, H, W], layer).
fn geometries(rng: &mut Rng) -> Vec<(&'static str, Vec<usize>, ConvTranspose2d)> {
    let mut v = Vec::new();
    v.push((
        "3→5 3×3 stride 1",
        vec![3, 5, 6],
        ct(rng, 3, 5, [3, 3], 1, true),
    ));
    let mut c = ct(rng, 4, 3, [4, 4], 1, true);
    (c.stride, c.pads) = ([2, 2], [1; 4]);
    v.push(("4→3 4×4 stride 2 pads 1 (DCGAN)", vec![4, 4, 5], c));
    let mut c = ct(rng, 2, 6, [3, 2], 1, false);
    (c.stride, c.pads, c.output_padding) = ([2, 3], [1, 0, 2, 1], [1, 2]);
    v.push((
        "2→6 3×2 stride 2×3 asym pads, output padding, no bias",
        vec![2, 5, 4],
        c,
    ));
    let mut c = ct(rng, 3, 4, [3, 3], 1, true);
    (c.stride, c.dilation, c.pads, c.output_padding) = ([2, 1], [2, 3], [2, 1, 0, 3], [1, 0]);
    v.push(("3→4 dilation 2×3 stride 2×1", vec![3, 6, 5], c));
    let mut c = ct(rng, 4, 6, [3, 3], 2, true);
    (c.stride, c.pads) = ([2, 2], [1, 1, 0, 0]);
    v.push(("groups 2: 4→6 stride 2", vec![4, 4, 4], c));
    let mut c = ct(rng, 5, 5, [3, 3], 5, true);
    (c.stride, c.pads, c.output_padding) = ([2, 2], [1; 4], [1, 1]);
    v.push(("depthwise 5 channels stride 2", vec![5, 4, 3], c));
    v
}

fn single(input: &[usize], layer: ConvTranspose2d) -> Graph {
    let mut g = Graph::new(input.to_vec()).unwrap();
    g.push("up", Op::ConvTranspose2d(layer), vec![0]).unwrap();
    g
}

/// Largest |a − b|.
fn max_err(a: &[f32], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0, |m, (x, y)| m.max((*x as f64 - y).abs()))
}

#[test]
fn forward_matches_the_reference_in_every_geometry_and_flavor() {
    let mut rng = Rng::new(71);
    let mut worst = 0f64;
    for (what, input, layer) in geometries(&mut rng) {
        let g = single(&input, layer);
        let mut shape = vec![3];
        shape.extend_from_slice(&input);
        let x = rng.tensor(&shape);
        let want = &reference_forward(&g, &x.to_f64())[g.output];
        for flavor in gpu().supported_flavors() {
            let model = glimpse::DeviceModel::new(&gpu().with_flavor(flavor), g.clone());
            let got = Predictor::new(&model, 3).unwrap().run(&x).unwrap();
            assert_eq!(got.shape, want.shape, "{what}");
            assert_close(
                &format!("{what} ({flavor:?})"),
                &got.data,
                &want.data,
                ATOL,
                RTOL,
            );
            worst = worst.max(max_err(&got.data, &want.data));
        }
    }
    eprintln!("ConvTranspose2d forward: max |gpu − ref| = {worst:.2e}");
}

#[test]
fn vjp_matches_the_reference_vjp_in_every_geometry() {
    let mut rng = Rng::new(72);
    let mut worst = 0f64;
    for (what, input, layer) in geometries(&mut rng) {
        let g = single(&input, layer.clone());
        let f: usize = g.output_shape().iter().product();
        let mut shape = vec![2];
        shape.extend_from_slice(&input);
        let x = rng.tensor(&shape);
        let targets = [Target::Weights(rng.vec(f)), Target::Weights(rng.vec(f))];
        let mut plan = GradientPlan::new(&crate::common::model(&g), GradientMap::Gradient, 2)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let got = plan.run(&x, &targets).unwrap();
        // x̄ = Wᵀ ȳ item by item, ȳ the target weights.
        let mut out_shape = vec![2];
        out_shape.extend_from_slice(g.output_shape());
        let mut ybar = Tensor::<f64>::zeros(out_shape);
        for (i, t) in targets.iter().enumerate() {
            let Target::Weights(w) = t else {
                unreachable!()
            };
            for (k, v) in w.iter().enumerate() {
                ybar.data[i * f + k] = *v as f64;
            }
        }
        let want = layer.reference_transpose(&ybar, &input);
        let scale = want.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert_close(what, &got.map.data, &want.data, ATOL * scale.max(1.0), RTOL);
        worst = worst.max(max_err(&got.map.data, &want.data));
    }
    eprintln!("ConvTranspose2d VJP: max |gpu − ref| = {worst:.2e}");
}

/// input [3, 4, 4] → conv 3→4 (pad 1) → ReLU → ConvTranspose 4→3 (stride 2, pads 1, output
/// padding 1: 8×8) → ReLU → flatten → dense → 5; or with the ConvTranspose first.
fn lrp_net(rng: &mut Rng, bias: bool, first: bool) -> Graph {
    let mut up = ct(rng, 4, 3, [3, 3], 1, bias);
    (up.stride, up.pads, up.output_padding) = ([2, 2], [1; 4], [1, 1]);
    let mut g = Graph::new(if first { vec![4, 4, 4] } else { vec![3, 4, 4] }).unwrap();
    let mut at = 0;
    if !first {
        let c = Conv2d {
            weight: rng.tensor(&[4, 3, 3, 3]),
            bias: bias.then(|| rng.vec(4).iter().map(|v| v * 0.1).collect()),
            stride: [1, 1],
            pads: [1; 4],
            dilation: [1, 1],
            groups: 1,
        };
        let a = g.push("conv", Op::Conv2d(c), vec![0]).unwrap();
        at = g.push("relu0", Op::relu(), vec![a]).unwrap();
    }
    let u = g.push("up", Op::ConvTranspose2d(up), vec![at]).unwrap();
    let r = g.push("relu", Op::relu(), vec![u]).unwrap();
    let n: usize = g.nodes[r].shape.iter().product();
    let f = g.push_reshape("flatten", r, vec![n]).unwrap();
    let d = Dense {
        weight: rng.tensor(&[5, n]),
        bias: bias.then(|| rng.vec(5)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    g
}

fn check_lrp(what: &str, graph: &Graph, composite: &Composite, x: &Tensor) -> f64 {
    let targets = [Target::Predicted, Target::Class(3)];
    let mut plan = LrpPlan::new(&crate::common::model(graph), composite, x.shape[0], false)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = plan
        .run(x, &targets)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let want = reference_relevance(graph, composite, x, &targets);
    let scale = want.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close(what, &got.map.data, &want.data, 1e-4 * scale + 1e-7, 1e-4);
    max_err(&got.map.data, &want.data) / scale.max(1e-30)
}

#[test]
fn every_lrp_rule_crosses_a_transposed_convolution_as_the_reference_does() {
    let rules = [
        ("epsilon 0.25", Rule::Epsilon { epsilon: 0.25 }),
        ("epsilon 1e-6", Rule::Epsilon { epsilon: 1e-6 }),
        ("gamma 0.25", Rule::Gamma { gamma: 0.25 }),
        ("alpha1beta0", Rule::alpha_beta(1.0, 0.0).unwrap()),
        ("alpha2beta1", Rule::alpha_beta(2.0, 1.0).unwrap()),
        ("zplus", Rule::ZPlus),
        (
            "zbox",
            Rule::ZBox {
                low: Bound::Scalar(-1.0),
                high: Bound::Scalar(1.0),
            },
        ),
        ("wsquare", Rule::WSquare),
        ("flat", Rule::Flat),
    ];
    let mut worst = 0f64;
    for first in [false, true] {
        for bias in [true, false] {
            let mut rng = Rng::new(80 + 2 * first as u64 + bias as u64);
            let g = lrp_net(&mut rng, bias, first);
            let x = rng.tensor(&[2, g.input_shape()[0], 4, 4]);
            for (name, rule) in &rules {
                let c = Composite::uniform(rule.clone());
                let what = format!("{name}, bias {bias}, first {first}");
                worst = worst.max(check_lrp(&what, &g, &c, &x));
                let ib = Composite {
                    ignore_bias: true,
                    ..c
                };
                worst = worst.max(check_lrp(&format!("{what}, ignored"), &g, &ib, &x));
            }
            for name in glimpse::explain::PRESET_NAMES.split(", ") {
                let c = Composite::preset(name, Bound::Scalar(-1.0), Bound::Scalar(1.0)).unwrap();
                let what = format!("{name}, bias {bias}, first {first}");
                worst = worst.max(check_lrp(&what, &g, &c, &x));
            }
        }
    }
    eprintln!("ConvTranspose2d LRP: max |gpu − ref| / max |ref| = {worst:.2e}");
}

/// z [8] → Gemm → Reshape [6, 3, 3] → ConvTranspose 6→4 (4×4, stride 2, pads 1: 6×6) → Relu →
/// ConvTranspose 4→2 (3×3, stride 2, pads 1, output padding 1: 12×12) → Sigmoid.
fn generator(rng: &mut Rng) -> Graph {
    let mut g = Graph::new(vec![8]).unwrap();
    let d = Dense {
        weight: rng.tensor(&[54, 8]),
        bias: Some(rng.vec(54)),
    };
    let fc = g.push("fc", Op::Dense(d), vec![0]).unwrap();
    let r = g.push_reshape("reshape", fc, vec![6, 3, 3]).unwrap();
    let mut up1 = ct(rng, 6, 4, [4, 4], 1, true);
    (up1.stride, up1.pads) = ([2, 2], [1; 4]);
    let a = g.push("up1", Op::ConvTranspose2d(up1), vec![r]).unwrap();
    let a = g.push("relu", Op::relu(), vec![a]).unwrap();
    let mut up2 = ct(rng, 4, 2, [3, 3], 1, true);
    (up2.stride, up2.pads, up2.output_padding) = ([2, 2], [1; 4], [1, 1]);
    let b = g.push("up2", Op::ConvTranspose2d(up2), vec![a]).unwrap();
    let sigmoid = Op::Elementwise(Elementwise::new(Func::Sigmoid));
    g.push("sigmoid", sigmoid, vec![b]).unwrap();
    g
}

/// The gradient of `w · G(z)` at the input on the GPU vs the f64 reference backward pass, and
/// the outputs vs the reference forward pass; returns the largest errors.
fn check_generator(what: &str, g: &Graph, z: &Tensor, rng: &mut Rng) -> (f64, f64) {
    let n = z.shape[0];
    let f: usize = g.output_shape().iter().product();
    let targets: Vec<Target> = (0..n).map(|_| Target::Weights(rng.vec(f))).collect();
    let mut plan = GradientPlan::new(&crate::common::model(g), GradientMap::Gradient, n)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = plan.run(z, &targets).unwrap();
    let xs = z.to_f64();
    let values = reference_forward(g, &xs);
    let out = &values[g.output];
    assert_close(
        &format!("{what}: outputs"),
        &got.outputs.data,
        &out.data,
        ATOL,
        RTOL,
    );
    let mut seed = Tensor::<f64>::zeros(out.shape.clone());
    for (i, t) in targets.iter().enumerate() {
        let Target::Weights(w) = t else {
            unreachable!()
        };
        for (k, v) in w.iter().enumerate() {
            seed.data[i * f + k] = *v as f64;
        }
    }
    let rules = gradient_rules(g, GradMode::Gradient);
    let want = reference_backward(g, &rules, &xs, g.output, &seed, None)[0]
        .clone()
        .expect("the gradient reaches the input");
    let scale = want.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close(
        &format!("{what}: ∂(w·G)/∂z"),
        &got.map.data,
        &want.data,
        1e-4 * scale,
        RTOL,
    );
    (
        max_err(&got.outputs.data, &out.data),
        max_err(&got.map.data, &want.data),
    )
}

#[test]
fn generator_gradients_reach_the_latent_input() {
    let mut rng = Rng::new(90);
    let g = generator(&mut rng);
    assert_eq!(g.output_shape(), [2, 12, 12]);
    let z = rng.tensor(&[3, 8]);
    let (fwd, grad) = check_generator("generator", &g, &z, &mut rng);
    eprintln!("generator: max |gpu − ref| forward {fwd:.2e}, gradient {grad:.2e}");
    // The exported fixture: the same chain from PyTorch through the ONNX importer.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/models/convtranspose_generator.onnx"
    );
    let g = glimpse::onnx::load(std::path::Path::new(path)).unwrap();
    let kinds: Vec<&str> = g.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(
        kinds,
        [
            "Input",
            "Dense",
            "Reshape",
            "ConvTranspose2d",
            "Relu",
            "ConvTranspose2d",
            "Sigmoid"
        ]
    );
    let z = rng.tensor(&[2, 8]);
    let (fwd, grad) = check_generator("generator fixture", &g, &z, &mut rng);
    eprintln!("generator fixture: max |gpu − ref| forward {fwd:.2e}, gradient {grad:.2e}");
}

#[test]
fn attribute_fixture_runs_as_onnxruntime_does_and_backpropagates() {
    // Groups with dilation, asymmetric pads and output padding; depthwise SAME_UPPER;
    // output_shape; SAME_LOWER (scripts/make_convtranspose_fixtures.py).
    let assets = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");
    let g = glimpse::onnx::load(std::path::Path::new(&format!(
        "{assets}/models/convtranspose_attrs.onnx"
    )))
    .unwrap();
    let x = glimpse::io::npy::read_f32(format!("{assets}/data/convtranspose_attrs_x.npy")).unwrap();
    let want =
        glimpse::io::npy::read_f32(format!("{assets}/reference/convtranspose_attrs_out.npy"))
            .unwrap();
    let n = x.shape[0];
    let got = Predictor::new(&crate::common::model(&g), n)
        .unwrap()
        .run(&x)
        .unwrap();
    assert_eq!(got.shape, want.shape);
    let want64: Vec<f64> = want.data.iter().map(|&v| v as f64).collect();
    assert_close("attributes vs onnxruntime", &got.data, &want64, ATOL, RTOL);
    let mut rng = Rng::new(91);
    let (fwd, grad) = check_generator("attributes fixture", &g, &x, &mut rng);
    eprintln!(
        "attributes fixture: max |gpu − onnxruntime| {:.2e}; max |gpu − ref| forward {fwd:.2e}, gradient {grad:.2e}",
        max_err(&got.data, &want64)
    );
}
