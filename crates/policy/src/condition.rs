//! The `Condition` element: operators, missing-key and multi-value
//! semantics (policy-evaluation.md §6), policy variables in values (§7).

use std::net::IpAddr;

use base64::Engine as _;

use crate::context::RequestContext;
use crate::error::{LEGACY_PARSING, PolicyElement, PolicyError};
use crate::json::Json;
use crate::pattern::{ArnPattern, GlobValue, Piece, equals_pieces, parse_pieces, resolve_text};

/// How values compare, in numeric and date operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// The compiled values of one condition, by operator family (§6.3).
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// `StringEquals`, `StringNotEquals`.
    Exact(Vec<Vec<Piece>>),
    /// `StringEqualsIgnoreCase`, `StringNotEqualsIgnoreCase`.
    IgnoreCase(Vec<Vec<Piece>>),
    /// `StringLike`, `StringNotLike`.
    Like(Vec<GlobValue>),
    /// `Numeric*`.
    Numeric(Cmp, Vec<f64>),
    /// `Date*`, as Unix seconds (one-second granularity, §6.3).
    Date(Cmp, Vec<i64>),
    /// `Bool` (\[choice] variables allowed, text compared case-insensitively).
    Bool(Vec<Vec<Piece>>),
    /// `BinaryEquals`: the decoded bytes.
    Binary(Vec<Vec<u8>>),
    /// `IpAddress`, `NotIpAddress`.
    Ip(Vec<Cidr>),
    /// `ArnEquals`, `ArnLike`, `ArnNotEquals`, `ArnNotLike`.
    Arn(Vec<ArnPattern>),
    /// `Null`: `true` = the key must be absent.
    Null(Vec<bool>),
}

/// `ForAllValues:` / `ForAnyValue:` (§6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOperator {
    None,
    ForAllValues,
    ForAnyValue,
}

/// One key under one operator: the unit conditions AND together (§6.1).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    set: SetOperator,
    negated: bool,
    if_exists: bool,
    /// Lowercased (§6.1: key names are case-insensitive).
    key: String,
    values: Values,
}

/// A base operator name: its family, whether it is negated, whether
/// variables are substituted in its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Exact,
    IgnoreCase,
    Like,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

fn base_operator(name: &str) -> Option<(Family, bool)> {
    use Family::*;
    Some(match name {
        "StringEquals" => (Exact, false),
        "StringNotEquals" => (Exact, true),
        "StringEqualsIgnoreCase" => (IgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (IgnoreCase, true),
        "StringLike" => (Like, false),
        "StringNotLike" => (Like, true),
        "NumericEquals" => (Numeric(Cmp::Eq), false),
        "NumericNotEquals" => (Numeric(Cmp::Eq), true),
        "NumericLessThan" => (Numeric(Cmp::Lt), false),
        "NumericLessThanEquals" => (Numeric(Cmp::Le), false),
        "NumericGreaterThan" => (Numeric(Cmp::Gt), false),
        "NumericGreaterThanEquals" => (Numeric(Cmp::Ge), false),
        "DateEquals" => (Date(Cmp::Eq), false),
        "DateNotEquals" => (Date(Cmp::Eq), true),
        "DateLessThan" => (Date(Cmp::Lt), false),
        "DateLessThanEquals" => (Date(Cmp::Le), false),
        "DateGreaterThan" => (Date(Cmp::Gt), false),
        "DateGreaterThanEquals" => (Date(Cmp::Ge), false),
        "Bool" => (Bool, false),
        "BinaryEquals" => (Binary, false),
        "IpAddress" => (Ip, false),
        "NotIpAddress" => (Ip, true),
        "ArnEquals" | "ArnLike" => (Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Arn, true),
        "Null" => (Null, false),
        _ => return None,
    })
}

fn syntax(detail: String) -> PolicyError {
    PolicyError::syntax(PolicyElement::Condition, detail)
}

/// Parse a `Condition` element into its conditions (AND-ed).
pub(crate) fn parse_conditions(
    value: &Json,
    variables: bool,
) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(operators) = value else {
        return Err(syntax(format!(
            "`Condition` must be an object, not a {}",
            value.type_name()
        )));
    };
    let mut conditions = Vec::new();
    for (operator, keys) in operators {
        let Json::Object(keys) = keys else {
            return Err(syntax(format!(
                "`Condition` operator `{operator}` must map to an object of keys"
            )));
        };
        let (set, rest) = if let Some(rest) = operator.strip_prefix("ForAllValues:") {
            (SetOperator::ForAllValues, rest)
        } else if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
            (SetOperator::ForAnyValue, rest)
        } else {
            (SetOperator::None, operator.as_str())
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let Some((family, negated)) = base_operator(base) else {
            return Err(syntax(format!(
                "`Condition` operator `{operator}` is unknown"
            )));
        };
        if if_exists && family == Family::Null {
            return Err(syntax(
                "`Condition` operator `NullIfExists` does not exist".to_owned(),
            ));
        }
        for (key, raw) in keys {
            if key.is_empty() {
                return Err(syntax(format!(
                    "`Condition` operator `{operator}` has an empty key"
                )));
            }
            let texts = scalar_list(raw).ok_or_else(|| {
                syntax(format!(
                    "`Condition` `{operator}` key `{key}` must be a value or a list of values"
                ))
            })?;
            let values = compile_values(family, &texts, variables, operator, key)?;
            conditions.push(Condition {
                set,
                negated,
                if_exists,
                key: key.to_lowercase(),
                values,
            });
        }
    }
    Ok(conditions)
}

/// Strings, numbers and booleans (stringified), alone or in a list.
fn scalar_list(value: &Json) -> Option<Vec<String>> {
    fn scalar(v: &Json) -> Option<String> {
        match v {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.clone()),
            Json::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match value {
        Json::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn compile_values(
    family: Family,
    texts: &[String],
    variables: bool,
    operator: &str,
    key: &str,
) -> Result<Values, PolicyError> {
    let pieces = |t: &String| {
        if variables {
            parse_pieces(t)
        } else if t.is_empty() {
            Vec::new()
        } else {
            vec![Piece::Text(t.clone())]
        }
    };
    let bad = |t: &String, what: &str| {
        syntax(format!(
            "`Condition` `{operator}` key `{key}`: `{t}` is not {what}"
        ))
    };
    Ok(match family {
        Family::Exact => Values::Exact(texts.iter().map(pieces).collect()),
        Family::IgnoreCase => Values::IgnoreCase(texts.iter().map(pieces).collect()),
        Family::Like => Values::Like(texts.iter().map(|t| GlobValue::new(pieces(t))).collect()),
        Family::Arn => Values::Arn(texts.iter().map(|t| ArnPattern::new(pieces(t))).collect()),
        Family::Bool => {
            for t in texts {
                let ok = t.eq_ignore_ascii_case("true")
                    || t.eq_ignore_ascii_case("false")
                    || (variables && t.contains("${"));
                if !ok {
                    return Err(bad(t, "a boolean"));
                }
            }
            Values::Bool(texts.iter().map(pieces).collect())
        }
        Family::Numeric(cmp) => Values::Numeric(
            cmp,
            texts
                .iter()
                .map(|t| parse_number(t).ok_or_else(|| bad(t, "a number")))
                .collect::<Result<_, _>>()?,
        ),
        Family::Date(cmp) => Values::Date(
            cmp,
            texts
                .iter()
                .map(|t| {
                    parse_date(t).ok_or_else(|| {
                        PolicyError::malformed(
                            PolicyElement::Condition,
                            LEGACY_PARSING,
                            format!("`Condition` `{operator}` key `{key}`: `{t}` is not a date"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        Family::Binary => Values::Binary(
            texts
                .iter()
                .map(|t| {
                    base64::engine::general_purpose::STANDARD
                        .decode(t)
                        .map_err(|_| bad(t, "base64"))
                })
                .collect::<Result<_, _>>()?,
        ),
        Family::Ip => Values::Ip(
            texts
                .iter()
                .map(|t| Cidr::parse(t).ok_or_else(|| bad(t, "an IP address or CIDR block")))
                .collect::<Result<_, _>>()?,
        ),
        Family::Null => Values::Null(
            texts
                .iter()
                .map(|t| {
                    if t.eq_ignore_ascii_case("true") {
                        Ok(true)
                    } else if t.eq_ignore_ascii_case("false") {
                        Ok(false)
                    } else {
                        Err(bad(t, "true or false"))
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

impl Condition {
    /// Whether the condition holds for `ctx` (§6.2 missing keys, §6.4 sets).
    pub(crate) fn holds(&self, ctx: &RequestContext) -> bool {
        let request = ctx.get_lowercase(&self.key);
        if let Values::Null(expect_absent) = &self.values {
            let absent = request.is_none();
            return expect_absent.contains(&absent);
        }
        let Some(request) = request else {
            return match self.set {
                SetOperator::ForAllValues => true,
                SetOperator::ForAnyValue => self.if_exists,
                SetOperator::None => self.if_exists || self.negated,
            };
        };
        match self.set {
            // "also true for an empty set / empty string value" (§6.2).
            SetOperator::ForAllValues => {
                matches!(request, [] | [_] if request.iter().all(String::is_empty))
                    || request.iter().all(|r| self.value_satisfies(r, ctx))
            }
            SetOperator::ForAnyValue => request.iter().any(|r| self.value_satisfies(r, ctx)),
            // [choice] §6.4: positive — some value matches; negated — no value matches.
            SetOperator::None if self.negated => {
                request.iter().all(|r| self.value_satisfies(r, ctx))
            }
            SetOperator::None => request.iter().any(|r| self.value_satisfies(r, ctx)),
        }
    }

    /// m(r): positive — r matches some policy value; negated — r matches none.
    /// A request value of the wrong type fails either way (\[choice] §6.3).
    fn value_satisfies(&self, request: &str, ctx: &RequestContext) -> bool {
        match self.matches_some(request, ctx) {
            Some(matched) => matched != self.negated,
            None => false,
        }
    }

    /// Whether `request` matches any policy value; `None` if it cannot be
    /// read as the operator's type. Values with unresolvable variables
    /// match nothing (§7).
    fn matches_some(&self, request: &str, ctx: &RequestContext) -> Option<bool> {
        Some(match &self.values {
            Values::Exact(values) => values
                .iter()
                .any(|p| equals_pieces(p, ctx, request, false) == Some(true)),
            Values::IgnoreCase(values) => values.iter().any(|p| {
                if request.is_ascii() {
                    equals_pieces(p, ctx, request, true) == Some(true)
                } else {
                    resolve_text(p, ctx).is_some_and(|v| eq_ignore_case(&v, request))
                }
            }),
            Values::Bool(values) => values
                .iter()
                .any(|p| equals_pieces(p, ctx, request, true) == Some(true)),
            Values::Like(values) => values.iter().any(|p| p.matches(request, ctx)),
            Values::Arn(values) => values.iter().any(|p| p.matches(request, ctx)),
            Values::Numeric(cmp, values) => {
                let r = parse_number(request)?;
                values.iter().any(|p| cmp.holds(r, *p))
            }
            Values::Date(cmp, values) => {
                let r = parse_date(request)?;
                values.iter().any(|p| cmp.holds(r, *p))
            }
            Values::Binary(values) => {
                let r = base64::engine::general_purpose::STANDARD
                    .decode(request)
                    .ok()?;
                values.contains(&r)
            }
            Values::Ip(values) => {
                let r: IpAddr = request.trim().parse().ok()?;
                values.iter().any(|p| p.contains(r))
            }
            Values::Null(_) => false,
        })
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || (!(a.is_ascii() && b.is_ascii())
            && a.chars()
                .flat_map(char::to_lowercase)
                .eq(b.chars().flat_map(char::to_lowercase)))
}

/// An integer or decimal (`-1`, `2.5`); no exponents, `inf` or `nan`.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty() || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    if digits.ends_with('.') && frac.is_empty() && int.is_empty() {
        return None;
    }
    text.parse().ok()
}

fn two_digits(s: &str) -> Option<u8> {
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// A date as Unix seconds: W3C ISO 8601 profiles (`YYYY`, `YYYY-MM`,
/// `YYYY-MM-DD`, `YYYY-MM-DDThh:mm[:ss[.s+]]` with `Z` or `±hh:mm`,
/// \[choice] no zone = UTC) or epoch seconds (§6.3). Fractions are dropped
/// (one-second granularity).
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

    let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // Epoch seconds (any length but the 4 digits of a bare year).
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let unsigned = whole.strip_prefix('-').unwrap_or(whole);
    if is_digits(unsigned) && unsigned.len() != 4 && is_digits(fraction) {
        return whole.parse().ok();
    }

    let (date_part, time_part) = match text.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut fields = date_part.split('-');
    let year = fields
        .next()
        .filter(|y| y.len() == 4 && is_digits(y))?
        .parse::<i32>()
        .ok()?;
    let month = match fields.next() {
        Some(m) => two_digits(m)?,
        None => 1,
    };
    let day = match fields.next() {
        Some(d) => two_digits(d)?,
        None => 1,
    };
    if fields.next().is_some() || (time_part.is_some() && date_part.len() != 10) {
        return None;
    }
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let (clock, offset) = match time_part {
        None => (Time::MIDNIGHT, UtcOffset::UTC),
        Some(t) => {
            let (clock, offset) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
                (c, UtcOffset::UTC)
            } else if let Some(pos) = t.rfind(['+', '-']) {
                let (c, zone) = t.split_at(pos);
                let sign: i8 = if zone.starts_with('-') { -1 } else { 1 };
                let (h, m) = zone.get(1..)?.split_once(':')?;
                let (h, m) = (two_digits(h)? as i8, two_digits(m)? as i8);
                (c, UtcOffset::from_hms(sign * h, sign * m, 0).ok()?)
            } else {
                (t, UtcOffset::UTC)
            };
            let mut parts = clock.splitn(3, ':');
            let hour = two_digits(parts.next()?)?;
            let minute = two_digits(parts.next()?)?;
            let second = match parts.next() {
                None => 0,
                Some(s) => {
                    let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
                    if !is_digits(frac) {
                        return None;
                    }
                    two_digits(secs)?
                }
            };
            (Time::from_hms(hour, minute, second).ok()?, offset)
        }
    };
    Some(
        PrimitiveDateTime::new(date, clock)
            .assume_offset(offset)
            .unix_timestamp(),
    )
}

/// An IPv4 or IPv6 block; a bare address is `/32` or `/128` (§6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
            None => max,
        };
        Some(Cidr { network, prefix })
    }

    pub(crate) fn contains(&self, addr: IpAddr) -> bool {
        fn masked(bits: u128, width: u32, prefix: u8) -> u128 {
            let prefix = u32::from(prefix);
            if prefix == 0 {
                0
            } else {
                let keep = width - prefix;
                bits.checked_shr(keep).unwrap_or(0)
            }
        }
        match (self.network, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u128::from(u32::from(n)), 32, self.prefix)
                    == masked(u128::from(u32::from(a)), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), 128, self.prefix) == masked(u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_w3c_dates_and_epoch_seconds() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("2025-03-01T12:00:00Z"), Some(1_740_830_400));
        assert_eq!(parse_date("2025-03-01T13:00:00+01:00"), Some(1_740_830_400));
        assert_eq!(parse_date("2025-03-01T12:00:00.999Z"), Some(1_740_830_400));
        assert_eq!(parse_date("2025-03-01T12:00Z"), Some(1_740_830_400));
        assert_eq!(parse_date("2025-03-01"), Some(1_740_787_200));
        assert_eq!(parse_date("2025-03"), Some(1_740_787_200));
        assert_eq!(parse_date("2025"), parse_date("2025-01-01"));
        assert_eq!(parse_date("1740830400"), Some(1_740_830_400));
        for bad in [
            "",
            "2025-13-01",
            "2025-02-30",
            "25-01-01",
            "2025-03-01T25:00:00Z",
            "soon",
            "2025-03-01T12:00:00+1",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_numbers_without_exponents_or_names() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-2.5"), Some(-2.5));
        for bad in ["", "1e3", "inf", "NaN", "1.2.3", "-", "."] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidr_blocks_contain_addresses_of_their_family_only() {
        let v4 = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(v4.contains("203.0.113.77".parse().unwrap()));
        assert!(!v4.contains("203.0.114.1".parse().unwrap()));
        assert!(!v4.contains("::1".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/64").unwrap();
        assert!(v6.contains("2001:db8::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        let host = Cidr::parse("10.0.0.1").unwrap();
        assert!(host.contains("10.0.0.1".parse().unwrap()));
        assert!(!host.contains("10.0.0.2".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "10.0.0/8", "x", "::/129", "10.0.0.0/"] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }
}
