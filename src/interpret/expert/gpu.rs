//! Recording an expert's log-density and its gradient on a [`Program`]: the parameters uploaded
//! once as constants, a few passes per evaluation (shaders under `shaders/interpret/expert/`).
//!
//! Mixtures: `mixture_project` (full covariances only: `d = P_k (x − μ_k)` per item and
//! component, the precisions bound in chunks of components that fit one binding),
//! `mixture_logits` (log weight, log-determinant constant, quadratic form), `mixture_lse`
//! (`log p(x)`), `mixture_grad`/`mixture_grad_diag` (`−Σ_k γ_k d_k` with the responsibilities from the logits).
//! RBMs: `grbm_hidden` (`a = c + Wᵀ(x/σ)`), then `grbm_density` or `grbm_grad`.

use super::{Covariance, Expert, Grbm, Mixture};
use crate::error::{Error, Result};
use crate::plan::{ConstId, Launch, Out, Program, Resource, TensorId};

crate::params! {
    /// The parameters every expert kernel binds: sizes, the component chunk of
    /// `mixture_project`, the gradient's weight and the RBM's `log Z`.
    pub struct ExpertParams {
        pub batch: u32,
        pub dim: u32,
        pub components: u32,
        pub k0: u32,
        pub kc: u32,
        pub hidden: u32,
        pub weight: f32,
        pub log_z: f32,
    }
}

crate::kernel!(
    /// `d[b, k, i] = Σ_j P_k[j, i] (x_b,j − μ_k,j)` for one chunk of components.
    pub MIXTURE_PROJECT: ExpertParams = "interpret/expert/mixture_project"
);
crate::kernel!(
    /// Per item and component, the log joint (entries `full`, `diagonal`).
    pub MIXTURE_LOGITS: ExpertParams = "interpret/expert/mixture_logits"
);
crate::kernel!(
    /// Per item, `log Σ_k exp(logits)`.
    pub MIXTURE_LSE: ExpertParams = "interpret/expert/mixture_lse"
);
crate::kernel!(
    /// `out += weight · ∇ log p` of a mixture with full covariances.
    pub MIXTURE_GRAD: ExpertParams = "interpret/expert/mixture_grad"
);
crate::kernel!(
    /// `out += weight · ∇ log p` of a mixture with diagonal covariances.
    pub MIXTURE_GRAD_DIAG: ExpertParams = "interpret/expert/mixture_grad_diag"
);
crate::kernel!(
    /// The RBM's hidden inputs `a = c + Wᵀ(x/σ)`.
    pub GRBM_HIDDEN: ExpertParams = "interpret/expert/grbm_hidden"
);
crate::kernel!(
    /// The RBM's `log p = −F − log Z` per item.
    pub GRBM_DENSITY: ExpertParams = "interpret/expert/grbm_density"
);
crate::kernel!(
    /// `out += weight · ∇ log p` of an RBM.
    pub GRBM_GRAD: ExpertParams = "interpret/expert/grbm_grad"
);

const GROUP: usize = 64;

fn flat(count: usize) -> Launch {
    Launch::Flat {
        count: count as u64,
        size: GROUP as u32,
    }
}

fn at(list: Vec<Resource>) -> Vec<(u32, Resource)> {
    list.into_iter()
        .enumerate()
        .map(|(i, r)| (i as u32 + 1, r))
        .collect()
}

/// A mixture's constants and the per-evaluation tensors its passes share.
struct MixtureGpu {
    params: ExpertParams,
    means: ConstId,
    /// Diagonal: one constant `[K, D]`. Full: `(k0, kc, constant [kc, D, D])` per chunk.
    precisions: Vec<(usize, usize, ConstId)>,
    logits: TensorId,
    /// Full covariances: `d`, `[batch, K, D]`.
    d: Option<TensorId>,
}

fn record_mixture(p: &mut Program, m: &Mixture, x: TensorId, batch: usize) -> Result<MixtureGpu> {
    let (k, d) = (m.components(), m.dim);
    let params = ExpertParams {
        batch: batch as u32,
        dim: d as u32,
        components: k as u32,
        k0: 0,
        kc: k as u32,
        hidden: 0,
        weight: 1.0,
        log_z: 0.0,
    };
    let means = p.constant("expert means", m.means.clone())?;
    let half_ln_tau = 0.5 * std::f64::consts::TAU.ln();
    let base: Vec<f32> = (0..k)
        .map(|c| {
            (m.log_weights[c] as f64 + 0.5 * m.log_det_precisions[c] as f64
                - d as f64 * half_ln_tau) as f32
        })
        .collect();
    let base = p.constant("expert log constants", base)?;
    let logits = p.tensor("expert logits", batch * k)?;
    let mut g = MixtureGpu {
        params,
        means,
        precisions: Vec::new(),
        logits,
        d: None,
    };
    let src = match m.covariance {
        Covariance::Diagonal => {
            let c = p.constant("expert precisions", m.precisions.clone())?;
            g.precisions.push((0, k, c));
            Resource::Const(c)
        }
        Covariance::Full => {
            let per = (d * d * 4) as u64;
            let limit = p.profile().max_binding.min(p.profile().max_buffer);
            if per > limit {
                return Err(Error::TooLarge {
                    tensor: "expert precision".into(),
                    bytes: per,
                    limit,
                });
            }
            let chunk = ((limit / per) as usize).clamp(1, k);
            let dt = p.tensor("expert projections", batch * k * d)?;
            let mut k0 = 0;
            while k0 < k {
                let kc = chunk.min(k - k0);
                let c = p.constant(
                    &format!("expert precisions {k0}..{}", k0 + kc),
                    m.precisions[k0 * d * d..(k0 + kc) * d * d].to_vec(),
                )?;
                g.precisions.push((k0, kc, c));
                let pp = ExpertParams {
                    k0: k0 as u32,
                    kc: kc as u32,
                    ..params
                };
                let count = kc * d * batch.div_ceil(8);
                let binds = at(vec![
                    Resource::Tensor(x),
                    Resource::Const(means),
                    Resource::Const(c),
                    Resource::Tensor(dt),
                ]);
                p.pass(
                    &MIXTURE_PROJECT,
                    "main",
                    &pp,
                    binds,
                    Out::Write(dt),
                    flat(count),
                )?;
                k0 += kc;
            }
            g.d = Some(dt);
            Resource::Tensor(dt)
        }
    };
    let entry = entry(m.covariance);
    let binds = at(vec![
        Resource::Tensor(x),
        Resource::Const(means),
        src,
        Resource::Const(base),
        Resource::Tensor(logits),
    ]);
    p.pass(
        &MIXTURE_LOGITS,
        entry,
        &params,
        binds,
        Out::Write(logits),
        flat(batch * k),
    )?;
    Ok(g)
}

fn entry(cov: Covariance) -> &'static str {
    match cov {
        Covariance::Full => "full",
        Covariance::Diagonal => "diagonal",
    }
}

fn record_lse(p: &mut Program, g: &MixtureGpu, out: TensorId) -> Result<()> {
    let binds = at(vec![Resource::Tensor(g.logits), Resource::Tensor(out)]);
    let launch = flat(g.params.batch as usize);
    p.pass(
        &MIXTURE_LSE,
        "main",
        &g.params,
        binds,
        Out::Write(out),
        launch,
    )
}

/// The RBM's constants and hidden inputs.
struct GrbmGpu {
    params: ExpertParams,
    w: ConstId,
    vbias: ConstId,
    sigma: ConstId,
    a: TensorId,
}

fn record_hidden(p: &mut Program, r: &Grbm, x: TensorId, batch: usize) -> Result<GrbmGpu> {
    let params = ExpertParams {
        batch: batch as u32,
        dim: r.dim as u32,
        components: 0,
        k0: 0,
        kc: 0,
        hidden: r.hidden as u32,
        weight: 1.0,
        log_z: r.log_partition as f32,
    };
    let w = p.constant("expert weights", r.weights.clone())?;
    let c = p.constant("expert hidden bias", r.hidden_bias.clone())?;
    let vbias = p.constant("expert visible bias", r.visible_bias.clone())?;
    let sigma = p.constant("expert sigma", r.sigma.clone())?;
    let a = p.tensor("expert hidden inputs", batch * r.hidden)?;
    let binds = at(vec![
        Resource::Tensor(x),
        Resource::Const(w),
        Resource::Const(c),
        Resource::Const(sigma),
        Resource::Tensor(a),
    ]);
    p.pass(
        &GRBM_HIDDEN,
        "main",
        &params,
        binds,
        Out::Write(a),
        flat(batch * r.hidden),
    )?;
    Ok(GrbmGpu {
        params,
        w,
        vbias,
        sigma,
        a,
    })
}

impl Expert {
    fn check_tensor(&self, p: &Program, t: TensorId, values: usize, what: &str) -> Result<()> {
        let bytes = p.tensor_bytes(t);
        if bytes != (values.max(1) * 4) as u64 {
            return Err(Error::Shape(format!(
                "the expert's {what} tensor '{}' holds {} values; {values} expected",
                p.tensor_name(t),
                bytes / 4
            )));
        }
        Ok(())
    }

    /// Records `out += weight · ∇_x log p(x)` for `batch` items: `x` and `out` are
    /// `[batch × D]` f32 tensors, `out` already holding the objective's gradient.
    pub fn record_grad_log_density(
        &self,
        p: &mut Program,
        x: TensorId,
        batch: usize,
        weight: f32,
        out: TensorId,
    ) -> Result<()> {
        self.record_grad_and_log_density(p, x, batch, weight, out, None)
    }

    /// [`Expert::record_grad_log_density`], also writing `log p(x_b)` into `values` (`[batch]`)
    /// when given: one upload of the constants and one evaluation for both.
    pub fn record_grad_and_log_density(
        &self,
        p: &mut Program,
        x: TensorId,
        batch: usize,
        weight: f32,
        out: TensorId,
        values: Option<TensorId>,
    ) -> Result<()> {
        let d = self.dim();
        self.check_tensor(p, x, batch * d, "input")?;
        self.check_tensor(p, out, batch * d, "gradient")?;
        if let Some(v) = values {
            self.check_tensor(p, v, batch, "log-density")?;
        }
        match self {
            Expert::Gaussian(m) | Expert::Mixture(m) => {
                let g = record_mixture(p, m, x, batch)?;
                let lse = match values {
                    Some(v) => v,
                    None => p.tensor("expert log density", batch)?,
                };
                record_lse(p, &g, lse)?;
                let params = ExpertParams { weight, ..g.params };
                let launch = flat(batch * d);
                match g.d {
                    Some(dt) => {
                        let binds = at(vec![
                            Resource::Tensor(g.logits),
                            Resource::Tensor(lse),
                            Resource::Tensor(dt),
                            Resource::Tensor(out),
                        ]);
                        p.pass(
                            &MIXTURE_GRAD,
                            "main",
                            &params,
                            binds,
                            Out::Update(out),
                            launch,
                        )
                    }
                    None => {
                        let binds = at(vec![
                            Resource::Tensor(x),
                            Resource::Const(g.means),
                            Resource::Tensor(g.logits),
                            Resource::Tensor(lse),
                            Resource::Const(g.precisions[0].2),
                            Resource::Tensor(out),
                        ]);
                        let k = &MIXTURE_GRAD_DIAG;
                        p.pass(k, "main", &params, binds, Out::Update(out), launch)
                    }
                }
            }
            Expert::Grbm(r) => {
                let g = record_hidden(p, r, x, batch)?;
                if let Some(v) = values {
                    record_rbm_density(p, &g, x, v)?;
                }
                let binds = at(vec![
                    Resource::Tensor(x),
                    Resource::Tensor(g.a),
                    Resource::Const(g.w),
                    Resource::Const(g.vbias),
                    Resource::Const(g.sigma),
                    Resource::Tensor(out),
                ]);
                let params = ExpertParams { weight, ..g.params };
                p.pass(
                    &GRBM_GRAD,
                    "main",
                    &params,
                    binds,
                    Out::Update(out),
                    flat(batch * d),
                )
            }
        }
    }

    /// Records `out_values[b] = log p(x_b)` for `batch` items (`x` is `[batch × D]`,
    /// `out_values` `[batch]`): the expert's term of the objective curve.
    pub fn record_log_density(
        &self,
        p: &mut Program,
        x: TensorId,
        batch: usize,
        out_values: TensorId,
    ) -> Result<()> {
        self.check_tensor(p, x, batch * self.dim(), "input")?;
        self.check_tensor(p, out_values, batch, "log-density")?;
        match self {
            Expert::Gaussian(m) | Expert::Mixture(m) => {
                let g = record_mixture(p, m, x, batch)?;
                record_lse(p, &g, out_values)
            }
            Expert::Grbm(r) => {
                let g = record_hidden(p, r, x, batch)?;
                record_rbm_density(p, &g, x, out_values)
            }
        }
    }
}

fn record_rbm_density(p: &mut Program, g: &GrbmGpu, x: TensorId, out: TensorId) -> Result<()> {
    let binds = at(vec![
        Resource::Tensor(x),
        Resource::Tensor(g.a),
        Resource::Const(g.vbias),
        Resource::Const(g.sigma),
        Resource::Tensor(out),
    ]);
    let launch = flat(g.params.batch as usize);
    p.pass(
        &GRBM_DENSITY,
        "main",
        &g.params,
        binds,
        Out::Write(out),
        launch,
    )
}
