//! A nested lab in the lab file: the optional `"nested"` object round-trips exactly, old labs
//! load unchanged (and save without it), bad values are refused naming the field, and nested
//! edits made through the document are one undo step.

use pagelab::doc::Document;
use pagelab::doc::history::StepKind;
use pagelab::lab::Lab;
use pagelab::sim::nested::{HostKind, NestedSetup};
use pagelab::sim::{Access, Machine, Mode, VirtAddr, presets};
use serde_json::Value;

const VA: u64 = 0x0000_7f12_3456_7000;

fn nested_lab(format: &str, host: HostKind) -> Lab {
    let mut lab =
        Lab::new("n", "", Machine::new(presets::by_name(format).expect("preset"), 16 << 20).expect("m"));
    let guest = lab.machine.format().clone();
    let mut setup = NestedSetup::create(&mut lab.machine, &guest, host).expect("setup");
    let flags: &[&str] = if host.is_ept() { &["R/W", "U/S"] } else { &["R", "W", "U", "A", "D"] };
    let va = if host.is_ept() { VA } else { 0x4000_0000 };
    setup.map_guest(&mut lab.machine, &guest, VirtAddr::new(va), flags).expect("maps");
    lab.nested = Some(setup);
    lab
}

#[test]
fn a_nested_lab_round_trips_exactly() {
    for (format, host) in
        [("x86-64", HostKind::Ept4), ("x86-64-la57", HostKind::Ept5), ("sv39", HostKind::Sv39x4)]
    {
        let lab = nested_lab(format, host);
        let json = lab.to_json();
        let value: Value = serde_json::from_str(&json).expect("json");
        assert_eq!(value["nested"]["host"], host.name());
        let back = Lab::from_json(&json).expect("loads");
        assert_eq!(back, lab, "{format}");
        assert_eq!(back.to_json(), json);
        // The walk works on the loaded lab as on the built one.
        let setup = back.nested.expect("nested");
        let va = if host.is_ept() { VA } else { 0x4000_0000 };
        let t = setup.translate(
            back.machine.mem(),
            back.machine.format(),
            VirtAddr::new(va),
            Access::Read,
            Mode::User,
        );
        assert!(t.outcome.is_ok(), "{format}: {:?}", t.outcome);
    }
}

#[test]
fn old_labs_load_unchanged_and_save_without_a_nested_object() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/labs/x86-64.json")).expect("sample");
    let lab = Lab::from_json(&text).expect("loads");
    assert_eq!(lab.nested, None);
    assert!(!lab.to_json().contains("\"nested\""));
}

#[test]
fn bad_nested_values_are_refused_naming_the_field() {
    let json = nested_lab("x86-64", HostKind::Ept4).to_json();
    let value: Value = serde_json::from_str(&json).expect("json");
    let with = |field: &str, v: Value| {
        let mut bad = value.clone();
        bad["nested"][field] = v;
        Lab::from_value(bad).expect_err("refused")
    };
    let err = with("host", "npt".into());
    assert_eq!(err.path, "nested.host");
    assert!(err.message.contains("ept, ept5, sv39x4, sv48x4"), "{err}");
    // An x86 guest on a RISC-V G-stage.
    assert_eq!(with("host", "sv39x4".into()).path, "nested.host");
    // 16 MiB of memory is 4096 frames.
    let err = with("host_root", 4096.into());
    assert_eq!(err.path, "nested.host_root");
    assert!(err.message.contains("beyond host-physical memory"), "{err}");
    assert_eq!(with("guest_root", 0x123.into()).path, "nested.guest_root");
    assert_eq!(with("guest_root", (1u64 << 48).into()).path, "nested.guest_root");
    assert_eq!(with("host", 3.into()).path, "nested.host");
    let mut bad = value.clone();
    bad["nested"]["extra"] = 1.into();
    assert!(Lab::from_value(bad).expect_err("refused").path.starts_with("nested"));
    // sv39x4: the root is 16 KiB, aligned to 16 KiB.
    let riscv: Value = serde_json::from_str(&nested_lab("sv39", HostKind::Sv39x4).to_json()).expect("json");
    let mut bad = riscv.clone();
    let root = riscv["nested"]["host_root"].as_u64().expect("root");
    bad["nested"]["host_root"] = (root + 1).into();
    let err = Lab::from_value(bad).expect_err("refused");
    assert_eq!(err.path, "nested.host_root");
    assert!(err.message.contains("16 KiB aligned"), "{err}");
}

#[test]
fn a_nested_map_through_the_document_is_one_undo_step() {
    let lab = nested_lab("x86-64", HostKind::Ept4);
    let before = lab.clone();
    let mut doc = Document::new(lab, None);
    doc.run("map guest", StepKind::Edit, |lab| {
        let Some(mut setup) = lab.nested else { return Ok(()) };
        let guest = lab.machine.format().clone();
        setup
            .map_guest(&mut lab.machine, &guest, VirtAddr::new(0x40_0000), &["R/W"])
            .map_err(|e| pagelab::doc::EditError::Other(e.to_string()))?;
        lab.nested = Some(setup);
        Ok(())
    })
    .expect("maps");
    assert_ne!(doc.lab().nested, before.nested, "the next guest frame moved on");
    let setup = doc.lab().nested.expect("nested");
    let t = setup.translate(
        doc.lab().machine.mem(),
        doc.lab().machine.format(),
        VirtAddr::new(0x40_0000),
        Access::Read,
        Mode::Supervisor,
    );
    assert!(t.outcome.is_ok());
    doc.undo().expect("undoes");
    assert_eq!(doc.lab().nested, before.nested);
    assert_eq!(doc.lab().to_json(), before.to_json());
}
