//! Checks on imported graphs: run them, list their layer kinds, compare outputs, read errors.

use crate::error::Result;
use crate::layers::reference_forward;
use crate::model::{Graph, Op, Tensor};

/// The graph's output for a batch of inputs (f64 reference).
pub(super) fn forward(g: &Graph, batch: usize, x: &[f64]) -> Vec<f64> {
    let shape = std::iter::once(batch)
        .chain(g.input_shape().iter().cloned())
        .collect();
    let input = Tensor::new(shape, x.to_vec()).unwrap();
    reference_forward(g, &input)[g.output].data.clone()
}

pub(super) fn kinds(g: &Graph) -> Vec<&'static str> {
    g.nodes.iter().map(|n| n.op.kind()).collect()
}

pub(super) fn assert_close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
    }
}

pub(super) fn only<T>(g: &Graph, f: impl Fn(&Op) -> Option<&T>) -> &T {
    let found: Vec<&T> = g.nodes.iter().filter_map(|n| f(&n.op)).collect();
    assert_eq!(found.len(), 1, "{:?}", kinds(g));
    found[0]
}

pub(super) fn err_text(r: Result<Graph>) -> String {
    match r {
        Ok(g) => panic!("expected an error, got {:?}", kinds(&g)),
        Err(e) => e.to_string(),
    }
}
