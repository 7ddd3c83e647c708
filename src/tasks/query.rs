//! Numeric queries: how the expected value of a numeric task is computed from the instructor's
//! lab at authoring time (bits per index, table frames, linear-table size, TLB hits after a
//! replay, ...), or given as a plain value.

use super::task::Real;
use crate::sim::VirtAddr;
use crate::sim::mmu::Outcome;
use crate::sim::tlb::{AccessClass, TlbConfig, Tlbs};
use crate::sim::tlb_driver::Fill;
use crate::sim::{Access, Machine, Mode};
use serde::{Deserialize, Serialize};

/// How a numeric task's expected value is obtained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NumericQuery {
    /// Index bits of the tables at `level` (0 = root).
    IndexBits { level: usize },
    /// Entries in one table at `level`.
    EntriesPerTable { level: usize },
    /// Number of levels of the format.
    Levels,
    /// The base page size in bytes.
    PageSize,
    /// Bits of the page offset.
    OffsetBits,
    /// Bytes per page-table entry.
    EntryBytes,
    /// Bytes a one-level (linear) table for the whole virtual address space would take.
    LinearTableBytes,
    /// Frames the process's page tables occupy.
    TableFrames { process: String },
    /// Number of page tables of the process (all levels).
    Tables { process: String },
    /// Pages the process maps.
    MappedPages { process: String },
    /// TLB hits (or misses) when the process accesses `addresses` in order, starting with an
    /// empty TLB of the given shape. Faulting accesses are looked up but never cached.
    TlbReplay {
        process: String,
        addresses: Vec<u64>,
        #[serde(default)]
        access: Access,
        #[serde(default)]
        mode: Mode,
        #[serde(default)]
        tlb: TlbConfig,
        #[serde(default)]
        count: TlbCount,
    },
    /// A value the instructor gives (for questions the lab cannot compute).
    Value(Real),
}

/// What a TLB replay counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TlbCount {
    #[default]
    Hits,
    Misses,
}

/// Converts a count to the `f64` the numeric tasks compare (exact below 2^53; page-table sizes
/// above that are powers of two times small numbers, which `f64` also holds exactly).
#[allow(clippy::cast_precision_loss)]
fn count(n: u64) -> f64 {
    n as f64
}

impl NumericQuery {
    /// The expected value on `machine`, or why it cannot be computed.
    pub fn evaluate(&self, machine: &Machine) -> Result<f64, String> {
        let f = machine.format();
        let level_of =
            |level: usize| f.levels.get(level).ok_or_else(|| format!("the format has no level {level}"));
        let process = |name: &str| machine.find_process(name).map_err(|e| e.to_string());
        Ok(match self {
            Self::IndexBits { level } => f64::from(level_of(*level)?.index_bits),
            Self::EntriesPerTable { level } => count(f.entries_at(level_of(*level).map(|_| *level)?)),
            Self::Levels => count(u64::try_from(f.levels.len()).unwrap_or(u64::MAX)),
            Self::PageSize => count(f.page_size()),
            Self::OffsetBits => f64::from(f.page_shift),
            Self::EntryBytes => f64::from(f.pte_bytes),
            #[allow(clippy::cast_precision_loss)]
            Self::LinearTableBytes => f.linear_table_bytes() as f64,
            Self::TableFrames { process: p } => {
                count(machine.table_size(process(p)?).map_err(|e| e.to_string())?.frames)
            }
            Self::Tables { process: p } => {
                count(machine.table_size(process(p)?).map_err(|e| e.to_string())?.tables)
            }
            Self::MappedPages { process: p } => {
                count(machine.table_size(process(p)?).map_err(|e| e.to_string())?.mapped_pages)
            }
            Self::TlbReplay { process: p, addresses, access, mode, tlb, count: what } => {
                let index = process(p)?;
                let (hits, misses) = tlb_replay(machine, index, addresses, *access, *mode, tlb)?;
                count(match what {
                    TlbCount::Hits => hits,
                    TlbCount::Misses => misses,
                })
            }
            Self::Value(v) => v.get(),
        })
    }

    /// The query in plain words, for the instructor's view.
    pub fn describe(&self) -> String {
        match self {
            Self::IndexBits { level } => format!("index bits at level {level}"),
            Self::EntriesPerTable { level } => format!("entries per table at level {level}"),
            Self::Levels => "number of levels".into(),
            Self::PageSize => "page size in bytes".into(),
            Self::OffsetBits => "page-offset bits".into(),
            Self::EntryBytes => "bytes per entry".into(),
            Self::LinearTableBytes => "bytes of a linear table".into(),
            Self::TableFrames { process } => format!("table frames of process \"{process}\""),
            Self::Tables { process } => format!("page tables of process \"{process}\""),
            Self::MappedPages { process } => format!("pages mapped by process \"{process}\""),
            Self::TlbReplay { process, addresses, count, .. } => format!(
                "TLB {} over {} access(es) of process \"{process}\"",
                match count {
                    TlbCount::Hits => "hits",
                    TlbCount::Misses => "misses",
                },
                addresses.len()
            ),
            Self::Value(v) => format!("the value {v}"),
        }
    }

    /// The process the query reads, if any (the variant generator rewrites its addresses).
    pub fn process(&self) -> Option<&str> {
        match self {
            Self::TableFrames { process }
            | Self::Tables { process }
            | Self::MappedPages { process }
            | Self::TlbReplay { process, .. } => Some(process),
            _ => None,
        }
    }
}

/// Replays `addresses` through a fresh TLB; returns (hits, misses).
fn tlb_replay(
    machine: &Machine,
    process: usize,
    addresses: &[u64],
    access: Access,
    mode: Mode,
    config: &TlbConfig,
) -> Result<(u64, u64), String> {
    let mut tlb: Tlbs<u64> = Tlbs::new(config.clone(), None).map_err(|e| format!("TLB: {e}"))?;
    let asid = machine.processes().get(process).map_or(0, |p| p.asid);
    tlb.switch_asid(asid);
    for &va in addresses {
        tlb.lookup_or_walk(AccessClass::of(access), va, |_| {
            let t = machine.translate(process, VirtAddr::new(va), access, mode).map_err(|e| e.to_string())?;
            Ok::<_, String>(match t.outcome {
                Outcome::Mapped(m) => {
                    Some(Fill { page_shift: m.page_shift, global: m.global, payload: m.pa.get() })
                }
                _ => None,
            })
        })?;
    }
    let stats = tlb.stats();
    Ok((stats.hits, stats.misses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::tlb::TlbPolicy;
    use crate::sim::{MapRequest, MapTarget, presets};

    #[test]
    fn format_queries_read_the_format() {
        let m = Machine::new(presets::by_name("x86-64").unwrap(), 16 << 20).unwrap();
        assert_eq!(NumericQuery::IndexBits { level: 2 }.evaluate(&m), Ok(9.0));
        assert_eq!(NumericQuery::PageSize.evaluate(&m), Ok(4096.0));
        assert_eq!(NumericQuery::LinearTableBytes.evaluate(&m), Ok(2f64.powi(39)));
        assert_eq!(NumericQuery::TableFrames { process: "init".into() }.evaluate(&m), Ok(1.0));
        assert!(NumericQuery::IndexBits { level: 9 }.evaluate(&m).is_err());
        assert!(NumericQuery::Tables { process: "x".into() }.evaluate(&m).is_err());
    }

    #[test]
    fn tlb_replay_counts_hits() {
        let mut m = Machine::new(presets::by_name("sv39").unwrap(), 16 << 20).unwrap();
        m.set_settings(crate::sim::mmu::MmuSettings {
            riscv_ad: crate::sim::mmu::RiscvAd::Svadu,
            ..*m.settings()
        });
        let req = MapRequest {
            va: VirtAddr::new(0x1000),
            len: 0x3000,
            target: MapTarget::Alloc,
            page_size: None,
            flags: None,
        };
        m.map(0, &req).unwrap();
        let tlb = TlbConfig { entries: 2, ways: 2, policy: TlbPolicy::Lru, seed: 0, asid_tagging: true };
        let query = NumericQuery::TlbReplay {
            process: "init".into(),
            addresses: vec![0x1000, 0x1008, 0x2000, 0x1010, 0x3000, 0x2000, 0x9000],
            access: Access::Read,
            mode: Mode::User,
            tlb,
            count: TlbCount::Hits,
        };
        // 0x1000 miss, 0x1008 hit, 0x2000 miss, 0x1010 hit, 0x3000 miss (evicts 0x2000),
        // 0x2000 miss, 0x9000 miss (unmapped).
        assert_eq!(query.evaluate(&m), Ok(2.0));
    }
}
