//! The object and multipart operations the OSS and COS emulators answer alike: a parsed
//! request, stored objects, PUT/GET/HEAD of an object, the listing walk, initiate, upload
//! part, list parts, complete, abort and list uploads. What each vendor says differently
//! (its `x-<vendor>-` headers, ETag case, storage class, error codes and messages) comes
//! from its [`Flavor`].

use std::collections::BTreeMap;
use std::time::SystemTime;

use bytes::Bytes;
use hyper::Response;
use md5::Digest as _;

use super::multipart::{Part, PartsProblem, Upload, join_parts, list_uploads_xml};
use super::object::{
    content_md5, content_md5_matches, content_type, crc64, parse_range, xml_reply,
};
use super::request::{Reply, finish, lookup, url_encode};
use super::server::Bucket;
use super::xml::{self, elem};

/// One stored object.
#[derive(Clone)]
pub struct Object {
    pub data: Bytes,
    pub content_type: String,
    /// Quoted, in the vendor's case.
    pub etag: String,
    pub crc64: u64,
    pub modified: SystemTime,
    pub metadata: BTreeMap<String, String>,
    /// Joined from parts (OSS says so in `x-oss-object-type`).
    pub multipart: bool,
    /// Listings this object is still left out of (COS's eventual consistency).
    pub hidden_listings: u32,
}

/// One parsed request.
pub struct Req<'a> {
    pub method: &'a str,
    pub host: String,
    /// The URL path, decoded.
    pub path: String,
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// The region a virtual-hosted `Host` names (COS's `<bucket>.cos.<region>.…`).
    pub host_region: Option<String>,
    pub raw_query: &'a str,
    pub query: Vec<(String, String)>,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Req<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        lookup(&self.query, name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.param(name).is_some()
    }

    pub fn header(&self, lower: &str) -> Option<&str> {
        lookup(&self.headers, lower)
    }

    pub fn url_encoding(&self) -> bool {
        self.param("encoding-type") == Some("url")
    }

    /// `s` as the answer spells it: URL-encoded when the request asked for it.
    pub fn encoded(&self, s: &str) -> String {
        match self.url_encoding() {
            true => url_encode(s),
            false => s.to_string(),
        }
    }
}

/// What one vendor's answers say differently.
pub trait Flavor {
    /// The vendor's error answer.
    type Error;

    /// The vendor's header prefix (`x-oss-`).
    const MARK: &'static str;
    /// The storage class listings and headers name (`Standard`).
    const STORAGE_CLASS: &'static str;
    /// Smallest part but the last.
    const MIN_PART_SIZE: usize;
    /// Whether MD5 ETags are upper-case hex (OSS) or lower-case (COS).
    const UPPER_CASE_ETAGS: bool;
    /// Whether ListParts names each part's `HashCrc64ecma` (OSS).
    const LISTED_PARTS_CARRY_CRC: bool;
    /// Whether PutObject's answer carries the body's `Content-MD5` (OSS).
    const PUT_ECHOES_CONTENT_MD5: bool;

    /// Headers only this vendor sends about an object (after its storage class).
    fn object_headers(builder: http::response::Builder, _o: &Object) -> http::response::Builder {
        builder
    }

    fn no_such_key(key: &str) -> Self::Error;
    fn no_such_upload(upload_id: &str) -> Self::Error;
    fn invalid_argument(message: &str) -> Self::Error;
    fn invalid_range() -> Self::Error;
    /// A body whose `Content-MD5` does not match it.
    fn bad_digest() -> Self::Error;
    fn bad_part_number() -> Self::Error;
    fn malformed_xml() -> Self::Error;
    /// The parts a completion lists cannot be joined.
    fn parts_problem(problem: PartsProblem) -> Self::Error;
}

fn header_name<F: Flavor>(rest: &str) -> String {
    format!("{}{rest}", F::MARK)
}

/// The MD5 of `data` in hex, in the vendor's case.
fn md5_hex<F: Flavor>(data: &[u8]) -> String {
    let digest = md5::Md5::digest(data);
    match F::UPPER_CASE_ETAGS {
        true => hex::encode_upper(digest),
        false => hex::encode(digest),
    }
}

/// Refuses a body whose `Content-MD5` does not match it.
fn check_content_md5<F: Flavor>(req: &Req<'_>) -> Result<(), F::Error> {
    match content_md5_matches(&req.headers, &req.body) {
        true => Ok(()),
        false => Err(F::bad_digest()),
    }
}

/// User metadata: the request's `x-<vendor>-meta-` headers.
pub fn user_metadata<F: Flavor>(req: &Req<'_>) -> BTreeMap<String, String> {
    super::object::user_metadata(&req.headers, &header_name::<F>("meta-"))
}

/// PutObject; the object is left out of the next `hidden_listings` listings.
pub fn put_object<F: Flavor>(
    b: &mut Bucket,
    key: &str,
    req: &Req<'_>,
    hidden_listings: u32,
) -> Result<Reply, F::Error> {
    check_content_md5::<F>(req)?;
    let object = Object {
        data: req.body.clone(),
        content_type: content_type(&req.headers),
        etag: format!("\"{}\"", md5_hex::<F>(&req.body)),
        crc64: crc64(&req.body),
        modified: SystemTime::now(),
        metadata: user_metadata::<F>(req),
        multipart: false,
        hidden_listings,
    };
    let mut reply = Response::builder()
        .status(200)
        .header("etag", &object.etag)
        .header(header_name::<F>("hash-crc64ecma"), object.crc64.to_string());
    if F::PUT_ECHOES_CONTENT_MD5 {
        reply = reply.header("content-md5", content_md5(&req.body));
    }
    b.objects.insert(key.to_string(), object);
    Ok(finish(reply, Bytes::new()))
}

/// GetObject (a range when asked), or HeadObject without the body.
pub fn get_object<F: Flavor>(
    b: &Bucket,
    key: &str,
    req: &Req<'_>,
    with_body: bool,
) -> Result<Reply, F::Error> {
    let o = b.objects.get(key).ok_or_else(|| F::no_such_key(key))?;
    let len = o.data.len() as u64;
    let (status, start, end) = match parse_range(req.header("range"), len) {
        None => (200, 0, len),
        Some(Ok((start, end))) => (206, start, end),
        Some(Err(())) => return Err(F::invalid_range()),
    };
    let mut builder = object_headers::<F>(o);
    if status == 206 {
        builder = builder.header("content-range", format!("bytes {start}-{}/{len}", end - 1));
    }
    builder = builder
        .status(status)
        .header("content-length", (end - start).to_string());
    let body = match with_body {
        true => o.data.slice(start as usize..end as usize),
        false => Bytes::new(),
    };
    Ok(finish(builder, body))
}

/// What GET and HEAD say about an object, its user metadata last.
fn object_headers<F: Flavor>(o: &Object) -> http::response::Builder {
    let builder = Response::builder()
        .header("content-type", &o.content_type)
        .header("etag", &o.etag)
        .header(
            "last-modified",
            httpdate::fmt_http_date(o.modified).as_str(),
        )
        .header("accept-ranges", "bytes")
        .header(header_name::<F>("hash-crc64ecma"), o.crc64.to_string())
        .header(header_name::<F>("storage-class"), F::STORAGE_CLASS);
    let mut builder = F::object_headers(builder, o);
    for (k, v) in &o.metadata {
        builder = builder.header(header_name::<F>(&format!("meta-{k}")), v);
    }
    builder
}

/// One entry of a listing page: an object, or a common prefix rolled up at the delimiter.
pub enum Entry<'a> {
    Object(&'a String, &'a Object),
    Prefix(String),
}

impl Entry<'_> {
    /// Where the next page starts: after this key, or after every key under this prefix.
    pub fn resume_after(&self) -> String {
        match self {
            Entry::Object(k, _) => (*k).clone(),
            Entry::Prefix(p) => format!("{p}{}", char::MAX),
        }
    }

    /// The key or prefix, as a marker names it.
    pub fn name(&self) -> &str {
        match self {
            Entry::Object(k, _) => k,
            Entry::Prefix(p) => p,
        }
    }
}

/// The visible entries after `after` under `prefix`, common prefixes rolled up at
/// `delimiter`.
pub fn listing<'a>(
    b: &'a Bucket,
    prefix: &'a str,
    delimiter: &'a str,
    after: String,
) -> impl Iterator<Item = Entry<'a>> + 'a {
    let range = (std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded);
    let mut last_prefix: Option<String> = None;
    b.objects
        .range::<String, _>(range)
        .filter(move |(k, o)| k.starts_with(prefix) && o.hidden_listings == 0)
        .filter_map(move |(k, o)| {
            let rest = &k[prefix.len()..];
            let rolled = (!delimiter.is_empty())
                .then(|| rest.find(delimiter))
                .flatten()
                .map(|i| format!("{prefix}{}", &rest[..i + delimiter.len()]));
            match rolled {
                None => Some(Entry::Object(k, o)),
                Some(p) if last_prefix.as_deref() == Some(p.as_str()) => None,
                Some(p) => {
                    last_prefix = Some(p.clone());
                    Some(Entry::Prefix(p))
                }
            }
        })
}

/// A listing's `max-keys` (`default` when absent), within 1..1000.
pub fn max_keys<F: Flavor>(req: &Req<'_>, default: usize) -> Result<usize, F::Error> {
    match req.param("max-keys") {
        None => Ok(default),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| F::invalid_argument("max-keys must be within 1..1000.")),
    }
}

/// A `<CommonPrefixes>` element.
pub fn common_prefix(req: &Req<'_>, prefix: &str) -> String {
    format!(
        "<CommonPrefixes>{}</CommonPrefixes>",
        elem("Prefix", &req.encoded(prefix))
    )
}

fn new_upload_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode_upper(bytes)
}

pub fn initiate<F: Flavor>(b: &mut Bucket, bucket: &str, key: &str, req: &Req<'_>) -> Reply {
    let id = new_upload_id();
    b.uploads.insert(
        id.clone(),
        Upload {
            key: key.to_string(),
            content_type: content_type(&req.headers),
            metadata: user_metadata::<F>(req),
            initiated: SystemTime::now(),
            parts: BTreeMap::new(),
        },
    );
    let mut out = elem("Bucket", bucket) + &elem("Key", &req.encoded(key)) + &elem("UploadId", &id);
    if req.url_encoding() {
        out += &elem("EncodingType", "url");
    }
    xml_reply(200, xml::document("InitiateMultipartUploadResult", &out))
}

fn upload_of<'a, F: Flavor>(b: &'a mut Bucket, req: &Req<'_>) -> Result<&'a mut Upload, F::Error> {
    let id = req.param("uploadId").unwrap_or("");
    match b.uploads.get_mut(id) {
        Some(u) if Some(u.key.as_str()) == req.key.as_deref() => Ok(u),
        _ => Err(F::no_such_upload(id)),
    }
}

pub fn upload_part<F: Flavor>(b: &mut Bucket, req: &Req<'_>) -> Result<Reply, F::Error> {
    let number: u32 = req
        .param("partNumber")
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(F::bad_part_number)?;
    check_content_md5::<F>(req)?;
    let upload = upload_of::<F>(b, req)?;
    let part = Part {
        data: req.body.clone(),
        etag: format!("\"{}\"", md5_hex::<F>(&req.body)),
        crc64: crc64(&req.body),
        modified: SystemTime::now(),
    };
    let reply = Response::builder()
        .status(200)
        .header("etag", &part.etag)
        .header(header_name::<F>("hash-crc64ecma"), part.crc64.to_string());
    upload.parts.insert(number, part);
    Ok(finish(reply, Bytes::new()))
}

pub fn list_parts<F: Flavor>(
    b: &mut Bucket,
    bucket: &str,
    key: &str,
    req: &Req<'_>,
) -> Result<Reply, F::Error> {
    let marker: u32 = req
        .param("part-number-marker")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let max: usize = req
        .param("max-parts")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000);
    let id = req.param("uploadId").unwrap_or("").to_string();
    let upload = upload_of::<F>(b, req)?;
    let mut after = upload.parts.range(marker + 1..);
    let page: Vec<(&u32, &Part)> = after.by_ref().take(max).collect();
    let truncated = after.next().is_some();
    let next = page.last().map_or(marker, |(n, _)| **n);
    let mut out = elem("Bucket", bucket) + &elem("Key", key) + &elem("UploadId", &id);
    out += &elem("PartNumberMarker", &marker.to_string());
    out += &elem("NextPartNumberMarker", &next.to_string());
    out += &elem("MaxParts", &max.to_string());
    out += &elem("IsTruncated", &truncated.to_string());
    for (n, p) in page {
        out += &listed_part::<F>(*n, p);
    }
    Ok(xml_reply(200, xml::document("ListPartsResult", &out)))
}

fn listed_part<F: Flavor>(number: u32, p: &Part) -> String {
    let crc = match F::LISTED_PARTS_CARRY_CRC {
        true => elem("HashCrc64ecma", &p.crc64.to_string()),
        false => String::new(),
    };
    format!(
        "<Part>{}{}{}{crc}{}</Part>",
        elem("PartNumber", &number.to_string()),
        elem("LastModified", &xml::iso8601(p.modified)),
        elem("ETag", &p.etag),
        elem("Size", &p.data.len().to_string()),
    )
}

/// CompleteMultipartUpload; the object is left out of the next `hidden_listings` listings.
pub fn complete<F: Flavor>(
    b: &mut Bucket,
    bucket: &str,
    key: &str,
    req: &Req<'_>,
    hidden_listings: u32,
) -> Result<Reply, F::Error> {
    let listed = xml::parse_complete(&req.body).ok_or_else(F::malformed_xml)?;
    let upload = upload_of::<F>(b, req)?;
    let mut object = assemble::<F>(upload, &listed.parts)?;
    object.hidden_listings = hidden_listings;
    let id = req.param("uploadId").unwrap_or("").to_string();
    b.uploads.remove(&id);
    let out = elem("Location", &format!("http://{}/{bucket}/{key}", req.host))
        + &elem("Bucket", bucket)
        + &elem("Key", &req.encoded(key))
        + &elem("ETag", &object.etag);
    let body = xml::document("CompleteMultipartUploadResult", &out);
    let reply = Response::builder()
        .status(200)
        .header("content-type", "application/xml")
        .header("etag", &object.etag)
        .header(header_name::<F>("hash-crc64ecma"), object.crc64.to_string());
    b.objects.insert(key.to_string(), object);
    Ok(finish(reply, Bytes::from(body)))
}

/// Checks the listed parts (ascending, present, matching ETags, big enough) and joins them.
fn assemble<F: Flavor>(upload: &Upload, listed: &[xml::CompletePart]) -> Result<Object, F::Error> {
    let joined = join_parts(upload, listed, F::MIN_PART_SIZE).map_err(F::parts_problem)?;
    Ok(Object {
        crc64: crc64(&joined.data),
        etag: format!("\"{}-{}\"", md5_hex::<F>(&joined.md5s), listed.len()),
        data: joined.data,
        content_type: upload.content_type.clone(),
        modified: SystemTime::now(),
        metadata: upload.metadata.clone(),
        multipart: true,
        hidden_listings: 0,
    })
}

pub fn abort<F: Flavor>(b: &mut Bucket, req: &Req<'_>) -> Result<Reply, F::Error> {
    upload_of::<F>(b, req)?;
    b.uploads.remove(req.param("uploadId").unwrap_or(""));
    Ok(finish(Response::builder().status(204), Bytes::new()))
}

pub fn delete_object(b: &mut Bucket, key: &str) -> Reply {
    b.objects.remove(key);
    finish(Response::builder().status(204), Bytes::new())
}

pub fn list_uploads<F: Flavor>(b: &Bucket, bucket: &str, req: &Req<'_>) -> Reply {
    let prefix = req.param("prefix").unwrap_or("");
    let body = list_uploads_xml(
        &b.uploads,
        bucket,
        prefix,
        req.url_encoding(),
        F::STORAGE_CLASS,
    );
    xml_reply(200, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object() -> Object {
        Object {
            data: Bytes::new(),
            content_type: String::new(),
            etag: String::new(),
            crc64: 0,
            modified: SystemTime::now(),
            metadata: BTreeMap::new(),
            multipart: false,
            hidden_listings: 0,
        }
    }

    fn names<'a>(entries: impl Iterator<Item = Entry<'a>>) -> Vec<String> {
        entries
            .map(|e| match e {
                Entry::Object(k, _) => k.clone(),
                Entry::Prefix(p) => format!("[{p}]"),
            })
            .collect()
    }

    #[test]
    fn delimiter_rolls_up_prefixes_and_resumes_past_them() {
        let mut b = Bucket::default();
        for k in ["a.ts", "d/1.ts", "d/2.ts", "e/x/1.ts", "f.ts"] {
            b.objects.insert(k.to_string(), object());
        }
        let mut hidden = object();
        hidden.hidden_listings = 1;
        b.objects.insert("g.ts".to_string(), hidden);
        assert_eq!(
            names(listing(&b, "", "/", String::new())),
            ["a.ts", "[d/]", "[e/]", "f.ts"]
        );
        let resume = Entry::Prefix("d/".into()).resume_after();
        assert_eq!(names(listing(&b, "", "/", resume)), ["[e/]", "f.ts"]);
        assert_eq!(names(listing(&b, "e/", "/", String::new())), ["[e/x/]"]);
        assert_eq!(
            names(listing(&b, "d/", "", String::new())),
            ["d/1.ts", "d/2.ts"]
        );
    }

    #[test]
    fn crc64_is_crc64_xz() {
        assert_eq!(crc64(b"123456789"), 11051210869376104954);
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Some(Ok((0, 10))));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Some(Ok((90, 100))));
        assert_eq!(parse_range(Some("bytes=-5"), 100), Some(Ok((95, 100))));
        assert_eq!(parse_range(Some("bytes=95-200"), 100), Some(Ok((95, 100))));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Some(Err(())));
        assert_eq!(parse_range(Some("items=1-2"), 100), None);
    }
}
