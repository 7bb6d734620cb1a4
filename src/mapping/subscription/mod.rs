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
//!
//! One file per step: `tokens` (what the lexer yields and how it reads in messages),
//! `parse` (the recursive-descent parser, lexing one token ahead), `eval` (the compiled tree
//! and its evaluation against an event) and `decimal` (exact comparison of JSON number text).

mod decimal;
mod eval;
mod parse;
mod tokens;

use std::cmp::Ordering;
use std::fmt;

use crate::json::Value;
use decimal::Decimal;
use eval::Node;
use parse::Parser;
use tokens::{unexpected, Tok};

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

#[cfg(test)]
mod tests {
    use super::parse::MAX_NESTING;
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
