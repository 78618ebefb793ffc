//! Which input values a perturbation removes together (regions) and in what order (the ranking),
//! computed on the CPU from the maps: a sort per input, then uploaded once.

use crate::error::{Error, Result};
use crate::rng::SplitMix;

/// How the input is cut into regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regions {
    /// Every input value is a region of its own, channels apart (Quantus's pixel flipping
    /// flattens `[C, H, W]`; a one-channel map is broadcast over the channels first).
    Features,
    /// Square patches of `size`² pixels across all channels, tiling the image padded as Quantus
    /// pads it (the `size − H mod size` missing rows split floor / ceil above and below).
    Patches {
        /// The side of a patch.
        size: usize,
    },
}

/// The order regions are removed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Most relevant first (descending map sum).
    Morf,
    /// Least relevant first (ascending map sum).
    Lerf,
    /// A seeded random permutation per input (the control; independent of the map).
    Random {
        /// The seed; input `i` draws from `seed + i`.
        seed: u64,
    },
}

impl Order {
    /// Parses `morf`, `lerf` or `random` (with the seed for the last).
    pub fn parse(s: &str, seed: u64) -> Result<Order> {
        match s.to_ascii_lowercase().as_str() {
            "morf" => Ok(Order::Morf),
            "lerf" => Ok(Order::Lerf),
            "random" => Ok(Order::Random { seed }),
            _ => Err(Error::Invalid(format!(
                "order '{s}' is not one of morf, lerf, random"
            ))),
        }
    }

    /// The name `parse` accepts.
    pub fn name(&self) -> &'static str {
        match self {
            Order::Morf => "morf",
            Order::Lerf => "lerf",
            Order::Random { .. } => "random",
        }
    }
}

/// The regions of one input shape: how many, and which one each input value belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Channels, height and width of an input (a flat input is `[F, 1, 1]`).
    pub chw: [usize; 3],
    /// Side of a patch (1 with `features`).
    pub size: usize,
    /// Rows and columns of padding above and left of the image.
    pub pad: [usize; 2],
    /// Patches per column and per row.
    pub blocks: [usize; 2],
    /// Each value its own region (pixel flipping) rather than a patch across channels.
    pub features: bool,
}

/// Rows of padding before and after to make `dim` a multiple of `size` (Quantus's split).
fn padding(dim: usize, size: usize) -> [usize; 2] {
    let total = (size - dim % size) % size;
    [total / 2, total - total / 2]
}

impl Grid {
    /// The grid of `regions` over inputs of `shape` (`[C, H, W]`, or any shape for features).
    pub fn new(shape: &[usize], regions: Regions) -> Result<Grid> {
        let numel: usize = shape.iter().product();
        match regions {
            Regions::Features => Ok(Grid {
                chw: match *shape {
                    [c, h, w] => [c, h, w],
                    _ => [numel, 1, 1],
                },
                size: 1,
                pad: [0, 0],
                blocks: [0, 0],
                features: true,
            }),
            Regions::Patches { size } => {
                let [c, h, w] = match *shape {
                    [c, h, w] => [c, h, w],
                    _ => {
                        return Err(Error::Shape(format!(
                            "patches need [C, H, W] inputs, the model takes {shape:?}"
                        )))
                    }
                };
                if size == 0 || size > h.max(w) {
                    return Err(Error::Invalid(format!(
                        "patch size {size} does not fit a {h}×{w} input"
                    )));
                }
                let (ph, pw) = (padding(h, size), padding(w, size));
                Ok(Grid {
                    chw: [c, h, w],
                    size,
                    pad: [ph[0], pw[0]],
                    blocks: [(h + ph[0] + ph[1]) / size, (w + pw[0] + pw[1]) / size],
                    features: false,
                })
            }
        }
    }

    /// Values per input.
    pub fn numel(&self) -> usize {
        self.chw.iter().product()
    }

    /// Regions per input.
    pub fn count(&self) -> usize {
        if self.features {
            self.numel()
        } else {
            self.blocks[0] * self.blocks[1]
        }
    }

    /// The region of the value at flat index `f`.
    pub fn region_of(&self, f: usize) -> usize {
        if self.features {
            return f;
        }
        let [_, h, w] = self.chw;
        let (y, x) = ((f / w) % h, f % w);
        ((y + self.pad[0]) / self.size) * self.blocks[1] + (x + self.pad[1]) / self.size
    }

    /// Values of the padded image a patch covers (pad cells included, as Quantus perturbs the
    /// padded array).
    pub fn cells_per_region(&self) -> usize {
        if self.features {
            1
        } else {
            self.chw[0] * self.size * self.size
        }
    }
}

/// The map of one input broadcast to the input's values: `[C, H, W]` as is, `[1, H, W]` over
/// the channels.
pub fn broadcast(map: &[f32], grid: &Grid) -> Result<Vec<f32>> {
    let numel = grid.numel();
    let plane = grid.chw[1] * grid.chw[2];
    if map.len() == numel {
        Ok(map.to_vec())
    } else if map.len() == plane && grid.chw[0] > 1 {
        Ok((0..numel).map(|f| map[f % plane]).collect())
    } else {
        Err(Error::Shape(format!(
            "a map of {} values fits neither the input ({numel} values, {:?}) nor one channel of it",
            map.len(),
            grid.chw
        )))
    }
}

/// The relevance of each region: the map value (features) or the map's sum over the patch.
pub fn region_scores(map: &[f32], grid: &Grid) -> Vec<f64> {
    let mut s = vec![0.0f64; grid.count()];
    for (f, &v) in map.iter().enumerate() {
        s[grid.region_of(f)] += v as f64;
    }
    s
}

/// The rank of each region (0 = removed first). Equal scores keep index order (a stable sort;
/// Quantus's `np.argsort` is not stable, so its order of exact ties is unspecified).
pub fn ranks(scores: &[f64], order: Order, item: usize) -> Vec<u32> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    match order {
        Order::Morf => idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a])),
        Order::Lerf => idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b])),
        Order::Random { seed } => {
            let mut rng = SplitMix(seed.wrapping_add(item as u64));
            for i in (1..idx.len()).rev() {
                idx.swap(i, rng.below(i + 1));
            }
        }
    }
    let mut rank = vec![0u32; scores.len()];
    for (r, &i) in idx.iter().enumerate() {
        rank[i] = r as u32;
    }
    rank
}

/// Regions in removal order from their ranks.
pub fn order_of(ranks: &[u32]) -> Vec<usize> {
    let mut o = vec![0usize; ranks.len()];
    for (i, &r) in ranks.iter().enumerate() {
        o[r as usize] = i;
    }
    o
}

/// Random maps (the control explanation): U(0, 1) per value, input `first + i` drawing from
/// `seed + first + i`, so a chunked run gives the maps of a whole one.
pub fn random_maps(
    n: usize,
    shape: &[usize],
    seed: u64,
    first: usize,
) -> crate::Result<crate::Tensor> {
    let numel: usize = shape.iter().product();
    let mut data = Vec::with_capacity(n * numel);
    for i in 0..n {
        let mut rng = SplitMix(seed.wrapping_add((first + i) as u64) ^ 0x0005_eed0_f4a9);
        data.extend((0..numel).map(|_| rng.uniform_f32()));
    }
    crate::Tensor::new(
        std::iter::once(n).chain(shape.iter().copied()).collect(),
        data,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_pad_as_quantus_and_cover_every_value() {
        let g = Grid::new(&[2, 28, 28], Regions::Patches { size: 8 }).unwrap();
        assert_eq!(g.pad, [2, 2]);
        assert_eq!(g.blocks, [4, 4]);
        assert_eq!(g.count(), 16);
        // Row 0 lies in block row 0 (padded row 2), row 6 in block row 1 (padded row 8).
        assert_eq!(g.region_of(0), 0);
        assert_eq!(g.region_of(6 * 28), 4);
        assert_eq!(g.region_of(28 * 28 + 27), 3);
        let g = Grid::new(&[1, 9, 9], Regions::Patches { size: 4 }).unwrap();
        assert_eq!((g.pad, g.blocks), ([1, 1], [3, 3]));
        assert!(Grid::new(&[1, 4, 4], Regions::Patches { size: 5 }).is_err());
        assert!(Grid::new(&[16], Regions::Patches { size: 2 }).is_err());
    }

    #[test]
    fn ranks_are_stable_permutations() {
        let s = [0.5, 2.0, 0.5, -1.0];
        assert_eq!(ranks(&s, Order::Morf, 0), vec![1, 0, 2, 3]);
        assert_eq!(ranks(&s, Order::Lerf, 0), vec![1, 3, 2, 0]);
        let r = ranks(&[0.0; 50], Order::Random { seed: 3 }, 1);
        let mut sorted = r.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<u32>>());
        assert_eq!(r, ranks(&[1.0; 50], Order::Random { seed: 3 }, 1));
        assert_ne!(r, ranks(&[0.0; 50], Order::Random { seed: 3 }, 2));
        assert_eq!(order_of(&ranks(&s, Order::Morf, 0)), vec![1, 0, 2, 3]);
    }

    #[test]
    fn one_channel_maps_broadcast() {
        let g = Grid::new(&[3, 2, 2], Regions::Features).unwrap();
        let b = broadcast(&[1.0, 2.0, 3.0, 4.0], &g).unwrap();
        assert_eq!(b.len(), 12);
        assert_eq!(b[5], 2.0);
        assert!(broadcast(&[1.0; 5], &g).is_err());
    }
}
