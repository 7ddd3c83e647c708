//! Helpers shared by integration tests (each test file that needs them says `mod common;`).

use pagelab::lab::Lab;
use pagelab::sim::{Machine, presets};
use serde_json::Value;

/// A lab file (as JSON) of a custom Sv39-like format with pages of `1 << page_shift` bytes: two
/// levels of 9 index bits above the page offset, a PPN field `ppn_width` bits wide, `frames`
/// frames of memory, the first `allocated` of them allocated, the root in frame 0, and the given
/// stored frames (`[{"frame": N, "bytes": [[offset, "hex"]]}]`).
pub fn huge_page_lab_json(
    page_shift: u32,
    ppn_width: u32,
    frames: u64,
    allocated: u64,
    stored: Value,
) -> Value {
    let sv39 = presets::by_name("sv39").expect("preset");
    let base = Lab::new("t", "", Machine::new(sv39.clone(), 1 << 20).expect("machine")).to_json();
    let mut value: Value = serde_json::from_str(&base).expect("json");
    let mut format = serde_json::to_value(sv39).expect("format");
    format["name"] = format!("pages-of-2^{page_shift}").into();
    format["page_shift"] = page_shift.into();
    format["levels"].as_array_mut().expect("levels").remove(0);
    format["va_bits"] = (page_shift + 18).into();
    for field in format["fields"].as_array_mut().expect("fields") {
        if field["name"] == "PPN" {
            field["width"] = ppn_width.into();
        }
    }
    value["paging"] = format;
    value["memory"]["size"] = (frames << page_shift).into();
    value["memory"]["allocated"] = serde_json::json!([[0, allocated]]);
    value["memory"]["frames"] = stored;
    value["processes"][0]["root"] = 0.into();
    value
}
