//! Why a policy document was rejected (policy-evaluation.md §2, §9).

use std::fmt;

use crate::PolicyKind;

/// The element of a policy document a validation error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyElement {
    /// The document as a whole (not JSON, not an object, too large, bad characters).
    Document,
    /// `Version`.
    Version,
    /// `Id`.
    Id,
    /// `Statement` (missing, empty, wrong type, unknown member).
    Statement,
    /// `Sid`.
    Sid,
    /// `Effect`.
    Effect,
    /// `Principal`.
    Principal,
    /// `NotPrincipal`.
    NotPrincipal,
    /// `Action`.
    Action,
    /// `NotAction`.
    NotAction,
    /// `Resource`.
    Resource,
    /// `NotResource`.
    NotResource,
    /// `Condition` (operator, key or value).
    Condition,
}

impl PolicyElement {
    /// The element's name as written in a policy document (`Document` for the whole).
    pub fn name(self) -> &'static str {
        match self {
            Self::Document => "Document",
            Self::Version => "Version",
            Self::Id => "Id",
            Self::Statement => "Statement",
            Self::Sid => "Sid",
            Self::Effect => "Effect",
            Self::Principal => "Principal",
            Self::NotPrincipal => "NotPrincipal",
            Self::Action => "Action",
            Self::NotAction => "NotAction",
            Self::Resource => "Resource",
            Self::NotResource => "NotResource",
            Self::Condition => "Condition",
        }
    }
}

impl fmt::Display for PolicyElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy document that cannot be used.
///
/// `Display` of [`PolicyError::Malformed`] is exactly the text AWS puts in a
/// `MalformedPolicyDocument` error (policy-evaluation.md §9, wording best
/// effort as the reference says); [`PolicyError::element`] names the element
/// at fault and [`PolicyError::detail`] says precisely what is wrong, for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is not a valid policy: wire code `MalformedPolicyDocument` (400).
    #[error("{message}")]
    Malformed {
        /// The element at fault.
        element: PolicyElement,
        /// The AWS message, e.g. `Syntax errors in policy.`.
        message: String,
        /// A precise, lowercase explanation naming the element and the input in backticks.
        detail: String,
        /// The 0-based index of the statement at fault, when the fault is inside one.
        statement: Option<usize>,
    },
    /// The document exceeds the size limit of its kind (§2), white space outside
    /// strings not counted. Managed/inline quotas map to 409 `LimitExceeded`,
    /// session policies to `PackedPolicyTooLarge`/`ValidationError`: the caller
    /// picks the wire error, as the message differs per API.
    #[error(
        "policy document has {size} characters, more than the {limit} allowed for a {kind} policy"
    )]
    TooLarge {
        /// The kind the document was parsed as.
        kind: PolicyKind,
        /// Characters counted (insignificant white space removed).
        size: usize,
        /// The limit for that kind.
        limit: usize,
    },
    /// A character outside TAB, LF, CR and U+0020–U+00FF (the botocore model
    /// pattern of every policy-document parameter): wire code `ValidationError`.
    #[error(
        "policy document contains character {character:?} outside tab, lf, cr and u+0020-u+00ff"
    )]
    InvalidCharacter {
        /// The first offending character.
        character: char,
    },
}

impl PolicyError {
    pub(crate) fn malformed(element: PolicyElement, message: &str, detail: String) -> Self {
        Self::Malformed {
            element,
            message: message.to_owned(),
            detail,
            statement: None,
        }
    }

    /// Locate the fault in statement `index` (0-based), unless already located.
    pub(crate) fn in_statement(mut self, index: usize) -> Self {
        if let Self::Malformed { statement, .. } = &mut self {
            statement.get_or_insert(index);
        }
        self
    }

    pub(crate) fn syntax(element: PolicyElement, detail: String) -> Self {
        Self::malformed(element, SYNTAX_ERRORS, detail)
    }

    /// The element at fault (`Document` for size and character errors).
    pub fn element(&self) -> PolicyElement {
        match self {
            Self::Malformed { element, .. } => *element,
            Self::TooLarge { .. } | Self::InvalidCharacter { .. } => PolicyElement::Document,
        }
    }

    /// The 0-based index of the statement at fault, if the fault is inside one.
    pub fn statement(&self) -> Option<usize> {
        match self {
            Self::Malformed { statement, .. } => *statement,
            _ => None,
        }
    }

    /// Where the fault is, as a path into the document: `Statement[2].Effect`,
    /// `Statement[0]`, `Version`, or `Document` for the document as a whole.
    pub fn location(&self) -> String {
        let element = self.element();
        match (self.statement(), element) {
            (Some(i), PolicyElement::Statement | PolicyElement::Document) => {
                format!("Statement[{i}]")
            }
            (Some(i), element) => format!("Statement[{i}].{element}"),
            (None, element) => element.name().to_owned(),
        }
    }

    /// The message of the `MalformedPolicyDocument` error IAM and STS return
    /// when they validate a document: AWS's text (the [`Display`] form, so
    /// clients matching on it still match), then the offending element and
    /// what is wrong with it, e.g. `Syntax errors in policy. (Statement[1].Effect:
    /// `Effect` must be a string, not a number)` (policy-evaluation.md §9;
    /// the detail quotes at most 256 characters of the caller's own input).
    ///
    /// [`Display`]: std::fmt::Display
    pub fn wire_message(&self) -> String {
        match self {
            Self::Malformed {
                message, detail, ..
            } => {
                let mut shown: String = detail.chars().take(DETAIL_LIMIT).collect();
                if shown.len() < detail.len() {
                    shown.push_str("...");
                }
                format!("{message} ({}: {shown})", self.location())
            }
            other => other.to_string(),
        }
    }

    /// A precise explanation for logs (for `Malformed`: which element and input).
    pub fn detail(&self) -> String {
        match self {
            Self::Malformed { detail, .. } => detail.clone(),
            other => other.to_string(),
        }
    }

    /// The AWS error code this maps to on the wire when the document was a
    /// request parameter of IAM or STS: `MalformedPolicyDocument`,
    /// `LimitExceeded` (IAM quotas) or `ValidationError` (bad characters).
    /// STS session policies that are too large map to `PackedPolicyTooLarge`
    /// instead; the STS handler decides that.
    pub fn aws_code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "MalformedPolicyDocument",
            Self::TooLarge { .. } => "LimitExceeded",
            Self::InvalidCharacter { .. } => "ValidationError",
        }
    }
}

/// Characters of the detail [`PolicyError::wire_message`] repeats.
const DETAIL_LIMIT: usize = 256;

/// AWS: the generic structural error.
pub(crate) const SYNTAX_ERRORS: &str = "Syntax errors in policy.";
/// AWS: bad `Effect` value, malformed dates, short resource ARNs.
pub(crate) const LEGACY_PARSING: &str = "The policy failed legacy parsing";
