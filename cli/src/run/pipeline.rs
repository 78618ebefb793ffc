//! Three stages so that the GPU never waits on the CPU: decoder threads read and pre-process
//! batch k + 1, k + 2, … while the GPU thread (the caller's) runs batch k, and writer threads
//! render and write batch k − 1. Channels are bounded, so memory holds a few batches however
//! many inputs there are.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use glimpse::error::{Error, Result};
use glimpse::io::inputs::InputItem;
use glimpse::Tensor;
use serde_json::Value;

use super::RunFolder;

/// One batch through the GPU: the inputs that decoded, their tensor `[n, ...]`, and the result.
pub struct Batch<T> {
    pub items: Vec<InputItem>,
    pub x: Tensor<f32>,
    pub result: T,
}

/// The stages' sizes and what to do with a bad input.
pub struct Stages {
    pub batch: usize,
    pub decoders: usize,
    pub writers: usize,
    pub fail_fast: bool,
}

type Decoded = Vec<Result<Vec<f32>>>;

/// Runs `items` through `decode` (per batch, on decoder threads), `compute` (on this thread)
/// and `write` (on writer threads; it returns one summary line per item, recorded in `folder`
/// after the item's files exist). Inputs that fail to decode are recorded as errors (or end
/// the run with `fail_fast`); a failed batch on the GPU (a lost device, out of memory) or a
/// failed write ends the run after the batches already computed are written and recorded, so
/// the folder resumes from the failed batch; the error names it ([`Error::Batch`]: its index
/// in this run, counting from 0, and its first and last inputs).
#[allow(clippy::too_many_arguments)]
pub fn run<T: Send>(
    items: &[InputItem],
    shape: &[usize],
    stages: &Stages,
    folder: &Mutex<RunFolder>,
    decode: &(dyn Fn(&[InputItem]) -> Decoded + Sync),
    mut compute: impl FnMut(&Tensor<f32>) -> Result<T>,
    write: &(dyn Fn(&Batch<T>) -> Result<Vec<Value>> + Sync),
    done: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let chunks: Vec<&[InputItem]> = items.chunks(stages.batch.max(1)).collect();
    let abort = AtomicBool::new(false);
    std::thread::scope(|s| {
        let mut decoded: Vec<Receiver<Decoded>> = Vec::new();
        for d in 0..stages.decoders {
            let (tx, rx) = sync_channel::<Decoded>(1);
            decoded.push(rx);
            let (chunks, abort) = (&chunks, &abort);
            s.spawn(move || {
                for chunk in chunks.iter().skip(d).step_by(stages.decoders) {
                    if abort.load(Ordering::Relaxed) || tx.send(decode(chunk)).is_err() {
                        break;
                    }
                }
            });
        }
        let (to_writers, from_gpu) = sync_channel::<Batch<T>>(stages.writers);
        let from_gpu = Arc::new(Mutex::new(from_gpu));
        let writers: Vec<_> = (0..stages.writers)
            .map(|_| {
                let (from_gpu, abort) = (Arc::clone(&from_gpu), &abort);
                s.spawn(move || -> Result<()> {
                    loop {
                        let next = from_gpu.lock().expect("no writer panics holding it").recv();
                        let Ok(batch) = next else { return Ok(()) };
                        let written = write(&batch).and_then(|lines| {
                            let mut f = folder.lock().expect("no writer panics holding it");
                            lines.iter().try_for_each(|l| f.finish(l))?;
                            done(lines.len() as u64);
                            Ok(())
                        });
                        if written.is_err() {
                            abort.store(true, Ordering::Relaxed);
                            return written;
                        }
                    }
                })
            })
            .collect();
        // The writers own the receiving end: if they all stop, sending fails instead of blocking.
        drop(from_gpu);
        let computed = (|| -> Result<()> {
            for (k, chunk) in chunks.iter().enumerate() {
                if abort.load(Ordering::Relaxed) {
                    break;
                }
                let results = decoded[k % stages.decoders]
                    .recv()
                    .map_err(|_| Error::Invalid("an input decoder thread stopped".into()))?;
                let mut ok = Vec::with_capacity(chunk.len());
                let mut data = Vec::new();
                for (it, r) in chunk.iter().zip(results) {
                    match r {
                        Ok(values) => {
                            ok.push(it.clone());
                            data.extend_from_slice(&values);
                        }
                        Err(e) if stages.fail_fast => {
                            return Err(Error::Invalid(format!("input {}: {e}", it.name)))
                        }
                        Err(e) => {
                            folder
                                .lock()
                                .expect("no writer panics holding it")
                                .fail(&it.name, &e)?;
                            done(1);
                        }
                    }
                }
                if ok.is_empty() {
                    continue;
                }
                let x = Tensor::new(
                    std::iter::once(ok.len())
                        .chain(shape.iter().copied())
                        .collect(),
                    data,
                )?;
                // The error keeps its kind (a lost device, out of memory) under the batch's name;
                // the batches before it are already with the writers, which finish them.
                let result = compute(&x).map_err(|e| Error::Batch {
                    index: k,
                    count: ok.len(),
                    first: ok[0].name.clone(),
                    last: ok[ok.len() - 1].name.clone(),
                    source: Box::new(e),
                })?;
                if to_writers
                    .send(Batch {
                        items: ok,
                        x,
                        result,
                    })
                    .is_err()
                {
                    break;
                }
            }
            Ok(())
        })();
        if computed.is_err() {
            abort.store(true, Ordering::Relaxed);
        }
        drop(to_writers);
        drop(decoded);
        let written: Vec<Result<()>> = writers
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Invalid("an output writer thread panicked".into()))
                })
            })
            .collect();
        computed?;
        written.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(())
    })
}
