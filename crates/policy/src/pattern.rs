//! Wildcard patterns, ARN patterns and policy variables
//! (policy-evaluation.md §3, §4, §6.3 `StringLike`/`Arn*`, §7).
//!
//! Everything a policy says is compiled here once at parse time; matching
//! allocates only when a pattern contains a policy variable.

use std::borrow::Cow;

use crate::context::RequestContext;

/// One piece of a compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GlobTok {
    /// Text that must appear as is.
    Lit(Box<str>),
    /// `*`: any sequence of characters, including none.
    Any,
    /// `?`: exactly one character.
    One,
}

/// A compiled `*`/`?` wildcard pattern (§3: "everything else literal").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    toks: Box<[GlobTok]>,
}

impl Glob {
    /// Compile `text`, where `*` and `?` are wildcards.
    pub(crate) fn parse(text: &str) -> Glob {
        let mut toks = Vec::new();
        push_pattern_text(&mut toks, text);
        Glob { toks: toks.into() }
    }

    /// A pattern from already-compiled pieces.
    pub(crate) fn from_toks(toks: Vec<GlobTok>) -> Glob {
        Glob { toks: toks.into() }
    }

    /// Whether the pattern is a lone `*`.
    pub(crate) fn is_any(&self) -> bool {
        matches!(&*self.toks, [GlobTok::Any])
    }

    /// Whether `value` matches; `fold` compares ASCII letters case-insensitively.
    pub(crate) fn matches(&self, value: &str, fold: bool) -> bool {
        match &*self.toks {
            [] => value.is_empty(),
            [GlobTok::Any] => true,
            [GlobTok::Lit(lit)] => eq(value, lit, fold),
            toks => glob_match(toks, value, fold),
        }
    }
}

fn eq(a: &str, b: &str, fold: bool) -> bool {
    if fold {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// Append the pieces of policy text in which `*` and `?` are wildcards.
fn push_pattern_text(toks: &mut Vec<GlobTok>, text: &str) {
    let mut lit_start = 0;
    for (i, c) in text.char_indices() {
        if c == '*' || c == '?' {
            if let Some(lit) = text.get(lit_start..i).filter(|l| !l.is_empty()) {
                toks.push(GlobTok::Lit(lit.into()));
            }
            // Consecutive stars are one star; keeps backtracking linear-ish.
            if c == '*' {
                if toks.last() != Some(&GlobTok::Any) {
                    toks.push(GlobTok::Any);
                }
            } else {
                toks.push(GlobTok::One);
            }
            lit_start = i + c.len_utf8();
        }
    }
    if let Some(lit) = text.get(lit_start..).filter(|l| !l.is_empty()) {
        toks.push(GlobTok::Lit(lit.into()));
    }
}

fn starts_with_at(value: &str, at: usize, lit: &str, fold: bool) -> bool {
    let bytes = value.as_bytes();
    match bytes.get(at..at.saturating_add(lit.len())) {
        Some(window) if fold => window.eq_ignore_ascii_case(lit.as_bytes()),
        Some(window) => window == lit.as_bytes(),
        None => false,
    }
}

/// A token as the matcher sees it (variables already resolved).
#[derive(Clone, Copy)]
enum TokView<'a> {
    Lit(&'a str),
    Any,
    One,
}

fn glob_match(toks: &[GlobTok], value: &str, fold: bool) -> bool {
    glob_match_by(
        |i| {
            toks.get(i).map(|t| match t {
                GlobTok::Lit(l) => TokView::Lit(l),
                GlobTok::Any => TokView::Any,
                GlobTok::One => TokView::One,
            })
        },
        value,
        fold,
    )
}

/// Iterative wildcard match with backtracking to the last `*` (linear for
/// patterns with one star, O(n·m) worst case, never recursive). `tok_at(i)`
/// gives the i-th token, `None` past the end.
fn glob_match_by<'a>(
    tok_at: impl Fn(usize) -> Option<TokView<'a>>,
    value: &str,
    fold: bool,
) -> bool {
    let mut t = 0usize;
    let mut v = 0usize;
    // (token after the last star, value position that star's match ends at)
    let mut star: Option<(usize, usize)> = None;
    loop {
        let advanced = match tok_at(t) {
            Some(TokView::Any) => {
                star = Some((t + 1, v));
                t += 1;
                continue;
            }
            Some(TokView::One) => match value.get(v..).and_then(|rest| rest.chars().next()) {
                Some(c) => {
                    v += c.len_utf8();
                    true
                }
                None => false,
            },
            Some(TokView::Lit(lit)) => {
                if starts_with_at(value, v, lit, fold) {
                    v += lit.len();
                    true
                } else {
                    false
                }
            }
            None => {
                if v == value.len() {
                    return true;
                }
                false
            }
        };
        if advanced {
            t += 1;
            continue;
        }
        // Mismatch: let the last star swallow one more character.
        let Some((after_star, star_end)) = star else {
            return false;
        };
        let Some(c) = value.get(star_end..).and_then(|rest| rest.chars().next()) else {
            return false;
        };
        let next_end = star_end + c.len_utf8();
        star = Some((after_star, next_end));
        t = after_star;
        v = next_end;
    }
}

/// Piece of a policy value that may contain policy variables (§7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Text from the policy (wildcards active where the operator globs).
    Text(String),
    /// `${*}`, `${?}`, `${$}`: the character itself, never a wildcard.
    Literal(char),
    /// `${key}` or `${key, 'default'}`; `key` lowercased.
    Var {
        key: String,
        default: Option<String>,
    },
}

/// Split `text` into pieces, recognising `${…}` (only called under Version
/// 2012-10-17; §7). An unterminated `${` is plain text \[choice].
pub(crate) fn parse_pieces(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text_start = 0usize;
    let mut search = 0usize;
    while let Some(found) = text.get(search..).and_then(|rest| rest.find("${")) {
        let open = search + found;
        let Some(close_rel) = text.get(open + 2..).and_then(|rest| rest.find('}')) else {
            break;
        };
        let close = open + 2 + close_rel;
        let inner = text.get(open + 2..close).unwrap_or_default();
        if let Some(before) = text.get(text_start..open).filter(|b| !b.is_empty()) {
            pieces.push(Piece::Text(before.to_owned()));
        }
        pieces.push(parse_variable(inner));
        text_start = close + 1;
        search = close + 1;
    }
    if let Some(rest) = text.get(text_start..).filter(|r| !r.is_empty()) {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    pieces
}

fn parse_variable(inner: &str) -> Piece {
    match inner {
        "*" => return Piece::Literal('*'),
        "?" => return Piece::Literal('?'),
        "$" => return Piece::Literal('$'),
        _ => {}
    }
    // `${key, 'default'}`: comma, one space, single-quoted default (§7).
    if let Some((key, default)) = inner.split_once(',') {
        let default = default.trim();
        let default = default
            .strip_prefix('\'')
            .and_then(|d| d.strip_suffix('\''))
            .unwrap_or(default);
        return Piece::Var {
            key: key.trim().to_lowercase(),
            default: Some(default.to_owned()),
        };
    }
    Piece::Var {
        key: inner.trim().to_lowercase(),
        default: None,
    }
}

/// Whether any piece is a variable.
pub(crate) fn has_variables(pieces: &[Piece]) -> bool {
    pieces.iter().any(|p| matches!(p, Piece::Var { .. }))
}

/// The value of variable `key`, or its default; `None` if unresolvable
/// (absent, or multi-valued: "multi-valued keys cannot be variables", §7).
fn resolve_variable<'c>(
    ctx: &'c RequestContext,
    key: &str,
    default: Option<&'c str>,
) -> Option<&'c str> {
    ctx.single_value(key).or(default)
}

/// Whether `value` equals the pieces with variables substituted, without
/// building the string; `None` if a variable cannot be resolved. `fold`
/// compares ASCII letters case-insensitively.
pub(crate) fn equals_pieces(
    pieces: &[Piece],
    ctx: &RequestContext,
    value: &str,
    fold: bool,
) -> Option<bool> {
    let mut rest = value;
    let mut equal = true;
    for piece in pieces {
        let mut buf = [0u8; 4];
        let part: &str = match piece {
            Piece::Text(t) => t,
            Piece::Literal(c) => c.encode_utf8(&mut buf),
            Piece::Var { key, default } => resolve_variable(ctx, key, default.as_deref())?,
        };
        if equal {
            match rest.get(..part.len()) {
                Some(head) if (fold && head.eq_ignore_ascii_case(part)) || head == part => {
                    rest = rest.get(part.len()..).unwrap_or_default();
                }
                _ => equal = false,
            }
        }
    }
    Some(equal && rest.is_empty())
}

/// Substitute variables into plain text (for operators that do not glob).
/// `None` if a variable cannot be resolved.
pub(crate) fn resolve_text<'p>(pieces: &'p [Piece], ctx: &RequestContext) -> Option<Cow<'p, str>> {
    if let [Piece::Text(t)] = pieces {
        return Some(Cow::Borrowed(t.as_str()));
    }
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Literal(c) => out.push(*c),
            Piece::Var { key, default } => {
                out.push_str(resolve_variable(ctx, key, default.as_deref())?);
            }
        }
    }
    Some(Cow::Owned(out))
}

/// Pieces as wildcard tokens; substituted values are literal text
/// (\[choice] §7: "treat as literal"). `None` if a variable cannot be resolved.
fn resolve_toks(pieces: &[Piece], ctx: Option<&RequestContext>) -> Option<Vec<GlobTok>> {
    let mut toks = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => push_pattern_text(&mut toks, t),
            Piece::Literal(c) => toks.push(GlobTok::Lit(c.to_string().into())),
            Piece::Var { key, default } => {
                let value = resolve_variable(ctx?, key, default.as_deref())?;
                if !value.is_empty() {
                    toks.push(GlobTok::Lit(value.into()));
                }
            }
        }
    }
    Some(toks)
}

/// A wildcard token that may be a policy variable.
#[derive(Debug, Clone, PartialEq, Eq)]
enum VarTok {
    Glob(GlobTok),
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A wildcard pattern with policy variables, matched without building the
/// substituted pattern: variables are looked up as the matcher reaches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VarGlob {
    toks: Box<[VarTok]>,
}

impl VarGlob {
    fn new(pieces: &[Piece]) -> VarGlob {
        let mut toks = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => {
                    let mut globs = Vec::new();
                    push_pattern_text(&mut globs, t);
                    toks.extend(globs.into_iter().map(VarTok::Glob));
                }
                Piece::Literal(c) => toks.push(VarTok::Glob(GlobTok::Lit(c.to_string().into()))),
                Piece::Var { key, default } => toks.push(VarTok::Var {
                    key: key.clone(),
                    default: default.clone(),
                }),
            }
        }
        VarGlob { toks: toks.into() }
    }

    /// Whether `value` matches; `false` if a variable is unresolvable (§7).
    fn matches(&self, value: &str, ctx: &RequestContext, fold: bool) -> bool {
        let resolvable = self.toks.iter().all(|t| match t {
            VarTok::Var { key, default } => {
                resolve_variable(ctx, key, default.as_deref()).is_some()
            }
            VarTok::Glob(_) => true,
        });
        resolvable
            && glob_match_by(
                |i| {
                    self.toks.get(i).map(|t| match t {
                        VarTok::Glob(GlobTok::Lit(l)) => TokView::Lit(l),
                        VarTok::Glob(GlobTok::Any) => TokView::Any,
                        VarTok::Glob(GlobTok::One) => TokView::One,
                        VarTok::Var { key, default } => TokView::Lit(
                            resolve_variable(ctx, key, default.as_deref()).unwrap_or_default(),
                        ),
                    })
                },
                value,
                fold,
            )
    }
}

/// A wildcard pattern that may contain policy variables (`StringLike`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GlobValue {
    Fixed(Glob),
    Variable(VarGlob),
}

impl GlobValue {
    pub(crate) fn new(pieces: Vec<Piece>) -> GlobValue {
        if has_variables(&pieces) {
            GlobValue::Variable(VarGlob::new(&pieces))
        } else {
            GlobValue::Fixed(Glob::from_toks(
                resolve_toks(&pieces, None).unwrap_or_default(),
            ))
        }
    }

    /// Whether `value` matches for this request; an unresolvable variable matches nothing.
    pub(crate) fn matches(&self, value: &str, ctx: &RequestContext) -> bool {
        match self {
            GlobValue::Fixed(g) => g.matches(value, false),
            GlobValue::Variable(v) => v.matches(value, ctx, false),
        }
    }
}

/// ARN fields: split tokens at the first five literal colons (§4: "the sixth
/// field keeps any further colons").
fn split_arn_fields(toks: Vec<GlobTok>) -> Vec<Glob> {
    let mut fields = Vec::with_capacity(6);
    let mut current: Vec<GlobTok> = Vec::new();
    for tok in toks {
        match tok {
            GlobTok::Lit(lit) if fields.len() < 5 && lit.contains(':') => {
                let mut rest: &str = &lit;
                while fields.len() < 5 {
                    let Some((head, tail)) = rest.split_once(':') else {
                        break;
                    };
                    if !head.is_empty() {
                        current.push(GlobTok::Lit(head.into()));
                    }
                    fields.push(Glob::from_toks(std::mem::take(&mut current)));
                    rest = tail;
                }
                if !rest.is_empty() {
                    current.push(GlobTok::Lit(rest.into()));
                }
            }
            other => current.push(other),
        }
    }
    fields.push(Glob::from_toks(current));
    fields
}

/// Byte positions of the first five colons of an ARN (fewer if it has fewer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ArnColons {
    at: [usize; 5],
    count: usize,
}

impl ArnColons {
    pub(crate) fn of(value: &str) -> ArnColons {
        let mut colons = ArnColons::default();
        for ((i, _), slot) in value.match_indices(':').zip(colons.at.iter_mut()) {
            *slot = i;
            colons.count += 1;
        }
        colons
    }

    /// The value split for a pattern of `n` fields: the first `n - 1`
    /// colon-separated fields, then the rest. `None` if too few colons.
    fn field<'v>(&self, value: &'v str, n: usize, i: usize) -> Option<&'v str> {
        let start = match i.checked_sub(1) {
            None => 0,
            Some(prev) => self.at.get(prev)? + 1,
        };
        if i + 1 >= n {
            return value.get(start..);
        }
        value.get(start..*self.at.get(i)?)
    }

    fn has_fields(&self, n: usize) -> bool {
        n.saturating_sub(1) <= self.count
    }
}

/// Match ARN pattern fields against `value`, field by field (§4, §6.3 `Arn*`).
/// A pattern of fewer than six fields globs its last field against the rest
/// of the value (\[choice] §4).
fn arn_fields_match(fields: &[Glob], value: &str, colons: &ArnColons) -> bool {
    let n = fields.len();
    if n == 0 {
        return value.is_empty();
    }
    colons.has_fields(n)
        && fields.iter().enumerate().all(|(i, field)| {
            colons
                .field(value, n, i)
                .is_some_and(|v| field.matches(v, false))
        })
}

/// A compiled ARN pattern (`Resource`/`NotResource` entries, `Arn*` values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    /// `*`: everything, including requests without a specific resource.
    Any,
    /// No variables: fields compiled once.
    Fixed(Vec<Glob>),
    /// Variables only after the fifth colon (the usual `Resource` case):
    /// five fields compiled once, the resource field matched with variables.
    LastFieldVariable(Vec<Glob>, VarGlob),
    /// Variables elsewhere: substituted per request, then split.
    Variable(Vec<Piece>),
}

impl ArnPattern {
    pub(crate) fn new(pieces: Vec<Piece>) -> ArnPattern {
        if has_variables(&pieces) {
            return Self::with_variables(pieces);
        }
        let fields = split_arn_fields(resolve_toks(&pieces, None).unwrap_or_default());
        if matches!(fields.as_slice(), [only] if only.is_any()) {
            return ArnPattern::Any;
        }
        ArnPattern::Fixed(fields)
    }

    /// Whether matching substitutes policy variables.
    pub(crate) fn has_variables(&self) -> bool {
        matches!(
            self,
            ArnPattern::LastFieldVariable(..) | ArnPattern::Variable(_)
        )
    }

    fn with_variables(pieces: Vec<Piece>) -> ArnPattern {
        // The five leading fields must be plain policy text.
        let head = match pieces.first() {
            Some(Piece::Text(head)) => head.as_str(),
            _ => "",
        };
        let Some((colon, _)) = head.match_indices(':').nth(4) else {
            return ArnPattern::Variable(pieces);
        };
        let leading = head.get(..colon).unwrap_or_default();
        let tail = head.get(colon + 1..).unwrap_or_default();
        let fields = leading.split(':').map(Glob::parse).collect();
        let mut rest = Vec::with_capacity(pieces.len());
        if !tail.is_empty() {
            rest.push(Piece::Text(tail.to_owned()));
        }
        rest.extend(pieces.iter().skip(1).cloned());
        ArnPattern::LastFieldVariable(fields, VarGlob::new(&rest))
    }

    /// Whether `value` matches; an unresolvable variable matches nothing (§4, §7).
    pub(crate) fn matches(&self, value: &str, ctx: &RequestContext) -> bool {
        self.matches_split(value, &ArnColons::of(value), ctx)
    }

    /// [`ArnPattern::matches`] with the value's colons already found (the
    /// request resource's are found once per request).
    pub(crate) fn matches_split(
        &self,
        value: &str,
        colons: &ArnColons,
        ctx: &RequestContext,
    ) -> bool {
        match self {
            ArnPattern::Any => true,
            ArnPattern::Fixed(fields) => arn_fields_match(fields, value, colons),
            ArnPattern::LastFieldVariable(leading, last) => {
                let n = leading.len() + 1;
                colons.has_fields(n)
                    && leading.iter().enumerate().all(|(i, field)| {
                        colons
                            .field(value, n, i)
                            .is_some_and(|v| field.matches(v, false))
                    })
                    && colons
                        .field(value, n, n - 1)
                        .is_some_and(|rest| last.matches(rest, ctx, false))
            }
            ArnPattern::Variable(pieces) => match resolve_toks(pieces, Some(ctx)) {
                Some(toks) => arn_fields_match(&split_arn_fields(toks), value, colons),
                None => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{PrincipalInfo, RequestContext};

    fn ctx() -> RequestContext {
        let mut ctx = RequestContext::new(PrincipalInfo::anonymous(), "s3:GetObject", "*");
        ctx.set("aws:username", "alice");
        ctx.set("aws:PrincipalTag/star", "a*b");
        ctx
    }

    #[test]
    fn glob_matches_star_and_question_mark_anywhere() {
        let g = Glob::parse("iam:*access?ey*");
        assert!(g.matches("iam:createaccesskey", false));
        assert!(g.matches("iam:accesskey", false));
        assert!(!g.matches("iam:createaccesskes", false));
        assert!(Glob::parse("a*b*c").matches("aXXbYYbc", false));
        assert!(!Glob::parse("a*b*c").matches("aXXbYYb", false));
        assert!(Glob::parse("?").matches("é", false));
        assert!(!Glob::parse("?").matches("", false));
        assert!(Glob::parse("").matches("", false));
    }

    #[test]
    fn glob_folds_ascii_case_only_when_asked() {
        assert!(Glob::parse("IAM:List*").matches("iam:listusers", true));
        assert!(!Glob::parse("IAM:List*").matches("iam:listusers", false));
    }

    #[test]
    fn variables_parse_with_defaults_and_literals() {
        assert_eq!(
            parse_pieces("a/${aws:PrincipalTag/team, 'company-wide'}/${*}"),
            vec![
                Piece::Text("a/".into()),
                Piece::Var {
                    key: "aws:principaltag/team".into(),
                    default: Some("company-wide".into())
                },
                Piece::Text("/".into()),
                Piece::Literal('*'),
            ]
        );
        assert_eq!(
            parse_pieces("${unterminated"),
            vec![Piece::Text("${unterminated".into())]
        );
    }

    #[test]
    fn substituted_values_are_literal_not_wildcards() {
        let ctx = ctx();
        let g = GlobValue::new(parse_pieces("x/${aws:PrincipalTag/star}"));
        assert!(g.matches("x/a*b", &ctx));
        assert!(!g.matches("x/aZZb", &ctx));
        let p = ArnPattern::new(parse_pieces("arn:aws:s3:::b/${aws:PrincipalTag/star}/*"));
        assert!(matches!(p, ArnPattern::LastFieldVariable(..)));
        assert!(p.matches("arn:aws:s3:::b/a*b/k", &ctx));
        assert!(!p.matches("arn:aws:s3:::b/aZb/k", &ctx));
        let p = ArnPattern::new(parse_pieces("arn:aws:s3:::${aws:username}"));
        assert!(p.matches("arn:aws:s3:::alice", &ctx));
        assert!(!p.matches("arn:aws:s3:::alice2", &ctx));
        let p = ArnPattern::new(parse_pieces("${aws:PrincipalArn}"));
        assert!(matches!(p, ArnPattern::Variable(..)));
    }

    #[test]
    fn arn_star_does_not_cross_fields_but_resource_field_keeps_colons() {
        let ctx = ctx();
        let p = ArnPattern::new(parse_pieces("arn:aws:svc:*:111122223333:finance/*"));
        assert!(p.matches("arn:aws:svc:us-east-2:111122223333:finance/x", &ctx));
        assert!(!p.matches(
            "arn:aws:svc:us-east-2:999999999999:store/abc:111122223333:finance/x",
            &ctx
        ));
        let p = ArnPattern::new(parse_pieces("arn:aws:s3:::bucket/*/test/*"));
        assert!(p.matches("arn:aws:s3:::bucket/1/2/test/x:y", &ctx));
        let short = ArnPattern::new(parse_pieces("arn:aws:s3:*"));
        assert!(short.matches("arn:aws:s3:::anything/at:all", &ctx));
        assert!(!short.matches("arn:aws:iam::1:user/x", &ctx));
    }

    #[test]
    fn arn_pattern_with_unresolvable_variable_matches_nothing() {
        let ctx = ctx();
        let p = ArnPattern::new(parse_pieces("arn:aws:s3:::b/${aws:userid}/*"));
        assert!(!p.matches("arn:aws:s3:::b//x", &ctx));
        let p = ArnPattern::new(parse_pieces("arn:aws:s3:::b/${aws:username}/*"));
        assert!(p.matches("arn:aws:s3:::b/alice/x", &ctx));
        assert!(!p.matches("arn:aws:s3:::b/bob/x", &ctx));
    }
}
