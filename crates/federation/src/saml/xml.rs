//! Strict XML input: a size cap, no DTD at all, a node limit, and the small
//! helpers the verifier needs (names as written, element children, IDs).
//!
//! roxmltree never fetches external entities and refuses a DTD when
//! `allow_dtd` is false, except an empty one; we refuse any `<!DOCTYPE`
//! before parsing, so an entity-expansion bomb fails before a single entity
//! is read.

use roxmltree::{Document, Node, ParsingOptions};

/// Namespace of SAML 2.0 assertions.
pub(crate) const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// Namespace of the SAML 2.0 protocol (`Response`).
pub(crate) const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// Namespace of SAML 2.0 metadata.
pub(crate) const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// Namespace of XML-DSig.
pub(crate) const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Namespace of the exclusive C14N `InclusiveNamespaces` element.
pub(crate) const NS_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Most nodes a document may have; a real SAML response has a few hundred.
const NODES_LIMIT: u32 = 20_000;

/// Why strict parsing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseFailure {
    TooLarge,
    NotUtf8,
    Doctype,
    Malformed { line: u32, column: u32 },
}

/// Checks size, encoding and the absence of a DTD, then parses.
pub(crate) fn parse_strict(bytes: &[u8], limit: usize) -> Result<Document<'_>, ParseFailure> {
    if bytes.len() > limit {
        return Err(ParseFailure::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ParseFailure::NotUtf8)?;
    if contains_ignore_ascii_case(text.as_bytes(), b"<!DOCTYPE")
        || contains_ignore_ascii_case(text.as_bytes(), b"<!ENTITY")
    {
        return Err(ParseFailure::Doctype);
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: NODES_LIMIT,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options).map_err(|error| {
        if matches!(error, roxmltree::Error::DtdDetected) {
            return ParseFailure::Doctype;
        }
        let pos = error.pos();
        ParseFailure::Malformed {
            line: pos.row,
            column: pos.col,
        }
    })
}

fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

/// The qualified name of an element exactly as written (`saml:Assertion`).
pub(crate) fn element_qname<'a>(node: Node<'_, 'a>) -> &'a str {
    let text = node.document().input_text();
    // INVARIANT: an element node's range starts at its `<`.
    let after = text.get(node.range().start + 1..).unwrap_or("");
    let end = after
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(after.len());
    &after[..end]
}

/// The prefix of a qualified name, `None` when unprefixed.
pub(crate) fn prefix_of(qname: &str) -> Option<&str> {
    qname.split_once(':').map(|(prefix, _)| prefix)
}

/// Whether `node` is the element `{namespace}local`.
pub(crate) fn is(node: Node<'_, '_>, namespace: &str, local: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == local
        && node.tag_name().namespace() == Some(namespace)
}

/// Element children of `node`.
pub(crate) fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

/// Element children named `{namespace}local`.
pub(crate) fn children_named<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    namespace: &'static str,
    local: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    elements(node).filter(move |child| is(*child, namespace, local))
}

/// The one child `{namespace}local`, or `None` when there are zero or several.
pub(crate) fn only_child<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    namespace: &'static str,
    local: &'static str,
) -> Option<Node<'a, 'i>> {
    let mut found = children_named(node, namespace, local);
    let first = found.next()?;
    if found.next().is_some() {
        return None;
    }
    Some(first)
}

/// All text below `node`, comments and markup skipped: the value an XML
/// canonicalization without comments sees, so a comment inside a NameID
/// cannot cut it short.
pub(crate) fn text_content(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(Node::is_text)
        .filter_map(|text| text.text())
        .collect()
}

/// The ID attribute of an element: `ID` (SAML 2.0), `Id` or `AssertionID`.
pub(crate) fn id_attribute<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.attribute("ID")
        .or_else(|| node.attribute("Id"))
        .or_else(|| node.attribute("AssertionID"))
}

/// Whether two elements of the document share one ID value.
pub(crate) fn has_duplicate_ids(document: &Document<'_>) -> bool {
    let mut ids: Vec<&str> = document
        .descendants()
        .filter(Node::is_element)
        .flat_map(|node| {
            node.attributes()
                .filter(|attribute| {
                    attribute.namespace().is_none()
                        && matches!(attribute.name(), "ID" | "Id" | "AssertionID")
                })
                .map(|attribute| attribute.value())
        })
        .collect();
    let before = ids.len();
    ids.sort_unstable();
    ids.dedup();
    ids.len() != before
}
