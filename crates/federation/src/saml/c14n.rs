//! Exclusive XML Canonicalization 1.0
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>, with or without comments) of
//! one element's subtree, optionally leaving out one descendant (the
//! enveloped `Signature`).
//!
//! Written for Mayfly; the fixtures are signed by xmlsec1, so a test passes
//! only when two independent canonicalizers agree.
//!
//! The rules, per the W3C recommendation:
//! - a namespace declaration is output on an element only if the element or
//!   one of its attributes uses the prefix (or the prefix is in the
//!   `InclusiveNamespaces PrefixList`), and the nearest output ancestor has not
//!   already output the same binding;
//! - namespace declarations sort by prefix (default first), attributes by
//!   namespace URI then local name (unqualified first);
//! - text escapes `&`, `<`, `>` and CR; attribute values escape `&`, `<`,
//!   `"`, TAB, LF and CR; empty elements get an end tag.

use roxmltree::{Node, NodeId, NodeType};

use super::xml::{element_qname, prefix_of};

/// Options of one canonicalization.
#[derive(Debug, Clone, Default)]
pub struct C14nOptions<'a> {
    /// `#WithComments`: keep comment nodes.
    pub with_comments: bool,
    /// `InclusiveNamespaces PrefixList`; `#default` names the default namespace.
    pub inclusive_prefixes: &'a [String],
}

/// Canonicalizes `apex` and its descendants, leaving out the subtree rooted
/// at `exclude` (if any).
#[must_use]
pub fn canonicalize<'a>(
    apex: Node<'a, 'a>,
    exclude: Option<NodeId>,
    options: &C14nOptions<'a>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(apex.range().len());
    // (prefix, URI) of the declarations output so far, innermost last.
    let mut rendered: Vec<(&'a str, &'a str)> = Vec::new();
    write_node(apex, exclude, options, &mut rendered, &mut out);
    out
}

fn write_node<'a>(
    node: Node<'a, 'a>,
    exclude: Option<NodeId>,
    options: &C14nOptions<'a>,
    rendered: &mut Vec<(&'a str, &'a str)>,
    out: &mut Vec<u8>,
) {
    if Some(node.id()) == exclude {
        return;
    }
    match node.node_type() {
        NodeType::Element => write_element(node, exclude, options, rendered, out),
        NodeType::Text => escape_text(node.text().unwrap_or(""), out),
        NodeType::Comment => {
            if options.with_comments {
                out.extend_from_slice(b"<!--");
                out.extend_from_slice(node.text().unwrap_or("").as_bytes());
                out.extend_from_slice(b"-->");
            }
        }
        NodeType::PI => {
            if let Some(pi) = node.pi() {
                out.extend_from_slice(b"<?");
                out.extend_from_slice(pi.target.as_bytes());
                if let Some(value) = pi.value.filter(|value| !value.is_empty()) {
                    out.push(b' ');
                    out.extend_from_slice(value.as_bytes());
                }
                out.extend_from_slice(b"?>");
            }
        }
        NodeType::Root => {
            for child in node.children() {
                write_node(child, exclude, options, rendered, out);
            }
        }
    }
}

fn write_element<'a>(
    node: Node<'a, 'a>,
    exclude: Option<NodeId>,
    options: &C14nOptions<'a>,
    rendered: &mut Vec<(&'a str, &'a str)>,
    out: &mut Vec<u8>,
) {
    let qname = element_qname(node);
    let text = node.document().input_text();

    // Prefixes this element visibly uses, "" for the default namespace.
    let mut used: Vec<&'a str> = vec![prefix_of(qname).unwrap_or("")];
    let mut attributes: Vec<(&str, &str, &str, &str)> = Vec::new();
    for attribute in node.attributes() {
        let attribute_qname = text
            .get(attribute.range_qname())
            .unwrap_or(attribute.name());
        if let Some(prefix) = prefix_of(attribute_qname) {
            used.push(prefix);
        }
        attributes.push((
            attribute.namespace().unwrap_or(""),
            attribute.name(),
            attribute_qname,
            attribute.value(),
        ));
    }
    for prefix in options.inclusive_prefixes {
        used.push(if prefix == "#default" {
            ""
        } else {
            prefix.as_str()
        });
    }
    used.sort_unstable();
    used.dedup();

    let scope_len = rendered.len();
    let mut declarations: Vec<(&'a str, &'a str)> = Vec::new();
    for prefix in used {
        if prefix == "xml" {
            continue;
        }
        let uri = node
            .lookup_namespace_uri(if prefix.is_empty() {
                None
            } else {
                Some(prefix)
            })
            .filter(|uri| !uri.is_empty());
        let previous = rendered
            .iter()
            .rev()
            .find(|(rendered_prefix, _)| *rendered_prefix == prefix)
            .map(|(_, uri)| *uri);
        match (uri, previous) {
            // An unbound prefix (only possible through the PrefixList) renders nothing.
            (None, _) if !prefix.is_empty() => {}
            // No default namespace here, and none rendered above: nothing to undo.
            (None, None) | (None, Some("")) => {}
            (None, Some(_)) => declarations.push((prefix, "")),
            (Some(uri), Some(previous)) if uri == previous => {}
            (Some(uri), _) => declarations.push((prefix, uri)),
        }
    }
    declarations.sort_by(|a, b| a.0.cmp(b.0));
    attributes.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

    out.push(b'<');
    out.extend_from_slice(qname.as_bytes());
    for (prefix, uri) in &declarations {
        if prefix.is_empty() {
            out.extend_from_slice(b" xmlns=\"");
        } else {
            out.extend_from_slice(b" xmlns:");
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(b"=\"");
        }
        escape_attribute(uri, out);
        out.push(b'"');
        rendered.push((prefix, uri));
    }
    for (_, _, attribute_qname, value) in &attributes {
        out.push(b' ');
        out.extend_from_slice(attribute_qname.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_attribute(value, out);
        out.push(b'"');
    }
    out.push(b'>');
    for child in node.children() {
        write_node(child, exclude, options, rendered, out);
    }
    out.extend_from_slice(b"</");
    out.extend_from_slice(qname.as_bytes());
    out.push(b'>');
    rendered.truncate(scope_len);
}

fn escape_text(text: &str, out: &mut Vec<u8>) {
    for byte in text.bytes() {
        match byte {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'\r' => out.extend_from_slice(b"&#xD;"),
            _ => out.push(byte),
        }
    }
}

fn escape_attribute(value: &str, out: &mut Vec<u8>) {
    for byte in value.bytes() {
        match byte {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\t' => out.extend_from_slice(b"&#x9;"),
            b'\n' => out.extend_from_slice(b"&#xA;"),
            b'\r' => out.extend_from_slice(b"&#xD;"),
            _ => out.push(byte),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn c14n(xml: &str, with_comments: bool, prefixes: &[String]) -> String {
        let document = roxmltree::Document::parse(xml).unwrap();
        let options = C14nOptions {
            with_comments,
            inclusive_prefixes: prefixes,
        };
        String::from_utf8(canonicalize(document.root_element(), None, &options)).unwrap()
    }

    #[test]
    fn unused_namespaces_are_dropped_and_used_ones_sorted() {
        let xml = r#"<a:e xmlns:b="urn:b" xmlns:a="urn:a" xmlns:z="urn:z" z:y="2" b:x="1" c="0"/>"#;
        assert_eq!(
            c14n(xml, false, &[]),
            r#"<a:e xmlns:a="urn:a" xmlns:b="urn:b" xmlns:z="urn:z" c="0" b:x="1" z:y="2"></a:e>"#
        );
    }

    #[test]
    fn a_binding_rendered_by_an_ancestor_is_not_repeated() {
        let xml = r#"<a:e xmlns:a="urn:a"><a:f><g xmlns="urn:d"><h/></g></a:f></a:e>"#;
        assert_eq!(
            c14n(xml, false, &[]),
            r#"<a:e xmlns:a="urn:a"><a:f><g xmlns="urn:d"><h></h></g></a:f></a:e>"#
        );
    }

    #[test]
    fn comments_are_kept_only_with_comments() {
        let xml = "<e>a<!-- x -->b</e>";
        assert_eq!(c14n(xml, false, &[]), "<e>ab</e>");
        assert_eq!(c14n(xml, true, &[]), "<e>a<!-- x -->b</e>");
    }

    #[test]
    fn the_prefix_list_forces_an_unused_binding() {
        let xml = r#"<e xmlns:p="urn:p" xmlns:q="urn:q"/>"#;
        assert_eq!(
            c14n(xml, false, &["p".to_owned()]),
            r#"<e xmlns:p="urn:p"></e>"#
        );
    }

    #[test]
    fn special_characters_are_escaped_per_the_recommendation() {
        let xml = "<e a=\"&lt;&quot;&#9;&#10;&#13;&amp;>\">&lt;&gt;&amp;&#13;\"'</e>";
        assert_eq!(
            c14n(xml, false, &[]),
            "<e a=\"&lt;&quot;&#x9;&#xA;&#xD;&amp;>\">&lt;&gt;&amp;&#xD;\"'</e>"
        );
    }

    #[test]
    fn an_undeclared_default_namespace_is_undone_below_a_declared_one() {
        let xml = r#"<e xmlns="urn:d"><f xmlns=""/></e>"#;
        assert_eq!(
            c14n(xml, false, &[]),
            r#"<e xmlns="urn:d"><f xmlns=""></f></e>"#
        );
    }
}
