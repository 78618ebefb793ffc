//! Tensors whose batch the graph moves or merges (held in whole form at batch 1), and the
//! activation forms of Gather, Squeeze, Unsqueeze and Sub.

use super::builder::{ai, ais, i64_tensor, B};
use super::check::{assert_close, err_text, forward, kinds};

fn iota(n: usize) -> Vec<f64> {
    (0..n).map(|v| v as f64 - 2.5).collect()
}

#[test]
fn a_batch_moved_and_moved_back_is_per_item() {
    // [N, 2, 1, 3] → [2, N, 1, 3] → ReLU → [N, 2, 1, 3]: relu(x) item by item.
    let g = B::new(&[2, 1, 3])
        .node(
            "Transpose",
            "t",
            &["x"],
            &["a"],
            vec![ais("perm", &[1, 0, 2, 3])],
        )
        .node("Relu", "r", &["a"], &["b"], vec![])
        .node(
            "Transpose",
            "back",
            &["b"],
            &["y"],
            vec![ais("perm", &[1, 0, 2, 3])],
        )
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [2, 1, 3]);
    let x = iota(12);
    let want: Vec<f64> = x.iter().map(|v| v.max(0.0)).collect();
    assert_close(&forward(&g, 2, &x), &want);
    // Attention's heads: [N, 4] → [N·2, 2] (the batch merged into the heads) → [N, 2, 2].
    let g = B::new(&[4])
        .init_t(i64_tensor("heads", &[2, 2]))
        .init_t(i64_tensor("back", &[1, 2, 2]))
        .node("Reshape", "h", &["x", "heads"], &["a"], vec![])
        .node("Softmax", "sm", &["a"], &["s"], vec![ai("axis", -1)])
        .node("Reshape", "u", &["s", "back"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [2, 2]);
    let y = forward(&g, 1, &[0.0, 2f64.ln(), 0.0, 0.0]);
    assert_close(&y, &[1.0 / 3.0, 2.0 / 3.0, 0.5, 0.5]);
    // With a fixed batch other than 1 the merged forms cannot be read.
    let e = err_text(
        B::new(&[2, 1, 3])
            .batch(4)
            .node(
                "Transpose",
                "t",
                &["x"],
                &["y"],
                vec![ais("perm", &[1, 0, 2, 3])],
            )
            .import(),
    );
    assert!(e.contains("'t'") && e.contains("fixed at 4"), "{e}");
}

#[test]
fn gather_of_an_activation_takes_one_index_or_an_even_run() {
    let gather = |idx: Vec<i64>, scalar: bool| {
        let mut t = i64_tensor("i", &idx);
        if scalar {
            t.dims.clear();
        }
        B::new(&[4, 1, 2])
            .init_t(t)
            .node("Gather", "g", &["x", "i"], &["y"], vec![ai("axis", 1)])
            .import()
    };
    let x = iota(8);
    // One index: the class token x[:, 1], the axis dropped.
    let g = gather(vec![1], true).unwrap();
    assert_eq!(g.output_shape(), [1, 2]);
    assert_close(&forward(&g, 1, &x), &[x[2], x[3]]);
    // An evenly spaced run (negative indices count from the end) keeps the axis.
    let g = gather(vec![3, 1], false).unwrap();
    assert_eq!(g.output_shape(), [2, 1, 2]);
    assert_close(&forward(&g, 1, &x), &[x[6], x[7], x[2], x[3]]);
    assert_eq!(gather(vec![-1], false).unwrap().output_shape(), [1, 1, 2]);
    // Indices of several axes replace the gathered one (the dynamo exporter's `as_strided`).
    let mut t = i64_tensor("i", &[0, 1]);
    t.dims = vec![1, 2];
    let g = B::new(&[4, 1, 2])
        .init_t(t)
        .node("Gather", "g", &["x", "i"], &["y"], vec![ai("axis", 1)])
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [1, 2, 1, 2]);
    assert_close(&forward(&g, 1, &x), &x[..4]);
    let e = err_text(gather(vec![0, 1, 3], false));
    assert!(e.contains("'g'") && e.contains("evenly"), "{e}");
    let e = err_text(gather(vec![4], true));
    assert!(e.contains("'g'") && e.contains("out of range"), "{e}");
}

#[test]
fn squeeze_unsqueeze_and_sub_of_activations() {
    let g = B::new(&[2, 1, 3])
        .init_t(i64_tensor("a1", &[2]))
        .init_t(i64_tensor("a0", &[0]))
        .node("Squeeze", "s", &["x", "a1"], &["a"], vec![])
        .node("Unsqueeze", "u", &["a", "a0"], &["y"], vec![])
        .import()
        .unwrap();
    // [N, 2, 3] → [1, N, 2, 3]: the batch second; per item [1, 2, 3].
    assert_eq!(g.output_shape(), [1, 2, 3]);
    assert_close(&forward(&g, 2, &iota(12)), &iota(12));
    let e = err_text(
        B::new(&[2, 1, 3])
            .init_t(i64_tensor("a", &[1]))
            .node("Squeeze", "s", &["x", "a"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("'s'") && e.contains("size 2"), "{e}");
    let g = B::new(&[2])
        .init("c", &[2], &[1.0, -1.0])
        .node("Sub", "d", &["x", "c"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Constant", "Add"]);
    assert_close(&forward(&g, 1, &[3.0, 3.0]), &[2.0, 4.0]);
    // x − x and c − x (see mul.rs for broadcasting ones).
    for (inputs, want) in [(["x", "x"], [0.0, 0.0]), (["c", "x"], [-2.0, -4.0])] {
        let g = B::new(&[2])
            .init("c", &[2], &[1.0, -1.0])
            .node("Sub", "d", &inputs, &["y"], vec![])
            .import()
            .unwrap();
        assert_close(&forward(&g, 1, &[3.0, 3.0]), &want);
    }
}

#[test]
fn concat_takes_a_class_token_and_legacy_softmax_flattens() {
    let g = B::new(&[1, 2, 3])
        .init("cls", &[1, 1, 1, 3], &[7.0, 8.0, 9.0])
        .node("Concat", "cat", &["cls", "x"], &["y"], vec![ai("axis", 2)])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Constant", "Concat"]);
    assert_eq!(g.output_shape(), [1, 3, 3]);
    let y = forward(&g, 2, &iota(12));
    assert_close(&y[..9], &[7.0, 8.0, 9.0, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5]);
    assert_close(&y[9..12], &[7.0, 8.0, 9.0]);
    // A constant that differs per item cannot be concatenated.
    let e = err_text(
        B::new(&[1, 2, 3])
            .init("cls", &[2, 1, 1, 3], &[0.0; 6])
            .node("Concat", "cat", &["cls", "x"], &["y"], vec![ai("axis", 2)])
            .import(),
    );
    assert!(e.contains("'cat'") && e.contains("every item"), "{e}");
    // Opset 11: a softmax over the flattened [1, 2, 3] of each item.
    let g = B::new(&[1, 2, 3])
        .node("Softmax", "sm", &["x"], &["y"], vec![])
        .opset(11)
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Reshape", "Softmax", "Reshape"]);
    let y = forward(&g, 1, &[0.0; 6]);
    assert_close(&y, &[1.0 / 6.0; 6]);
}

#[test]
fn einsum_of_two_activations_is_a_matrix_product() {
    use super::builder::astr;
    // MaxViT's form: scores q·kᵀ per head, then the output attn·v (here x·xᵀ and (x·xᵀ)·x).
    let g = B::new(&[1, 2, 3])
        .node(
            "Einsum",
            "qk",
            &["x", "x"],
            &["s"],
            vec![astr("equation", "B H I D, B H J D -> B H I J")],
        )
        .node(
            "Einsum",
            "sv",
            &["s", "x"],
            &["y"],
            vec![astr("equation", "bhij,bhjd->bhid")],
        )
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [1, 2, 3]);
    let x = [1.0, 0.0, 2.0, 0.0, 1.0, 1.0];
    // s = x·xᵀ = [[5, 2], [2, 2]]; y = s·x.
    let y = forward(&g, 1, &x);
    assert_close(&y, &[5.0, 2.0, 12.0, 2.0, 2.0, 6.0]);
    let e = err_text(
        B::new(&[1, 2, 3])
            .node(
                "Einsum",
                "t",
                &["x", "x"],
                &["y"],
                vec![astr("equation", "bhid,bhjd->bh")],
            )
            .import(),
    );
    assert!(e.contains("'t'") && e.contains("matrix products"), "{e}");
}

#[test]
fn layer_norm_written_out_is_fused() {
    let ln = |b: B| {
        b.init("two", &[], &[2.0])
            .init("eps", &[], &[1e-5])
            .init("g", &[4], &[1.0, 2.0, 0.5, -1.0])
            .init("b", &[4], &[0.0, 1.0, 0.0, 0.5])
            .node("ReduceMean", "m", &["x"], &["mu"], vec![ais("axes", &[-1])])
            .node("Sub", "d", &["x", "mu"], &["c"], vec![])
            .node("Pow", "p", &["c", "two"], &["c2"], vec![])
            .node(
                "ReduceMean",
                "v",
                &["c2"],
                &["var"],
                vec![ais("axes", &[-1])],
            )
            .node("Add", "e", &["var", "eps"], &["ve"], vec![])
            .node("Sqrt", "s", &["ve"], &["sd"], vec![])
            .node("Div", "q", &["c", "sd"], &["xh"], vec![])
            .node("Mul", "scale", &["xh", "g"], &["y0"], vec![])
            .node("Add", "shift", &["y0", "b"], &["y"], vec![])
    };
    let g = ln(B::new(&[4])).opset(13).import().unwrap();
    assert_eq!(kinds(&g), ["Input", "LayerNorm"]);
    let x = [1.0, 2.0, 3.0, 6.0];
    let (mean, var) = (3.0, (4.0 + 1.0 + 0.0 + 9.0) / 4.0);
    let sd = f64::sqrt(var + 1e-5);
    let want: Vec<f64> = x
        .iter()
        .zip([1.0, 2.0, 0.5, -1.0].iter().zip([0.0, 1.0, 0.0, 0.5]))
        .map(|(v, (g, b))| (v - mean) / sd * g + b)
        .collect();
    assert_close(&forward(&g, 1, &x), &want);
}

#[test]
fn l2_normalisation_written_out_is_fused() {
    // F.normalize(x, dim=-1) as the dynamo exporter writes it (axes as an input, opset 18),
    // and a Clip of a constant (Swin V2's logit scale) folded.
    let l2 = |b: B| {
        b.init_t(i64_tensor("axes", &[-1]))
            .init_t(i64_tensor("shape", &[1, 1, 2, 3]))
            .init("eps", &[], &[1e-12])
            .init("scale", &[], &[5.0])
            .init("hi", &[], &[4.6])
            .node(
                "ReduceL2",
                "r",
                &["x", "axes"],
                &["n"],
                vec![ai("keepdims", 1)],
            )
            .node("Clip", "c", &["n", "eps"], &["nc"], vec![])
            .node("Expand", "e", &["nc", "shape"], &["ne"], vec![])
            .node("Div", "d", &["x", "ne"], &["y0"], vec![])
            .node("Clip", "k", &["scale", "", "hi"], &["s"], vec![])
            .node("Mul", "m", &["y0", "s"], &["y"], vec![])
    };
    let g = l2(B::new(&[1, 2, 3])).opset(18).import().unwrap();
    assert_eq!(kinds(&g), ["Input", "L2Norm", "BatchNorm"]);
    let x = [3.0, 0.0, 4.0, 0.0, 0.0, 0.0];
    let want = [0.6 * 4.6, 0.0, 0.8 * 4.6, 0.0, 0.0, 0.0];
    assert_close(&forward(&g, 1, &x), &want);
    // Without the Div the norm alone is not mapped, and the error says by what.
    let e = err_text(
        B::new(&[1, 2, 3])
            .node("ReduceL2", "r", &["x"], &["n"], vec![ais("axes", &[-1])])
            .import(),
    );
    assert!(e.contains("'r'") && e.contains("L2 normalisation"), "{e}");
}

#[test]
fn a_channels_last_spatial_mean_is_a_global_pool() {
    // TensorFlow's squeeze-excitation: ReduceMean over H, W of [N, H, W, C].
    let g = B::new(&[2, 2, 3])
        .node(
            "ReduceMean",
            "m",
            &["x"],
            &["y"],
            vec![ais("axes", &[1, 2])],
        )
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [1, 1, 3]);
    let x: Vec<f64> = (0..12).map(|v| v as f64).collect();
    assert_close(&forward(&g, 1, &x), &[4.5, 5.5, 6.5]);
}
