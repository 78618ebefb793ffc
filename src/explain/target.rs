//! What an explanation explains: which output, per batch item.

use crate::error::{Error, Result};

/// The output an explanation starts from. Relevance at the output is `w ⊙ f(x)` (Zennit's
/// `one_hot · output`), so the input relevance sums to f_c(x) when the rules conserve.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// The class with the largest output.
    Predicted,
    /// A given class.
    Class(usize),
    /// A weighting of all outputs (e.g. one class minus another).
    Weights(Vec<f32>),
}

impl Target {
    /// Parses `pred`, a class index, or comma-separated weights.
    ///
    /// ```
    /// use glimpse::explain::Target;
    /// assert_eq!(Target::parse("pred").unwrap(), Target::Predicted);
    /// assert_eq!(Target::parse("7").unwrap(), Target::Class(7));
    /// assert_eq!(Target::parse("1,-1").unwrap(), Target::Weights(vec![1.0, -1.0]));
    /// ```
    pub fn parse(s: &str) -> Result<Target> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("pred") || s.eq_ignore_ascii_case("predicted") {
            return Ok(Target::Predicted);
        }
        if let Ok(k) = s.parse::<usize>() {
            return Ok(Target::Class(k));
        }
        let w: std::result::Result<Vec<f32>, _> =
            s.split(',').map(|v| v.trim().parse::<f32>()).collect();
        match w {
            Ok(w) if w.len() > 1 && w.iter().all(|v| v.is_finite()) => Ok(Target::Weights(w)),
            _ => Err(Error::Invalid(format!(
                "target '{s}' is not 'pred', a class index, or comma-separated output weights"
            ))),
        }
    }

    /// Fails, naming the problem, if the target does not fit a model with `features` outputs
    /// (checked before any work is done or file written).
    pub fn check(&self, features: usize) -> Result<()> {
        self.encode(features).map(|_| ())
    }

    /// The seed kernel's encoding: a mode (−1 = predicted) and one weight per output.
    pub fn encode(&self, features: usize) -> Result<(f32, Vec<f32>)> {
        match self {
            Target::Predicted => Ok((-1.0, vec![0.0; features])),
            Target::Class(k) if *k < features => {
                let mut w = vec![0.0; features];
                w[*k] = 1.0;
                Ok((1.0, w))
            }
            Target::Class(k) => Err(Error::Invalid(format!(
                "target class {k} does not exist: the model has {features} outputs"
            ))),
            Target::Weights(w) if w.len() == features => Ok((1.0, w.clone())),
            Target::Weights(w) => Err(Error::Invalid(format!(
                "{} target weights given for {features} outputs",
                w.len()
            ))),
        }
    }

    /// The output weights for one item given its outputs (resolves [`Target::Predicted`]).
    pub fn weights_for(&self, outputs: &[f32]) -> Result<Vec<f32>> {
        match self {
            Target::Predicted => {
                let best = argmax(outputs);
                Ok((0..outputs.len())
                    .map(|i| if i == best { 1.0 } else { 0.0 })
                    .collect())
            }
            t => Ok(t.encode(outputs.len())?.1),
        }
    }
}

/// Index of the largest value (the first among equals).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}
