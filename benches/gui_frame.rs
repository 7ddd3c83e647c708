//! One frame of the whole app (no window, plain `egui::Context`, CPU tessellation included) with
//! a lab of 100,000 mapped 4 KiB pages and the page-table tree fully expanded. The README quotes
//! the figure; the target is at most 2 ms of CPU per frame in release.

use criterion::{Criterion, criterion_group, criterion_main};

#[cfg(feature = "gui")]
fn frame(c: &mut Criterion) {
    use pagelab::lab::Lab;
    use pagelab::sim::machine::{MapRequest, MapTarget};
    use pagelab::sim::{Machine, VirtAddr, presets};
    use pagelab::ui::app::PagelabApp;

    const PAGES: u64 = 100_000;
    let mut m = Machine::new(presets::x86_64(4), 1 << 30).expect("machine");
    let request = MapRequest {
        va: VirtAddr::new(0x1000_0000),
        len: PAGES << 12,
        target: MapTarget::Alloc,
        page_size: None,
        flags: None,
    };
    m.map(0, &request).expect("map 100k pages");
    let mut app = PagelabApp::new(Lab::new("bench", "", m), None);
    app.state.mmu.addr_text = "0x1234_5678".into();
    let ctx = egui::Context::default();
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1500.0, 950.0))),
        ..Default::default()
    };
    let run = |app: &mut PagelabApp| {
        let mut out = ctx.run_ui(input(), |ui| app.show(ui));
        let shapes = std::mem::take(&mut out.shapes);
        let primitives = ctx.tessellate(shapes, out.pixels_per_point);
        out.textures_delta.clear();
        primitives.len()
    };
    // The first frames build the cached rows (100k) and the memory map; later frames reuse them.
    for _ in 0..3 {
        run(&mut app);
    }
    assert!(app.state.rows.len() as u64 > PAGES, "the tree is fully expanded");
    c.bench_function("app frame, 100k pages, tree expanded", |b| b.iter(|| run(&mut app)));
}

#[cfg(not(feature = "gui"))]
fn frame(_c: &mut Criterion) {}

criterion_group!(benches, frame);
criterion_main!(benches);
