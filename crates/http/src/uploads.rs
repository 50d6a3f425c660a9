//! ListMultipartUploads, whose request and XML OSS and COS share: every multipart upload in
//! progress under a prefix, page by page (`key-marker` + `upload-id-marker`).

use std::future::Future;

use serde::Deserialize;
use stowage_core::{MultipartUpload, Result};

use crate::xml::decode_if;
use crate::{Call, Dialect, Reply, parse_time};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListUploadsResult {
    #[serde(default, rename = "Upload")]
    uploads: Vec<ListedUpload>,
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
    encoding_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedUpload {
    key: String,
    upload_id: String,
    initiated: Option<String>,
}

/// Every upload in progress under `prefix`, each page asked through `execute` (the store's
/// signed, retried request); `dialect` names the vendor when an answer is not its XML.
pub async fn list_multipart_uploads<F, Fut>(
    dialect: &Dialect,
    prefix: &str,
    execute: F,
) -> Result<Vec<MultipartUpload>>
where
    F: Fn(Call<'static>) -> Fut,
    Fut: Future<Output = Result<Reply>>,
{
    let mut out = Vec::new();
    let mut markers: Option<(String, String)> = None;
    loop {
        let mut call = Call::new(reqwest::Method::GET, None)
            .query("uploads", "")
            .query("encoding-type", "url")
            .query("prefix", prefix);
        if let Some((key, id)) = &markers {
            call = call
                .query("key-marker", key.clone())
                .query("upload-id-marker", id.clone());
        }
        let reply = execute(call).await?;
        let page: ListUploadsResult =
            dialect.parse("ListMultipartUploads", "ListMultipartUploadsResult", &reply)?;
        let url = page.encoding_type.as_deref() == Some("url");
        out.extend(page.uploads.into_iter().map(|u| MultipartUpload {
            key: decode_if(url, u.key),
            upload_id: u.upload_id,
            initiated: parse_time(u.initiated.as_deref()),
        }));
        match (
            page.is_truncated,
            page.next_key_marker,
            page.next_upload_id_marker,
        ) {
            (true, Some(k), Some(i)) if !k.is_empty() => markers = Some((decode_if(url, k), i)),
            _ => return Ok(out),
        }
    }
}
