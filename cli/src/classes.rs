//! Class names for the command line's output (`--classes FILE`): line k names class k.

use std::path::Path;

use glimpse::error::{Error, Result};

/// The names of a model's output classes.
#[derive(Debug, Clone)]
pub struct ClassNames(Vec<String>);

impl ClassNames {
    /// Reads `path` (UTF-8, one name per line) for a model with `classes` outputs; a file with
    /// another number of names is an error naming both counts.
    pub fn load(path: &Path, classes: usize) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        // A byte-order mark and blank lines after the last name are not names.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text).trim_end();
        let names: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
        if names.len() != classes {
            return Err(Error::Shape(format!(
                "{} names {} classes but the model has {classes} outputs",
                path.display(),
                names.len()
            )));
        }
        Ok(Self(names))
    }

    /// Reads the file if one was given.
    pub fn load_optional(path: Option<&Path>, classes: usize) -> Result<Option<Self>> {
        path.map(|p| Self::load(p, classes)).transpose()
    }

    /// The name of class `k`.
    pub fn name(&self, k: usize) -> &str {
        &self.0[k]
    }

    /// Adds `"name"` to a summary line from its `"class"` (the predicted class, or the largest
    /// weight of a weighted target).
    pub fn label(&self, line: &mut serde_json::Value) {
        if let Some(k) = line["class"].as_u64() {
            line["name"] = self.name(k as usize).into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_must_match_the_outputs() {
        let dir = std::env::temp_dir().join(format!("glimpse_classes_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("names.txt");
        std::fs::write(&path, "\u{feff}cat\r\ndog\n\n").unwrap();
        let names = ClassNames::load(&path, 2).unwrap();
        assert_eq!((names.name(0), names.name(1)), ("cat", "dog"));
        let err = ClassNames::load(&path, 3).unwrap_err().to_string();
        assert!(
            err.contains("names 2 classes") && err.contains("3 outputs"),
            "{err}"
        );
        let missing = ClassNames::load(&dir.join("none.txt"), 2)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("none.txt"), "{missing}");
    }
}
