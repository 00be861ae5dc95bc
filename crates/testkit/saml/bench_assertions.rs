//! Writes a SAML IdP's metadata and many signed, distinct AssumeRoleWithSAML
//! request bodies for `bench/load.py` (each assertion is accepted once, so a
//! load test needs one per request).
//!
//! ```text
//! saml-bench-assertions OUT_DIR FILES PER_FILE ISSUE_INSTANT NOT_ON_OR_AFTER ROLE_ARN PROVIDER_ARN
//! ```
//!
//! Writes `OUT_DIR/metadata.xml` and `OUT_DIR/bodies-{0..FILES}.txt`, one
//! form-encoded body per line.

use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mayfly_testkit::saml::{AssertionSpec, IdpKey, SamlIdp};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn form(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
        .replace(':', "%3A")
        .replace(',', "%2C")
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [
        out_dir,
        files,
        per_file,
        issued,
        expires,
        role_arn,
        provider_arn,
    ] = args.as_slice()
    else {
        return Err("usage: saml-bench-assertions OUT_DIR FILES PER_FILE ISSUE_INSTANT NOT_ON_OR_AFTER ROLE_ARN PROVIDER_ARN".into());
    };
    let files: usize = files.parse()?;
    let per_file: usize = per_file.parse()?;
    // RSA-2048 as most IdPs sign; one thread per file (RSA signing is slow).
    let idp = SamlIdp::generate("https://idp.bench.test/", IdpKey::Rsa)?;
    std::fs::write(format!("{out_dir}/metadata.xml"), idp.metadata())?;
    let prefix = format!(
        "Action=AssumeRoleWithSAML&Version=2011-06-15&RoleArn={}&PrincipalArn={}&SAMLAssertion=",
        form(role_arn),
        form(provider_arn)
    );
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..files)
            .map(|file| {
                let (idp, prefix) = (&idp, &prefix);
                scope.spawn(move || {
                    write_file(
                        idp,
                        prefix,
                        out_dir,
                        file,
                        per_file,
                        issued,
                        expires,
                        role_arn,
                        provider_arn,
                    )
                })
            })
            .collect();
        handles.into_iter().try_for_each(|handle| {
            handle
                .join()
                .map_err(|_| Error::from("a signing thread panicked"))?
        })
    })?;
    Ok(())
}

#[allow(clippy::too_many_arguments, reason = "a private helper of main")]
fn write_file(
    idp: &SamlIdp,
    prefix: &str,
    out_dir: &str,
    file: usize,
    per_file: usize,
    issued: &str,
    expires: &str,
    role_arn: &str,
    provider_arn: &str,
) -> Result<(), Error> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(format!(
        "{out_dir}/bodies-{file}.txt"
    ))?);
    for n in 0..per_file {
        let id = format!("_bench{file}x{n}");
        let response = idp.response(&AssertionSpec {
            id: &id,
            issue_instant: issued,
            not_on_or_after: expires,
            subject: "bench@example.test",
            audience: "https://signin.aws.amazon.com/saml",
            recipient: "https://signin.aws.amazon.com/saml",
            role_arn,
            provider_arn,
            role_session_name: "bench",
        })?;
        writeln!(out, "{prefix}{}", form(&STANDARD.encode(response)))?;
    }
    out.flush()?;
    Ok(())
}
