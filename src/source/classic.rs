//! The Segment S3 Classic door (issue 13): the logs Segment's AWS S3 Classic destination wrote,
//! `segment-logs/<source-id>/<received-day>/<file>`, each object newline-delimited JSON (one
//! event a line, already stamped by Segment), usually gzip-compressed.
//!
//! Here, what does not depend on where the bytes come from: the path layout ([`ClassicPath`]),
//! the line reader over any [`Read`] ([`LineReader`]: gzip told by its magic bytes, never by
//! name or header; lines capped; a damaged stream keeps every line before the damage and says
//! where it is), the cut into chunks of bounded size ([`Chunker`], deterministic for a given
//! object, so that a re-run makes the same objects and keys), and a chunk's events and rejected
//! items ([`collect_lines`]). Nothing here knows about S3 or tokio.

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{collect_event, Items, Rejected};
use crate::json;

/// Most lines in one chunk (one plan, one set of objects): about what one full SQS invocation
/// holds (3,900 events of 1 KB), so backfilled objects are as large as live ones.
pub const CHUNK_LINES: usize = 5_000;
/// Most bytes of line text in one chunk.
pub const CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// The longest line kept whole. Segment refuses events over 32 KB, so a longer line is not an
/// event: it becomes a rejected item holding its first [`KEPT_OF_LONG_LINE`] bytes.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// How much of an over-long line the rejected item keeps.
pub const KEPT_OF_LONG_LINE: usize = 64 * 1024;

/// Where a Classic object sits: `<source-id>/<received-day>/<file>` under the logs prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicPath {
    /// The Segment source id.
    pub source_id: String,
    /// The UTC midnight the events were received, in ms since the epoch.
    pub received_day_ms: i64,
    /// The file name inside the day folder (its format is not documented: not parsed).
    pub file: String,
}

impl ClassicPath {
    /// Reads the last three segments of a key or relative path; `None` when they do not have
    /// Classic's shape (a day folder that is not a whole UTC day in milliseconds).
    pub fn parse(path: &str) -> Option<ClassicPath> {
        let mut parts = path.trim_end_matches('/').rsplit('/');
        let file = parts.next().filter(|f| !f.is_empty())?;
        let day = parts.next()?;
        let source_id = parts.next().filter(|s| !s.is_empty())?;
        if day.is_empty() || !day.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let received_day_ms: i64 = day.parse().ok()?;
        if received_day_ms % 86_400_000 != 0 {
            return None;
        }
        Some(ClassicPath {
            source_id: source_id.to_owned(),
            received_day_ms,
            file: file.to_owned(),
        })
    }
}

/// One line of a Classic object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in the decompressed object.
    pub number: usize,
    /// The text (lossy when the bytes are not UTF-8, which `problem` then says).
    pub text: String,
    /// Why the line cannot be an event before it is even parsed (not UTF-8, too long).
    pub problem: Option<String>,
}

/// The lines of one object, read from any byte stream: gzip (one or more members) when it
/// starts with gzip's magic bytes, plain text otherwise.
pub struct LineReader {
    inner: Box<dyn BufRead + Send>,
    counted: Arc<AtomicU64>,
    next_number: usize,
    done: bool,
    /// Set once the stored bytes turned out damaged (a corrupt or truncated gzip): the lines
    /// before the damage were read, the rest cannot be.
    pub damage: Option<String>,
    /// Set once the stored bytes could not be fetched to their end (a reset connection, a
    /// stalled download, a file system error): nothing is wrong with the object, and reading it
    /// again may succeed, so the object is not complete.
    pub unreadable: Option<String>,
}

/// An error of the byte source itself, told apart from a decoding error of what it gave.
#[derive(Debug)]
struct SourceFailed(std::io::Error);

impl std::fmt::Display for SourceFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn is_source_failure(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<SourceFailed>())
}

/// Counts the bytes read from the underlying stream (for damage offsets, and into a caller's
/// total for progress), and marks the stream's own errors as [`SourceFailed`].
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
    total: Option<Arc<AtomicU64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self
            .inner
            .read(buf)
            .map_err(|e| std::io::Error::new(e.kind(), SourceFailed(e)))?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(total) = &self.total {
            total.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

impl LineReader {
    /// Wraps `source`, telling gzip from plain text by the first two bytes.
    pub fn new<R: Read + Send + 'static>(source: R) -> LineReader {
        LineReader::with_total(source, None)
    }

    /// [`LineReader::new`], also adding every stored byte read to `total` as it is read (a
    /// progress display's counter).
    pub fn with_total<R: Read + Send + 'static>(
        source: R,
        total: Option<Arc<AtomicU64>>,
    ) -> LineReader {
        let counted = Arc::new(AtomicU64::new(0));
        let mut raw = Counting {
            inner: source,
            count: Arc::clone(&counted),
            total,
        };
        // The first two bytes, however the source splits them into reads.
        let mut head = [0u8; 2];
        let mut got = 0;
        let mut unreadable = None;
        while got < head.len() {
            match raw.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    unreadable = Some(format!("the object cannot be read: {e}"));
                    break;
                }
            }
        }
        let is_gzip = head[..got] == [0x1f, 0x8b];
        let stream = BufReader::with_capacity(
            64 * 1024,
            std::io::Cursor::new(head[..got].to_vec()).chain(raw),
        );
        let inner: Box<dyn BufRead + Send> = if is_gzip {
            Box::new(BufReader::with_capacity(
                64 * 1024,
                flate2::read::MultiGzDecoder::new(stream),
            ))
        } else {
            Box::new(stream)
        };
        LineReader {
            inner,
            counted,
            next_number: 1,
            done: unreadable.is_some(),
            damage: None,
            unreadable,
        }
    }

    /// The stored bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.counted.load(Ordering::Relaxed)
    }

    /// The next line, `None` at the end (or after damage, which [`LineReader::damage`] then
    /// describes). Empty lines are skipped; their numbers are not reused.
    pub fn next_line(&mut self) -> Option<Line> {
        let mut buf = Vec::new();
        while !self.done {
            buf.clear();
            let number = self.next_number;
            let (read, too_long) = match read_line_capped(&mut *self.inner, &mut buf) {
                Ok(r) => r,
                Err(e) if is_source_failure(&e) => {
                    // Not the object's fault: what was read of the broken line is dropped (the
                    // object is read again), and the caller fails it.
                    self.done = true;
                    let at = self.counted.load(Ordering::Relaxed);
                    self.unreadable = Some(format!(
                        "the object could not be read to its end (after line {}, byte {at}): {e}",
                        number.saturating_sub(1)
                    ));
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    let at = self.counted.load(Ordering::Relaxed);
                    self.damage = Some(format!(
                        "the object is damaged after line {}, at or before byte {at} of the stored \
                         object: {e}; the lines before it were kept",
                        number.saturating_sub(1)
                    ));
                    // What was read of the broken line is kept as a line of its own.
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        return None;
                    }
                    self.next_number += 1;
                    return Some(to_line(number, &buf, false));
                }
            };
            if read == 0 {
                self.done = true;
                return None;
            }
            self.next_number += 1;
            if buf.iter().all(u8::is_ascii_whitespace) && !too_long {
                continue;
            }
            return Some(to_line(number, &buf, too_long));
        }
        None
    }
}

/// Reads up to and including the next `\n`; keeps at most [`MAX_LINE_BYTES`] of the line and
/// says whether more was dropped. Returns the bytes consumed (0 at the end).
fn read_line_capped(r: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut too_long = false;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed, too_long));
        }
        let (take, found) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(buf.len());
        if take > room {
            too_long = true;
        }
        buf.extend_from_slice(&available[..take.min(room)]);
        r.consume(take);
        consumed += take;
        if found {
            return Ok((consumed, too_long));
        }
    }
}

fn to_line(number: usize, bytes: &[u8], too_long: bool) -> Line {
    let trimmed = trim_newline(bytes);
    if too_long {
        let kept = &trimmed[..trimmed.len().min(KEPT_OF_LONG_LINE)];
        return Line {
            number,
            text: String::from_utf8_lossy(kept).into_owned(),
            problem: Some(format!(
                "line {number} is longer than {} bytes (Segment's events are at most 32 KB); \
                 its first {} bytes are kept",
                MAX_LINE_BYTES,
                kept.len()
            )),
        };
    }
    match std::str::from_utf8(trimmed) {
        Ok(text) => Line {
            number,
            text: text.to_owned(),
            problem: None,
        },
        Err(e) => Line {
            number,
            text: String::from_utf8_lossy(trimmed).into_owned(),
            problem: Some(format!("line {number} is not UTF-8: {e}")),
        },
    }
}

fn trim_newline(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// Cuts a stream of lines into chunks of at most [`CHUNK_LINES`] lines and [`CHUNK_BYTES`]
/// bytes: where a cut falls depends only on the lines, so the same object always gives the
/// same chunks (and so the same objects and keys).
#[derive(Debug, Default)]
pub struct Chunker {
    lines: Vec<Line>,
    bytes: usize,
}

impl Chunker {
    /// Adds a line; returns the chunk it completed, if any.
    pub fn push(&mut self, line: Line) -> Option<Vec<Line>> {
        let len = line.text.len();
        let full = !self.lines.is_empty()
            && (self.lines.len() >= CHUNK_LINES || self.bytes + len > CHUNK_BYTES);
        let done = full.then(|| self.take());
        self.bytes += len;
        self.lines.push(line);
        done
    }

    /// The last, partial chunk (`None` when empty).
    pub fn finish(&mut self) -> Option<Vec<Line>> {
        (!self.lines.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> Vec<Line> {
        self.bytes = 0;
        std::mem::take(&mut self.lines)
    }
}

/// A chunk's events and rejected items: each line is one event; a line that is not JSON, not
/// an event, not UTF-8 or too long is a rejected item with its line number as `index`.
pub fn collect_lines<'a>(lines: &'a [Line], items: &mut Items<'a>) {
    for line in lines {
        let reject = |reason: String| Rejected {
            reason,
            source: 0,
            index: Some(line.number),
            body: line.text.clone(),
        };
        if let Some(problem) = &line.problem {
            items.rejected.push(reject(problem.clone()));
            continue;
        }
        let result = match json::parse_lazy(&line.text) {
            Ok(doc) => collect_event(doc, 0, items, None).map_err(|u| u.0),
            Err(e) => Err(format!("not JSON: {e}")),
        };
        if result.is_ok() {
            // Its line number, for error records about it (a Parquet cell that does not
            // convert), as rejected lines carry theirs.
            if let Some(event) = items.events.last_mut() {
                event.index = u32::try_from(line.number).ok();
            }
        }
        if let Err(reason) = result {
            items
                .rejected
                .push(reject(format!("line {}: {reason}", line.number)));
        }
    }
}

/// A damaged object's rejected item: the damage, with no body (the bytes are not readable).
pub fn damage_item(damage: &str) -> Rejected {
    Rejected {
        reason: damage.to_owned(),
        source: 0,
        index: None,
        body: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    fn all_lines(bytes: Vec<u8>) -> (Vec<Line>, Option<String>) {
        let mut r = LineReader::new(std::io::Cursor::new(bytes));
        let mut out = Vec::new();
        while let Some(l) = r.next_line() {
            out.push(l);
        }
        (out, r.damage)
    }

    #[test]
    fn classic_paths() {
        let p = ClassicPath::parse("segment-logs/src_1/1432684800000/1432729394-0.gz").unwrap();
        assert_eq!(
            (p.source_id.as_str(), p.received_day_ms, p.file.as_str()),
            ("src_1", 1_432_684_800_000, "1432729394-0.gz")
        );
        assert!(ClassicPath::parse("src_1/1432684800000/x").is_some());
        for bad in [
            "src_1/2015-05-27/x.gz",
            "src_1/1432684800001/x.gz",
            "1432684800000/x.gz",
            "src_1/1432684800000/",
        ] {
            assert_eq!(ClassicPath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn gzip_is_told_by_its_magic_bytes_and_multi_member_streams_are_read_whole() {
        let text = "{\"type\":\"track\"}\n\n{\"type\":\"page\"}\r\n";
        let (plain, damage) = all_lines(text.as_bytes().to_vec());
        assert!(damage.is_none());
        assert_eq!(plain.iter().map(|l| l.number).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(plain[1].text, "{\"type\":\"page\"}");
        let mut two = gzip(text);
        two.extend(gzip("{\"type\":\"alias\"}"));
        let (lines, damage) = all_lines(two);
        assert!(damage.is_none());
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2].text, "{\"type\":\"alias\"}");
    }

    #[test]
    fn a_truncated_gzip_keeps_the_lines_before_the_damage_and_says_where() {
        let text: String = (0..2000)
            .map(|i| format!("{{\"type\":\"track\",\"event\":\"e{i}\",\"n\":{i}}}\n"))
            .collect();
        let mut z = gzip(&text);
        z.truncate(z.len() / 2);
        let (lines, damage) = all_lines(z);
        let damage = damage.expect("damage");
        assert!(damage.contains("damaged after line"), "{damage}");
        assert!(lines.len() > 100 && lines.len() < 2000, "{}", lines.len());
        for (i, l) in lines.iter().enumerate().take(lines.len() - 1) {
            assert_eq!(l.number, i + 1);
            assert!(l.problem.is_none());
        }
    }

    /// Gives its bytes one at a time, then fails: a connection reset part-way.
    struct Flaky {
        bytes: Vec<u8>,
        at: usize,
        fail_after: usize,
    }

    impl Read for Flaky {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at >= self.fail_after {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset",
                ));
            }
            if self.at >= self.bytes.len() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.bytes[self.at];
            self.at += 1;
            Ok(1)
        }
    }

    #[test]
    fn a_source_that_fails_part_way_is_unreadable_not_damaged() {
        let text: String = (0..200)
            .map(|i| format!("{{\"type\":\"track\",\"n\":{i}}}\n"))
            .collect();
        let z = gzip(&text);
        let mut r = LineReader::new(Flaky {
            fail_after: z.len() / 2,
            bytes: z,
            at: 0,
        });
        let mut n = 0;
        while r.next_line().is_some() {
            n += 1;
        }
        assert!(n < 200);
        assert!(r.damage.is_none(), "{:?}", r.damage);
        let why = r.unreadable.expect("unreadable");
        assert!(why.contains("connection reset"), "{why}");
        // One byte per read still tells gzip from text.
        let mut r = LineReader::new(Flaky {
            fail_after: usize::MAX,
            bytes: gzip("{\"type\":\"page\"}\n"),
            at: 0,
        });
        assert_eq!(
            r.next_line().map(|l| l.text),
            Some("{\"type\":\"page\"}".to_owned())
        );
        assert!(r.unreadable.is_none() && r.damage.is_none());
    }

    #[test]
    fn long_and_non_utf8_lines_are_flagged() {
        let mut bytes = vec![b'a'; MAX_LINE_BYTES + 10];
        bytes.push(b'\n');
        bytes.extend_from_slice(b"\xff\xfe\n{}\n");
        let (lines, _) = all_lines(bytes);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].text.len(), KEPT_OF_LONG_LINE);
        assert!(lines[0].problem.as_deref().unwrap().contains("longer than"));
        assert!(lines[1].problem.as_deref().unwrap().contains("not UTF-8"));
        assert!(lines[2].problem.is_none());
    }

    #[test]
    fn chunks_depend_only_on_the_lines() {
        let mut c = Chunker::default();
        let mut sizes = Vec::new();
        for n in 1..=2 * CHUNK_LINES + 1 {
            let line = Line {
                number: n,
                text: "x".repeat(10),
                problem: None,
            };
            if let Some(chunk) = c.push(line) {
                sizes.push(chunk.len());
            }
        }
        sizes.extend(c.finish().map(|c| c.len()));
        assert_eq!(sizes, [CHUNK_LINES, CHUNK_LINES, 1]);
        let mut c = Chunker::default();
        let big = "y".repeat(CHUNK_BYTES / 2 + 1);
        let mut cut = 0;
        for n in 1..=3 {
            let line = Line {
                number: n,
                text: big.clone(),
                problem: None,
            };
            cut += usize::from(c.push(line).is_some());
        }
        assert_eq!(
            cut, 2,
            "each line over half the byte budget gets a chunk of its own"
        );
    }

    #[test]
    fn lines_become_events_or_rejected_items_with_their_number() {
        let lines: Vec<Line> = [
            "{\"type\":\"track\",\"event\":\"A\"}",
            "not json",
            "{\"type\":\"nope\"}",
        ]
        .iter()
        .enumerate()
        .map(|(i, t)| Line {
            number: i + 1,
            text: (*t).to_owned(),
            problem: None,
        })
        .collect();
        let mut items = Items::default();
        collect_lines(&lines, &mut items);
        assert_eq!(items.events.len(), 1);
        assert_eq!(
            items.events[0].index,
            Some(1),
            "an event carries its line number"
        );
        let idx: Vec<_> = items.rejected.iter().map(|r| r.index).collect();
        assert_eq!(idx, [Some(2), Some(3)]);
        assert!(items.rejected[0].reason.starts_with("line 2: not JSON"));
        assert_eq!(items.rejected[1].body, "{\"type\":\"nope\"}");
    }
}
