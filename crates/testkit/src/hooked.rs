//! A store that forwards every call to a real one and lets a test look at, or interfere
//! with, the calls it cares about: count parts, rewrite a file when part 2 is sent, check a
//! bucket at every playlist put, lose a completion's answer. A test writes only the hooks
//! it needs ([`Hooks`] has a no-op default for each) instead of a whole `ObjectStore`.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use stowage_core::{
    Capabilities, GetResult, ListPage, ListRequest, MultipartUpload, ObjectMeta, ObjectStore,
    PartInfo, PutBody, PutOptions, Result,
};

/// What a test does around the calls a [`Hooked`] store forwards.
#[async_trait]
pub trait Hooks: Send + Sync + fmt::Debug + 'static {
    /// Before a put is forwarded, with the body's text when the key is a playlist
    /// (`.m3u8`); an error fails the put without forwarding it.
    async fn before_put(&self, key: &str, playlist: Option<String>) -> Result<()> {
        let _ = (key, playlist);
        Ok(())
    }
    /// After a put the store answered with success.
    fn after_put(&self, key: &str, meta: &ObjectMeta) {
        let _ = (key, meta);
    }
    /// Before CreateMultipartUpload is forwarded.
    fn before_create(&self, key: &str) {
        let _ = key;
    }
    /// Before a part is forwarded.
    fn before_part(&self, upload: &MultipartUpload, part_number: u32) {
        let _ = (upload, part_number);
    }
    /// What the caller hears of a completion (the store's answer, by default).
    fn after_complete(
        &self,
        upload: &MultipartUpload,
        answer: Result<ObjectMeta>,
    ) -> Result<ObjectMeta> {
        let _ = upload;
        answer
    }
}

/// `inner` with `hooks` around its calls.
#[derive(Debug)]
pub struct Hooked<H> {
    pub inner: Arc<dyn ObjectStore>,
    pub hooks: H,
}

impl<H: Hooks> Hooked<H> {
    pub fn new(inner: Arc<dyn ObjectStore>, hooks: H) -> Arc<Self> {
        Arc::new(Hooked { inner, hooks })
    }
}

#[async_trait]
impl<H: Hooks> ObjectStore for Hooked<H> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        self.hooks
            .before_put(key, playlist_text(key, &body))
            .await?;
        let meta = self.inner.put(key, body, opts).await?;
        self.hooks.after_put(key, &meta);
        Ok(meta)
    }
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult> {
        self.inner.get(key, range).await
    }
    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        self.inner.list(req).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        self.hooks.before_create(key);
        self.inner.create_multipart(key, opts).await
    }
    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        self.hooks.before_part(upload, part_number);
        self.inner.upload_part(upload, part_number, body).await
    }
    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        self.inner.list_parts(upload).await
    }
    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        let answer = self.inner.complete_multipart(upload, parts).await;
        self.hooks.after_complete(upload, answer)
    }
    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.inner.abort_multipart(upload).await
    }
    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        self.inner.list_multipart_uploads(prefix).await
    }
    async fn bucket_region(&self) -> Result<Option<String>> {
        self.inner.bucket_region().await
    }
}

/// Playlist texts as they were put, and when each key first landed.
#[derive(Debug, Default)]
pub struct PutLog {
    /// `(when, text)` of every playlist (`.m3u8`) put the store confirmed, in order.
    pub playlists: std::sync::Mutex<Vec<(std::time::Instant, String)>>,
    /// When each key was first confirmed.
    pub landed_at: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    pending: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl PutLog {
    /// The playlist texts, in order.
    pub fn texts(&self) -> Vec<String> {
        let log = self.playlists.lock().unwrap_or_else(|e| e.into_inner());
        log.iter().map(|(_, t)| t.clone()).collect()
    }
}

/// The text of a playlist body (bytes or a file), `None` for anything else.
pub fn playlist_text(key: &str, body: &PutBody) -> Option<String> {
    if !key.ends_with(".m3u8") {
        return None;
    }
    match body {
        PutBody::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        PutBody::File { path, .. } => std::fs::read_to_string(path).ok(),
        PutBody::Stream { .. } => None,
    }
}

#[async_trait]
impl Hooks for PutLog {
    async fn before_put(&self, key: &str, playlist: Option<String>) -> Result<()> {
        if let Some(text) = playlist {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.insert(key.to_string(), text);
        }
        Ok(())
    }
    fn after_put(&self, key: &str, _meta: &ObjectMeta) {
        let now = std::time::Instant::now();
        let text = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        if let Some(text) = text {
            let mut log = self.playlists.lock().unwrap_or_else(|e| e.into_inner());
            log.push((now, text));
        }
        let mut landed = self.landed_at.lock().unwrap_or_else(|e| e.into_inner());
        landed.entry(key.to_string()).or_insert(now);
    }
}
