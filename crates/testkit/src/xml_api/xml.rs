//! The XML the OSS and COS emulators share: their replies are written by hand (they are
//! small and flat) and the CompleteMultipartUpload body is read with quick-xml.

use std::time::SystemTime;

use quick_xml::escape::escape;
use serde::Deserialize;

/// `<Tag>escaped value</Tag>`.
pub fn elem(tag: &str, value: &str) -> String {
    format!("<{tag}>{}</{tag}>", escape(value))
}

pub fn document(root: &str, children: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root}>{children}</{root}>")
}

/// ISO 8601 with milliseconds, as OSS and COS write `LastModified` and `Initiated`.
pub fn iso8601(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_default()
}

/// The body of CompleteMultipartUpload.
#[derive(Debug, Deserialize)]
#[serde(rename = "CompleteMultipartUpload")]
pub struct CompleteRequest {
    #[serde(rename = "Part", default)]
    pub parts: Vec<CompletePart>,
}

#[derive(Debug, Deserialize)]
pub struct CompletePart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
}

pub fn parse_complete(body: &[u8]) -> Option<CompleteRequest> {
    let text = std::str::from_utf8(body).ok()?;
    quick_xml::de::from_str(text).ok()
}
