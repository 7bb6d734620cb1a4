//! The tokens of a subscription, and how a token or a character reads in an error message.

use super::eval::Op;
use super::SubscriptionError;

/// Every keyword, for the "keywords are lower case" hint.
pub(super) const KEYWORDS: [&str; 7] = ["and", "or", "true", "false", "null", "match", "contains"];

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) start: usize,
}

/// How a token reads in "... but found X".
pub(super) fn describe(tok: &Tok) -> String {
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
pub(super) fn unexpected(token: &Token, expected: &str) -> SubscriptionError {
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
pub(super) fn quote(s: &str) -> String {
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
pub(super) fn show_char(c: char) -> String {
    if c.is_control() {
        format!("{c:?}")
    } else {
        format!("\"{c}\"")
    }
}
