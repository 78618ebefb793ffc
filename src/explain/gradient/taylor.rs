//! Simple Taylor decomposition (Montavon et al. 2017, §"simple Taylor"):
//! `R = ∇f(x̃) ⊙ (x − x̃)` at a root point x̃, which is zero, a given input, or found on the
//! segment `x̃ = t·x`, t ∈ [0, 1], where f changes sign (nearest to x). The result reports
//! f(x̃) and the residual `f(x) − ΣR` the first-order expansion leaves.

use super::gradient_spec;
use super::{Baseline, Scorer};
use crate::error::Result;
use crate::explain::engine::{Combine, Engine, SampleMap, Samples};
use crate::explain::explanation::{batch_shape, check_batch};
use crate::explain::filter::{ConditionSet, Filter};
use crate::explain::Explanation;
use crate::explain::Target;
use crate::gpu::DeviceModel;
use crate::layers::GradMode;
use crate::model::Tensor;

/// Points evaluated per round of the root search (one submission per round).
const SEARCH_POINTS: usize = 16;
/// Rounds of the root search: the bracket shrinks 15-fold each round, to ~1e-6 of the segment.
const SEARCH_ROUNDS: usize = 5;

/// Where the expansion is taken.
#[derive(Clone, Debug, PartialEq)]
pub enum RootPoint {
    /// x̃ = 0.
    Zero,
    /// A given point (one for all inputs or one per input).
    Given(Baseline),
    /// x̃ = t·x with f(t·x) = 0, by bracketing on the segment; where f keeps its sign on the
    /// whole segment, the point of smallest |f| on a grid of it.
    Search,
}

/// A simple-Taylor plan, compiled once.
pub struct TaylorPlan {
    engine: Engine,
    scorer: Scorer,
    root: RootPoint,
    in_shape: Vec<usize>,
}

impl TaylorPlan {
    /// Bytes this plan allocated on the device besides the model's shared weights (its
    /// tensor buffers and its own constants).
    pub fn memory_bytes(&self) -> u64 {
        self.engine.memory_bytes() + self.scorer.memory_bytes()
    }

    /// Plans the decomposition for up to `batch` inputs per submission.
    pub fn new(model: &DeviceModel, root: RootPoint, batch: usize) -> Result<Self> {
        Self::with_filter(model, root, batch, Filter::default())
    }

    /// [`Self::new`] with filtering's conditions and recorded nodes (see [`Filter`]).
    pub fn with_filter(
        model: &DeviceModel,
        root: RootPoint,
        batch: usize,
        filter: Filter,
    ) -> Result<Self> {
        if let RootPoint::Given(b) = &root {
            b.check_shape(model.graph().input_shape())?;
        }
        let mut spec = gradient_spec(
            model.graph(),
            GradMode::Gradient,
            1,
            Combine {
                map: SampleMap::Identity,
                delta: true,
                second: false,
            },
            batch,
        );
        spec.filter = filter;
        Ok(TaylorPlan {
            engine: Engine::new(model, &spec)?,
            scorer: Scorer::new(model, spec.filter.start, batch.max(1) * SEARCH_POINTS)?,
            root,
            in_shape: model.graph().input_shape().to_vec(),
        })
    }

    /// Explains `x`; the result carries f(x̃) as reference score and `f(x) − ΣR` as residual.
    pub fn run(&mut self, x: &Tensor, targets: &[Target]) -> Result<Explanation> {
        self.run_filtered(x, targets, &[])
    }

    /// [`Self::run`] under conditions, one set per input (none: unconditioned).
    pub fn run_filtered(
        &mut self,
        x: &Tensor,
        targets: &[Target],
        conditions: &[ConditionSet],
    ) -> Result<Explanation> {
        let n = check_batch(x, &self.in_shape, targets)?;
        let (resolved, outputs) = self.scorer.resolve(x, targets)?;
        let d: usize = self.in_shape.iter().product();
        let mut roots = Tensor::zeros(x.shape.clone());
        match &self.root {
            RootPoint::Zero => {}
            RootPoint::Given(b) => {
                b.check(&self.in_shape, n)?;
                for i in 0..n {
                    b.write(i, &mut roots.data[i * d..(i + 1) * d]);
                }
            }
            RootPoint::Search => {
                let ts = self.search(x, &resolved)?;
                for (i, t) in ts.iter().enumerate() {
                    for k in i * d..(i + 1) * d {
                        roots.data[k] = t * x.data[k];
                    }
                }
            }
        }
        let src = AtRoot {
            x,
            roots: &roots,
            targets: &resolved,
        };
        let got = self.engine.run_all(n, &src, conditions)?;
        let mut e = Explanation::new(
            Tensor::new(batch_shape(n, &self.in_shape), got.m1)?,
            outputs,
            &resolved,
        )?
        .with_reference(&got.outputs, &resolved, false)?;
        e.records = got.records;
        Ok(e)
    }

    /// The t of each input's root point t·x.
    fn search(&mut self, x: &Tensor, targets: &[Target]) -> Result<Vec<f32>> {
        let n = x.shape[0];
        let d: usize = self.in_shape.iter().product();
        // Each input's bracket [lo, hi] and whether f changes sign in it.
        let mut brackets = vec![(0.0f32, 1.0f32, true); n];
        let mut best = vec![1.0f32; n];
        for _ in 0..SEARCH_ROUNDS {
            let k = SEARCH_POINTS;
            let mut pts = Tensor::zeros(batch_shape(n * k, &self.in_shape));
            let ts: Vec<Vec<f32>> = brackets
                .iter()
                .map(|&(lo, hi, _)| {
                    (0..k)
                        .map(|j| lo + (hi - lo) * j as f32 / (k - 1) as f32)
                        .collect()
                })
                .collect();
            // Point j of input i is t_ij · x_i.
            for (row, (ij, t)) in pts.data.chunks_mut(d).zip(ts.iter().flatten().enumerate()) {
                let i = ij / k;
                for (v, xv) in row.iter_mut().zip(&x.data[i * d..(i + 1) * d]) {
                    *v = t * xv;
                }
            }
            let y = self.scorer.logits(&pts)?;
            let f = y.shape[1];
            for i in 0..n {
                if !brackets[i].2 {
                    continue;
                }
                let w = targets[i].weights_for(&y.data[i * k * f..(i * k + 1) * f])?;
                let score = |j: usize| -> f64 {
                    let row = &y.data[(i * k + j) * f..(i * k + j + 1) * f];
                    w.iter().zip(row).map(|(a, b)| *a as f64 * *b as f64).sum()
                };
                let fs: Vec<f64> = (0..k).map(score).collect();
                // The sign change nearest to x (largest t); its better end is the root so far.
                match (0..k - 1)
                    .rev()
                    .find(|&j| (fs[j] <= 0.0) != (fs[j + 1] <= 0.0))
                {
                    Some(j) => {
                        brackets[i] = (ts[i][j], ts[i][j + 1], true);
                        let e = if fs[j].abs() <= fs[j + 1].abs() {
                            j
                        } else {
                            j + 1
                        };
                        best[i] = ts[i][e];
                    }
                    None => {
                        let e = (0..k)
                            .min_by(|&a, &b| fs[a].abs().total_cmp(&fs[b].abs()))
                            .unwrap_or(0);
                        best[i] = ts[i][e];
                        brackets[i].2 = false;
                    }
                }
            }
        }
        Ok(best)
    }
}

/// The gradient at the root point, times `x − x̃`.
struct AtRoot<'a> {
    x: &'a Tensor,
    roots: &'a Tensor,
    targets: &'a [Target],
}

impl Samples for AtRoot<'_> {
    fn point(&self, i: usize, _s: usize, out: &mut [f32]) -> Result<()> {
        let d = out.len();
        out.copy_from_slice(&self.roots.data[i * d..(i + 1) * d]);
        Ok(())
    }

    fn delta(&self, i: usize, a: &mut [f32], b: &mut [f32]) -> Result<()> {
        let d = a.len();
        a.copy_from_slice(&self.x.data[i * d..(i + 1) * d]);
        b.copy_from_slice(&self.roots.data[i * d..(i + 1) * d]);
        Ok(())
    }

    fn target(&self, i: usize) -> &Target {
        &self.targets[i]
    }
}
