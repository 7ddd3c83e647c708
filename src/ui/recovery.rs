//! Crash-safe recovery in the app: while the document has unsaved changes, a copy goes to this
//! app's recovery file (see [`crate::lab::recovery`]) at most once a minute, written on a
//! thread so that the UI never waits for the disk; a panic hook writes the latest copy; a clean
//! document (saved, or changes discarded) removes the file. At start, work that an app now gone
//! left behind is offered back, newest first, in a modal with Restore and Discard.

use crate::doc::Document;
use crate::lab::recovery::{self, Recovered};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// How often the recovery file is written while there are unsaved changes.
pub const AUTOSAVE_EVERY: Duration = Duration::from_secs(60);
/// How often the copy the panic hook would write is refreshed (serializing costs milliseconds
/// for a large lab, so not every frame).
pub const COPY_EVERY: Duration = Duration::from_secs(10);
/// An unchanged file is written again after this long, so that its age never makes another app
/// think its writer is gone (where ages are all there is to go by).
const REFRESH_EVERY: Duration = Duration::from_secs(30 * 60);

/// The latest copy of the unsaved work, shared with the panic hook.
type Latest = Arc<Mutex<Option<Arc<str>>>>;

/// What the user answered to the offer.
pub enum Choice {
    Restore(Recovered),
    Discard(Recovered),
}

/// The app's recovery file and the work offered back at start. [`Recovery::default`] is off:
/// it writes and offers nothing (tests and benchmarks that do not ask for it).
#[derive(Default)]
pub struct Recovery {
    /// This app's recovery file; `None` when recovery is off.
    file: Option<PathBuf>,
    latest: Latest,
    /// Held while the file is written or removed, so that the hook and the writer thread never
    /// write the same temporary file at once.
    disk: Arc<Mutex<()>>,
    /// The document generation last copied, and when.
    copied: Option<(u64, Instant)>,
    /// The generation last written, and when.
    written: Option<(u64, Instant)>,
    writer: Option<JoinHandle<io::Result<()>>>,
    /// Work left behind by apps now gone, newest first; the first is on offer.
    offers: Vec<Recovered>,
    /// The last failed write, shown once in the status line.
    pub failure: Option<String>,
}

impl Recovery {
    /// Recovery files in `dir`: offers what apps now gone left there, then keeps this app's.
    #[must_use]
    pub fn in_dir(dir: &Path) -> Self {
        Self { file: Some(recovery::own_file(dir)), offers: recovery::left_behind(dir), ..Self::default() }
    }

    /// Recovery files where [`recovery::default_dir`] says, else in eframe's storage directory;
    /// off when there is neither.
    #[must_use]
    pub fn from_env() -> Self {
        let dir =
            recovery::default_dir().or_else(|| eframe::storage_dir("pagelab").map(|d| d.join("recovery")));
        dir.map_or_else(Self::default, |dir| Self::in_dir(&dir))
    }

    /// This app's recovery file, when recovery is on.
    #[must_use]
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The work on offer.
    #[must_use]
    pub fn offer(&self) -> Option<&Recovered> {
        self.offers.first()
    }

    /// Makes the panic hook write the latest copy of unsaved work. Once per process: the real
    /// app, not every test harness.
    pub fn install_panic_hook(&self) {
        let Some(file) = self.file.clone() else { return };
        let (latest, disk) = (Arc::clone(&self.latest), Arc::clone(&self.disk));
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            // No serializing here: the copy is ready. `try_lock`, because the panicking thread
            // may hold a lock itself; the writer thread, if busy, is done within moments.
            let json = match latest.try_lock() {
                Ok(guard) => guard.clone(),
                Err(_) => return,
            };
            let Some(json) = json else { return };
            for _ in 0..100 {
                match disk.try_lock() {
                    Ok(_guard) => {
                        let _ = recovery::write(&file, &json);
                        return;
                    }
                    Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(20)),
                    Err(TryLockError::Poisoned(_)) => return,
                }
            }
        }));
    }

    /// Called every frame: copies and writes unsaved work when due, removes the file once the
    /// document is clean. Returns how long until something is due, for a repaint then.
    pub fn tick(&mut self, doc: &Document, now: Instant) -> Option<Duration> {
        let file = self.file.clone()?;
        if !self.offers.is_empty() {
            // Answer the offer first: the work on offer may sit in this app's own file (a
            // crashed app that had the same pid), which an autosave would overwrite.
            return None;
        }
        self.reap_writer();
        if !doc.dirty {
            if self.copied.is_some() || self.written.is_some() {
                self.clear(&file);
            }
            return None;
        }
        let since = |at: Option<(u64, Instant)>| at.map(|(_, at)| now.saturating_duration_since(at));
        let write_due = since(self.written).is_none_or(|d| d >= AUTOSAVE_EVERY);
        let copy_due = since(self.copied).is_none_or(|d| d >= COPY_EVERY);
        let changed = self.copied.is_none_or(|(generation, _)| generation != doc.generation);
        if changed && (copy_due || write_due) {
            let json = recovery::to_json(doc.lab(), doc.path.as_deref(), SystemTime::now());
            *lock(&self.latest) = Some(Arc::from(json));
            self.copied = Some((doc.generation, now));
        }
        let unwritten = self.written.map(|(g, _)| g) != self.copied.map(|(g, _)| g)
            || since(self.written).is_some_and(|d| d >= REFRESH_EVERY);
        if write_due && unwritten && self.writer.is_none() {
            self.start_write(&file, now);
        }
        // The next frame that has something to do: a copy or a write of this generation, or
        // the refresh of an unchanged file.
        let until =
            |at: Option<(u64, Instant)>, every: Duration| every.saturating_sub(since(at).unwrap_or(every));
        let mut wait = until(self.written, REFRESH_EVERY);
        if self.written.map(|(g, _)| g) != Some(doc.generation) {
            wait = wait.min(until(self.written, AUTOSAVE_EVERY));
        }
        if self.copied.map(|(g, _)| g) != Some(doc.generation) {
            wait = wait.min(until(self.copied, COPY_EVERY));
        }
        Some(wait.max(Duration::from_millis(100)))
    }

    fn start_write(&mut self, file: &Path, now: Instant) {
        let Some(json) = lock(&self.latest).clone() else { return };
        let (file, disk) = (file.to_path_buf(), Arc::clone(&self.disk));
        self.writer = Some(std::thread::spawn(move || {
            let _guard = lock(&disk);
            recovery::write(&file, &json)
        }));
        self.written = Some((self.copied.map_or(0, |(g, _)| g), now));
    }

    /// Collects the writer thread once it is done.
    fn reap_writer(&mut self) {
        if self.writer.as_ref().is_some_and(JoinHandle::is_finished) {
            self.wait_for_writer();
        }
    }

    /// Waits for the write in progress, if any (tests, and before removing the file).
    pub fn wait_for_writer(&mut self) {
        if let Some(writer) = self.writer.take() {
            match writer.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.failure = Some(format!("could not write the recovery file: {e}")),
                Err(_) => self.failure = Some("the recovery file's writer failed".into()),
            }
        }
    }

    /// The document is clean: nothing to recover any more.
    fn clear(&mut self, file: &Path) {
        self.wait_for_writer();
        *lock(&self.latest) = None;
        let _guard = lock(&self.disk);
        // The hook may have written it on a panic in another thread: remove it whatever we did.
        let _ = std::fs::remove_file(file);
        self.copied = None;
        self.written = None;
    }

    /// The user restores the work on offer: its file becomes this app's recovery file (the work
    /// is still unsaved), and nothing else is offered.
    pub fn adopt(&mut self, work: &Recovered) -> io::Result<()> {
        self.offers.clear();
        self.copied = None;
        self.written = None;
        let Some(file) = &self.file else { return Ok(()) };
        let _guard = lock(&self.disk);
        if &work.file == file { Ok(()) } else { std::fs::rename(&work.file, file) }
    }

    /// The user discards the work on offer: its file goes; the next one is offered.
    pub fn discard(&mut self, work: &Recovered) -> io::Result<()> {
        self.offers.retain(|offer| offer.file != work.file);
        std::fs::remove_file(&work.file)
    }
}

/// A lock whatever a panicking holder left: the data (a copy of text, or nothing) stays valid.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The offer, while there is one: "Restore unsaved work from `<time>`?". Returns the answer.
pub fn offer_window(ctx: &egui::Context, recovery: &Recovery) -> Option<Choice> {
    let work = recovery.offer()?;
    let when = recovery::describe_time(work.saved_at, SystemTime::now());
    let lab = match &work.source {
        Some(path) => format!("the lab {}", path.display()),
        None => "a lab that was never saved".to_string(),
    };
    let title = if work.lab.title.is_empty() { String::new() } else { format!(" (\"{}\")", work.lab.title) };
    let mut answer = None;
    egui::Modal::new(egui::Id::unique("recovery-offer")).show(ctx, |ui| {
        ui.heading("Unsaved work found");
        ui.label(format!("Restore unsaved work from {when}?"));
        ui.label(format!("It belongs to {lab}{title}. pagelab did not close normally then."));
        ui.horizontal(|ui| {
            if ui.button("Restore").clicked() {
                answer = Some(true);
            }
            if ui.button("Discard").clicked() {
                answer = Some(false);
            }
        });
    });
    let restore = answer?;
    let work = recovery.offer().cloned()?;
    Some(if restore { Choice::Restore(work) } else { Choice::Discard(work) })
}
