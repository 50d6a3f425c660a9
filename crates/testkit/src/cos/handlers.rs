//! Request routing, authentication and the operations of the COS emulator.

use std::collections::BTreeMap;
use std::time::SystemTime;

use bytes::Bytes;
use http::request::Parts;
use hyper::Response;
use md5::Digest as _;

use super::auth::{self, Authorization};
use super::{Bucket, Object, State};
use crate::xml_api::multipart::{Part, PartsProblem, Upload, join_parts, list_uploads_xml};
use crate::xml_api::object::{
    self, content_md5_matches, content_type, crc64, parse_range, xml_reply,
};
use crate::xml_api::request::{
    Reply, decode_path, finish, lookup, lowercase_headers, query_pairs, url_encode,
};
use crate::xml_api::state::lock;
use crate::xml_api::xml::{self, elem};

/// How far ahead of the server's clock a signature may start.
const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// Smallest part but the last (COS: 1 MB).
const MIN_PART_SIZE: usize = 1024 * 1024;

/// A COS error response.
struct CosError {
    status: u16,
    code: &'static str,
    message: String,
    headers: Vec<(&'static str, String)>,
}

impl CosError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        CosError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn no_such_bucket() -> Self {
        CosError::new(404, "NoSuchBucket", "The specified bucket does not exist.")
    }

    fn no_such_key() -> Self {
        CosError::new(404, "NoSuchKey", "The specified key does not exist.")
    }

    fn no_such_upload() -> Self {
        CosError::new(
            404,
            "NoSuchUpload",
            "The specified multipart upload does not exist.",
        )
    }

    fn invalid_argument(message: impl Into<String>) -> Self {
        CosError::new(400, "InvalidArgument", message)
    }

    fn access_denied(message: impl Into<String>) -> Self {
        CosError::new(403, "AccessDenied", message)
    }

    fn render(&self, request_id: &str, resource: &str, head: bool) -> Reply {
        let children = elem("Code", self.code)
            + &elem("Message", &self.message)
            + &elem("Resource", resource)
            + &elem("RequestId", request_id)
            + &elem("TraceId", &format!("trace-{request_id}"));
        let body = xml::document("Error", &children);
        let mut builder = Response::builder()
            .status(self.status)
            .header("content-type", "application/xml");
        for (name, value) in &self.headers {
            builder = builder.header(*name, value);
        }
        // HEAD answers carry no body, so no code: clients go by the status.
        let body = if head {
            Bytes::new()
        } else {
            Bytes::from(body)
        };
        finish(builder, body)
    }
}

/// One parsed request.
struct Req<'a> {
    method: &'a str,
    host: String,
    /// The URL path, decoded: what the signature covers.
    path: String,
    bucket: Option<String>,
    key: Option<String>,
    /// The bucket was named by `Host` as `<bucket>.cos.<region>.…`: that region.
    host_region: Option<String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Req<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        lookup(&self.query, name)
    }

    fn has(&self, name: &str) -> bool {
        self.param(name).is_some()
    }

    fn header(&self, lower: &str) -> Option<&str> {
        lookup(&self.headers, lower)
    }

    fn url_encoding(&self) -> bool {
        self.param("encoding-type") == Some("url")
    }
}

fn parse<'a>(state: &State, parts: &'a Parts, body: Bytes) -> Req<'a> {
    let headers = lowercase_headers(parts);
    let host = lookup(&headers, "host").unwrap_or_default().to_string();
    let query = query_pairs(parts.uri.query().unwrap_or(""));
    let path = decode_path(parts.uri.path());
    let (bucket, key) = match host_bucket(state, &host) {
        Some(b) => (Some(b), Some(path[1.min(path.len())..].to_string())),
        None => {
            let rest = path.trim_start_matches('/');
            let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
            (Some(b.to_string()), Some(k.to_string()))
        }
    };
    Req {
        method: parts.method.as_str(),
        host_region: region_in_host(&host),
        host,
        path,
        bucket: bucket.filter(|b| !b.is_empty()),
        key: key.filter(|k| !k.is_empty()),
        query,
        headers,
        body,
    }
}

/// A custom domain, or `<bucket>.<anything>` for a bucket that exists, addresses a bucket
/// by host.
fn host_bucket(state: &State, host: &str) -> Option<String> {
    if let Some(bucket) = lock(&state.domains).get(host) {
        return Some(bucket.clone());
    }
    let (first, _) = host.split_once('.')?;
    state
        .buckets()
        .contains_key(first)
        .then(|| first.to_string())
}

/// `b-125.cos.ap-beijing.myqcloud.com[:port]` (or `.tencentcos.cn`) → `ap-beijing`.
fn region_in_host(host: &str) -> Option<String> {
    let labels: Vec<&str> = host.split(':').next()?.split('.').collect();
    match labels.as_slice() {
        [_, "cos", region, "myqcloud", "com"] | [_, "cos", region, "tencentcos", "cn"]
            if *region != "accelerate" =>
        {
            Some(region.to_string())
        }
        _ => None,
    }
}

pub(super) fn dispatch(state: &State, parts: &Parts, body: Bytes, request_id: &str) -> Reply {
    let req = parse(state, parts, body);
    let head = req.method == "HEAD";
    match authenticate(state, &req).and_then(|()| route(state, &req)) {
        Ok(reply) => reply,
        Err(e) => e.render(request_id, &req.path, head),
    }
}

/// Checks the key, the STS token, the signature's time window, the signature itself and
/// the region the host names.
/// The signature may come in `Authorization` or, for a presigned URL, in the query
/// (`q-sign-algorithm=…&…&q-signature=…`, with `x-cos-security-token` there too).
fn authenticate(state: &State, req: &Req<'_>) -> Result<(), CosError> {
    let in_query = req.query.iter().any(|(k, _)| k == "q-signature");
    let auth = if in_query {
        Authorization::from_query(&req.query)
    } else {
        let Some(header) = req.header("authorization") else {
            return Err(CosError::access_denied(
                "Access Denied. The request carries no Authorization.",
            ));
        };
        Authorization::parse(header)
    };
    let auth = auth.ok_or_else(|| {
        CosError::new(
            403,
            "InvalidAuthorization",
            "The signature is not q-sign-algorithm=sha1 with all its fields.",
        )
    })?;
    let (secret, token) = {
        let keys = state.keys.lock();
        let Some(k) = keys.get(&auth.secret_id) else {
            return Err(CosError::new(
                403,
                "InvalidAccessKeyId",
                "The access key Id format you provided is invalid.",
            ));
        };
        let token = k.token.as_ref().map(|t| (t.value.clone(), t.expired));
        (k.secret.clone(), token)
    };
    let presented = match in_query {
        true => lookup(&req.query, "x-cos-security-token"),
        false => req.header("x-cos-security-token"),
    };
    check_token(presented, token)?;
    check_time(state, &auth)?;
    check_signature(req, &auth, &secret)?;
    check_region(state, req)
}

fn check_token(presented: Option<&str>, token: Option<(String, bool)>) -> Result<(), CosError> {
    let Some((value, expired)) = token else {
        return Ok(());
    };
    if presented != Some(value.as_str()) {
        return Err(CosError::new(
            403,
            "InvalidToken",
            "The provided token is malformed or otherwise invalid.",
        ));
    }
    if expired {
        return Err(CosError::new(
            400,
            "ExpiredToken",
            "The provided token has expired.",
        ));
    }
    Ok(())
}

fn check_time(state: &State, auth: &Authorization) -> Result<(), CosError> {
    let (start, end) = auth.sign_window().ok_or_else(|| {
        CosError::new(
            403,
            "InvalidAuthorization",
            "q-sign-time is not <start>;<end> in unix seconds.",
        )
    })?;
    if !state.clock.checked() {
        return Ok(());
    }
    let now = state.clock.now().unix_timestamp();
    if now > end {
        return Err(CosError::access_denied("Request has expired"));
    }
    if start > now + MAX_SKEW_SECONDS {
        return Err(CosError::new(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
        ));
    }
    Ok(())
}

fn check_signature(req: &Req<'_>, auth: &Authorization, secret: &str) -> Result<(), CosError> {
    let request = auth::Request {
        method: req.method,
        path: &req.path,
        query: &req.query,
        headers: &req.headers,
    };
    if auth::signature(secret, &request, auth) != auth.signature {
        return Err(CosError::new(
            403,
            "SignatureDoesNotMatch",
            "The Signature you specified is invalid.",
        ));
    }
    Ok(())
}

/// A bucket addressed through another region's host is redirected, with its region.
fn check_region(state: &State, req: &Req<'_>) -> Result<(), CosError> {
    let (Some(bucket), Some(region)) = (&req.bucket, &req.host_region) else {
        return Ok(());
    };
    if *region == state.region || !state.buckets().contains_key(bucket) {
        return Ok(());
    }
    Err(CosError::new(
        301,
        "PermanentRedirect",
        "The bucket you are attempting to access must be addressed using the specified endpoint.",
    )
    .with_header("x-cos-bucket-region", state.region.clone()))
}

fn route(state: &State, req: &Req<'_>) -> Result<Reply, CosError> {
    let Some(bucket) = req.bucket.clone() else {
        return Err(CosError::invalid_argument(
            "The emulator serves bucket requests only (no GET Service).",
        ));
    };
    if req.method == "PUT" && req.key.is_none() && req.query.is_empty() {
        state.buckets().entry(bucket).or_default();
        return Ok(finish(Response::builder().status(200), Bytes::new()));
    }
    let lag = state
        .extra
        .listing_lag
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut buckets = state.buckets();
    let b = buckets
        .get_mut(&bucket)
        .ok_or_else(CosError::no_such_bucket)?;
    let Some(key) = req.key.clone() else {
        return match req.method {
            "HEAD" => Ok(head_bucket(state)),
            "GET" if req.has("uploads") => Ok(list_uploads(b, &bucket, req)),
            "GET" => list_objects(b, &bucket, req),
            _ => Err(CosError::invalid_argument("Unsupported bucket operation.")),
        };
    };
    match (req.method, req.has("uploadId")) {
        ("PUT", true) => upload_part(b, req),
        ("PUT", false) => put_object(b, &key, req, lag),
        ("POST", false) if req.has("uploads") => Ok(initiate(b, &bucket, &key, req)),
        ("POST", true) => complete(b, &bucket, &key, req, lag),
        ("GET", true) => list_parts(b, &bucket, &key, req),
        ("GET", false) => get_object(b, &key, req, true),
        ("HEAD", _) => get_object(b, &key, req, false),
        ("DELETE", true) => abort(b, req),
        ("DELETE", false) => {
            b.objects.remove(&key);
            Ok(finish(Response::builder().status(204), Bytes::new()))
        }
        _ => Err(CosError::invalid_argument("Unsupported object operation.")),
    }
}

/// HEAD Bucket: COS names the bucket's region in `x-cos-bucket-region`.
fn head_bucket(state: &State) -> Reply {
    finish(
        Response::builder()
            .status(200)
            .header("x-cos-bucket-region", &state.region),
        Bytes::new(),
    )
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5::Md5::digest(data))
}

/// Refuses a body whose `Content-MD5` does not match it.
fn check_content_md5(req: &Req<'_>) -> Result<(), CosError> {
    match content_md5_matches(&req.headers, &req.body) {
        true => Ok(()),
        false => Err(CosError::new(
            400,
            "BadDigest",
            "The Content-MD5 you specified did not match what was received.",
        )),
    }
}

fn user_metadata(req: &Req<'_>) -> BTreeMap<String, String> {
    object::user_metadata(&req.headers, "x-cos-meta-")
}

fn put_object(b: &mut Bucket, key: &str, req: &Req<'_>, lag: u32) -> Result<Reply, CosError> {
    check_content_md5(req)?;
    let md5 = md5_hex(&req.body);
    let object = Object {
        data: req.body.clone(),
        content_type: content_type(&req.headers),
        etag: format!("\"{md5}\""),
        crc64: crc64(&req.body),
        modified: SystemTime::now(),
        metadata: user_metadata(req),
        hidden_listings: lag,
    };
    let reply = Response::builder()
        .status(200)
        .header("etag", &object.etag)
        .header("x-cos-hash-crc64ecma", object.crc64.to_string());
    b.objects.insert(key.to_string(), object);
    Ok(finish(reply, Bytes::new()))
}

fn get_object(b: &Bucket, key: &str, req: &Req<'_>, with_body: bool) -> Result<Reply, CosError> {
    let o = b.objects.get(key).ok_or_else(CosError::no_such_key)?;
    let len = o.data.len() as u64;
    let mut builder = Response::builder()
        .header("content-type", &o.content_type)
        .header("etag", &o.etag)
        .header(
            "last-modified",
            httpdate::fmt_http_date(o.modified).as_str(),
        )
        .header("accept-ranges", "bytes")
        .header("x-cos-hash-crc64ecma", o.crc64.to_string())
        .header("x-cos-storage-class", "STANDARD");
    for (k, v) in &o.metadata {
        builder = builder.header(format!("x-cos-meta-{k}"), v);
    }
    let (status, start, end) = match parse_range(req.header("range"), len) {
        None => (200, 0, len),
        Some(Ok((start, end))) => {
            builder = builder.header("content-range", format!("bytes {start}-{}/{len}", end - 1));
            (206, start, end)
        }
        Some(Err(())) => {
            return Err(CosError::new(
                416,
                "InvalidRange",
                "The requested range cannot be satisfied",
            ));
        }
    };
    builder = builder
        .status(status)
        .header("content-length", (end - start).to_string());
    let body = match with_body {
        true => o.data.slice(start as usize..end as usize),
        false => Bytes::new(),
    };
    Ok(finish(builder, body))
}

/// One entry of a listing page: an object, or a common prefix rolled up at the delimiter.
enum Entry<'a> {
    Object(&'a String, &'a Object),
    Prefix(String),
}

/// The entries after `after` under `prefix`, common prefixes rolled up at `delimiter`.
fn listing<'a>(
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

/// GET Bucket (version 1): `prefix`, `delimiter`, `marker`, `max-keys`; `NextMarker` when
/// truncated. Objects still hidden by the listing lag are left out, and their lag shrinks.
fn list_objects(b: &mut Bucket, bucket: &str, req: &Req<'_>) -> Result<Reply, CosError> {
    let prefix = req.param("prefix").unwrap_or("");
    let delimiter = req.param("delimiter").unwrap_or("");
    let max_keys: usize = match req.param("max-keys") {
        None => 1000,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| CosError::invalid_argument("max-keys must be within 1..1000."))?,
    };
    let marker = req.param("marker").unwrap_or("");
    // A marker that is a rolled-up prefix resumes after everything under it.
    let after = match !delimiter.is_empty() && marker.ends_with(delimiter) {
        true => format!("{marker}{}", char::MAX),
        false => marker.to_string(),
    };
    let mut entries = listing(b, prefix, delimiter, after);
    let page: Vec<Entry<'_>> = entries.by_ref().take(max_keys).collect();
    let truncated = entries.next().is_some();
    let enc = |s: &str| match req.url_encoding() {
        true => url_encode(s),
        false => s.to_string(),
    };
    let mut out = elem("Name", bucket);
    if req.url_encoding() {
        out += &elem("EncodingType", "url");
    }
    out += &elem("Prefix", &enc(prefix));
    out += &elem("Marker", &enc(marker));
    out += &elem("MaxKeys", &max_keys.to_string());
    out += &elem("Delimiter", &enc(delimiter));
    out += &elem("IsTruncated", &truncated.to_string());
    if truncated && let Some(last) = page.last() {
        let next = match last {
            Entry::Object(k, _) => (*k).clone(),
            Entry::Prefix(p) => p.clone(),
        };
        out += &elem("NextMarker", &enc(&next));
    }
    for entry in &page {
        out += &match entry {
            Entry::Object(k, o) => format!(
                "<Contents>{}{}{}{}<Owner>{}{}</Owner>{}</Contents>",
                elem("Key", &enc(k)),
                elem("LastModified", &xml::iso8601(o.modified)),
                elem("ETag", &o.etag),
                elem("Size", &o.data.len().to_string()),
                elem("ID", "1250000000"),
                elem("DisplayName", "1250000000"),
                elem("StorageClass", "STANDARD"),
            ),
            Entry::Prefix(p) => format!(
                "<CommonPrefixes>{}</CommonPrefixes>",
                elem("Prefix", &enc(p))
            ),
        };
    }
    drop((page, entries));
    age_hidden(b, prefix);
    Ok(xml_reply(200, xml::document("ListBucketResult", &out)))
}

/// One listing has passed for the hidden objects under `prefix`.
fn age_hidden(b: &mut Bucket, prefix: &str) {
    for (_, o) in b.objects.iter_mut().filter(|(k, _)| k.starts_with(prefix)) {
        o.hidden_listings = o.hidden_listings.saturating_sub(1);
    }
}

fn new_upload_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode_upper(bytes)
}

fn initiate(b: &mut Bucket, bucket: &str, key: &str, req: &Req<'_>) -> Reply {
    let id = new_upload_id();
    b.uploads.insert(
        id.clone(),
        Upload {
            key: key.to_string(),
            content_type: content_type(&req.headers),
            metadata: user_metadata(req),
            initiated: SystemTime::now(),
            parts: BTreeMap::new(),
        },
    );
    let key = match req.url_encoding() {
        true => url_encode(key),
        false => key.to_string(),
    };
    let mut out = elem("Bucket", bucket) + &elem("Key", &key) + &elem("UploadId", &id);
    if req.url_encoding() {
        out += &elem("EncodingType", "url");
    }
    xml_reply(200, xml::document("InitiateMultipartUploadResult", &out))
}

fn upload_of<'a>(b: &'a mut Bucket, req: &Req<'_>) -> Result<&'a mut Upload, CosError> {
    let id = req.param("uploadId").unwrap_or("");
    match b.uploads.get_mut(id) {
        Some(u) if Some(u.key.as_str()) == req.key.as_deref() => Ok(u),
        _ => Err(CosError::no_such_upload()),
    }
}

fn upload_part(b: &mut Bucket, req: &Req<'_>) -> Result<Reply, CosError> {
    let number: u32 = req
        .param("partNumber")
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            CosError::invalid_argument("partNumber must be an integer from 1 to 10000.")
        })?;
    check_content_md5(req)?;
    let upload = upload_of(b, req)?;
    let part = Part {
        data: req.body.clone(),
        etag: format!("\"{}\"", md5_hex(&req.body)),
        crc64: crc64(&req.body),
        modified: SystemTime::now(),
    };
    let reply = Response::builder()
        .status(200)
        .header("etag", &part.etag)
        .header("x-cos-hash-crc64ecma", part.crc64.to_string());
    upload.parts.insert(number, part);
    Ok(finish(reply, Bytes::new()))
}

fn list_parts(b: &mut Bucket, bucket: &str, key: &str, req: &Req<'_>) -> Result<Reply, CosError> {
    let marker: u32 = req
        .param("part-number-marker")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let max: usize = req
        .param("max-parts")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000);
    let id = req.param("uploadId").unwrap_or("").to_string();
    let upload = upload_of(b, req)?;
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
        out += &format!(
            "<Part>{}{}{}{}</Part>",
            elem("PartNumber", &n.to_string()),
            elem("LastModified", &xml::iso8601(p.modified)),
            elem("ETag", &p.etag),
            elem("Size", &p.data.len().to_string()),
        );
    }
    Ok(xml_reply(200, xml::document("ListPartsResult", &out)))
}

fn complete(
    b: &mut Bucket,
    bucket: &str,
    key: &str,
    req: &Req<'_>,
    lag: u32,
) -> Result<Reply, CosError> {
    let listed = xml::parse_complete(&req.body).ok_or_else(|| {
        CosError::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    })?;
    let upload = upload_of(b, req)?;
    let mut object = assemble(upload, &listed.parts)?;
    object.hidden_listings = lag;
    let id = req.param("uploadId").unwrap_or("").to_string();
    b.uploads.remove(&id);
    let reply_key = match req.url_encoding() {
        true => url_encode(key),
        false => key.to_string(),
    };
    let out = elem("Location", &format!("http://{}/{bucket}/{key}", req.host))
        + &elem("Bucket", bucket)
        + &elem("Key", &reply_key)
        + &elem("ETag", &object.etag);
    let body = xml::document("CompleteMultipartUploadResult", &out);
    let reply = Response::builder()
        .status(200)
        .header("content-type", "application/xml")
        .header("etag", &object.etag)
        .header("x-cos-hash-crc64ecma", object.crc64.to_string());
    b.objects.insert(key.to_string(), object);
    Ok(finish(reply, Bytes::from(body)))
}

/// Checks the listed parts (ascending, present, matching ETags, big enough) and joins them.
fn assemble(upload: &Upload, listed: &[xml::CompletePart]) -> Result<Object, CosError> {
    let joined = join_parts(upload, listed, MIN_PART_SIZE).map_err(|problem| match problem {
        PartsProblem::NoParts => CosError::invalid_argument("No part is listed."),
        PartsProblem::NotAscending => CosError::new(
            400,
            "InvalidPartOrder",
            "The list of parts was not in ascending order.",
        ),
        PartsProblem::Missing(n) => CosError::new(
            400,
            "InvalidPart",
            format!("Part {n} could not be found or its entity tag did not match."),
        ),
        PartsProblem::TooSmall(n) => CosError::new(
            400,
            "EntityTooSmall",
            format!("Part {n} is smaller than the minimum allowed size."),
        ),
    })?;
    Ok(Object {
        crc64: crc64(&joined.data),
        etag: format!("\"{}-{}\"", md5_hex(&joined.md5s), listed.len()),
        data: joined.data,
        content_type: upload.content_type.clone(),
        modified: SystemTime::now(),
        metadata: upload.metadata.clone(),
        hidden_listings: 0,
    })
}

fn abort(b: &mut Bucket, req: &Req<'_>) -> Result<Reply, CosError> {
    upload_of(b, req)?;
    b.uploads.remove(req.param("uploadId").unwrap_or(""));
    Ok(finish(Response::builder().status(204), Bytes::new()))
}

fn list_uploads(b: &Bucket, bucket: &str, req: &Req<'_>) -> Reply {
    let prefix = req.param("prefix").unwrap_or("");
    let body = list_uploads_xml(&b.uploads, bucket, prefix, req.url_encoding(), "STANDARD");
    xml_reply(200, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_crc64_xz() {
        assert_eq!(crc64(b"123456789"), 11051210869376104954);
    }

    fn object() -> Object {
        Object {
            data: Bytes::new(),
            content_type: String::new(),
            etag: String::new(),
            crc64: 0,
            modified: SystemTime::now(),
            metadata: BTreeMap::new(),
            hidden_listings: 0,
        }
    }

    fn names(entries: impl Iterator<Item = Entry<'static>>) -> Vec<String> {
        entries
            .map(|e| match e {
                Entry::Object(k, _) => k.clone(),
                Entry::Prefix(p) => format!("[{p}]"),
            })
            .collect()
    }

    #[test]
    fn delimiter_rolls_up_prefixes_and_resumes_past_them() {
        let b: &'static mut Bucket = Box::leak(Box::default());
        for k in ["a.ts", "d/1.ts", "d/2.ts", "e/x/1.ts", "f.ts"] {
            b.objects.insert(k.to_string(), object());
        }
        let b: &'static Bucket = b;
        assert_eq!(
            names(listing(b, "", "/", String::new())),
            ["a.ts", "[d/]", "[e/]", "f.ts"]
        );
        let resume = format!("d/{}", char::MAX);
        assert_eq!(names(listing(b, "", "/", resume)), ["[e/]", "f.ts"]);
        assert_eq!(names(listing(b, "e/", "/", String::new())), ["[e/x/]"]);
        assert_eq!(
            names(listing(b, "d/", "", String::new())),
            ["d/1.ts", "d/2.ts"]
        );
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
