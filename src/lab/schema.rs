//! The JSON Schema of the lab file, generated from the serde types (schemars) so it cannot
//! drift from what pagelab reads: docs/lab.schema.json holds it (a test keeps it current), and
//! a lab whose `"$schema"` points there gets completion and validation in editors.

use super::file::LabFile;

/// Where the schema is kept in the repository.
pub const SCHEMA_PATH: &str = "docs/lab.schema.json";

/// The schema of a lab file, as pretty JSON ending in a newline.
pub fn lab_schema_json() -> String {
    let mut schema = schemars::schema_for!(LabFile);
    schema.insert("title".into(), "pagelab lab file".into());
    schema.insert(
        "description".into(),
        "A pagelab lab: paging format, physical memory, processes, settings, exercises and locks. Generated from pagelab's types by `pagelab schema`.".into(),
    );
    serde_json::to_string_pretty(&schema)
        .map_or_else(|e| format!("{{\"error\": \"{e}\"}}"), |text| text + "\n")
}
