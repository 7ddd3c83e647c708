//! Reading and writing lab files: atomic saves (a temporary file beside the target, then a
//! rename) so that a crash or a full disk never leaves half a lab behind.

use super::file::{Lab, LabError};
use std::fs;
use std::io::Write;
use std::path::Path;

/// Reads and validates a lab file.
pub fn load(path: &Path) -> Result<Lab, LabError> {
    let text = fs::read_to_string(path)
        .map_err(|e| LabError::new("", format!("cannot read {}: {e}", path.display())))?;
    Lab::from_json(&text)
}

/// Writes `text` to `path` atomically.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "lab".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Saves a lab atomically.
pub fn save(lab: &Lab, path: &Path) -> std::io::Result<()> {
    write_atomic(path, &lab.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Machine, presets};

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.json");
        let lab = Lab::new("x", "", Machine::new(presets::by_name("sv39").unwrap(), 1 << 20).unwrap());
        save(&lab, &path).unwrap();
        assert_eq!(load(&path).unwrap(), lab);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_failed_save_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/lab.json");
        assert!(write_atomic(&missing, "{}").is_err());
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = load(Path::new("/definitely/not/here.json")).unwrap_err();
        assert!(err.message.contains("cannot read"));
    }
}
