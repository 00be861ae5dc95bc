//! Tests against the reference vectors (§14), rejections of every kind, and sign/verify round
//! trips.

use std::time::{Duration, SystemTime};

use crate::{RequestParts, parse_amz_date};

mod rejections;
mod roundtrip;
mod vectors;

/// Secret of every reference vector (§14).
pub(crate) const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// Temporary access key id of V1-V7.
pub(crate) const ASIA: &str = "ASIAEXAMPLEKEY000001";
/// Long-term access key id of V8-V9.
pub(crate) const AKIA: &str = "AKIAIOSFODNN7EXAMPLE";
/// Session token of V1-V7.
pub(crate) const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE//TOKEN+with/odd=chars";
/// Timestamp of V1-V8.
pub(crate) const AMZ_DATE: &str = "20240115T120000Z";

pub(crate) fn at(amz_date: &str) -> SystemTime {
    parse_amz_date(amz_date).unwrap()
}

pub(crate) fn plus(t: SystemTime, secs: u64) -> SystemTime {
    t + Duration::from_secs(secs)
}

pub(crate) fn minus(t: SystemTime, secs: u64) -> SystemTime {
    t - Duration::from_secs(secs)
}

/// An owned request, so tests can change one part and borrow it as [`RequestParts`].
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

impl Req {
    pub(crate) fn new(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
        }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&RequestParts<'_>) -> R) -> R {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        f(&RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
        })
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.as_bytes().to_vec()));
        self
    }

    pub(crate) fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    pub(crate) fn replace(self, name: &str, value: &str) -> Self {
        self.without(name).header(name, value)
    }
}
