//! The f64 references of transposed convolutions, no GPU: the VJP against central finite
//! differences of the forward pass, the forward pass against the convolution it is the adjoint
//! of, and batch norm folded into one; the ONNX fixtures against onnxruntime are in
//! onnx_fixtures.rs.

use glimpse::layers::{reference_forward, BatchNorm, Conv2d, ConvTranspose2d};
use glimpse::model::{fold_batch_norm, Graph, Op, Tensor};

/// Seeded values in [-1, 1) (xorshift64*).
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            ((s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn layer(seed: u64, cin: usize, cout: usize, k: [usize; 2], groups: usize) -> ConvTranspose2d {
    ConvTranspose2d {
        weight: Tensor::new(
            vec![cin, cout / groups, k[0], k[1]],
            values(seed, cin * cout / groups * k[0] * k[1]),
        )
        .unwrap(),
        bias: Some(values(seed + 1, cout)),
        stride: [1, 1],
        pads: [0; 4],
        dilation: [1, 1],
        output_padding: [0, 0],
        groups,
    }
}

/// (input [C, H, W], layer) over strides, pads, output padding, dilation and groups.
fn geometries() -> Vec<(Vec<usize>, ConvTranspose2d)> {
    let mut v = vec![(vec![3, 4, 5], layer(1, 3, 2, [3, 3], 1))];
    let mut c = layer(2, 2, 3, [4, 3], 1);
    (c.stride, c.pads, c.output_padding) = ([2, 3], [1, 0, 2, 1], [1, 2]);
    v.push((vec![2, 3, 4], c));
    let mut c = layer(3, 4, 6, [3, 2], 2);
    (c.stride, c.dilation, c.pads, c.output_padding) = ([2, 1], [2, 3], [2, 1, 0, 3], [1, 0]);
    v.push((vec![4, 3, 3], c));
    let mut c = layer(4, 3, 3, [3, 3], 3);
    (c.stride, c.pads) = ([2, 2], [1; 4]);
    v.push((vec![3, 3, 4], c));
    v
}

#[test]
fn reference_vjp_matches_central_finite_differences() {
    let mut worst = 0f64;
    for (i, (input, c)) in geometries().into_iter().enumerate() {
        let out = c.output_shape(&input).unwrap();
        let x = Tensor::new(
            [vec![2], input.clone()].concat(),
            values(10 + i as u64, 2 * input.iter().product::<usize>())
                .iter()
                .map(|&v| v as f64)
                .collect(),
        )
        .unwrap();
        let ybar = Tensor::new(
            [vec![2], out.clone()].concat(),
            values(20 + i as u64, 2 * out.iter().product::<usize>())
                .iter()
                .map(|&v| v as f64)
                .collect(),
        )
        .unwrap();
        let score = |x: &Tensor<f64>| -> f64 {
            let y = c.reference(x);
            y.data.iter().zip(&ybar.data).map(|(a, b)| a * b).sum()
        };
        let grad = c.reference_transpose(&ybar, &input);
        let h = 1e-4;
        for k in 0..x.data.len() {
            let (mut up, mut down) = (x.clone(), x.clone());
            up.data[k] += h;
            down.data[k] -= h;
            let fd = (score(&up) - score(&down)) / (2.0 * h);
            let err = (fd - grad.data[k]).abs();
            assert!(
                err <= 1e-6 + 1e-6 * fd.abs(),
                "geometry {i}, x[{k}]: VJP {} but finite differences {fd}",
                grad.data[k]
            );
            worst = worst.max(err);
        }
    }
    eprintln!("ConvTranspose2d reference VJP: max |VJP − central differences| = {worst:.2e}");
}

#[test]
fn reference_forward_is_the_adjoint_of_the_convolution_of_the_same_geometry() {
    // Without output padding (which only adds rows the convolution never reads), the transposed
    // convolution is Cᵀ for the convolution C with its weight: compare it with C's own adjoint.
    for (i, (input, c)) in geometries().into_iter().enumerate() {
        let mut c = c;
        c.output_padding = [0, 0];
        c.bias = None;
        let out = c.output_shape(&input).unwrap();
        let conv = Conv2d {
            weight: c.weight.clone(),
            bias: None,
            stride: c.stride,
            pads: c.pads,
            dilation: c.dilation,
            groups: c.groups,
        };
        let n: usize = input.iter().product();
        let x = Tensor::new(
            [vec![1], input.clone()].concat(),
            values(30 + i as u64, n).iter().map(|&v| v as f64).collect(),
        )
        .unwrap();
        let want = conv.reference_transpose(&x, &out);
        let got = c.reference(&x);
        assert_eq!(got.shape, want.shape, "geometry {i}");
        for (g, w) in got.data.iter().zip(&want.data) {
            assert!((g - w).abs() < 1e-12, "geometry {i}: {g} vs {w}");
        }
    }
}

#[test]
fn batch_norm_folds_into_a_transposed_convolution() {
    for (i, (input, c)) in geometries().into_iter().enumerate() {
        let cout = c.output_shape(&input).unwrap()[0];
        let mut g = Graph::new(input.clone()).unwrap();
        let a = g.push("up", Op::ConvTranspose2d(c), vec![0]).unwrap();
        let bn = BatchNorm {
            scale: values(40 + i as u64, cout)
                .iter()
                .map(|v| v + 1.5)
                .collect(),
            shift: values(50 + i as u64, cout),
        };
        g.push("bn", Op::BatchNorm(bn), vec![a]).unwrap();
        let mut folded = g.clone();
        assert_eq!(fold_batch_norm(&mut folded), 1, "geometry {i}");
        assert_eq!(folded.nodes.len(), 2);
        let n: usize = input.iter().product();
        let x = Tensor::new(
            [vec![2], input.clone()].concat(),
            values(60 + i as u64, 2 * n)
                .iter()
                .map(|&v| v as f64)
                .collect(),
        )
        .unwrap();
        let want = &reference_forward(&g, &x)[g.output];
        let got = &reference_forward(&folded, &x)[folded.output];
        for (a, b) in got.data.iter().zip(&want.data) {
            assert!(
                (a - b).abs() <= 1e-5 + 1e-5 * b.abs(),
                "geometry {i}: {a} vs {b}"
            );
        }
    }
}
