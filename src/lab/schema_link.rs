//! The `"$schema"` a saved lab carries, so that an instructor who opens it in an editor gets
//! completion and validation. A lab that names its own schema keeps it. Otherwise the save
//! points at pagelab's `lab.schema.json` beside the lab, or at the nearest `docs/lab.schema.json`
//! above it (a checkout of pagelab, or a course repository laid out the same way), and when there
//! is neither it writes `lab.schema.json` beside the lab. The link is a relative path, so a folder of labs keeps
//! working when it is copied, zipped or checked out elsewhere, offline.

use super::schema::lab_schema_json;
use std::path::Path;

/// The name of the copy pagelab writes (and keeps current) beside labs that have no schema.
pub const BESIDE_NAME: &str = "lab.schema.json";

/// How a schema file shows it is pagelab's (its title), read from its first bytes.
const TITLE_MARK: &str = "\"title\": \"pagelab lab file\"";

/// How many folders above the lab's are searched.
const MAX_UP: usize = 8;

/// The text of the file at `path` if it is a pagelab lab schema (of any version).
fn own_schema(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.chars().take(512).collect::<String>().contains(TITLE_MARK).then_some(text)
}

/// The nearest `docs/lab.schema.json` of pagelab's at or above `dir` (a checkout of pagelab, or
/// a course's repository laid out the same way), and how many folders up it is.
fn nearest_docs(dir: &Path) -> Option<usize> {
    dir.ancestors()
        .take(MAX_UP + 1)
        .position(|folder| own_schema(&folder.join("docs").join(BESIDE_NAME)).is_some())
}

/// The `$schema` to save a lab at `lab_path` with, given the one it has: a URL, or a relative
/// path that still leads to a file from there, is kept; a missing one, or a path that the move
/// to another folder broke, is worked out again (beside the lab, or a checkout's docs/), and
/// kept as it was only when nothing better can be found. A copy of pagelab's schema beside the lab that the link names
/// is brought up to this version's (a checkout's docs/ file is the repository's own).
pub fn link_to_save(existing: Option<&str>, lab_path: &Path) -> Option<String> {
    let dir = lab_path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let link = match existing {
        Some(link) if link.contains("://") || dir.join(link).is_file() => Some(link.to_string()),
        _ => link_for(dir).or_else(|| existing.map(str::to_string)),
    };
    if link.as_deref() == Some(BESIDE_NAME) {
        let beside = dir.join(BESIDE_NAME);
        if let Some(text) = own_schema(&beside) {
            let current = lab_schema_json();
            if text != current {
                let _ = super::io::write_atomic(&beside, &current);
            }
        }
    }
    link
}

/// A link for a lab in `dir` that has none: `lab.schema.json` when that file beside the lab is
/// pagelab's, else the nearest `docs/lab.schema.json` above, else a copy newly written beside
/// the lab. Best effort: `None` when nothing fits or can be written (a file of that name that
/// is not pagelab's is never overwritten), and the lab is then saved without the line.
fn link_for(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let beside = dir.join(BESIDE_NAME);
    if own_schema(&beside).is_some() {
        return Some(BESIDE_NAME.to_string());
    }
    if let Some(up) = nearest_docs(&dir) {
        let mut parts = vec![".."; up];
        parts.extend(["docs", BESIDE_NAME]);
        return Some(parts.join("/"));
    }
    if beside.exists() {
        return None;
    }
    super::io::write_atomic(&beside, &lab_schema_json()).ok()?;
    Some(BESIDE_NAME.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lab_alone_gets_a_copy_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let link = link_to_save(None, &dir.path().join("mine.json"));
        assert_eq!(link.as_deref(), Some("lab.schema.json"));
        let written = std::fs::read_to_string(dir.path().join(BESIDE_NAME)).unwrap();
        assert_eq!(written, lab_schema_json());
    }

    #[test]
    fn a_lab_below_a_checkout_points_up_to_docs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("docs")).unwrap();
        std::fs::create_dir_all(dir.path().join("labs/course")).unwrap();
        std::fs::write(dir.path().join("docs").join(BESIDE_NAME), lab_schema_json()).unwrap();
        let link = link_to_save(None, &dir.path().join("labs/course/a.json"));
        assert_eq!(link.as_deref(), Some("../../docs/lab.schema.json"));
        // Nothing was written beside the lab.
        assert!(!dir.path().join("labs/course").join(BESIDE_NAME).exists());
        // Saved elsewhere, that link would lead nowhere: the lab gets a copy beside it instead.
        let elsewhere = tempfile::tempdir().unwrap();
        let moved = link_to_save(link.as_deref(), &elsewhere.path().join("a.json"));
        assert_eq!(moved.as_deref(), Some("lab.schema.json"));
        assert!(elsewhere.path().join(BESIDE_NAME).is_file());
        // A URL, or a path that still leads to a file, is kept.
        let url = "https://example.org/lab.schema.json";
        assert_eq!(link_to_save(Some(url), &elsewhere.path().join("a.json")).as_deref(), Some(url));
        let again = link_to_save(link.as_deref(), &dir.path().join("labs/course/b.json"));
        assert_eq!(again, link);
    }

    #[test]
    fn an_old_copy_beside_is_refreshed_and_a_foreign_file_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let beside = dir.path().join(BESIDE_NAME);
        std::fs::write(&beside, "{\n  \"$schema\": \"x\",\n  \"title\": \"pagelab lab file\"\n}\n").unwrap();
        assert_eq!(link_to_save(None, &dir.path().join("a.json")).as_deref(), Some("lab.schema.json"));
        assert_eq!(std::fs::read_to_string(&beside).unwrap(), lab_schema_json());
        // A lab that already links to it, saved by a newer pagelab, refreshes it too.
        std::fs::write(&beside, "{\n  \"title\": \"pagelab lab file\"\n}\n").unwrap();
        assert_eq!(link_to_save(Some(BESIDE_NAME), &dir.path().join("a.json")).as_deref(), Some(BESIDE_NAME));
        assert_eq!(std::fs::read_to_string(&beside).unwrap(), lab_schema_json());

        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join(BESIDE_NAME), "{\"title\": \"someone else's\"}").unwrap();
        // Not pagelab's: it is neither used nor overwritten, and the lab gets no link.
        assert_eq!(link_to_save(None, &other.path().join("a.json")), None);
        assert_eq!(
            std::fs::read_to_string(other.path().join(BESIDE_NAME)).unwrap(),
            "{\"title\": \"someone else's\"}"
        );
    }
}
