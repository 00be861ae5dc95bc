//! The AWS query protocol (STS and IAM) at Mayfly's boundary: decoding of
//! request parameters, XML responses, error envelopes and the one AWS error
//! type the boundary maps to (`reference/aws-query-protocol.md`).
//!
//! Pure: no I/O, no HTTP types, no clock. The server hands in the raw body
//! and query string and gets back strings to send.
//!
//! - [`QueryParams`]: form body + URL query → typed, consuming readers
//!   (`Name.member.N` lists, lists of structures), unknown names rejected.
//! - [`ValidationErrors`] / [`Pattern`]: model constraints with AWS's
//!   `N validation error(s) detected: …` wording.
//! - [`XmlWriter`], [`error_xml`]: `{Action}Response` / `ErrorResponse`
//!   envelopes built by appending to a `String`.
//! - [`AwsError`]: wire code, HTTP status, fault and message.

mod error;
mod query;
mod validation;
mod xml;

pub use error::{AwsError, Fault, code};
pub use query::{AUTH_PARAMETERS, MAX_NAME_LEN, MAX_PARAMETERS, QueryParams};
pub use validation::{Pattern, ValidationErrors, list_member_path, member_path};
pub use xml::{XmlWriter, encode_policy_document, error_xml, iso8601};

/// XML namespace of STS responses (`xmlns` on the root element).
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// XML namespace of IAM responses (`xmlns` on the root element).
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// The `Version` parameter of STS requests.
pub const STS_VERSION: &str = "2011-06-15";

/// The `Version` parameter of IAM requests.
pub const IAM_VERSION: &str = "2010-05-08";

/// `Content-Type` of every query-protocol response, success or error, as AWS
/// sends it (clients do not check it).
pub const XML_CONTENT_TYPE: &str = "text/xml";

/// Fuzz entry point: decodes `data` as a form body and as a query string,
/// runs every reader and encoder over whatever decodes, and never panics.
///
/// Used by `fuzz/fuzz_targets/query_params.rs` and replayed over the corpus
/// by `tests/fuzz_corpus.rs`.
pub fn fuzz_one(data: &[u8]) {
    let as_query = String::from_utf8_lossy(data);
    for parsed in [
        QueryParams::parse(data, ""),
        QueryParams::parse(b"", &as_query),
        QueryParams::parse(data, &as_query),
    ] {
        match parsed {
            Ok(params) => exercise(params),
            Err(err) => {
                let _ = error_xml(STS_NAMESPACE, &err, "fuzz");
            }
        }
    }
}

fn exercise(mut params: QueryParams) {
    let action = params.action().unwrap_or("Fuzz").to_owned();
    let _ = params.version();
    let mut errors = ValidationErrors::new();
    let mut out = XmlWriter::response(&action, IAM_NAMESPACE);

    let role_arn = errors.required("RoleArn", params.string("RoleArn"));
    if let Some(arn) = &role_arn {
        errors.length("RoleArn", arn, 20, 2048);
        out.text("Arn", arn);
    }
    if let Some(name) = params.string("RoleSessionName") {
        errors.length("RoleSessionName", &name, 2, 64);
        errors.pattern("RoleSessionName", &name, Pattern::RoleSessionName);
    }
    if let Some(policy) = params.string("Policy") {
        errors.pattern("Policy", &policy, Pattern::PolicyDocument);
        out.policy_document("PolicyDocument", &policy);
    }
    if let Some(token) = params.string("WebIdentityToken") {
        errors.sensitive_length("WebIdentityToken", &token, 4, 20000);
    }
    if let Some(seconds) = params.integer("DurationSeconds", &mut errors) {
        errors.range("DurationSeconds", seconds, 900, 43200);
        out.number("DurationSeconds", seconds);
    }
    if let Some(flag) = params.boolean("SetAsDefault", &mut errors) {
        out.boolean("SetAsDefault", flag);
    }
    let results = [
        params.list("TransitiveTagKeys").map(|keys| {
            let keys = keys.unwrap_or_default();
            errors.list_length("TransitiveTagKeys", keys.len(), 0, 50);
            for (i, key) in keys.iter().enumerate() {
                let path = list_member_path("TransitiveTagKeys", i + 1, None);
                errors.pattern(&path, key, Pattern::TagKey);
            }
            out.string_list("TransitiveTagKeys", &keys);
        }),
        params.struct_list("Tags", &["Key", "Value"]).map(|tags| {
            out.start("Tags");
            for (i, tag) in tags.unwrap_or_default().iter().enumerate() {
                let mut fields = tag.iter();
                let key = fields.next().cloned().flatten();
                let value = fields.next().cloned().flatten();
                let key_path = list_member_path("Tags", i + 1, Some("Key"));
                if let Some(key) = errors.required(&key_path, key) {
                    errors.pattern(&key_path, &key, Pattern::TagKey);
                    out.start("member");
                    out.text("Key", &key);
                    out.text_opt("Value", value.as_deref());
                    out.end("member");
                }
            }
            out.end("Tags");
        }),
        params.struct_list("PolicyArns", &["arn"]).map(|arns| {
            let count = arns.map_or(0, |a| a.len());
            errors.list_length("PolicyArns", count, 0, 10);
        }),
    ];
    let _ = params.list("ClientIDList");
    let _ = params.string("ExternalId");

    let xml = out.finish("fuzz");
    let _ = xml.len();
    for result in results {
        if let Err(err) = result {
            let _ = error_xml(STS_NAMESPACE, &err, "fuzz");
        }
    }
    if let Err(err) = errors.into_result() {
        let _ = error_xml(STS_NAMESPACE, &err, "fuzz");
    }
    if let Err(err) = params.finish() {
        let _ = error_xml(IAM_NAMESPACE, &err, "fuzz");
    }
}
