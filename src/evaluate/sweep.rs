//! A perturbation sweep as one GPU program: every step builds a batch of perturbed inputs from
//! the inputs and their rankings, runs the forward pass on it and stores the evaluated class's
//! score; the step repeats within one submission and only the scores come back.

use super::ranking::Grid;
use crate::error::{Error, Result};
use crate::explain::engine::explained_node;
use crate::gpu::{DeviceModel, Executable};
use crate::interpret::{StepParams, STEP};
use crate::plan::{binds, items_per_submission, record_forward_to, Launch, Out, Program, TensorId};

crate::params! {
    /// The batch, values per input, slots per input (K + 1), regions removed per step; the
    /// region grid; the fill's form and the steps it holds.
    pub struct PerturbParams {
        pub batch: u32, pub features: u32, pub slots: u32, pub per_step: u32,
        pub regions: u32, pub c: u32, pub h: u32, pub w: u32,
        pub size: u32, pub pad_h: u32, pub pad_w: u32, pub blocks_w: u32,
        pub is_features: u32, pub image_fill: u32, pub steps: u32, pub pad0: u32,
    }
}

crate::params! {
    /// The batch, the classes, slots per input, logit (0) or probability (1).
    pub struct ScoreParams { pub batch: u32, pub classes: u32, pub slots: u32, pub probability: u32 }
}

crate::kernel!(
    /// A batch of perturbed inputs from the inputs, their region ranks and fills.
    pub PERTURB: PerturbParams = "evaluate/perturb"
);
crate::kernel!(
    /// The evaluated class's logit or probability per slot.
    pub SCORE: ScoreParams = "evaluate/score"
);

/// Steps of one submission at most (a real GPU's watchdog sees one submission).
const MAX_REPEATS: usize = 64;

/// What a sweep removes, how, and what it scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepShape {
    /// The regions of one input.
    pub grid: Grid,
    /// Regions removed per step.
    pub per_step: usize,
    /// Perturbation steps K (the curve has K + 1 points, the input itself first).
    pub steps: usize,
    /// The fill is an image (one value per input value) rather than one value per step.
    pub image_fill: bool,
    /// Score the softmax probability rather than the logit.
    pub probability: bool,
}

impl SweepShape {
    /// Points per curve.
    pub fn slots(&self) -> usize {
        self.steps + 1
    }

    /// Values of one input's fill.
    pub fn fill_len(&self) -> usize {
        if self.image_fill {
            self.grid.numel()
        } else {
            self.steps
        }
    }
}

/// One recorded program of a sweep: `batch` perturbed inputs per forward pass, the step
/// repeated up to `repeats` times per submission.
struct Part {
    exe: Executable,
    batch: usize,
    repeats: usize,
    t: [TensorId; 6],
}

impl Part {
    fn record(
        model: &DeviceModel,
        shape: &SweepShape,
        capacity: usize,
        batch: usize,
        repeats: usize,
    ) -> Result<Part> {
        let graph = model.graph();
        let numel = shape.grid.numel();
        let node = explained_node(graph);
        let classes: usize = graph.nodes[node].shape.iter().product();
        let regions = shape.grid.count();
        let mut p = Program::new(&model.profile());
        let x = p.tensor("inputs", capacity * numel)?;
        let ranks = p.tensor("region ranks", capacity * regions)?;
        let fills = p.tensor("fills", capacity * shape.fill_len())?;
        let targets = p.tensor("classes", capacity)?;
        let cursor = p.tensor("cursor", 3)?;
        let scores = p.tensor("scores", repeats * batch)?;
        for t in [x, ranks, fills, targets, cursor, scores] {
            p.keep(t);
        }
        let xp = p.tensor("perturbed inputs", batch * numel)?;
        let g = shape.grid;
        let params = PerturbParams {
            batch: batch as u32,
            features: numel as u32,
            slots: shape.slots() as u32,
            per_step: shape.per_step as u32,
            regions: regions as u32,
            c: g.chw[0] as u32,
            h: g.chw[1] as u32,
            w: g.chw[2] as u32,
            size: g.size as u32,
            pad_h: g.pad[0] as u32,
            pad_w: g.pad[1] as u32,
            blocks_w: g.blocks[1] as u32,
            is_features: g.features as u32,
            image_fill: shape.image_fill as u32,
            steps: shape.steps as u32,
            pad0: 0,
        };
        p.begin_repeat()?;
        p.pass(
            &PERTURB,
            "main",
            &params,
            binds(&[x, ranks, fills, cursor], &[], xp),
            Out::Write(xp),
            Launch::Flat {
                count: (batch * numel) as u64,
                size: 256,
            },
        )?;
        let values = record_forward_to(&mut p, graph, batch, node, Some(xp))?;
        let sp = ScoreParams {
            batch: batch as u32,
            classes: classes as u32,
            slots: shape.slots() as u32,
            probability: shape.probability as u32,
        };
        p.pass(
            &SCORE,
            "main",
            &sp,
            binds(&[values[node], targets, cursor], &[], scores),
            Out::Update(scores),
            Launch::Flat {
                count: batch as u64,
                size: 64,
            },
        )?;
        // The cursor is the first slot of the batch: it moves on by a batch per step.
        let next = StepParams {
            by: batch as f32,
            ..StepParams::default()
        };
        p.pass(
            &STEP,
            "main",
            &next,
            binds(&[], &[], cursor),
            Out::Update(cursor),
            Launch::Grid([1, 1, 1]),
        )?;
        p.end_repeat_from(repeats, 1, 0, &[])?;
        Ok(Part {
            exe: Executable::new(model, p)?,
            batch,
            repeats,
            t: [x, ranks, fills, targets, cursor, scores],
        })
    }

    fn write(&self, x: &[f32], ranks: &[u32], fills: &[f32], classes: &[u32]) -> Result<()> {
        let [tx, tr, tf, tt, ..] = self.t;
        self.exe.write(tx, x)?;
        self.exe.write(tr, bytemuck::cast_slice(ranks))?;
        self.exe.write(tf, fills)?;
        self.exe.write(tt, bytemuck::cast_slice(classes))
    }

    /// Scores of `steps` batches from slot `first` on (of `n` inputs written before).
    fn run(&mut self, first: usize, steps: usize, n: usize) -> Result<Vec<f32>> {
        let [.., tc, ts] = self.t;
        self.exe.set_times(0, steps)?;
        self.exe
            .write(tc, &[first as f32, first as f32, n as f32])?;
        let got = self.exe.run(&[(ts, steps * self.batch)])?;
        Ok(got.into_iter().next().unwrap_or_default())
    }
}

/// Slots one sweep run covers at most: the cursor is an f32, exact to 2²⁴.
pub const MAX_SLOTS: usize = 1 << 24;

/// A compiled sweep for up to `capacity` inputs at a time: full batches in submissions of up
/// to 64 steps, and the last, smaller batch in a program of its own, so no forward pass runs on
/// empty slots.
pub struct Sweep {
    model_shape: SweepShape,
    capacity: usize,
    main: Part,
    tails: Vec<Part>,
}

impl Sweep {
    /// Records the sweep for `capacity` inputs, `batch` perturbed inputs per forward pass.
    pub fn new(
        model: &DeviceModel,
        shape: SweepShape,
        capacity: usize,
        batch: usize,
    ) -> Result<Sweep> {
        let graph = model.graph();
        let numel: usize = graph.input_shape().iter().product();
        if numel != shape.grid.numel() {
            return Err(Error::Shape(format!(
                "the sweep's grid has {} values, the model's input {numel}",
                shape.grid.numel()
            )));
        }
        let capacity = capacity.max(1);
        if capacity * shape.slots() > MAX_SLOTS {
            return Err(Error::Invalid(format!(
                "{capacity} inputs × {} points exceed one sweep's {MAX_SLOTS} slots",
                shape.slots()
            )));
        }
        let batch =
            items_per_submission(&model.profile(), graph, batch)?.min(capacity * shape.slots());
        let steps_total = (capacity * shape.slots()) / batch;
        let repeats = steps_total
            .div_ceil(steps_total.div_ceil(MAX_REPEATS).max(1))
            .max(1);
        Ok(Sweep {
            model_shape: shape,
            capacity,
            main: Part::record(model, &shape, capacity, batch, repeats)?,
            tails: Vec::new(),
        })
    }

    /// Inputs per run at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Perturbed inputs per forward pass.
    pub fn batch(&self) -> usize {
        self.main.batch
    }

    /// The compiled program of the full batches.
    pub fn executable(&self) -> &Executable {
        &self.main.exe
    }

    /// Scores of every step of `n` inputs (`x` holds `n` inputs, `ranks` their region ranks,
    /// `fills` their fills, `classes` the class evaluated per input): `[n, K + 1]`.
    pub fn run(
        &mut self,
        model: &DeviceModel,
        x: &[f32],
        ranks: &[u32],
        fills: &[f32],
        classes: &[u32],
    ) -> Result<Vec<f32>> {
        let shape = self.model_shape;
        let n = classes.len();
        let numel = shape.grid.numel();
        let regions = shape.grid.count();
        if n == 0 || n > self.capacity {
            return Err(Error::Invalid(format!(
                "a sweep run takes 1 to {} inputs, got {n}",
                self.capacity
            )));
        }
        if x.len() != n * numel || ranks.len() != n * regions || fills.len() != n * shape.fill_len()
        {
            return Err(Error::Shape(format!(
                "sweep of {n} inputs: {} input values (want {}), {} ranks (want {}), {} fills (want {})",
                x.len(),
                n * numel,
                ranks.len(),
                n * regions,
                fills.len(),
                n * shape.fill_len()
            )));
        }
        let total = n * shape.slots();
        let batch = self.main.batch;
        let full = total / batch;
        let mut out = Vec::with_capacity(total);
        if full > 0 {
            self.main.write(x, ranks, fills, classes)?;
            let mut done = 0;
            while done < full {
                let steps = (full - done).min(self.main.repeats);
                out.extend(self.main.run(done * batch, steps, n)?);
                done += steps;
            }
        }
        let rest = total - full * batch;
        if rest > 0 {
            let i = match self.tails.iter().position(|t| t.batch == rest) {
                Some(i) => i,
                None => {
                    self.tails
                        .push(Part::record(model, &shape, self.capacity, rest, 1)?);
                    self.tails.len() - 1
                }
            };
            let tail = &mut self.tails[i];
            tail.write(x, ranks, fills, classes)?;
            out.extend(tail.run(full * batch, 1, n)?);
        }
        Ok(out)
    }
}
