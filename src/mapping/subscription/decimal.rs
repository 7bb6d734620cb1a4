//! JSON number text compared as exact decimals (SPEC 9): never through `f64`, never expanding an
//! exponent into digits.

use std::cmp::Ordering;

/// Written exponents are clamped to this magnitude, so that `1e999999999999999999999` neither
/// overflows nor allocates. Only numbers whose exponents both exceed it can compare wrongly.
pub(super) const EXPONENT_CAP: i128 = 1_000_000_000_000_000_000_000_000_000_000;

/// The parts of a JSON number text.
pub(super) struct NumberParts<'a> {
    pub(super) negative: bool,
    pub(super) int: &'a [u8],
    pub(super) frac: &'a [u8],
    /// The written exponent, clamped to ±[`EXPONENT_CAP`].
    pub(super) exponent: i128,
    /// How many bytes of the text the number takes.
    pub(super) len: usize,
}

/// Reads the JSON number at the start of `text` (longest match), or says what is wrong with it.
pub(super) fn scan_number(text: &str) -> Result<NumberParts<'_>, &'static str> {
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
