//! XML in and out: escaping for responses, strict parsing (roxmltree, no
//! DTD) of the few request bodies S3 takes (DeleteObjects,
//! CompleteMultipartUpload, CreateBucketConfiguration).

use crate::error::S3Error;

/// The S3 namespace every response document declares.
pub const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Escape text for an XML element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => {
                out.push_str(&format!("&#x{:X};", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// A small response document builder.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// Start a document whose root element is `root` (with the S3 namespace).
    pub fn new(root: &str) -> Self {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!("<{root} xmlns=\"{NAMESPACE}\">"));
        Self { out }
    }

    /// `<name>text</name>`.
    pub fn element(&mut self, name: &str, text: &str) -> &mut Self {
        self.out
            .push_str(&format!("<{name}>{}</{name}>", escape(text)));
        self
    }

    /// `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push_str(&format!("<{name}>"));
        self
    }

    /// `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str(&format!("</{name}>"));
        self
    }

    /// Close the root element and return the document.
    pub fn finish(mut self, root: &str) -> String {
        self.out.push_str(&format!("</{root}>"));
        self.out
    }
}

/// Parse a request body as XML (UTF-8, no DTD).
pub fn parse(body: &[u8]) -> Result<roxmltree::Document<'_>, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| S3Error::malformed_xml())?;
    roxmltree::Document::parse(text).map_err(|_| S3Error::malformed_xml())
}

/// The text of the first child element `name` of `node`.
pub fn child_text<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .map(|c| c.text().unwrap_or(""))
}

/// `DeleteObjects`: the keys and the `Quiet` flag.
pub fn parse_delete(body: &[u8]) -> Result<(Vec<String>, bool), S3Error> {
    let doc = parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "Delete" {
        return Err(S3Error::malformed_xml());
    }
    let quiet = child_text(root, "Quiet").is_some_and(|q| q.trim() == "true");
    let mut keys = Vec::new();
    for object in root
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "Object")
    {
        let key = child_text(object, "Key").ok_or_else(S3Error::malformed_xml)?;
        keys.push(key.to_owned());
    }
    if keys.is_empty() || keys.len() > 1000 {
        return Err(S3Error::malformed_xml());
    }
    Ok((keys, quiet))
}

/// `CompleteMultipartUpload`: (part number, ETag) in document order.
pub fn parse_complete(body: &[u8]) -> Result<Vec<(u32, String)>, S3Error> {
    let doc = parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "CompleteMultipartUpload" {
        return Err(S3Error::malformed_xml());
    }
    let mut parts = Vec::new();
    for part in root
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "Part")
    {
        let number = child_text(part, "PartNumber")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .ok_or_else(S3Error::malformed_xml)?;
        let etag = child_text(part, "ETag").ok_or_else(S3Error::malformed_xml)?;
        parts.push((number, etag.trim().trim_matches('"').to_owned()));
    }
    if parts.is_empty() {
        return Err(S3Error::malformed_xml());
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos;&#x1;");
    }

    #[test]
    fn delete_document_parses() {
        let body = br#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object><Object><Key>b/c</Key></Object><Quiet>true</Quiet></Delete>"#;
        let (keys, quiet) = parse_delete(body).unwrap();
        assert_eq!(keys, vec!["a", "b/c"]);
        assert!(quiet);
    }

    #[test]
    fn dtd_is_refused() {
        let body =
            br#"<!DOCTYPE d [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key></Object></Delete>"#;
        assert_eq!(parse_delete(body).unwrap_err().code, "MalformedXML");
    }
}
