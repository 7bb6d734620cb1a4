//! Subscriptions: the subset of Segment's FQL that decides which events a mapping takes.
//!
//! SPEC 3.3 gives the grammar and SPEC 9 settles the details: numbers follow JSON's grammar and
//! compare as exact decimals (never through `f64`), only `\"` and `\\` are string escapes, and `?`
//! in `match` is one Unicode character. [`Subscription::parse`] compiles the text once, at init,
//! and reports the first problem with its character position so a user can fix the config;
//! [`Subscription::matches`] then evaluates the compiled tree against each event.
//! The language follows Segment's FQL: <https://segment.com/docs/api/public-api/fql/>.
//!
//! This module must stay pure (no I/O, no logging: event values are never printed) and must not
//! be driven into unbounded work by hostile text: nesting of `(` and `!` is capped at 64 levels
//! (`MAX_NESTING`) so that neither parsing nor evaluation recurses without bound, glob matching is
//! the two-pointer algorithm (O(pattern × text), never exponential backtracking), and number
//! comparison never expands an exponent into digits.

use std::cmp::Ordering;
use std::fmt;

use crate::json::Value;

/// The deepest nesting of `(` and `!` a subscription may use.
const MAX_NESTING: usize = 64;

/// Written exponents are clamped to this magnitude, so that `1e999999999999999999999` neither
/// overflows nor allocates. Only numbers whose exponents both exceed it can compare wrongly.
const EXPONENT_CAP: i128 = 1_000_000_000_000_000_000_000_000_000_000;

/// Words that cannot start a path: they are operators or literals.
const RESERVED: [&str; 5] = ["and", "or", "true", "false", "null"];

/// Every keyword, for the "keywords are lower case" hint.
const KEYWORDS: [&str; 7] = ["and", "or", "true", "false", "null", "match", "contains"];

/// What `(`, `!` or a call may be followed by, for error messages.
const CONDITION: &str = "a path, \"(\", \"!\", match(...) or contains(...)";

/// A compiled subscription (Segment FQL subset).
#[derive(Debug, Clone)]
pub struct Subscription {
    /// `None` for an empty subscription, which takes every event.
    root: Option<Node>,
}

impl Subscription {
    /// Parses; empty or all-whitespace text takes every event.
    ///
    /// # Errors
    /// [`SubscriptionError`] with the character position of the first problem when the text does
    /// not follow the grammar of SPEC 3.3 or nests `(` and `!` more than 64 levels deep.
    pub fn parse(text: &str) -> Result<Subscription, SubscriptionError> {
        let mut parser = Parser::new(text);
        if parser.peek()?.tok == Tok::End {
            return Ok(Subscription { root: None });
        }
        let root = parser.expr(0, "")?;
        let last = parser.next()?;
        match last.tok {
            Tok::End => Ok(Subscription { root: Some(root) }),
            Tok::RParen => Err(SubscriptionError::at(
                last.start,
                "found \")\" without a \"(\" to close",
            )),
            _ => Err(unexpected(
                &last,
                "expected \"and\", \"or\" or the end of the subscription",
            )),
        }
    }

    /// Whether the event (a JSON object Value) is taken.
    pub fn matches(&self, event: &Value<'_>) -> bool {
        self.root.as_ref().is_none_or(|node| node.eval(event))
    }
}

/// A parse error: the 0-based character position (column) of the problem, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionError {
    /// 0-based position, in characters (not bytes), of the problem in the subscription text.
    pub position: usize,
    /// What was expected and what was found there.
    pub message: String,
}

impl SubscriptionError {
    fn at(position: usize, message: impl Into<String>) -> SubscriptionError {
        SubscriptionError {
            position,
            message: message.into(),
        }
    }
}

impl fmt::Display for SubscriptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at position {}: {}", self.position, self.message)
    }
}

impl std::error::Error for SubscriptionError {}

/// Compares two JSON number texts (JSON grammar) as exact decimals, not `f64`.
///
/// Returns `None` if either is not valid JSON-number text. Written exponents beyond ±10^30 are
/// clamped, so only numbers whose exponents both exceed that can compare wrongly.
pub fn compare_numbers(a: &str, b: &str) -> Option<Ordering> {
    Some(Decimal::parse(a)?.cmp(&Decimal::parse(b)?))
}

// ---------------------------------------------------------------------------------------------
// The compiled tree and its evaluation

/// One node of a compiled subscription; `Or` and `And` always hold two or more items.
#[derive(Debug, Clone)]
enum Node {
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    Compare {
        path: Vec<String>,
        op: Op,
        literal: Literal,
    },
    Match {
        path: Vec<String>,
        pattern: Vec<char>,
    },
    Contains {
        path: Vec<String>,
        needle: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    String(String),
    /// Valid JSON-number text, as written.
    Number(String),
    Bool(bool),
    Null,
}

impl Node {
    /// Evaluates the node; recursion depth is bounded by the parser's nesting cap.
    fn eval(&self, event: &Value<'_>) -> bool {
        match self {
            Node::Or(items) => items.iter().any(|item| item.eval(event)),
            Node::And(items) => items.iter().all(|item| item.eval(event)),
            Node::Not(inner) => !inner.eval(event),
            Node::Compare { path, op, literal } => compare(lookup(event, path), *op, literal),
            Node::Match { path, pattern } => {
                matches!(lookup(event, path), Some(Value::String(s)) if glob(pattern, s))
            }
            Node::Contains { path, needle } => {
                matches!(lookup(event, path), Some(Value::String(s)) if s.contains(needle.as_str()))
            }
        }
    }
}

/// Steps from the event into object members, one name at a time; `None` when any step is missing
/// or lands on something other than an object.
fn lookup<'v, 'a>(event: &'v Value<'a>, path: &[String]) -> Option<&'v Value<'a>> {
    path.iter().try_fold(event, |value, name| value.get(name))
}

fn compare(value: Option<&Value<'_>>, op: Op, literal: &Literal) -> bool {
    match op {
        Op::Eq => equals(value, literal),
        Op::Ne => !equals(value, literal),
        Op::Lt => order(value, literal).is_some_and(Ordering::is_lt),
        Op::Le => order(value, literal).is_some_and(Ordering::is_le),
        Op::Gt => order(value, literal).is_some_and(Ordering::is_gt),
        Op::Ge => order(value, literal).is_some_and(Ordering::is_ge),
    }
}

/// JSON equality against a literal: a missing value is `null`, numbers compare by exact value,
/// and values of different JSON types (objects and arrays included) are never equal.
fn equals(value: Option<&Value<'_>>, literal: &Literal) -> bool {
    match (value, literal) {
        (None | Some(Value::Null), Literal::Null) => true,
        (Some(Value::Bool(a)), Literal::Bool(b)) => a == b,
        (Some(Value::String(a)), Literal::String(b)) => a.as_ref() == b.as_str(),
        (Some(Value::Number(a)), Literal::Number(b)) => {
            compare_numbers(a, b) == Some(Ordering::Equal)
        }
        _ => false,
    }
}

/// The order of a value against a literal, only when both are numbers.
fn order(value: Option<&Value<'_>>, literal: &Literal) -> Option<Ordering> {
    match (value, literal) {
        (Some(Value::Number(a)), Literal::Number(b)) => compare_numbers(a, b),
        _ => None,
    }
}

/// Whole-string glob: `*` matches any run of characters (including none), `?` exactly one
/// character; everything else matches itself.
///
/// The classic two-pointer algorithm: on a mismatch it resumes after the most recent `*`, which
/// then swallows one more character. That is O(pattern × text) at worst, never exponential.
fn glob(pattern: &[char], text: &str) -> bool {
    let mut p = 0; // index into `pattern`
    let mut t = 0; // byte offset into `text`, always on a char boundary
    let mut star: Option<(usize, usize)> = None; // (pattern index after the `*`, text offset)
    while let Some(c) = text[t..].chars().next() {
        match pattern.get(p) {
            Some('*') => {
                p += 1;
                star = Some((p, t));
            }
            Some(&q) if q == '?' || q == c => {
                p += 1;
                t += c.len_utf8();
            }
            _ => {
                let Some((after_star, from)) = star else {
                    return false;
                };
                // Let the last `*` take one more character and retry from there.
                let Some(skipped) = text[from..].chars().next() else {
                    return false;
                };
                p = after_star;
                t = from + skipped.len_utf8();
                star = Some((after_star, t));
            }
        }
    }
    pattern[p..].iter().all(|&q| q == '*')
}

// ---------------------------------------------------------------------------------------------
// Exact decimal comparison

/// The parts of a JSON number text.
struct NumberParts<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
    /// The written exponent, clamped to ±[`EXPONENT_CAP`].
    exponent: i128,
    /// How many bytes of the text the number takes.
    len: usize,
}

/// Reads the JSON number at the start of `text` (longest match), or says what is wrong with it.
fn scan_number(text: &str) -> Result<NumberParts<'_>, &'static str> {
    let b = text.as_bytes();
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
        _ => return Err("\"-\" must be followed by a digit"),
    };
    if b.get(i).is_some_and(u8::is_ascii_digit) {
        return Err("a leading 0 cannot be followed by more digits");
    }
    let int = &b[int_start..i];
    let mut frac: &[u8] = &[];
    if b.get(i) == Some(&b'.') {
        let end = digits_from(i + 1);
        if end == i + 1 {
            return Err("\".\" must be followed by digits");
        }
        frac = &b[i + 1..end];
        i = end;
    }
    let mut exponent: i128 = 0;
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let negative_exponent = b.get(i) == Some(&b'-');
        if let Some(b'-' | b'+') = b.get(i) {
            i += 1;
        }
        let end = digits_from(i);
        if end == i {
            return Err("the exponent needs digits");
        }
        for &d in &b[i..end] {
            exponent = (exponent * 10 + i128::from(d - b'0')).min(EXPONENT_CAP);
        }
        if negative_exponent {
            exponent = -exponent;
        }
        i = end;
    }
    Ok(NumberParts {
        negative,
        int,
        frac,
        exponent,
        len: i,
    })
}

/// A JSON number as `± 0.d₁d₂…dₙ × 10^exponent` with `d₁` and `dₙ` non-zero; zero has no digits.
///
/// The digits stay in the text (`int` followed by `frac`, from `first` to `end`), so comparing
/// costs no allocation however long the number or large its exponent.
struct Decimal<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
    first: usize,
    end: usize,
    exponent: i128,
}

impl<'a> Decimal<'a> {
    fn parse(text: &'a str) -> Option<Decimal<'a>> {
        let NumberParts {
            negative,
            int,
            frac,
            exponent,
            len,
        } = scan_number(text).ok()?;
        if len != text.len() {
            return None;
        }
        let all = || int.iter().chain(frac);
        let total = int.len() + frac.len();
        let first = all().position(|&d| d != b'0').unwrap_or(total);
        let trailing = all().rev().take_while(|&&d| d == b'0').count();
        let end = total.saturating_sub(trailing).max(first);
        // The point sits after `int`; each leading zero dropped moves it one place left. Text
        // lengths are far below the cap, so this cannot overflow an i128.
        let exponent = exponent + int.len() as i128 - first as i128;
        Some(Decimal {
            negative,
            int,
            frac,
            first,
            end,
            exponent,
        })
    }

    fn significant_digits(&self) -> impl Iterator<Item = u8> + '_ {
        self.int
            .iter()
            .chain(self.frac)
            .copied()
            .skip(self.first)
            .take(self.end - self.first)
    }

    fn signum(&self) -> i8 {
        match (self.first == self.end, self.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        }
    }

    fn cmp(&self, other: &Decimal<'_>) -> Ordering {
        let sign = self.signum();
        if sign != other.signum() || sign == 0 {
            return sign.cmp(&other.signum());
        }
        // Both non-zero with the same sign: a larger exponent means a larger magnitude (the
        // first digit is never 0), then the digits decide, a longer run being larger when the
        // shorter is its prefix (no trailing zeros).
        let magnitude = self
            .exponent
            .cmp(&other.exponent)
            .then_with(|| self.significant_digits().cmp(other.significant_digits()));
        if sign < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    /// Valid JSON-number text.
    Num(String),
    LParen,
    RParen,
    Comma,
    Dot,
    Bang,
    Op(Op),
    End,
}

/// A token and the character position where it starts.
#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
}

/// How a token reads in "... but found X".
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Name(n) if KEYWORDS.contains(&n.as_str()) => format!("the keyword {n}"),
        Tok::Name(n) => format!("the name {n}"),
        Tok::Str(s) => format!("the string {}", quote(s)),
        Tok::Num(n) => format!("the number {n}"),
        Tok::LParen => "\"(\"".to_string(),
        Tok::RParen => "\")\"".to_string(),
        Tok::Comma => "\",\"".to_string(),
        Tok::Dot => "\".\"".to_string(),
        Tok::Bang => "\"!\"".to_string(),
        Tok::Op(op) => format!("\"{}\"", op.symbol()),
        Tok::End => "the end of the text".to_string(),
    }
}

/// An error at `token`: "`expected` but found ...", with a hint for upper-case keywords.
fn unexpected(token: &Token, expected: &str) -> SubscriptionError {
    let mut message = match &token.tok {
        Tok::End => format!("{expected} but the text ended"),
        tok => format!("{expected} but found {}", describe(tok)),
    };
    if let Tok::Name(n) = &token.tok {
        let lower = n.to_ascii_lowercase();
        if lower != *n && KEYWORDS.contains(&lower.as_str()) {
            message.push_str(" (keywords are lower case)");
        }
    }
    SubscriptionError::at(token.start, message)
}

/// A string as it would be written in a subscription.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A character for a message: quoted, with control characters escaped.
fn show_char(c: char) -> String {
    if c.is_control() {
        format!("{c:?}")
    } else {
        format!("\"{c}\"")
    }
}

// ---------------------------------------------------------------------------------------------
// Parser

/// A recursive-descent parser over characters that lexes one token ahead, so the first problem
/// in reading order is the one reported.
struct Parser {
    chars: Vec<char>,
    pos: usize,
    peeked: Option<Token>,
}

impl Parser {
    fn new(text: &str) -> Parser {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
            peeked: None,
        }
    }

    fn peek(&mut self) -> Result<&Token, SubscriptionError> {
        let token = match self.peeked.take() {
            Some(token) => token,
            None => self.lex()?,
        };
        Ok(self.peeked.insert(token))
    }

    fn next(&mut self) -> Result<Token, SubscriptionError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lex(),
        }
    }

    /// Consumes the next token when it is the keyword `word`.
    fn eat_keyword(&mut self, word: &str) -> Result<bool, SubscriptionError> {
        let found = matches!(&self.peek()?.tok, Tok::Name(n) if n == word);
        if found {
            self.peeked = None;
        }
        Ok(found)
    }

    /// One level deeper for the `(` or `!` at `position`, or an error past the cap.
    fn deeper(depth: usize, position: usize) -> Result<usize, SubscriptionError> {
        if depth >= MAX_NESTING {
            return Err(SubscriptionError::at(
                position,
                format!("nesting deeper than {MAX_NESTING} levels of \"(\" and \"!\""),
            ));
        }
        Ok(depth + 1)
    }

    /// `expr := and ("or" and)*`; `context` tells what came just before, for error messages.
    fn expr(&mut self, depth: usize, context: &str) -> Result<Node, SubscriptionError> {
        let mut items = vec![self.and(depth, context)?];
        while self.eat_keyword("or")? {
            items.push(self.and(depth, " after \"or\"")?);
        }
        Ok(group(items, Node::Or))
    }

    /// `and := unary ("and" unary)*`.
    fn and(&mut self, depth: usize, context: &str) -> Result<Node, SubscriptionError> {
        let mut items = vec![self.unary(depth, context)?];
        while self.eat_keyword("and")? {
            items.push(self.unary(depth, " after \"and\"")?);
        }
        Ok(group(items, Node::And))
    }

    /// `unary := "!" unary | "(" expr ")" | compare | call`.
    fn unary(&mut self, depth: usize, context: &str) -> Result<Node, SubscriptionError> {
        let token = self.next()?;
        match token.tok {
            Tok::Bang => {
                let depth = Parser::deeper(depth, token.start)?;
                Ok(Node::Not(Box::new(self.unary(depth, " after \"!\"")?)))
            }
            Tok::LParen => {
                let depth = Parser::deeper(depth, token.start)?;
                let inner = self.expr(depth, " after \"(\"")?;
                let close = self.next()?;
                if close.tok != Tok::RParen {
                    return Err(unexpected(
                        &close,
                        &format!(
                            "expected \"and\", \"or\" or \")\" to close the \"(\" at position {}",
                            token.start
                        ),
                    ));
                }
                Ok(inner)
            }
            Tok::Name(name) if !RESERVED.contains(&name.as_str()) => {
                if name == "match" {
                    self.call(true)
                } else if name == "contains" {
                    self.call(false)
                } else {
                    self.comparison(name)
                }
            }
            tok => Err(unexpected(
                &Token {
                    tok,
                    start: token.start,
                },
                &format!("expected {CONDITION}{context}"),
            )),
        }
    }

    /// `compare := path op literal`, the first name of the path already read.
    fn comparison(&mut self, first: String) -> Result<Node, SubscriptionError> {
        let path = self.path_rest(first)?;
        let token = self.next()?;
        let Tok::Op(op) = token.tok else {
            return Err(unexpected(
                &token,
                &format!(
                    "expected a comparison operator (=, !=, <, <=, > or >=) after the path {}",
                    path.join(".")
                ),
            ));
        };
        let token = self.next()?;
        let literal = match token.tok {
            Tok::Str(s) => Literal::String(s),
            Tok::Num(n) => Literal::Number(n),
            Tok::Name(ref n) if n == "true" => Literal::Bool(true),
            Tok::Name(ref n) if n == "false" => Literal::Bool(false),
            Tok::Name(ref n) if n == "null" => Literal::Null,
            _ => {
                let mut err = unexpected(
                    &token,
                    &format!(
                        "expected a value (a \"string\", a number, true, false or null) after \"{}\"",
                        op.symbol()
                    ),
                );
                if let Tok::Name(n) = &token.tok {
                    if !KEYWORDS.contains(&n.to_ascii_lowercase().as_str()) {
                        err.message.push_str(&format!(
                            " (a value is not a path; text is written in double quotes, as in \"{n}\")"
                        ));
                    }
                }
                return Err(err);
            }
        };
        Ok(Node::Compare { path, op, literal })
    }

    /// `call := ("match" | "contains") "(" path "," string ")"`, the name already read.
    fn call(&mut self, is_match: bool) -> Result<Node, SubscriptionError> {
        let name = if is_match { "match" } else { "contains" };
        let open = self.next()?;
        if open.tok != Tok::LParen {
            return Err(unexpected(&open, &format!("expected \"(\" after {name}")));
        }
        let token = self.next()?;
        let Tok::Name(first) = token.tok else {
            return Err(unexpected(
                &token,
                &format!("expected a path as the first argument of {name}(...)"),
            ));
        };
        let path = self.path_rest(first)?;
        let comma = self.next()?;
        if comma.tok != Tok::Comma {
            return Err(unexpected(
                &comma,
                &format!("expected \",\" after the path in {name}(...)"),
            ));
        }
        let token = self.next()?;
        let Tok::Str(text) = token.tok else {
            return Err(unexpected(
                &token,
                &format!("expected a \"string\" as the second argument of {name}(...)"),
            ));
        };
        let close = self.next()?;
        if close.tok != Tok::RParen {
            return Err(unexpected(
                &close,
                &format!("expected \")\" to close {name}(...)"),
            ));
        }
        Ok(if is_match {
            Node::Match {
                path,
                pattern: text.chars().collect(),
            }
        } else {
            Node::Contains { path, needle: text }
        })
    }

    /// `path := name ("." name)*`, the first name already read.
    fn path_rest(&mut self, first: String) -> Result<Vec<String>, SubscriptionError> {
        let mut path = vec![first];
        while self.peek()?.tok == Tok::Dot {
            self.peeked = None;
            let token = self.next()?;
            match token.tok {
                Tok::Name(name) => path.push(name),
                _ => return Err(unexpected(&token, "expected a name after \".\"")),
            }
        }
        Ok(path)
    }

    // -- lexing ---------------------------------------------------------------------------------

    fn char_at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// Reads the token at the current position (after white space) and moves past it.
    fn lex(&mut self) -> Result<Token, SubscriptionError> {
        while self.char_at(self.pos).is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(c) = self.char_at(start) else {
            return Ok(Token {
                tok: Tok::End,
                start,
            });
        };
        let next = self.char_at(start + 1);
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '.' => (Tok::Dot, 1),
            '!' if next == Some('=') => (Tok::Op(Op::Ne), 2),
            '!' => (Tok::Bang, 1),
            '=' if next == Some('=') => {
                return Err(SubscriptionError::at(
                    start,
                    "\"==\" is not an operator; write \"=\" to test equality",
                ))
            }
            '=' => (Tok::Op(Op::Eq), 1),
            '<' if next == Some('=') => (Tok::Op(Op::Le), 2),
            '<' => (Tok::Op(Op::Lt), 1),
            '>' if next == Some('=') => (Tok::Op(Op::Ge), 2),
            '>' => (Tok::Op(Op::Gt), 1),
            '"' => self.string(start)?,
            '\'' => {
                return Err(SubscriptionError::at(
                    start,
                    "found \"'\": strings are written in double quotes",
                ))
            }
            '-' | '0'..='9' => self.number(start)?,
            'A'..='Z' | 'a'..='z' | '_' => {
                let end = (start..self.chars.len())
                    .find(|&i| !matches!(self.chars[i], 'A'..='Z' | 'a'..='z' | '0'..='9' | '_'))
                    .unwrap_or(self.chars.len());
                let name: String = self.chars[start..end].iter().collect();
                (Tok::Name(name), end - start)
            }
            '&' => {
                return Err(SubscriptionError::at(
                    start,
                    "found \"&\": write and to combine conditions",
                ))
            }
            '|' => {
                return Err(SubscriptionError::at(
                    start,
                    "found \"|\": write or to combine conditions",
                ))
            }
            other => {
                return Err(SubscriptionError::at(
                    start,
                    format!("unexpected character {}", show_char(other)),
                ))
            }
        };
        self.pos = start + len;
        Ok(Token { tok, start })
    }

    /// A double-quoted string starting at `start`; returns the token and its length in chars.
    fn string(&self, start: usize) -> Result<(Tok, usize), SubscriptionError> {
        let unclosed = || {
            SubscriptionError::at(
                start,
                "the string that starts here is not closed (a closing \" is missing)",
            )
        };
        let mut out = String::new();
        let mut i = start + 1;
        loop {
            match self.char_at(i) {
                None => return Err(unclosed()),
                Some('"') => return Ok((Tok::Str(out), i + 1 - start)),
                Some('\\') => match self.char_at(i + 1) {
                    Some(c @ ('"' | '\\')) => {
                        out.push(c);
                        i += 2;
                    }
                    Some(c) => {
                        let shown = if c.is_control() {
                            format!("backslash followed by {c:?}")
                        } else {
                            format!("\\{c}")
                        };
                        return Err(SubscriptionError::at(
                            i,
                            format!(
                                "invalid escape {shown} in a string: only \\\" and \\\\ are escapes"
                            ),
                        ));
                    }
                    None => return Err(unclosed()),
                },
                Some(c) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    /// A number starting at `start`, read as JSON reads one (longest match); returns the token
    /// and its length in chars. What follows is left for the next token, so `1and` is `1 and`.
    fn number(&self, start: usize) -> Result<(Tok, usize), SubscriptionError> {
        // Numbers are ASCII, so the run's bytes are its chars.
        let run: String = self.chars[start..]
            .iter()
            .take_while(|c| matches!(c, '0'..='9' | '.' | 'e' | 'E' | '+' | '-'))
            .collect();
        match scan_number(&run) {
            Ok(parts) => Ok((Tok::Num(run[..parts.len].to_string()), parts.len)),
            Err(problem) => Err(SubscriptionError::at(
                start,
                format!("invalid number {run}: {problem} (numbers follow JSON's grammar)"),
            )),
        }
    }
}

/// `items` as one node: the item itself when alone, else `make(items)`.
fn group(mut items: Vec<Node>, make: fn(Vec<Node>) -> Node) -> Node {
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return only;
        }
    }
    make(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn event(text: &str) -> Value<'static> {
        json::parse(text).unwrap().into_owned()
    }

    fn takes(subscription: &str, event_text: &str) -> bool {
        Subscription::parse(subscription)
            .unwrap()
            .matches(&event(event_text))
    }

    fn error(subscription: &str) -> SubscriptionError {
        Subscription::parse(subscription).unwrap_err()
    }

    // -- empty and default subscriptions ------------------------------------------------------

    #[test]
    fn empty_subscription_takes_every_event() {
        for text in ["", "   ", " \t\n "] {
            let sub = Subscription::parse(text).unwrap();
            assert!(sub.matches(&event(r#"{"type":"track"}"#)));
            assert!(sub.matches(&event("{}")));
        }
    }

    #[test]
    fn default_subscription_takes_identify_and_track_only() {
        let sub = r#"type = "identify" or type = "track""#;
        assert!(takes(sub, r#"{"type":"identify"}"#));
        assert!(takes(sub, r#"{"type":"track"}"#));
        assert!(!takes(sub, r#"{"type":"page"}"#));
        assert!(!takes(sub, "{}"));
    }

    // -- precedence and grouping --------------------------------------------------------------

    #[test]
    fn and_binds_tighter_than_or() {
        let sub = r#"type = "track" or type = "identify" and traits.plan = "pro""#;
        // or(track, and(identify, pro)): a track event is taken whatever its plan.
        assert!(takes(sub, r#"{"type":"track","traits":{"plan":"free"}}"#));
        assert!(takes(sub, r#"{"type":"identify","traits":{"plan":"pro"}}"#));
        assert!(!takes(
            sub,
            r#"{"type":"identify","traits":{"plan":"free"}}"#
        ));
    }

    #[test]
    fn and_binds_tighter_than_or_in_the_tree() {
        let sub =
            Subscription::parse(r#"type = "track" or type = "identify" and traits.plan = "pro""#)
                .unwrap();
        let Some(Node::Or(items)) = &sub.root else {
            panic!("expected or at the root: {sub:?}");
        };
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[0], Node::Compare { path, .. } if path == &["type"]));
        assert!(matches!(&items[1], Node::And(inner) if inner.len() == 2));
    }

    #[test]
    fn parentheses_regroup() {
        let sub = r#"(type = "track" or type = "identify") and traits.plan = "pro""#;
        assert!(!takes(sub, r#"{"type":"track","traits":{"plan":"free"}}"#));
        assert!(takes(sub, r#"{"type":"track","traits":{"plan":"pro"}}"#));
        assert!(takes(sub, r#"{"type":"identify","traits":{"plan":"pro"}}"#));
    }

    #[test]
    fn not_binds_tighter_than_and() {
        // and(not(a), b), not not(and(a, b)): with a and b both false it is false.
        let sub = r#"!type = "track" and event = "x""#;
        assert!(!takes(sub, r#"{"type":"page","event":"y"}"#));
        assert!(takes(sub, r#"{"type":"page","event":"x"}"#));
    }

    #[test]
    fn not_applies_to_a_parenthesised_group() {
        let sub = r#"!(type = "track" or type = "page")"#;
        assert!(!takes(sub, r#"{"type":"track"}"#));
        assert!(!takes(sub, r#"{"type":"page"}"#));
        assert!(takes(sub, r#"{"type":"identify"}"#));
    }

    #[test]
    fn double_negation_is_identity() {
        let sub = r#"! ! (type = "screen")"#;
        assert!(takes(sub, r#"{"type":"screen"}"#));
        assert!(!takes(sub, r#"{"type":"track"}"#));
    }

    #[test]
    fn not_needs_no_space() {
        assert!(takes(r#"!type="track""#, r#"{"type":"page"}"#));
        assert!(!takes(r#"!type="track""#, r#"{"type":"track"}"#));
    }

    #[test]
    fn white_space_is_free_between_tokens() {
        let sub = " \t( properties . plan\n=\"pro\"and count>=1and!x=null ) ";
        assert!(takes(
            sub,
            r#"{"properties":{"plan":"pro"},"count":2,"x":3}"#
        ));
        assert!(!takes(sub, r#"{"properties":{"plan":"pro"},"count":2}"#));
    }

    #[test]
    fn chains_of_and_and_or_read_left_to_right() {
        let sub = "a = 1 and b = 2 and c = 3 or d = 4 or e = 5";
        assert!(takes(sub, r#"{"a":1,"b":2,"c":3}"#));
        assert!(!takes(sub, r#"{"a":1,"b":2}"#));
        assert!(takes(sub, r#"{"e":5}"#));
    }

    #[test]
    fn nesting_up_to_the_cap_parses() {
        let text = format!(
            "{}type = \"x\"{}",
            "(".repeat(MAX_NESTING),
            ")".repeat(MAX_NESTING)
        );
        assert!(takes(&text, r#"{"type":"x"}"#));
        let text = format!("{}type = \"x\"", "!".repeat(MAX_NESTING));
        assert!(takes(&text, r#"{"type":"x"}"#));
    }

    #[test]
    fn nesting_beyond_the_cap_is_an_error_at_the_offending_token() {
        let text = format!("{}type = \"x\"", "(".repeat(100_000));
        let e = error(&text);
        assert_eq!(e.position, MAX_NESTING);
        assert!(e.message.contains("nesting deeper than 64"), "{e}");
        let text = format!("{}type = \"x\"", "! ".repeat(100_000));
        assert_eq!(error(&text).position, 2 * MAX_NESTING);
    }

    // -- paths ----------------------------------------------------------------------------------

    #[test]
    fn paths_step_into_nested_objects() {
        let sub = r#"context.library.name = "analytics.js""#;
        assert!(takes(
            sub,
            r#"{"context":{"library":{"name":"analytics.js"}}}"#
        ));
        assert!(!takes(sub, r#"{"context":{"library":"analytics.js"}}"#));
    }

    #[test]
    fn a_path_through_a_non_object_is_missing() {
        assert!(takes("a.b = null", r#"{"a":[{"b":1}]}"#));
        assert!(takes("a.b = null", r#"{"a":"text"}"#));
        assert!(!takes("a.b = 1", r#"{"a":[{"b":1}]}"#));
    }

    #[test]
    fn lookup_takes_the_last_repeated_key() {
        assert!(takes("a = 2", r#"{"a":1,"a":2}"#));
    }

    #[test]
    fn keywords_may_follow_a_dot_in_a_path() {
        assert!(takes(
            r#"properties.match = "x""#,
            r#"{"properties":{"match":"x"}}"#
        ));
        assert!(takes("properties.null = 1", r#"{"properties":{"null":1}}"#));
    }

    #[test]
    fn upper_case_keywords_are_ordinary_names() {
        assert!(takes("AND = 1", r#"{"AND":1}"#));
        assert!(takes("Match = 1", r#"{"Match":1}"#));
    }

    #[test]
    fn a_non_object_event_has_every_path_missing() {
        let sub = Subscription::parse("type = null").unwrap();
        assert!(sub.matches(&event("[1]")));
        assert!(sub.matches(&event("\"text\"")));
    }

    // -- equality -------------------------------------------------------------------------------

    #[test]
    fn strings_compare_exactly() {
        assert!(takes(r#"type = "track""#, r#"{"type":"track"}"#));
        assert!(!takes(r#"type = "track""#, r#"{"type":"Track"}"#));
        assert!(!takes(r#"type = "track""#, r#"{"type":"track "}"#));
        assert!(takes(r#"name = "é😀""#, r#"{"name":"\u00e9\ud83d\ude00"}"#));
    }

    #[test]
    fn numbers_equal_by_exact_value() {
        for written in ["100", "100.0", "1e2", "1E+2", "10e1", "1000e-1", "0.001e5"] {
            assert!(
                takes(&format!("n = {written}"), r#"{"n":100}"#),
                "{written}"
            );
            assert!(
                takes("n = 100", &format!(r#"{{"n":{written}}}"#)),
                "{written}"
            );
        }
        assert!(takes("n = 10", r#"{"n":10.0}"#));
        assert!(!takes("n = 100", r#"{"n":100.0000000000000000001}"#));
    }

    #[test]
    fn negative_zero_equals_zero() {
        assert!(takes("n = 0", r#"{"n":-0}"#));
        assert!(takes("n = -0.0", r#"{"n":0e5}"#));
    }

    #[test]
    fn numeric_strings_never_equal_numbers() {
        assert!(!takes("n = 100", r#"{"n":"100"}"#));
        assert!(!takes(r#"n = "100""#, r#"{"n":100}"#));
        assert!(takes("n != 100", r#"{"n":"100"}"#));
    }

    #[test]
    fn booleans_compare_as_booleans() {
        assert!(takes("ok = true", r#"{"ok":true}"#));
        assert!(!takes("ok = true", r#"{"ok":false}"#));
        assert!(takes("ok = false", r#"{"ok":false}"#));
        assert!(!takes("ok = true", r#"{"ok":"true"}"#));
        assert!(!takes("ok = false", "{}"));
    }

    #[test]
    fn missing_path_equals_null() {
        assert!(takes("userId = null", "{}"));
        assert!(takes("userId = null", r#"{"userId":null}"#));
        assert!(!takes("userId = null", r#"{"userId":"u1"}"#));
        assert!(!takes("userId = null", r#"{"userId":""}"#));
    }

    #[test]
    fn objects_and_arrays_equal_no_literal() {
        for literal in ["null", "true", "0", "\"\"", "\"{}\""] {
            assert!(
                !takes(&format!("a = {literal}"), r#"{"a":{}}"#),
                "{literal}"
            );
            assert!(
                !takes(&format!("a = {literal}"), r#"{"a":[]}"#),
                "{literal}"
            );
        }
    }

    #[test]
    fn not_equal_is_the_negation_of_equal() {
        assert!(takes("n != 100", "{}"));
        assert!(takes("n != 100", r#"{"n":"x"}"#));
        assert!(!takes("n != 100", r#"{"n":1e2}"#));
        assert!(takes("n != null", r#"{"n":0}"#));
        assert!(!takes("n != null", "{}"));
        assert!(takes(r#"a != "x""#, r#"{"a":{}}"#));
    }

    // -- ordering -------------------------------------------------------------------------------

    #[test]
    fn ordering_operators_compare_numbers() {
        let e = r#"{"n":5}"#;
        assert!(takes("n < 6", e) && !takes("n < 5", e));
        assert!(takes("n <= 5", e) && !takes("n <= 4.999", e));
        assert!(takes("n > 4", e) && !takes("n > 5", e));
        assert!(takes("n >= 5.0", e) && !takes("n >= 5.0000001", e));
    }

    #[test]
    fn ordering_handles_negative_decimals() {
        assert!(takes(
            "properties.count < -1.5",
            r#"{"properties":{"count":-2}}"#
        ));
        assert!(!takes(
            "properties.count < -1.5",
            r#"{"properties":{"count":-1.5}}"#
        ));
        assert!(!takes(
            "properties.count < -1.5",
            r#"{"properties":{"count":-1}}"#
        ));
    }

    #[test]
    fn ordering_is_exact_beyond_f64_precision() {
        assert!(takes("n > 0.3", r#"{"n":0.30000000000000001}"#));
        assert!(!takes("n = 0.3", r#"{"n":0.30000000000000001}"#));
        assert!(takes("n < 9007199254740993", r#"{"n":9007199254740992}"#));
    }

    #[test]
    fn ordering_holds_only_between_numbers() {
        for op in ["<", "<=", ">", ">="] {
            assert!(!takes(&format!("n {op} 1"), r#"{"n":"1"}"#), "{op}");
            assert!(!takes(&format!("n {op} 1"), "{}"), "{op}");
            assert!(!takes(&format!("n {op} 1"), r#"{"n":null}"#), "{op}");
            assert!(!takes(&format!(r#"n {op} "a""#), r#"{"n":"a"}"#), "{op}");
            assert!(!takes(&format!("n {op} null"), r#"{"n":null}"#), "{op}");
        }
    }

    #[test]
    fn compare_numbers_orders_exact_decimals() {
        use Ordering::{Equal, Greater, Less};
        let cases = [
            ("100", "1e2", Equal),
            ("-0", "0", Equal),
            ("0.0", "-0e-7", Equal),
            ("0.1", "0.10000", Equal),
            ("123.456", "1.23456e2", Equal),
            ("0.30000000000000001", "0.3", Greater),
            ("-1.5", "-1.4", Less),
            ("-1", "0", Less),
            ("0.001", "0", Greater),
            ("19", "2", Greater),
            ("0.19", "0.2", Less),
            ("12", "123", Less),
            ("1e-400", "0", Greater),
            ("-1e400", "-1e399", Less),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567891",
                Less,
            ),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare_numbers(a, b), Some(expected), "{a} vs {b}");
            assert_eq!(
                compare_numbers(b, a),
                Some(expected.reverse()),
                "{b} vs {a}"
            );
        }
    }

    #[test]
    fn compare_numbers_handles_huge_exponents() {
        assert_eq!(
            compare_numbers("1e999999999999999999", "1e400"),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare_numbers("1e-999999999999999999999999999999999999999", "1e-400"),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare_numbers("-1e99999999999999999999999999999999999999999", "-5"),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare_numbers("0e99999999999999999999999999999999999999999", "0"),
            Some(Ordering::Equal)
        );
    }

    #[test]
    fn compare_numbers_refuses_non_json_numbers() {
        for bad in [
            "", "-", "01", "1.", ".5", "+1", "1e", "1e+", "0x10", "1 ", "NaN", "1.5.2",
        ] {
            assert_eq!(compare_numbers(bad, "1"), None, "{bad:?}");
            assert_eq!(compare_numbers("1", bad), None, "{bad:?}");
        }
    }

    #[test]
    fn huge_exponents_in_a_subscription_compare_without_overflow() {
        assert!(takes("n < 1e999999999999999999", r#"{"n":1e400}"#));
        assert!(takes("n > -1e999999999999999999", r#"{"n":-1e400}"#));
    }

    // -- match and contains ---------------------------------------------------------------------

    #[test]
    fn match_star_matches_any_run_including_empty() {
        let sub = r#"match(event, "Order*")"#;
        assert!(takes(sub, r#"{"event":"Order Completed"}"#));
        assert!(takes(sub, r#"{"event":"Order"}"#));
        assert!(!takes(sub, r#"{"event":"My Order"}"#));
        assert!(takes(
            r#"match(event, "*Completed")"#,
            r#"{"event":"Order Completed"}"#
        ));
        assert!(takes(r#"match(event, "*")"#, r#"{"event":""}"#));
        assert!(takes(r#"match(event, "a*b*c")"#, r#"{"event":"aXXbYbZc"}"#));
        assert!(!takes(r#"match(event, "a*b*c")"#, r#"{"event":"aXXbYbZ"}"#));
    }

    #[test]
    fn match_is_whole_string() {
        assert!(!takes(
            r#"match(event, "Order")"#,
            r#"{"event":"Order Completed"}"#
        ));
        assert!(takes(r#"match(event, "Order")"#, r#"{"event":"Order"}"#));
    }

    #[test]
    fn match_question_mark_is_exactly_one_character() {
        let sub = r#"match(code, "a?c")"#;
        assert!(takes(sub, r#"{"code":"abc"}"#));
        assert!(!takes(sub, r#"{"code":"ac"}"#));
        assert!(!takes(sub, r#"{"code":"abbc"}"#));
    }

    #[test]
    fn match_question_mark_is_one_unicode_character_not_one_byte() {
        assert!(takes(r#"match(name, "caf?")"#, r#"{"name":"café"}"#));
        assert!(takes(r#"match(name, "?")"#, r#"{"name":"😀"}"#));
        assert!(!takes(r#"match(name, "??")"#, r#"{"name":"é"}"#));
        assert!(takes(r#"match(name, "*é*")"#, r#"{"name":"crème brûlée"}"#));
        assert!(takes(
            r#"match(name, "cr*e ?r?l*")"#,
            r#"{"name":"crème brûlée"}"#
        ));
    }

    #[test]
    fn match_other_characters_are_literal() {
        assert!(takes(r#"match(a, "[a].+\\")"#, r#"{"a":"[a].+\\"}"#));
        assert!(!takes(r#"match(a, "[a]")"#, r#"{"a":"a"}"#));
    }

    #[test]
    fn match_does_not_backtrack_exponentially() {
        let text = "a".repeat(5_000);
        let pattern = format!("{}b", "*a".repeat(50));
        let sub = format!(r#"match(s, "{pattern}")"#);
        assert!(!takes(&sub, &format!(r#"{{"s":"{text}"}}"#)));
    }

    #[test]
    fn match_and_contains_are_false_on_missing_or_non_string() {
        for sub in [r#"match(a, "*")"#, r#"contains(a, "")"#] {
            assert!(!takes(sub, "{}"), "{sub}");
            assert!(!takes(sub, r#"{"a":1}"#), "{sub}");
            assert!(!takes(sub, r#"{"a":null}"#), "{sub}");
            assert!(!takes(sub, r#"{"a":["x"]}"#), "{sub}");
        }
    }

    #[test]
    fn contains_is_substring() {
        let sub = r#"contains(context.page.url, "/checkout")"#;
        assert!(takes(
            sub,
            r#"{"context":{"page":{"url":"https://x.io/checkout?a=1"}}}"#
        ));
        assert!(!takes(
            sub,
            r#"{"context":{"page":{"url":"https://x.io/cart"}}}"#
        ));
        assert!(takes(r#"contains(a, "")"#, r#"{"a":""}"#));
        assert!(takes(r#"contains(a, "rè")"#, r#"{"a":"crème"}"#));
    }

    #[test]
    fn contains_treats_glob_characters_literally() {
        assert!(!takes(r#"contains(a, "*")"#, r#"{"a":"abc"}"#));
        assert!(takes(r#"contains(a, "*")"#, r#"{"a":"a*c"}"#));
    }

    #[test]
    fn calls_combine_with_operators() {
        let sub = r#"!contains(event, "Test") and (match(event, "Order *") or type = "identify")"#;
        assert!(takes(sub, r#"{"event":"Order Completed"}"#));
        assert!(!takes(sub, r#"{"event":"Order Test"}"#));
        assert!(takes(sub, r#"{"type":"identify"}"#));
    }

    // -- strings --------------------------------------------------------------------------------

    #[test]
    fn escaped_quote_in_a_string() {
        assert!(takes(r#"a = "say \"hi\"""#, r#"{"a":"say \"hi\""}"#));
    }

    #[test]
    fn escaped_backslash_in_a_string() {
        assert!(takes(r#"a = "C:\\dir""#, r#"{"a":"C:\\dir"}"#));
        assert!(takes(r#"a = "\\""#, r#"{"a":"\\"}"#));
    }

    #[test]
    fn strings_may_hold_any_other_character() {
        assert!(takes(
            "a = \"x y\tz()and,.'é\"",
            r#"{"a":"x y\tz()and,.'é"}"#
        ));
    }

    // -- errors ---------------------------------------------------------------------------------

    fn assert_error(text: &str, position: usize, fragment: &str) {
        let e = error(text);
        assert_eq!(e.position, position, "{text:?}: {e}");
        assert!(e.message.contains(fragment), "{text:?}: {e}");
    }

    #[test]
    fn error_display_shows_position_and_message() {
        let e = error(r#"type = "track" and"#);
        assert_eq!(
            e.to_string(),
            "at position 18: expected a path, \"(\", \"!\", match(...) or contains(...) \
             after \"and\" but the text ended"
        );
    }

    #[test]
    fn error_trailing_and() {
        assert_error(
            r#"type = "track" and"#,
            18,
            "after \"and\" but the text ended",
        );
    }

    #[test]
    fn error_trailing_or() {
        assert_error(
            r#"type = "track" or "#,
            18,
            "after \"or\" but the text ended",
        );
    }

    #[test]
    fn error_double_equals() {
        assert_error(r#"type == "x""#, 5, "\"==\" is not an operator");
    }

    #[test]
    fn error_single_quotes() {
        assert_error("type = 'x'", 7, "double quotes");
    }

    #[test]
    fn error_unterminated_string() {
        assert_error(r#"type = "x"#, 7, "not closed");
        assert_error(r#"type = "x\""#, 7, "not closed");
        assert_error(r#"type = "x\"#, 7, "not closed");
    }

    #[test]
    fn error_unknown_escape() {
        assert_error(r#"type = "a\nb""#, 9, r#"invalid escape \n"#);
        assert_error(r#"type = "\u00e9""#, 8, r#"invalid escape \u"#);
        assert_error(r#"type = "a\/b""#, 9, "only \\\" and \\\\ are escapes");
    }

    #[test]
    fn error_position_counts_characters_not_bytes() {
        assert_error(r#"name = "é" and = 1"#, 15, "after \"and\" but found \"=\"");
    }

    #[test]
    fn error_match_with_a_number_pattern() {
        assert_error("match(type, 5)", 12, "but found the number 5");
    }

    #[test]
    fn error_contains_without_comma() {
        assert_error(
            r#"contains(type "x")"#,
            14,
            r#"expected "," after the path in contains(...) but found the string "x""#,
        );
    }

    #[test]
    fn error_call_without_parenthesis() {
        assert_error(
            r#"match = "x""#,
            6,
            r#"expected "(" after match but found "=""#,
        );
        assert_error(
            r#"contains(type, "x""#,
            18,
            r#"expected ")" to close contains(...) but the text ended"#,
        );
        assert_error(
            r#"match("x", "y")"#,
            6,
            "expected a path as the first argument of match(...)",
        );
    }

    #[test]
    fn error_unclosed_parenthesis() {
        assert_error(
            r#"(type = "x""#,
            11,
            r#"expected "and", "or" or ")" to close the "(" at position 0 but the text ended"#,
        );
    }

    #[test]
    fn error_unopened_parenthesis() {
        assert_error(r#"type = "x")"#, 10, r#"found ")" without a "(" to close"#);
    }

    #[test]
    fn error_bare_name_as_a_literal() {
        assert_error("type = x", 7, "but found the name x");
        assert_error("type = x", 7, r#"written in double quotes, as in "x""#);
    }

    #[test]
    fn error_literal_on_the_left() {
        assert_error(
            "1 = type",
            0,
            "expected a path, \"(\", \"!\", match(...) or contains(...) but found the number 1",
        );
        assert_error(r#""x" = type"#, 0, "but found the string \"x\"");
    }

    #[test]
    fn error_number_with_a_leading_zero() {
        assert_error("type = 01", 7, "invalid number 01: a leading 0");
    }

    #[test]
    fn error_malformed_numbers() {
        assert_error("n = 1.", 4, "\".\" must be followed by digits");
        assert_error("n = 1e+", 4, "the exponent needs digits");
        assert_error("n = -", 4, "\"-\" must be followed by a digit");
        assert_error("n = .5", 4, "but found \".\"");
        assert_error("n = +5", 4, "unexpected character \"+\"");
    }

    #[test]
    fn error_upper_case_keyword() {
        assert_error(
            "type AND",
            5,
            "but found the name AND (keywords are lower case)",
        );
        assert_error(
            r#"type = "x" OR type = "y""#,
            11,
            "(keywords are lower case)",
        );
        assert_error("ok = TRUE", 5, "(keywords are lower case)");
    }

    #[test]
    fn error_path_starting_with_a_dot() {
        assert_error(r#".type = "x""#, 0, "but found \".\"");
    }

    #[test]
    fn error_path_ending_with_a_dot() {
        assert_error(
            r#"type. = "x""#,
            6,
            r#"expected a name after "." but found "=""#,
        );
    }

    #[test]
    fn error_missing_operator() {
        assert_error(r#"type "x""#, 5, "expected a comparison operator");
        assert_error("type", 4, "after the path type but the text ended");
        assert_error("a.b.c", 5, "after the path a.b.c");
    }

    #[test]
    fn error_reserved_word_as_a_path() {
        assert_error("null = 1", 0, "but found the keyword null");
        assert_error(
            r#"type = "x" and or = 1"#,
            15,
            "after \"and\" but found the keyword or",
        );
    }

    #[test]
    fn error_operators_from_other_languages() {
        assert_error(r#"a = 1 && b = 2"#, 6, "write and");
        assert_error(r#"a = 1 || b = 2"#, 6, "write or");
        assert_error(
            r#"a = 1 b = 2"#,
            6,
            r#"expected "and", "or" or the end of the subscription but found the name b"#,
        );
    }

    #[test]
    fn error_unexpected_character() {
        assert_error("typé = 1", 3, "unexpected character \"é\"");
        assert_error("a = 1 \u{1} ", 6, "unexpected character '\\u{1}'");
    }

    #[test]
    fn error_empty_parentheses_and_lone_not() {
        assert_error("()", 1, "after \"(\" but found \")\"");
        assert_error("!", 1, "after \"!\" but the text ended");
    }

    #[test]
    fn the_first_problem_in_reading_order_is_reported() {
        // The bad escape later on is never reached.
        assert_error(r#"type = = "a\qb""#, 7, "but found \"=\"");
    }
}
