//! Request routing, authentication and the operations of the OSS emulator.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::request::Parts;
use hyper::Response;

use super::auth::{self, Authorization, QueryAuth};
use super::{Bucket, Object, Oss, State};
use crate::xml_api::multipart::PartsProblem;
use crate::xml_api::object::xml_reply;
use crate::xml_api::ops::{self, Entry, Flavor, Req, listing};
use crate::xml_api::request::{Reply, decode_path, finish, lookup, lowercase_headers, query_pairs};
use crate::xml_api::state::lock;
use crate::xml_api::xml::{self, elem};

/// Largest allowed difference between the request's time and the server's (OSS: 15 min).
const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// Smallest part but the last (OSS: 100 KB).
const MIN_PART_SIZE: usize = 100 * 1024;
/// Longest lifetime of a V4 presigned URL (`x-oss-expires`): 7 days.
const MAX_V4_EXPIRES: i64 = 7 * 24 * 3600;

/// An OSS error response.
pub struct OssError {
    status: u16,
    code: &'static str,
    message: String,
    ec: &'static str,
    extra: Vec<(&'static str, String)>,
}

impl OssError {
    fn new(status: u16, code: &'static str, ec: &'static str, message: impl Into<String>) -> Self {
        OssError {
            status,
            code,
            message: message.into(),
            ec,
            extra: Vec::new(),
        }
    }

    fn with(mut self, tag: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((tag, value.into()));
        self
    }

    fn no_such_bucket(bucket: &str) -> Self {
        OssError::new(
            404,
            "NoSuchBucket",
            "0015-00000101",
            "The specified bucket does not exist.",
        )
        .with("BucketName", bucket)
    }

    fn invalid_argument(message: impl Into<String>) -> Self {
        OssError::new(400, "InvalidArgument", "0017-00000001", message)
    }

    fn render(&self, request_id: &str, host: &str, head: bool) -> Reply {
        let mut children = elem("Code", self.code) + &elem("Message", &self.message);
        children += &elem("RequestId", request_id);
        children += &elem("HostId", host);
        for (tag, value) in &self.extra {
            children += &elem(tag, value);
        }
        children += &elem("EC", self.ec);
        let body = xml::document("Error", &children);
        let mut builder = Response::builder()
            .status(self.status)
            .header("content-type", "application/xml")
            .header("x-oss-ec", self.ec);
        if head {
            // HEAD has no body: OSS carries the error XML in a header instead.
            builder = builder.header("x-oss-err", STANDARD.encode(body.as_bytes()));
            return finish(builder, Bytes::new());
        }
        finish(builder, Bytes::from(body))
    }
}

fn parse<'a>(state: &State, parts: &'a Parts, body: Bytes) -> Req<'a> {
    let headers = lowercase_headers(parts);
    let host = lookup(&headers, "host").unwrap_or_default().to_string();
    let raw_query = parts.uri.query().unwrap_or("");
    let query = query_pairs(raw_query);
    let path = parts.uri.path();
    let (bucket, key) = match virtual_host_bucket(state, &host) {
        Some(b) => (Some(b), Some(decode_path(&path[1.min(path.len())..]))),
        None => {
            let rest = path.trim_start_matches('/');
            let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
            (Some(decode_path(b)), Some(decode_path(k)))
        }
    };
    Req {
        method: parts.method.as_str(),
        host,
        path: decode_path(path),
        bucket: bucket.filter(|b| !b.is_empty()),
        key: key.filter(|k| !k.is_empty()),
        host_region: None,
        raw_query,
        query,
        headers,
        body,
    }
}

/// A custom domain, or `<bucket>.<anything>`, addresses a bucket by host.
fn virtual_host_bucket(state: &State, host: &str) -> Option<String> {
    if let Some(bucket) = lock(&state.domains).get(host) {
        return Some(bucket.clone());
    }
    let (first, _) = host.split_once('.')?;
    state
        .buckets()
        .contains_key(first)
        .then(|| first.to_string())
}

pub(super) fn dispatch(state: &State, parts: &Parts, body: Bytes, request_id: &str) -> Reply {
    let req = parse(state, parts, body);
    let head = req.method == "HEAD";
    match authenticate(state, &req).and_then(|()| route(state, &req)) {
        Ok(reply) => reply,
        Err(e) => e.render(request_id, &req.host, head),
    }
}

/// Checks the signature (in `Authorization`, or in the query of a presigned URL), the key,
/// the STS token, the request time or the URL's expiry, and the signed region.
fn authenticate(state: &State, req: &Req<'_>) -> Result<(), OssError> {
    if let Some(query_auth) = QueryAuth::parse(&req.query) {
        let query_auth = query_auth.map_err(OssError::invalid_argument)?;
        return authenticate_query(state, req, &query_auth);
    }
    let Some(header) = req.header("authorization") else {
        return Err(OssError::new(
            403,
            "AccessDenied",
            "0003-00000001",
            "You have no right to access this object because of bucket acl.",
        ));
    };
    let auth = Authorization::parse(header)
        .ok_or_else(|| OssError::invalid_argument("Authorization header is invalid."))?;
    let (secret, token) = key_state(state, auth.access_key())?;
    check_token(req.header("x-oss-security-token"), token)?;
    check_time(state, req, &auth)?;
    check_signature(req, &auth, &secret)?;
    match &auth {
        Authorization::V4 { region, .. } => check_region(state, req, region),
        Authorization::V1 { .. } => Ok(()),
    }
}

/// A presigned URL: the same checks, with the token, time and signature from the query.
fn authenticate_query(state: &State, req: &Req<'_>, auth: &QueryAuth) -> Result<(), OssError> {
    let (secret, token) = key_state(state, auth.access_key())?;
    check_token(req.param(auth.token_param()), token)?;
    check_expiry(state, auth)?;
    check_query_signature(req, auth, &secret)?;
    match auth {
        QueryAuth::V4 { region, .. } => check_region(state, req, region),
        QueryAuth::V1 { .. } => Ok(()),
    }
}

/// The secret of `access_key` and its STS token (value, expired), or OSS's refusal.
fn key_state(
    state: &State,
    access_key: &str,
) -> Result<(String, Option<(String, bool)>), OssError> {
    let keys = state.keys.lock();
    let Some(k) = keys.get(access_key) else {
        return Err(OssError::new(
            403,
            "InvalidAccessKeyId",
            "0002-00000902",
            "The OSS Access Key Id you provided does not exist in our records.",
        )
        .with("OSSAccessKeyId", access_key));
    };
    let token = k.token.as_ref().map(|t| (t.value.clone(), t.expired));
    Ok((k.secret.clone(), token))
}

fn check_token(presented: Option<&str>, token: Option<(String, bool)>) -> Result<(), OssError> {
    let Some((value, expired)) = token else {
        return Ok(());
    };
    if presented != Some(value.as_str()) {
        return Err(OssError::new(
            403,
            "InvalidSecurityToken",
            "0002-00000904",
            "The security token you provided is invalid.",
        ));
    }
    if expired {
        return Err(OssError::new(
            403,
            "SecurityTokenExpired",
            "0002-00000905",
            "The security token you provided has expired.",
        ));
    }
    Ok(())
}

/// A presigned URL is refused once its lifetime is over (`Expires` for V1,
/// `x-oss-date + x-oss-expires` for V4, whose lifetime is 1 s to 7 days).
fn check_expiry(state: &State, auth: &QueryAuth) -> Result<(), OssError> {
    let expires_at = match auth {
        QueryAuth::V1 { expires_at, .. } => *expires_at,
        QueryAuth::V4 {
            timestamp, expires, ..
        } => {
            if !(1..=MAX_V4_EXPIRES).contains(expires) {
                return Err(OssError::new(
                    400,
                    "InvalidArgument",
                    "0002-00000232",
                    "x-oss-expires must be between 1 and 604800 seconds.",
                ));
            }
            let signed = parse_v4_stamp(timestamp)
                .ok_or_else(|| OssError::invalid_argument("x-oss-date is not yyyymmddThhmmssZ."))?;
            signed.unix_timestamp() + expires
        }
    };
    let now = state.clock.now();
    // Aliyun's per-EC pages: 0002-00000069 for V1/V2 URLs, 0002-00000236 for V4 ones.
    let ec = match auth {
        QueryAuth::V1 { .. } => "0002-00000069",
        QueryAuth::V4 { .. } => "0002-00000236",
    };
    if state.clock.checked() && now.unix_timestamp() > expires_at {
        return Err(
            OssError::new(403, "AccessDenied", ec, "Request has expired.")
                .with("Expires", expires_at.to_string())
                .with("ServerTime", xml::iso8601(now.into())),
        );
    }
    Ok(())
}

fn check_query_signature(req: &Req<'_>, auth: &QueryAuth, secret: &str) -> Result<(), OssError> {
    let unsigned_query = auth::query_without_signature(req.raw_query);
    let request = auth::Request {
        method: req.method,
        bucket: req.bucket.as_deref(),
        key: req.key.as_deref(),
        raw_query: &unsigned_query,
        headers: &req.headers,
    };
    let (expected, given, signed_text) = match auth {
        QueryAuth::V4 {
            date,
            region,
            timestamp,
            additional,
            signature,
            ..
        } => {
            let canonical = auth::v4_canonical_request(&request, additional);
            let expected = auth::v4_signature(secret, timestamp, date, region, &canonical);
            (expected, signature, canonical)
        }
        QueryAuth::V1 {
            expires_at,
            signature,
            ..
        } => {
            let to_sign = auth::v1_string_to_sign_at(&request, &req.query, &expires_at.to_string());
            (auth::v1_signature(secret, &to_sign), signature, to_sign)
        }
    };
    if &expected != given {
        return Err(signature_mismatch(auth.access_key(), signed_text));
    }
    Ok(())
}

fn signature_mismatch(access_key: &str, signed_text: String) -> OssError {
    OssError::new(
        403,
        "SignatureDoesNotMatch",
        "0002-00000040",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
    .with("OSSAccessKeyId", access_key)
    .with("StringToSign", signed_text)
}

fn parse_v4_stamp(stamp: &str) -> Option<time::OffsetDateTime> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(stamp, &fmt)
        .ok()
        .map(|t| t.assume_utc())
}

fn request_time(req: &Req<'_>, auth: &Authorization) -> Option<time::OffsetDateTime> {
    match auth {
        Authorization::V4 { .. } => parse_v4_stamp(req.header("x-oss-date")?),
        Authorization::V1 { .. } => {
            let date = req.header("x-oss-date").or(req.header("date"))?;
            httpdate::parse_http_date(date).ok().map(Into::into)
        }
    }
}

fn check_time(state: &State, req: &Req<'_>, auth: &Authorization) -> Result<(), OssError> {
    let Some(t) = request_time(req, auth) else {
        return Err(OssError::new(
            403,
            "AccessDenied",
            "0002-00000201",
            "OSS authentication requires a valid Date.",
        ));
    };
    let now = state.clock.now();
    let skew = (now - t).whole_seconds().abs();
    if state.clock.checked() && skew > MAX_SKEW_SECONDS {
        return Err(OssError::new(
            403,
            "RequestTimeTooSkewed",
            "0002-00000504",
            "The difference between the request time and the current time is too large.",
        )
        .with("RequestTime", xml::iso8601(t.into()))
        .with("ServerTime", xml::iso8601(now.into())));
    }
    Ok(())
}

fn check_signature(req: &Req<'_>, auth: &Authorization, secret: &str) -> Result<(), OssError> {
    let request = auth::Request {
        method: req.method,
        bucket: req.bucket.as_deref(),
        key: req.key.as_deref(),
        raw_query: req.raw_query,
        headers: &req.headers,
    };
    let (expected, given, signed_text) = match auth {
        Authorization::V4 {
            date,
            region,
            additional,
            signature,
            ..
        } => {
            check_v4_headers(req, date)?;
            let canonical = auth::v4_canonical_request(&request, additional);
            let stamp = req.header("x-oss-date").unwrap_or_default();
            let expected = auth::v4_signature(secret, stamp, date, region, &canonical);
            (expected, signature, canonical)
        }
        Authorization::V1 { signature, .. } => {
            let to_sign = auth::v1_string_to_sign(&request, &req.query);
            (auth::v1_signature(secret, &to_sign), signature, to_sign)
        }
    };
    if &expected != given {
        return Err(signature_mismatch(auth.access_key(), signed_text));
    }
    Ok(())
}

/// V4 requires `x-oss-content-sha256`, and the credential's date is `x-oss-date`'s day.
fn check_v4_headers(req: &Req<'_>, scope_date: &str) -> Result<(), OssError> {
    if req.header("x-oss-content-sha256").is_none() {
        return Err(OssError::invalid_argument(
            "x-oss-content-sha256 header is missing (V4 requests must send it, usually UNSIGNED-PAYLOAD).",
        ));
    }
    let stamp = req.header("x-oss-date").unwrap_or_default();
    if !stamp.starts_with(scope_date) {
        return Err(OssError::invalid_argument(
            "Invalid signing date in Authorization header: it must be the day of x-oss-date.",
        ));
    }
    Ok(())
}

/// A V4 request signed for another region than the bucket's gets what OSS answers a
/// request sent to another region's endpoint.
fn check_region(state: &State, req: &Req<'_>, region: &str) -> Result<(), OssError> {
    let Some(bucket) = &req.bucket else {
        return Ok(());
    };
    if region == state.region || !state.buckets().contains_key(bucket) {
        return Ok(());
    }
    Err(OssError::new(
        403,
        "AccessDenied",
        "0003-00001403",
        "The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.",
    )
    .with("Bucket", bucket.clone())
    .with("Endpoint", format!("oss-{}.aliyuncs.com", state.region)))
}

fn route(state: &State, req: &Req<'_>) -> Result<Reply, OssError> {
    let Some(bucket) = req.bucket.clone() else {
        return Err(OssError::invalid_argument(
            "The emulator serves bucket requests only (no ListBuckets).",
        ));
    };
    if req.method == "PUT" && req.key.is_none() && req.query.is_empty() {
        state.buckets().entry(bucket).or_default();
        return Ok(finish(Response::builder().status(200), Bytes::new()));
    }
    let mut buckets = state.buckets();
    let b = buckets
        .get_mut(&bucket)
        .ok_or_else(|| OssError::no_such_bucket(&bucket))?;
    let Some(key) = req.key.clone() else {
        return match req.method {
            "GET" if req.has("location") => Ok(location(state)),
            "GET" if req.has("uploads") => Ok(ops::list_uploads::<Oss>(b, &bucket, req)),
            "GET" => list_objects_v2(b, &bucket, req),
            _ => Err(OssError::invalid_argument("Unsupported bucket operation.")),
        };
    };
    match (req.method, req.has("uploadId")) {
        ("PUT", true) => ops::upload_part::<Oss>(b, req),
        ("PUT", false) => ops::put_object::<Oss>(b, &key, req, 0),
        ("POST", false) if req.has("uploads") => Ok(ops::initiate::<Oss>(b, &bucket, &key, req)),
        ("POST", true) => ops::complete::<Oss>(b, &bucket, &key, req, 0),
        ("GET", true) => ops::list_parts::<Oss>(b, &bucket, &key, req),
        ("GET", false) => ops::get_object::<Oss>(b, &key, req, true),
        ("HEAD", _) => ops::get_object::<Oss>(b, &key, req, false),
        ("DELETE", true) => ops::abort::<Oss>(b, req),
        ("DELETE", false) => Ok(ops::delete_object(b, &key)),
        _ => Err(OssError::invalid_argument("Unsupported object operation.")),
    }
}

fn location(state: &State) -> Reply {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        elem("LocationConstraint", &format!("oss-{}", state.region))
    );
    xml_reply(200, body)
}

fn list_objects_v2(b: &Bucket, bucket: &str, req: &Req<'_>) -> Result<Reply, OssError> {
    let prefix = req.param("prefix").unwrap_or("");
    let delimiter = req.param("delimiter").unwrap_or("");
    let max_keys = ops::max_keys::<Oss>(req, 100)?;
    // The continuation token is the hex of where the next page starts (opaque to clients).
    let after = match req.param("continuation-token") {
        Some(token) => hex::decode(token)
            .ok()
            .and_then(|k| String::from_utf8(k).ok())
            .ok_or_else(|| OssError::invalid_argument("Invalid continuation-token."))?,
        None => req.param("start-after").unwrap_or("").to_string(),
    };
    let mut entries = listing(b, prefix, delimiter, after);
    let page: Vec<Entry<'_>> = entries.by_ref().take(max_keys).collect();
    let truncated = entries.next().is_some();
    let mut out = elem("Name", bucket) + &elem("Prefix", &req.encoded(prefix));
    if let Some(sa) = req.param("start-after") {
        out += &elem("StartAfter", &req.encoded(sa));
    }
    if let Some(t) = req.param("continuation-token") {
        out += &elem("ContinuationToken", t);
    }
    out += &elem("MaxKeys", &max_keys.to_string());
    out += &elem("Delimiter", &req.encoded(delimiter));
    if req.url_encoding() {
        out += &elem("EncodingType", "url");
    }
    out += &elem("IsTruncated", &truncated.to_string());
    if truncated && let Some(last) = page.last() {
        let token = hex::encode(last.resume_after().as_bytes());
        out += &elem("NextContinuationToken", &token);
    }
    out += &elem("KeyCount", &page.len().to_string());
    for entry in &page {
        out += &match entry {
            Entry::Object(k, o) => format!(
                "<Contents>{}{}{}{}{}{}</Contents>",
                elem("Key", &req.encoded(k)),
                elem("LastModified", &xml::iso8601(o.modified)),
                elem("ETag", &o.etag),
                elem("Type", object_type(o)),
                elem("Size", &o.data.len().to_string()),
                elem("StorageClass", Oss::STORAGE_CLASS),
            ),
            Entry::Prefix(p) => ops::common_prefix(req, p),
        };
    }
    Ok(xml_reply(200, xml::document("ListBucketResult", &out)))
}

/// `Multipart` for an object joined from parts, else `Normal`.
fn object_type(o: &Object) -> &'static str {
    match o.multipart {
        true => "Multipart",
        false => "Normal",
    }
}

impl Flavor for Oss {
    type Error = OssError;

    const MARK: &'static str = "x-oss-";
    const STORAGE_CLASS: &'static str = "Standard";
    const MIN_PART_SIZE: usize = MIN_PART_SIZE;
    const UPPER_CASE_ETAGS: bool = true;
    const LISTED_PARTS_CARRY_CRC: bool = true;
    const PUT_ECHOES_CONTENT_MD5: bool = true;

    fn object_headers(builder: http::response::Builder, o: &Object) -> http::response::Builder {
        builder.header("x-oss-object-type", object_type(o))
    }

    fn no_such_key(key: &str) -> OssError {
        OssError::new(
            404,
            "NoSuchKey",
            "0026-00000001",
            "The specified key does not exist.",
        )
        .with("Key", key)
    }

    fn no_such_upload(upload_id: &str) -> OssError {
        OssError::new(
            404,
            "NoSuchUpload",
            "0042-00000002",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
        .with("UploadId", upload_id)
    }

    fn invalid_argument(message: &str) -> OssError {
        OssError::invalid_argument(message)
    }

    fn invalid_range() -> OssError {
        OssError::new(
            416,
            "InvalidRange",
            "0014-00000001",
            "The requested range cannot be satisfied",
        )
    }

    fn bad_digest() -> OssError {
        OssError::new(
            400,
            "InvalidDigest",
            "0016-00000401",
            "The Content-MD5 you specified was invalid.",
        )
    }

    fn bad_part_number() -> OssError {
        OssError::invalid_argument("Part number must be an integer between 1 and 10000, inclusive.")
    }

    fn malformed_xml() -> OssError {
        OssError::new(
            400,
            "MalformedXML",
            "0042-00000201",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    }

    fn parts_problem(problem: PartsProblem) -> OssError {
        match problem {
            PartsProblem::NoParts => OssError::invalid_argument("No part is listed."),
            PartsProblem::NotAscending => OssError::new(
                400,
                "InvalidPartOrder",
                "0042-00000205",
                "The list of parts was not in ascending order.",
            ),
            PartsProblem::Missing(n) => OssError::new(
                400,
                "InvalidPart",
                "0042-00000206",
                "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.",
            )
            .with("PartNumber", n.to_string()),
            PartsProblem::TooSmall(n) => OssError::new(
                400,
                "EntityTooSmall",
                "0042-00000207",
                "Your proposed upload is smaller than the minimum allowed size.",
            )
            .with("PartNumber", n.to_string()),
        }
    }
}
