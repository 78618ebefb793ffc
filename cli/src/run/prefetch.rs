//! Chunks loaded one ahead on a thread of their own: while the caller works on chunk k (on the
//! GPU), chunk k + 1 is decoded, so the GPU does not wait on the decoder and at most two
//! chunks are in memory however many there are.

use std::sync::mpsc::sync_channel;

use glimpse::error::Result;

/// Calls `work(k, load(k))` for k = 0, 1, …, `chunks` − 1 in order, with `load(k + 1)` running
/// on another thread meanwhile. Stops at the first error of either; a load error is returned
/// when the caller reaches that chunk, so everything before it is worked on first.
pub fn each_prefetched<T: Send>(
    chunks: usize,
    load: impl Fn(usize) -> Result<T> + Sync,
    mut work: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<Result<T>>(1);
        let load = &load;
        s.spawn(move || {
            for k in 0..chunks {
                let loaded = load(k);
                let failed = loaded.is_err();
                // A closed channel: the caller stopped (an error of its own).
                if tx.send(loaded).is_err() || failed {
                    break;
                }
            }
        });
        for k in 0..chunks {
            let loaded = rx.recv().expect("the loader sends every chunk or an error");
            work(k, loaded?)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use glimpse::error::Error;

    #[test]
    fn chunks_come_in_order_and_errors_stop_after_the_chunks_before() {
        let mut seen = Vec::new();
        each_prefetched(
            5,
            |k| Ok(k * 10),
            |k, v| {
                seen.push((k, v));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, [(0, 0), (1, 10), (2, 20), (3, 30), (4, 40)]);

        let mut worked = Vec::new();
        let err = each_prefetched(
            5,
            |k| match k {
                3 => Err(Error::Invalid("chunk 3 is corrupt".into())),
                _ => Ok(k),
            },
            |k, _| {
                worked.push(k);
                Ok(())
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("chunk 3"), "{err}");
        assert_eq!(worked, [0, 1, 2]);

        let err = each_prefetched(5, Ok, |k, _| match k {
            1 => Err(Error::Invalid("the GPU failed".into())),
            _ => Ok(()),
        })
        .unwrap_err();
        assert!(err.to_string().contains("GPU"), "{err}");
    }
}
