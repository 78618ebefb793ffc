//! Recording with no GPU: a model's forward and backward passes, buffer sharing from lifetimes,
//! kept tensors, repeated steps, and the device's limits.

use super::*;
use crate::explain::backward::{gradient_rules, record_backward, BackwardSpec, Seed};
use crate::layers::{Conv2d, Dense, GradMode, Pool2d};
use crate::model::{Graph, Op, Tensor};

/// input [1, 8, 8] → conv 1→4 → ReLU → max pool 2 → flatten → dense 64→3.
fn net() -> Graph {
    let mut g = Graph::new(vec![1, 8, 8]).unwrap();
    let c = Conv2d {
        weight: Tensor::new(vec![4, 1, 3, 3], vec![0.1; 36]).unwrap(),
        bias: Some(vec![0.0; 4]),
        stride: [1, 1],
        pads: [1; 4],
        dilation: [1, 1],
        groups: 1,
    };
    let a = g.push("conv", Op::Conv2d(c), vec![0]).unwrap();
    let r = g.push("relu", Op::relu(), vec![a]).unwrap();
    let pool = Pool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0; 4],
        count_include_pad: false,
        ceil_mode: false,
    };
    let p = g.push("pool", Op::max_pool(pool), vec![r]).unwrap();
    let f = g.push_reshape("flatten", p, vec![64]).unwrap();
    let d = Dense {
        weight: Tensor::new(vec![3, 64], vec![0.01; 192]).unwrap(),
        bias: None,
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    g
}

fn profile() -> DeviceProfile {
    DeviceProfile::with_default_limits(KernelFlavor::Subgroup)
}

#[test]
fn a_gradient_program_records_without_a_gpu_and_shares_buffers() {
    let g = net();
    let mut p = Program::new(&profile());
    let values = record_forward(&mut p, &g, 4).unwrap();
    let rules = gradient_rules(&g, GradMode::Gradient);
    let spec = BackwardSpec {
        batch: 4,
        start: g.output,
        stop: 0,
        rules: &rules,
        seed: Seed::Gradient,
        sums: false,
        label: "grad",
        joins: &[],
        masks: &[],
        exclude_parallel: false,
    };
    let t = record_backward(&mut p, &g, &values, &spec).unwrap();
    let grad = t.flow[0].expect("the gradient reaches the input");
    p.keep(grad);
    // The reshape aliases its input; every other node has a pass, the backward pass one per node.
    assert_eq!(values[4], values[3]);
    let kernels: Vec<&str> = p.passes().iter().map(|q| q.kernel).collect();
    assert!(
        kernels.contains(&"layers/conv2d/vjp_registers"),
        "{kernels:?}"
    );
    assert!(kernels.contains(&"layers/pool/vjp"), "{kernels:?}");
    let lifetimes = p.lifetimes();
    let memory = p.memory();
    assert!(memory.slot_bytes.len() < lifetimes.len(), "{memory:?}");
    // Kept tensors (the input, the target, the gradient) share no buffer.
    for kept in [values[0], t.target, grad] {
        let slot = memory.slot_of[kept.0];
        let sharing = memory.slot_of.iter().filter(|&&s| s == slot).count();
        assert_eq!(sharing, 1, "{}", p.tensor_name(kept));
    }
    // Tensors whose lifetimes overlap never share a buffer.
    for i in 0..lifetimes.len() {
        for j in 0..i {
            let (a, b) = (lifetimes[i], lifetimes[j]);
            if memory.slot_of[i] == memory.slot_of[j] {
                assert!(a.first > b.last || b.first > a.last, "{i} and {j} overlap");
            }
        }
    }
}

#[test]
fn a_repeated_step_keeps_what_crosses_from_one_run_to_the_next() {
    let mut p = Program::new(&profile());
    let x = p.tensor("x", 16).unwrap();
    p.keep(x);
    let before = p.tensor("before", 16).unwrap();
    p.pass(
        &ASCENT,
        "main",
        &AscentParams::default(),
        binds(&[x], &[], before),
        Out::Write(before),
        Launch::Flat {
            count: 16,
            size: 256,
        },
    )
    .unwrap();
    p.begin_repeat().unwrap();
    // g is written then read inside the step: it need not survive between runs; `before` is
    // read each run but written before the step: it must; `state` is updated in place.
    let g = p.tensor("g", 16).unwrap();
    let state = p.tensor("state", 16).unwrap();
    p.pass(
        &ASCENT,
        "main",
        &AscentParams::default(),
        binds(&[before], &[], g),
        Out::Write(g),
        Launch::Flat {
            count: 16,
            size: 256,
        },
    )
    .unwrap();
    record_ascent(&mut p, state, g, 16, 0.1, (-1.0, 1.0)).unwrap();
    p.end_repeat(10, 5, &[state]).unwrap();
    let lt = p.lifetimes();
    let step = p.repeat().unwrap().passes.clone();
    assert_eq!(p.repeat().unwrap().records(), 2);
    assert!(p.is_kept(state), "recorded tensors are kept");
    for t in [before, state] {
        assert!(
            lt[t.0].first <= step.start && lt[t.0].last >= step.end - 1,
            "{}",
            p.tensor_name(t)
        );
    }
    assert!(lt[g.0].first >= step.start, "g lives within the step");
    // A second phase may follow; phases never nest.
    p.begin_repeat().unwrap();
    assert!(p.begin_repeat().is_err(), "repeated steps do not nest");
}

#[test]
fn limits_are_errors_at_recording() {
    let mut small = profile();
    small.max_binding = 1024;
    small.max_buffer = 4096;
    let mut p = Program::new(&small);
    let e = p.tensor("big", 1000).unwrap_err().to_string();
    assert!(e.contains("big") && e.contains("1024"), "{e}");
    let c = p.constant("weights", vec![0.0; 512]).unwrap();
    let t = p.tensor("t", 4).unwrap();
    let e = p
        .pass(
            &ASCENT,
            "main",
            &AscentParams::default(),
            vec![(1, Resource::Const(c)), (2, Resource::Tensor(t))],
            Out::Update(t),
            Launch::Flat {
                count: 4,
                size: 256,
            },
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("weights") && e.contains("2048"), "{e}");
    assert!(p.constant("huge", vec![0.0; 2000]).is_err());
    // A 1-D launch wraps into a 2-D grid past the per-dimension limit.
    let mut q = Program::new(&profile());
    let t = q.tensor("t", 4).unwrap();
    q.pass(
        &ASCENT,
        "main",
        &AscentParams::default(),
        binds(&[t], &[], t),
        Out::Update(t),
        Launch::Flat {
            count: 70_000 * 256,
            size: 256,
        },
    )
    .unwrap();
    let grid = q.passes()[0].grid;
    assert!(
        grid[0] <= 65535 && (grid[0] as u64 * grid[1] as u64) >= 70_000,
        "{grid:?}"
    );
}

#[test]
fn the_same_weight_key_is_one_constant() {
    let mut p = Program::new(&profile());
    let key = WeightKey {
        node: 1,
        param: Param::ConvPacked,
        modifier: WeightMod::GammaPositive(0.25),
    };
    let a = p.weight(key, "w", 100).unwrap();
    let b = p.weight(key, "w", 100).unwrap();
    let c = p
        .weight(
            WeightKey {
                modifier: WeightMod::GammaPositive(0.5),
                ..key
            },
            "w",
            100,
        )
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_generator_records_its_transposed_convolutions_forward_and_backward() {
    use crate::layers::ConvTranspose2d;
    // z [4] → dense → [2, 2, 2] → ConvTranspose 2→3 (stride 2, output padding 1: 5×5) → ReLU.
    let mut g = Graph::new(vec![4]).unwrap();
    let d = Dense {
        weight: Tensor::new(vec![8, 4], vec![0.1; 32]).unwrap(),
        bias: None,
    };
    let a = g.push("fc", Op::Dense(d), vec![0]).unwrap();
    let r = g.push_reshape("reshape", a, vec![2, 2, 2]).unwrap();
    let up = ConvTranspose2d {
        weight: Tensor::new(vec![2, 3, 3, 3], vec![0.1; 54]).unwrap(),
        bias: Some(vec![0.0; 3]),
        stride: [2, 2],
        pads: [1; 4],
        dilation: [1, 1],
        output_padding: [1, 1],
        groups: 1,
    };
    let u = g.push("up", Op::ConvTranspose2d(up), vec![r]).unwrap();
    g.push("relu", Op::relu(), vec![u]).unwrap();
    assert_eq!(g.output_shape(), [3, 4, 4]);
    let mut p = Program::new(&profile());
    let values = record_forward(&mut p, &g, 2).unwrap();
    let rules = gradient_rules(&g, GradMode::Gradient);
    let spec = BackwardSpec {
        batch: 2,
        start: g.output,
        stop: 0,
        rules: &rules,
        seed: Seed::Gradient,
        sums: false,
        label: "grad",
        joins: &[],
        masks: &[],
        exclude_parallel: false,
    };
    let t = record_backward(&mut p, &g, &values, &spec).unwrap();
    assert!(t.flow[0].is_some(), "the gradient reaches the input");
    let kernels: Vec<&str> = p.passes().iter().map(|q| q.kernel).collect();
    for k in ["layers/conv_transpose/forward", "layers/conv_transpose/vjp"] {
        assert_eq!(
            kernels.iter().filter(|&&q| q == k).count(),
            1,
            "{kernels:?}"
        );
    }
}

#[test]
fn equal_constants_share_one_upload() {
    let mut p = Program::new(&profile());
    let a = p.constant("a", vec![1.0, 2.0, 3.0]).unwrap();
    let b = p.constant("b", vec![1.0, 2.0, 3.0]).unwrap();
    let c = p.constant("c", vec![1.0, 2.0, -3.0]).unwrap();
    let z = p.constant("-0", vec![-0.0]).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(p.zero().unwrap(), z, "equal bit for bit, not merely equal");
    assert_eq!(p.zero().unwrap(), p.zero().unwrap());
}
