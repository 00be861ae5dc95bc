//! Property tests: what `sign_headers`/`presign` sign, `verify` accepts, and any single byte
//! change in a covered part makes verification fail.

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;
use crate::*;

#[derive(Debug, Clone)]
struct Case {
    req: Req,
    s3: bool,
    token: bool,
    time: SystemTime,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(vec!["GET", "PUT", "POST", "DELETE", "HEAD"]),
        prop::collection::vec("[a-z0-9]{1,8}", 0..4),
        prop::collection::vec(("[a-z0-9]{1,6}", "[a-zA-Z0-9]{0,6}"), 0..4),
        prop::collection::vec(("[a-z]{1,6}", "[a-zA-Z0-9]{1,10}"), 0..3),
        prop::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
        any::<bool>(),
        1_000_000_000u64..2_000_000_000,
    )
        .prop_map(|(method, segments, query, meta, body, s3, token, secs)| {
            let path = format!("/{}", segments.join("/"));
            let query = query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&");
            let target = if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            };
            let mut req = Req::new(method, &target, &[("Host", "example.com:7400")], &body);
            for (name, value) in meta {
                req = req.header(&format!("x-amz-meta-{name}"), &value);
            }
            Case {
                req,
                s3,
                token,
                time: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            }
        })
}

impl Case {
    fn encoding(&self) -> UriEncoding {
        if self.s3 {
            UriEncoding::Single
        } else {
            UriEncoding::Double
        }
    }

    fn params(&self) -> SigningParams<'_> {
        SigningParams {
            credentials: Credentials {
                access_key_id: ASIA,
                secret_access_key: SECRET,
                session_token: self.token.then_some(TOKEN),
            },
            region: "eu-west-3",
            service: if self.s3 { "s3" } else { "sts" },
            time: self.time,
            encoding: self.encoding(),
            body: SignableBody::Bytes(&self.req.body),
            content_sha256_header: false,
        }
    }

    fn header_signed(&self) -> Req {
        let signed = self
            .req
            .with(|parts| sign_headers(parts, &self.params()))
            .unwrap();
        signed
            .headers
            .iter()
            .fold(self.req.clone(), |r, (n, v)| r.header(n, v))
    }

    fn presigned(&self) -> Req {
        let mut params = self.params();
        if self.s3 {
            params.body = SignableBody::Unsigned;
        }
        let presigned = self.req.with(|parts| presign(parts, &params, 900)).unwrap();
        let mut req = self.req.clone();
        req.query = presigned.query;
        req
    }

    fn verify(&self, req: &Req) -> Result<(), SigV4Error> {
        let scope =
            CredentialScope::for_time(self.time, "eu-west-3", if self.s3 { "s3" } else { "sts" })
                .unwrap();
        let key = derive_signing_key(SECRET, &scope);
        req.with(|parts| {
            let auth = authenticate(parts, self.time)?;
            let payload = match (auth.form(), self.s3) {
                (AuthForm::Presigned, true) => Payload::Unsigned,
                _ => Payload::Bytes(&req.body),
            };
            auth.verify(parts, payload, self.encoding(), &key)
        })
    }
}

/// Replaces the alphanumeric byte at the `pick`-th alphanumeric position of `text[..limit]` by
/// another alphanumeric byte; `None` when there is none.
fn mutate_alnum(text: &str, limit: usize, pick: &Index) -> Option<String> {
    let positions: Vec<usize> = text
        .bytes()
        .take(limit)
        .enumerate()
        .filter(|(_, b)| b.is_ascii_alphanumeric())
        .map(|(i, _)| i)
        .collect();
    if positions.is_empty() {
        return None;
    }
    let at = positions[pick.index(positions.len())];
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'q' { b'z' } else { b'q' };
    Some(String::from_utf8(bytes).unwrap())
}

/// Applies one single-byte change to a covered part of `req`: method, path, the query before
/// `query_limit`, a signed header value, or the body.
fn mutate(req: &Req, part: u8, pick: &Index, query_limit: usize) -> Option<Req> {
    let mut out = req.clone();
    match part {
        0 => out.method = mutate_alnum(&req.method, usize::MAX, pick)?,
        1 => out.path = mutate_alnum(&req.path, usize::MAX, pick)?,
        2 => out.query = mutate_alnum(&req.query, query_limit, pick)?,
        3 => {
            let candidates: Vec<usize> = req
                .headers
                .iter()
                .enumerate()
                .filter(|(_, (n, _))| n == "Host" || n.starts_with("x-amz-meta-"))
                .map(|(i, _)| i)
                .collect();
            let i = candidates[pick.index(candidates.len())];
            let value = std::str::from_utf8(&req.headers[i].1).ok()?;
            out.headers[i].1 = mutate_alnum(value, usize::MAX, pick)?.into_bytes();
        }
        _ => {
            if req.body.is_empty() {
                return None;
            }
            let at = pick.index(req.body.len());
            out.body[at] ^= 0x01;
        }
    }
    Some(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn header_signatures_verify(case in case()) {
        prop_assert_eq!(case.verify(&case.header_signed()), Ok(()));
    }

    #[test]
    fn presigned_urls_verify(case in case()) {
        prop_assert_eq!(case.verify(&case.presigned()), Ok(()));
    }

    #[test]
    fn any_single_byte_change_breaks_a_header_signature(
        case in case(),
        part in 0u8..5,
        pick in any::<Index>(),
    ) {
        let signed = case.header_signed();
        let Some(tampered) = mutate(&signed, part, &pick, usize::MAX) else {
            return Ok(());
        };
        prop_assert!(case.verify(&tampered).is_err(), "part {} accepted: {:?}", part, tampered);
    }

    #[test]
    fn any_single_byte_change_breaks_a_presigned_url(
        case in case(),
        part in 0u8..4,
        pick in any::<Index>(),
    ) {
        let presigned = case.presigned();
        let Some(tampered) = mutate(&presigned, part, &pick, case.req.query.len()) else {
            return Ok(());
        };
        prop_assert!(case.verify(&tampered).is_err(), "part {} accepted: {:?}", part, tampered);
    }
}
