//! JSON number text compared as exact decimals (SPEC 9): never through `f64`, never expanding an
//! exponent into digits.

use std::cmp::Ordering;

use crate::json::{self, NumberText};

/// Written exponents are clamped to this magnitude, so that `1e999999999999999999999` neither
/// overflows nor allocates. Only numbers whose exponents both exceed it can compare wrongly.
pub(super) const EXPONENT_CAP: i128 = 1_000_000_000_000_000_000_000_000_000_000;

/// The written exponent of a number, clamped to ±[`EXPONENT_CAP`].
fn exponent(number: &NumberText<'_>) -> i128 {
    let mut exponent: i128 = 0;
    for &d in number.exp {
        exponent = (exponent * 10 + i128::from(d - b'0')).min(EXPONENT_CAP);
    }
    if number.exp_negative {
        -exponent
    } else {
        exponent
    }
}

/// A JSON number as `± 0.d₁d₂…dₙ × 10^exponent` with `d₁` and `dₙ` non-zero; zero has no digits.
///
/// The digits stay in the text (`int` followed by `frac`, from `first` to `end`), so comparing
/// costs no allocation however long the number or large its exponent.
pub(super) struct Decimal<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
    first: usize,
    end: usize,
    exponent: i128,
}

impl<'a> Decimal<'a> {
    pub(super) fn parse(text: &'a str) -> Option<Decimal<'a>> {
        let number = json::scan_number(text.as_bytes()).ok()?;
        if number.len != text.len() {
            return None;
        }
        let NumberText {
            negative,
            int,
            frac,
            ..
        } = number;
        let all = || int.iter().chain(frac);
        let total = int.len() + frac.len();
        let first = all().position(|&d| d != b'0').unwrap_or(total);
        let trailing = all().rev().take_while(|&&d| d == b'0').count();
        let end = total.saturating_sub(trailing).max(first);
        // The point sits after `int`; each leading zero dropped moves it one place left. Text
        // lengths are far below the cap, so this cannot overflow an i128.
        let exponent = exponent(&number) + int.len() as i128 - first as i128;
        Some(Decimal {
            negative,
            int,
            frac,
            first,
            end,
            exponent,
        })
    }

    pub(super) fn significant_digits(&self) -> impl Iterator<Item = u8> + '_ {
        self.int
            .iter()
            .chain(self.frac)
            .copied()
            .skip(self.first)
            .take(self.end - self.first)
    }

    pub(super) fn signum(&self) -> i8 {
        match (self.first == self.end, self.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        }
    }

    pub(super) fn cmp(&self, other: &Decimal<'_>) -> Ordering {
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
