//! XML responses and error envelopes of the query protocol
//! (`aws-query-protocol.md` §3, §4).
//!
//! Output is built by appending to one `String` with escaping — no DOM, no
//! indentation (whitespace between elements is legal but useless, and
//! whitespace *inside* a text element would change the value clients see).

use std::fmt;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::AwsError;

/// RFC 3986 unreserved characters `A-Z a-z 0-9 - _ . ~` stay; every other
/// byte is `%XX` (upper-case hex), so `+` becomes `%2B` and space `%20`.
const RFC3986_RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Builder of one successful query-protocol response (`aws-query-protocol.md`
/// §3.1): `<{Action}Response xmlns="…">`, then `<{Action}Result>` as the
/// **first child** (the Rust SDK reads only the first child), then
/// `<ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>`.
///
/// Element names are trusted (they come from code, not from clients) and are
/// written as given; text is escaped. `Debug` shows the action only: the
/// body may hold secret keys and session tokens.
pub struct XmlWriter {
    buf: String,
    action: String,
    /// Where `<{Action}Result>` starts and where its content starts, when
    /// the operation has an output shape.
    result: Option<(usize, usize)>,
}

impl fmt::Debug for XmlWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XmlWriter")
            .field("action", &self.action)
            .field("len", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl XmlWriter {
    /// Opens `<{action}Response xmlns="{namespace}"><{action}Result>` for an
    /// operation with an output shape. An operation whose output has no
    /// members writes nothing more and gets the empty `<{action}Result/>`
    /// AWS sends (e.g. IAM `UpdateRole`).
    pub fn response(action: &str, namespace: &str) -> Self {
        let mut writer = XmlWriter::response_without_result(action, namespace);
        let tag_start = writer.buf.len();
        writer.buf.push('<');
        writer.buf.push_str(action);
        writer.buf.push_str("Result>");
        writer.result = Some((tag_start, writer.buf.len()));
        writer
    }

    /// Opens `<{action}Response xmlns="{namespace}">` for an operation with
    /// no output shape (IAM `DeleteUser`, `TagRole`, `PutRolePolicy`, …):
    /// the body is only the response metadata, no Result element.
    pub fn response_without_result(action: &str, namespace: &str) -> Self {
        let mut buf = String::with_capacity(1024);
        buf.push('<');
        buf.push_str(action);
        buf.push_str("Response xmlns=\"");
        escape_into(&mut buf, namespace);
        buf.push_str("\">");
        XmlWriter {
            buf,
            action: action.to_owned(),
            result: None,
        }
    }

    /// Opens a structure or list element: `<name>`.
    pub fn start(&mut self, name: &str) {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
    }

    /// Closes an element: `</name>`.
    pub fn end(&mut self, name: &str) {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
    }

    /// A string member: `<name>escaped value</name>`, with no added
    /// whitespace.
    pub fn text(&mut self, name: &str, value: &str) {
        self.start(name);
        escape_into(&mut self.buf, value);
        self.end(name);
    }

    /// An optional string member: omitted when `None` (AWS omits absent
    /// optional members rather than sending empty elements).
    pub fn text_opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.text(name, value);
        }
    }

    /// An integer member in decimal.
    pub fn number(&mut self, name: &str, value: i64) {
        self.start(name);
        // Writing to a String cannot fail.
        let _ = write!(self.buf, "{value}");
        self.end(name);
    }

    /// An optional integer member, omitted when `None`.
    pub fn number_opt(&mut self, name: &str, value: Option<i64>) {
        if let Some(value) = value {
            self.number(name, value);
        }
    }

    /// A boolean member: `true` / `false` (botocore maps only the exact text
    /// `true` to True).
    pub fn boolean(&mut self, name: &str, value: bool) {
        self.text(name, if value { "true" } else { "false" });
    }

    /// A timestamp member, ISO 8601 UTC ending in `Z` (see [`iso8601`]).
    pub fn timestamp(&mut self, name: &str, t: SystemTime) {
        self.start(name);
        write_iso8601(&mut self.buf, t);
        self.end(name);
    }

    /// An optional timestamp member, omitted when `None`.
    pub fn timestamp_opt(&mut self, name: &str, t: Option<SystemTime>) {
        if let Some(t) = t {
            self.timestamp(name, t);
        }
    }

    /// An IAM `policyDocumentType` member (`AssumeRolePolicyDocument`,
    /// `PolicyDocument`, `Document`): the JSON text as stored, RFC 3986
    /// percent-encoded (`aws-query-protocol.md` §3.3; see
    /// [`encode_policy_document`]). The encoded text needs no XML escaping.
    pub fn policy_document(&mut self, name: &str, json: &str) {
        self.start(name);
        for chunk in utf8_percent_encode(json, RFC3986_RESERVED) {
            self.buf.push_str(chunk);
        }
        self.end(name);
    }

    /// An empty element `<name/>`: an empty list (so clients see `[]`
    /// instead of a missing key) or an empty structure (`<RoleLastUsed/>`).
    pub fn empty(&mut self, name: &str) {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push_str("/>");
    }

    /// An empty list `<name/>`; the same as [`XmlWriter::empty`], named for
    /// the required lists (`Users`, `Roles`, `Tags`, …) it is used for.
    pub fn empty_list(&mut self, name: &str) {
        self.empty(name);
    }

    /// A list of strings: `<name><member>a</member>…</name>`, or `<name/>`
    /// when empty. Lists of structures use `start(name)`, then
    /// `start("member")` … `end("member")` per item, then `end(name)`.
    pub fn string_list<I, S>(&mut self, name: &str, items: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let tag_start = self.buf.len();
        self.start(name);
        let content_start = self.buf.len();
        for item in items {
            self.text("member", item.as_ref());
        }
        if self.buf.len() == content_start {
            self.buf.truncate(tag_start);
            self.empty(name);
        } else {
            self.end(name);
        }
    }

    /// One entry of a map: `<entry><key>k</key><value>v</value></entry>`
    /// (IAM `SummaryMap`); wrap entries in `start(name)` / `end(name)`.
    pub fn map_entry(&mut self, key: &str, value: &str) {
        self.start("entry");
        self.text("key", key);
        self.text("value", value);
        self.end("entry");
    }

    /// Closes the Result element (or writes `<{Action}Result/>` if nothing
    /// was written), appends `ResponseMetadata/RequestId` and closes the
    /// root. The same id goes in the `x-amzn-RequestId` header (the Rust SDK
    /// reads it only from there).
    pub fn finish(mut self, request_id: &str) -> String {
        if let Some((tag_start, content_start)) = self.result {
            if self.buf.len() == content_start {
                self.buf.truncate(tag_start);
                self.buf.push('<');
                self.buf.push_str(&self.action);
                self.buf.push_str("Result/>");
            } else {
                self.buf.push_str("</");
                self.buf.push_str(&self.action);
                self.buf.push_str("Result>");
            }
        }
        self.buf.push_str("<ResponseMetadata><RequestId>");
        escape_into(&mut self.buf, request_id);
        self.buf.push_str("</RequestId></ResponseMetadata></");
        self.buf.push_str(&self.action);
        self.buf.push_str("Response>");
        self.buf
    }
}

/// The error envelope (`aws-query-protocol.md` §4.1):
/// `<ErrorResponse xmlns="…"><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`,
/// `RequestId` a direct child of the root. Send `err.status` as the HTTP
/// status and the id in `x-amzn-RequestId` too.
pub fn error_xml(namespace: &str, err: &AwsError, request_id: &str) -> String {
    let mut buf = String::with_capacity(
        160 + namespace.len() + err.code.len() + err.message.len() + request_id.len(),
    );
    buf.push_str("<ErrorResponse xmlns=\"");
    escape_into(&mut buf, namespace);
    buf.push_str("\"><Error><Type>");
    buf.push_str(err.fault.as_str());
    buf.push_str("</Type><Code>");
    escape_into(&mut buf, &err.code);
    buf.push_str("</Code><Message>");
    escape_into(&mut buf, &err.message);
    buf.push_str("</Message></Error><RequestId>");
    escape_into(&mut buf, request_id);
    buf.push_str("</RequestId></ErrorResponse>");
    buf
}

/// ISO 8601 UTC with whole seconds, `YYYY-MM-DDThh:mm:ssZ` — always `Z`, as
/// the Rust SDK rejects offsets (`aws-query-protocol.md` §3.2). Sub-second
/// parts are truncated; times outside years 0000–9999 are clamped.
pub fn iso8601(t: SystemTime) -> String {
    let mut out = String::with_capacity(20);
    write_iso8601(&mut out, t);
    out
}

/// The RFC 3986 percent-encoding IAM applies to policy documents in
/// responses (`aws-query-protocol.md` §3.3): every byte outside
/// `A-Z a-z 0-9 - _ . ~` becomes `%XX`, so no bare `+` is ever emitted and
/// botocore's `unquote` as well as Go's `QueryUnescape` restore the text.
pub fn encode_policy_document(json: &str) -> String {
    utf8_percent_encode(json, RFC3986_RESERVED).to_string()
}

/// Seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z since the epoch.
const MIN_UNIX: i64 = -62_167_219_200;
const MAX_UNIX: i64 = 253_402_300_799;

fn write_iso8601(buf: &mut String, t: SystemTime) {
    let seconds = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let d = before.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            // Floor: 0.5 s before the epoch is 1969-12-31T23:59:59Z.
            let whole = if d.subsec_nanos() > 0 {
                whole.saturating_add(1)
            } else {
                whole
            };
            whole.saturating_neg()
        }
    };
    let dt = time::OffsetDateTime::from_unix_timestamp(seconds.clamp(MIN_UNIX, MAX_UNIX))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // Digits pushed directly: `write!` with width padding was a visible share of a response.
    let (year, month, day) = dt.to_calendar_date();
    let (hour, minute, second) = dt.to_hms();
    // INVARIANT: the clamp above keeps the year within 0..=9999.
    push_digits(buf, u32::try_from(year).unwrap_or(0), 4);
    buf.push('-');
    push_digits(buf, u32::from(u8::from(month)), 2);
    buf.push('-');
    push_digits(buf, u32::from(day), 2);
    buf.push('T');
    push_digits(buf, u32::from(hour), 2);
    buf.push(':');
    push_digits(buf, u32::from(minute), 2);
    buf.push(':');
    push_digits(buf, u32::from(second), 2);
    buf.push('Z');
}

/// Appends the last `width` decimal digits of `value`, zero-padded.
fn push_digits(buf: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        buf.push(char::from_digit(digit, 10).unwrap_or('0'));
    }
}

/// Appends `text` escaped for XML character data and attribute values.
///
/// `& < > " '` become entities. `\r` becomes `&#xD;` (a parser would turn a
/// raw one into `\n`). Characters XML 1.0 forbids even as references (C0
/// controls other than tab, line feed and carriage return, and U+FFFE,
/// U+FFFF) become U+FFFD, so echoed client input cannot make a response
/// unparsable.
fn escape_into(buf: &mut String, text: &str) {
    let bytes = text.as_bytes();
    // Fast path: most values (ids, ARNs, tokens) need no escaping at all.
    // The scan is a branch-free fold so the compiler vectorizes it (session tokens are long).
    let needs_escaping = bytes.iter().fold(false, |seen, &b| {
        seen | (b < 0x20)
            | (b == b'&')
            | (b == b'<')
            | (b == b'>')
            | (b == b'"')
            | (b == b'\'')
            | (b == 0xEF)
    });
    if !needs_escaping {
        buf.push_str(text);
        return;
    }
    let mut copied = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let (replacement, width) = match b {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&apos;", 1),
            b'\r' => ("&#xD;", 1),
            b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            0x00..=0x1F => ("\u{FFFD}", 1),
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
            0xEF if matches!(bytes.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) => ("\u{FFFD}", 3),
            _ => {
                i += 1;
                continue;
            }
        };
        // INVARIANT: `copied` and `i` sit on ASCII bytes or at the start of
        // a 3-byte sequence, so both are char boundaries.
        buf.push_str(text.get(copied..i).unwrap_or_default());
        buf.push_str(replacement);
        i += width;
        copied = i;
    }
    buf.push_str(text.get(copied..).unwrap_or_default());
}

#[cfg(test)]
pub(crate) mod tiny_xml {
    //! A minimal, strict XML reader for tests: elements, attributes, text,
    //! the five entities and numeric references. No DTD, comments or
    //! declarations. Fails on any malformation, so a test that parses our
    //! output proves it is well-formed at least for this subset.

    #[derive(Debug, Clone, PartialEq)]
    pub enum Node {
        Element(Element),
        Text(String),
    }

    #[derive(Debug, Clone, PartialEq)]
    pub struct Element {
        pub name: String,
        pub attrs: Vec<(String, String)>,
        pub children: Vec<Node>,
    }

    impl Element {
        pub fn elements(&self) -> impl Iterator<Item = &Element> {
            self.children.iter().filter_map(|n| match n {
                Node::Element(e) => Some(e),
                Node::Text(_) => None,
            })
        }

        pub fn child(&self, name: &str) -> Option<&Element> {
            self.elements().find(|e| e.name == name)
        }

        pub fn text(&self) -> String {
            self.children
                .iter()
                .map(|n| match n {
                    Node::Text(t) => t.as_str(),
                    Node::Element(_) => "",
                })
                .collect()
        }
    }

    pub fn parse(input: &str) -> Result<Element, String> {
        let mut p = Parser { s: input, pos: 0 };
        p.skip_ws();
        let root = p.element()?;
        p.skip_ws();
        if p.pos != input.len() {
            return Err(format!("trailing data at {}", p.pos));
        }
        Ok(root)
    }

    struct Parser<'a> {
        s: &'a str,
        pos: usize,
    }

    impl Parser<'_> {
        fn rest(&self) -> &str {
            &self.s[self.pos..]
        }

        fn skip_ws(&mut self) {
            let trimmed = self.rest().trim_start_matches([' ', '\t', '\r', '\n']);
            self.pos = self.s.len() - trimmed.len();
        }

        fn expect(&mut self, token: &str) -> Result<(), String> {
            if self.rest().starts_with(token) {
                self.pos += token.len();
                Ok(())
            } else {
                Err(format!("expected {token:?} at {}", self.pos))
            }
        }

        fn name(&mut self) -> Result<String, String> {
            let len = self
                .rest()
                .find(|c: char| !(c.is_alphanumeric() || "_-.:".contains(c)))
                .unwrap_or(self.rest().len());
            if len == 0 {
                return Err(format!("expected a name at {}", self.pos));
            }
            let name = self.rest()[..len].to_owned();
            self.pos += len;
            Ok(name)
        }

        fn element(&mut self) -> Result<Element, String> {
            self.expect("<")?;
            let name = self.name()?;
            let mut attrs = Vec::new();
            loop {
                self.skip_ws();
                if self.rest().starts_with("/>") {
                    self.pos += 2;
                    return Ok(Element {
                        name,
                        attrs,
                        children: vec![],
                    });
                }
                if self.rest().starts_with('>') {
                    self.pos += 1;
                    break;
                }
                let attr = self.name()?;
                self.expect("=\"")?;
                let end = self.rest().find('"').ok_or("unterminated attribute")?;
                let raw = self.rest()[..end].to_owned();
                self.pos += end + 1;
                attrs.push((attr, unescape(&raw)?));
            }
            let mut children = Vec::new();
            loop {
                if self.rest().starts_with("</") {
                    self.pos += 2;
                    let close = self.name()?;
                    if close != name {
                        return Err(format!("</{close}> closes <{name}>"));
                    }
                    self.expect(">")?;
                    return Ok(Element {
                        name,
                        attrs,
                        children,
                    });
                }
                if self.rest().starts_with('<') {
                    children.push(Node::Element(self.element()?));
                    continue;
                }
                let end = self.rest().find('<').ok_or("unterminated element")?;
                let raw = &self.rest()[..end];
                if raw.contains('>') {
                    return Err("raw > in text".to_owned());
                }
                children.push(Node::Text(unescape(raw)?));
                self.pos += end;
            }
        }
    }

    fn unescape(raw: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            let before = &rest[..amp];
            if before.contains(['<', '"']) {
                return Err("raw markup in text".to_owned());
            }
            check_chars(before)?;
            out.push_str(before);
            let semi = rest[amp..].find(';').ok_or("unterminated reference")?;
            let entity = &rest[amp + 1..amp + semi];
            let c = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let code = if let Some(hex) = entity.strip_prefix("#x") {
                        u32::from_str_radix(hex, 16)
                    } else if let Some(dec) = entity.strip_prefix('#') {
                        dec.parse()
                    } else {
                        return Err(format!("unknown entity &{entity};"));
                    };
                    let c = code.ok().and_then(char::from_u32).ok_or("bad reference")?;
                    check_chars(&c.to_string())?;
                    c
                }
            };
            out.push(c);
            rest = &rest[amp + semi + 1..];
        }
        check_chars(rest)?;
        // A parser normalises raw line ends.
        out.push_str(&rest.replace("\r\n", "\n").replace('\r', "\n"));
        Ok(out)
    }

    /// XML 1.0 `Char`.
    fn check_chars(s: &str) -> Result<(), String> {
        match s.chars().find(|&c| {
            !(matches!(c, '\t' | '\n' | '\r')
                || ('\u{20}'..='\u{D7FF}').contains(&c)
                || ('\u{E000}'..='\u{FFFD}').contains(&c)
                || c >= '\u{10000}')
        }) {
            Some(c) => Err(format!("character {c:?} not allowed in XML")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::tiny_xml::{self, Node};
    use super::*;
    use crate::{IAM_NAMESPACE, STS_NAMESPACE};

    /// Removes the indentation between elements of a reference example.
    fn compact(pretty: &str) -> String {
        pretty.lines().map(str::trim).collect::<Vec<_>>().concat()
    }

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn assume_role_response_matches_the_reference_example() {
        let mut w = XmlWriter::response("AssumeRole", STS_NAMESPACE);
        w.start("Credentials");
        w.text("AccessKeyId", "ASIAQAAAAAAAEXAMPLE7");
        w.text(
            "SecretAccessKey",
            "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2Fy",
        );
        w.text("SessionToken", "TWF5Zmx5U2Vzc2lvblRva2VuRXhhbXBsZS4uLg==");
        w.timestamp("Expiration", at(1_740_832_200));
        w.end("Credentials");
        w.start("AssumedRoleUser");
        w.text("AssumedRoleId", "AROAQAAAAAAAEXAMPLE12:ci-run-42");
        w.text(
            "Arn",
            "arn:aws:sts::000000000000:assumed-role/deploy/ci-run-42",
        );
        w.end("AssumedRoleUser");
        w.number("PackedPolicySize", 7);
        let xml = w.finish("4b8e0c52-7a1d-4f0e-9c3b-2f6d1e9a0b11");
        let expected = compact(
            r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIAQAAAAAAAEXAMPLE7</AccessKeyId>
      <SecretAccessKey>Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2Fy</SecretAccessKey>
      <SessionToken>TWF5Zmx5U2Vzc2lvblRva2VuRXhhbXBsZS4uLg==</SessionToken>
      <Expiration>2025-03-01T12:30:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROAQAAAAAAAEXAMPLE12:ci-run-42</AssumedRoleId>
      <Arn>arn:aws:sts::000000000000:assumed-role/deploy/ci-run-42</Arn>
    </AssumedRoleUser>
    <PackedPolicySize>7</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>4b8e0c52-7a1d-4f0e-9c3b-2f6d1e9a0b11</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#,
        );
        assert_eq!(xml, expected);

        let root = tiny_xml::parse(&xml).unwrap();
        assert_eq!(root.name, "AssumeRoleResponse");
        assert_eq!(root.attrs, [("xmlns".to_owned(), STS_NAMESPACE.to_owned())]);
        let children: Vec<_> = root.elements().map(|e| e.name.as_str()).collect();
        assert_eq!(children, ["AssumeRoleResult", "ResponseMetadata"]);
        let token = root
            .child("AssumeRoleResult")
            .and_then(|r| r.child("Credentials"))
            .and_then(|c| c.child("SessionToken"))
            .unwrap();
        assert_eq!(token.text(), "TWF5Zmx5U2Vzc2lvblRva2VuRXhhbXBsZS4uLg==");
    }

    #[test]
    fn get_role_and_tag_role_match_the_reference_examples() {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;
        let mut w = XmlWriter::response("GetRole", IAM_NAMESPACE);
        w.start("Role");
        w.text("Path", "/");
        w.text("RoleName", "deploy");
        w.text("RoleId", "AROAQAAAAAAAEXAMPLE12");
        w.text("Arn", "arn:aws:iam::000000000000:role/deploy");
        w.timestamp("CreateDate", at(1_738_396_800));
        w.policy_document("AssumeRolePolicyDocument", trust);
        w.number("MaxSessionDuration", 3600);
        w.start("Tags");
        w.start("member");
        w.text("Key", "team");
        w.text("Value", "platform");
        w.end("member");
        w.end("Tags");
        w.empty("RoleLastUsed");
        w.end("Role");
        let xml = w.finish("…");
        let expected = compact(
            r#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetRoleResult>
    <Role>
      <Path>/</Path>
      <RoleName>deploy</RoleName>
      <RoleId>AROAQAAAAAAAEXAMPLE12</RoleId>
      <Arn>arn:aws:iam::000000000000:role/deploy</Arn>
      <CreateDate>2025-02-01T08:00:00Z</CreateDate>
      <AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22AWS%22%3A%22arn%3Aaws%3Aiam%3A%3A000000000000%3Aroot%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D</AssumeRolePolicyDocument>
      <MaxSessionDuration>3600</MaxSessionDuration>
      <Tags>
        <member><Key>team</Key><Value>platform</Value></member>
      </Tags>
      <RoleLastUsed/>
    </Role>
  </GetRoleResult>
  <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
</GetRoleResponse>"#,
        );
        assert_eq!(xml, expected);
        tiny_xml::parse(&xml).unwrap();

        let xml = XmlWriter::response_without_result("TagRole", IAM_NAMESPACE).finish("…");
        let expected = compact(
            r#"<TagRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
</TagRoleResponse>"#,
        );
        assert_eq!(xml, expected);
    }

    #[test]
    fn empty_output_shape_gets_an_empty_result_element_first() {
        let xml = XmlWriter::response("UpdateRole", IAM_NAMESPACE).finish("id-1");
        assert_eq!(
            xml,
            "<UpdateRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <UpdateRoleResult/><ResponseMetadata><RequestId>id-1</RequestId>\
             </ResponseMetadata></UpdateRoleResponse>"
        );
        let root = tiny_xml::parse(&xml).unwrap();
        assert_eq!(
            root.elements().next().map(|e| e.name.as_str()),
            Some("UpdateRoleResult")
        );
    }

    #[test]
    fn text_escapes_markup_characters() {
        let mut w = XmlWriter::response("X", STS_NAMESPACE);
        w.text("V", "a & b < c > d \" e ' f");
        let xml = w.finish("r");
        assert!(xml.contains("<V>a &amp; b &lt; c &gt; d &quot; e &apos; f</V>"));
        let root = tiny_xml::parse(&xml).unwrap();
        let v = root.child("XResult").and_then(|r| r.child("V")).unwrap();
        assert_eq!(v.text(), "a & b < c > d \" e ' f");
    }

    #[test]
    fn text_keeps_whitespace_exactly_and_adds_none() {
        let mut w = XmlWriter::response("X", STS_NAMESPACE);
        w.text("A", " lead and trail ");
        w.text("B", "tab\there\nline\r\nend");
        let xml = w.finish("r");
        assert!(xml.contains("<A> lead and trail </A>"));
        let root = tiny_xml::parse(&xml).unwrap();
        let result = root.child("XResult").unwrap();
        assert_eq!(result.child("A").unwrap().text(), " lead and trail ");
        // `\r` survives a parser's line-end normalisation as `&#xD;`.
        assert_eq!(result.child("B").unwrap().text(), "tab\there\nline\r\nend");
        // No whitespace between elements either.
        assert!(!xml.contains(">\n") && !xml.contains("> <"));
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced() {
        let mut w = XmlWriter::response("X", STS_NAMESPACE);
        w.text(
            "A",
            "nul\u{0}bel\u{7}esc\u{1b}nonchar\u{FFFE}\u{FFFF}ok\u{FFFD}é😀",
        );
        let xml = w.finish("r");
        let root = tiny_xml::parse(&xml).unwrap();
        assert_eq!(
            root.child("XResult")
                .and_then(|r| r.child("A"))
                .unwrap()
                .text(),
            "nul\u{FFFD}bel\u{FFFD}esc\u{FFFD}nonchar\u{FFFD}\u{FFFD}ok\u{FFFD}é😀"
        );
    }

    #[test]
    fn scalars_lists_and_maps_serialise_as_the_protocol_says() {
        let mut w = XmlWriter::response("X", IAM_NAMESPACE);
        w.boolean("IsTruncated", false);
        w.boolean("IsDefaultVersion", true);
        w.number("Negative", -3);
        w.text_opt("Absent", None);
        w.text_opt("Present", Some("p"));
        w.number_opt("NoNumber", None);
        w.number_opt("SomeNumber", Some(0));
        w.timestamp_opt("NoTime", None);
        w.timestamp_opt("SomeTime", Some(at(0)));
        w.string_list("PolicyNames", ["a", "b&c"]);
        w.string_list("Empty", Vec::<String>::new());
        w.empty_list("Users");
        w.start("SummaryMap");
        w.map_entry("Users", "3");
        w.end("SummaryMap");
        let xml = w.finish("r");
        assert_eq!(
            xml,
            "<XResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><XResult>\
             <IsTruncated>false</IsTruncated><IsDefaultVersion>true</IsDefaultVersion>\
             <Negative>-3</Negative><Present>p</Present><SomeNumber>0</SomeNumber>\
             <SomeTime>1970-01-01T00:00:00Z</SomeTime>\
             <PolicyNames><member>a</member><member>b&amp;c</member></PolicyNames>\
             <Empty/><Users/>\
             <SummaryMap><entry><key>Users</key><value>3</value></entry></SummaryMap>\
             </XResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\
             </XResponse>"
        );
        tiny_xml::parse(&xml).unwrap();
    }

    #[test]
    fn request_id_and_namespace_are_escaped() {
        let xml = XmlWriter::response_without_result("X", "a\"b").finish("<id>");
        assert!(xml.starts_with("<XResponse xmlns=\"a&quot;b\">"));
        assert!(xml.contains("<RequestId>&lt;id&gt;</RequestId>"));
        let root = tiny_xml::parse(&xml).unwrap();
        assert_eq!(root.attrs, [("xmlns".to_owned(), "a\"b".to_owned())]);
    }

    #[test]
    fn error_envelope_matches_the_reference_example() {
        let err = AwsError::access_denied(
            "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: \
             sts:AssumeRole on resource: arn:aws:iam::000000000000:role/deploy",
        );
        let xml = error_xml(STS_NAMESPACE, &err, "0d3f6a0e-5f43-4c7e-8a61-9d6a2a7c2b90");
        let expected = compact(
            r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:iam::000000000000:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::000000000000:role/deploy</Message>
  </Error>
  <RequestId>0d3f6a0e-5f43-4c7e-8a61-9d6a2a7c2b90</RequestId>
</ErrorResponse>"#,
        );
        assert_eq!(xml, expected);
        assert_eq!(err.status, 403);

        let root = tiny_xml::parse(&xml).unwrap();
        let children: Vec<_> = root.elements().map(|e| e.name.as_str()).collect();
        assert_eq!(children, ["Error", "RequestId"]);
    }

    #[test]
    fn error_envelope_for_not_found_and_server_faults() {
        let err = AwsError::no_such_entity("The role with name deploy cannot be found.");
        let xml = error_xml(IAM_NAMESPACE, &err, "r");
        assert_eq!(
            xml,
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error>\
             <Type>Sender</Type><Code>NoSuchEntity</Code>\
             <Message>The role with name deploy cannot be found.</Message></Error>\
             <RequestId>r</RequestId></ErrorResponse>"
        );
        let xml = error_xml(IAM_NAMESPACE, &AwsError::service_failure(), "r");
        assert!(xml.contains("<Type>Receiver</Type><Code>ServiceFailure</Code>"));
    }

    #[test]
    fn error_messages_with_markup_stay_parseable() {
        let err = AwsError::malformed_policy_document(
            "Invalid principal in policy: \"AWS\":\"arn:aws:iam::1:role/<x>&y\"",
        );
        let xml = error_xml(IAM_NAMESPACE, &err, "r");
        let root = tiny_xml::parse(&xml).unwrap();
        let message = root
            .child("Error")
            .and_then(|e| e.child("Message"))
            .unwrap();
        assert_eq!(message.text(), err.message);
    }

    #[test]
    fn policy_documents_are_rfc3986_encoded() {
        assert_eq!(
            encode_policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#
            ),
            "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22AWS%22%3A%22arn%3Aaws%3Aiam%3A%3A000000000000%3Aroot%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D"
        );
        assert_eq!(
            encode_policy_document("a b+c*d/e~f_g-h.i"),
            "a%20b%2Bc%2Ad%2Fe~f_g-h.i"
        );
        assert_eq!(encode_policy_document("\n\té&<"), "%0A%09%C3%A9%26%3C");
        let mut w = XmlWriter::response("GetRolePolicy", IAM_NAMESPACE);
        w.policy_document("PolicyDocument", "{ \"a\": \"&\" }");
        assert!(
            w.finish("r")
                .contains("<PolicyDocument>%7B%20%22a%22%3A%20%22%26%22%20%7D</PolicyDocument>")
        );
    }

    #[test]
    fn timestamps_are_utc_whole_seconds_ending_in_z() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(at(1_740_830_400)), "2025-03-01T12:00:00Z");
        assert_eq!(
            iso8601(at(1_740_830_400) + Duration::from_millis(999)),
            "2025-03-01T12:00:00Z"
        );
        assert_eq!(iso8601(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(
            iso8601(UNIX_EPOCH - Duration::from_millis(500)),
            "1969-12-31T23:59:59Z"
        );
        assert_eq!(
            iso8601(UNIX_EPOCH - Duration::from_secs(86_400)),
            "1969-12-31T00:00:00Z"
        );
    }

    #[test]
    fn timestamps_out_of_range_are_clamped() {
        let far = UNIX_EPOCH + Duration::from_secs(u64::MAX / 4);
        assert_eq!(iso8601(far), "9999-12-31T23:59:59Z");
        if let Some(early) = UNIX_EPOCH.checked_sub(Duration::from_secs(70_000_000_000)) {
            assert_eq!(iso8601(early), "0000-01-01T00:00:00Z");
        }
    }

    #[test]
    fn debug_does_not_show_the_body() {
        let mut w = XmlWriter::response("AssumeRole", STS_NAMESPACE);
        w.text("SecretAccessKey", "very-secret");
        assert!(!format!("{w:?}").contains("very-secret"));
    }

    #[test]
    fn tiny_parser_rejects_malformed_xml() {
        for bad in [
            "<a>",
            "<a></b>",
            "<a>&</a>",
            "<a>&bogus;</a>",
            "<a>\u{1}</a>",
            "<a/><b/>",
            "x",
        ] {
            assert!(tiny_xml::parse(bad).is_err(), "{bad}");
        }
        let ok = tiny_xml::parse("<a x=\"1\"> <b>t&amp;</b></a>").unwrap();
        assert!(matches!(ok.children.first(), Some(Node::Text(t)) if t == " "));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;
        use super::tiny_xml;

        proptest! {
            #[test]
            fn any_text_round_trips_through_escaping(value in any::<String>()) {
                let mut w = XmlWriter::response("X", "ns");
                w.text("V", &value);
                let xml = w.finish("r");
                let root = tiny_xml::parse(&xml).map_err(TestCaseError::fail)?;
                let got = root.child("XResult").and_then(|r| r.child("V")).map(|v| v.text());
                let expected: String = value
                    .chars()
                    .map(|c| match c {
                        '\t' | '\n' | '\r' => c,
                        '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
                        _ => c,
                    })
                    .collect();
                prop_assert_eq!(got, Some(expected));
            }

            #[test]
            fn policy_encoding_is_unreserved_ascii_and_reversible(json in any::<String>()) {
                let encoded = encode_policy_document(&json);
                prop_assert!(encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
                let decoded = percent_encoding::percent_decode_str(&encoded)
                    .decode_utf8()
                    .map(|d| d.into_owned())
                    .ok();
                prop_assert_eq!(decoded, Some(json));
            }

            #[test]
            fn timestamps_agree_with_the_time_crate(secs in 0i64..253_402_300_799) {
                let t = UNIX_EPOCH + std::time::Duration::from_secs(secs.unsigned_abs());
                let expected = time::OffsetDateTime::from_unix_timestamp(secs)
                    .unwrap()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap();
                prop_assert_eq!(iso8601(t), expected);
            }
        }
    }
}
