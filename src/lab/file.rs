//! The lab file: versioned JSON (`"format": "pagelab-lab"`) holding the paging format, the
//! memory that is in use, processes and settings. Loading never panics; every problem is
//! reported with the JSON path where it was found.

use super::nested::StoredNested;
use super::swap::{self, StoredSwapPage};
use crate::sim::fork::ShareCounts;
use crate::sim::format::{PDPTE_REGISTERS, PagingFormat};
use crate::sim::hex;
use crate::sim::machine::Machine;
use crate::sim::mem::PhysMem;
use crate::sim::mmu::MmuSettings;
use crate::sim::nested::NestedSetup;
use crate::sim::os::{OsSettings, SwapPages};
use crate::sim::presets;
use crate::sim::process::Process;
use crate::sim::{Pfn, PhysAddr};
use crate::tasks::locks::Locks;
use crate::tasks::task::Exercises;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// The file-format marker.
pub const MAGIC: &str = "pagelab-lab";
/// The version this build writes; it reads versions 1..=CURRENT_VERSION.
pub const CURRENT_VERSION: u32 = 1;

/// A problem in a lab file, with the JSON path where it is.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{}{message}", if path.is_empty() || path == "." { String::new() } else { format!("at {path}: ") })]
pub struct LabError {
    pub path: String,
    pub message: String,
}

impl LabError {
    pub fn new(path: impl Into<String>, message: impl fmt::Display) -> Self {
        Self { path: path.into(), message: message.to_string() }
    }
}

/// A loaded lab: the machine plus the words around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lab {
    pub title: String,
    /// Markdown shown beside the lab.
    pub description: String,
    pub machine: Machine,
    /// Who answers page faults (left out of the file while it has the defaults).
    pub os: OsSettings,
    /// The OS model's swap area: pages it evicted, whose not-present PTEs name these slots.
    pub swap: SwapPages,
    /// Tasks for students (empty in a plain lab).
    pub exercises: Exercises,
    /// Parts students cannot edit.
    pub locks: Locks,
    /// A host and a guest in this lab's memory (nested paging); `None` in a plain lab.
    pub nested: Option<NestedSetup>,
    /// The file's `$schema` (where editors find docs/lab.schema.json), kept as read.
    pub schema: Option<String>,
}

/// The paging format as stored: a preset's name, or a full definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum PagingSpec {
    Preset(String),
    Custom(Box<PagingFormat>),
}

/// One stored run of nonzero bytes inside a frame: `[offset, "hex"]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ByteRun(pub u64, pub String);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoredFrame {
    pub frame: Pfn,
    pub bytes: Vec<ByteRun>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoredMemory {
    /// Size in bytes.
    pub size: u64,
    /// Allocated frames as `[first, count]` runs.
    #[serde(default)]
    pub allocated: Vec<[u64; 2]>,
    /// Frames holding nonzero bytes.
    #[serde(default)]
    pub frames: Vec<StoredFrame>,
}

/// The file as it is on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabFile {
    /// Where editors find this file's JSON Schema (docs/lab.schema.json); pagelab ignores it.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub format: String,
    pub version: u32,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub paging: PagingSpec,
    pub memory: StoredMemory,
    pub processes: Vec<Process>,
    #[serde(default)]
    pub active: usize,
    #[serde(default)]
    pub settings: MmuSettings,
    /// PAE's PDPTE registers, written only while they differ from the active process's PDPTEs
    /// in memory (an edit since the last CR3 load); otherwise loading reads them from memory,
    /// as a CR3 load does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdpte_registers: Option<[u64; PDPTE_REGISTERS]>,
    /// The OS model: manual or demand paging, frame limit, replacement policy, seed.
    #[serde(default, skip_serializing_if = "OsSettings::is_default")]
    pub os: OsSettings,
    /// The OS model's swap slots and their bytes (left out while there are none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swap: Vec<StoredSwapPage>,
    /// Share counts of frames fork() shares between processes, as `[frame, owners]` pairs by
    /// frame (left out while there are none; older labs have none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Exercises::is_empty")]
    pub exercises: Exercises,
    #[serde(default, skip_serializing_if = "Locks::is_empty")]
    pub locks: Locks,
    /// Nested paging: the host's tables and the guest's root (left out of plain labs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nested: Option<StoredNested>,
}

impl LabFile {
    /// Pretty JSON ending in a newline, as every lab file is written.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

/// Splits a frame into runs of nonzero bytes (runs separated by 8 or more zeros).
pub(super) fn byte_runs(bytes: &[u8]) -> Vec<ByteRun> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0 {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let mut zeros = 0;
        while i < bytes.len() && zeros < 8 {
            if bytes[i] == 0 {
                zeros += 1;
            } else {
                zeros = 0;
                end = i + 1;
            }
            i += 1;
        }
        runs.push(ByteRun(start as u64, hex::encode(&bytes[start..end])));
    }
    runs
}

fn allocated_runs(mem: &PhysMem) -> Vec<[u64; 2]> {
    mem.allocated_runs().iter().map(|(start, end)| [start, end - start]).collect()
}

/// Stored frames with their nonzero byte runs; big frames are stored in chunks, whose runs are
/// joined under their frame.
fn stored_frames(mem: &PhysMem) -> Vec<StoredFrame> {
    let shift = mem.frame_shift();
    let mut frames: Vec<StoredFrame> = Vec::new();
    for (addr, bytes) in mem.stored_chunks() {
        let frame = addr >> shift;
        let offset = addr - (frame << shift);
        let runs = byte_runs(bytes).into_iter().map(|ByteRun(at, hex)| ByteRun(at + offset, hex));
        match frames.last_mut() {
            Some(last) if last.frame.get() == frame => last.bytes.extend(runs),
            _ => frames.push(StoredFrame { frame: Pfn::new(frame), bytes: runs.collect() }),
        }
    }
    frames.retain(|f| !f.bytes.is_empty());
    frames
}

impl Lab {
    pub fn new(title: &str, description: &str, machine: Machine) -> Self {
        Self {
            title: title.to_string(),
            description: description.to_string(),
            machine,
            os: OsSettings::default(),
            swap: SwapPages::new(),
            exercises: Exercises::default(),
            locks: Locks::default(),
            nested: None,
            schema: None,
        }
    }

    /// The on-disk form.
    pub fn to_file(&self) -> LabFile {
        let m = &self.machine;
        let paging = match presets::by_name(&m.format().name) {
            Some(preset) if preset == *m.format() => PagingSpec::Preset(m.format().name.clone()),
            _ => PagingSpec::Custom(Box::new(m.format().clone())),
        };
        let frames = stored_frames(m.mem());
        LabFile {
            schema: self.schema.clone(),
            format: MAGIC.into(),
            version: CURRENT_VERSION,
            title: self.title.clone(),
            description: self.description.clone(),
            paging,
            memory: StoredMemory { size: m.mem().size(), allocated: allocated_runs(m.mem()), frames },
            processes: m.processes().to_vec(),
            active: m.active(),
            settings: *m.settings(),
            pdpte_registers: m.pdpte_registers().filter(|_| !m.stale_pdptes().is_empty()),
            os: self.os,
            swap: swap::to_stored(&self.swap),
            shares: m.shares().iter().map(|(frame, owners)| [frame.get(), u64::from(owners)]).collect(),
            exercises: self.exercises.clone(),
            locks: self.locks.clone(),
            nested: self.nested.as_ref().map(StoredNested::of),
        }
    }

    /// Pretty JSON, stable across saves of the same lab.
    pub fn to_json(&self) -> String {
        self.to_file().to_json()
    }

    /// Parses and validates a lab; errors carry the JSON path.
    pub fn from_json(text: &str) -> Result<Self, LabError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| LabError::new("", format!("not valid JSON: {e}")))?;
        Self::from_value(value)
    }

    /// Validates a lab already parsed as JSON (one kept inside another file); errors carry the
    /// JSON path within the lab.
    pub fn from_value(value: serde_json::Value) -> Result<Self, LabError> {
        check_header(&value)?;
        let file: LabFile = serde_path_to_error::deserialize(&value)
            .map_err(|e| LabError::new(e.path().to_string(), e.inner().to_string()))?;
        Self::from_file(file)
    }

    /// Builds the machine from the on-disk form, checking every value.
    pub fn from_file(file: LabFile) -> Result<Self, LabError> {
        let format = match file.paging {
            PagingSpec::Preset(name) => presets::by_name(&name).ok_or_else(|| {
                LabError::new(
                    "paging",
                    format!("unknown preset {name:?}; known: {}", presets::NAMES.join(", ")),
                )
            })?,
            PagingSpec::Custom(format) => *format,
        };
        format.validate().map_err(|e| LabError::new("paging", e))?;
        let mut mem =
            PhysMem::new(file.memory.size, format.page_shift).map_err(|e| LabError::new("memory.size", e))?;
        for (i, [first, count]) in file.memory.allocated.iter().copied().enumerate() {
            mem.reserve_range(Pfn::new(first), count).map_err(|_| {
                LabError::new(
                    format!("memory.allocated[{i}]"),
                    format!(
                        "frames {first:#x}+{count} go beyond physical memory ({} frames)",
                        mem.frame_count()
                    ),
                )
            })?;
        }
        let frame_size = mem.frame_size();
        for (i, stored) in file.memory.frames.iter().enumerate() {
            let path = format!("memory.frames[{i}]");
            if !mem.contains_frame(stored.frame) {
                return Err(LabError::new(
                    format!("{path}.frame"),
                    format!("frame {:#x} is beyond physical memory", stored.frame),
                ));
            }
            for (j, ByteRun(offset, hex)) in stored.bytes.iter().enumerate() {
                let run_path = format!("{path}.bytes[{j}]");
                let bytes = hex::decode(hex).map_err(|e| LabError::new(&run_path, e))?;
                if offset.checked_add(bytes.len() as u64).is_none_or(|end| end > frame_size) {
                    return Err(LabError::new(
                        run_path,
                        format!(
                            "{} bytes at offset {offset:#x} overflow the {frame_size}-byte frame",
                            bytes.len()
                        ),
                    ));
                }
                mem.write(PhysAddr::new((stored.frame.get() << format.page_shift) + offset), &bytes)
                    .map_err(|e| LabError::new(&run_path, e))?;
            }
        }
        for (i, p) in file.processes.iter().enumerate() {
            let end = p.root.checked_add(format.table_frames(0));
            if end.is_none_or(|e| e.get() > mem.frame_count()) {
                return Err(LabError::new(
                    format!("processes[{i}].root"),
                    format!("root frame {:#x} is beyond physical memory", p.root),
                ));
            }
        }
        if file.active >= file.processes.len().max(1) {
            return Err(LabError::new("active", format!("there is no process {}", file.active)));
        }
        let shares = share_counts(&file.shares, mem.frame_count())?;
        let mut machine = Machine::from_parts(format, mem, file.processes, file.active, file.settings)
            .map_err(|e| LabError::new("processes", e))?;
        machine.swap_shares(shares);
        if let Some(registers) = file.pdpte_registers {
            if !machine.format().has_pdpte_registers() {
                return Err(LabError::new("pdpte_registers", "only PAE paging has PDPTE registers"));
            }
            machine.set_pdpte_registers(registers);
        }
        file.os.validate().map_err(|e| LabError::new("os.frames", e))?;
        let swap = swap::from_stored(&file.swap, machine.format())?;
        crate::tasks::validate(&file.exercises).map_err(|e| LabError::new(e.path, e.message))?;
        let nested = file.nested.map(|n| n.to_setup(machine.mem(), machine.format())).transpose()?;
        Ok(Self {
            title: file.title,
            description: file.description,
            machine,
            os: file.os,
            swap,
            exercises: file.exercises,
            locks: file.locks,
            nested,
            schema: file.schema,
        })
    }
}

/// The stored share counts, checked: frames in memory, each once, counts of two or more.
fn share_counts(stored: &[[u64; 2]], frames: u64) -> Result<ShareCounts, LabError> {
    let mut shares = ShareCounts::new();
    for (i, &[frame, owners]) in stored.iter().enumerate() {
        if frame >= frames {
            return Err(LabError::new(
                format!("shares[{i}]"),
                format!("frame {frame:#x} is beyond physical memory ({frames} frames)"),
            ));
        }
        let owners = u32::try_from(owners).ok().filter(|&n| n >= 2).ok_or_else(|| {
            LabError::new(format!("shares[{i}]"), format!("a share count is 2 or more, not {owners}"))
        })?;
        if shares.is_shared(Pfn::new(frame)) {
            return Err(LabError::new(format!("shares[{i}]"), format!("frame {frame:#x} is listed twice")));
        }
        shares.set(Pfn::new(frame), owners);
    }
    Ok(shares)
}

fn check_header(value: &serde_json::Value) -> Result<(), LabError> {
    let Some(object) = value.as_object() else {
        return Err(LabError::new("", "a lab file is a JSON object"));
    };
    match object.get("format").and_then(|f| f.as_str()) {
        Some(MAGIC) => {}
        Some(other) => return Err(LabError::new("format", format!("expected \"{MAGIC}\", found {other:?}"))),
        None => {
            return Err(LabError::new(
                "format",
                format!("missing; a lab file starts with \"format\": \"{MAGIC}\""),
            ));
        }
    }
    match object.get("version").and_then(|v| v.as_u64()) {
        Some(v) if (1..=u64::from(CURRENT_VERSION)).contains(&v) => Ok(()),
        Some(v) => Err(LabError::new(
            "version",
            format!(
                "version {v} is not supported (this pagelab reads versions 1 to {CURRENT_VERSION}; a newer pagelab wrote it?)"
            ),
        )),
        None => Err(LabError::new("version", "missing or not a positive integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::VirtAddr;
    use crate::sim::machine::{MapRequest, MapTarget};

    fn sample() -> Lab {
        let mut m = Machine::new(presets::by_name("x86-64").unwrap(), 16 << 20).unwrap();
        m.map(
            0,
            &MapRequest {
                va: VirtAddr::new(0x40_0000),
                len: 0x3000,
                target: MapTarget::Alloc,
                page_size: None,
                flags: None,
            },
        )
        .unwrap();
        m.write_phys(PhysAddr::new(0x5_0010), b"hello").unwrap();
        Lab::new("t", "d", m)
    }

    #[test]
    fn round_trip_is_exact() {
        let lab = sample();
        let json = lab.to_json();
        let back = Lab::from_json(&json).unwrap();
        assert_eq!(back, lab);
        assert_eq!(back.to_json(), json);
    }

    #[test]
    fn errors_name_the_json_path() {
        let json = sample().to_json();
        let bad = json.replace("\"size\": 16777216", "\"size\": \"big\"");
        let err = Lab::from_json(&bad).unwrap_err();
        assert_eq!(err.path, "memory.size");
        let bad = json.replacen("\"root\": 0", "\"root\": 999999999", 1);
        assert_eq!(Lab::from_json(&bad).unwrap_err().path, "processes[0].root");
        let bad = json.replace("\"version\": 1", "\"version\": 7");
        assert_eq!(Lab::from_json(&bad).unwrap_err().path, "version");
        let bad = json.replace("\"x86-64\"", "\"vax\"");
        assert_eq!(Lab::from_json(&bad).unwrap_err().path, "paging");
    }

    #[test]
    fn os_settings_round_trip_and_stay_out_of_default_labs() {
        use crate::sim::os::{OsModel, OsSettings};
        use crate::sim::replace::Policy;
        let mut lab = sample();
        assert!(!lab.to_json().contains("\"os\""));
        lab.os = OsSettings { model: OsModel::Demand, frames: 3, policy: Policy::Lru, seed: 7 };
        let json = lab.to_json();
        assert!(json.contains("\"model\": \"demand\""));
        assert_eq!(Lab::from_json(&json).unwrap(), lab);
        let bad = json.replace("\"frames\": 3", "\"frames\": 0");
        assert_eq!(Lab::from_json(&bad).unwrap_err().path, "os.frames");
    }

    #[test]
    fn byte_runs_skip_long_zero_gaps() {
        let mut bytes = vec![0u8; 64];
        bytes[1] = 1;
        bytes[3] = 2;
        bytes[40] = 3;
        let runs = byte_runs(&bytes);
        assert_eq!(runs, vec![ByteRun(1, "010002".into()), ByteRun(40, "03".into())]);
    }
}
