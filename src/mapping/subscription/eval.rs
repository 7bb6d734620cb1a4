//! The compiled tree of a subscription and its evaluation against one event (SPEC 3.3).

use std::cmp::Ordering;

use super::compare_numbers;
use crate::json::Value;

/// One node of a compiled subscription; `Or` and `And` always hold two or more items.
#[derive(Debug, Clone)]
pub(super) enum Node {
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
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub(super) fn symbol(self) -> &'static str {
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
pub(super) enum Literal {
    String(String),
    /// Valid JSON-number text, as written.
    Number(String),
    Bool(bool),
    Null,
}

impl Node {
    /// Evaluates the node; recursion depth is bounded by the parser's nesting cap.
    pub(super) fn eval(&self, event: &Value<'_>) -> bool {
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
pub(super) fn lookup<'v, 'a>(event: &'v Value<'a>, path: &[String]) -> Option<&'v Value<'a>> {
    path.iter().try_fold(event, |value, name| value.get(name))
}

pub(super) fn compare(value: Option<&Value<'_>>, op: Op, literal: &Literal) -> bool {
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
pub(super) fn equals(value: Option<&Value<'_>>, literal: &Literal) -> bool {
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
pub(super) fn order(value: Option<&Value<'_>>, literal: &Literal) -> Option<Ordering> {
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
pub(super) fn glob(pattern: &[char], text: &str) -> bool {
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
