//! Buffer planning from tensor lifetimes: tensors whose lifetimes do not overlap share a buffer.
//! Pure bookkeeping, tested without a GPU; so is the check of a plan against the device's memory.

use crate::error::{Error, Result};

/// One tensor's size and the passes between which it must hold its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    /// Bytes it needs.
    pub bytes: u64,
    /// Index of the first pass that writes it (0 for tensors written before the plan runs).
    pub first: usize,
    /// Index of the last pass that reads it (`usize::MAX` to keep it for the whole plan).
    pub last: usize,
}

/// Which buffer ("slot") each tensor lives in, and each slot's size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// `slot_of[t]` is tensor `t`'s slot.
    pub slot_of: Vec<usize>,
    /// Size in bytes of each slot: the largest tensor it holds.
    pub slot_bytes: Vec<u64>,
}

impl Assignment {
    /// Total bytes of all slots.
    pub fn total_bytes(&self) -> u64 {
        self.slot_bytes.iter().sum()
    }
}

/// Assigns tensors to slots greedily in order of first use, reusing the free slot whose size
/// fits best (the smallest that is large enough, else the largest, which then grows).
pub fn assign(tensors: &[Lifetime]) -> Assignment {
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by_key(|&t| (tensors[t].first, t));
    let mut slot_of = vec![usize::MAX; tensors.len()];
    let mut slot_bytes: Vec<u64> = Vec::new();
    // The last pass that reads the slot's current tenant.
    let mut busy_until: Vec<usize> = Vec::new();
    for t in order {
        let need = tensors[t];
        let free = (0..slot_bytes.len()).filter(|&s| busy_until[s] < need.first);
        let fits = free
            .clone()
            .filter(|&s| slot_bytes[s] >= need.bytes)
            .min_by_key(|&s| slot_bytes[s]);
        let slot = match fits.or_else(|| free.max_by_key(|&s| slot_bytes[s])) {
            Some(s) => s,
            None => {
                slot_bytes.push(0);
                busy_until.push(0);
                slot_bytes.len() - 1
            }
        };
        slot_bytes[slot] = slot_bytes[slot].max(need.bytes);
        busy_until[slot] = need.last.max(need.first);
        slot_of[t] = slot;
    }
    Assignment {
        slot_of,
        slot_bytes,
    }
}

/// The device memory a program may use: the smaller of what the device reports and a cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryBudget {
    /// Bytes, or `None` when neither the device nor a cap says (then nothing is checked).
    pub bytes: Option<u64>,
    /// Where the figure comes from, for messages ("Vulkan device-local heap", "GLIMPSE_MEMORY_LIMIT").
    pub source: String,
}

impl MemoryBudget {
    /// Refuses `needs` more bytes for `what` when `in_use` bytes are already held and the sum
    /// would pass the budget: a plan is turned down before it allocates, with a message that
    /// says by how much, instead of failing halfway through allocation or in the driver.
    pub fn check(&self, what: &str, needs: u64, in_use: u64) -> Result<()> {
        match self.bytes {
            Some(device) if needs.saturating_add(in_use) > device => Err(Error::DeviceMemory {
                what: what.to_string(),
                needs,
                device,
                in_use,
                source_of_limit: self.source.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// Parses a byte count with an optional K, M or G suffix (powers of 1024; `KiB`, `MB`, … are
/// read the same), as `GLIMPSE_MEMORY_LIMIT` takes it.
pub fn parse_bytes(text: &str) -> Result<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, suffix) = t.split_at(digits);
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => u32::MAX,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|_| shift != u32::MAX)
        .and_then(|n| n.checked_mul(1u64 << shift.min(63)))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "'{text}' is not a byte count; write e.g. 1073741824, 512M or 2G"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_parse_with_suffixes() {
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert_eq!(parse_bytes("64K").unwrap(), 64 << 10);
        assert_eq!(parse_bytes(" 512m ").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 << 30);
        for bad in ["", "G", "1.5G", "12X", "-3", "99999999999999G"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn a_budget_refuses_what_passes_it_and_names_the_figures() {
        let b = MemoryBudget {
            bytes: Some(1000),
            source: "a test cap".into(),
        };
        assert!(b.check("p", 600, 400).is_ok());
        let e = b.check("the plan", 601, 400).unwrap_err().to_string();
        for part in [
            "the plan",
            "601 bytes",
            "1000 bytes",
            "400 bytes",
            "a test cap",
            "--batch",
        ] {
            assert!(e.contains(part), "{e}");
        }
        let unknown = MemoryBudget {
            bytes: None,
            source: "unknown".into(),
        };
        assert!(unknown.check("p", u64::MAX, u64::MAX).is_ok());
    }

    fn lt(bytes: u64, first: usize, last: usize) -> Lifetime {
        Lifetime { bytes, first, last }
    }

    fn overlap(a: &Lifetime, b: &Lifetime) -> bool {
        a.first <= b.last.max(b.first) && b.first <= a.last.max(a.first)
    }

    #[test]
    fn a_chain_needs_two_buffers() {
        // x0 → p0 → x1 → p1 → x2 → p2 → x3: each tensor is read by the pass after it is written.
        let ts = [
            lt(100, 0, 0),
            lt(100, 0, 1),
            lt(100, 1, 2),
            lt(100, 2, usize::MAX),
        ];
        let a = assign(&ts);
        assert_eq!(a.slot_bytes.len(), 2, "{a:?}");
        assert_eq!(a.slot_of[0], a.slot_of[2]);
        assert_eq!(a.slot_of[1], a.slot_of[3]);
    }

    #[test]
    fn overlapping_tensors_never_share() {
        let ts = [
            lt(10, 0, 5),
            lt(20, 1, 3),
            lt(30, 4, 6),
            lt(5, 6, 9),
            lt(50, 2, usize::MAX),
        ];
        let a = assign(&ts);
        for i in 0..ts.len() {
            for j in 0..i {
                if a.slot_of[i] == a.slot_of[j] {
                    assert!(
                        !overlap(&ts[i], &ts[j]),
                        "{i} and {j} share slot but overlap"
                    );
                }
            }
            assert!(a.slot_bytes[a.slot_of[i]] >= ts[i].bytes);
        }
    }

    #[test]
    fn reuse_prefers_the_best_fit() {
        // Two dead tensors (small and large); a small newcomer takes the small buffer.
        let ts = [lt(1000, 0, 1), lt(10, 0, 1), lt(8, 2, 3), lt(900, 2, 3)];
        let a = assign(&ts);
        assert_eq!(a.slot_of[2], a.slot_of[1]);
        assert_eq!(a.slot_of[3], a.slot_of[0]);
        assert_eq!(a.total_bytes(), 1010);
    }

    #[test]
    fn kept_tensors_are_never_reused() {
        let ts = [lt(10, 0, usize::MAX), lt(10, 1, 2), lt(10, 3, 4)];
        let a = assign(&ts);
        assert_ne!(a.slot_of[0], a.slot_of[1]);
        assert_ne!(a.slot_of[0], a.slot_of[2]);
        assert_eq!(a.slot_of[1], a.slot_of[2]);
    }

    #[test]
    fn a_growing_slot_is_sized_for_its_largest_tenant() {
        let ts = [lt(10, 0, 0), lt(40, 1, 1)];
        let a = assign(&ts);
        assert_eq!(a.slot_bytes, vec![40]);
    }
}
