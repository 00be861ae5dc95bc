//! `mayfly policy simulate`: evaluate identity policies from files against
//! actions and resources offline, with the same engine the server uses
//! (the CLI counterpart of IAM `SimulateCustomPolicy`).
//!
//! Output: one line per (action, resource) pair,
//! `ACTION RESOURCE DECISION [matched=ID,…] [reason="…"]`, where DECISION
//! is `allowed`, `explicitDeny` or `implicitDeny` as in IAM's
//! `EvalDecision`, and each matched statement is `FILE#Sid` (or
//! `FILE#INDEX`, 0-based, for a statement without `Sid`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use mayfly_policy::{
    DOCUMENT_PARAMETER_LIMIT, Decision, NamedPolicy, Outcome, Policy, PolicyKind, PolicySet,
    PrincipalInfo, RequestContext,
};

/// The account and user the simulation runs as.
const ACCOUNT: &str = "000000000000";

/// Arguments of `mayfly policy simulate`.
#[derive(Debug, clap::Args)]
pub(crate) struct SimulateArgs {
    /// An identity policy document (JSON file); repeat for several.
    #[arg(long = "policy", required = true)]
    pub policies: Vec<PathBuf>,
    /// A permissions boundary document (JSON file).
    #[arg(long)]
    pub boundary: Option<PathBuf>,
    /// An action to simulate, e.g. `s3:GetObject`; repeat for several.
    #[arg(long = "action", required = true)]
    pub actions: Vec<String>,
    /// A resource ARN; repeat for several [default: *].
    #[arg(long = "resource")]
    pub resources: Vec<String>,
    /// A condition key: `KEY=TYPE:VALUE`, TYPE one of string, stringList
    /// (comma-separated values), numeric, boolean, date, ip.
    #[arg(long = "context", value_name = "KEY=TYPE:VALUE")]
    pub context: Vec<String>,
}

/// A `--context` value, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContextValue {
    key: String,
    values: Vec<String>,
    list: bool,
}

/// Parse `KEY=TYPE:VALUE`.
pub(crate) fn parse_context(text: &str) -> Result<ContextValue> {
    let (key, typed) = text
        .split_once('=')
        .with_context(|| format!("context `{text}` is not KEY=TYPE:VALUE"))?;
    let (kind, value) = typed
        .split_once(':')
        .with_context(|| format!("context `{text}` is not KEY=TYPE:VALUE"))?;
    if key.is_empty() {
        bail!("context `{text}` has an empty key");
    }
    let single = |values: Vec<String>| ContextValue {
        key: key.to_owned(),
        values,
        list: false,
    };
    Ok(match kind {
        "string" | "date" => single(vec![value.to_owned()]),
        "stringList" => ContextValue {
            key: key.to_owned(),
            values: if value.is_empty() {
                Vec::new()
            } else {
                value.split(',').map(str::to_owned).collect()
            },
            list: true,
        },
        "numeric" => {
            if value.parse::<f64>().is_err() {
                bail!("context `{key}`: `{value}` is not a number");
            }
            single(vec![value.to_owned()])
        }
        "boolean" => {
            if value != "true" && value != "false" {
                bail!("context `{key}`: `{value}` is not true or false");
            }
            single(vec![value.to_owned()])
        }
        "ip" => {
            if value.parse::<std::net::IpAddr>().is_err() {
                bail!("context `{key}`: `{value}` is not an IP address");
            }
            single(vec![value.to_owned()])
        }
        other => bail!(
            "context `{key}`: unknown type `{other}` (string, stringList, numeric, boolean, date, ip)"
        ),
    })
}

/// Read a policy file with the identity grammar (a boundary too, without
/// the managed-policy `Version` requirement, as IAM's simulator).
fn read_policy(path: &PathBuf) -> Result<Policy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the policy {}", path.display()))?;
    Policy::parse_with_limit(&text, PolicyKind::Identity, DOCUMENT_PARAMETER_LIMIT)
        .map_err(|error| anyhow::anyhow!("{}: {error} ({})", path.display(), error.detail()))
}

fn decision_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => "allowed",
        Outcome::ExplicitDeny => "explicitDeny",
        Outcome::ImplicitDeny => "implicitDeny",
    }
}

/// One output line for a decision.
fn line(action: &str, resource: &str, decision: &Decision) -> String {
    let mut out = format!("{action} {resource} {}", decision_name(decision.outcome));
    if !decision.matched.is_empty() {
        let ids: Vec<String> = decision
            .matched
            .iter()
            .map(|m| match &m.sid {
                Some(sid) if !sid.is_empty() => format!("{}#{sid}", m.policy_id),
                _ => format!("{}#{}", m.policy_id, m.statement_index),
            })
            .collect();
        out.push_str(&format!(" matched={}", ids.join(",")));
    }
    let reason = decision.reason_phrase();
    if !reason.is_empty() {
        out.push_str(&format!(" reason=\"{reason}\""));
    }
    out
}

/// Evaluate every action × resource and return the output lines.
pub(crate) fn simulate(args: &SimulateArgs) -> Result<Vec<String>> {
    let context = args
        .context
        .iter()
        .map(|c| parse_context(c))
        .collect::<Result<Vec<_>>>()?;
    let mut loaded = Vec::new();
    for path in &args.policies {
        loaded.push((path.display().to_string(), read_policy(path)?));
    }
    let boundary = match &args.boundary {
        Some(path) => Some((path.display().to_string(), read_policy(path)?)),
        None => None,
    };
    let identity: Vec<NamedPolicy<'_>> = loaded
        .iter()
        .map(|(id, policy)| NamedPolicy {
            id,
            policy,
            kind: PolicyKind::Identity,
        })
        .collect();
    let set = PolicySet {
        identity,
        boundary: boundary.as_ref().map(|(id, policy)| NamedPolicy {
            id,
            policy,
            kind: PolicyKind::Boundary,
        }),
        ..PolicySet::default()
    };
    let principal = PrincipalInfo::user(
        &format!("arn:aws:iam::{ACCOUNT}:user/simulated-user"),
        ACCOUNT,
        "AIDASIMULATEDUSER000",
    );
    let default_resources = ["*".to_owned()];
    let resources = if args.resources.is_empty() {
        &default_resources[..]
    } else {
        &args.resources[..]
    };
    let mut lines = Vec::new();
    for action in &args.actions {
        for resource in resources {
            let mut rc = RequestContext::new(principal.clone(), action, resource);
            for c in &context {
                if c.list {
                    rc.set_multi(&c.key, c.values.clone());
                } else {
                    rc.set(&c.key, c.values.concat());
                }
            }
            let decision = mayfly_policy::evaluate(&rc, &set);
            lines.push(line(action, resource, &decision));
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_context_values_of_each_type() {
        let ip = parse_context("aws:SourceIp=ip:10.0.0.1").unwrap();
        assert_eq!(ip.key, "aws:SourceIp");
        assert_eq!(ip.values, vec!["10.0.0.1"]);
        let list = parse_context("aws:TagKeys=stringList:a,b").unwrap();
        assert!(list.list);
        assert_eq!(list.values, vec!["a", "b"]);
        assert!(parse_context("aws:MultiFactorAuthPresent=boolean:true").is_ok());
        assert!(parse_context("aws:EpochTime=numeric:12").is_ok());
        assert!(parse_context("aws:CurrentTime=date:2020-01-01T00:00:00Z").is_ok());
    }

    #[test]
    fn rejects_malformed_context_values() {
        assert!(parse_context("aws:SourceIp").is_err());
        assert!(parse_context("aws:SourceIp=10.0.0.1").is_err());
        assert!(parse_context("aws:SourceIp=ip:not-an-ip").is_err());
        assert!(parse_context("k=numeric:x").is_err());
        assert!(parse_context("k=boolean:yes").is_err());
        assert!(parse_context("k=blob:x").is_err());
        assert!(parse_context("=string:x").is_err());
    }
}
