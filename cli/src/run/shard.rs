//! Which part of the input list a process takes: `--shard I/N`, or the index and count a
//! scheduler puts in the environment (Slurm job arrays, Kubernetes Indexed Jobs).

use glimpse::error::{Error, Result};

/// Shard `index` of `count`: the inputs at positions `index, index + count, …` of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` (0 ≤ I < N).
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || {
            Error::Invalid(format!(
                "--shard {s}: expected I/N with 0 <= I < N, e.g. 0/4"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index = i.trim().parse::<usize>().map_err(|_| bad())?;
        let count = n.trim().parse::<usize>().map_err(|_| bad())?;
        Shard::new(index, count).ok_or_else(bad)
    }

    fn new(index: usize, count: usize) -> Option<Shard> {
        (count > 0 && index < count).then_some(Shard { index, count })
    }

    /// Whether position `k` of the sorted input list belongs to this shard.
    pub fn takes(&self, k: usize) -> bool {
        k % self.count == self.index
    }

    /// The folder name of this shard's outputs inside `--out`.
    pub fn folder(&self) -> String {
        format!("shard-{:04}-of-{:04}", self.index, self.count)
    }

    /// The shard `--shard` names, else the one the scheduler's environment gives (Slurm:
    /// `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`; Kubernetes:
    /// `JOB_COMPLETION_INDEX` of `--shards`), else none.
    pub fn resolve(
        flag: Option<&str>,
        shards: Option<usize>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Shard>> {
        if let Some(s) = flag {
            return Shard::parse(s).map(Some);
        }
        let number = |name: &str| -> Result<Option<usize>> {
            env(name)
                .map(|v| {
                    v.trim().parse::<usize>().map_err(|_| {
                        Error::Invalid(format!("environment variable {name}={v} is not a number"))
                    })
                })
                .transpose()
        };
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let count = match (number("SLURM_ARRAY_TASK_COUNT")?, shards) {
                (Some(c), _) | (None, Some(c)) => c,
                (None, None) => {
                    return Err(Error::Invalid(
                        "SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT; pass --shards N or --shard I/N"
                            .into(),
                    ))
                }
            };
            return id
                .checked_sub(min)
                .and_then(|i| Shard::new(i, count))
                .map(Some)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "Slurm array task {id} (from {min}) is not one of {count} tasks; array jobs must be contiguous (e.g. --array=0-{})",
                        count.saturating_sub(1)
                    ))
                });
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = shards.ok_or_else(|| {
                Error::Invalid(
                    "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): pass --shards N with the Job's completions"
                        .into(),
                )
            })?;
            return Shard::new(index, count).map(Some).ok_or_else(|| {
                Error::Invalid(format!(
                    "JOB_COMPLETION_INDEX={index} is not below --shards {count}"
                ))
            });
        }
        if shards.is_some() {
            return Err(Error::Invalid(
                "--shards N needs a shard index: --shard I/N, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX".into(),
            ));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn flag_environment_and_errors() {
        let none = env(&[]);
        assert_eq!(Shard::resolve(None, None, &none).unwrap(), None);
        assert_eq!(
            Shard::resolve(Some("1/4"), None, &none).unwrap(),
            Some(Shard { index: 1, count: 4 })
        );
        for bad in ["4/4", "1", "a/2", "0/0"] {
            assert!(Shard::resolve(Some(bad), None, &none).is_err(), "{bad}");
        }
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            Shard::resolve(None, None, &slurm).unwrap(),
            Some(Shard { index: 2, count: 4 })
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "5")]);
        assert_eq!(
            Shard::resolve(None, Some(8), &k8s).unwrap(),
            Some(Shard { index: 5, count: 8 })
        );
        let m = Shard::resolve(None, None, &k8s).unwrap_err().to_string();
        assert!(m.contains("--shards"), "{m}");
        assert!(Shard::resolve(None, Some(4), &k8s).is_err());
        let s = Shard { index: 1, count: 3 };
        assert_eq!((0..7).filter(|&k| s.takes(k)).collect::<Vec<_>>(), [1, 4]);
    }
}
