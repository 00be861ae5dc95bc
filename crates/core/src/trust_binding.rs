//! Trust-policy principals bound to unique ids (iam-admin-api.md 1.4
//! principal binding, policy-evaluation.md 5): the user and role ARNs a
//! trust policy names in `Principal.AWS` are resolved to the principal's
//! unique id when the policy is stored ([`bind`]). The policy is evaluated
//! with those ARNs replaced by the ids ([`evaluated_text`]), so a principal
//! deleted and re-created with the same name is not trusted; it is shown
//! with each id mapped back to its principal's ARN, or the bare id once the
//! principal is gone ([`rendered_text`]). Everything else of the document
//! stays byte for byte as submitted.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use mayfly_store::{Role, Snapshot};

use crate::arn::Arn;

/// The `Principal.AWS` values of a trust policy, each with the byte range
/// of its JSON string literal (quotes included) in `text`. Empty when
/// `text` is not a JSON object.
fn aws_principals(text: &str) -> Vec<(Range<usize>, String)> {
    let mut scanner = Scanner {
        text,
        pos: 0,
        found: Vec::new(),
    };
    match scanner.value(Place::Document) {
        Some(()) => scanner.found,
        None => Vec::new(),
    }
}

/// The `Principal.AWS` values of trust policy `text`, in order.
pub(crate) fn aws_principal_values(text: &str) -> impl Iterator<Item = String> {
    aws_principals(text).into_iter().map(|(_, value)| value)
}

/// Where in the policy a JSON value sits, as far as it matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The document object.
    Document,
    /// `Statement`: one statement or a list of them.
    Statements,
    /// One statement object.
    Statement,
    /// A statement's `Principal`.
    Principal,
    /// `Principal.AWS`: one principal or a list of them.
    AwsPrincipals,
    /// One `Principal.AWS` entry.
    AwsPrincipal,
    /// Anything else.
    Other,
}

/// A minimal JSON reader that records the string literals at
/// [`Place::AwsPrincipal`] with their byte ranges.
struct Scanner<'t> {
    text: &'t str,
    pos: usize,
    found: Vec<(Range<usize>, String)>,
}

impl Scanner<'_> {
    fn skip_space(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn value(&mut self, place: Place) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(place),
            b'[' => self.array(place),
            b'"' => {
                let (range, value) = self.string()?;
                if matches!(place, Place::AwsPrincipals | Place::AwsPrincipal) {
                    self.found.push((range, value));
                }
                Some(())
            }
            _ => self.scalar(),
        }
    }

    fn object(&mut self, place: Place) -> Option<()> {
        self.pos += 1;
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let (_, key) = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            let inner = match (place, key.as_str()) {
                (Place::Document, "Statement") => Place::Statements,
                (Place::Statements | Place::Statement, "Principal") => Place::Principal,
                (Place::Principal, "AWS") => Place::AwsPrincipals,
                _ => Place::Other,
            };
            self.value(inner)?;
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn array(&mut self, place: Place) -> Option<()> {
        self.pos += 1;
        let inner = match place {
            Place::Statements => Place::Statement,
            Place::AwsPrincipals => Place::AwsPrincipal,
            _ => Place::Other,
        };
        if self.eat(b']') {
            return Some(());
        }
        loop {
            self.value(inner)?;
            if self.eat(b']') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// A string literal at `pos`: its range and decoded value.
    fn string(&mut self) -> Option<(Range<usize>, String)> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut at = start + 1;
        loop {
            match *bytes.get(at)? {
                b'"' => break,
                b'\\' => at += 2,
                _ => at += 1,
            }
        }
        let end = at + 1;
        let value = serde_json::from_str::<String>(self.text.get(start..end)?).ok()?;
        self.pos = end;
        Some((start..end, value))
    }

    /// A number, `true`, `false` or `null`.
    fn scalar(&mut self) -> Option<()> {
        let rest = &self.text[self.pos..];
        let len = rest
            .find([',', '}', ']', ' ', '\t', '\n', '\r'])
            .unwrap_or(rest.len());
        if len == 0 {
            return None;
        }
        self.pos += len;
        Some(())
    }
}

/// `text` with the `Principal.AWS` entries `replace` maps replaced by that
/// value as a JSON string; borrowed when nothing is replaced.
fn replace_aws_principals(
    text: &str,
    mut replace: impl FnMut(&str) -> Option<String>,
) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut replaced = false;
    for (range, value) in aws_principals(text) {
        let Some(new) = replace(&value) else {
            continue;
        };
        out.push_str(&text[copied..range.start]);
        out.push_str(&serde_json::Value::String(new).to_string());
        copied = range.end;
        replaced = true;
    }
    if !replaced {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The unique ids of the user and role ARNs among the `Principal.AWS`
/// entries of trust policy `text` that name an existing user or role
/// exactly (the ARN it has now, path and name case included); to store
/// with the role. Other entries (accounts, sessions, unique ids, other
/// accounts, ARNs differing in case) stay matched as written.
pub(crate) fn bind(snapshot: &Snapshot, text: &str) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for principal in aws_principal_values(text) {
        let Some(arn) = Arn::parse(&principal) else {
            continue;
        };
        if arn.service != "iam" {
            continue;
        }
        let id = match arn.typed_name() {
            Some(("user", _)) => snapshot.user_by_arn(&principal).map(|u| &u.user_id),
            Some(("role", _)) => snapshot.role_by_arn(&principal).map(|r| &r.role_id),
            _ => None,
        };
        if let Some(id) = id {
            ids.insert(principal, id.clone());
        }
    }
    ids
}

/// The trust policy of `role` as evaluated: its bound ARNs replaced by
/// their unique ids, which the policy engine matches against the caller's
/// user or role id (policy-evaluation.md 5).
pub(crate) fn evaluated_text(role: &Role) -> Cow<'_, str> {
    if role.trust_principal_ids.is_empty() {
        return Cow::Borrowed(&role.assume_role_policy);
    }
    replace_aws_principals(&role.assume_role_policy, |principal| {
        role.trust_principal_ids.get(principal).cloned()
    })
}

/// The trust policy of `role` as IAM shows it: each bound ARN as the ARN
/// its principal has now, or the bare unique id once the principal is
/// deleted (iam-admin-api.md 1.4).
pub(crate) fn rendered_text<'r>(snapshot: &Snapshot, role: &'r Role) -> Cow<'r, str> {
    if role.trust_principal_ids.is_empty() {
        return Cow::Borrowed(&role.assume_role_policy);
    }
    replace_aws_principals(&role.assume_role_policy, |principal| {
        let id = role.trust_principal_ids.get(principal)?;
        let now = snapshot
            .user_by_id(id)
            .map(|u| u.arn())
            .or_else(|| snapshot.role_by_id(id).map(|r| r.arn()))
            .unwrap_or_else(|| id.clone());
        (now != principal).then_some(now)
    })
}

/// For the `trust_policy` fuzz target and its corpus replay in `cargo
/// test`: the `Principal.AWS` values the scanner finds in `text`, and
/// `text` with every one of them replaced by `with` (JSON-escaped). Never
/// panics.
pub fn fuzz_trust_policy(text: &str, with: &str) -> (Vec<String>, String) {
    let found = aws_principal_values(text).collect();
    let replaced = replace_aws_principals(text, |_| Some(with.to_owned())).into_owned();
    (found, replaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        aws_principals(text).into_iter().map(|(_, v)| v).collect()
    }

    #[test]
    fn finds_aws_principals_in_every_statement_shape_and_nothing_else() {
        let text = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
            "Principal":{"AWS":"a","Service":"s"},"Condition":{"StringEquals":{"aws:PrincipalArn":"c"}}}}"#;
        assert_eq!(values(text), ["a"]);
        let text = r#"{ "Statement" : [ {"Principal":{"AWS":["a","b\/c"],"Federated":"f"},
            "Action":"sts:AssumeRole","X":[1, true, null, -2.5e3]}, {"Principal":"*"},
            {"Principal":{"AWS":"d"}} ] , "AWS":"top"}"#;
        assert_eq!(values(text), ["a", "b/c", "d"]);
        assert!(values("not json").is_empty());
        assert!(values(r#"{"Statement":{"Principal":{"AWS":"a""#).is_empty());
    }

    #[test]
    fn replacing_keeps_every_other_byte() {
        let text = "{\"Statement\":[{\"Principal\":{\"AWS\":[ \"a\" ,\n\"b\"]},\"Sid\":\"a\"}]}";
        let out = replace_aws_principals(text, |p| (p == "a").then(|| "AIDA\"X".to_owned()));
        assert_eq!(
            out,
            "{\"Statement\":[{\"Principal\":{\"AWS\":[ \"AIDA\\\"X\" ,\n\"b\"]},\"Sid\":\"a\"}]}"
        );
        assert!(matches!(
            replace_aws_principals(text, |_| None),
            Cow::Borrowed(_)
        ));
    }
}
