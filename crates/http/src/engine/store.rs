//! [`ObjectStore`] for every [`XmlStore`]: the shared skeleton, and the vendor for what is
//! its own (signed URLs, the bucket's region).

use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use stowage_core::{
    Capabilities, ChecksumAlgo, GetResult, ListPage, ListRequest, MultipartUpload, ObjectMeta,
    ObjectStore, PartInfo, PutBody, PutOptions, Result,
};

use super::{XmlStore, XmlVendor};

#[async_trait]
impl<V: XmlVendor> ObjectStore for XmlStore<V> {
    fn name(&self) -> String {
        format!("{}://{}", V::SCHEME, self.bucket)
    }

    async fn signed_get_url(&self, key: &str, expires: Duration) -> Result<String> {
        self.vendor.signed_get_url(self, key, expires).await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            multipart: true,
            list_multipart_uploads: true,
            range_get: true,
            min_part_size: V::QUIRKS.min_part,
            max_part_size: 5 << 30,
            max_parts: 10_000,
            verified_on_upload: vec![ChecksumAlgo::Md5, ChecksumAlgo::Crc64Ecma],
            returned_by_head: vec![ChecksumAlgo::Crc64Ecma],
            part_etag_is_md5: true,
            signed_urls: true,
            copies_files: false,
        }
    }

    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        self.put_object(key, body, opts).await
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.head_object(key).await
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult> {
        self.get_object(key, range).await
    }

    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        self.list_page(req).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.delete_object(key).await
    }

    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        self.initiate(key, opts).await
    }

    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        self.send_part(upload, part_number, body).await
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        self.listed_parts(upload).await
    }

    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        self.complete(upload, parts).await
    }

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.abort(upload).await
    }

    async fn bucket_region(&self) -> Result<Option<String>> {
        self.bucket_location().await.map(Into::into)
    }

    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        self.uploads_in_progress(prefix).await
    }
}
