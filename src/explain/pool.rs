//! Relevance pooling (Montavon, Samek & Müller 2017, §Explaining DNN decisions): a map summed
//! over meaningful parts of the input — its channels, rectangular regions, or named groups of
//! features (the measurements of a tabular record, the words of a sentence) — so relevance is
//! read where a pixel or a single feature means little.

use std::path::Path;

use crate::error::{Error, Result};

/// How a map is pooled.
#[derive(Clone, Debug, PartialEq)]
pub enum Pooling {
    /// One sum per channel of a `[C, H, W]` map; one per feature of an `[F]` map.
    Channel,
    /// One sum per tile of `h × w` pixels (over every channel), row by row, the last tiles of
    /// a row or column cut at the edge.
    Region {
        /// Tile height.
        h: usize,
        /// Tile width.
        w: usize,
    },
    /// One sum per named group of flat indices into the map (groups may overlap).
    Groups(Vec<(String, Vec<usize>)>),
}

/// One pooled part: its name and summed relevance.
#[derive(Clone, Debug, PartialEq)]
pub struct Pooled {
    /// `channel 3`, `y 0-4, x 8-12`, the group's or the feature's name.
    pub name: String,
    /// The relevance summed over the part.
    pub relevance: f64,
}

impl Pooling {
    /// Parses `channel`, `region:HxW` (or `region:K`) or `groups:FILE.json` (an object mapping
    /// group names to arrays of flat input indices).
    pub fn parse(spec: &str) -> Result<Pooling> {
        let (kind, arg) = spec.split_once(':').unwrap_or((spec, ""));
        match kind.trim() {
            "channel" if arg.is_empty() => Ok(Pooling::Channel),
            "region" => {
                let bad = || {
                    Error::Invalid(format!(
                        "--pool {spec}: expected region:HxW with sizes of at least 1"
                    ))
                };
                let (h, w) = arg.split_once(['x', 'X']).unwrap_or((arg, arg));
                let size = |v: &str| v.trim().parse::<usize>().ok().filter(|&v| v > 0);
                Ok(Pooling::Region {
                    h: size(h).ok_or_else(bad)?,
                    w: size(w).ok_or_else(bad)?,
                })
            }
            "groups" if !arg.is_empty() => Pooling::groups_file(Path::new(arg)),
            _ => Err(Error::Invalid(format!(
                "--pool {spec}: use channel, region:HxW or groups:FILE.json"
            ))),
        }
    }

    /// Reads a group file: `{"name": [index, …], …}`; groups come sorted by name.
    pub fn groups_file(path: &Path) -> Result<Pooling> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let bad = |what: String| Error::Invalid(format!("group file {}: {what}", path.display()));
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| bad("expected an object of group name → [indices]".into()))?;
        let mut groups = Vec::with_capacity(object.len());
        for (name, indices) in object {
            let list = indices
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    bad(format!(
                        "group '{name}' is not a non-empty array of indices"
                    ))
                })?;
            let indices = list
                .iter()
                .map(|v| {
                    v.as_u64().map(|v| v as usize).ok_or_else(|| {
                        bad(format!(
                            "group '{name}': {v} is not an index (a whole number ≥ 0)"
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            groups.push((name.clone(), indices));
        }
        if groups.is_empty() {
            return Err(bad("no groups".into()));
        }
        Ok(Pooling::Groups(groups))
    }

    /// Fails, naming the problem, if this pooling cannot apply to maps of `shape` (checked
    /// before any work).
    pub fn check(&self, shape: &[usize]) -> Result<()> {
        let numel: usize = shape.iter().product();
        match self {
            Pooling::Channel if shape.len() == 3 || shape.len() == 1 => Ok(()),
            Pooling::Channel => Err(Error::Invalid(format!(
                "--pool channel: maps of shape {shape:?} have no channels (need [C, H, W] or [F])"
            ))),
            Pooling::Region { h, w } => match shape {
                [_, mh, mw] if h <= mh && w <= mw => Ok(()),
                [_, mh, mw] => Err(Error::Invalid(format!(
                    "--pool region:{h}x{w}: the tile is larger than the {mh}×{mw} map"
                ))),
                _ => Err(Error::Invalid(format!(
                    "--pool region: maps of shape {shape:?} are not images [C, H, W]"
                ))),
            },
            Pooling::Groups(groups) => {
                for (name, indices) in groups {
                    if let Some(i) = indices.iter().find(|&&i| i >= numel) {
                        return Err(Error::Invalid(format!(
                            "--pool groups: group '{name}' names index {i}, but the input has {numel} values (0 … {})",
                            numel - 1
                        )));
                    }
                }
                Ok(())
            }
        }
    }

    /// Pools one map of `shape` (checked with [`Pooling::check`]); `names` names the features
    /// of an `[F]` map for [`Pooling::Channel`].
    pub fn pool(&self, map: &[f32], shape: &[usize], names: Option<&[String]>) -> Vec<Pooled> {
        let sum = |it: &mut dyn Iterator<Item = usize>| it.map(|i| map[i] as f64).sum::<f64>();
        match (self, shape) {
            (Pooling::Channel, [f]) => (0..*f)
                .map(|i| Pooled {
                    name: names
                        .and_then(|n| n.get(i).cloned())
                        .unwrap_or_else(|| format!("feature {i}")),
                    relevance: map[i] as f64,
                })
                .collect(),
            (Pooling::Channel, [c, h, w]) => (0..*c)
                .map(|ch| Pooled {
                    name: format!("channel {ch}"),
                    relevance: sum(&mut (ch * h * w..(ch + 1) * h * w)),
                })
                .collect(),
            (Pooling::Region { h: th, w: tw }, [c, h, w]) => {
                let mut out = Vec::new();
                for y0 in (0..*h).step_by(*th) {
                    for x0 in (0..*w).step_by(*tw) {
                        let (y1, x1) = ((y0 + th).min(*h), (x0 + tw).min(*w));
                        let mut cells = (0..*c).flat_map(|ch| {
                            (y0..y1).flat_map(move |y| (x0..x1).map(move |x| (ch * h + y) * w + x))
                        });
                        out.push(Pooled {
                            name: format!("y {y0}-{y1}, x {x0}-{x1}"),
                            relevance: sum(&mut cells),
                        });
                    }
                }
                out
            }
            (Pooling::Groups(groups), _) => groups
                .iter()
                .map(|(name, indices)| Pooled {
                    name: name.clone(),
                    relevance: sum(&mut indices.iter().copied()),
                })
                .collect(),
            _ => unreachable!("checked by Pooling::check"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_regions_and_groups_sum_what_they_name() {
        // [2, 3, 3]: channel 0 holds 0..9, channel 1 holds 9..18.
        let map: Vec<f32> = (0..18).map(|v| v as f32).collect();
        let shape = [2, 3, 3];
        let c = Pooling::Channel.pool(&map, &shape, None);
        assert_eq!(
            c.iter().map(|p| p.relevance).collect::<Vec<_>>(),
            [36.0, 117.0]
        );
        let r = Pooling::parse("region:2x2").unwrap();
        r.check(&shape).unwrap();
        let tiles = r.pool(&map, &shape, None);
        assert_eq!(tiles.len(), 4);
        // Top-left 2×2 of both channels: 0+1+3+4 + 9+10+12+13; the bottom-right tile is cut.
        assert_eq!(tiles[0].relevance, 52.0);
        assert_eq!(tiles[3].name, "y 2-3, x 2-3");
        assert_eq!(tiles[3].relevance, 8.0 + 17.0);
        let total: f64 = tiles.iter().map(|p| p.relevance).sum();
        assert_eq!(total, 153.0);
        let g = Pooling::Groups(vec![("a".into(), vec![0, 17]), ("b".into(), vec![5])]);
        g.check(&shape).unwrap();
        let p = g.pool(&map, &shape, None);
        assert_eq!((p[0].relevance, p[1].relevance), (17.0, 5.0));
        let names = ["x".to_string(), "y".to_string()];
        let f = Pooling::Channel.pool(&[1.5, -2.0], &[2], Some(&names));
        assert_eq!((f[1].name.as_str(), f[1].relevance), ("y", -2.0));
    }

    #[test]
    fn bad_poolings_name_the_problem() {
        let g = Pooling::Groups(vec![("far".into(), vec![3, 99])]);
        let e = g.check(&[30]).unwrap_err().to_string();
        assert!(
            e.contains("'far' names index 99") && e.contains("30 values"),
            "{e}"
        );
        let e = Pooling::parse("region:9")
            .unwrap()
            .check(&[1, 8, 8])
            .unwrap_err();
        assert!(e.to_string().contains("larger than the 8×8 map"), "{e}");
        assert!(Pooling::parse("region:0x2").is_err());
        assert!(Pooling::parse("bogus")
            .unwrap_err()
            .to_string()
            .contains("channel"));
        let e = Pooling::parse("groups:/nonexistent.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nonexistent"), "{e}");
        let e = Pooling::Region { h: 2, w: 2 }
            .check(&[30])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not images"), "{e}");
    }
}
