//! A store wrapper that injects failures into chosen multipart parts and counts what was
//! sent, so the conformance suite can prove a part was retried alone, or that a resumed
//! upload did not send again the parts the store already held; it can also hide keys from
//! listings, as an eventually consistent listing does.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use stowage_core::{
    Capabilities, Error, ErrorKind, GetResult, ListPage, ListRequest, MultipartUpload, ObjectMeta,
    ObjectStore, PartInfo, PutBody, PutOptions, Result,
};

#[derive(Debug, Default)]
struct State {
    /// part number → failures still to inject.
    fail_parts: BTreeMap<u32, u32>,
    /// part number → `upload_part` calls seen (failed or not).
    part_calls: BTreeMap<u32, u32>,
    injected: u32,
    /// Keys left out of listings, like a listing that lags behind writes (COS documents it).
    unlisted: std::collections::BTreeSet<String>,
}

/// Wraps any store; see the module docs.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    state: Mutex<State>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        FaultyStore {
            inner,
            state: Mutex::default(),
        }
    }

    /// The next `times` uploads of part `part_number` fail with a retryable server error
    /// before reaching the store.
    pub fn fail_part(&self, part_number: u32, times: u32) {
        self.lock().fail_parts.insert(part_number, times);
    }

    /// How many times `upload_part` was called for `part_number`.
    pub fn part_calls(&self, part_number: u32) -> u32 {
        self.lock()
            .part_calls
            .get(&part_number)
            .copied()
            .unwrap_or(0)
    }

    /// Leaves `key` out of every listing while HEAD and GET still find it.
    pub fn hide_from_listings(&self, key: &str) {
        self.lock().unlisted.insert(key.to_string());
    }

    /// How many failures were injected.
    pub fn injected(&self) -> u32 {
        self.lock().injected
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a call of part `n`; true when it must fail.
    fn should_fail(&self, n: u32) -> bool {
        let mut s = self.lock();
        *s.part_calls.entry(n).or_default() += 1;
        match s.fail_parts.get_mut(&n) {
            Some(left) if *left > 0 => {
                *left -= 1;
                s.injected += 1;
                true
            }
            _ => false,
        }
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    fn name(&self) -> String {
        format!("faulty({})", self.inner.name())
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn learn_integrity(&self, key: &str) {
        self.inner.learn_integrity(key).await
    }
    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        self.inner.put(key, body, opts).await
    }
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult> {
        self.inner.get(key, range).await
    }
    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        let mut page = self.inner.list(req).await?;
        let unlisted = self.lock().unlisted.clone();
        page.objects.retain(|o| !unlisted.contains(&o.key));
        Ok(page)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        self.inner.create_multipart(key, opts).await
    }
    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        if self.should_fail(part_number) {
            return Err(
                Error::new(ErrorKind::ServerError, "injected failure").with_key(&upload.key)
            );
        }
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
        self.inner.complete_multipart(upload, parts).await
    }
    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.inner.abort_multipart(upload).await
    }
    async fn signed_get_url(&self, key: &str, expires: std::time::Duration) -> Result<String> {
        self.inner.signed_get_url(key, expires).await
    }
    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        self.inner.list_multipart_uploads(prefix).await
    }
}
