//! Flatten and Reshape.

use super::builder::{ai, atensor, dim_value, i64_tensor, value_info, B};
use super::check::{assert_close, err_text, forward, kinds};
use crate::error::Result;

#[test]
fn flatten_and_reshape_semantics() {
    let shape_of = |target: &[i64], item: &[i64], fixed: Option<i64>| -> Result<Vec<usize>> {
        let mut b = B::new(item).init_t(i64_tensor("s", target)).node(
            "Reshape",
            "rs",
            &["x", "s"],
            &["y"],
            vec![],
        );
        if let Some(n) = fixed {
            let mut dims = vec![dim_value(n)];
            dims.extend(item.iter().map(|&d| dim_value(d)));
            b.inputs = vec![value_info("x", dims)];
        }
        b.import().map(|g| g.output_shape().to_vec())
    };
    assert_eq!(shape_of(&[0, -1], &[2, 3, 4], None).unwrap(), [24]);
    assert_eq!(shape_of(&[-1, 6, 4], &[2, 3, 4], None).unwrap(), [6, 4]);
    assert_eq!(shape_of(&[0, 0, -1], &[2, 3, 4], None).unwrap(), [2, 12]);
    assert_eq!(
        shape_of(&[0, 0, 12, 1], &[2, 3, 4], None).unwrap(),
        [2, 12, 1]
    );
    // A literal batch size is fine when the input's batch is fixed to it, or open (a graph
    // runs per item, as at batch 1).
    assert!(shape_of(&[2, -1], &[2, 3, 4], None).is_err());
    assert_eq!(shape_of(&[1, -1], &[2, 3, 4], None).unwrap(), [24]);
    assert_eq!(shape_of(&[1, -1], &[2, 3, 4], Some(1)).unwrap(), [24]);
    let e = shape_of(&[-1, 5], &[2, 3, 4], None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'rs'"), "{e}");
    assert!(shape_of(&[0, -1, -1], &[2, 3, 4], None).is_err());
    assert!(shape_of(&[0, 7, -1], &[2, 3, 4], None).is_err());

    // Reshape values keep their order.
    let g = B::new(&[2, 2, 1])
        .init_t(i64_tensor("s", &[0, 4]))
        .node("Reshape", "rs", &["x", "s"], &["y"], vec![])
        .import()
        .unwrap();
    assert_close(
        &forward(&g, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]),
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    );

    // The shape from a Constant node.
    let g = B::new(&[2, 3, 4])
        .node(
            "Constant",
            "k",
            &[],
            &["s"],
            vec![atensor("value", i64_tensor("", &[-1, 12, 2]))],
        )
        .node("Reshape", "rs", &["x", "s"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [12, 2]);

    let g = B::new(&[2, 3, 4])
        .node("Flatten", "fl", &["x"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(
        (kinds(&g), g.output_shape()),
        (vec!["Input", "Reshape"], &[24][..])
    );
    let g = B::new(&[2, 3, 4])
        .node("Flatten", "fl", &["x"], &["y"], vec![ai("axis", -3)])
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [24]);
    let e = err_text(
        B::new(&[2, 3, 4])
            .node("Flatten", "fl", &["x"], &["y"], vec![ai("axis", 2)])
            .import(),
    );
    // Flattening the batch into the channels leaves it inside an axis at the output.
    assert!(e.contains("'y'") && e.contains("batch"), "{e}");
}
