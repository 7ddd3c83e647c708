//! Recovery files: a copy of the app's unsaved work, written every minute (and on a panic) into
//! a per-user directory, so that a crash or a kill loses little. Each running app writes its own
//! file (`autosave-PID.json`); at start, the files that apps now gone left behind are offered
//! back. The UI that writes and offers them is `ui::recovery`.

use super::file::{Lab, LabError};
use super::io;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// The environment variable that overrides where recovery files go.
pub const DIR_VAR: &str = "PAGELAB_RECOVERY_DIR";

/// The file-format marker of a recovery file.
const MAGIC: &str = "pagelab-recovery";

/// A recovery file that cannot be used.
#[derive(Debug, Error)]
pub enum RecoveryError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{} is not a pagelab recovery file: {message}", path.display())]
    NotRecovery { path: PathBuf, message: String },
    #[error("the lab in {} is damaged: {source}", path.display())]
    Lab { path: PathBuf, source: LabError },
}

/// A recovery file as it is on disk; the lab is a lab file's JSON (`L` is `LabFile` when
/// writing, and plain JSON when reading, so that the lab's own errors keep their paths).
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RecoveryFile<L> {
    format: String,
    /// When the work was copied, in milliseconds since the Unix epoch.
    saved_at_ms: u64,
    /// The lab file the work belongs to (`None`: a lab never saved).
    source: Option<String>,
    lab: L,
}

/// Unsaved work found in a recovery file.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// The recovery file.
    pub file: PathBuf,
    pub lab: Lab,
    /// The lab file the work belongs to (`None`: a lab never saved).
    pub source: Option<PathBuf>,
    /// When the work was copied.
    pub saved_at: SystemTime,
}

/// Where recovery files go: `$PAGELAB_RECOVERY_DIR`, else `$XDG_STATE_HOME/pagelab`, else
/// `~/.local/state/pagelab`; `None` when none of them is set (the app then uses its own
/// storage directory).
#[must_use]
pub fn default_dir() -> Option<PathBuf> {
    dir_from(|name| std::env::var_os(name))
}

fn dir_from(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(dir) = var(DIR_VAR).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    // The XDG base-directory spec says to ignore relative paths in these variables.
    let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_STATE_HOME")
        .map(|state| state.join("pagelab"))
        .or_else(|| absolute("HOME").map(|home| home.join(".local").join("state").join("pagelab")))
}

/// The name of the recovery file of the app running as process `pid`.
#[must_use]
pub fn file_name(pid: u32) -> String {
    format!("autosave-{pid}.json")
}

/// This process's recovery file in `dir`.
#[must_use]
pub fn own_file(dir: &Path) -> PathBuf {
    dir.join(file_name(std::process::id()))
}

fn file_pid(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("autosave-")?.strip_suffix(".json")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The text of a recovery file holding `lab`, copied at `saved_at`.
#[must_use]
pub fn to_json(lab: &Lab, source: Option<&Path>, saved_at: SystemTime) -> String {
    let file = RecoveryFile {
        format: MAGIC.into(),
        saved_at_ms: millis(saved_at),
        source: source.map(|p| p.to_string_lossy().into_owned()),
        lab: lab.to_file(),
    };
    // Compact: written every minute, read only after a crash.
    serde_json::to_string(&file).unwrap_or_default()
}

/// Writes a recovery file atomically, creating its directory.
///
/// # Errors
/// What the file system said.
pub fn write(path: &Path, json: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    io::write_atomic(path, json)
}

/// Reads and validates a recovery file.
///
/// # Errors
/// An unreadable file, one that is not a recovery file, or a damaged lab in it.
pub fn read(path: &Path) -> Result<Recovered, RecoveryError> {
    let text =
        fs::read_to_string(path).map_err(|source| RecoveryError::Read { path: path.into(), source })?;
    let not_recovery = |message: String| RecoveryError::NotRecovery { path: path.into(), message };
    let file: RecoveryFile<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| not_recovery(e.to_string()))?;
    if file.format != MAGIC {
        return Err(not_recovery(format!("its format is {:?}", file.format)));
    }
    let lab = Lab::from_value(file.lab).map_err(|source| RecoveryError::Lab { path: path.into(), source })?;
    Ok(Recovered {
        file: path.into(),
        lab,
        source: file.source.map(PathBuf::from),
        saved_at: UNIX_EPOCH + Duration::from_millis(file.saved_at_ms),
    })
}

/// The work that apps now gone left in `dir`, newest first. Call it at start, before this app
/// writes its own file: a file named for this process is then a previous process's with the
/// same pid. A file older than its lab is obsolete (the lab was saved since) and is removed;
/// files that cannot be read are left alone.
#[must_use]
pub fn left_behind(dir: &Path) -> Vec<Recovered> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let own = std::process::id();
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = file_pid(&entry.file_name().to_string_lossy()) else { continue };
        let age = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
        if pid != own && !io::process_is_gone(pid, age) {
            continue; // another app that is running: its work is its own
        }
        let Ok(recovered) = read(&entry.path()) else { continue };
        let lab_modified =
            recovered.source.as_deref().and_then(|s| fs::metadata(s).ok()).and_then(|m| m.modified().ok());
        if lab_modified.is_some_and(|m| millis(m) > millis(recovered.saved_at)) {
            let _ = fs::remove_file(&recovered.file);
            continue;
        }
        found.push(recovered);
    }
    found.sort_by(|a, b| b.saved_at.cmp(&a.saved_at).then_with(|| a.file.cmp(&b.file)));
    found
}

/// `at` in words: `2025-06-01 14:03 UTC (5 minutes ago)`.
#[must_use]
pub fn describe_time(at: SystemTime, now: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_date(secs / 86_400);
    let (hour, minute) = (secs % 86_400 / 3600, secs % 3600 / 60);
    let ago = match now.duration_since(at).map(|d| d.as_secs()) {
        Ok(s) if s < 60 => "just now".to_string(),
        Ok(s) if s < 3600 => plural(s / 60, "minute"),
        Ok(s) if s < 86_400 => plural(s / 3600, "hour"),
        Ok(s) => plural(s / 86_400, "day"),
        Err(_) => "in the future?".to_string(),
    };
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC ({ago})")
}

fn plural(n: u64, unit: &str) -> String {
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// The Gregorian date `days` days after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Eras of 400 years (146,097 days) start on March 1st, 0000; 1970-01-01 is day 719,468.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Machine, presets};

    fn lab(title: &str) -> Lab {
        Lab::new(title, "", Machine::new(presets::by_name("sv39").unwrap(), 1 << 20).unwrap())
    }

    #[test]
    fn the_directory_is_the_variable_then_xdg_state_then_home() {
        fn env<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
            move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
        }
        let all = [(DIR_VAR, "/tmp/r"), ("XDG_STATE_HOME", "/s"), ("HOME", "/h")];
        assert_eq!(dir_from(env(&all)), Some(PathBuf::from("/tmp/r")));
        assert_eq!(dir_from(env(&all[1..])), Some(PathBuf::from("/s/pagelab")));
        assert_eq!(
            dir_from(env(&[("XDG_STATE_HOME", "rel"), ("HOME", "/h")])),
            Some("/h/.local/state/pagelab".into())
        );
        assert_eq!(dir_from(env(&[])), None);
    }

    #[test]
    fn a_recovery_file_round_trips_its_lab_source_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(file_name(7));
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        write(&path, &to_json(&lab("work"), Some(Path::new("/labs/a.json")), at)).unwrap();
        let back = read(&path).unwrap();
        assert_eq!((back.lab, back.source, back.saved_at), (lab("work"), Some("/labs/a.json".into()), at));
        fs::write(&path, "{\"format\": \"pagelab-lab\"}").unwrap();
        assert!(matches!(read(&path), Err(RecoveryError::NotRecovery { .. })));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_work_of_apps_gone_and_newer_than_its_lab_is_offered() {
        let dir = tempfile::tempdir().unwrap();
        let saved_lab = dir.path().join("lab.json");
        fs::write(&saved_lab, "{}").unwrap();
        let now = SystemTime::now();
        let hour = Duration::from_secs(3600);
        let dead = u32::MAX; // beyond any Linux pid_max
        let live = std::os::unix::process::parent_id();
        let plant = |name: String, title: &str, source: Option<&Path>, at: SystemTime| {
            let path = dir.path().join(name);
            write(&path, &to_json(&lab(title), source, at)).unwrap();
            path
        };
        plant(file_name(dead - 1), "older", None, now - hour);
        plant(file_name(dead), "newest", Some(&saved_lab), now + hour);
        let obsolete = plant(file_name(dead - 2), "obsolete", Some(&saved_lab), now - hour);
        let running = plant(file_name(live), "running", None, now);
        fs::write(dir.path().join(file_name(dead - 3)), "not JSON").unwrap();
        let titles: Vec<String> = left_behind(dir.path()).into_iter().map(|r| r.lab.title).collect();
        assert_eq!(titles, ["newest", "older"]);
        assert!(!obsolete.exists(), "work older than its saved lab is removed");
        assert!(running.exists());
    }

    #[test]
    fn times_read_as_utc_dates() {
        let at = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3600 + 120); // 2000-02-29 01:02
        assert_eq!(describe_time(at, at + Duration::from_secs(300)), "2000-02-29 01:02 UTC (5 minutes ago)");
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(19_723), (2024, 1, 1));
        assert_eq!(
            describe_time(UNIX_EPOCH, UNIX_EPOCH + Duration::from_secs(86_400)),
            "1970-01-01 00:00 UTC (1 day ago)"
        );
    }
}
