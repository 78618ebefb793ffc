//! The header of a `.npy` file: a Python dictionary literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.

/// Arrays with more dimensions are refused (NumPy's limit is 64).
const MAX_DIMS: usize = 64;

/// A value in the header dictionary.
#[derive(Debug, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` into its three
/// fields. The header is a Python literal; this accepts the subset NumPy writes.
pub(super) fn parse_header(
    header: &str,
) -> std::result::Result<(String, bool, Vec<usize>), String> {
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        let slot = match key.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran,
            "shape" => &mut shape,
            _ => return Err(format!("unexpected header key '{key}'")),
        };
        p.expect(b':')?;
        if slot.replace(p.value()?).is_some() {
            return Err(format!("header key '{key}' appears twice"));
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.expect(b'}')?;
            break;
        }
    }
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(format!(
            "unexpected text after the header dictionary at byte {}",
            p.i
        ));
    }
    let descr = match descr {
        Some(Value::Str(s)) => s,
        Some(_) => {
            return Err("'descr' must be a type string; structured dtypes are not supported".into())
        }
        None => return Err("header lacks 'descr'".into()),
    };
    let fortran = match fortran {
        Some(Value::Bool(b)) => b,
        Some(_) => return Err("'fortran_order' must be True or False".into()),
        None => return Err("header lacks 'fortran_order'".into()),
    };
    let shape = match shape {
        Some(Value::Tuple(t)) => t,
        Some(_) => return Err("'shape' must be a tuple of integers".into()),
        None => return Err("header lacks 'shape'".into()),
    };
    if shape.len() > MAX_DIMS {
        return Err(format!(
            "shape has {} dimensions (limit {MAX_DIMS})",
            shape.len()
        ));
    }
    Ok((descr, fortran, shape))
}

/// A cursor over the header text.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        self.skip_ws();
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "malformed header: expected '{}' at byte {}",
                c as char, self.i
            ))
        }
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        self.skip_ws();
        let quote = match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "malformed header: expected a string at byte {}",
                    self.i
                ))
            }
        };
        let start = self.i + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == quote)
            .ok_or_else(|| "malformed header: unterminated string".to_string())?;
        self.i = start + len + 1;
        // Both ends are ASCII quotes, so the slice is valid UTF-8.
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }

    fn word(&mut self) -> &'a [u8] {
        let s = self.s;
        let start = self.i;
        while self.i < s.len() && s[self.i].is_ascii_alphanumeric() {
            self.i += 1;
        }
        &s[start..self.i]
    }

    fn value(&mut self) -> std::result::Result<Value, String> {
        self.skip_ws();
        match self.s.get(self.i) {
            Some(b'\'' | b'"') => Ok(Value::Str(self.string()?)),
            Some(b'(') => {
                self.i += 1;
                let mut dims = Vec::new();
                loop {
                    self.skip_ws();
                    if self.eat(b')') {
                        break;
                    }
                    dims.push(self.dim()?);
                    self.skip_ws();
                    if !self.eat(b',') {
                        self.expect(b')')?;
                        break;
                    }
                    if dims.len() > MAX_DIMS {
                        return Err(format!("shape has more than {MAX_DIMS} dimensions"));
                    }
                }
                Ok(Value::Tuple(dims))
            }
            Some(b'[') => Err("structured dtypes are not supported".into()),
            _ => match self.word() {
                b"True" => Ok(Value::Bool(true)),
                b"False" => Ok(Value::Bool(false)),
                w => Err(format!(
                    "malformed header: unexpected '{}' at byte {}",
                    String::from_utf8_lossy(w),
                    self.i
                )),
            },
        }
    }

    /// A non-negative integer dimension, with Python 2's optional `L` suffix.
    fn dim(&mut self) -> std::result::Result<usize, String> {
        let at = self.i;
        let word = self.word();
        let digits = word.strip_suffix(b"L").unwrap_or(word);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(format!(
                "malformed header: shape entry '{}' at byte {at} is not a non-negative integer",
                String::from_utf8_lossy(word)
            ));
        }
        // All ASCII digits, so valid UTF-8.
        let text = std::str::from_utf8(digits).unwrap_or_default();
        text.parse::<usize>()
            .map_err(|_| format!("shape entry {text} is absurdly large"))
    }
}
