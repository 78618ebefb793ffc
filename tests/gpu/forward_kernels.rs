//! Every forward kernel against the f64 CPU reference, on seeded random inputs, in every kernel
//! variant the device supports: |gpu − ref| ≤ 1e-5 + 1e-4·|ref|.

use crate::common::{assert_close, gpu, Rng};
use glimpse::gpu::KernelFlavor;
use glimpse::layers::{reference_forward, BatchNorm, Conv2d, Dense, Pool2d};
use glimpse::model::{Graph, Op};
use glimpse::{Gpu, Predictor, Tensor};

const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-4;

/// Runs `graph` on `batch` random items on the GPU and compares every output with the reference.
fn check_on(gpu: &Gpu, what: &str, graph: &Graph, batch: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut shape = vec![batch];
    shape.extend_from_slice(graph.input_shape());
    let x = rng.tensor(&shape);
    let mut plan = Predictor::new(&glimpse::DeviceModel::new(gpu, (graph).clone()), batch)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = plan.run(&x).unwrap_or_else(|e| panic!("{what}: {e}"));
    let want = reference_forward(graph, &x.to_f64());
    let want = &want[graph.output];
    assert_eq!(got.shape, want.shape, "{what}: shape");
    assert_close(what, &got.data, &want.data, ATOL, RTOL);
}

/// Every flavor the test device runs; the subgroup kernels must be among them on an adapter with
/// subgroups of at least 8 lanes, so they are never silently left untested.
fn flavors() -> Vec<KernelFlavor> {
    let all = gpu().supported_flavors();
    assert!(all.contains(&KernelFlavor::Registers) && all.contains(&KernelFlavor::Tiled));
    all
}

fn check(what: &str, graph: &Graph, batch: usize, seed: u64) {
    for flavor in flavors() {
        check_on(
            &gpu().with_flavor(flavor),
            &format!("{what} ({flavor:?})"),
            graph,
            batch,
            seed,
        );
    }
}

fn single(input: &[usize], op: Op) -> Graph {
    let mut g = Graph::new(input.to_vec()).unwrap();
    g.push("layer", op, vec![0]).unwrap();
    g
}

fn conv(
    rng: &mut Rng,
    cout: usize,
    cin_g: usize,
    k: [usize; 2],
    groups: usize,
    bias: bool,
) -> Conv2d {
    Conv2d {
        weight: rng.tensor(&[cout, cin_g, k[0], k[1]]),
        bias: bias.then(|| rng.vec(cout)),
        stride: [1, 1],
        pads: [0; 4],
        dilation: [1, 1],
        groups,
    }
}

#[test]
fn conv2d_plain_odd_sizes() {
    let mut rng = Rng::new(1);
    let c = conv(&mut rng, 6, 3, [3, 3], 1, true);
    check(
        "conv 3→6 3×3 on 7×9",
        &single(&[3, 7, 9], Op::Conv2d(c)),
        2,
        11,
    );
}

#[test]
fn conv2d_stride_padding_dilation() {
    let mut rng = Rng::new(2);
    let mut c = conv(&mut rng, 5, 4, [3, 2], 1, true);
    c.stride = [2, 3];
    c.pads = [1, 0, 2, 1];
    c.dilation = [2, 1];
    check(
        "conv stride 2×3, pads [1,0,2,1], dilation 2×1",
        &single(&[4, 11, 10], Op::Conv2d(c)),
        3,
        12,
    );
    // Unit horizontal stride with a horizontal dilation: the taps of adjacent pixels do not
    // slide along the row, so the `registers` kernel loads all four per tap.
    let mut c = conv(&mut rng, 7, 2, [2, 3], 1, false);
    c.dilation = [1, 2];
    c.pads = [0, 2, 1, 1];
    check(
        "conv dilation 1×2, stride 1",
        &single(&[2, 6, 13], Op::Conv2d(c)),
        2,
        16,
    );
}

#[test]
fn conv2d_groups_and_depthwise() {
    let mut rng = Rng::new(3);
    let mut c = conv(&mut rng, 6, 2, [3, 3], 2, false);
    c.pads = [1, 1, 1, 1];
    check(
        "conv groups 2, no bias",
        &single(&[4, 6, 5], Op::Conv2d(c)),
        2,
        13,
    );
    let mut d = conv(&mut rng, 5, 1, [3, 3], 5, true);
    d.stride = [2, 2];
    d.pads = [0, 1, 1, 0];
    check(
        "depthwise 5 channels, stride 2",
        &single(&[5, 9, 8], Op::Conv2d(d)),
        2,
        14,
    );
}

#[test]
fn depthwise_kernels_every_size_stride_and_ragged_tile() {
    // 11×13 inputs leave partial 4×4 output tiles; asymmetric pads, some wider than the kernel
    // (as folded Pads make them); with and without bias.
    let mut rng = Rng::new(9);
    for (k, s, pads) in [
        (3, 1, [1, 1, 1, 1]),
        (3, 2, [0, 0, 1, 1]),
        (5, 1, [2, 1, 2, 3]),
        (5, 2, [1, 2, 2, 1]),
        (3, 1, [0; 4]),
        (3, 2, [3, 1, 0, 4]),
    ] {
        let mut d = conv(&mut rng, 6, 1, [k, k], 6, s == 1);
        d.stride = [s, s];
        d.pads = pads;
        check(
            &format!("depthwise {k}×{k} stride {s} pads {pads:?}"),
            &single(&[6, 11, 13], Op::Conv2d(d)),
            2,
            20 + (k + s) as u64,
        );
    }
}

#[test]
fn conv2d_many_channels_spans_several_tiles() {
    let mut rng = Rng::new(4);
    let mut c = conv(&mut rng, 70, 9, [3, 3], 1, true);
    c.pads = [1, 1, 1, 1];
    check(
        "conv 9→70 on 12×11",
        &single(&[9, 12, 11], Op::Conv2d(c)),
        1,
        15,
    );
}

#[test]
fn conv2d_wide_layers_use_every_subgroup_block() {
    // 64+ channels: two channel quads per lane; 20: one quad, lanes past the channels idle;
    // 200 pixels: a partial last block of 32.
    let mut rng = Rng::new(8);
    for (cin, cout) in [(5, 72), (3, 20), (7, 128)] {
        let mut c = conv(&mut rng, cout, cin, [3, 3], 1, true);
        c.pads = [1, 1, 1, 1];
        check(
            &format!("conv {cin}→{cout} on 10×20"),
            &single(&[cin, 10, 20], Op::Conv2d(c)),
            2,
            18,
        );
    }
    let mut c = conv(&mut rng, 66, 3, [3, 3], 3, false);
    c.stride = [2, 1];
    c.pads = [0, 1, 2, 1];
    check(
        "conv 9→66 in 3 groups, stride 2×1",
        &single(&[9, 9, 7], Op::Conv2d(c)),
        3,
        19,
    );
}

#[test]
fn matmul_ceiling_kernel_in_every_flavor() {
    let mut rng = Rng::new(9);
    for (m, k, n) in [(37, 29, 132), (64, 64, 64), (5, 3, 4)] {
        let a = rng.vec(m * k);
        let b = rng.vec(k * n);
        let mut want = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k)
                    .map(|t| a[i * k + t] as f64 * b[t * n + j] as f64)
                    .sum();
            }
        }
        for flavor in flavors() {
            let got = glimpse::gpu::matmul(&gpu().with_flavor(flavor), m, k, n, &a, &b).unwrap();
            assert_close(
                &format!("matmul {m}×{k}×{n} ({flavor:?})"),
                &got,
                &want,
                ATOL,
                RTOL,
            );
        }
    }
}

#[test]
fn dense_with_and_without_bias() {
    let mut rng = Rng::new(5);
    let d = Dense {
        weight: rng.tensor(&[7, 30]),
        bias: Some(rng.vec(7)),
    };
    check("dense 30→7", &single(&[30], Op::Dense(d)), 5, 16);
    let d = Dense {
        weight: rng.tensor(&[3, 2 * 3 * 4]),
        bias: None,
    };
    check(
        "dense on a [2,3,4] input",
        &single(&[2, 3, 4], Op::Dense(d)),
        1,
        17,
    );
}

#[test]
fn pools_overlapping_padded_and_ceil() {
    let max = Pool2d {
        kernel: [3, 3],
        stride: [2, 2],
        pads: [1, 1, 1, 1],
        count_include_pad: false,
        ceil_mode: false,
    };
    check(
        "max pool 3×3/2 pad 1",
        &single(&[3, 9, 8], Op::max_pool(max.clone())),
        2,
        21,
    );
    let ceil = Pool2d {
        ceil_mode: true,
        pads: [0; 4],
        ..max.clone()
    };
    check(
        "max pool ceil mode",
        &single(&[2, 8, 8], Op::max_pool(ceil.clone())),
        2,
        22,
    );
    for include in [false, true] {
        let avg = Pool2d {
            count_include_pad: include,
            ..max.clone()
        };
        check(
            &format!("avg pool count_include_pad={include}"),
            &single(&[3, 7, 6], Op::avg_pool(avg)),
            2,
            23,
        );
    }
    let avg_ceil = Pool2d {
        count_include_pad: true,
        pads: [1, 1, 1, 1],
        ..ceil
    };
    check(
        "avg pool ceil + include pad",
        &single(&[2, 8, 8], Op::avg_pool(avg_ceil)),
        1,
        24,
    );
    check(
        "global average pool",
        &single(
            &[4, 5, 7],
            Op::GlobalAvgPool(glimpse::layers::GlobalAvgPool),
        ),
        3,
        25,
    );
}

#[test]
fn element_wise_layers() {
    check("relu", &single(&[3, 4, 5], Op::relu()), 2, 31);
    check("clip", &single(&[3, 4, 5], Op::clip(-0.25, 0.5)), 2, 32);
    let bn = BatchNorm::from_stats(
        &[1.5, -0.5, 2.0],
        &[0.1, 0.2, -0.3],
        &[0.5, -0.1, 0.0],
        &[1.0, 0.25, 4.0],
        1e-5,
    )
    .unwrap();
    check("batch norm", &single(&[3, 4, 5], Op::BatchNorm(bn)), 2, 33);
    check(
        "softmax",
        &single(&[10], Op::Softmax(glimpse::layers::Softmax::default())),
        4,
        34,
    );
}

#[test]
fn dag_with_residual_add_concat_and_reshape() {
    let mut rng = Rng::new(6);
    let mut g = Graph::new(vec![3, 8, 8]).unwrap();
    let mut c1 = conv(&mut rng, 4, 3, [3, 3], 1, true);
    c1.pads = [1, 1, 1, 1];
    let a = g.push("c1", Op::Conv2d(c1), vec![0]).unwrap();
    let r = g.push("r1", Op::relu(), vec![a]).unwrap();
    let mut c2 = conv(&mut rng, 4, 4, [3, 3], 1, false);
    c2.pads = [1, 1, 1, 1];
    let b = g.push("c2", Op::Conv2d(c2), vec![r]).unwrap();
    let s = g
        .push("add", Op::Add(glimpse::layers::Add), vec![a, b, r])
        .unwrap();
    let cat = g
        .push(
            "cat",
            Op::Concat(glimpse::layers::Concat::channels()),
            vec![s, r, a],
        )
        .unwrap();
    let f = g.push_reshape("flat", cat, vec![12 * 64]).unwrap();
    let d = Dense {
        weight: rng.tensor(&[5, 12 * 64]),
        bias: Some(rng.vec(5)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    check("residual DAG", &g, 3, 41);
}

#[test]
fn batch_splits_when_the_binding_limit_is_small() {
    let mut rng = Rng::new(7);
    let mut c = conv(&mut rng, 8, 2, [3, 3], 1, true);
    c.pads = [1, 1, 1, 1];
    let graph = single(&[2, 16, 16], Op::Conv2d(c));
    // One item's largest tensor is 8·16·16·4 = 8 KiB; a 20 KiB limit fits two items per submission.
    let small = crate::common::limited(20 * 1024);
    let mut plan = Predictor::new(&glimpse::DeviceModel::new(&small, graph.clone()), 5).unwrap();
    assert_eq!(plan.batch(), 2);
    let x = rng.tensor(&[5, 2, 16, 16]);
    let got = plan.run(&x).unwrap();
    let want = reference_forward(&graph, &x.to_f64());
    assert_close("split batch", &got.data, &want[1].data, ATOL, RTOL);
    // A limit below one item is a clear error naming the tensor.
    let tiny = crate::common::limited(4096);
    let err = Predictor::new(&glimpse::DeviceModel::new(&tiny, graph.clone()), 1)
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("layer") && err.contains("8192"), "{err}");
}

#[test]
fn wrong_input_shape_and_nan_are_errors() {
    let graph = single(&[3, 4, 4], Op::relu());
    let mut plan = Predictor::new(&crate::common::model(&graph), 1).unwrap();
    let err = plan
        .run(&Tensor::zeros(vec![1, 3, 4, 5]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("[N, 3, 4, 4]"), "{err}");
    let mut x = Tensor::zeros(vec![1, 3, 4, 4]);
    x.data[7] = f32::NAN;
    let err = plan.run(&x).unwrap_err().to_string();
    assert!(err.contains("non-finite") && err.contains('7'), "{err}");
}
