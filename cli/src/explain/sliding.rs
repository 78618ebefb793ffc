//! `glimpse explain --window HxW --stride S` for every method but occlusion (whose window the
//! same flags give): the model slides over inputs larger than its own (`--size HxW` gives
//! theirs), every window batched, the maps stitched and summed, the coverage written beside.

use glimpse::error::{Error, Result};
use glimpse::explain::window::{Sliding, WindowScore};
use glimpse::Method;

use super::ExplainArgs;

/// The sliding windows the arguments ask for, and the inputs' shape `[C, H, W]` they slide
/// over; `None` when they ask for none.
pub fn sliding_from(
    args: &ExplainArgs,
    method: &Method,
    model_shape: &[usize],
) -> Result<Option<(Sliding, Vec<usize>)>> {
    let m = &args.methods;
    if matches!(method, Method::Occlusion(_)) || (m.window.is_none() && m.stride.is_none()) {
        return Ok(None);
    }
    let &[c, h, w] = model_shape else {
        return Err(Error::Invalid(format!(
            "--window slides over images; the model takes {model_shape:?}"
        )));
    };
    if let Some(given) = &m.window {
        if pair(given, "--window")? != (h, w) {
            return Err(Error::Invalid(format!(
                "--window {given}: the windows are the model's input, {h}x{w}"
            )));
        }
    }
    let stride = match &m.stride {
        Some(s) => pair(s, "--stride")?,
        None => (h.div_ceil(2), w.div_ceil(2)),
    };
    let size = args.input.size.as_deref().ok_or_else(|| {
        Error::Invalid(
            "--window slides the model over larger inputs: give their size with --size HxW".into(),
        )
    })?;
    let (ch, cw) = pair(size, "--size")?;
    let sliding = Sliding {
        window: (h, w),
        stride,
        score: WindowScore::parse(&args.window_score)?,
    };
    // Checked here, before any input is read.
    sliding.positions(ch, cw)?;
    Ok(Some((sliding, vec![c, ch, cw])))
}

/// `S` or `HxW`.
fn pair(s: &str, flag: &str) -> Result<(usize, usize)> {
    let bad = || Error::Invalid(format!("{flag} {s}: expected N or HxW"));
    let parse = |v: &str| v.trim().parse::<usize>().map_err(|_| bad());
    match s.split_once('x') {
        Some((a, b)) => Ok((parse(a)?, parse(b)?)),
        None => {
            let v = parse(s)?;
            Ok((v, v))
        }
    }
}
