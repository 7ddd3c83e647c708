//! Reading and writing lab files: atomic saves (a temporary file beside the target, then a
//! rename, then a sync of the directory) so that a crash or a full disk never leaves half a lab
//! behind, and the cleanup of temporary files that a killed save left.

use super::file::{Lab, LabError};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Where no process table can be asked whether a temporary file's writer is alive, a file this
/// old is taken as abandoned: no save takes anywhere near that long.
const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// Reads and validates a lab file.
pub fn load(path: &Path) -> Result<Lab, LabError> {
    let text = fs::read_to_string(path)
        .map_err(|e| LabError::new("", format!("cannot read {}: {e}", path.display())))?;
    Lab::from_json(&text)
}

/// The temporary file a save of `name` by process `pid` writes before its rename.
fn temp_name(name: &str, pid: u32) -> String {
    format!(".{name}.tmp-{pid}")
}

/// The writer's pid if `file_name` is a temporary file of a save of `name`.
fn temp_owner(file_name: &str, name: &str) -> Option<u32> {
    let digits = file_name.strip_prefix('.')?.strip_prefix(name)?.strip_prefix(".tmp-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether process `pid`, which wrote a file (a temporary copy, a recovery file), is gone, so
/// that nothing will finish or remove the file. `age` is how long ago the file was last
/// modified, if known.
pub(crate) fn process_is_gone(pid: u32, age: Option<Duration>) -> bool {
    // Linux answers exactly through /proc (when it is mounted: /proc/self always exists there).
    if cfg!(target_os = "linux") && Path::new("/proc/self").exists() {
        return !Path::new("/proc").join(pid.to_string()).exists();
    }
    age.is_some_and(|age| age >= STALE_AFTER)
}

/// Removes temporary files of earlier saves of `name` in `dir` whose writer died (a kill
/// during a save leaves one, as large as the lab). Best effort: a file that cannot be read or
/// removed is left for the next save.
fn remove_stale_temps(dir: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let own = std::process::id();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = temp_owner(&file_name.to_string_lossy(), name) else { continue };
        if pid == own {
            continue;
        }
        let age = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
        if process_is_gone(pid, age) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Makes the rename in `dir` durable: until the directory itself is synced, a power cut can
/// bring back the old directory entry (the old lab, or none) even though the new file's bytes
/// are on disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    match fs::File::open(dir).and_then(|d| d.sync_all()) {
        // Some file systems (several FUSE ones, for one) cannot sync a directory and say so:
        // there is nothing more to do there.
        Err(e) if matches!(e.kind(), std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported) => {
            Ok(())
        }
        other => other,
    }
}

/// Windows cannot open a directory as a file to sync it; its renames go through the journal.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Writes `text` to `path` atomically.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "lab".into());
    // First, so that the room an abandoned copy takes is free for this one.
    remove_stale_temps(dir, &name);
    let tmp = dir.join(temp_name(&name, std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir)
}

/// Saves a lab atomically, with a `"$schema"` that leads editors to pagelab's JSON Schema from
/// where it is saved ([`super::schema_link::link_to_save`]); the lab in memory is left as it is,
/// so that the link is worked out again wherever it is saved next.
pub fn save(lab: &Lab, path: &Path) -> std::io::Result<()> {
    save_linked(lab, path).map(drop)
}

/// [`save`], returning the `"$schema"` link the file was written with.
pub fn save_linked(lab: &Lab, path: &Path) -> std::io::Result<Option<String>> {
    let mut file = lab.to_file();
    file.schema = super::schema_link::link_to_save(file.schema.as_deref(), path);
    write_atomic(path, &file.to_json())?;
    Ok(file.schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Machine, presets};

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.json");
        let lab = Lab::new("x", "", Machine::new(presets::by_name("sv39").unwrap(), 1 << 20).unwrap());
        save(&lab, &path).unwrap();
        let loaded = load(&path).unwrap();
        // The save added the link to the JSON Schema it wrote beside the lab; nothing else differs.
        assert_eq!(loaded.schema.as_deref(), Some("lab.schema.json"));
        assert_eq!(Lab { schema: None, ..loaded }, lab);
        assert_eq!(names_in(dir.path()), ["lab.json", "lab.schema.json"]);
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

    #[test]
    fn temporary_names_are_recognised_exactly() {
        assert_eq!(temp_owner(&temp_name("lab.json", 42), "lab.json"), Some(42));
        assert_eq!(temp_owner(".lab.json.tmp-", "lab.json"), None);
        assert_eq!(temp_owner(".lab.json.tmp-12x", "lab.json"), None);
        assert_eq!(temp_owner(".lab.json.tmp-+12", "lab.json"), None);
        assert_eq!(temp_owner(".other.json.tmp-12", "lab.json"), None);
        assert_eq!(temp_owner("lab.json.tmp-12", "lab.json"), None);
    }

    #[test]
    fn only_old_files_count_as_abandoned_without_a_process_table() {
        if cfg!(target_os = "linux") {
            return; // Linux asks /proc instead (tested below).
        }
        assert!(!process_is_gone(u32::MAX, None));
        assert!(!process_is_gone(u32::MAX, Some(Duration::from_secs(60))));
        assert!(process_is_gone(u32::MAX, Some(STALE_AFTER)));
    }

    /// A pid no process can have: pids stay below /proc/sys/kernel/pid_max.
    #[cfg(target_os = "linux")]
    fn dead_pid() -> u32 {
        let max = fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
        max.trim().parse::<u32>().unwrap() + 1
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_save_removes_temporary_files_of_dead_writers_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.json");
        let dead = dead_pid();
        let live = std::os::unix::process::parent_id();
        let stale = temp_name("lab.json", dead);
        let in_progress = temp_name("lab.json", live);
        let unrelated = [
            temp_name("other.json", dead),
            format!(".lab.json.tmp-{dead}.bak"),
            "lab.json.tmp-1".to_string(),
            "notes.txt".to_string(),
        ];
        for name in unrelated.iter().chain([&stale, &in_progress]) {
            fs::write(dir.path().join(name), "half a lab").unwrap();
        }
        write_atomic(&path, "{}").unwrap();
        let mut expected: Vec<String> = unrelated.to_vec();
        expected.extend([in_progress, "lab.json".to_string()]);
        expected.sort();
        assert_eq!(names_in(dir.path()), expected, "only {stale} is gone");
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}");
    }
}
