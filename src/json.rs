//! A borrowed JSON tree that keeps what the spec needs and common models lose.
//!
//! SPEC 1 and 3.2 require numbers to be written out exactly as they came in (`12.50`, `1e3`,
//! `-0`) and object keys to keep their input order; SPEC 9 requires an event deeper than 128 to be
//! rejected *by itself*, without spoiling the rest of its batch. This module parses into a tree
//! whose strings and numbers borrow from the input where they can, whose objects are ordered
//! `Vec`s of pairs, and whose containers beyond [`DEPTH_CAP`] are validated without recursion and
//! kept as raw text ([`Value::TooDeep`]) so that a hostile document can neither overflow the
//! stack nor hide a good event next to a deep one.
//!
//! It also renders values as the spec's compact JSON (3.2): no spaces, non-ASCII as itself, only
//! `"`, `\` and characters below U+0020 escaped. It does no I/O.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

/// Containers nested deeper than this (counted from the document root, which is depth 1) are not
/// built as a tree; they are validated iteratively and kept as [`Value::TooDeep`].
///
/// Events sit at most at depth 3 of a payload (`{"batch": [event]}`), so an event's own depth
/// can be checked up to 128 levels with room to spare.
pub const DEPTH_CAP: usize = 132;

/// One JSON value; strings and numbers borrow from the parsed text when no unescaping is needed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as its exact text in the input.
    Number(Cow<'a, str>),
    /// A string, unescaped.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object: its members in input order (a repeated key keeps every occurrence; lookups
    /// take the last, as JavaScript's `JSON.parse` does).
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
    /// A valid container nested beyond [`DEPTH_CAP`], kept as its raw text.
    TooDeep(Cow<'a, str>),
    /// A valid container that [`parse_lazy`] has not built yet: its text, checked, and built
    /// one level at a time on first use.
    Lazy(Box<Lazy<'a>>),
}

/// A validated container, built on first use (SPEC 3.2 output needs no tree when the text is
/// already compact: it is then copied as it is).
#[derive(Debug, Clone)]
pub struct Lazy<'a> {
    raw: &'a str,
    height: usize,
    canonical: bool,
    built: OnceLock<Value<'a>>,
}

impl PartialEq for Lazy<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl<'a> Lazy<'a> {
    /// The container, built one level deep (its own containers stay lazy).
    pub fn value(&self) -> &Value<'a> {
        self.built
            .get_or_init(|| build_level(self.raw, self.canonical))
    }

    fn into_value(self) -> Value<'a> {
        match self.built.into_inner() {
            Some(v) => v,
            None => build_level(self.raw, self.canonical),
        }
    }
}

/// Builds the top level of validated container text, its own containers lazy. The containers
/// inside canonical text are canonical too, and valid: they are skipped without being checked
/// again (issue 15: re-validating `context`'s members when a path stepped into it was a tenth
/// of the pipeline).
fn build_level(raw: &str, canonical: bool) -> Value<'_> {
    let mut p = Parser::new(raw, LAZY_EVENTS);
    p.checked = canonical;
    // The text was validated when it was skipped, so this cannot fail; keep it raw if it did.
    p.value(1)
        .unwrap_or_else(|_| Value::TooDeep(Cow::Borrowed(raw)))
}

impl<'a> Value<'a> {
    /// About how many bytes this value's compact JSON takes, without building anything: exact
    /// for a lazy container (its text), strings and numbers; the sum of the parts for a built
    /// container. For sizing output buffers up front.
    pub fn size_hint(&self) -> usize {
        match self {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(n) => n.len(),
            Value::String(s) => s.len() + 2,
            Value::TooDeep(raw) => raw.len(),
            Value::Lazy(l) => l.raw.len(),
            Value::Array(items) => 2 + items.iter().map(|v| v.size_hint() + 1).sum::<usize>(),
            Value::Object(members) => {
                2 + members
                    .iter()
                    .map(|(k, v)| k.len() + 4 + v.size_hint())
                    .sum::<usize>()
            }
        }
    }

    /// The member `key` of an object (the last one when the key repeats).
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self.resolved() {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// This value, with a lazy container built (one level).
    pub fn resolved(&self) -> &Value<'a> {
        match self {
            Value::Lazy(l) => l.value(),
            v => v,
        }
    }

    /// This value by value, with a lazy container built (one level).
    pub fn into_resolved(self) -> Value<'a> {
        match self {
            Value::Lazy(l) => l.into_value(),
            v => v,
        }
    }

    /// This value in place, with a lazy container built (one level), for editing its members.
    pub fn resolve_in_place(&mut self) -> &mut Value<'a> {
        if matches!(self, Value::Lazy(_)) {
            *self = std::mem::replace(self, Value::Null).into_resolved();
        }
        self
    }

    /// Whether this is an object (a lazy one included, without building it).
    pub fn is_object(&self) -> bool {
        match self {
            Value::Object(_) => true,
            Value::Lazy(l) => l.raw.starts_with('{'),
            _ => false,
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value with every borrowed part copied, so that it outlives the text it came from.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Number(n) => Value::Number(Cow::Owned(n.into_owned())),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_owned).collect()),
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
            Value::TooDeep(raw) => Value::TooDeep(Cow::Owned(raw.into_owned())),
            Value::Lazy(l) => l.into_value().into_owned(),
        }
    }

    /// Whether this value nests deeper than `limit` levels (a scalar is depth 0, an object or
    /// array holding only scalars is depth 1).
    pub fn deeper_than(&self, limit: usize) -> bool {
        match self {
            Value::Array(items) => limit == 0 || items.iter().any(|v| v.deeper_than(limit - 1)),
            Value::Object(members) => {
                limit == 0 || members.iter().any(|(_, v)| v.deeper_than(limit - 1))
            }
            Value::TooDeep(_) => true,
            Value::Lazy(l) => l.height > limit,
            _ => false,
        }
    }

    /// A short name of the value's JSON type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Lazy(l) if l.raw.starts_with('[') => "an array",
            Value::Object(_) | Value::TooDeep(_) | Value::Lazy(_) => "an object",
        }
    }
}

/// Why a text is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong there.
    pub what: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for ParseError {}

/// Parses one JSON document (surrounding white space allowed, nothing else).
///
/// # Errors
/// [`ParseError`] when the text is not exactly one valid JSON value.
pub fn parse(text: &str) -> Result<Value<'_>, ParseError> {
    parse_with(text, usize::MAX)
}

/// Parses one JSON document, building only its top level: nested containers are validated and
/// kept as [`Value::Lazy`], built when a path steps into them, and written out as they are when
/// their text is already compact. What the handler parses payloads with.
///
/// # Errors
/// [`ParseError`] when the text is not exactly one valid JSON value.
///
/// Batches are built down to their events: for a top-level array the elements' top level is
/// built, and for a top-level object the elements of its `batch` array, so that every event is
/// read once and only the containers inside events are lazy.
pub fn parse_lazy(text: &str) -> Result<Value<'_>, ParseError> {
    parse_with(text, LAZY_EVENTS)
}

/// Parses a Lambda envelope: built three levels deep (an SQS event's records and their fields),
/// lazy below (record attributes and the like, which are never looked at).
///
/// # Errors
/// [`ParseError`] when the text is not exactly one valid JSON value.
pub fn parse_envelope(text: &str) -> Result<Value<'_>, ParseError> {
    parse_with(text, 4)
}

/// `lazy_from` for documents that hold events (see [`parse_lazy`]).
const LAZY_EVENTS: usize = 2;

fn parse_with(text: &str, lazy_from: usize) -> Result<Value<'_>, ParseError> {
    let mut p = Parser::new(text, lazy_from);
    p.skip_ws();
    if lazy_from == LAZY_EVENTS && p.peek() == Some(b'[') {
        p.lazy_from = 3;
    }
    let v = p.value(1)?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.err("unexpected text after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Scratch stacks: a container's elements are gathered here and moved into a `Vec` of
    /// exactly their number when it closes, so each container costs one allocation instead of
    /// a growing series of them.
    items: Vec<Value<'a>>,
    members: Vec<(Cow<'a, str>, Value<'a>)>,
    /// Containers at this depth or deeper are kept lazy ([`usize::MAX`]: build everything).
    lazy_from: usize,
    /// The text is known to be valid and canonical (a lazy container being built), so lazy
    /// containers in it are skipped without validation.
    checked: bool,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, lazy_from: usize) -> Parser<'a> {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            items: Vec::new(),
            members: Vec::new(),
            lazy_from,
            checked: false,
        }
    }

    fn err(&self, what: &'static str) -> ParseError {
        ParseError {
            offset: self.pos,
            what,
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Parses the value at `pos`; `depth` is the depth a container starting here would have.
    fn value(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        match self.peek() {
            Some(b'{') | Some(b'[') if depth >= self.lazy_from => {
                let start = self.pos;
                let info = if self.checked {
                    skip_checked(self.bytes, &mut self.pos)
                } else {
                    skip_container(self.bytes, &mut self.pos)?
                };
                Ok(Value::Lazy(Box::new(Lazy {
                    raw: &self.text[start..self.pos],
                    height: info.height,
                    canonical: info.canonical,
                    built: OnceLock::new(),
                })))
            }
            Some(b'{') | Some(b'[') if depth > DEPTH_CAP => {
                let start = self.pos;
                skip_container(self.bytes, &mut self.pos)?;
                Ok(Value::TooDeep(Cow::Borrowed(&self.text[start..self.pos])))
            }
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                skip_number(self.bytes, &mut self.pos)?;
                Ok(Value::Number(Cow::Borrowed(&self.text[start..self.pos])))
            }
            Some(_) => Err(self.err("expected a JSON value")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &'static str, v: Value<'a>) -> Result<Value<'a>, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.err("expected a JSON value"))
        }
    }

    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        let (s, end) = read_string(self.text, self.pos)?;
        self.pos = end;
        Ok(s)
    }

    fn array(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(Vec::new()));
        }
        let base = self.items.len();
        loop {
            self.skip_ws();
            let v = self.value(depth + 1)?;
            self.items.push(v);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(self.items.drain(base..).collect()));
                }
                _ => return Err(self.err("expected ',' or ']' in an array")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(Vec::new()));
        }
        let base = self.members.len();
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key in an object"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':' after an object key"));
            }
            self.pos += 1;
            self.skip_ws();
            let v = if depth == 1 && self.lazy_from == LAZY_EVENTS && key == "batch" {
                // A batch object: build its array and the top level of each event in it.
                self.lazy_from = 4;
                let v = self.value(depth + 1);
                self.lazy_from = LAZY_EVENTS;
                v?
            } else {
                self.value(depth + 1)?
            };
            self.members.push((key, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(self.members.drain(base..).collect()));
                }
                _ => return Err(self.err("expected ',' or '}' in an object")),
            }
        }
    }
}

/// A cursor over JSON text, for readers of one known shape written by hand (the SQS event's
/// records): white space is skipped before every token, strings are read with the parser's own
/// unescaping, and any other value is validated and skipped without being built.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    /// Where escaped strings are unescaped before being copied out at their size.
    scratch: Vec<u8>,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `text`.
    pub fn new(text: &'a str) -> Cursor<'a> {
        Cursor {
            text,
            pos: 0,
            scratch: Vec::new(),
        }
    }

    /// The next byte after white space, not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        skip_ws_at(self.text.as_bytes(), &mut self.pos);
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Consumes `c` if it comes next (after white space).
    pub fn eat(&mut self, c: u8) -> bool {
        let next = self.peek() == Some(c);
        self.pos += usize::from(next);
        next
    }

    /// Consumes `null` if it comes next.
    pub fn eat_null(&mut self) -> bool {
        let null =
            self.peek() == Some(b'n') && self.text.as_bytes()[self.pos..].starts_with(b"null");
        if null {
            self.pos += 4;
        }
        null
    }

    /// The string that comes next, unescaped; `None` if something else does or it is invalid.
    pub fn string(&mut self) -> Option<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let (s, end) = read_string_with(self.text, self.pos, &mut self.scratch).ok()?;
        self.pos = end;
        Some(s)
    }

    /// Validates and skips the value that comes next; returns its text.
    pub fn skip_value(&mut self) -> Option<&'a str> {
        self.peek()?;
        let start = self.pos;
        // `skip_container` validates a scalar as well as a container.
        skip_container(self.text.as_bytes(), &mut self.pos).ok()?;
        Some(&self.text[start..self.pos])
    }

    /// Reads the object that comes next: `member` is called with each key (unescaped) and the
    /// cursor at its value, which it must consume. `None` if the text is not an object or
    /// `member` gives up.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<()> {
        if !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            member(self, key)?;
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// Reads the array that comes next: `element` is called with the cursor at each element,
    /// which it must consume. `None` if the text is not an array or `element` gives up.
    pub fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if !self.eat(b'[') {
            return None;
        }
        if self.eat(b']') {
            return Some(());
        }
        loop {
            element(self)?;
            if self.eat(b']') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// Whether only white space is left.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }
}

/// A JSON number's text in its parts, as [`scan_number`] finds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberText<'a> {
    /// A leading `-`.
    pub negative: bool,
    /// The integer digits.
    pub int: &'a [u8],
    /// The fraction digits; empty without a point.
    pub frac: &'a [u8],
    /// A `-` after the `e`.
    pub exp_negative: bool,
    /// The exponent digits; empty without an exponent.
    pub exp: &'a [u8],
    /// How many bytes the number takes.
    pub len: usize,
}

/// Why a number breaks JSON's grammar: what, and the offset from the number's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberError {
    /// Where, from the number's first byte.
    pub offset: usize,
    /// What is wrong, for people.
    pub what: &'static str,
}

/// Reads the JSON number at the start of `b` (JSON's grammar exactly, longest match): the one
/// number scanner, used by both parsers here and by the subscription language's exact decimals.
///
/// # Errors
/// [`NumberError`] when the text there is not a number, or is one with a leading zero followed
/// by digits (`01`), which JSON does not allow.
pub fn scan_number(b: &[u8]) -> Result<NumberText<'_>, NumberError> {
    let err = |offset: usize, what: &'static str| NumberError { offset, what };
    let digits_from = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let negative = b.first() == Some(&b'-');
    let int_start = usize::from(negative);
    let mut i = match b.get(int_start) {
        Some(b'0') => int_start + 1,
        Some(b'1'..=b'9') => digits_from(int_start),
        _ => return Err(err(int_start, "\"-\" must be followed by a digit")),
    };
    if b.get(i).is_some_and(u8::is_ascii_digit) {
        return Err(err(i, "a leading 0 cannot be followed by more digits"));
    }
    let int = &b[int_start..i];
    let mut frac: &[u8] = &[];
    if b.get(i) == Some(&b'.') {
        let end = digits_from(i + 1);
        if end == i + 1 {
            return Err(err(end, "\".\" must be followed by digits"));
        }
        frac = &b[i + 1..end];
        i = end;
    }
    let (mut exp_negative, mut exp): (bool, &[u8]) = (false, &[]);
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        exp_negative = b.get(i) == Some(&b'-');
        if let Some(b'-' | b'+') = b.get(i) {
            i += 1;
        }
        let end = digits_from(i);
        if end == i {
            return Err(err(end, "the exponent needs digits"));
        }
        exp = &b[i..end];
        i = end;
    }
    Ok(NumberText {
        negative,
        int,
        frac,
        exp_negative,
        exp,
        len: i,
    })
}

/// [`scan_number`] for the parsers: the number at `*pos`, leaving `*pos` after it.
fn skip_number(b: &[u8], pos: &mut usize) -> Result<(), ParseError> {
    let at = *pos;
    let number = scan_number(&b[at..]).map_err(|e| ParseError {
        offset: at + e.offset,
        what: "invalid number",
    })?;
    *pos += number.len;
    Ok(())
}

/// Reads the JSON string whose opening quote is at `start`; returns it unescaped and the offset
/// just after its closing quote.
///
/// Quotes, backslashes and control characters are found eight bytes at a time ([`special`]),
/// which suits both the short strings of an event and the escape-dense body of an SQS message
/// (a JSON document inside a string escapes every quote: a backslash every ten bytes or so).
fn read_string(text: &str, start: usize) -> Result<(Cow<'_, str>, usize), ParseError> {
    let mut out = Vec::new();
    match unescape(text.as_bytes(), start, &mut out)? {
        (end, false) => Ok((Cow::Borrowed(&text[start + 1..end - 1]), end)),
        (end, true) => {
            let s = String::from_utf8(out).map_err(|_| invalid_utf8(start))?;
            Ok((Cow::Owned(s), end))
        }
    }
}

/// [`read_string`], unescaping into `scratch` and copying the result out at exactly its size:
/// what a reader of many escaped strings uses (the SQS bodies), so that neither the growth of
/// a buffer nor its slack is paid per string.
fn read_string_with<'t>(
    text: &'t str,
    start: usize,
    scratch: &mut Vec<u8>,
) -> Result<(Cow<'t, str>, usize), ParseError> {
    scratch.clear();
    match unescape(text.as_bytes(), start, scratch)? {
        (end, false) => Ok((Cow::Borrowed(&text[start + 1..end - 1]), end)),
        (end, true) => {
            let s = std::str::from_utf8(scratch).map_err(|_| invalid_utf8(start))?;
            Ok((Cow::Owned(s.to_owned()), end))
        }
    }
}

fn invalid_utf8(offset: usize) -> ParseError {
    ParseError {
        offset,
        what: "invalid UTF-8",
    }
}

/// Reads the JSON string whose opening quote is at `start`; returns the offset just after its
/// closing quote and whether it had escapes. A string without leaves `out` alone (its text is
/// the input's); one with escapes is appended to `out` unescaped.
///
/// Bytes, not a `String`: a run is appended eight bytes at a time and cut back, which a
/// `String` would check for character boundaries at every step. Only whole runs between ASCII
/// bytes and whole decoded characters stay, so the bytes are UTF-8 (the callers check once).
fn unescape(b: &[u8], start: usize, out: &mut Vec<u8>) -> Result<(usize, bool), ParseError> {
    let err = |offset: usize, what: &'static str| ParseError { offset, what };
    let mut pos = next_special(b, start + 1);
    // Fast path: no escapes.
    match b.get(pos) {
        Some(b'"') => return Ok((pos + 1, false)),
        Some(b'\\') => {}
        Some(_) => return Err(err(pos, "control character in a string")),
        None => return Err(err(pos, "unterminated string")),
    }
    out.extend_from_slice(&b[start + 1..pos]);
    loop {
        // Here b[pos] is a backslash.
        match b.get(pos + 1) {
            Some(&c @ (b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't')) => {
                out.push(match c {
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    other => other,
                });
                pos += 2;
            }
            Some(b'u') => {
                let (c, next) = read_unicode_escape(b, pos)?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                pos = next;
            }
            _ => return Err(err(pos, "invalid escape in a string")),
        }
        pos = copy_run(b, pos, out);
        match b.get(pos) {
            Some(b'"') => return Ok((pos + 1, true)),
            Some(b'\\') => {}
            Some(_) => return Err(err(pos, "control character in a string")),
            None => return Err(err(pos, "unterminated string")),
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The bytes of `w` (little-endian) that are a quote, a backslash or a control character, as
/// their high bits, by the usual has-zero-byte trick: the lowest flagged byte is exact (the ones
/// above it may not be), and only that one is used.
fn special(w: u64) -> u64 {
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    zero_byte(w ^ (ONES * u64::from(b'"')))
        | zero_byte(w ^ (ONES * u64::from(b'\\')))
        | (w.wrapping_sub(ONES * 0x20) & !w & HIGH)
}

fn word_at(b: &[u8], pos: usize) -> Option<u64> {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(b.get(pos..pos + 8)?);
    Some(u64::from_le_bytes(bytes))
}

/// The offset of the first quote, backslash or control character at or after `pos`
/// (`b.len()` if none), eight bytes per step.
fn next_special(b: &[u8], mut pos: usize) -> usize {
    while let Some(w) = word_at(b, pos) {
        let flagged = special(w);
        if flagged != 0 {
            return pos + (flagged.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&c) = b.get(pos) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        pos += 1;
    }
    pos
}

/// [`next_special`], appending the bytes passed over to `out` and decoding the two escapes a
/// JSON document inside a string is made of (`\"` and `\\`) on the way: each word is appended
/// whole and cut back to its first special byte, so that a short run costs one store, not a
/// copy call, and an escaped quote costs no trip out of the loop. Stops at anything else (the
/// closing quote, another escape, a control character) and returns its offset.
fn copy_run(b: &[u8], mut pos: usize, out: &mut Vec<u8>) -> usize {
    while let Some(w) = word_at(b, pos) {
        out.extend_from_slice(&w.to_le_bytes());
        let flagged = special(w);
        if flagged == 0 {
            pos += 8;
            continue;
        }
        let k = (flagged.trailing_zeros() / 8) as usize;
        pos += k;
        let kept = out.len() - 8 + k;
        match (b[pos], b.get(pos + 1)) {
            (b'\\', Some(&c @ (b'"' | b'\\'))) => {
                // `kept` is inside the word just appended.
                out[kept] = c;
                out.truncate(kept + 1);
                pos += 2;
            }
            _ => {
                out.truncate(kept);
                return pos;
            }
        }
    }
    let end = next_special(b, pos);
    out.extend_from_slice(&b[pos..end]);
    end
}

/// Decodes `\uXXXX` (and a following low surrogate) at `pos`; returns the character and the
/// offset after the escape(s). A lone surrogate is an error: it cannot be written as UTF-8.
fn read_unicode_escape(b: &[u8], pos: usize) -> Result<(char, usize), ParseError> {
    let hex4 = |at: usize| -> Result<u32, ParseError> {
        let err = ParseError {
            offset: at,
            what: "invalid \\u escape",
        };
        let digits = b.get(at..at + 4).ok_or(err.clone())?;
        let mut n = 0u32;
        for &d in digits {
            n = n * 16 + (d as char).to_digit(16).ok_or(err.clone())?;
        }
        Ok(n)
    };
    let hi = hex4(pos + 2)?;
    let lone = ParseError {
        offset: pos,
        what: "lone surrogate in a \\u escape",
    };
    match hi {
        0xD800..=0xDBFF => {
            if b.get(pos + 6) != Some(&b'\\') || b.get(pos + 7) != Some(&b'u') {
                return Err(lone);
            }
            let lo = hex4(pos + 8)?;
            if !(0xDC00..=0xDFFF).contains(&lo) {
                return Err(lone);
            }
            let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
            Ok((char::from_u32(c).ok_or(lone)?, pos + 12))
        }
        0xDC00..=0xDFFF => Err(lone),
        _ => Ok((char::from_u32(hi).ok_or(lone)?, pos + 6)),
    }
}

/// What validating a container without building it found out.
#[derive(Debug, Clone, Copy)]
struct Skipped {
    /// Nesting depth: 1 for a container holding only scalars.
    height: usize,
    /// Whether its text already is the compact form of 3.2 (no white space, only the short
    /// escapes), so that it can be written out as it is.
    canonical: bool,
}

/// The open containers of [`skip_container`]: the first 64 levels on the stack, deeper ones on
/// the heap, so that the usual shallow container costs no allocation.
struct Opened {
    inline: [u8; 64],
    len: usize,
    spill: Vec<u8>,
}

impl Opened {
    fn push(&mut self, close: u8) {
        if self.len < self.inline.len() {
            self.inline[self.len] = close;
        } else {
            self.spill.push(close);
        }
        self.len += 1;
    }

    fn pop(&mut self) {
        if self.len > self.inline.len() {
            self.spill.pop();
        }
        self.len = self.len.saturating_sub(1);
    }

    fn last(&self) -> Option<u8> {
        match self.len {
            0 => None,
            n if n <= self.inline.len() => Some(self.inline[n - 1]),
            _ => self.spill.last().copied(),
        }
    }
}

/// Validates the container starting at `*pos` without recursion and leaves `*pos` after it.
fn skip_container(b: &[u8], pos: &mut usize) -> Result<Skipped, ParseError> {
    let mut stack = Opened {
        inline: [0; 64],
        len: 0,
        spill: Vec::new(),
    };
    let mut info = Skipped {
        height: 0,
        canonical: true,
    };
    let err = |at: usize, what: &'static str| ParseError { offset: at, what };
    // `expect_value`: a value must come next (after '[', ',' or ':').
    let mut expect_value = true;
    loop {
        if let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(*pos) {
            info.canonical = false;
            skip_ws_at(b, pos);
        }
        let Some(&c) = b.get(*pos) else {
            return Err(err(*pos, "unexpected end of input"));
        };
        if expect_value {
            match c {
                b'[' | b'{' => {
                    stack.push(if c == b'[' { b']' } else { b'}' });
                    info.height = info.height.max(stack.len);
                    *pos += 1;
                    if let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(*pos) {
                        info.canonical = false;
                        skip_ws_at(b, pos);
                    }
                    match (c, b.get(*pos)) {
                        (b'[', Some(b']')) | (b'{', Some(b'}')) => {
                            *pos += 1;
                            stack.pop();
                            expect_value = false;
                        }
                        (b'[', _) => {}
                        (_, Some(b'"')) => info.canonical &= skip_key(b, pos)?,
                        _ => return Err(err(*pos, "expected a string key in an object")),
                    }
                }
                b'"' => {
                    info.canonical &= skip_string(b, pos)?;
                    expect_value = false;
                }
                b't' | b'f' | b'n' => {
                    let word: &[u8] = match c {
                        b't' => b"true",
                        b'f' => b"false",
                        _ => b"null",
                    };
                    if !b[*pos..].starts_with(word) {
                        return Err(err(*pos, "expected a JSON value"));
                    }
                    *pos += word.len();
                    expect_value = false;
                }
                b'-' | b'0'..=b'9' => {
                    skip_number(b, pos)?;
                    expect_value = false;
                }
                _ => return Err(err(*pos, "expected a JSON value")),
            }
        } else {
            let Some(close) = stack.last() else {
                return Ok(info);
            };
            match c {
                b',' => {
                    *pos += 1;
                    if close == b'}' {
                        if let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(*pos) {
                            info.canonical = false;
                            skip_ws_at(b, pos);
                        }
                        if b.get(*pos) != Some(&b'"') {
                            return Err(err(*pos, "expected a string key in an object"));
                        }
                        info.canonical &= skip_key(b, pos)?;
                    }
                    expect_value = true;
                }
                _ if c == close => {
                    *pos += 1;
                    stack.pop();
                }
                _ => return Err(err(*pos, "expected ',' or the end of a container")),
            }
        }
        if !expect_value && stack.len == 0 {
            return Ok(info);
        }
    }
}

/// Skips the container at `*pos` in text already validated and canonical (see
/// [`build_level`]): brackets are counted outside strings, strings are jumped over, nothing is
/// checked. Leaves `*pos` after it; returns what [`skip_container`] would.
fn skip_checked(b: &[u8], pos: &mut usize) -> Skipped {
    let (mut depth, mut height) = (0usize, 0usize);
    let mut p = *pos;
    while let Some(&c) = b.get(p) {
        p += 1;
        match c {
            b'"' => loop {
                p = next_special(b, p);
                match b.get(p) {
                    Some(b'\\') => p += 2,
                    Some(b'"') => {
                        p += 1;
                        break;
                    }
                    Some(_) => p += 1,
                    None => break,
                }
            },
            b'{' | b'[' => {
                depth += 1;
                height = height.max(depth);
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
    }
    *pos = p;
    Skipped {
        height,
        canonical: true,
    }
}

fn skip_ws_at(b: &[u8], pos: &mut usize) {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(*pos) {
        *pos += 1;
    }
}

/// Skips `"key" :` in an object being validated; returns whether it was written canonically.
fn skip_key(b: &[u8], pos: &mut usize) -> Result<bool, ParseError> {
    let mut canonical = skip_string(b, pos)?;
    if let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(*pos) {
        canonical = false;
        skip_ws_at(b, pos);
    }
    if b.get(*pos) != Some(&b':') {
        return Err(ParseError {
            offset: *pos,
            what: "expected ':' after an object key",
        });
    }
    *pos += 1;
    if let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(*pos) {
        canonical = false;
    }
    Ok(canonical)
}

/// Validates the string at `*pos` (escapes included) and leaves `*pos` after it; returns
/// whether it uses only the escapes that the compact form writes (`\"` `\\` `\b` `\f` `\n`
/// `\r` `\t`), so that it can be copied as it is.
fn skip_string(b: &[u8], pos: &mut usize) -> Result<bool, ParseError> {
    let mut p = *pos + 1;
    let mut canonical = true;
    loop {
        p = next_special(b, p);
        match b.get(p) {
            Some(b'"') => {
                *pos = p + 1;
                return Ok(canonical);
            }
            Some(b'\\') => {}
            Some(_) => {
                return Err(ParseError {
                    offset: p,
                    what: "control character in a string",
                })
            }
            None => {
                return Err(ParseError {
                    offset: b.len(),
                    what: "unterminated string",
                })
            }
        }
        match b.get(p + 1) {
            Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => p += 2,
            Some(b'/') => {
                canonical = false;
                p += 2;
            }
            Some(b'u') => {
                canonical = false;
                p = read_unicode_escape(b, p)?.1;
            }
            _ => {
                return Err(ParseError {
                    offset: p,
                    what: "invalid escape in a string",
                })
            }
        }
    }
}

/// Appends `s` as a JSON string literal in the spec's compact form (3.2).
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let b = s.as_bytes();
    let mut run = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &str = match c {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(c >> 4) as usize] as char);
            out.push(HEX[(c & 0xf) as usize] as char);
        } else {
            out.push_str(esc);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Appends `v` as the spec's compact JSON (3.2): no white space, keys in input order, numbers as
/// written, non-ASCII as itself.
pub fn write_compact(v: &Value<'_>, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(n),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_compact(item, out);
            }
            out.push('}');
        }
        Value::TooDeep(raw) => minify_raw(raw, out),
        Value::Lazy(l) if l.canonical => out.push_str(l.raw),
        Value::Lazy(l) => minify_raw(l.raw, out),
    }
}

/// Appends already-validated JSON text in the compact form, without recursion: white space
/// outside strings goes, strings are re-escaped as [`write_string`] does.
fn minify_raw(raw: &str, out: &mut String) {
    let b = raw.as_bytes();
    let mut pos = 0;
    while pos < b.len() {
        match b[pos] {
            b' ' | b'\t' | b'\n' | b'\r' => pos += 1,
            b'"' => match read_string(raw, pos) {
                Ok((s, end)) => {
                    write_string(&s, out);
                    pos = end;
                }
                Err(_) => {
                    // Validated text never gets here; keep the rest as it is rather than lose it.
                    out.push_str(&raw[pos..]);
                    return;
                }
            },
            _ => {
                let start = pos;
                while pos < b.len() && !matches!(b[pos], b' ' | b'\t' | b'\n' | b'\r' | b'"') {
                    pos += 1;
                }
                out.push_str(&raw[start..pos]);
            }
        }
    }
}

/// `v` as compact JSON text.
pub fn to_compact(v: &Value<'_>) -> String {
    let mut s = String::new();
    write_compact(v, &mut s);
    s
}

/// `v` as indented JSON (two spaces), for people to read; same escaping as [`write_compact`].
pub fn to_pretty(v: &Value<'_>) -> String {
    fn go(v: &Value<'_>, indent: usize, out: &mut String) {
        let pad = |out: &mut String, n: usize| {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', n * 2));
        };
        match v {
            Value::Array(items) if !items.is_empty() => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, indent + 1);
                    go(item, indent + 1, out);
                }
                pad(out, indent);
                out.push(']');
            }
            Value::Object(members) if !members.is_empty() => {
                out.push('{');
                for (i, (k, item)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, indent + 1);
                    write_string(k, out);
                    out.push_str(": ");
                    go(item, indent + 1, out);
                }
                pad(out, indent);
                out.push('}');
            }
            _ => write_compact(v, out),
        }
    }
    let mut out = String::new();
    go(v, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(text: &str) -> String {
        to_compact(&parse(text).unwrap())
    }

    /// The eight-byte scanner at every alignment: each kind of special byte (and a character
    /// of two or four bytes) after 0 to 19 plain ones, in a plain string, an escaped one and a
    /// string inside a string (an SQS body), read, skipped and copied as serde_json reads them.
    #[test]
    fn strings_read_alike_at_every_offset() {
        let tails = [
            "\"", "\\\\", "\\\"", "\\n", "\\u00e9", "é", "😀", "\\/", "\u{1}", "\n",
        ];
        for n in 0..20 {
            for tail in tails {
                for after in ["", "x", "abcdefghij"] {
                    let inner = format!("{}{tail}{after}", "a".repeat(n));
                    let text = format!("[\"{inner}\", {{\"k\": [\"{inner}\"]}}]");
                    let theirs = serde_json::from_str::<serde_json::Value>(&text);
                    let ours = parse(&text);
                    assert_eq!(ours.is_ok(), theirs.is_ok(), "{text:?}");
                    assert_eq!(parse_lazy(&text).is_ok(), theirs.is_ok(), "{text:?}");
                    if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
                        let again: serde_json::Value =
                            serde_json::from_str(&to_compact(&ours)).unwrap();
                        assert_eq!(again, theirs, "{text:?}");
                        // The same document as the body of an SQS message.
                        let body = serde_json::to_string(&text).unwrap();
                        let cursor = Cursor::new(&body).string().expect("body");
                        assert_eq!(cursor, text, "{body:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn keeps_number_text_and_key_order() {
        assert_eq!(
            roundtrip(r#"{ "b": 12.50, "a": [1e3, -0, 12345678901234567890, 1.0E+2, -1.5e-7] }"#),
            r#"{"b":12.50,"a":[1e3,-0,12345678901234567890,1.0E+2,-1.5e-7]}"#
        );
    }

    #[test]
    fn escapes_only_quote_backslash_and_controls() {
        assert_eq!(
            roundtrip(
                r#"["\u00e9\/\u2028\u007f", "\"\\\b\f\n\r\t\u0001\u001F", "😀\ud83d\ude00"]"#
            ),
            "[\"é/\u{2028}\u{7f}\",\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\",\"😀😀\"]"
        );
    }

    #[test]
    fn rejects_invalid_documents() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            "-",
            "1e",
            "\"\\x\"",
            "\"\u{1}\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "tru",
            "[1] 2",
            "{'a':1}",
            "NaN",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn deep_documents_are_kept_raw_without_recursion() {
        let depth = 100_000;
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let v = parse(&text).unwrap();
        assert!(v.deeper_than(128));
        assert_eq!(to_compact(&v), text);
    }

    #[test]
    fn deep_invalid_documents_are_refused() {
        let text = format!("{}1 2{}", "[".repeat(500), "]".repeat(500));
        assert!(parse(&text).is_err());
        let text = format!("{}{}", "{\"a\":".repeat(500), "}".repeat(499));
        assert!(parse(&text).is_err());
    }

    #[test]
    fn too_deep_subtrees_minify_canonically() {
        let inner = format!("{}{}", "[ ".repeat(200), " ]".repeat(200));
        let text = format!("{{\"k\": [ {inner}, {{ \"s\" : \"\\u00e9\\n\" }} ]}}");
        let v = parse(&text).unwrap();
        let expected = format!(
            "{{\"k\":[{}{},{{\"s\":\"é\\n\"}}]}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(to_compact(&v), expected);
    }

    #[test]
    fn depth_is_counted_from_one_for_a_container() {
        let v = parse("{\"a\":{\"b\":[1]}}").unwrap();
        assert!(!v.deeper_than(3));
        assert!(v.deeper_than(2));
        assert!(!parse("1").unwrap().deeper_than(0));
    }

    #[test]
    fn lazy_containers_are_built_on_use_and_copied_when_compact() {
        let text = r#"{"a":{"b":[1,{"c":"x"}]},"s":{ "k" : "\u00e9" },"t":{"q":"\"\n"}}"#;
        let v = parse_lazy(text).unwrap();
        assert!(matches!(v.get("a"), Some(Value::Lazy(_))));
        let c = v.get("a").and_then(|a| a.get("b"));
        assert!(matches!(c.map(Value::resolved), Some(Value::Array(items)) if items.len() == 2));
        // Compact text is copied; the rest is re-written in the compact form.
        assert_eq!(
            to_compact(&v),
            r#"{"a":{"b":[1,{"c":"x"}]},"s":{"k":"é"},"t":{"q":"\"\n"}}"#
        );
        assert_eq!(to_compact(&v), to_compact(&parse(text).unwrap()));
    }

    #[test]
    fn lazy_parsing_checks_validity_and_depth_without_recursion() {
        assert!(parse_lazy(r#"{"a":{"b":[1,]}}"#).is_err());
        assert!(parse_lazy(r#"{"a":{"b":"\x"}}"#).is_err());
        let depth = 100_000;
        let text = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        let v = parse_lazy(&text).unwrap();
        assert!(v.deeper_than(128));
        assert!(!parse_lazy(r#"{"a":[[1]]}"#).unwrap().deeper_than(3));
        assert!(parse_lazy(r#"{"a":[[1]]}"#).unwrap().deeper_than(2));
        assert_eq!(to_compact(&v), text);
    }

    #[test]
    fn lookups_take_the_last_repeated_key() {
        let v = parse(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(v.get("a"), Some(&Value::Number("2".into())));
    }

    #[test]
    fn one_number_scanner_for_json_and_the_decimals() {
        let n = scan_number(b"-12.50e+3,").unwrap();
        assert!(n.negative && !n.exp_negative);
        assert_eq!(
            (n.int, n.frac, n.exp, n.len),
            (&b"12"[..], &b"50"[..], &b"3"[..], 9)
        );
        let n = scan_number(b"0E-7").unwrap();
        assert!(n.exp_negative);
        assert_eq!(
            (n.int, n.frac, n.exp, n.len),
            (&b"0"[..], &b""[..], &b"7"[..], 4)
        );
        for (text, offset, what) in [
            ("-", 1, "\"-\" must be followed by a digit"),
            ("01", 1, "a leading 0 cannot be followed by more digits"),
            ("1.", 2, "\".\" must be followed by digits"),
            ("1e+", 3, "the exponent needs digits"),
        ] {
            assert_eq!(
                scan_number(text.as_bytes()),
                Err(NumberError { offset, what }),
                "{text}"
            );
        }
        // The parsers report the byte where the grammar broke.
        for parse in [parse, parse_lazy] {
            let e = parse(r#"{"a": 01}"#).unwrap_err();
            assert_eq!((e.offset, e.what), (7, "invalid number"));
        }
    }
}
