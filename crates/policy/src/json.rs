//! Strict JSON for policy documents: like `serde_json::Value` but an object
//! with the same member twice is an error (policy-evaluation.md §1: "an
//! element must not appear twice in the same object"), and numbers keep the
//! text a policy value is compared as.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// A JSON value with object members in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// A number as text (`1`, `-2`, `1.5`).
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parse `text`; `None` if it is not JSON or an object repeats a member.
    pub(crate) fn parse(text: &str) -> Option<Json> {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = StrictSeed.deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(value)
    }

    /// A short name of the JSON type, for error details.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }
}

struct StrictSeed;

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Json;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictSeed)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom("duplicate member"));
            }
            let value = map.next_value_seed(StrictSeed)?;
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

/// Length in characters of `text` with JSON white space outside string
/// literals removed (policy-evaluation.md §2 \[choice]: "white space not counted").
pub(crate) fn significant_len(text: &str) -> usize {
    let mut count = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            count += 1;
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            count += 1;
            if c == '"' {
                in_string = true;
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_an_object_with_a_repeated_member() {
        assert!(Json::parse(r#"{"a":1,"a":2}"#).is_none());
        assert!(Json::parse(r#"{"a":{"b":1,"b":1}}"#).is_none());
    }

    #[test]
    fn rejects_trailing_garbage_and_accepts_plain_documents() {
        assert!(Json::parse(r#"{"a":1} x"#).is_none());
        assert_eq!(
            Json::parse(r#"{"a":[1,true,"x",null,1.5]}"#),
            Some(Json::Object(vec![(
                "a".into(),
                Json::Array(vec![
                    Json::Number("1".into()),
                    Json::Bool(true),
                    Json::String("x".into()),
                    Json::Null,
                    Json::Number("1.5".into()),
                ])
            )]))
        );
    }

    #[test]
    fn counts_length_without_white_space_outside_strings() {
        assert_eq!(significant_len("{ \"a b\" : 1 }\n"), 9);
        assert_eq!(significant_len(r#"{"a\" ":1}"#), 10);
    }
}
