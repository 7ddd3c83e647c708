//! Decompression on a second thread: a gzip trace is inflated into a small ring of buffers while
//! the reading thread parses and simulates, so a replay costs about the larger of the two rather
//! than their sum (the machine has two cores; so do students' laptops).
//!
//! Memory stays bounded: [`RING`] buffers of [`CHUNK_BYTES`] circulate between the two threads
//! (filled ones one way, emptied ones back). The inflating thread stops when the input ends,
//! when inflating fails (the error reaches the reader in order, after the good bytes), or when
//! the reader is dropped (its next hand-over finds nobody listening).

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread;

/// Bytes per buffer: small enough to stay in a shared cache between the two cores.
pub const CHUNK_BYTES: usize = 1 << 16;
/// Buffers in circulation.
pub const RING: usize = 8;

/// The reading end: implements [`Read`] over the inflated bytes, in order.
#[derive(Debug)]
pub struct Inflated {
    filled: Receiver<io::Result<Vec<u8>>>,
    emptied: Sender<Vec<u8>>,
    current: Vec<u8>,
    position: usize,
    ended: bool,
}

impl Inflated {
    /// Starts a thread that reads `source` (a decoder) to its end. `Err` when no thread can be
    /// started; the caller then reads `source` itself, which it gets back.
    pub fn spawn<D: Read + Send + 'static>(source: D) -> Result<Self, D> {
        let (filled_tx, filled) = sync_channel(RING);
        let (emptied, emptied_rx) = channel();
        // The source comes back if the thread cannot start.
        let (source_tx, source_rx) = sync_channel::<D>(1);
        let started = thread::Builder::new().name("pagelab-inflate".into()).spawn(move || {
            if let Ok(source) = source_rx.recv() {
                inflate(source, &filled_tx, &emptied_rx);
            }
        });
        match started {
            Ok(_) => {
                // The thread is waiting on this channel, whose capacity of one takes the source.
                if let Err(error) = source_tx.send(source) {
                    return Err(error.0);
                }
                Ok(Self { filled, emptied, current: Vec::new(), position: 0, ended: false })
            }
            Err(_) => Err(source),
        }
    }
}

/// The inflating thread: fills buffers (fresh ones until the ring is full, then returned ones)
/// and hands them over, until the end, an error, or a reader that went away.
fn inflate<D: Read>(mut source: D, filled: &SyncSender<io::Result<Vec<u8>>>, emptied: &Receiver<Vec<u8>>) {
    let mut made = 0;
    loop {
        let mut buffer = if made < RING {
            made += 1;
            Vec::with_capacity(CHUNK_BYTES)
        } else {
            match emptied.recv() {
                Ok(buffer) => buffer,
                Err(_) => return,
            }
        };
        buffer.resize(CHUNK_BYTES, 0);
        let mut length = 0;
        let mut failure = None;
        while let Some(free) = buffer.get_mut(length..).filter(|free| !free.is_empty()) {
            match source.read(free) {
                Ok(0) => break,
                Ok(read) => length += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        buffer.truncate(length);
        let finished = length < CHUNK_BYTES;
        if length > 0 && filled.send(Ok(buffer)).is_err() {
            return;
        }
        if let Some(error) = failure {
            let _ = filled.send(Err(error));
            return;
        }
        if finished {
            return;
        }
    }
}

impl Read for Inflated {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position >= self.current.len() {
            if self.ended {
                return Ok(0);
            }
            let spent = std::mem::take(&mut self.current);
            if spent.capacity() > 0 {
                // Nobody to take it back once the thread has finished: then it is simply dropped.
                let _ = self.emptied.send(spent);
            }
            self.position = 0;
            match self.filled.recv() {
                Ok(Ok(buffer)) => self.current = buffer,
                Ok(Err(error)) => {
                    self.ended = true;
                    return Err(error);
                }
                // The thread finished and hung up: the end of the data.
                Err(_) => self.ended = true,
            }
        }
        let available = self.current.get(self.position..).unwrap_or_default();
        let count = available.len().min(out.len());
        if let (Some(to), Some(from)) = (out.get_mut(..count), available.get(..count)) {
            to.copy_from_slice(from);
        }
        self.position += count;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields `good` in small pieces and then fails.
    #[derive(Debug)]
    struct Failing {
        good: Vec<u8>,
    }

    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.good.is_empty() {
                return Err(io::Error::other("bad block"));
            }
            let count = self.good.len().min(out.len()).min(1000);
            out[..count].copy_from_slice(&self.good[..count]);
            self.good.drain(..count);
            Ok(count)
        }
    }

    #[test]
    fn bytes_arrive_in_order_across_many_buffers() {
        let data: Vec<u8> =
            (0..CHUNK_BYTES * (RING * 3) + 123).map(|i| u8::try_from(i * 7 % 251).unwrap_or(0)).collect();
        let mut pipe = Inflated::spawn(io::Cursor::new(data.clone())).expect("thread");
        let mut back = Vec::new();
        pipe.read_to_end(&mut back).expect("no error");
        assert_eq!(back, data);
        assert_eq!(pipe.read(&mut [0; 8]).expect("still the end"), 0);
    }

    #[test]
    fn an_error_arrives_after_the_good_bytes() {
        let good: Vec<u8> = (0..5000u32).map(|i| i.to_le_bytes()[0]).collect();
        let mut pipe = Inflated::spawn(Failing { good: good.clone() }).expect("thread");
        let mut back = vec![0; 5000];
        pipe.read_exact(&mut back).expect("the good part");
        assert_eq!(back, good);
        let error = pipe.read(&mut [0; 8]).expect_err("then the failure");
        assert_eq!(error.to_string(), "bad block");
        assert_eq!(pipe.read(&mut [0; 8]).expect("then the end"), 0);
    }

    #[test]
    fn dropping_the_reader_stops_the_thread() {
        // An endless source: the thread must notice that nobody reads any more.
        let pipe = Inflated::spawn(io::repeat(b'x')).expect("thread");
        drop(pipe);
    }
}
