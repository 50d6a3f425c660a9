//! OSS response bodies this crate reads (quick-xml + serde), and the one body it writes.

use serde::Deserialize;

use crate::sign::encode_query;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListBucketResult {
    #[serde(default)]
    pub contents: Vec<Contents>,
    #[serde(default)]
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
    pub encoding_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Contents {
    pub key: String,
    pub last_modified: Option<String>,
    #[serde(rename = "ETag")]
    pub etag: Option<String>,
    pub size: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InitiateResult {
    pub upload_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListPartsResult {
    #[serde(default, rename = "Part")]
    pub parts: Vec<ListedPart>,
    #[serde(default)]
    pub is_truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListedPart {
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub size: u64,
    pub hash_crc64ecma: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LocationConstraint {
    #[serde(rename = "$text", default)]
    pub region: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CompleteResult {
    #[serde(rename = "ETag")]
    pub etag: Option<String>,
}

pub(crate) use stowage_http::xml::{complete_body, decode_if};

/// Query pairs in the order given; values percent-encoded as they are signed.
pub(crate) fn query_string(query: &[(String, String)]) -> String {
    stowage_http::xml::query_string(query, encode_query)
}
