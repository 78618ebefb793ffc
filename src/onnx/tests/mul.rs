//! Mul and Div: a product of two activations with broadcasting (a squeeze-excitation gate),
//! and an activation scaled by a scalar or per-channel constant.

use super::builder::B;
use super::check::{assert_close, err_text, forward, kinds};

/// x [2, 2, 2] · GlobalAveragePool(x) [2, 1, 1] → Sigmoid: a squeeze-excitation gate.
#[test]
fn a_gate_broadcast_over_the_channels_maps_to_mul() {
    let g = B::new(&[2, 2, 2])
        .node("GlobalAveragePool", "pool", &["x"], &["p"], vec![])
        .node("Sigmoid", "s", &["p"], &["gate"], vec![])
        .node("Mul", "m", &["x", "gate"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "GlobalAvgPool", "Sigmoid", "Mul"]);
    assert_eq!(g.nodes[3].shape, [2, 2, 2]);
    let x = [1.0, 2.0, 3.0, 4.0, -1.0, -2.0, 0.0, 1.0];
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let (g0, g1) = (sig(2.5), sig(-0.5));
    let want: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| v * if i < 4 { g0 } else { g1 })
        .collect();
    assert_close(&forward(&g, 1, &x), &want);
    // The gate first: the same product.
    let swapped = B::new(&[2, 2, 2])
        .node("GlobalAveragePool", "pool", &["x"], &["p"], vec![])
        .node("Sigmoid", "s", &["p"], &["gate"], vec![])
        .node("Mul", "m", &["gate", "x"], &["y"], vec![])
        .import()
        .unwrap();
    assert_close(&forward(&swapped, 1, &x), &want);
}

#[test]
fn products_that_do_not_broadcast_are_refused_with_both_shapes() {
    let e = err_text(
        B::new(&[3])
            .init("w", &[3, 2], &[1.0; 6])
            .node("MatMul", "mm", &["x", "w"], &["h"], vec![])
            .node("Mul", "m", &["x", "h"], &["y"], vec![])
            .import(),
    );
    assert!(
        e.contains("Mul") && e.contains("[3]") && e.contains("[2]"),
        "{e}"
    );
}

#[test]
fn scaling_by_a_scalar_or_per_channel_constant_is_a_scale() {
    let x = [1.0, 2.0, 3.0, 4.0];
    let scalar = B::new(&[2, 1, 2])
        .init("c", &[], &[0.5])
        .node("Mul", "m", &["c", "x"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&scalar), ["Input", "BatchNorm"]);
    assert_close(&forward(&scalar, 1, &x), &[0.5, 1.0, 1.5, 2.0]);
    // A layer scale [C, 1, 1], and a divisor [1, C, 1, 1].
    let layer_scale = B::new(&[2, 1, 2])
        .init("c", &[2, 1, 1], &[2.0, -1.0])
        .node("Mul", "m", &["x", "c"], &["y"], vec![])
        .import()
        .unwrap();
    assert_close(&forward(&layer_scale, 1, &x), &[2.0, 4.0, -3.0, -4.0]);
    let div = B::new(&[2, 1, 2])
        .init("c", &[1, 2, 1, 1], &[2.0, 4.0])
        .node("Div", "d", &["x", "c"], &["y"], vec![])
        .import()
        .unwrap();
    assert_close(&forward(&div, 1, &x), &[0.5, 1.0, 0.75, 1.0]);
}

#[test]
fn other_constants_and_divisions_are_refused_by_name() {
    // A constant that is neither a scalar nor one value per channel is a constant node.
    let g = B::new(&[2, 1, 2])
        .init("c", &[1, 2], &[2.0, 3.0])
        .node("Mul", "m", &["x", "c"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Constant", "Mul"]);
    assert_close(
        &forward(&g, 1, &[1.0, 1.0, 2.0, 2.0]),
        &[2.0, 3.0, 4.0, 6.0],
    );
    let e = err_text(
        B::new(&[2, 1, 2])
            .init("c", &[3], &[2.0, 3.0, 4.0])
            .node("Mul", "m", &["x", "c"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("'m'") && e.contains("broadcast"), "{e}");
    let e = err_text(
        B::new(&[2])
            .init("c", &[2], &[2.0, 0.0])
            .node("Div", "d", &["x", "c"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("'d'") && e.contains("zero"), "{e}");
    // A constant by an activation: times the reciprocal.
    let g = B::new(&[2])
        .init("c", &[2], &[2.0, 1.0])
        .node("Div", "d", &["c", "x"], &["y"], vec![])
        .import()
        .unwrap();
    assert_close(&forward(&g, 1, &[4.0, -0.5]), &[0.5, -2.0]);
}

/// Sums and differences of activations of different shapes, a constant minus an activation,
/// and Expand of an activation: broadcast by products with ones.
#[test]
fn broadcasting_sums_differences_and_expand() {
    use super::builder::{ai, ais, i64_tensor};
    // x [1, 2, 3, 1] (per item [2, 3, 1]) and its mean over H, [2, 1, 1].
    let x = [1.0, 2.0, 6.0, -1.0, 0.0, 4.0];
    let mean = [3.0, 1.0];
    let centred: Vec<f64> = (0..6).map(|i| x[i] - mean[i / 3]).collect();
    let two = |op: &str, a: &str, b: &str| {
        B::new(&[2, 3, 1])
            .node(
                "ReduceMean",
                "m",
                &["x"],
                &["mu"],
                vec![ais("axes", &[2]), ai("keepdims", 1)],
            )
            .node(op, "s", &[a, b], &["y"], vec![])
            .opset(13)
            .import()
            .unwrap()
    };
    let g = two("Sub", "x", "mu");
    assert_close(&forward(&g, 1, &x), &centred);
    let g = two("Sub", "mu", "x");
    let want: Vec<f64> = centred.iter().map(|v| -v).collect();
    assert_close(&forward(&g, 1, &x), &want);
    let g = two("Add", "mu", "x");
    let want: Vec<f64> = (0..6).map(|i| x[i] + mean[i / 3]).collect();
    assert_close(&forward(&g, 1, &x), &want);
    // x / mean, a normalisation: a Mul by the reciprocal, which the gate rule holds constant.
    let g = two("Div", "x", "mu");
    assert!(kinds(&g).contains(&"Reciprocal"), "{:?}", kinds(&g));
    let want: Vec<f64> = (0..6).map(|i| x[i] / mean[i / 3]).collect();
    assert_close(&forward(&g, 1, &x), &want);
    // 10 − x.
    let g = B::new(&[2, 3, 1])
        .init("ten", &[], &[10.0])
        .node("Sub", "s", &["ten", "x"], &["y"], vec![])
        .import()
        .unwrap();
    let want: Vec<f64> = x.iter().map(|v| 10.0 - v).collect();
    assert_close(&forward(&g, 1, &x), &want);
    // Expand [N, 2, 3, 1] to [N, 2, 3, 2] (a shape input of lower rank, right-aligned).
    let g = B::new(&[2, 3, 1])
        .init_t(i64_tensor("shape", &[3, 2]))
        .node("Expand", "e", &["x", "shape"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [2, 3, 2]);
    let want: Vec<f64> = x.iter().flat_map(|&v| [v, v]).collect();
    assert_close(&forward(&g, 1, &x), &want);
    let e = err_text(
        B::new(&[2, 3, 1])
            .init_t(i64_tensor("shape", &[4, 2, 3, 1]))
            .node("Expand", "e", &["x", "shape"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("'e'") && e.contains("batch"), "{e}");
    let e = err_text(
        B::new(&[2, 3, 1])
            .init_t(i64_tensor("shape", &[3, 3, 1]))
            .node("Expand", "e", &["x", "shape"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("does not broadcast"), "{e}");
}
