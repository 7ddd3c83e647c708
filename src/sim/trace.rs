//! Streaming readers for memory-access traces: valgrind lackey output and a plain address list.
//!
//! A [`TraceReader`] wraps any reader and yields one `Result` per record; a bad line is an error
//! carrying its line number and the reader goes on with the next line, while a read error ends
//! the stream. Nothing here panics on input. [`TraceReader::auto`] also undoes gzip compression,
//! and [`TraceReader::auto_pipelined`] does it on a second thread (`pipe`).
//!
//! Lines are parsed straight out of the reader's own buffer (found with `memchr`; only a line
//! that straddles two reads is moved), with no allocation and no UTF-8 validation per record.
//! Lines in the exact shape lackey writes take a fast path (a table decodes the hex); any other
//! line goes through the full parser, which accepts the same lines and explains the bad ones.
//!
//! Formats:
//! - lackey (`valgrind --tool=lackey --trace-mem=yes`): `I  addr,size`, ` L addr,size`,
//!   ` S addr,size`, ` M addr,size`; hex address without `0x`, decimal size; `==` banner lines
//!   skipped.
//! - plain: `address [kind [process]]`, address `0x`-hex or decimal with optional `_`
//!   separators, kind one of `r w x read write exec` (default read), size 1 byte.
//!
//! Both skip blank lines and `#` comment lines; the format is decided by the first other line.

use std::io::{self, BufRead, BufReader, Chain, Cursor, Read, Take};

use flate2::bufread::MultiGzDecoder;
use thiserror::Error;

use super::tlb::AccessClass;

mod pipe;

/// Lines longer than this are refused rather than buffered without bound.
pub const MAX_LINE_BYTES: usize = 4096;

/// Largest access one record may make. lackey's records are at most a cache line or an XSAVE
/// area (a few KiB); a bigger size is a damaged trace, and under demand mapping would map a
/// page per 4 KiB of it (a 4 GiB "access" took more than 15 minutes).
pub const MAX_ACCESS_BYTES: u32 = 1 << 16;

/// How much a quoted piece of a bad line may show in an error message.
const SNIPPET_CHARS: usize = 40;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What a traced access did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// Instruction fetch.
    Instr,
    Load,
    Store,
    /// A load then a store to the same bytes (read-modify-write).
    Modify,
}

impl AccessKind {
    pub fn is_instruction(self) -> bool {
        self == Self::Instr
    }

    /// Whether the access writes memory (needs write permission, sets the dirty bit).
    pub fn is_write(self) -> bool {
        matches!(self, Self::Store | Self::Modify)
    }

    /// The half of a split TLB that serves this access.
    pub fn class(self) -> AccessClass {
        if self.is_instruction() { AccessClass::Instruction } else { AccessClass::Data }
    }
}

/// One access of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    pub kind: AccessKind,
    pub addr: u64,
    /// Bytes accessed; 0 is treated as 1 by [`pages_touched`].
    pub size: u32,
    /// The process named on a plain-format line; lackey traces have one process and say `None`.
    pub process: Option<String>,
}

impl TraceRecord {
    /// The distinct pages of size `1 << page_shift` this access touches, in address order.
    pub fn pages(&self, page_shift: u32) -> impl Iterator<Item = u64> + use<> {
        pages_touched(self.addr, self.size, page_shift)
    }
}

/// The distinct page numbers (address >> `page_shift`) that the bytes `[addr, addr + size)`
/// touch, in address order. A size of 0 counts as 1 byte; a range running past the top of the
/// address space stops there instead of wrapping.
pub fn pages_touched(addr: u64, size: u32, page_shift: u32) -> impl Iterator<Item = u64> + use<> {
    let (first, last) = page_span(addr, size, page_shift);
    first..=last
}

/// The first and last page numbers of [`pages_touched`], for loops that avoid the range type.
#[inline]
pub fn page_span(addr: u64, size: u32, page_shift: u32) -> (u64, u64) {
    let last_byte = addr.saturating_add(u64::from(size.max(1)) - 1);
    // A shift of 64 or more means one page spans the whole address space.
    let first = addr.checked_shr(page_shift).unwrap_or(0);
    let last = last_byte.checked_shr(page_shift).unwrap_or(0);
    (first, last)
}

/// The syntax of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    Lackey,
    Plain,
}

/// What is wrong with one line.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LineProblem {
    #[error("unknown record kind {0:?} (expected I, L, S or M)")]
    UnknownKind(String),
    #[error("missing address")]
    MissingAddress,
    #[error("bad address {0:?}")]
    BadAddress(String),
    #[error("address {0:?} does not fit in 64 bits")]
    AddressTooLarge(String),
    #[error("missing ',' and size after the address")]
    MissingSize,
    #[error("bad size {0:?} (expected a decimal number below 2^32)")]
    BadSize(String),
    #[error(
        "an access of {0} bytes is larger than any one instruction makes (at most {MAX_ACCESS_BYTES}); is the size field right?"
    )]
    SizeTooLarge(u32),
    #[error("unknown access kind {0:?} (expected r, w, x, read, write or exec)")]
    UnknownAccess(String),
    #[error("unexpected {0:?} at the end of the line")]
    TrailingText(String),
    #[error("process name is not valid UTF-8")]
    ProcessNotUtf8,
    #[error("line longer than {max} bytes")]
    LineTooLong { max: usize },
}

/// A trace that could not be read, with the 1-based line where it happened.
#[derive(Debug, Error)]
pub enum TraceError {
    #[error("line {line}: {problem}")]
    Parse { line: u64, problem: LineProblem },
    #[error("line {line}: cannot read the trace: {source}")]
    Io {
        line: u64,
        #[source]
        source: io::Error,
    },
}

impl TraceError {
    /// The 1-based line number the error refers to.
    pub fn line(&self) -> u64 {
        match self {
            Self::Parse { line, .. } | Self::Io { line, .. } => *line,
        }
    }
}

/// The bytes already taken off the input to look for the gzip magic, followed by the rest.
type Sniffed<R> = Chain<Take<Cursor<[u8; 2]>>, R>;

/// A trace input after gzip detection: the text as is, or its decompression.
#[derive(Debug)]
pub enum TraceInput<R: BufRead> {
    Plain(Sniffed<R>),
    /// Boxed: the inflate state is large, and a reader holds one input for its whole life.
    Gzip(Box<BufReader<MultiGzDecoder<Sniffed<R>>>>),
    /// Gzip inflated on a second thread ([`TraceInput::detect_pipelined`]).
    Pipelined(BufReader<pipe::Inflated>),
}

impl<R: BufRead> TraceInput<R> {
    /// Reads the first two bytes of `input` and decompresses if they are the gzip magic.
    pub fn detect(mut input: R) -> io::Result<Self> {
        let mut magic = [0u8; 2];
        let mut filled = 0;
        // A reader may return fewer bytes than asked, so loop until two or end of input.
        while let Some(rest) = magic.get_mut(filled..).filter(|rest| !rest.is_empty()) {
            match input.read(rest) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        let is_gzip = filled == 2 && magic == GZIP_MAGIC;
        let head = Cursor::new(magic).take(u64::try_from(filled).unwrap_or(0));
        let sniffed = head.chain(input);
        Ok(if is_gzip {
            Self::Gzip(Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(sniffed))))
        } else {
            Self::Plain(sniffed)
        })
    }

    pub fn is_gzip(&self) -> bool {
        matches!(self, Self::Gzip(_) | Self::Pipelined(_))
    }
}

impl<R: BufRead + Send + 'static> TraceInput<R> {
    /// Like [`TraceInput::detect`], but gzip is inflated on a second thread into a ring of
    /// buffers while the caller parses (falls back to inflating in line if no thread starts).
    pub fn detect_pipelined(input: R) -> io::Result<Self> {
        Ok(match Self::detect(input)? {
            // Nothing was read through the BufReader yet, so unwrapping it loses no bytes.
            Self::Gzip(decoder) => match pipe::Inflated::spawn(decoder.into_inner()) {
                Ok(inflated) => Self::Pipelined(BufReader::with_capacity(pipe::CHUNK_BYTES, inflated)),
                Err(decoder) => Self::Gzip(Box::new(BufReader::with_capacity(1 << 16, decoder))),
            },
            other => other,
        })
    }
}

impl<R: BufRead> Read for TraceInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(input) => input.read(buf),
            Self::Gzip(input) => input.read(buf),
            Self::Pipelined(input) => input.read(buf),
        }
    }
}

impl<R: BufRead> BufRead for TraceInput<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Self::Plain(input) => input.fill_buf(),
            Self::Gzip(input) => input.fill_buf(),
            Self::Pipelined(input) => input.fill_buf(),
        }
    }

    fn consume(&mut self, amount: usize) {
        match self {
            Self::Plain(input) => input.consume(amount),
            Self::Gzip(input) => input.consume(amount),
            Self::Pipelined(input) => input.consume(amount),
        }
    }
}

/// What one line turned out to be.
enum LineOutcome {
    Skip,
    Record(TraceRecord),
    Problem(LineProblem),
}

/// Bytes the reader asks its input for at a time. Lines are parsed straight out of this buffer;
/// only the piece of a line that straddles two reads is moved (to the buffer's start).
const READ_BYTES: usize = 1 << 17;

/// An iterator over the records of a trace.
///
/// The reader keeps its own buffer (128 KiB) and reads the input in large pieces, so the
/// hot path per line is a `memchr` for the newline and a parse of bytes in place: no allocation,
/// no UTF-8 validation, no call back into the input.
pub struct TraceReader<R> {
    input: R,
    format: Option<TraceFormat>,
    /// Lines read so far, i.e. the number of the last line read.
    line: u64,
    buffer: Box<[u8]>,
    /// The unread bytes are `buffer[start..end]`.
    start: usize,
    end: usize,
    /// The current line outgrew `MAX_LINE_BYTES`; the rest of it is being discarded.
    overlong: bool,
    /// The input reported its end.
    at_end: bool,
    finished: bool,
}

/// The reader's state without its buffer (a 128 KiB dump helps nobody).
impl<R: std::fmt::Debug> std::fmt::Debug for TraceReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceReader")
            .field("input", &self.input)
            .field("format", &self.format)
            .field("line", &self.line)
            .field("buffered", &(self.end - self.start))
            .field("overlong", &self.overlong)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<R: BufRead> TraceReader<TraceInput<R>> {
    /// A reader over `input`, gzip-compressed or not, whose format is detected from its content.
    pub fn auto(input: R) -> Result<Self, TraceError> {
        let input = TraceInput::detect(input).map_err(|source| TraceError::Io { line: 1, source })?;
        Ok(TraceReader::new(input))
    }
}

impl<R: BufRead + Send + 'static> TraceReader<TraceInput<R>> {
    /// Like [`TraceReader::auto`], with gzip inflated on a second thread
    /// ([`TraceInput::detect_pipelined`]): the way to read a trace file fast.
    pub fn auto_pipelined(input: R) -> Result<Self, TraceError> {
        let input =
            TraceInput::detect_pipelined(input).map_err(|source| TraceError::Io { line: 1, source })?;
        Ok(TraceReader::new(input))
    }
}

impl<R: Read> TraceReader<R> {
    /// A reader over uncompressed text whose format is detected from the first record line.
    pub fn new(input: R) -> Self {
        Self {
            input,
            format: None,
            line: 0,
            buffer: vec![0; READ_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            overlong: false,
            at_end: false,
            finished: false,
        }
    }

    /// A reader that parses every line as `format`.
    pub fn with_format(input: R, format: TraceFormat) -> Self {
        Self { format: Some(format), ..Self::new(input) }
    }

    /// The format in use, once known.
    pub fn format(&self) -> Option<TraceFormat> {
        self.format
    }

    /// The number of the last line read (0 before the first).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Moves the unread bytes to the buffer's start and reads more after them. `Ok(false)` at
    /// the end of the input. A pending line longer than [`MAX_LINE_BYTES`] is dropped instead of
    /// moved (and remembered as overlong), so the buffer never needs to grow.
    fn refill(&mut self) -> io::Result<bool> {
        if self.end.saturating_sub(self.start) > MAX_LINE_BYTES {
            self.overlong = true;
            self.start = self.end;
        }
        // start <= end <= the buffer's length always holds; the check keeps even a broken
        // invariant from panicking (it would drop the pending bytes instead).
        if self.start < self.end && self.end <= self.buffer.len() {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
        } else {
            self.end = 0;
        }
        self.start = 0;
        // The pending bytes are at most MAX_LINE_BYTES, far below the buffer's size: there is
        // always room to read into.
        let free = self.buffer.get_mut(self.end..).unwrap_or_default();
        loop {
            match self.input.read(free) {
                Ok(0) => return Ok(false),
                Ok(read) => {
                    self.end += read.min(free.len());
                    return Ok(true);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Reads and classifies the next line, or `None` at end of input.
    #[inline]
    fn next_line(&mut self) -> io::Result<Option<LineOutcome>> {
        loop {
            let pending = self.buffer.get(self.start..self.end).unwrap_or_default();
            if let Some(newline) = memchr::memchr(b'\n', pending) {
                let text = pending.get(..newline).unwrap_or_default();
                self.start += newline + 1;
                return Ok(Some(self.finish_line(text.len(), false)));
            }
            if self.at_end {
                if pending.is_empty() && !self.overlong {
                    return Ok(None);
                }
                // A last line without a newline.
                let length = pending.len();
                self.start = self.end;
                return Ok(Some(self.finish_line(length, true)));
            }
            self.at_end = !self.refill()?;
        }
    }

    /// Counts the line of `length` bytes that ends just before `self.start` (or at `self.end`
    /// for a last line without a newline) and parses it.
    #[inline]
    fn finish_line(&mut self, length: usize, last: bool) -> LineOutcome {
        self.line += 1;
        if std::mem::take(&mut self.overlong) || length > MAX_LINE_BYTES {
            return LineOutcome::Problem(LineProblem::LineTooLong { max: MAX_LINE_BYTES });
        }
        let end = if last { self.end } else { self.start.saturating_sub(1) };
        let text = self.buffer.get(end.saturating_sub(length)..end).unwrap_or_default();
        classify(text, &mut self.format)
    }
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = Result<TraceRecord, TraceError>;

    // Always inlined into the replay loops (it is small: the fast path, then a call): when the
    // compiler chose not to, plain replay lost about 3 ns a record.
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        // The common case: a whole lackey line at the front of the buffer, parsed and its
        // newline found in one pass (no separate search for the line's end).
        if self.format == Some(TraceFormat::Lackey)
            && !self.overlong
            && !self.finished
            && let Some((kind, addr, size, length)) =
                parse_lackey_fast(self.buffer.get(self.start..self.end).unwrap_or_default())
        {
            self.start += length;
            self.line += 1;
            return Some(Ok(TraceRecord { kind, addr, size, process: None }));
        }
        self.next_slow()
    }
}

/// A record parsed by [`TraceReader::peek_batch`]: a lackey line of the shape lackey writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LackeyRecord {
    pub kind: AccessKind,
    pub addr: u64,
    pub size: u32,
    /// Bytes of its line, newline included.
    length: u32,
}

impl Default for LackeyRecord {
    fn default() -> Self {
        Self { kind: AccessKind::Load, addr: 0, size: 0, length: 0 }
    }
}

impl LackeyRecord {
    /// The record as the iterator returns it.
    pub fn record(&self) -> TraceRecord {
        TraceRecord { kind: self.kind, addr: self.addr, size: self.size, process: None }
    }
}

/// Records a replay loop takes from [`TraceReader::peek_batch`] at a time.
pub const BATCH_RECORDS: usize = 256;

impl<R: Read> TraceReader<R> {
    /// Parses the lines at the front of the buffered input that have the shape lackey writes
    /// (those the iterator's fast path takes), up to `batch.len()`, into `batch`, and returns
    /// them; they stay unread until [`TraceReader::consume_batch`], and stay the reader's next
    /// records, in order, while nothing but `consume_batch` of them reads it (so a loop may
    /// consume a batch in pieces). Stops before any other line
    /// (banners, errors, a line cut by the end of the buffer: the iterator reads those, and
    /// refills the buffer), so fewer or none come back then. A loop over a batch avoids the
    /// iterator's per-record `Result` and checks, and its caller can hoist its own.
    #[inline]
    pub fn peek_batch<'b>(&self, batch: &'b mut [LackeyRecord]) -> &'b [LackeyRecord] {
        if self.format != Some(TraceFormat::Lackey) || self.overlong || self.finished {
            return &[];
        }
        let mut pending = self.buffer.get(self.start..self.end).unwrap_or_default();
        let mut count = 0;
        for slot in batch.iter_mut() {
            let Some((kind, addr, size, length)) = parse_lackey_fast(pending) else { break };
            // A line is at most MAX_LINE_BYTES long, far below u32::MAX.
            let Ok(length_u32) = u32::try_from(length) else { break };
            *slot = LackeyRecord { kind, addr, size, length: length_u32 };
            pending = pending.get(length..).unwrap_or_default();
            count += 1;
        }
        batch.get(..count).unwrap_or_default()
    }

    /// Marks `records`, the first ones [`TraceReader::peek_batch`] returned, as read: the next
    /// record is the one after them, and [`TraceReader::line`] is the last one's line.
    #[inline]
    pub fn consume_batch(&mut self, records: &[LackeyRecord]) {
        let bytes: usize = records.iter().map(|r| r.length as usize).sum();
        self.start = (self.start + bytes).min(self.end);
        self.line += records.len() as u64;
    }
}

impl<R: Read> TraceReader<R> {
    /// Every other line: the full parser (line-numbered errors), refills, the end.
    #[inline(never)]
    fn next_slow(&mut self) -> Option<Result<TraceRecord, TraceError>> {
        while !self.finished {
            match self.next_line() {
                Ok(None) => self.finished = true,
                Ok(Some(LineOutcome::Skip)) => {}
                Ok(Some(LineOutcome::Record(record))) => return Some(Ok(record)),
                Ok(Some(LineOutcome::Problem(problem))) => {
                    return Some(Err(TraceError::Parse { line: self.line, problem }));
                }
                Err(source) => {
                    // A failing reader would likely fail again; stop rather than spin.
                    self.finished = true;
                    return Some(Err(TraceError::Io { line: self.line + 1, source }));
                }
            }
        }
        None
    }
}

/// The value of each byte as a hex digit, or [`NOT_HEX`].
#[allow(clippy::cast_possible_truncation)] // the byte index is below 256
const HEX_VALUES: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = match byte as u8 {
            digit @ b'0'..=b'9' => digit - b'0',
            letter @ b'a'..=b'f' => letter - b'a' + 10,
            letter @ b'A'..=b'F' => letter - b'A' + 10,
            _ => NOT_HEX,
        };
        byte += 1;
    }
    table
};
const NOT_HEX: u8 = 0xff;

/// The line shape lackey itself writes (`I  addr,size` or ` L addr,size` with `S` or `M`, at
/// most 16 hex digits, a decimal size up to [`MAX_ACCESS_BYTES`], then the newline), parsed at
/// the start of `pending` in one pass: no search for the line's end, no trimming, splitting or
/// checked arithmetic. Returns the record and the bytes it took, newline included. Anything
/// else (blanks, banners, `\r`, errors, odd spacing, a line not yet complete in the buffer)
/// returns `None` and goes the general way to [`classify`], which accepts or refuses it with a
/// reason; whatever this accepts, that parser reads the same way.
#[inline(always)]
fn parse_lackey_fast(pending: &[u8]) -> Option<(AccessKind, u64, u32, usize)> {
    let (kind, rest) = match pending {
        [b'I', b' ', b' ', rest @ ..] => (AccessKind::Instr, rest),
        [b' ', b'L', b' ', rest @ ..] => (AccessKind::Load, rest),
        [b' ', b'S', b' ', rest @ ..] => (AccessKind::Store, rest),
        [b' ', b'M', b' ', rest @ ..] => (AccessKind::Modify, rest),
        _ => return None,
    };
    let (addr, digits) = hex_prefix(rest);
    // 17 digits could still fit (leading zeros): the full parser decides.
    if digits == 0 || digits > 16 {
        return None;
    }
    let [b',', after_comma @ ..] = rest.get(digits..)? else { return None };
    let mut size = 0u32;
    // MAX_ACCESS_BYTES has 5 digits; a sixth byte must be the newline.
    for (taken, &byte) in after_comma.iter().take(6).enumerate() {
        let digit = byte.wrapping_sub(b'0');
        if digit <= 9 {
            size = size * 10 + u32::from(digit);
            continue;
        }
        if byte != b'\n' || taken == 0 || size > MAX_ACCESS_BYTES {
            return None;
        }
        return Some((kind, addr, size, 3 + digits + 1 + taken + 1));
    }
    None
}

/// The value of the hex digits at the start of `bytes` and how many there are (more than 16
/// overflow: the caller refuses those). Eight bytes at a time where eight are there
/// ([`hex_word`]), the rest one at a time through a table.
#[inline(always)]
fn hex_prefix(bytes: &[u8]) -> (u64, usize) {
    let mut value = 0u64;
    let mut digits = 0;
    while let Some(chunk) = bytes.get(digits..digits + 8).and_then(|chunk| <[u8; 8]>::try_from(chunk).ok()) {
        let Some(part) = eight_hex_digits(u64::from_le_bytes(chunk)) else { break };
        value = value << 32 | part;
        digits += 8;
        if digits > 16 {
            return (value, digits);
        }
    }
    for &byte in bytes.get(digits..).unwrap_or_default() {
        let nibble = HEX_VALUES[usize::from(byte)];
        if nibble == NOT_HEX {
            break;
        }
        value = value << 4 | u64::from(nibble);
        digits += 1;
        if digits > 16 {
            break;
        }
    }
    (value, digits)
}

/// Every byte of a word.
const BYTE_ONES: u64 = 0x0101_0101_0101_0101;
/// The top bit of every byte of a word.
const BYTE_TOPS: u64 = 0x8080_8080_8080_8080;

/// 0x80 in each byte of `word` that lies in `low..=high`, else 0 (every byte of `word` must be
/// below 0x80, so that no addition carries into the next byte).
#[inline]
fn bytes_in_range(word: u64, low: u8, high: u8) -> u64 {
    let at_least_low = word.wrapping_add(BYTE_ONES * u64::from(0x80 - low));
    let above_high = word.wrapping_add(BYTE_ONES * u64::from(0x7f - high));
    at_least_low & !above_high & BYTE_TOPS
}

/// The value of eight hex digits (`word`, loaded little-endian: the first byte is the lowest),
/// or `None` if any byte is not one: checked and converted without a branch per byte (SWAR).
#[inline]
fn eight_hex_digits(word: u64) -> Option<u64> {
    let ascii = !word & BYTE_TOPS;
    let low7 = word & !BYTE_TOPS;
    let digit = bytes_in_range(low7, b'0', b'9');
    // Setting bit 5 folds A-F onto a-f, and nothing else onto them.
    let letter = bytes_in_range(low7 | (BYTE_ONES * 0x20), b'a', b'f');
    if (digit | letter) & ascii != BYTE_TOPS {
        return None;
    }
    let nibbles = (low7 & (BYTE_ONES * 0x0f)) + (letter >> 7) * 9;
    Some(pack_nibbles(nibbles.swap_bytes()))
}

/// Eight nibbles, one per byte (most significant first), packed into 32 bits.
#[inline]
fn pack_nibbles(bytes: u64) -> u64 {
    // 0x0a0b0c0d0e0f0g0h -> pairs 0xab, 0xcd ... -> quads -> 0xabcdefgh.
    let pairs = (bytes | bytes >> 4) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs | pairs >> 8) & 0x0000_ffff_0000_ffff;
    (quads | quads >> 16) & 0xffff_ffff
}

/// Skips blank, comment and banner lines, fixes the format on the first other line, parses.
fn classify(line: &[u8], format: &mut Option<TraceFormat>) -> LineOutcome {
    let text = line.trim_ascii();
    if text.is_empty() || text.starts_with(b"#") || text.starts_with(b"==") {
        return LineOutcome::Skip;
    }
    let format = *format.get_or_insert_with(|| detect_format(text));
    let parsed = match format {
        TraceFormat::Lackey => parse_lackey(text),
        TraceFormat::Plain => parse_plain(text),
    };
    match parsed {
        Ok(record) => LineOutcome::Record(record),
        Err(problem) => LineOutcome::Problem(problem),
    }
}

/// Lackey lines start with a kind letter and a blank; plain lines start with a number.
fn detect_format(text: &[u8]) -> TraceFormat {
    match text {
        [b'I' | b'L' | b'S' | b'M', separator, ..] if separator.is_ascii_whitespace() => TraceFormat::Lackey,
        _ => TraceFormat::Plain,
    }
}

/// Parses a trimmed lackey line such as `I  0401ab70,3` or `S 1fff000668,8`.
fn parse_lackey(text: &[u8]) -> Result<TraceRecord, LineProblem> {
    let kind = match text {
        [b'I', ..] => AccessKind::Instr,
        [b'L', ..] => AccessKind::Load,
        [b'S', ..] => AccessKind::Store,
        [b'M', ..] => AccessKind::Modify,
        _ => return Err(LineProblem::UnknownKind(snippet(first_token(text)))),
    };
    let rest = text.get(1..).unwrap_or_default();
    if !rest.first().is_some_and(u8::is_ascii_whitespace) {
        return Err(if rest.is_empty() {
            LineProblem::MissingAddress
        } else {
            LineProblem::UnknownKind(snippet(first_token(text)))
        });
    }
    let mut fields = rest.trim_ascii_start().splitn(2, |&byte| byte == b',');
    let address = fields.next().unwrap_or_default();
    if address.is_empty() {
        return Err(LineProblem::MissingAddress);
    }
    let addr = parse_hex(address)?;
    let size = fields.next().ok_or(LineProblem::MissingSize)?;
    let size = parse_size(size)?;
    Ok(TraceRecord { kind, addr, size, process: None })
}

/// Parses a trimmed plain line: `address [kind [process]]`, with an optional trailing comment.
fn parse_plain(text: &[u8]) -> Result<TraceRecord, LineProblem> {
    let without_comment = text.split(|&byte| byte == b'#').next().unwrap_or_default();
    let mut tokens = without_comment.split(u8::is_ascii_whitespace).filter(|token| !token.is_empty());
    let address = tokens.next().ok_or(LineProblem::MissingAddress)?;
    let addr = parse_plain_address(address)?;
    let kind = match tokens.next() {
        None => AccessKind::Load,
        Some(token) => parse_access(token)?,
    };
    let process = match tokens.next() {
        None => None,
        Some(name) => Some(std::str::from_utf8(name).map_err(|_| LineProblem::ProcessNotUtf8)?.to_owned()),
    };
    if let Some(extra) = tokens.next() {
        return Err(LineProblem::TrailingText(snippet(extra)));
    }
    Ok(TraceRecord { kind, addr, size: 1, process })
}

fn parse_access(token: &[u8]) -> Result<AccessKind, LineProblem> {
    const KINDS: [(&[u8], AccessKind); 6] = [
        (b"r", AccessKind::Load),
        (b"read", AccessKind::Load),
        (b"w", AccessKind::Store),
        (b"write", AccessKind::Store),
        (b"x", AccessKind::Instr),
        (b"exec", AccessKind::Instr),
    ];
    KINDS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(token))
        .map(|&(_, kind)| kind)
        .ok_or_else(|| LineProblem::UnknownAccess(snippet(token)))
}

/// Lackey's address: bare hex digits.
fn parse_hex(digits: &[u8]) -> Result<u64, LineProblem> {
    let mut value: u64 = 0;
    for &byte in digits {
        let digit = super::hex::digit(byte).ok_or_else(|| LineProblem::BadAddress(snippet(digits)))?;
        if value >> 60 != 0 {
            return Err(LineProblem::AddressTooLarge(snippet(digits)));
        }
        value = value << 4 | u64::from(digit);
    }
    Ok(value)
}

/// `0x`-prefixed hex or decimal, either with `_` separators between digits.
fn parse_plain_address(token: &[u8]) -> Result<u64, LineProblem> {
    let bad = || LineProblem::BadAddress(snippet(token));
    let too_large = || LineProblem::AddressTooLarge(snippet(token));
    let (digits, radix): (&[u8], u64) = match token {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16),
        _ => (token, 10),
    };
    if digits.first().is_none_or(|&byte| byte == b'_') {
        return Err(bad());
    }
    let mut value: u64 = 0;
    for &byte in digits.iter().filter(|&&byte| byte != b'_') {
        let digit = super::hex::digit(byte).map(u64::from).filter(|&digit| digit < radix).ok_or_else(bad)?;
        value = value.checked_mul(radix).and_then(|v| v.checked_add(digit)).ok_or_else(too_large)?;
    }
    Ok(value)
}

fn parse_size(digits: &[u8]) -> Result<u32, LineProblem> {
    let bad = || LineProblem::BadSize(snippet(digits));
    if digits.is_empty() {
        return Err(bad());
    }
    let mut value: u32 = 0;
    for &byte in digits {
        let digit = byte.is_ascii_digit().then(|| u32::from(byte - b'0')).ok_or_else(bad)?;
        value = value.checked_mul(10).and_then(|v| v.checked_add(digit)).ok_or_else(bad)?;
    }
    if value > MAX_ACCESS_BYTES {
        return Err(LineProblem::SizeTooLarge(value));
    }
    Ok(value)
}

fn first_token(text: &[u8]) -> &[u8] {
    text.split(u8::is_ascii_whitespace).next().unwrap_or_default()
}

/// A short, printable copy of part of a bad line for an error message.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown: String = text.chars().take(SNIPPET_CHARS).collect();
    if text.chars().nth(SNIPPET_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn records(text: &str) -> Vec<Result<TraceRecord, TraceError>> {
        TraceReader::new(text.as_bytes()).collect()
    }

    fn ok_records(text: &str) -> Vec<TraceRecord> {
        records(text).into_iter().map(|record| record.expect("valid line")).collect()
    }

    /// (line, problem) of every error, for comparing against expectations.
    fn problems(text: &str) -> Vec<(u64, Option<LineProblem>)> {
        records(text)
            .into_iter()
            .filter_map(Result::err)
            .map(|error| {
                let line = error.line();
                match error {
                    TraceError::Parse { problem, .. } => (line, Some(problem)),
                    TraceError::Io { .. } => (line, None),
                }
            })
            .collect()
    }

    fn record(kind: AccessKind, addr: u64, size: u32) -> TraceRecord {
        TraceRecord { kind, addr, size, process: None }
    }

    const LACKEY: &str = "==12345== Lackey, an example Valgrind tool\n\
                          ==12345== Command: sort input.txt\n\
                          I  0401ab70,3\n \
                          S 1fff000668,8\n \
                          L 0401b770,16\n \
                          M 7FF0001234,4\n";

    #[test]
    fn lackey_records_parse_and_banners_are_skipped() {
        let mut reader = TraceReader::new(LACKEY.as_bytes());
        let parsed: Vec<TraceRecord> = reader.by_ref().map(|r| r.expect("valid")).collect();
        assert_eq!(
            parsed,
            vec![
                record(AccessKind::Instr, 0x0401_ab70, 3),
                record(AccessKind::Store, 0x1f_ff00_0668, 8),
                record(AccessKind::Load, 0x0401_b770, 16),
                record(AccessKind::Modify, 0x7f_f000_1234, 4),
            ]
        );
        assert_eq!(reader.format(), Some(TraceFormat::Lackey));
        assert_eq!(reader.line(), 6);
    }

    #[test]
    fn lackey_tolerates_crlf_tabs_and_a_missing_final_newline() {
        let parsed = ok_records("I\t0401ab70,3\r\n  L   10,8  \r\n S ffffffffffffffff,0");
        assert_eq!(
            parsed,
            vec![
                record(AccessKind::Instr, 0x0401_ab70, 3),
                record(AccessKind::Load, 0x10, 8),
                record(AccessKind::Store, u64::MAX, 0),
            ]
        );
    }

    #[test]
    fn lackey_errors_carry_line_numbers_and_reading_goes_on() {
        let text = "I  1000,4\n\
                    X  1000,4\n\
                    I  10g0,4\n \
                    L 1000\n \
                    L 1000,\n \
                    L 1000,4x\n \
                    L 1000,4294967296\n \
                    L 10000000000000000,4\n \
                    L ,4\n \
                    L\n \
                    Lx 10,4\n \
                    S 2000,8\n";
        let expected = vec![
            (2, Some(LineProblem::UnknownKind("X".into()))),
            (3, Some(LineProblem::BadAddress("10g0".into()))),
            (4, Some(LineProblem::MissingSize)),
            (5, Some(LineProblem::BadSize(String::new()))),
            (6, Some(LineProblem::BadSize("4x".into()))),
            (7, Some(LineProblem::BadSize("4294967296".into()))),
            (8, Some(LineProblem::AddressTooLarge("10000000000000000".into()))),
            (9, Some(LineProblem::MissingAddress)),
            (10, Some(LineProblem::MissingAddress)),
            (11, Some(LineProblem::UnknownKind("Lx".into()))),
        ];
        assert_eq!(problems(text), expected);
        let good: Vec<TraceRecord> = records(text).into_iter().filter_map(Result::ok).collect();
        assert_eq!(good, vec![record(AccessKind::Instr, 0x1000, 4), record(AccessKind::Store, 0x2000, 8)]);
        let message = records(text).into_iter().find_map(Result::err).expect("an error");
        assert_eq!(message.to_string(), "line 2: unknown record kind \"X\" (expected I, L, S or M)");
    }

    #[test]
    fn plain_addresses_kinds_and_processes() {
        let text = "# a hand-written trace\n\
                    \n\
                    0x7fff_f000\n\
                    4096 w\n\
                    0X1000 X init  # fetch by init\n\
                    0x2000 read shell\n\
                    1_000 Write\n\
                    0xffffffffffffffff exec\n";
        let mut reader = TraceReader::new(text.as_bytes());
        let parsed: Vec<TraceRecord> = reader.by_ref().map(|r| r.expect("valid")).collect();
        assert_eq!(reader.format(), Some(TraceFormat::Plain));
        let process = |name: &str| Some(name.to_owned());
        assert_eq!(
            parsed,
            vec![
                record(AccessKind::Load, 0x7fff_f000, 1),
                record(AccessKind::Store, 4096, 1),
                TraceRecord { kind: AccessKind::Instr, addr: 0x1000, size: 1, process: process("init") },
                TraceRecord { kind: AccessKind::Load, addr: 0x2000, size: 1, process: process("shell") },
                record(AccessKind::Store, 1000, 1),
                record(AccessKind::Instr, u64::MAX, 1),
            ]
        );
    }

    #[test]
    fn plain_errors_carry_line_numbers() {
        let text = "0x1000\n\
                    0x\n\
                    0x_1\n\
                    12ab\n\
                    0x1g\n\
                    18446744073709551616\n\
                    0x10000000000000000\n\
                    0x1000 rw\n\
                    0x1000 r init extra\n\
                    0x2000\n";
        let expected = vec![
            (2, Some(LineProblem::BadAddress("0x".into()))),
            (3, Some(LineProblem::BadAddress("0x_1".into()))),
            (4, Some(LineProblem::BadAddress("12ab".into()))),
            (5, Some(LineProblem::BadAddress("0x1g".into()))),
            (6, Some(LineProblem::AddressTooLarge("18446744073709551616".into()))),
            (7, Some(LineProblem::AddressTooLarge("0x10000000000000000".into()))),
            (8, Some(LineProblem::UnknownAccess("rw".into()))),
            (9, Some(LineProblem::TrailingText("extra".into()))),
        ];
        // A byte that is not UTF-8 cannot live in a &str: check it apart.
        assert_eq!(problems(text), expected);
        let mut bytes = b"0x1000 r ".to_vec();
        bytes.extend_from_slice(&[0xff, b'\n']);
        let errors: Vec<String> = TraceReader::new(bytes.as_slice())
            .filter_map(Result::err)
            .map(|error| error.to_string())
            .collect();
        assert_eq!(errors, vec!["line 1: process name is not valid UTF-8".to_owned()]);
    }

    #[test]
    fn format_is_detected_from_the_first_record_line() {
        let detect = |text: &str| {
            let mut reader = TraceReader::new(text.as_bytes());
            reader.by_ref().for_each(drop);
            reader.format()
        };
        assert_eq!(detect("# comment\n\n==1== banner\nI  1000,4\n"), Some(TraceFormat::Lackey));
        assert_eq!(detect("   \n L 1000,4\n"), Some(TraceFormat::Lackey));
        assert_eq!(detect("# comment\n0x1000 r\n"), Some(TraceFormat::Plain));
        assert_eq!(detect("# only comments\n\n"), None);
        // A forced format is not second-guessed.
        let forced = TraceReader::with_format("0x1000\n".as_bytes(), TraceFormat::Lackey);
        assert!(forced.into_iter().all(|record| record.is_err()));
    }

    #[test]
    fn lines_split_across_buffer_fills_parse_the_same() {
        let expected = ok_records(LACKEY);
        for capacity in 1..12 {
            let reader = TraceReader::new(io::BufReader::with_capacity(capacity, LACKEY.as_bytes()));
            let parsed: Vec<TraceRecord> = reader.map(|r| r.expect("valid")).collect();
            assert_eq!(parsed, expected, "buffer of {capacity} bytes");
        }
    }

    #[test]
    fn an_overlong_line_is_an_error_and_reading_goes_on() {
        let mut text = String::from("I  1000,4\n");
        text.push_str(&"x".repeat(MAX_LINE_BYTES * 3));
        text.push_str("\nI  2000,4\n");
        for capacity in [7, 8192] {
            let reader = TraceReader::new(io::BufReader::with_capacity(capacity, text.as_bytes()));
            let outcome: Vec<Result<u64, u64>> =
                reader.map(|record| record.map(|record| record.addr).map_err(|error| error.line())).collect();
            assert_eq!(outcome, vec![Ok(0x1000), Err(2), Ok(0x2000)], "buffer {capacity}");
        }
        // An overlong last line without a newline too.
        let tail = format!("I  1000,4\n{}", "y".repeat(MAX_LINE_BYTES + 1));
        assert_eq!(problems(&tail), vec![(2, Some(LineProblem::LineTooLong { max: MAX_LINE_BYTES }))]);
    }

    #[test]
    fn gzip_input_is_detected_and_decompressed() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(LACKEY.as_bytes()).expect("in memory");
        let compressed = encoder.finish().expect("in memory");
        let input = TraceInput::detect(compressed.as_slice()).expect("in memory");
        assert!(input.is_gzip());
        let parsed: Vec<TraceRecord> = TraceReader::new(input).map(|record| record.expect("valid")).collect();
        assert_eq!(parsed, ok_records(LACKEY));

        // Plain text, one byte, and nothing at all pass through untouched.
        for text in [LACKEY, "I", ""] {
            let input = TraceInput::detect(text.as_bytes()).expect("in memory");
            assert!(!input.is_gzip());
            let mut bytes = Vec::new();
            io::BufReader::new(input).read_to_end(&mut bytes).expect("in memory");
            assert_eq!(bytes, text.as_bytes());
        }
    }

    #[test]
    fn corrupt_gzip_is_a_read_error_that_ends_the_stream() {
        let mut bytes = GZIP_MAGIC.to_vec();
        bytes.extend_from_slice(b"definitely not deflate data");
        let mut reader = TraceReader::auto(bytes.as_slice()).expect("magic read");
        assert!(matches!(reader.next(), Some(Err(TraceError::Io { line: 1, .. }))));
        assert!(reader.next().is_none());
    }

    /// Yields `good` and then fails every read.
    struct FailingReader {
        good: &'static [u8],
    }

    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.good.is_empty() {
                return Err(io::Error::other("disk on fire"));
            }
            let count = self.good.len().min(buf.len());
            let (now, later) = self.good.split_at(count);
            buf.get_mut(..count).expect("count <= buf.len()").copy_from_slice(now);
            self.good = later;
            Ok(count)
        }
    }

    #[test]
    fn read_errors_name_the_line_being_read() {
        let input = io::BufReader::new(FailingReader { good: b"I  1000,4\nI  20" });
        let outcome: Vec<String> = TraceReader::new(input)
            .map(|record| match record {
                Ok(record) => format!("{:x}", record.addr),
                Err(error) => error.to_string(),
            })
            .collect();
        assert_eq!(outcome, vec!["1000", "line 2: cannot read the trace: disk on fire"]);
    }

    #[test]
    fn pages_touched_counts_each_page_once_in_order() {
        let pages = |addr, size, shift| pages_touched(addr, size, shift).collect::<Vec<u64>>();
        assert_eq!(pages(0x1000, 0, 12), vec![1], "size 0 is one byte");
        assert_eq!(pages(0x1fff, 1, 12), vec![1]);
        assert_eq!(pages(0x1ffc, 8, 12), vec![1, 2], "straddles a boundary");
        assert_eq!(pages(0x1000, 0x1000, 12), vec![1], "ends exactly at the boundary");
        assert_eq!(pages(0x1000, 0x1001, 12), vec![1, 2]);
        assert_eq!(pages(0x0fff, 0x2002, 12), vec![0, 1, 2, 3]);
        assert_eq!(pages(u64::MAX - 3, 16, 12), vec![u64::MAX >> 12], "no wrap at the top");
        assert_eq!(pages(u64::MAX, u32::MAX, 0), vec![u64::MAX]);
        assert_eq!(pages(0x40_0000, 8, 21), vec![2]);
        assert_eq!(pages(0xdead_beef, 4, 64), vec![0], "one page spans everything");
        let record = record(AccessKind::Modify, 0x2ffe, 4);
        assert_eq!(record.pages(12).collect::<Vec<u64>>(), vec![2, 3]);
    }

    #[test]
    fn eight_bytes_at_a_time_decode_like_the_table() {
        // Every byte value at every position among hex digits: the word decoder agrees with
        // the table, one digit at a time.
        for position in 0..8 {
            for byte in 0..=255u8 {
                let mut bytes = *b"0f9aA7c3";
                bytes[position] = byte;
                let mut expected = Some(0u64);
                for &b in &bytes {
                    let nibble = HEX_VALUES[usize::from(b)];
                    expected = expected.filter(|_| nibble != NOT_HEX).map(|v| v << 4 | u64::from(nibble));
                }
                assert_eq!(eight_hex_digits(u64::from_le_bytes(bytes)), expected, "{byte:#x} at {position}");
            }
        }
    }

    #[test]
    fn access_kinds_map_to_tlb_halves() {
        assert_eq!(AccessKind::Instr.class(), AccessClass::Instruction);
        for kind in [AccessKind::Load, AccessKind::Store, AccessKind::Modify] {
            assert_eq!(kind.class(), AccessClass::Data);
        }
        assert!(AccessKind::Modify.is_write() && !AccessKind::Load.is_write());
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
            capacity in 1usize..64,
        ) {
            // Bias towards the interesting alphabet by mapping some bytes onto it.
            let alphabet = b"IL SM,0x1f\n\n#=_rwx \x1f\x8b";
            let bytes: Vec<u8> = bytes
                .iter()
                .map(|&byte| alphabet.get(usize::from(byte) % 40).copied().unwrap_or(byte))
                .collect();
            let lines = u64::try_from(bytes.iter().filter(|&&byte| byte == b'\n').count())
                .unwrap_or(u64::MAX);
            if let Ok(reader) = TraceReader::auto(io::BufReader::with_capacity(capacity, bytes.as_slice())) {
                for record in reader {
                    if let Err(error) = record {
                        proptest::prop_assert!(error.line() >= 1);
                        proptest::prop_assert!(error.line() <= lines + 1);
                    }
                }
            }
        }

        #[test]
        fn the_fast_path_reads_what_the_full_parser_reads(
            line in proptest::collection::vec(
                proptest::sample::select(b"IL SM,0123456789abcdefABCDEFx\n\r\t".to_vec()), 0..40),
        ) {
            if let Some((kind, addr, size, length)) = parse_lackey_fast(&line) {
                proptest::prop_assert_eq!(line.get(length - 1), Some(&b'\n'));
                let text = line.get(..length - 1).unwrap_or_default();
                let mut format = Some(TraceFormat::Lackey);
                match classify(text, &mut format) {
                    LineOutcome::Record(record) => {
                        proptest::prop_assert_eq!(record, TraceRecord { kind, addr, size, process: None });
                    }
                    _ => proptest::prop_assert!(false, "the full parser refuses {:?}", text),
                }
            }
        }

        #[test]
        fn hex_prefixes_decode_like_one_digit_at_a_time(
            value in proptest::num::u64::ANY,
            width in 1usize..20,
            upper in proptest::bool::ANY,
        ) {
            let text = if upper { format!("{value:0width$X},") } else { format!("{value:0width$x},") };
            let (decoded, digits) = hex_prefix(text.as_bytes());
            if width <= 16 {
                proptest::prop_assert_eq!((decoded, digits), (value, text.len() - 1));
            } else {
                proptest::prop_assert!(digits > 16, "{} digits is too many", digits);
            }
        }

        #[test]
        fn formatted_lackey_records_read_back(
            records in proptest::collection::vec(
                (0usize..4, proptest::num::u64::ANY, 0..=MAX_ACCESS_BYTES), 0..50),
        ) {
            let kinds = [
                ("I ", AccessKind::Instr),
                (" L", AccessKind::Load),
                (" S", AccessKind::Store),
                (" M", AccessKind::Modify),
            ];
            let mut text = String::new();
            let mut expected = Vec::new();
            for (kind, addr, size) in records {
                let (prefix, kind) = kinds.get(kind).copied().unwrap_or(kinds[0]);
                text.push_str(&format!("{prefix} {addr:08x},{size}\n"));
                expected.push(record(kind, addr, size));
            }
            let parsed: Result<Vec<TraceRecord>, String> = TraceReader::new(text.as_bytes())
                .map(|record| record.map_err(|error| error.to_string()))
                .collect();
            proptest::prop_assert_eq!(parsed, Ok(expected));
        }
    }
}
