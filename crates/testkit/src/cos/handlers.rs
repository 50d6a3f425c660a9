//! Request routing, authentication and the operations of the COS emulator.

use bytes::Bytes;
use http::request::Parts;
use hyper::Response;

use super::auth::{self, Authorization};
use super::{Bucket, Cos, State};
use crate::xml_api::multipart::PartsProblem;
use crate::xml_api::object::xml_reply;
use crate::xml_api::ops::{self, Entry, Flavor, Req, listing};
use crate::xml_api::request::{Reply, decode_path, finish, lookup, lowercase_headers, query_pairs};
use crate::xml_api::state::lock;
use crate::xml_api::xml::{self, elem};

/// How far ahead of the server's clock a signature may start.
const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// Smallest part but the last (COS: 1 MB).
const MIN_PART_SIZE: usize = 1024 * 1024;

/// A COS error response.
pub struct CosError {
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

fn parse<'a>(state: &State, parts: &'a Parts, body: Bytes) -> Req<'a> {
    let headers = lowercase_headers(parts);
    let host = lookup(&headers, "host").unwrap_or_default().to_string();
    let raw_query = parts.uri.query().unwrap_or("");
    let query = query_pairs(raw_query);
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
        raw_query,
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
            "GET" if req.has("uploads") => Ok(ops::list_uploads::<Cos>(b, &bucket, req)),
            "GET" => list_objects(b, &bucket, req),
            _ => Err(CosError::invalid_argument("Unsupported bucket operation.")),
        };
    };
    match (req.method, req.has("uploadId")) {
        ("PUT", true) => ops::upload_part::<Cos>(b, req),
        ("PUT", false) => ops::put_object::<Cos>(b, &key, req, lag),
        ("POST", false) if req.has("uploads") => Ok(ops::initiate::<Cos>(b, &bucket, &key, req)),
        ("POST", true) => ops::complete::<Cos>(b, &bucket, &key, req, lag),
        ("GET", true) => ops::list_parts::<Cos>(b, &bucket, &key, req),
        ("GET", false) => ops::get_object::<Cos>(b, &key, req, true),
        ("HEAD", _) => ops::get_object::<Cos>(b, &key, req, false),
        ("DELETE", true) => ops::abort::<Cos>(b, req),
        ("DELETE", false) => Ok(ops::delete_object(b, &key)),
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

/// GET Bucket (version 1): `prefix`, `delimiter`, `marker`, `max-keys`; `NextMarker` when
/// truncated. Objects still hidden by the listing lag are left out, and their lag shrinks.
fn list_objects(b: &mut Bucket, bucket: &str, req: &Req<'_>) -> Result<Reply, CosError> {
    let prefix = req.param("prefix").unwrap_or("");
    let delimiter = req.param("delimiter").unwrap_or("");
    let max_keys = ops::max_keys::<Cos>(req, 1000)?;
    let marker = req.param("marker").unwrap_or("");
    // A marker that is a rolled-up prefix resumes after everything under it.
    let after = match !delimiter.is_empty() && marker.ends_with(delimiter) {
        true => format!("{marker}{}", char::MAX),
        false => marker.to_string(),
    };
    let mut entries = listing(b, prefix, delimiter, after);
    let page: Vec<Entry<'_>> = entries.by_ref().take(max_keys).collect();
    let truncated = entries.next().is_some();
    let enc = |s: &str| req.encoded(s);
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
        out += &elem("NextMarker", &enc(last.name()));
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
                elem("StorageClass", Cos::STORAGE_CLASS),
            ),
            Entry::Prefix(p) => ops::common_prefix(req, p),
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

impl Flavor for Cos {
    type Error = CosError;

    const MARK: &'static str = "x-cos-";
    const STORAGE_CLASS: &'static str = "STANDARD";
    const MIN_PART_SIZE: usize = MIN_PART_SIZE;
    const UPPER_CASE_ETAGS: bool = false;
    const LISTED_PARTS_CARRY_CRC: bool = false;
    const PUT_ECHOES_CONTENT_MD5: bool = false;

    fn no_such_key(_key: &str) -> CosError {
        CosError::new(404, "NoSuchKey", "The specified key does not exist.")
    }

    fn no_such_upload(_upload_id: &str) -> CosError {
        CosError::new(
            404,
            "NoSuchUpload",
            "The specified multipart upload does not exist.",
        )
    }

    fn invalid_argument(message: &str) -> CosError {
        CosError::invalid_argument(message)
    }

    fn invalid_range() -> CosError {
        CosError::new(
            416,
            "InvalidRange",
            "The requested range cannot be satisfied",
        )
    }

    fn bad_digest() -> CosError {
        CosError::new(
            400,
            "BadDigest",
            "The Content-MD5 you specified did not match what was received.",
        )
    }

    fn bad_part_number() -> CosError {
        CosError::invalid_argument("partNumber must be an integer from 1 to 10000.")
    }

    fn malformed_xml() -> CosError {
        CosError::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    }

    fn parts_problem(problem: PartsProblem) -> CosError {
        match problem {
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
        }
    }
}
