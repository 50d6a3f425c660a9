//! Multipart uploads: initiate, parts hashed while they are sent and checked against the
//! returned CRC-64, ListParts paging, completion checked against the parts' combined CRC-64,
//! abort, and the uploads in progress.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use stowage_core::checksum::checksum_bytes;
use stowage_core::payload::{Payload, take_hasher};
use stowage_core::{
    ChecksumAlgo, Error, Hasher, MultipartUpload, ObjectMeta, PartInfo, PutBody, PutOptions, Result,
};
use time::OffsetDateTime;

use super::objects::ALGOS;
use super::shapes::{CompleteResult, InitiateResult, ListPartsResult, ListedPart};
use super::{XmlStore, XmlVendor};
use crate::parts::check_combined;
use crate::{Call, part_crc, unquote};

impl<V: XmlVendor> XmlStore<V> {
    pub(crate) async fn initiate(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        let call = Call::new(reqwest::Method::POST, Some(key))
            .query("uploads", "")
            .header("content-type", opts.content_type_for(key));
        let reply = self.execute(V::DIALECT.with_metadata(call, opts)).await?;
        let result: InitiateResult = self.parse(
            "InitiateMultipartUpload",
            "InitiateMultipartUploadResult",
            &reply,
            Some(key),
        )?;
        Ok(MultipartUpload {
            key: key.to_string(),
            upload_id: result.upload_id,
            initiated: Some(OffsetDateTime::now_utc()),
        })
    }

    pub(crate) async fn send_part(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        let payload = Payload::from_put_body(body)
            .await
            .map_err(|e| e.or_key(&upload.key))?;
        let what = format!("part {part_number} of {}", upload.key);
        self.run_following(&what, || self.send_part_once(upload, part_number, &payload))
            .await
            .map_err(|e| self.context(e, Some(&upload.key)))
    }

    async fn send_part_once(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        payload: &Payload,
    ) -> Result<PartInfo> {
        let call = Call::new(reqwest::Method::PUT, Some(&upload.key))
            .query("partNumber", part_number.to_string())
            .query("uploadId", upload.upload_id.clone())
            .payload(payload.clone());
        // Hash the bytes as they go out: one read of the file, no second pass.
        let hasher = Arc::new(Mutex::new(Hasher::new(&ALGOS)));
        let reply = self.send_once(&call, Some(hasher.clone())).await?;
        let local = match payload {
            Payload::Bytes(b) => checksum_bytes(b, &ALGOS),
            _ => take_hasher(&hasher, payload.len())?,
        };
        let returned = V::DIALECT.returned_crc(&reply.headers);
        let etag = unquote(reply.header("etag"));
        V::DIALECT
            .check_upload(&local, &returned, etag.as_deref())
            .map_err(|e| {
                Error::new(
                    e.kind().clone(),
                    format!("part {part_number}: {}", e.message()),
                )
            })?;
        if let Some(crc) = local.crc64ecma {
            self.part_crcs
                .remember(&upload.upload_id, part_number, crc, payload.len());
        }
        Ok(PartInfo {
            part_number,
            etag: etag.unwrap_or_default(),
            size: payload.len(),
            checksums: part_crc(local.crc64ecma),
        })
    }

    pub(crate) async fn listed_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        let mut parts = Vec::new();
        let mut marker = 0u32;
        loop {
            let call = Call::new(reqwest::Method::GET, Some(&upload.key))
                .query("uploadId", upload.upload_id.clone())
                .query("max-parts", "1000")
                .query("part-number-marker", marker.to_string());
            let reply = self.execute(call).await?;
            let page: ListPartsResult =
                self.parse("ListParts", "ListPartsResult", &reply, Some(&upload.key))?;
            parts.extend(page.parts.into_iter().map(|p| self.listed_part(upload, p)));
            match page.next_part_number_marker {
                Some(next) if page.is_truncated && next > marker => marker = next,
                _ => return Ok(parts),
            }
        }
    }

    /// A part as ListParts names it, with its CRC-64: the listed one (kept to predict the
    /// completion's), or else the one this process sent when the sizes agree.
    fn listed_part(&self, upload: &MultipartUpload, p: ListedPart) -> PartInfo {
        let id = &upload.upload_id;
        let crc = match V::QUIRKS.listed_parts_carry_crc {
            true => p.hash_crc64ecma.inspect(|crc| {
                self.part_crcs.remember(id, p.part_number, *crc, p.size);
            }),
            false => self.part_crcs.known(id, p.part_number, p.size),
        };
        PartInfo {
            part_number: p.part_number,
            etag: p.etag.trim_matches('"').to_ascii_lowercase(),
            size: p.size,
            checksums: part_crc(crc),
        }
    }

    pub(crate) async fn complete(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        let expected = self.predicted_crc(upload, parts).await?;
        let reply = self
            .execute(complete_call(
                upload,
                parts,
                V::QUIRKS.upper_case_part_etags,
            ))
            .await?;
        let returned = V::DIALECT.returned_crc(&reply.headers);
        let result: CompleteResult = self.parse(
            "CompleteMultipartUpload",
            "CompleteMultipartUploadResult",
            &reply,
            Some(&upload.key),
        )?;
        self.part_crcs.forget(&upload.upload_id);
        check_combined(expected, returned.crc64ecma)
            .map_err(|e| e.with_bucket(&self.bucket).with_key(&upload.key))?;
        Ok(ObjectMeta {
            key: upload.key.clone(),
            size: parts.iter().map(|p| p.size).sum(),
            etag: unquote(result.etag.as_deref().or(reply.header("etag"))),
            checksums: returned,
            ..Default::default()
        })
    }

    /// The CRC-64 the parts combine to: known when this process sent every part, or (where
    /// ListParts carries CRCs) once the parts another process sent are listed.
    async fn predicted_crc(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<Option<u64>> {
        let known = self.part_crcs.predicted(&upload.upload_id, parts);
        if known.is_none() && V::QUIRKS.listed_parts_carry_crc {
            self.listed_parts(upload).await?;
            return Ok(self.part_crcs.predicted(&upload.upload_id, parts));
        }
        Ok(known)
    }

    pub(crate) async fn abort(&self, upload: &MultipartUpload) -> Result<()> {
        let call = Call::new(reqwest::Method::DELETE, Some(&upload.key))
            .query("uploadId", upload.upload_id.clone());
        self.execute(call).await?;
        self.part_crcs.forget(&upload.upload_id);
        Ok(())
    }

    pub(crate) async fn uploads_in_progress(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        crate::uploads::list_multipart_uploads(&V::DIALECT, prefix, |call| self.execute(call)).await
    }
}

/// CompleteMultipartUpload: the parts' numbers and ETags in order (upper case where the
/// vendor wants them so), the body's Content-MD5.
fn complete_call<'a>(
    upload: &'a MultipartUpload,
    parts: &[PartInfo],
    upper_case_etags: bool,
) -> Call<'a> {
    let etags: Vec<String> = parts
        .iter()
        .map(|p| match upper_case_etags {
            true => p.etag.to_ascii_uppercase(),
            false => p.etag.clone(),
        })
        .collect();
    let body = crate::xml::complete_body(
        parts
            .iter()
            .zip(&etags)
            .map(|(p, e)| (p.part_number, e.as_str())),
    );
    let md5 = checksum_bytes(body.as_bytes(), &[ChecksumAlgo::Md5]).md5_base64();
    Call::new(reqwest::Method::POST, Some(&upload.key))
        .query("uploadId", upload.upload_id.clone())
        .header("content-type", "application/xml")
        .header("content-md5", md5.unwrap_or_default())
        .payload(Payload::Bytes(Bytes::from(body)))
}
