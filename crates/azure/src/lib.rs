//! Azure Blob Storage (`az://container/prefix`, Agora vendor 5), through apache
//! `object_store`'s Azure client.
//!
//! object_store brings what must not be written by hand: Shared Key and SAS signing
//! ([`object_store::azure::AzureAuthorizer`]), credentials, SAS download URLs, ranged
//! reads and listing. It cannot carry integrity headers on writes, choose block ids, or
//! list a blob's uncommitted blocks, so the writes are requests of ours, signed by that
//! same authorizer and sent through the same client:
//!
//! - **Put Blob** sends `Content-MD5` (Azure refuses bytes that do not match it) and
//!   compares what Azure returns (`Content-MD5`, and on Azure itself `x-ms-content-crc64`,
//!   CRC-64/NVME of what it stored); the MD5 is kept as the blob's property, so a HEAD
//!   proves the content again later (the verifier's proof without download).
//! - **Put Block** (a part) sends `Content-MD5` too, and the block's id carries the upload
//!   id, the part number and that MD5 ([`blocks`]); the part's CRC-64s are taken in the same
//!   pass as the MD5 Azure checked, so they combine to the file's before completion.
//! - **Get Block List** lists an upload's uncommitted blocks: resume keeps a block only when
//!   the local bytes still have the MD5 in its id.
//! - **Put Block List** commits (with the content type and metadata), **Delete Blob**, and
//!   **Get Blob Properties** (HEAD, for `Content-MD5`, which object_store drops).
//!
//! Every answer passes the [`connector`]'s judgement: not Azure's (no `x-ms-` header) →
//! `UnexpectedReply`; Azure's refusals → their kind, with the fix.

mod blocks;
pub mod config;
mod connector;
mod error;
mod sas;
mod wire;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http::{HeaderValue, Method};
use object_store::azure::{AzureAuthorizer, AzureConfigKey, MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore as _};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use stowage_core::checksum::checksum_bytes;
use stowage_core::{
    Capabilities, ChecksumAlgo, Checksums, Error, ErrorKind, GetResult, ListPage, ListRequest,
    MultipartUpload, ObjectMeta, ObjectStore, PartInfo, PutBody, PutOptions, Result,
};

pub use config::{AzureAuth, AzureConfig};
use connector::Connector;
use error::{AuthKind, Refusal, from_object_store};

/// Key bytes kept as they are in a URL path (RFC 3986 unreserved, and `/`).
const KEY_IN_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Largest Put Blob (service version 2019-12-12 and later): 5000 MiB.
const MAX_PUT_BLOB: u64 = 5000 << 20;

/// One Azure Blob container.
pub struct AzureStore {
    cfg: AzureConfig,
    /// `https://<account>.blob.core.windows.net` (or the emulator's `…/<account>`).
    account_url: String,
    azure: MicrosoftAzure,
    connector: Connector,
    /// Content type and metadata of uploads this process started, given at commit (Azure
    /// takes them with the block list); a resumed upload from another process gets the
    /// content type of its key.
    pending: Mutex<HashMap<String, PutOptions>>,
}

impl std::fmt::Debug for AzureStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureStore")
            .field("account", &self.cfg.account)
            .field("container", &self.cfg.container)
            .field("endpoint", &self.account_url)
            .field("auth", &self.cfg.auth)
            .finish_non_exhaustive()
    }
}

/// A successful answer to one of our requests, read whole (they are small).
struct Answer {
    headers: http::HeaderMap,
    body: Bytes,
}

/// One request of ours, rebuilt for each attempt (each is signed anew).
struct Req<'a> {
    method: Method,
    /// The blob, or `None` for the container itself.
    key: Option<&'a str>,
    query: &'a [(&'a str, &'a str)],
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl AzureStore {
    /// Opens a container (no request is made).
    pub fn new(cfg: AzureConfig) -> Result<AzureStore> {
        cfg.validate()?;
        let account_url = cfg.account_url()?;
        let origin = origin_of(&account_url);
        let auth_kind = match cfg.auth {
            AzureAuth::Key(_) => AuthKind::SharedKey,
            AzureAuth::Sas(_) => AuthKind::Sas,
        };
        let client = stowage_http::client::build(
            stowage_http::client::client_builder(cfg.ca_bundle.as_ref())?
                .redirect(reqwest::redirect::Policy::none()),
        )?;
        let connector = Connector::new(client, origin, auth_kind);
        let mut builder = MicrosoftAzureBuilder::new()
            .with_account(&cfg.account)
            .with_container_name(&cfg.container)
            .with_endpoint(account_url.clone())
            .with_allow_http(account_url.starts_with("http://"))
            .with_http_connector(connector.clone())
            .with_retry(object_store::RetryConfig {
                max_retries: cfg.retry.max_attempts.saturating_sub(1) as usize,
                retry_timeout: Duration::from_secs(120),
                backoff: object_store::BackoffConfig::default(),
            });
        builder = match &cfg.auth {
            AzureAuth::Key(key) => builder.with_access_key(key),
            AzureAuth::Sas(sas) => builder.with_config(AzureConfigKey::SasKey, sas),
        };
        let azure = builder.build().map_err(|e| {
            Error::invalid_input(format!(
                "cannot set up the Azure client: {}",
                error::redact(&e.to_string())
            ))
        })?;
        Ok(AzureStore {
            cfg,
            account_url,
            azure,
            connector,
            pending: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &AzureConfig {
        &self.cfg
    }

    /// Creates the container (tests, and `stowage doctor`'s advice); one that exists is fine.
    pub async fn create_container(&self) -> Result<()> {
        let req = || Req {
            method: Method::PUT,
            key: None,
            query: &[("restype", "container")],
            headers: Vec::new(),
            body: Bytes::new(),
        };
        match self.send("create the container", req).await {
            Ok(_) => Ok(()),
            Err(e) if e.vendor_code() == Some("ContainerAlreadyExists") => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn url(&self, key: Option<&str>, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}/{}", self.account_url, self.cfg.container);
        if let Some(key) = key {
            url.push('/');
            url.extend(utf8_percent_encode(key, KEY_IN_PATH));
        }
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.extend(utf8_percent_encode(v, NON_ALPHANUMERIC));
        }
        url
    }

    /// Sends one request of ours, signed by object_store's authorizer, retried while the
    /// failure is retryable; 2xx answers are read whole.
    async fn send<'a>(&self, what: &str, build: impl Fn() -> Req<'a>) -> Result<Answer> {
        let key = build().key.map(str::to_string);
        let result = self
            .cfg
            .retry
            .run(what, |_| async {
                let req = build();
                let signed = self.signed(&req).await?;
                let reply = self
                    .connector
                    .send(signed)
                    .await
                    .map_err(connector::error_of)?;
                let (parts, body) = reply.into_parts();
                let body = body
                    .bytes()
                    .await
                    .map_err(|e| connector::error_of(e).with_retryable(true))?;
                if parts.status.as_u16() >= 500 {
                    let auth = self.auth_kind();
                    let e = Refusal::read(parts.status.as_u16(), &parts.headers, &body)
                        .into_error(auth);
                    return Err(e);
                }
                Ok(Answer {
                    headers: parts.headers,
                    body,
                })
            })
            .await;
        result.map_err(|e| {
            let e = e.with_bucket(&self.cfg.container);
            match key {
                Some(k) => e.or_key(&k),
                None => e,
            }
        })
    }

    fn auth_kind(&self) -> AuthKind {
        match self.cfg.auth {
            AzureAuth::Key(_) => AuthKind::SharedKey,
            AzureAuth::Sas(_) => AuthKind::Sas,
        }
    }

    async fn signed(&self, req: &Req<'_>) -> Result<object_store::client::HttpRequest> {
        let url = self.url(req.key, req.query);
        let mut request = http::Request::builder()
            .method(req.method.clone())
            .uri(url.as_str())
            .header("content-length", req.body.len())
            .body(object_store::client::HttpRequestBody::from(
                req.body.clone(),
            ))
            .map_err(|e| Error::invalid_input(format!("cannot build the request: {e}")))?;
        for (name, value) in &req.headers {
            let bad = || {
                Error::invalid_input(format!(
                    "the {name} header is not valid in HTTP (Azure takes ASCII names and values only)"
                ))
            };
            let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let value = HeaderValue::from_str(value).map_err(|_| bad())?;
            request.headers_mut().insert(name, value);
        }
        let credential = self
            .azure
            .credentials()
            .get_credential()
            .await
            .map_err(|e| from_object_store(e, "getting the Azure credential"))?;
        AzureAuthorizer::new(&credential, &self.cfg.account)
            .try_authorize(&mut request)
            .map_err(|e| from_object_store(e, "signing the request"))?;
        Ok(request)
    }

    fn path(&self, key: &str) -> Result<Path> {
        Path::parse(key).map_err(|_| {
            Error::invalid_input(
                "this key cannot be read through object_store: keys with empty segments (`//`, a leading or trailing `/`) or `.`/`..` segments are not supported on Azure",
            )
            .with_key(key)
        })
    }

    fn remember(&self, upload_id: &str, opts: &PutOptions) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(upload_id.to_string(), opts.clone());
    }

    /// Whether this store began `upload_id` and has not completed or aborted it.
    fn is_pending(&self, upload_id: &str) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(upload_id)
    }

    fn forget(&self, upload_id: &str) -> Option<PutOptions> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(upload_id)
    }
}

/// `scheme://host[:port]` of a URL, for messages.
fn origin_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => url.to_string(),
    }
}

/// Compares what Azure returned with what was sent; any checksum that differs is a
/// mismatch (the bytes stored are not the ones hashed).
fn check_returned(sent: &Checksums, returned: &Checksums) -> Result<()> {
    sent.verify(returned).map(|_| ()).map_err(|e| {
        Error::new(
            ErrorKind::ChecksumMismatch,
            format!(
                "Azure Blob stored other bytes than were sent: {}",
                e.message()
            ),
        )
    })
}

/// The content type and the caller's metadata (`x-ms-meta-<name>`), for Put Blob and Put
/// Block List. Azure metadata names are C# identifiers.
fn put_headers(key: &str, opts: &PutOptions) -> Result<Vec<(String, String)>> {
    let mut h = vec![(
        "x-ms-blob-content-type".to_string(),
        opts.content_type_for(key),
    )];
    for (k, v) in &opts.metadata {
        let ok = !k.is_empty()
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !k.as_bytes()[0].is_ascii_digit();
        if !ok {
            return Err(Error::invalid_input(format!(
                "metadata name `{k}` is not allowed on Azure: letters, digits and `_`, not starting with a digit"
            ))
            .with_key(key));
        }
        h.push((format!("x-ms-meta-{k}"), v.clone()));
    }
    Ok(h)
}

#[async_trait]
impl ObjectStore for AzureStore {
    fn name(&self) -> String {
        format!("az://{}", self.cfg.container)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            multipart: true,
            list_multipart_uploads: false,
            range_get: true,
            min_part_size: 1,
            max_part_size: blocks::MAX_BLOCK,
            max_parts: blocks::MAX_BLOCKS,
            verified_on_upload: vec![ChecksumAlgo::Md5],
            returned_by_head: vec![ChecksumAlgo::Md5],
            part_etag_is_md5: true,
            signed_urls: matches!(self.cfg.auth, AzureAuth::Key(_)),
            copies_files: false,
        }
    }

    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        if body.len() > MAX_PUT_BLOB {
            return Err(Error::invalid_input(format!(
                "Azure takes at most {MAX_PUT_BLOB} bytes in one Put Blob, not {}: upload it in blocks (multipart)",
                body.len()
            ))
            .with_key(key));
        }
        let bytes = body.bytes().await.map_err(|e| e.or_key(key))?;
        let mut sent = checksum_bytes(&bytes, &[ChecksumAlgo::Md5, ChecksumAlgo::Crc64Nvme]);
        // The caller's MD5 was taken from the file before this read: sending it makes Azure
        // refuse bytes that changed since.
        if let Some(md5) = opts.checksums.as_ref().and_then(|c| c.md5) {
            sent.md5 = Some(md5);
        }
        let md5 = sent.md5_base64().unwrap_or_default();
        let mut headers = put_headers(key, opts)?;
        headers.push(("x-ms-blob-type".into(), "BlockBlob".into()));
        headers.push(("content-md5".into(), md5));
        let answer = self
            .send("upload", || Req {
                method: Method::PUT,
                key: Some(key),
                query: &[],
                headers: headers.clone(),
                body: bytes.clone(),
            })
            .await?;
        let returned = wire::returned_checksums(&answer.headers);
        check_returned(&sent, &returned).map_err(|e| e.with_key(key))?;
        let mut meta = wire::meta_from_head(key, &answer.headers);
        meta.size = bytes.len() as u64;
        meta.checksums = returned;
        meta.content_type = Some(opts.content_type_for(key));
        meta.metadata = opts.metadata.clone();
        Ok(meta)
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let answer = self
            .send("read the blob's properties", || Req {
                method: Method::HEAD,
                key: Some(key),
                query: &[],
                headers: Vec::new(),
                body: Bytes::new(),
            })
            .await?;
        Ok(wire::meta_from_head(key, &answer.headers))
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult> {
        if let Some(r) = range.as_ref().filter(|r| r.is_empty()) {
            let meta = self.head(key).await?;
            return stowage_http::get::empty_range(meta, r, key);
        }
        let path = self.path(key)?;
        let opts = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            ..Default::default()
        };
        let got = self
            .azure
            .get_opts(&path, opts)
            .await
            .map_err(|e| from_object_store(e, "download").or_key(key))?;
        let meta = ObjectMeta {
            key: key.to_string(),
            size: got.meta.size,
            etag: got
                .meta
                .e_tag
                .as_deref()
                .map(|e| e.trim_matches('"').to_string()),
            last_modified: time::OffsetDateTime::from_unix_timestamp(
                got.meta.last_modified.timestamp(),
            )
            .ok(),
            content_type: got
                .attributes
                .get(&object_store::Attribute::ContentType)
                .map(|v| v.to_string()),
            checksums: Checksums::default(),
            metadata: got
                .attributes
                .iter()
                .filter_map(|(k, v)| match k {
                    object_store::Attribute::Metadata(name) => {
                        Some((name.to_ascii_lowercase(), v.to_string()))
                    }
                    _ => None,
                })
                .collect(),
        };
        let range = got.range.clone();
        let owned_key = key.to_string();
        let body = got
            .into_stream()
            .map_err(move |e| from_object_store(e, "download").or_key(&owned_key))
            .boxed();
        Ok(GetResult { meta, range, body })
    }

    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        let prefix = (!req.prefix.is_empty()).then_some(req.prefix.as_str());
        let mut token = req.continuation.clone();
        loop {
            let opts = PaginatedListOptions {
                offset: req.start_after.clone(),
                // Azure's default page is 5000; Stowage's pages hold at most 1000 keys.
                max_keys: Some(req.max_keys.unwrap_or(1000).min(1000) as usize),
                page_token: token.clone(),
                ..Default::default()
            };
            let page = self
                .azure
                .list_paginated(prefix, opts)
                .await
                .map_err(|e| from_object_store(e, "listing"))?;
            let listed = page.result.objects.len();
            let mut objects: Vec<ObjectMeta> = page
                .result
                .objects
                .into_iter()
                .map(|o| ObjectMeta {
                    key: o.location.as_ref().to_string(),
                    size: o.size,
                    etag: o.e_tag.map(|e| e.trim_matches('"').to_ascii_lowercase()),
                    last_modified: time::OffsetDateTime::from_unix_timestamp(
                        o.last_modified.timestamp(),
                    )
                    .ok(),
                    ..Default::default()
                })
                // Azurite ignores `startFrom`: what Azure skips is dropped here.
                .filter(|o| {
                    req.start_after
                        .as_deref()
                        .is_none_or(|after| o.key.as_str() > after)
                })
                .collect();
            objects.sort_by(|a, b| a.key.cmp(&b.key));
            // A page emptied by that filter is not the end: the keys after it follow.
            if objects.is_empty() && listed > 0 && page.page_token.is_some() {
                token = page.page_token;
                continue;
            }
            return Ok(ListPage {
                objects,
                next: page.page_token,
            });
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let result = self
            .send("delete", || Req {
                method: Method::DELETE,
                key: Some(key),
                query: &[],
                headers: Vec::new(),
                body: Bytes::new(),
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == &ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        // Azure has no upload object: blocks wait uncommitted under the blob's name. The id
        // only names this upload's blocks.
        put_headers(key, opts)?;
        let upload_id = blocks::new_upload_id();
        self.remember(&upload_id, opts);
        Ok(MultipartUpload {
            key: key.to_string(),
            upload_id,
            initiated: Some(time::OffsetDateTime::now_utc()),
        })
    }

    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        let key = upload.key.as_str();
        let bytes = body.bytes().await.map_err(|e| e.or_key(key))?;
        let sent = checksum_bytes(
            &bytes,
            &[
                ChecksumAlgo::Md5,
                ChecksumAlgo::Crc64Nvme,
                ChecksumAlgo::Crc64Ecma,
            ],
        );
        let md5_hex = sent.get(ChecksumAlgo::Md5).unwrap_or_default();
        let name = blocks::block_name(&upload.upload_id, part_number, &md5_hex);
        let id = blocks::block_id(&name);
        let md5 = sent.md5_base64().unwrap_or_default();
        let query = [("comp", "block"), ("blockid", id.as_str())];
        let answer = self
            .send(&format!("part {part_number}"), || Req {
                method: Method::PUT,
                key: Some(key),
                query: &query,
                headers: vec![("content-md5".into(), md5.clone())],
                body: bytes.clone(),
            })
            .await?;
        // Azure checked the MD5 sent; what it returns (Content-MD5, or on Azure itself
        // x-ms-content-crc64) must agree too.
        check_returned(&sent, &wire::returned_checksums(&answer.headers))
            .map_err(|e| e.with_key(key))?;
        Ok(PartInfo {
            part_number,
            etag: md5_hex,
            size: bytes.len() as u64,
            checksums: sent,
        })
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        let query = [("comp", "blocklist"), ("blocklisttype", "uncommitted")];
        let answer = self
            .send("list the upload's blocks", || Req {
                method: Method::GET,
                key: Some(&upload.key),
                query: &query,
                headers: Vec::new(),
                body: Bytes::new(),
            })
            .await;
        let answer = match answer {
            // Azure keeps no record of an upload (ours are local until their first block):
            // one this store began and has not ended, with no block sent yet, is not gone.
            Err(e) if e.kind() == &ErrorKind::NotFound && self.is_pending(&upload.upload_id) => {
                return Ok(Vec::new());
            }
            other => other,
        };
        let answer = answer
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => Error::new(
                    ErrorKind::UploadNotFound,
                    format!(
                        "no blocks of upload {} are stored (never sent, aborted, committed, or dropped after 7 days)",
                        upload.upload_id
                    ),
                )
                .with_key(&upload.key),
                _ => e,
            })?;
        let xml = String::from_utf8_lossy(&answer.body);
        blocks::parse_block_list(&upload.upload_id, &xml).map_err(|why| {
            Error::new(
                ErrorKind::UnexpectedReply,
                format!("the answer to Get Block List is not Azure's block list ({why})"),
            )
            .with_key(&upload.key)
        })
    }

    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        let key = upload.key.as_str();
        let names: Vec<String> = parts
            .iter()
            .map(|p| blocks::block_name(&upload.upload_id, p.part_number, &p.etag))
            .collect();
        let xml = Bytes::from(blocks::block_list_xml(names.iter().map(String::as_str)));
        let opts = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&upload.upload_id)
            .cloned()
            .unwrap_or_default();
        let headers = put_headers(key, &opts)?;
        self.send("commit the blocks", || Req {
            method: Method::PUT,
            key: Some(key),
            query: &[("comp", "blocklist")],
            headers: headers.clone(),
            body: xml.clone(),
        })
        .await?;
        self.forget(&upload.upload_id);
        // Put Block List's Content-MD5 is the list's, not the blob's: the blob's size comes
        // from a HEAD, its content from the parts' CRC-64s (checked before completing).
        self.head(key).await
    }

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.forget(&upload.upload_id);
        let key = upload.key.as_str();
        // Uncommitted blocks cannot be deleted one by one; committing an empty list where
        // no blob exists (If-None-Match: *) drops them, and the empty blob is deleted.
        // Where a blob exists, its uncommitted blocks stay until its next write or 7 days.
        let empty = Bytes::from(blocks::block_list_xml(std::iter::empty()));
        let committed = self
            .send("drop the upload's blocks", || Req {
                method: Method::PUT,
                key: Some(key),
                query: &[("comp", "blocklist")],
                headers: vec![("if-none-match".into(), "*".into())],
                body: empty.clone(),
            })
            .await;
        let etag = match committed {
            Ok(answer) => answer
                .headers
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            Err(e) if matches!(e.http_status(), Some(409 | 412)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(etag) = etag else {
            return Ok(());
        };
        let result = self
            .send("delete the empty blob", || Req {
                method: Method::DELETE,
                key: Some(key),
                query: &[],
                headers: vec![("if-match".into(), etag.clone())],
                body: Bytes::new(),
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.http_status(), Some(404 | 412)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn signed_get_url(&self, key: &str, expires: Duration) -> Result<String> {
        stowage_core::check_signed_url_expiry(&self.name(), expires, None)?;
        if !matches!(self.cfg.auth, AzureAuth::Key(_)) {
            return Err(Error::unsupported(format!(
                "{} is opened with a SAS token: signing a download URL needs the account key",
                self.name()
            )));
        }
        let AzureAuth::Key(account_key) = &self.cfg.auth else {
            unreachable!("checked above");
        };
        let now = time::OffsetDateTime::now_utc();
        let sas = sas::BlobSas {
            account: &self.cfg.account,
            container: &self.cfg.container,
            key,
            // A few minutes back, for clocks behind Azure's.
            start: now - Duration::from_secs(300),
            expiry: now + expires,
            version: sas::SAS_VERSION,
        };
        let query = sas.query(account_key).map_err(|e| e.with_key(key))?;
        Ok(format!("{}?{query}", self.url(Some(key), &[])))
    }
}
