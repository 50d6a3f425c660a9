//! What an upload's reply says about the bytes: the returned CRC-64/XZ compared with what
//! was sent, and object metadata read from headers, under a vendor's header names.

use reqwest::header::HeaderMap;
use stowage_core::{ChecksumAlgo, Checksums, Error, ErrorKind, ObjectMeta, PutOptions, Result};
use time::OffsetDateTime;

use crate::call::{Call, Reply, header_str};
use crate::reply::{Answer, Format, Unexpected, Vendor};

/// What differs between vendors whose APIs are otherwise alike: who they are (for telling
/// their answers from others') and their header names.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// Who answers (`OSS`, marked by `x-oss-` headers).
    pub vendor: Vendor,
    /// The CRC-64/XZ the server computed (`x-oss-hash-crc64ecma`).
    pub crc64_header: &'static str,
    /// The prefix of user metadata headers (`x-oss-meta-`).
    pub meta_prefix: &'static str,
}

impl Dialect {
    /// The errors for answers that are not this vendor's, naming `endpoint`.
    pub fn unexpected<'a>(&self, endpoint: &'a str) -> Unexpected<'a> {
        Unexpected {
            vendor: self.vendor,
            endpoint: Some(endpoint),
        }
    }

    /// Parses a 2xx reply to `what` (an operation) whose root element must be `root`; any
    /// other body (empty, an HTML page, not XML, another document) is an
    /// [`ErrorKind::UnexpectedReply`].
    pub fn parse<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        root: &str,
        reply: &Reply,
    ) -> Result<T> {
        crate::xml::parse(root, &reply.body).map_err(|why| {
            let content_type = reply.header("content-type");
            let answer = Answer {
                status: reply.status,
                content_type,
                location: None,
                marked: self.vendor.marks(reply.headers.keys().map(|k| k.as_str())),
                head: false,
                body: &reply.body,
            };
            let unexpected = Unexpected {
                vendor: self.vendor,
                endpoint: None,
            };
            unexpected.not_document(what, Format::Xml, &answer, Some(&why))
        })
    }

    /// The checksums the reply's headers carry: its CRC-64, when present.
    pub fn returned_crc(&self, headers: &HeaderMap) -> Checksums {
        Checksums {
            crc64ecma: header_str(headers, self.crc64_header).and_then(|v| v.trim().parse().ok()),
            ..Default::default()
        }
    }

    /// Compares the CRC-64 (and for plain uploads the ETag, an MD5) with what was sent.
    pub fn check_upload(
        &self,
        sent: &Checksums,
        returned: &Checksums,
        etag: Option<&str>,
    ) -> Result<()> {
        if returned.crc64ecma.is_none() {
            return Err(Error::new(
                ErrorKind::ChecksumMismatch,
                format!(
                    "the server returned no {}, so the upload cannot be verified",
                    self.crc64_header
                ),
            ));
        }
        sent.verify(returned)?;
        if let (Some(etag), Some(md5)) = (etag, sent.get(ChecksumAlgo::Md5))
            && etag.len() == 32
            && etag != md5
        {
            return Err(Error::new(
                ErrorKind::ChecksumMismatch,
                format!("the server's ETag {etag} is not the MD5 {md5} of the bytes sent"),
            ));
        }
        Ok(())
    }

    /// What HEAD and GET return about an object.
    pub fn meta_from_headers(&self, key: &str, headers: &HeaderMap, size: u64) -> ObjectMeta {
        let metadata = headers
            .iter()
            .filter_map(|(k, v)| {
                let name = k.as_str().strip_prefix(self.meta_prefix)?;
                Some((name.to_string(), v.to_str().ok()?.to_string()))
            })
            .collect();
        ObjectMeta {
            key: key.to_string(),
            size,
            etag: unquote(header_str(headers, "etag")),
            last_modified: http_time(header_str(headers, "last-modified")),
            content_type: header_str(headers, "content-type").map(str::to_string),
            checksums: self.returned_crc(headers),
            metadata,
        }
    }

    /// The call with the upload's user metadata as headers.
    pub fn with_metadata<'a>(&self, mut call: Call<'a>, opts: &PutOptions) -> Call<'a> {
        for (k, v) in &opts.metadata {
            call = call.header(&format!("{}{k}", self.meta_prefix), v.clone());
        }
        call
    }
}

/// A part's checksums: its CRC-64/XZ, when known.
pub fn part_crc(crc64ecma: Option<u64>) -> Checksums {
    let mut sums = Checksums::default();
    if let Some(crc) = crc64ecma {
        sums.set(ChecksumAlgo::Crc64Ecma, &crc.to_string());
    }
    sums
}

/// An ETag without its quotes, in lower case (an MD5 in hex, for plain uploads).
pub fn unquote(etag: Option<&str>) -> Option<String> {
    etag.map(|e| e.trim_matches('"').to_ascii_lowercase())
}

/// An RFC 3339 time, as listings give them.
pub fn parse_time(s: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s?, &time::format_description::well_known::Rfc3339).ok()
}

/// An HTTP date, as `Last-Modified` gives it.
fn http_time(s: Option<&str>) -> Option<OffsetDateTime> {
    httpdate::parse_http_date(s?).ok().map(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_core::checksum::checksum_bytes;

    const TEST: Dialect = Dialect {
        vendor: Vendor {
            name: "Test",
            article: "a",
            mark: "x-test-",
        },
        crc64_header: "x-test-hash-crc64ecma",
        meta_prefix: "x-test-meta-",
    };

    #[test]
    fn upload_check_catches_crc_and_etag_differences() {
        let algos = [ChecksumAlgo::Md5, ChecksumAlgo::Crc64Ecma];
        let sent = checksum_bytes(b"hello", &algos);
        let mut returned = Checksums {
            crc64ecma: sent.crc64ecma,
            ..Default::default()
        };
        let md5 = sent.get(ChecksumAlgo::Md5).unwrap();
        assert!(TEST.check_upload(&sent, &returned, Some(&md5)).is_ok());
        let wrong_etag = "0".repeat(32);
        let e = TEST
            .check_upload(&sent, &returned, Some(&wrong_etag))
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch);
        returned.crc64ecma = Some(1);
        let e = TEST.check_upload(&sent, &returned, None).unwrap_err();
        assert!(e.to_string().contains("crc64ecma"), "{e}");
        let e = TEST
            .check_upload(&sent, &Checksums::default(), None)
            .unwrap_err();
        assert!(e.to_string().contains("x-test-hash-crc64ecma"), "{e}");
    }

    #[test]
    fn meta_reads_the_dialects_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-test-meta-camera", "7".parse().unwrap());
        h.insert("x-other-meta-x", "no".parse().unwrap());
        h.insert("x-test-hash-crc64ecma", "42".parse().unwrap());
        h.insert("etag", "\"ABC\"".parse().unwrap());
        h.insert(
            "last-modified",
            "Tue, 24 Nov 2026 20:00:00 GMT".parse().unwrap(),
        );
        let meta = TEST.meta_from_headers("k", &h, 3);
        assert_eq!(meta.metadata.len(), 1);
        assert_eq!(meta.metadata.get("camera").map(String::as_str), Some("7"));
        assert_eq!(meta.checksums.crc64ecma, Some(42));
        assert_eq!(meta.etag.as_deref(), Some("abc"));
        assert!(meta.last_modified.is_some());
    }
}
