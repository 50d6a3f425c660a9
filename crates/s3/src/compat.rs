//! Tolerance for S3-compatible servers whose responses aws-sdk-s3 cannot parse.
//!
//! moto (5.2.5 and 5.2.6) answers ListParts with a `<ListPartsResponse>` root where S3 sends
//! `<ListPartsResult>`, and 5.2.6 CompleteMultipartUpload with
//! `<CompleteMultipartUploadResponse>` (its serializer names every root `<Operation>Response`);
//! the SDK then fails a response that is otherwise complete. Losing the ability to resume or
//! complete an upload over an element name is worse than reading the few fields we need
//! from the body ourselves. Nothing else is tolerated: any other body is not S3's answer.

use stowage_core::PartInfo;

/// One page of parts read from a ListParts body: parts, truncated?, next marker.
pub(crate) type PartsPage = (Vec<PartInfo>, bool, Option<String>);

/// Reads a ListParts XML body whatever its root element is called.
pub(crate) fn parse_list_parts(xml: &str) -> Option<PartsPage> {
    if !xml.contains("<ListParts") {
        return None;
    }
    let parts = blocks(xml, "Part")
        .into_iter()
        .map(|p| {
            Some(PartInfo {
                part_number: inner(p, "PartNumber")?.trim().parse().ok()?,
                etag: unescape(inner(p, "ETag")?).trim_matches('"').to_string(),
                size: inner(p, "Size")?.trim().parse().ok()?,
                checksums: crate::part_checksums(inner(p, "ChecksumCRC64NVME")),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let truncated = inner(xml, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next = inner(xml, "NextPartNumberMarker").map(|m| m.trim().to_string());
    Some((parts, truncated, next))
}

/// Whether a 2xx CompleteMultipartUpload body the SDK refused is moto's completion: the
/// `<CompleteMultipartUploadResponse>` root, with the object's key and ETag, and no error.
/// (The store HEADs the completed object next, so its size and checksums are still checked.)
pub(crate) fn is_completion(xml: &str) -> bool {
    xml.contains("<CompleteMultipartUploadResponse")
        && !xml.contains("<Error>")
        && inner(xml, "Key").is_some()
        && inner(xml, "ETag").is_some_and(|e| !e.trim().is_empty())
}

/// The text inside the first `<name>…</name>`.
fn inner<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(&xml[start..start + len])
}

/// The contents of every `<name>…</name>` at any depth (no nesting of `name` in itself).
fn blocks<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let body = &rest[i + open.len()..];
        let Some(j) = body.find(&close) else { break };
        out.push(&body[..j]);
        rest = &body[j + close.len()..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_motos_list_parts_response() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<ListPartsResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber><LastModified>2026-11-24T15:28:59.000Z</LastModified><ETag>"4a15bbd10e7858d54b6f63154322ef77"</ETag><Size>5242880</Size></Part><Part><PartNumber>2</PartNumber><ETag>&quot;aa&quot;</ETag><Size>7</Size></Part><Owner><ID>x</ID></Owner></ListPartsResponse>"#;
        let (parts, truncated, next) = parse_list_parts(xml).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0],
            PartInfo {
                part_number: 1,
                etag: "4a15bbd10e7858d54b6f63154322ef77".into(),
                size: 5_242_880,
                checksums: Default::default(),
            }
        );
        assert_eq!(parts[1].etag, "aa");
        assert!(!truncated);
        assert_eq!(next.as_deref(), Some("2"));
    }

    #[test]
    fn reads_motos_completion_and_nothing_else() {
        let moto = r#"<?xml version="1.0" encoding="utf-8"?>
<CompleteMultipartUploadResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>http://b.s3.amazonaws.com/big.mp4</Location><Bucket>b</Bucket><Key>big.mp4</Key><ETag>"f4fb5041951788e67979c458c11c9484-8"</ETag></CompleteMultipartUploadResponse>"#;
        assert!(is_completion(moto));
        assert!(!is_completion(
            "<CompleteMultipartUploadResponse><Key>k</Key></CompleteMultipartUploadResponse>"
        ));
        assert!(!is_completion("<Error><Code>InternalError</Code></Error>"));
        assert!(!is_completion(
            "<!DOCTYPE html><html><title>Key ETag</title></html>"
        ));
        assert!(!is_completion(""));
    }

    #[test]
    fn ignores_other_documents() {
        assert!(parse_list_parts("<Error><Code>NoSuchUpload</Code></Error>").is_none());
        let broken = "<ListPartsResult><Part><PartNumber>x</PartNumber></Part></ListPartsResult>";
        assert!(parse_list_parts(broken).is_none());
    }
}
