//! Policy documents: grammar, validation (`MalformedPolicyDocument`) and the
//! compiled form evaluation runs on (policy-evaluation.md §1, §2, §3, §4, §9).

use std::fmt;

use crate::condition::{Condition, parse_conditions};
use crate::context::RequestContext;
use crate::error::{LEGACY_PARSING, PolicyElement, PolicyError};
use crate::json::{Json, significant_len};
use crate::pattern::{ArnPattern, Glob, Piece, parse_pieces};
use crate::principal::{PrincipalGrant, Principals};

/// What a policy document is used as; validation and size limits differ (§1, §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Identity-based: user/group/role inline or managed. No `Principal`,
    /// `Resource` required.
    Identity,
    /// Resource-based other than a trust policy (e.g. a bucket policy):
    /// `Principal`/`NotPrincipal` and `Resource` required.
    Resource,
    /// Role trust policy: `Principal` required, no `NotPrincipal`, no
    /// `Resource`, only `sts:` actions.
    Trust,
    /// Session policy (AssumeRole*/GetFederationToken `Policy`, `PolicyArns`).
    Session,
    /// Permissions boundary (a managed policy: Version 2012-10-17 required).
    Boundary,
}

impl PolicyKind {
    /// The largest document of this kind, in characters without
    /// insignificant white space (§2). Identity: 10,240, the largest single
    /// inline document (role inline quota); the caller checks the managed
    /// (6,144) and per-entity inline sums (user 2,048, group 5,120, role
    /// 10,240) with [`Policy::size`]. Trust: 2,048 (the default
    /// `ACLSizePerRole` quota; see [`Policy::parse_with_limit`]). Session:
    /// 2,048. Boundary: 6,144 (managed). Resource: 20,480 \[choice: S3's
    /// bucket-policy limit; the reference gives none].
    pub fn size_limit(self) -> usize {
        match self {
            Self::Identity => 10_240,
            Self::Resource => 20_480,
            Self::Trust | Self::Session => 2_048,
            Self::Boundary => MANAGED_POLICY_LIMIT,
        }
    }

    fn is_identity_type(self) -> bool {
        matches!(self, Self::Identity | Self::Session | Self::Boundary)
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Identity => "identity-based",
            Self::Resource => "resource-based",
            Self::Trust => "trust",
            Self::Session => "session",
            Self::Boundary => "permissions boundary",
        })
    }
}

/// Size limit of a managed policy version (§2: "Cannot exceed quota for PolicySize: 6144").
pub const MANAGED_POLICY_LIMIT: usize = 6_144;
/// Longest policy-document request parameter in characters (§2 \[model]).
pub const DOCUMENT_PARAMETER_LIMIT: usize = 131_072;

/// `Effect` of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `"Allow"`.
    Allow,
    /// `"Deny"`.
    Deny,
}

/// `Version` of a policy document (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    /// `2008-10-17`, also when `Version` is absent: `${…}` is literal text.
    V2008_10_17,
    /// `2012-10-17`: policy variables are substituted (§7).
    V2012_10_17,
}

/// A parsed, validated, immutable policy document, compiled for evaluation
/// (actions lowercased, wildcard and ARN patterns pre-split).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    version: PolicyVersion,
    size: usize,
    statements: Vec<Statement>,
    /// Whether any statement has a `Condition` or a policy variable.
    reads_context: bool,
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq)]
enum PrincipalClause {
    Principal(Principals),
    NotPrincipal(Principals),
}

/// One compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    principal: Option<PrincipalClause>,
    /// `true` for `NotAction`.
    not_action: bool,
    /// Lowercased patterns (§3: case-insensitive).
    actions: Vec<Glob>,
    /// `true` for `NotResource`.
    not_resource: bool,
    /// `None`: no `Resource` element (trust policies) — applies to the
    /// request's resource, the role.
    resources: Option<Vec<ArnPattern>>,
    conditions: Vec<Condition>,
}

/// Whether a statement applies to a request, and how it named the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applies {
    No,
    /// Applies; for statements with `Principal`/`NotPrincipal`, how the caller was named.
    Yes(Option<PrincipalGrant>),
}

impl Statement {
    /// Whether deciding this statement looks at any condition key: it has a
    /// `Condition`, or a `Resource`/`NotResource` with a policy variable
    /// (the principal, action and resource are not condition keys).
    fn reads_context(&self) -> bool {
        !self.conditions.is_empty()
            || self
                .resources
                .iter()
                .flatten()
                .any(ArnPattern::has_variables)
    }

    /// §8.1: a statement applies when Principal (if any), Action, Resource
    /// and all Conditions match. Cheapest checks first.
    pub(crate) fn applies(&self, ctx: &RequestContext, action_lowercase: &str) -> Applies {
        let action_listed = self
            .actions
            .iter()
            .any(|g| g.matches(action_lowercase, false));
        if action_listed == self.not_action {
            return Applies::No;
        }
        if let Some(resources) = &self.resources {
            let resource = ctx.resource();
            let colons = ctx.resource_colons();
            let listed = resources
                .iter()
                .any(|p| p.matches_split(resource, colons, ctx));
            if listed == self.not_resource {
                return Applies::No;
            }
        }
        let grant = match &self.principal {
            None => None,
            Some(PrincipalClause::Principal(p)) => match p.grant_for(ctx.principal()) {
                Some(g) => Some(g),
                None => return Applies::No,
            },
            // [choice] §5: exempt when the session, its role or its account is listed.
            Some(PrincipalClause::NotPrincipal(p)) => match p.grant_for(ctx.principal()) {
                Some(_) => return Applies::No,
                None => Some(PrincipalGrant::Anyone),
            },
        };
        if self.conditions.iter().all(|c| c.holds(ctx)) {
            Applies::Yes(grant)
        } else {
            Applies::No
        }
    }
}

impl Policy {
    /// Parse and validate `text` as a policy of `kind`, with the kind's size
    /// limit ([`PolicyKind::size_limit`]).
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        Self::parse_with_limit(text, kind, kind.size_limit())
    }

    /// Parse a managed policy version (CreatePolicy, CreatePolicyVersion):
    /// identity grammar, at most 6,144 characters, and `Version` must be
    /// `2012-10-17` ("Policy document must be version 2012-10-17 or
    /// greater.", §9 \[choice]: required on managed policies only).
    pub fn parse_managed(text: &str) -> Result<Policy, PolicyError> {
        let policy = Self::parse_with_limit(text, PolicyKind::Identity, MANAGED_POLICY_LIMIT)?;
        require_current_version(&policy)?;
        Ok(policy)
    }

    /// Parse with an explicit size limit (e.g. a raised trust-policy quota, up to 4,096).
    pub fn parse_with_limit(
        text: &str,
        kind: PolicyKind,
        limit: usize,
    ) -> Result<Policy, PolicyError> {
        if let Some(character) = text
            .chars()
            .find(|c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
        {
            return Err(PolicyError::InvalidCharacter { character });
        }
        let raw_len = text.chars().count();
        if raw_len > DOCUMENT_PARAMETER_LIMIT {
            return Err(PolicyError::TooLarge {
                kind,
                size: raw_len,
                limit: DOCUMENT_PARAMETER_LIMIT,
            });
        }
        let size = significant_len(text);
        if size > limit {
            return Err(PolicyError::TooLarge { kind, size, limit });
        }
        let json = Json::parse(text).ok_or_else(|| {
            PolicyError::syntax(
                PolicyElement::Document,
                "the document is not a JSON object without repeated members".to_owned(),
            )
        })?;
        let policy = parse_document(&json, kind, size)?;
        if kind == PolicyKind::Boundary {
            require_current_version(&policy)?;
        }
        Ok(policy)
    }

    /// The document's `Version` (absent = 2008-10-17).
    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// Characters without insignificant white space: what IAM quotas count (§2).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether evaluating this policy reads any condition key of the
    /// request context (a `Condition` or a policy variable anywhere). When
    /// no policy of a request does, a caller may skip building the keys:
    /// the decision depends only on principal, action and resource.
    pub fn reads_context(&self) -> bool {
        self.reads_context
    }

    /// Number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    pub(crate) fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

fn require_current_version(policy: &Policy) -> Result<(), PolicyError> {
    if policy.version == PolicyVersion::V2012_10_17 {
        Ok(())
    } else {
        Err(PolicyError::malformed(
            PolicyElement::Version,
            "Policy document must be version 2012-10-17 or greater.",
            "`Version` must be `2012-10-17` in a managed policy".to_owned(),
        ))
    }
}

fn parse_document(json: &Json, kind: PolicyKind, size: usize) -> Result<Policy, PolicyError> {
    let Json::Object(members) = json else {
        return Err(PolicyError::syntax(
            PolicyElement::Document,
            format!(
                "the document must be a JSON object, not a {}",
                json.type_name()
            ),
        ));
    };
    let mut version = PolicyVersion::V2008_10_17;
    let mut statement = None;
    for (name, value) in members {
        match (name.as_str(), value) {
            ("Version", Json::String(v)) if v == "2012-10-17" => {
                version = PolicyVersion::V2012_10_17
            }
            ("Version", Json::String(v)) if v == "2008-10-17" => {
                version = PolicyVersion::V2008_10_17
            }
            ("Version", other) => {
                return Err(PolicyError::syntax(
                    PolicyElement::Version,
                    format!(
                        "`Version` must be `2012-10-17` or `2008-10-17`, not `{}`",
                        brief(other)
                    ),
                ));
            }
            // [choice] §1: `Id` accepted and ignored everywhere.
            ("Id", Json::String(_)) => {}
            ("Id", other) => {
                return Err(PolicyError::syntax(
                    PolicyElement::Id,
                    format!("`Id` must be a string, not a {}", other.type_name()),
                ));
            }
            ("Statement", value) => statement = Some(value),
            (other, _) => {
                return Err(PolicyError::syntax(
                    PolicyElement::Document,
                    format!("unknown top-level element `{other}`"),
                ));
            }
        }
    }
    let statement_error =
        |detail: &str| PolicyError::syntax(PolicyElement::Statement, detail.to_owned());
    let raw_statements: Vec<&Json> = match statement {
        None => return Err(statement_error("`Statement` is missing")),
        Some(Json::Array(items)) if items.is_empty() => {
            return Err(statement_error("`Statement` is an empty list"));
        }
        Some(Json::Array(items)) => items.iter().collect(),
        Some(single @ Json::Object(_)) => vec![single],
        Some(_) => {
            return Err(statement_error(
                "`Statement` must be an object or a list of objects",
            ));
        }
    };
    let variables = version == PolicyVersion::V2012_10_17;
    let mut statements = Vec::with_capacity(raw_statements.len());
    for (index, raw) in raw_statements.into_iter().enumerate() {
        let parsed =
            parse_statement(raw, kind, variables).map_err(|error| error.in_statement(index))?;
        if let Some(sid) = parsed.sid.as_deref().filter(|s| !s.is_empty()) {
            let repeated = statements
                .iter()
                .any(|s: &Statement| s.sid.as_deref() == Some(sid));
            if repeated {
                return Err(PolicyError::malformed(
                    PolicyElement::Sid,
                    "Statement IDs (SID) in a single policy must be unique.",
                    format!("`Sid` `{sid}` appears in more than one statement"),
                )
                .in_statement(index));
            }
        }
        statements.push(parsed);
    }
    let reads_context = statements.iter().any(Statement::reads_context);
    Ok(Policy {
        version,
        size,
        statements,
        reads_context,
    })
}

/// A short rendering of a JSON value for error details.
fn brief(value: &Json) -> String {
    match value {
        Json::String(s) => s.chars().take(64).collect(),
        Json::Number(n) => n.clone(),
        other => other.type_name().to_owned(),
    }
}

#[derive(Default)]
struct RawStatement<'j> {
    sid: Option<&'j Json>,
    effect: Option<&'j Json>,
    principal: Option<&'j Json>,
    not_principal: Option<&'j Json>,
    action: Option<&'j Json>,
    not_action: Option<&'j Json>,
    resource: Option<&'j Json>,
    not_resource: Option<&'j Json>,
    condition: Option<&'j Json>,
}

fn parse_statement(
    json: &Json,
    kind: PolicyKind,
    variables: bool,
) -> Result<Statement, PolicyError> {
    let Json::Object(members) = json else {
        return Err(PolicyError::syntax(
            PolicyElement::Statement,
            format!("a statement must be an object, not a {}", json.type_name()),
        ));
    };
    let mut raw = RawStatement::default();
    for (name, value) in members {
        let slot = match name.as_str() {
            "Sid" => &mut raw.sid,
            "Effect" => &mut raw.effect,
            "Principal" => &mut raw.principal,
            "NotPrincipal" => &mut raw.not_principal,
            "Action" => &mut raw.action,
            "NotAction" => &mut raw.not_action,
            "Resource" => &mut raw.resource,
            "NotResource" => &mut raw.not_resource,
            "Condition" => &mut raw.condition,
            other => {
                return Err(PolicyError::syntax(
                    PolicyElement::Statement,
                    format!("unknown statement element `{other}`"),
                ));
            }
        };
        *slot = Some(value);
    }
    let both = |a: PolicyElement, b: PolicyElement| {
        PolicyError::syntax(a, format!("a statement has both `{a}` and `{b}`"))
    };
    if raw.action.is_some() && raw.not_action.is_some() {
        return Err(both(PolicyElement::Action, PolicyElement::NotAction));
    }
    if raw.resource.is_some() && raw.not_resource.is_some() {
        return Err(both(PolicyElement::Resource, PolicyElement::NotResource));
    }
    if raw.principal.is_some() && raw.not_principal.is_some() {
        return Err(both(PolicyElement::Principal, PolicyElement::NotPrincipal));
    }

    let sid = match raw.sid {
        None => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(PolicyError::syntax(
                PolicyElement::Sid,
                format!("`Sid` must be a string, not a {}", other.type_name()),
            ));
        }
    };
    // [choice] §1: IAM-kind policies need alphanumeric Sids; other resource
    // policies (e.g. bucket policies) accept any text.
    let bad_sid = sid
        .as_deref()
        .filter(|s| kind != PolicyKind::Resource && !s.chars().all(|c| c.is_ascii_alphanumeric()));
    if let Some(s) = bad_sid {
        return Err(PolicyError::malformed(
            PolicyElement::Sid,
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
            format!("`Sid` `{s}` is not alphanumeric"),
        ));
    }

    let effect = match raw.effect {
        None => {
            return Err(PolicyError::syntax(
                PolicyElement::Effect,
                "a statement has no `Effect`".to_owned(),
            ));
        }
        Some(Json::String(e)) if e == "Allow" => Effect::Allow,
        Some(Json::String(e)) if e == "Deny" => Effect::Deny,
        Some(Json::String(e)) => {
            return Err(PolicyError::malformed(
                PolicyElement::Effect,
                LEGACY_PARSING,
                format!("`Effect` must be `Allow` or `Deny`, not `{e}`"),
            ));
        }
        Some(other) => {
            return Err(PolicyError::syntax(
                PolicyElement::Effect,
                format!("`Effect` must be a string, not a {}", other.type_name()),
            ));
        }
    };

    let principal = parse_principal_clause(&raw, kind)?;

    let (action_element, action_value, not_action) = match (raw.action, raw.not_action) {
        (Some(a), _) => (PolicyElement::Action, a, false),
        (None, Some(a)) => (PolicyElement::NotAction, a, true),
        (None, None) => return Err(no_actions(PolicyElement::Action)),
    };
    let action_texts = string_list(action_value, action_element)?;
    if action_texts.is_empty() {
        return Err(no_actions(action_element));
    }
    let mut actions = Vec::with_capacity(action_texts.len());
    for text in action_texts {
        validate_action(text, action_element)?;
        if kind == PolicyKind::Trust && !not_action {
            validate_trust_action(text)?;
        }
        actions.push(Glob::parse(&text.to_ascii_lowercase()));
    }

    let resources = parse_resources(&raw, kind, variables)?;
    let not_resource = raw.not_resource.is_some();

    let conditions = match raw.condition {
        None => Vec::new(),
        Some(value) => parse_conditions(value, variables)?,
    };

    Ok(Statement {
        sid,
        effect,
        principal,
        not_action,
        actions,
        not_resource,
        resources,
        conditions,
    })
}

fn no_actions(element: PolicyElement) -> PolicyError {
    PolicyError::malformed(
        element,
        "Policy statement must contain actions.",
        format!("a statement has no `{element}` entries"),
    )
}

fn string_list(value: &Json, element: PolicyElement) -> Result<Vec<&str>, PolicyError> {
    let bad = || {
        PolicyError::syntax(
            element,
            format!("`{element}` must be a string or a list of strings"),
        )
    };
    match value {
        Json::String(s) => Ok(vec![s.as_str()]),
        Json::Array(items) => items
            .iter()
            .map(|i| match i {
                Json::String(s) => Ok(s.as_str()),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

fn parse_principal_clause(
    raw: &RawStatement<'_>,
    kind: PolicyKind,
) -> Result<Option<PrincipalClause>, PolicyError> {
    let present = match (raw.principal, raw.not_principal) {
        (Some(p), _) => Some((PolicyElement::Principal, p)),
        (None, Some(p)) => Some((PolicyElement::NotPrincipal, p)),
        (None, None) => None,
    };
    if kind.is_identity_type() {
        if let Some((element, _)) = present {
            return Err(PolicyError::malformed(
                element,
                "Policy document should not specify a principal.",
                format!("`{element}` is not allowed in a {kind} policy"),
            ));
        }
        return Ok(None);
    }
    let Some((element, value)) = present else {
        return Err(PolicyError::malformed(
            PolicyElement::Principal,
            "Missing required field Principal",
            format!("a statement of a {kind} policy has no `Principal`"),
        ));
    };
    if kind == PolicyKind::Trust && element == PolicyElement::NotPrincipal {
        // [choice] §1: NotPrincipal is not allowed in trust policies; AWS's text unknown.
        return Err(PolicyError::malformed(
            element,
            "Has prohibited field NotPrincipal.",
            "`NotPrincipal` is not allowed in a trust policy".to_owned(),
        ));
    }
    let principals = Principals::parse(value, element)?;
    Ok(Some(if element == PolicyElement::Principal {
        PrincipalClause::Principal(principals)
    } else {
        PrincipalClause::NotPrincipal(principals)
    }))
}

/// §3: `*` or `vendor:pattern` with a literal vendor `[A-Za-z0-9.-]+`.
fn validate_action(text: &str, element: PolicyElement) -> Result<(), PolicyError> {
    if text == "*" {
        return Ok(());
    }
    let mut parts = text.split(':');
    let vendor = parts.next().unwrap_or_default();
    let (Some(_), None) = (parts.next(), parts.next()) else {
        let message = if text.contains(':') {
            "Actions/Condition can contain only one colon."
        } else {
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
        };
        return Err(PolicyError::malformed(
            element,
            message,
            format!("`{element}` entry `{text}` is not `vendor:action`"),
        ));
    };
    let vendor_ok = !vendor.is_empty()
        && vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !vendor_ok {
        return Err(PolicyError::malformed(
            element,
            &format!("Vendor {vendor} is not valid"),
            format!("`{element}` entry `{text}` has an invalid vendor `{vendor}`"),
        ));
    }
    Ok(())
}

/// §1, §9: trust policies grant only `sts:` actions (\[choice] every `sts:`
/// name AWS tolerates, and `*`).
fn validate_trust_action(text: &str) -> Result<(), PolicyError> {
    let lower = text.to_ascii_lowercase();
    if lower == "*" || lower.starts_with("sts:") {
        return Ok(());
    }
    Err(PolicyError::malformed(
        PolicyElement::Action,
        "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML, and sts:AssumeRoleWithWebIdentity",
        format!("`Action` entry `{text}` is not an sts action"),
    ))
}

const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
    "*",
];

const IAM_RESOURCE_PREFIXES: &[&str] = &[
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
];

fn parse_resources(
    raw: &RawStatement<'_>,
    kind: PolicyKind,
    variables: bool,
) -> Result<Option<Vec<ArnPattern>>, PolicyError> {
    let present = match (raw.resource, raw.not_resource) {
        (Some(r), _) => Some((PolicyElement::Resource, r)),
        (None, Some(r)) => Some((PolicyElement::NotResource, r)),
        (None, None) => None,
    };
    if kind == PolicyKind::Trust {
        if let Some((element, _)) = present {
            return Err(PolicyError::malformed(
                element,
                &format!("Has prohibited field {element}."),
                format!("`{element}` is not allowed in a trust policy"),
            ));
        }
        return Ok(None);
    }
    let no_resources = |element: PolicyElement| {
        PolicyError::malformed(
            element,
            "Policy statement must contain resources.",
            format!("a statement of a {kind} policy has no `{element}` entries"),
        )
    };
    let Some((element, value)) = present else {
        return Err(no_resources(PolicyElement::Resource));
    };
    let texts = string_list(value, element)?;
    if texts.is_empty() {
        return Err(no_resources(element));
    }
    let mut patterns = Vec::with_capacity(texts.len());
    for text in texts {
        validate_resource(text, element)?;
        patterns.push(ArnPattern::new(resource_pieces(text, variables)));
    }
    Ok(Some(patterns))
}

/// Variables are substituted only in the resource field, after the fifth colon (§4, §7).
fn resource_pieces(text: &str, variables: bool) -> Vec<Piece> {
    if !variables {
        return vec![Piece::Text(text.to_owned())];
    }
    let split_at = text
        .match_indices(':')
        .nth(4)
        .map(|(i, _)| i + 1)
        .unwrap_or(text.len());
    let (head, tail) = text.split_at(split_at);
    let mut pieces = Vec::new();
    if !head.is_empty() {
        pieces.push(Piece::Text(head.to_owned()));
    }
    pieces.extend(parse_pieces(tail));
    pieces
}

/// §4, §9 resource checks, in the order AWS's validator applies them.
fn validate_resource(text: &str, element: PolicyElement) -> Result<(), PolicyError> {
    if text == "*" {
        return Ok(());
    }
    let fail = |message: &str, what: &str| {
        PolicyError::malformed(
            element,
            message,
            format!("`{element}` entry `{text}` {what}"),
        )
    };
    let Some(rest) = text.strip_prefix("arn:") else {
        return Err(fail(
            &format!("Resource {text} must be in ARN format or \"*\"."),
            "is not an ARN",
        ));
    };
    let fields: Vec<&str> = rest.splitn(5, ':').collect();
    let partition = fields.first().copied().unwrap_or_default();
    if !PARTITIONS.contains(&partition) {
        let field = |i: usize| {
            fields
                .get(i)
                .copied()
                .filter(|f| !f.is_empty())
                .unwrap_or("*")
        };
        return Err(fail(
            &format!(
                "Partition \"{partition}\" is not valid for resource \"arn:{partition}:{}:{}:{}:{}\".",
                field(1),
                field(2),
                field(3),
                field(4)
            ),
            "has an unknown partition",
        ));
    }
    if fields.len() < 5 {
        if text.contains("::") {
            return Err(fail(LEGACY_PARSING, "has `::` but fewer than six fields"));
        }
        // [choice] §4: short patterns are accepted; the last field globs the rest.
        return match fields.get(1) {
            Some(service) if service.contains(['*', '?']) || service.is_empty() => Err(fail(
                "Resource vendor must be fully qualified and cannot contain regexes.",
                "has a wildcard in the service field",
            )),
            _ => Ok(()),
        };
    }
    let (service, region, resource) = (
        fields.get(1).copied().unwrap_or_default(),
        fields.get(2).copied().unwrap_or_default(),
        fields.get(4).copied().unwrap_or_default(),
    );
    if service.is_empty() || service.contains(['*', '?']) {
        return Err(fail(
            "Resource vendor must be fully qualified and cannot contain regexes.",
            "has a wildcard in the service field",
        ));
    }
    if service == "iam" {
        if !region.is_empty() {
            return Err(fail(
                &format!("IAM resource {text} cannot contain region information."),
                "has a region",
            ));
        }
        if resource != "*"
            && !IAM_RESOURCE_PREFIXES
                .iter()
                .any(|p| resource.starts_with(p))
        {
            return Err(fail(
                &format!(
                    "IAM resource path must either be \"*\" or start with {}.",
                    IAM_RESOURCE_PREFIXES.join(", ")
                ),
                "has an unknown IAM resource type",
            ));
        }
    }
    Ok(())
}
