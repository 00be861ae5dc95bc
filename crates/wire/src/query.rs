//! Decoding of awsQuery request parameters (`aws-query-protocol.md` §2).
//!
//! Parameters arrive as `application/x-www-form-urlencoded` pairs in a POST
//! body, in the URL query string (GET, presigned URLs), or both. They are
//! decoded once into a sorted table; the action then reads the members it
//! knows with the typed, consuming readers, and [`QueryParams::finish`]
//! rejects whatever is left (fail closed on unknown parameters).

use std::fmt;

use crate::error::AwsError;
use crate::validation::ValidationErrors;

/// At most this many `name=value` pairs per request (body and query together).
pub const MAX_PARAMETERS: usize = 1000;

/// Longest accepted parameter name, in bytes after decoding.
pub const MAX_NAME_LEN: usize = 256;

/// SigV4 query-string authentication parameters. They are not operation
/// parameters: the sigv4 crate reads them from the raw query, so the decoder
/// skips them (presigned `GetCallerIdentity` URLs carry them).
pub const AUTH_PARAMETERS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// The protocol-level parameters every request carries; never "unknown".
const PROTOCOL_PARAMETERS: [&str; 2] = ["Action", "Version"];

struct Param {
    name: String,
    value: String,
    used: bool,
}

/// The decoded query-protocol parameters of one request.
///
/// Built by [`QueryParams::parse`] from the form body and the URL query
/// string, merged. Names are unique (a repeated name is rejected). `Debug`
/// shows parameter names only: values may be tokens or assertions.
pub struct QueryParams {
    /// Sorted by name, names unique.
    params: Vec<Param>,
}

impl fmt::Debug for QueryParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryParams")
            .field(
                "names",
                &self
                    .params
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl QueryParams {
    /// Decodes and merges the form body and the URL query string.
    ///
    /// Rules (`aws-query-protocol.md` §2.1, §2.3):
    /// - pairs split on `&` (empty pairs ignored) and on the first `=`; a
    ///   pair without `=` is a name with an empty value;
    /// - decoding is `application/x-www-form-urlencoded`: `+` is a space,
    ///   `%XX` a byte, then the bytes must be UTF-8 (else 404
    ///   `MalformedQueryString`); a `%` not followed by two hex digits is kept
    ///   literally, as Python's `unquote_plus` and `form_urlencoded` do;
    /// - the SigV4 [`AUTH_PARAMETERS`] are skipped;
    /// - [choice] a name given twice, in one source or across body and query,
    ///   with the same or a different value, is 400
    ///   `InvalidParameterCombination` (no SDK repeats a name);
    /// - more than [`MAX_PARAMETERS`] pairs, a name longer than
    ///   [`MAX_NAME_LEN`] bytes or an empty name is 404 `MalformedQueryString`.
    ///
    /// The charset of the `Content-Type` is the server's concern: the body is
    /// always treated as UTF-8.
    pub fn parse(body: &[u8], query: &str) -> Result<QueryParams, AwsError> {
        let mut params = Vec::new();
        let mut pairs = 0usize;
        split_pairs(query.as_bytes(), &mut params, &mut pairs)?;
        split_pairs(body, &mut params, &mut pairs)?;
        params.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        if let Some((first, _)) = params
            .iter()
            .zip(params.iter().skip(1))
            .find(|(a, b)| a.name == b.name)
        {
            return Err(AwsError::invalid_parameter_combination(format!(
                "The parameter {} is specified more than once",
                first.name
            )));
        }
        Ok(QueryParams { params })
    }

    /// The `Action` parameter, if given (not consumed).
    pub fn action(&self) -> Option<&str> {
        self.peek("Action")
    }

    /// The `Version` parameter, if given (not consumed).
    pub fn version(&self) -> Option<&str> {
        self.peek("Version")
    }

    /// Whether a parameter with exactly this name is present and unread.
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Number of decoded parameters (auth parameters excluded).
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether no parameter was given.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Takes a string member. `Name=` gives `Some("")` (the length check
    /// decides). A second read of the same name gives `None`.
    pub fn string(&mut self, name: &str) -> Option<String> {
        let i = self.find(name)?;
        let param = self.params.get_mut(i)?;
        param.used = true;
        Some(std::mem::take(&mut param.value))
    }

    /// Takes an integer member (`DurationSeconds=3600`). A value that is not
    /// a decimal integer fitting in 64 bits records `Value 'abc' at
    /// 'durationSeconds' failed to satisfy constraint: Member must be an
    /// integer` [choice: AWS's wording for this case is unverified] and gives
    /// `None`.
    pub fn integer(&mut self, name: &str, errors: &mut ValidationErrors) -> Option<i64> {
        let text = self.string(name)?;
        match text.parse::<i64>() {
            Ok(value) => Some(value),
            Err(_) => {
                errors.unparsable(name, &text, "Member must be an integer");
                None
            }
        }
    }

    /// Takes a boolean member: `true` / `false` as the SDKs send them (ASCII
    /// case ignored, as Java's parser). Anything else records `Member must be
    /// a boolean` [choice] and gives `None`.
    pub fn boolean(&mut self, name: &str, errors: &mut ValidationErrors) -> Option<bool> {
        let text = self.string(name)?;
        if text.eq_ignore_ascii_case("true") {
            Some(true)
        } else if text.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            errors.unparsable(name, &text, "Member must be a boolean");
            None
        }
    }

    /// Takes a list of strings sent as `Name.member.N` (`aws-query-protocol.md`
    /// §2.2).
    ///
    /// - `None` when neither `Name` nor any `Name.member.N` is present;
    /// - `Name=` alone is the empty list (both SDKs send it for `[]`);
    /// - indexes are 1-based and contiguous, without sign or leading zeros; a
    ///   zero, gap, non-numeric or oversized index, `Name` with a non-empty
    ///   value, or `Name=` together with items is 400 `ValidationError`
    ///   [choice];
    /// - `Name.member.N.Sub` entries are not items: they stay unread and
    ///   [`QueryParams::finish`] rejects them.
    pub fn list(&mut self, name: &str) -> Result<Option<Vec<String>>, AwsError> {
        if !self.any_named_with_prefix(name) {
            // Absent altogether: the common case, answered without building the prefix.
            return Ok(None);
        }
        let prefix = format!("{name}.member.");
        let Some(has_items) = self.bare_list_marker(name, &prefix)? else {
            return Ok(None);
        };
        if !has_items {
            return Ok(Some(Vec::new()));
        }
        let mut slots: Vec<Option<String>> = Vec::new();
        let mut entries = Vec::new();
        for i in self.prefix_range(&prefix) {
            let Some(param) = self.params.get(i) else {
                continue;
            };
            let rest = param.name.get(prefix.len()..).unwrap_or_default();
            let index_text = rest.split('.').next().unwrap_or_default();
            let index = parse_index(index_text, &param.name)?;
            if index_text.len() == rest.len() {
                entries.push((i, index));
            }
        }
        let count = entries.len();
        slots.resize_with(count, || None);
        for (i, index) in entries {
            let Some(param) = self.params.get_mut(i) else {
                continue;
            };
            let slot = index
                .checked_sub(1)
                .and_then(|position| slots.get_mut(position))
                .ok_or_else(|| gap_error(name))?;
            param.used = true;
            *slot = Some(std::mem::take(&mut param.value));
        }
        slots
            .into_iter()
            .collect::<Option<Vec<String>>>()
            .map(Some)
            .ok_or_else(|| gap_error(name))
    }

    /// Takes a list of structures sent as `Name.member.N.Field`
    /// (`Tags.member.1.Key`, `PolicyArns.member.1.arn` — field names are
    /// case-sensitive, exactly as in the model).
    ///
    /// Returns one `Vec<Option<String>>` per item with the fields in the
    /// order of `fields` (`None` for a field the item lacks). Same rules as
    /// [`QueryParams::list`]: `None` when absent, `Name=` is the empty list,
    /// 1-based contiguous indexes; entries whose field is not in `fields` (or
    /// that have no field) stay unread for [`QueryParams::finish`] to reject.
    pub fn struct_list(
        &mut self,
        name: &str,
        fields: &[&str],
    ) -> Result<Option<Vec<Vec<Option<String>>>>, AwsError> {
        if !self.any_named_with_prefix(name) {
            // Absent altogether: the common case, answered without building the prefix.
            return Ok(None);
        }
        let prefix = format!("{name}.member.");
        let Some(has_items) = self.bare_list_marker(name, &prefix)? else {
            return Ok(None);
        };
        if !has_items {
            return Ok(Some(Vec::new()));
        }
        // (param position, item index, field position)
        let mut entries: Vec<(usize, usize, usize)> = Vec::new();
        let mut highest = 0usize;
        for i in self.prefix_range(&prefix) {
            let Some(param) = self.params.get(i) else {
                continue;
            };
            let rest = param.name.get(prefix.len()..).unwrap_or_default();
            let (index_text, field) = match rest.split_once('.') {
                Some((index_text, field)) => (index_text, Some(field)),
                None => (rest, None),
            };
            let index = parse_index(index_text, &param.name)?;
            let Some(position) = field.and_then(|f| fields.iter().position(|known| *known == f))
            else {
                continue;
            };
            highest = highest.max(index);
            entries.push((i, index, position));
        }
        // Every index in 1..=highest must have at least one entry; there are
        // at most `entries.len()` distinct indexes, so this bounds the
        // allocation by the number of parameters.
        if highest > entries.len() {
            return Err(gap_error(name));
        }
        let mut items: Vec<Vec<Option<String>>> = Vec::new();
        items.resize_with(highest, || vec![None; fields.len()]);
        let mut seen = vec![false; highest];
        for (i, index, position) in entries {
            let item_position = index.checked_sub(1).ok_or_else(|| gap_error(name))?;
            let (Some(param), Some(item), Some(seen_item)) = (
                self.params.get_mut(i),
                items.get_mut(item_position),
                seen.get_mut(item_position),
            ) else {
                return Err(gap_error(name));
            };
            let Some(field) = item.get_mut(position) else {
                return Err(gap_error(name));
            };
            param.used = true;
            *field = Some(std::mem::take(&mut param.value));
            *seen_item = true;
        }
        if seen.iter().all(|s| *s) {
            Ok(Some(items))
        } else {
            Err(gap_error(name))
        }
    }

    /// Ends decoding: any parameter no reader took, other than `Action` and
    /// `Version`, is 400 `InvalidParameterValue` naming it ([choice] fail
    /// closed; whether AWS rejects or ignores unknown names is unverified,
    /// and no official SDK sends one). The first such name in sorted order is
    /// reported.
    pub fn finish(self) -> Result<(), AwsError> {
        self.finish_unknown()
    }

    /// [`QueryParams::finish`] without consuming the parameters, for
    /// handlers that receive them by reference.
    pub fn finish_unknown(&self) -> Result<(), AwsError> {
        match self
            .params
            .iter()
            .find(|p| !p.used && !PROTOCOL_PARAMETERS.contains(&p.name.as_str()))
        {
            Some(param) => Err(AwsError::invalid_parameter_value(format!(
                "The parameter {} is not recognized",
                param.name
            ))),
            None => Ok(()),
        }
    }

    /// Every parameter as `(name, value)` for an audit record, with the value
    /// of each parameter for which `is_secret(name)` holds replaced by
    /// `<redacted>`, and the protocol parameters `Action`/`Version` left out.
    pub fn audit_pairs(&self, is_secret: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        self.params
            .iter()
            .filter(|p| !PROTOCOL_PARAMETERS.contains(&p.name.as_str()))
            .map(|p| {
                let value = if is_secret(&p.name) {
                    "<redacted>".to_owned()
                } else {
                    p.value.clone()
                };
                (p.name.clone(), value)
            })
            .collect()
    }

    /// Position of an unread parameter with exactly this name.
    fn find(&self, name: &str) -> Option<usize> {
        let i = self
            .params
            .binary_search_by(|p| p.name.as_str().cmp(name))
            .ok()?;
        match self.params.get(i) {
            Some(param) if !param.used => Some(i),
            _ => None,
        }
    }

    fn peek(&self, name: &str) -> Option<&str> {
        let i = self.find(name)?;
        self.params.get(i).map(|p| p.value.as_str())
    }

    /// Positions of the unread parameters whose names start with `prefix`.
    fn prefix_range(&self, prefix: &str) -> impl Iterator<Item = usize> + '_ {
        let start = self.params.partition_point(|p| p.name.as_str() < prefix);
        let end = start
            + self
                .params
                .get(start..)
                .unwrap_or_default()
                .partition_point(|p| p.name.starts_with(prefix));
        (start..end).filter(|&i| self.params.get(i).is_some_and(|p| !p.used))
    }

    /// Whether any parameter, used or not, has a name starting with `prefix`.
    fn any_named_with_prefix(&self, prefix: &str) -> bool {
        let start = self.params.partition_point(|p| p.name.as_str() < prefix);
        self.params
            .get(start)
            .is_some_and(|p| p.name.starts_with(prefix))
    }

    /// Handles the bare `Name` of a list: `Ok(None)` when the list is absent
    /// altogether, `Ok(Some(false))` for `Name=` (empty list, consumed),
    /// `Ok(Some(true))` when items follow.
    fn bare_list_marker(&mut self, name: &str, prefix: &str) -> Result<Option<bool>, AwsError> {
        let has_items = self.prefix_range(prefix).next().is_some();
        let Some(i) = self.find(name) else {
            return Ok(has_items.then_some(true));
        };
        let Some(param) = self.params.get_mut(i) else {
            return Ok(has_items.then_some(true));
        };
        if !param.value.is_empty() {
            return Err(AwsError::validation_message(format!(
                "The parameter {name} is a list: send its items as {name}.member.N"
            )));
        }
        if has_items {
            return Err(AwsError::validation_message(format!(
                "The parameter {name} is given both as an empty list and with items"
            )));
        }
        param.used = true;
        Ok(Some(false))
    }
}

/// A list index: decimal digits, no sign, no leading zero, at least 1, at
/// most [`MAX_PARAMETERS`] (a larger index cannot be contiguous).
fn parse_index(text: &str, full_name: &str) -> Result<usize, AwsError> {
    let valid = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0')
        && text.len() <= 4;
    let index = if valid {
        text.parse::<usize>().ok()
    } else {
        None
    };
    match index {
        Some(index) if (1..=MAX_PARAMETERS).contains(&index) => Ok(index),
        _ => Err(AwsError::validation_message(format!(
            "Invalid list index in parameter {full_name}: indexes start at 1 and are contiguous"
        ))),
    }
}

fn gap_error(name: &str) -> AwsError {
    AwsError::validation_message(format!(
        "The items of list {name} must be numbered from 1 without gaps"
    ))
}

fn split_pairs(input: &[u8], params: &mut Vec<Param>, pairs: &mut usize) -> Result<(), AwsError> {
    for pair in input.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        *pairs += 1;
        if *pairs > MAX_PARAMETERS {
            return Err(AwsError::malformed_query_string(format!(
                "The request has more than {MAX_PARAMETERS} parameters"
            )));
        }
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (
                pair.get(..eq).unwrap_or_default(),
                pair.get(eq + 1..).unwrap_or_default(),
            ),
            None => (pair, &[][..]),
        };
        // Each decoded byte takes at most three encoded ones.
        if raw_name.len() > 3 * MAX_NAME_LEN {
            return Err(name_too_long());
        }
        let name = form_decode(raw_name)?;
        if name.is_empty() {
            return Err(AwsError::malformed_query_string(
                "The request has a parameter with an empty name",
            ));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(name_too_long());
        }
        if AUTH_PARAMETERS.contains(&name.as_str()) {
            continue;
        }
        let value = form_decode(raw_value)?;
        params.push(Param {
            name,
            value,
            used: false,
        });
    }
    Ok(())
}

fn name_too_long() -> AwsError {
    AwsError::malformed_query_string(format!(
        "The request has a parameter name longer than {MAX_NAME_LEN} bytes"
    ))
}

/// `application/x-www-form-urlencoded` decoding to a strict UTF-8 string.
fn form_decode(raw: &[u8]) -> Result<String, AwsError> {
    let bytes = if raw.iter().any(|&b| b == b'+' || b == b'%') {
        let mut out = Vec::with_capacity(raw.len());
        let mut rest = raw;
        while let Some((&b, tail)) = rest.split_first() {
            rest = tail;
            match b {
                b'+' => out.push(b' '),
                b'%' => match tail {
                    [hi, lo, after @ ..] => match (hex_value(*hi), hex_value(*lo)) {
                        (Some(hi), Some(lo)) => {
                            out.push(hi << 4 | lo);
                            rest = after;
                        }
                        _ => out.push(b'%'),
                    },
                    _ => out.push(b'%'),
                },
                _ => out.push(b),
            }
        }
        out
    } else {
        raw.to_vec()
    };
    String::from_utf8(bytes).map_err(|_| {
        AwsError::malformed_query_string("The request contains a parameter that is not valid UTF-8")
    })
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSUME_ROLE_BODY: &str = "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fdeploy&RoleSessionName=ci-run-42&DurationSeconds=1800&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Fread-only&Tags.member.1.Key=team&Tags.member.1.Value=platform&TransitiveTagKeys.member.1=team&ExternalId=build-7731";

    fn parse(body: &str) -> QueryParams {
        QueryParams::parse(body.as_bytes(), "").unwrap()
    }

    #[test]
    fn decodes_the_reference_assume_role_body() {
        let mut q = parse(ASSUME_ROLE_BODY);
        let mut v = ValidationErrors::new();
        assert_eq!(q.action(), Some("AssumeRole"));
        assert_eq!(q.version(), Some("2011-06-15"));
        assert_eq!(
            q.string("RoleArn").as_deref(),
            Some("arn:aws:iam::000000000000:role/deploy")
        );
        assert_eq!(q.string("RoleSessionName").as_deref(), Some("ci-run-42"));
        assert_eq!(q.integer("DurationSeconds", &mut v), Some(1800));
        assert_eq!(
            q.struct_list("PolicyArns", &["arn"]).unwrap(),
            Some(vec![vec![Some(
                "arn:aws:iam::000000000000:policy/read-only".to_owned()
            )]])
        );
        assert_eq!(
            q.struct_list("Tags", &["Key", "Value"]).unwrap(),
            Some(vec![vec![
                Some("team".to_owned()),
                Some("platform".to_owned())
            ]])
        );
        assert_eq!(
            q.list("TransitiveTagKeys").unwrap(),
            Some(vec!["team".to_owned()])
        );
        assert_eq!(q.string("ExternalId").as_deref(), Some("build-7731"));
        assert!(v.is_empty());
        q.finish().unwrap();
    }

    #[test]
    fn plus_is_space_and_percent_2b_is_plus() {
        let mut q = parse("A=a+b%2Bc%20d&B=%E2%82%AC");
        assert_eq!(q.string("A").as_deref(), Some("a b+c d"));
        assert_eq!(q.string("B").as_deref(), Some("€"));
    }

    #[test]
    fn names_are_decoded_too() {
        let mut q = parse("Tags.member.1.Key=a&Tags%2Emember%2E1%2EValue=b");
        assert_eq!(
            q.struct_list("Tags", &["Key", "Value"]).unwrap(),
            Some(vec![vec![Some("a".to_owned()), Some("b".to_owned())]])
        );
    }

    #[test]
    fn broken_percent_escapes_are_kept_literally() {
        let mut q = parse("A=100%&B=%zz&C=%4");
        assert_eq!(q.string("A").as_deref(), Some("100%"));
        assert_eq!(q.string("B").as_deref(), Some("%zz"));
        assert_eq!(q.string("C").as_deref(), Some("%4"));
    }

    #[test]
    fn rejects_invalid_utf8_in_values_and_names() {
        for body in [&b"A=%FF"[..], b"A=\xff", b"%C3=x", b"A=%C3%28"] {
            let err = QueryParams::parse(body, "").unwrap_err();
            assert_eq!(err.code, "MalformedQueryString", "{body:?}");
            assert_eq!(err.status, 404);
        }
    }

    #[test]
    fn empty_pairs_are_ignored_and_bare_names_have_empty_values() {
        let mut q = parse("&&A&B=&");
        assert_eq!(q.len(), 2);
        assert_eq!(q.string("A").as_deref(), Some(""));
        assert_eq!(q.string("B").as_deref(), Some(""));
        assert!(parse("").is_empty());
    }

    #[test]
    fn value_may_contain_equals_signs() {
        let mut q = parse("A=b=c");
        assert_eq!(q.string("A").as_deref(), Some("b=c"));
    }

    #[test]
    fn rejects_empty_names() {
        let err = QueryParams::parse(b"=x", "").unwrap_err();
        assert_eq!(err.code, "MalformedQueryString");
    }

    #[test]
    fn merges_query_and_body() {
        let mut q =
            QueryParams::parse(b"RoleSessionName=s", "Action=AssumeRole&Version=2011-06-15")
                .unwrap();
        assert_eq!(q.action(), Some("AssumeRole"));
        assert_eq!(q.string("RoleSessionName").as_deref(), Some("s"));
    }

    #[test]
    fn rejects_duplicates_within_and_across_sources() {
        let cases: [(&[u8], &str); 4] = [
            (b"A=1&A=2", ""),
            (b"A=1&A=1", ""),
            (b"A=1", "A=2"),
            (b"Action=GetCallerIdentity", "Action=GetCallerIdentity"),
        ];
        for (body, query) in cases {
            let err = QueryParams::parse(body, query).unwrap_err();
            assert_eq!(err.code, "InvalidParameterCombination");
            assert_eq!(err.status, 400);
        }
        // Different spellings of the same decoded name are the same name.
        let err = QueryParams::parse(b"A%41=1&AA=1", "").unwrap_err();
        assert_eq!(err.message, "The parameter AA is specified more than once");
    }

    #[test]
    fn skips_sigv4_query_auth_parameters() {
        let query = "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20250301%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20250301T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=abc&X-Amz-Security-Token=tok";
        let q = QueryParams::parse(b"", query).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q.action(), Some("GetCallerIdentity"));
        q.finish().unwrap();
        // Exact spelling only: a lower-case variant is an unknown parameter.
        let q = QueryParams::parse(b"", "x-amz-signature=abc").unwrap();
        assert_eq!(q.finish().unwrap_err().code, "InvalidParameterValue");
    }

    #[test]
    fn caps_the_number_of_parameters() {
        let body: String = (0..MAX_PARAMETERS).map(|i| format!("P{i}=x&")).collect();
        assert_eq!(parse(&body).len(), MAX_PARAMETERS);
        let err = QueryParams::parse(format!("{body}Extra=1").as_bytes(), "").unwrap_err();
        assert_eq!(err.code, "MalformedQueryString");
        // Body and query count together.
        let err = QueryParams::parse(body.as_bytes(), "Extra=1").unwrap_err();
        assert_eq!(err.code, "MalformedQueryString");
    }

    #[test]
    fn caps_the_length_of_names() {
        let ok = format!("{}=x", "N".repeat(MAX_NAME_LEN));
        assert_eq!(parse(&ok).len(), 1);
        let long = format!("{}=x", "N".repeat(MAX_NAME_LEN + 1));
        assert_eq!(
            QueryParams::parse(long.as_bytes(), "").unwrap_err().code,
            "MalformedQueryString"
        );
        let encoded = format!("{}=x", "%4E".repeat(MAX_NAME_LEN + 1));
        assert_eq!(
            QueryParams::parse(encoded.as_bytes(), "").unwrap_err().code,
            "MalformedQueryString"
        );
    }

    #[test]
    fn string_reads_consume_the_parameter() {
        let mut q = parse("A=1");
        assert!(q.contains("A"));
        assert_eq!(q.string("A").as_deref(), Some("1"));
        assert_eq!(q.string("A"), None);
        assert!(!q.contains("A"));
        assert_eq!(q.string("Missing"), None);
        q.finish().unwrap();
    }

    #[test]
    fn integers_parse_or_record_a_validation_error() {
        let mut q = parse("A=3600&B=-5&C=abc&D=&E=1.5&F=99999999999999999999");
        let mut v = ValidationErrors::new();
        assert_eq!(q.integer("A", &mut v), Some(3600));
        assert_eq!(q.integer("B", &mut v), Some(-5));
        assert_eq!(q.integer("C", &mut v), None);
        assert_eq!(q.integer("D", &mut v), None);
        assert_eq!(q.integer("E", &mut v), None);
        assert_eq!(q.integer("F", &mut v), None);
        assert_eq!(q.integer("Absent", &mut v), None);
        assert_eq!(v.len(), 4);
        assert_eq!(
            v.violations().first().map(String::as_str),
            Some("Value 'abc' at 'c' failed to satisfy constraint: Member must be an integer")
        );
        // The member was present: `required` does not add "must not be null".
        let _ = v.required("C", None::<i64>);
        assert_eq!(v.len(), 4);
        q.finish().unwrap();
    }

    #[test]
    fn booleans_accept_true_and_false_only() {
        let mut q = parse("A=true&B=false&C=TRUE&D=yes&E=1");
        let mut v = ValidationErrors::new();
        assert_eq!(q.boolean("A", &mut v), Some(true));
        assert_eq!(q.boolean("B", &mut v), Some(false));
        assert_eq!(q.boolean("C", &mut v), Some(true));
        assert_eq!(q.boolean("D", &mut v), None);
        assert_eq!(q.boolean("E", &mut v), None);
        assert_eq!(
            v.violations(),
            [
                "Value 'yes' at 'd' failed to satisfy constraint: Member must be a boolean",
                "Value '1' at 'e' failed to satisfy constraint: Member must be a boolean",
            ]
        );
    }

    #[test]
    fn lists_are_ordered_by_numeric_index() {
        let body: String = (1..=12)
            .rev()
            .map(|i| format!("K.member.{i}=v{i}&"))
            .collect();
        let mut q = parse(&body);
        let expected: Vec<String> = (1..=12).map(|i| format!("v{i}")).collect();
        assert_eq!(q.list("K").unwrap(), Some(expected));
        q.finish().unwrap();
    }

    #[test]
    fn absent_list_is_none_and_bare_name_is_empty_list() {
        let mut q = parse("Tags=&TagKeys=");
        assert_eq!(q.list("Other").unwrap(), None);
        assert_eq!(q.struct_list("Other", &["Key"]).unwrap(), None);
        assert_eq!(
            q.struct_list("Tags", &["Key", "Value"]).unwrap(),
            Some(vec![])
        );
        assert_eq!(q.list("TagKeys").unwrap(), Some(vec![]));
        q.finish().unwrap();
    }

    #[test]
    fn rejects_bad_list_indexes() {
        for body in [
            "K.member.0=a",
            "K.member.2=a",
            "K.member.1=a&K.member.3=c",
            "K.member.01=a",
            "K.member.-1=a",
            "K.member.+1=a",
            "K.member.x=a",
            "K.member.=a",
            "K.member.1001=a",
            "K.member.99999999999999999999999=a",
        ] {
            let err = parse(body).list("K").unwrap_err();
            assert_eq!(err.code, "ValidationError", "{body}");
            assert_eq!(err.status, 400);
        }
    }

    #[test]
    fn rejects_bad_struct_list_indexes() {
        for body in [
            "Tags.member.0.Key=a",
            "Tags.member.2.Key=a",
            "Tags.member.1.Key=a&Tags.member.3.Key=c",
            "Tags.member.01.Key=a",
            "Tags.member.x.Key=a",
            "Tags.member.4294967297.Key=a",
            "Tags.member.2.Key=a&Tags.member.2.Value=b",
        ] {
            let err = parse(body)
                .struct_list("Tags", &["Key", "Value"])
                .unwrap_err();
            assert_eq!(err.code, "ValidationError", "{body}");
        }
    }

    #[test]
    fn bare_list_name_with_a_value_or_with_items_is_rejected() {
        let err = parse("K=a").list("K").unwrap_err();
        assert_eq!(err.code, "ValidationError");
        let err = parse("K=&K.member.1=a").list("K").unwrap_err();
        assert_eq!(err.code, "ValidationError");
        let err = parse("Tags=x").struct_list("Tags", &["Key"]).unwrap_err();
        assert_eq!(err.code, "ValidationError");
    }

    #[test]
    fn struct_list_items_may_lack_fields() {
        let mut q = parse("Tags.member.2.Key=b&Tags.member.1.Value=x&Tags.member.2.Value=y");
        assert_eq!(
            q.struct_list("Tags", &["Key", "Value"]).unwrap(),
            Some(vec![
                vec![None, Some("x".to_owned())],
                vec![Some("b".to_owned()), Some("y".to_owned())],
            ])
        );
        q.finish().unwrap();
    }

    #[test]
    fn struct_list_field_names_are_case_sensitive() {
        // `arn` is lower case in STS's PolicyDescriptorType.
        let mut q = parse("PolicyArns.member.1.Arn=x");
        assert_eq!(q.struct_list("PolicyArns", &["arn"]).unwrap(), Some(vec![]));
        assert_eq!(q.finish().unwrap_err().code, "InvalidParameterValue");
        let mut q = parse("PolicyArns.member.1.arn=x&PolicyArns.member.1.Arn=y");
        assert_eq!(
            q.struct_list("PolicyArns", &["arn"]).unwrap(),
            Some(vec![vec![Some("x".to_owned())]])
        );
        let err = q.finish().unwrap_err();
        assert_eq!(err.code, "InvalidParameterValue");
        assert_eq!(
            err.message,
            "The parameter PolicyArns.member.1.Arn is not recognized"
        );
    }

    #[test]
    fn unknown_fields_and_sub_members_are_left_for_finish() {
        let mut q = parse("K.member.1=a&K.member.1.Sub=b");
        assert_eq!(q.list("K").unwrap(), Some(vec!["a".to_owned()]));
        assert!(q.finish().unwrap_err().message.contains("K.member.1.Sub"));

        let mut q = parse("Tags.member.1.Key=a&Tags.member.1=b");
        assert!(q.struct_list("Tags", &["Key", "Value"]).unwrap().is_some());
        assert!(q.finish().unwrap_err().message.contains("Tags.member.1"));
    }

    #[test]
    fn list_prefix_does_not_capture_similar_names() {
        let mut q = parse("Tag.member.1=a&Tags.member.1=b&TagsX.member.1=c");
        assert_eq!(q.list("Tags").unwrap(), Some(vec!["b".to_owned()]));
        assert_eq!(q.list("Tag").unwrap(), Some(vec!["a".to_owned()]));
        assert_eq!(q.list("TagsX").unwrap(), Some(vec!["c".to_owned()]));
        q.finish().unwrap();
    }

    #[test]
    fn a_list_read_twice_is_absent_the_second_time() {
        let mut q = parse("K.member.1=a");
        assert!(q.list("K").unwrap().is_some());
        assert_eq!(q.list("K").unwrap(), None);
    }

    #[test]
    fn finish_rejects_unknown_parameters_but_not_action_and_version() {
        let q = parse("Action=GetCallerIdentity&Version=2011-06-15");
        q.finish().unwrap();
        let mut q = parse("Action=AssumeRole&RoleArn=x&Bogus=1");
        let _ = q.string("RoleArn");
        let err = q.finish().unwrap_err();
        assert_eq!(err.code, "InvalidParameterValue");
        assert_eq!(err.status, 400);
        assert_eq!(err.message, "The parameter Bogus is not recognized");
    }

    #[test]
    fn debug_shows_names_but_not_values() {
        let q = parse("WebIdentityToken=secret-token-value&Action=X");
        let shown = format!("{q:?}");
        assert!(shown.contains("WebIdentityToken"));
        assert!(!shown.contains("secret-token-value"));
    }

    #[test]
    fn round_trips_botocore_style_encoding() {
        let values = ["a b", "a+b", "x=y&z", "€ ü /:", "%41", "line\nbreak", ""];
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (i, value) in values.iter().enumerate() {
            ser.append_pair(&format!("P{i}"), value);
        }
        let body = ser.finish();
        let mut q = parse(&body);
        for (i, value) in values.iter().enumerate() {
            assert_eq!(q.string(&format!("P{i}")).as_deref(), Some(*value));
        }
    }

    #[test]
    fn round_trips_rust_sdk_style_encoding() {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        let value = "a b+c/d:é";
        let body = format!("V={}", utf8_percent_encode(value, UNRESERVED));
        assert_eq!(body, "V=a%20b%2Bc%2Fd%3A%C3%A9");
        assert_eq!(parse(&body).string("V").as_deref(), Some(value));
    }
}
