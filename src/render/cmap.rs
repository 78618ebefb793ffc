//! Colour maps with the names, definitions and 256-entry palettes of Zennit's
//! `zennit.image.CMAPS`, compiled from the same colour-map language.
//!
//! The language: comma-separated colours, each `rgb` (one hex digit per channel, doubled:
//! `f80` is `ff8800`) or `rrggbb`, optionally prefixed by an index `i:` or `ii:` (hex, one
//! digit doubled) saying where on 0..=255 the colour sits. Colours between indexed ones are
//! spaced evenly; the first colour sits at 0 and the last at 255 unless indexed. The map is
//! linear between these stops.

use crate::error::{Error, Result};

/// Names and sources of the built-in colour maps, as in `zennit.image.CMAPS`.
const BUILTIN: [(&str, &str); 11] = [
    // black to white
    ("gray", "000,fff"),
    // white to red
    ("wred", "fff,f00"),
    // white to blue
    ("wblue", "fff,00f"),
    // black to red to yellow to white
    ("hot", "000,f00,ff0,fff"),
    // black to blue to cyan
    ("cold", "000,00f,0ff"),
    // cold (reversed) and hot, black in the middle
    ("coldnhot", "0ff,00f,80:000,f00,ff0,fff"),
    // blue to white to red
    ("bwr", "00f,80:fff,f00"),
    // blue to white to red as in the French flag
    ("france", "0055a4,80:fff,ef4135"),
    // blue to grey to red at brightness 0xd0
    ("seismic", "0000d0,80:d0d0d0,d00000"),
    // cyan to grey to magenta at brightness 0xd0
    ("coolio", "00d0d0,80:d0d0d0,d000d0"),
    // green to grey to magenta at brightness 0xd0
    ("coleus", "00d000,80:d0d0d0,d000d0"),
];

/// The names [`Cmap::from_name`] accepts, in Zennit's order.
pub const CMAP_NAMES: [&str; 11] = [
    "gray", "wred", "wblue", "hot", "cold", "coldnhot", "bwr", "france", "seismic", "coolio",
    "coleus",
];

/// A 256-entry RGB palette.
pub type Palette = [[u8; 3]; 256];

/// A piecewise-linear colour map over [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Cmap {
    name: String,
    /// Stop positions on 0..=255, ascending, ending with the sentinel 256.
    indices: Vec<u32>,
    /// The colour at each stop.
    colors: Vec<[u8; 3]>,
}

impl Cmap {
    /// A built-in colour map by name (see [`CMAP_NAMES`]).
    pub fn from_name(name: &str) -> Result<Cmap> {
        let (_, source) = BUILTIN.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            Error::Invalid(format!(
                "unknown colour map '{name}'; valid names: {}",
                CMAP_NAMES.join(", ")
            ))
        })?;
        let mut cmap = Cmap::from_source(source)?;
        cmap.name = name.to_string();
        Ok(cmap)
    }

    /// Compiles a colour map from Zennit's colour-map language, e.g. `"00f,80:fff,f00"`.
    /// Accepts and rejects exactly what `zennit.cmap.ColorMap` does.
    pub fn from_source(source: &str) -> Result<Cmap> {
        let fail = |why: String| Error::Invalid(format!("colour map '{source}': {why}"));
        let nodes = parse(source).map_err(fail)?;
        let (indices, colors) = stops(nodes).map_err(fail)?;
        Ok(Cmap {
            name: source.to_string(),
            indices,
            colors,
        })
    }

    /// The map's name, or its source when compiled from one.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The colour at `x` (clamped to [0, 1]) with channels in [0, 1], as Zennit's
    /// `ColorMap.__call__`.
    pub fn map(&self, x: f64) -> [f64; 3] {
        let x = (x * 255.0).clamp(0.0, 255.0);
        // Number of stops (sentinel excluded) at or below x; at least 1 since the first is 0.
        let last = self.indices.len() - 1;
        let i = self.indices[..last].partition_point(|&s| s as f64 <= x);
        let (i0, i1) = (self.indices[i - 1] as f64, self.indices[i] as f64);
        let alpha = (x - i0) / (i1 - i0);
        let (c0, c1) = (self.colors[i - 1], self.colors[i]);
        std::array::from_fn(|k| (c0[k] as f64 * (1.0 - alpha) + c1[k] as f64 * alpha) / 255.0)
    }

    /// The 8-bit palette at `level`, as Zennit's `ColorMap.palette(level)`: entry `i` is the
    /// colour at `((-1 + 2i/255) * level + 1) / 2`, so levels above 1 saturate earlier and
    /// levels below 1 use less of the map's range.
    pub fn palette(&self, level: f64) -> Palette {
        let step = 2.0 / 255.0;
        std::array::from_fn(|i| {
            // np.linspace(-1, 1, 256): start + i * step, with the end point exact.
            let t = if i == 255 {
                1.0
            } else {
                i as f64 * step + -1.0
            };
            let x = ((t * level + 1.0) / 2.0).clamp(0.0, 1.0);
            self.map(x).map(|v| {
                // (v * 255).round(12).clip(0, 255).astype(uint8)
                let v = (v * 255.0 * 1e12).round_ties_even() / 1e12;
                v.clamp(0.0, 255.0) as u8
            })
        })
    }
}

/// A colour with an optional index, as written in the source.
type Node = (Option<u32>, [u8; 3]);

/// Token kinds of the colour-map language.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok {
    Color,
    Index,
    Colon,
}

fn hex(s: &str) -> u32 {
    // Callers pass only hex digits.
    u32::from_str_radix(s, 16).unwrap_or(0)
}

/// Tokenises and parses a source into colour nodes. Tokens are matched greedily in the
/// order: six hex digits (colour), three (short colour), one or two (index), `:`, `,`,
/// whitespace; anything else is an error.
fn parse(source: &str) -> std::result::Result<Vec<Node>, String> {
    let bytes = source.as_bytes();
    let mut nodes = Vec::new();
    // The tokens of the current comma-separated item, with an index's value.
    let mut log: Vec<(Tok, u32)> = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let run = bytes[pos..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        let unexpected = |what: &str| format!("unexpected {what} at position {pos}");
        if run >= 3 {
            let (len, digits) = if run >= 6 { (6, 2) } else { (3, 1) };
            let text = &source[pos..pos + len];
            let color: [u8; 3] = std::array::from_fn(|k| {
                let d = &text[k * digits..(k + 1) * digits];
                (if digits == 1 { hex(d) * 17 } else { hex(d) }) as u8
            });
            let index = match log.as_slice() {
                [] => None,
                [(Tok::Index, i), (Tok::Colon, _)] => Some(*i),
                _ => return Err(unexpected(&format!("colour '{text}'"))),
            };
            nodes.push((index, color));
            log.push((Tok::Color, 0));
            pos += len;
        } else if run >= 1 {
            let len = run.min(2);
            let text = &source[pos..pos + len];
            if !log.is_empty() {
                return Err(unexpected(&format!("index '{text}'")));
            }
            let value = if len == 1 { hex(text) * 17 } else { hex(text) };
            log.push((Tok::Index, value));
            pos += len;
        } else {
            // `pos` is always on a character boundary: only ASCII tokens advance it.
            let c = source[pos..].chars().next().unwrap_or(' ');
            match c {
                ':' if matches!(log.as_slice(), [(Tok::Index, _)]) => log.push((Tok::Colon, 0)),
                ',' if matches!(log.last(), Some((Tok::Color, _))) => log.clear(),
                // Python's `\s`: Unicode white space plus the separators U+001C..U+001F.
                c if c.is_whitespace() || ('\x1c'..='\x1f').contains(&c) => {}
                ':' => return Err(unexpected("':'")),
                ',' => return Err(unexpected("','")),
                _ => return Err(unexpected(&format!("text '{}'", &source[pos..]))),
            }
            pos += c.len_utf8();
        }
    }
    match log.last() {
        Some((Tok::Index, _)) => Err("the source ends with an index".into()),
        Some((Tok::Colon, _)) => Err("the source ends with ':'".into()),
        _ => Ok(nodes),
    }
}

/// Stop positions (ending with the sentinel 256) and their colours.
type Stops = (Vec<u32>, Vec<[u8; 3]>);

/// Places the nodes on 0..=255 (unindexed ones spaced evenly between indexed neighbours)
/// and appends the sentinel stop 256.
fn stops(nodes: Vec<Node>) -> std::result::Result<Stops, String> {
    if nodes.len() < 2 {
        return Err("a colour map needs at least 2 colours".into());
    }
    let mut out: Vec<(u32, [u8; 3])> = Vec::new();
    let (first_index, first_color) = nodes[0];
    out.push((0, first_color));
    if let Some(i) = first_index.filter(|&i| i > 0) {
        out.push((i, first_color));
    }
    let rest = &nodes[1..];
    let mut pending: Vec<[u8; 3]> = Vec::new();
    for (n, &(index, color)) in rest.iter().enumerate() {
        let index = match index {
            None if n + 1 < rest.len() => {
                pending.push(color);
                continue;
            }
            None => 255,
            Some(i) => {
                let prev = out.last().map_or(0, |s| s.0);
                if i < prev {
                    return Err(format!(
                        "indices must ascend, but {i:02x} follows {prev:02x}"
                    ));
                }
                i
            }
        };
        if !pending.is_empty() {
            let prev = out.last().map_or(0, |s| s.0) as f64;
            let k = pending.len() + 1;
            for (j, &c) in pending.iter().enumerate() {
                // np.linspace(0, 1, k + 1)[1:-1], then int() truncates.
                let alpha = (j + 1) as f64 * (1.0 / k as f64);
                let at = prev * (1.0 - alpha) + index as f64 * alpha;
                out.push((at as u32, c));
            }
            pending.clear();
        }
        out.push((index, color));
    }
    let last = out.last().map_or(first_color, |s| s.1);
    out.push((256, last));
    Ok(out.into_iter().unzip())
}

#[cfg(test)]
mod tests;
