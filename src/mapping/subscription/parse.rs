//! The recursive-descent parser: characters to the compiled tree, lexing one token ahead so that
//! the first problem in reading order is the one reported.

use super::eval::{Literal, Node, Op};
use super::tokens::{show_char, unexpected, Tok, Token, KEYWORDS};
use super::SubscriptionError;
use crate::json;

/// The deepest nesting of `(` and `!` a subscription may use.
pub(super) const MAX_NESTING: usize = 64;

/// Words that cannot start a path: they are operators or literals.
pub(super) const RESERVED: [&str; 5] = ["and", "or", "true", "false", "null"];

/// What `(`, `!` or a call may be followed by, for error messages.
pub(super) const CONDITION: &str = "a path, \"(\", \"!\", match(...) or contains(...)";

/// A recursive-descent parser over characters that lexes one token ahead, so the first problem
/// in reading order is the one reported.
pub(super) struct Parser {
    chars: Vec<char>,
    pos: usize,
    peeked: Option<Token>,
}

impl Parser {
    pub(super) fn new(text: &str) -> Parser {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
            peeked: None,
        }
    }

    pub(super) fn peek(&mut self) -> Result<&Token, SubscriptionError> {
        let token = match self.peeked.take() {
            Some(token) => token,
            None => self.lex()?,
        };
        Ok(self.peeked.insert(token))
    }

    pub(super) fn next(&mut self) -> Result<Token, SubscriptionError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lex(),
        }
    }

    /// Consumes the next token when it is the keyword `word`.
    pub(super) fn eat_keyword(&mut self, word: &str) -> Result<bool, SubscriptionError> {
        let found = matches!(&self.peek()?.tok, Tok::Name(n) if n == word);
        if found {
            self.peeked = None;
        }
        Ok(found)
    }

    /// One level deeper for the `(` or `!` at `position`, or an error past the cap.
    pub(super) fn deeper(depth: usize, position: usize) -> Result<usize, SubscriptionError> {
        if depth >= MAX_NESTING {
            return Err(SubscriptionError::at(
                position,
                format!("nesting deeper than {MAX_NESTING} levels of \"(\" and \"!\""),
            ));
        }
        Ok(depth + 1)
    }

    /// `expr := and ("or" and)*`; `context` tells what came just before, for error messages.
    pub(super) fn expr(&mut self, depth: usize, context: &str) -> Result<Node, SubscriptionError> {
        let mut items = vec![self.and(depth, context)?];
        while self.eat_keyword("or")? {
            items.push(self.and(depth, " after \"or\"")?);
        }
        Ok(group(items, Node::Or))
    }

    /// `and := unary ("and" unary)*`.
    pub(super) fn and(&mut self, depth: usize, context: &str) -> Result<Node, SubscriptionError> {
        let mut items = vec![self.unary(depth, context)?];
        while self.eat_keyword("and")? {
            items.push(self.unary(depth, " after \"and\"")?);
        }
        Ok(group(items, Node::And))
    }

    /// `unary := "!" unary | "(" expr ")" | compare | call`.
    pub(super) fn unary(&mut self, depth: usize, context: &str) -> Result<Node, SubscriptionError> {
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
    pub(super) fn comparison(&mut self, first: String) -> Result<Node, SubscriptionError> {
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
    pub(super) fn call(&mut self, is_match: bool) -> Result<Node, SubscriptionError> {
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
    pub(super) fn path_rest(&mut self, first: String) -> Result<Vec<String>, SubscriptionError> {
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

    pub(super) fn char_at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// Reads the token at the current position (after white space) and moves past it.
    pub(super) fn lex(&mut self) -> Result<Token, SubscriptionError> {
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
    pub(super) fn string(&self, start: usize) -> Result<(Tok, usize), SubscriptionError> {
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
    pub(super) fn number(&self, start: usize) -> Result<(Tok, usize), SubscriptionError> {
        // Numbers are ASCII, so the run's bytes are its chars.
        let run: String = self.chars[start..]
            .iter()
            .take_while(|c| matches!(c, '0'..='9' | '.' | 'e' | 'E' | '+' | '-'))
            .collect();
        match json::scan_number(run.as_bytes()) {
            Ok(number) => Ok((Tok::Num(run[..number.len].to_string()), number.len)),
            Err(problem) => Err(SubscriptionError::at(
                start,
                format!(
                    "invalid number {run}: {} (numbers follow JSON's grammar)",
                    problem.what
                ),
            )),
        }
    }
}

/// `items` as one node: the item itself when alone, else `make(items)`.
pub(super) fn group(mut items: Vec<Node>, make: fn(Vec<Node>) -> Node) -> Node {
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return only;
        }
    }
    make(items)
}
