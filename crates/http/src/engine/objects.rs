//! Single objects: put (its returned checksums checked), head, get, delete, and a page of
//! the bucket listing.

use std::ops::Range;

use stowage_core::payload::Payload;
use stowage_core::{
    ChecksumAlgo, Error, GetResult, ListPage, ListRequest, ObjectMeta, PutBody, PutOptions, Result,
};

use super::shapes::{Contents, ListBucketResult};
use super::{XmlStore, XmlVendor};
use crate::get::{empty_range, range_header};
use crate::xml::decode_if;
use crate::{Call, parse_time, unquote};

/// What every upload sends and checks: Content-MD5 and the CRC-64 the server returns.
pub(crate) const ALGOS: [ChecksumAlgo; 2] = [ChecksumAlgo::Md5, ChecksumAlgo::Crc64Ecma];

/// How a vendor's bucket listing pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// ListObjectsV2 (`list-type=2`): `continuation-token` and `start-after` (OSS).
    ContinuationToken,
    /// GET Bucket: `marker`, the next one `NextMarker` or else the last key (COS).
    Marker,
}

impl Listing {
    /// The operation, as errors name it.
    fn operation(self) -> &'static str {
        match self {
            Listing::ContinuationToken => "ListObjectsV2",
            Listing::Marker => "GET Bucket",
        }
    }

    /// The request for one page, its query in the order the vendor's SDK sends it.
    fn call(self, req: &ListRequest) -> Call<'static> {
        let max_keys = req.max_keys.unwrap_or(1000).min(1000).to_string();
        match self {
            Listing::ContinuationToken => {
                let mut call = Call::new(reqwest::Method::GET, None)
                    .query("list-type", "2")
                    .query("encoding-type", "url")
                    .query("max-keys", max_keys)
                    .query("prefix", req.prefix.clone());
                if let Some(t) = &req.continuation {
                    call = call.query("continuation-token", t.clone());
                }
                if let Some(s) = &req.start_after {
                    call = call.query("start-after", s.clone());
                }
                call
            }
            Listing::Marker => {
                let mut call = Call::new(reqwest::Method::GET, None)
                    .query("prefix", req.prefix.clone())
                    .query("encoding-type", "url")
                    .query("max-keys", max_keys);
                if let Some(marker) = req.continuation.as_ref().or(req.start_after.as_ref()) {
                    call = call.query("marker", marker.clone());
                }
                call
            }
        }
    }

    /// Where the next page starts, when the listing is truncated.
    fn next(self, result: ListBucketResult, url: bool, objects: &[ObjectMeta]) -> Option<String> {
        if !result.is_truncated {
            return None;
        }
        match self {
            Listing::ContinuationToken => result.next_continuation_token,
            // Without a delimiter NextMarker may be absent: the last key is the marker then.
            Listing::Marker => result
                .next_marker
                .map(|m| decode_if(url, m))
                .or_else(|| objects.last().map(|o| o.key.clone())),
        }
    }
}

impl<V: XmlVendor> XmlStore<V> {
    pub(crate) async fn put_object(
        &self,
        key: &str,
        body: PutBody,
        opts: &PutOptions,
    ) -> Result<ObjectMeta> {
        let given = opts
            .checksums
            .clone()
            .filter(|c| ALGOS.iter().all(|a| c.get(*a).is_some()));
        let (body, sent) = match (body, given) {
            (body @ (PutBody::Bytes(_) | PutBody::File { .. }), Some(c)) => (body, c),
            (body, _) => body.checksums(&ALGOS).await.map_err(|e| e.or_key(key))?,
        };
        let payload = Payload::from_put_body(body)
            .await
            .map_err(|e| e.or_key(key))?;
        let content_type = opts.content_type_for(key);
        let call = Call::new(reqwest::Method::PUT, Some(key))
            .header("content-type", content_type.clone())
            .header("content-md5", sent.md5_base64().unwrap_or_default())
            .payload(payload.clone());
        let reply = self.execute(V::DIALECT.with_metadata(call, opts)).await?;
        let returned = V::DIALECT.returned_crc(&reply.headers);
        let etag = unquote(reply.header("etag"));
        V::DIALECT
            .check_upload(&sent, &returned, etag.as_deref())
            .map_err(|e| self.context(e, Some(key)))?;
        Ok(ObjectMeta {
            key: key.to_string(),
            size: payload.len(),
            etag,
            last_modified: None,
            content_type: Some(content_type),
            checksums: returned,
            metadata: opts.metadata.clone(),
        })
    }

    pub(crate) async fn head_object(&self, key: &str) -> Result<ObjectMeta> {
        let reply = match self
            .execute(Call::new(reqwest::Method::HEAD, Some(key)))
            .await
        {
            Ok(reply) => reply,
            Err(e) if V::QUIRKS.probe_bodiless_head_errors => {
                return Err(self.explain_head_error(key, e).await);
            }
            Err(e) => return Err(e),
        };
        let size = reply
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(V::DIALECT.meta_from_headers(key, &reply.headers, size))
    }

    /// A HEAD error has no body, so no vendor code: a 403 could be a wrong key or a missing
    /// permission, a 404 a missing key or a missing bucket. On that error path only, the
    /// same object is asked for one byte with GET, whose error carries the vendor's XML.
    async fn explain_head_error(&self, key: &str, head_error: Error) -> Error {
        let unexplained = head_error.vendor_code().is_none()
            && head_error
                .http_status()
                .is_some_and(|s| (400..500).contains(&s));
        if !unexplained {
            return head_error;
        }
        let probe = Call::new(reqwest::Method::GET, Some(key)).header("range", "bytes=0-0");
        match self.execute(probe).await {
            Err(e) if e.vendor_code().is_some() => e,
            _ => head_error,
        }
    }

    pub(crate) async fn get_object(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<GetResult> {
        if let Some(r) = &range
            && r.start >= r.end
        {
            return empty_range(self.head_object(key).await?, r, key);
        }
        let mut call = Call::new(reqwest::Method::GET, Some(key));
        if let Some(r) = &range {
            call = call.header("range", range_header(r));
        }
        let resp = self
            .run_following("GET", || self.respond(&call, None))
            .await
            .map_err(|e| self.context(e, Some(key)))?;
        V::DIALECT.get_result(key, range.as_ref(), resp, self.base())
    }

    pub(crate) async fn delete_object(&self, key: &str) -> Result<()> {
        self.execute(Call::new(reqwest::Method::DELETE, Some(key)))
            .await
            .map(|_| ())
    }

    pub(crate) async fn list_page(&self, req: &ListRequest) -> Result<ListPage> {
        let listing = V::QUIRKS.listing;
        let reply = self.execute(listing.call(req)).await?;
        let mut result: ListBucketResult =
            self.parse(listing.operation(), "ListBucketResult", &reply, None)?;
        let url = result.encoding_type.as_deref() == Some("url");
        let objects: Vec<ObjectMeta> = std::mem::take(&mut result.contents)
            .into_iter()
            .map(|c| listed_object(c, url))
            .collect();
        let next = listing.next(result, url, &objects);
        Ok(ListPage { objects, next })
    }
}

/// An object as a listing names it (keys decoded when the server URL-encoded them).
fn listed_object(c: Contents, url: bool) -> ObjectMeta {
    ObjectMeta {
        key: decode_if(url, c.key),
        size: c.size,
        etag: unquote(c.etag.as_deref()),
        last_modified: parse_time(c.last_modified.as_deref()),
        ..Default::default()
    }
}
