//! The emulator's HTTP answers, one function per Qiniu API.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::TcpListener as StdTcpListener;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use md5::Digest as _;
use serde_json::{Value, json};
use stowage_core::checksum::{checksum_bytes, qetag_v2};
use stowage_core::{ChecksumAlgo, content_type};
use tokio::sync::oneshot;

use super::auth::SignedRequest;
use super::{Bucket, Object, Part, State, Upload, form};
use crate::s3s_server::accept_until_stopped;

type Answer = Response<Full<Bytes>>;
/// Handlers fail with Qiniu's error: a status and the `error` text.
type Result<T> = std::result::Result<T, Fail>;

pub(super) struct Fail {
    status: u16,
    message: String,
}

impl Fail {
    fn answer(self) -> Answer {
        reply(self.status, json!({ "error": self.message }))
    }
}

const MIN_PART: usize = 1 << 20;
const MAX_PART: usize = 1 << 30;
const UPLOAD_LIFETIME: i64 = 7 * 24 * 3600;

/// Serves every listener until `stop` fires; `None` is the all-zones endpoint.
pub(super) async fn serve(
    listeners: Vec<(Option<String>, StdTcpListener)>,
    state: Arc<State>,
    stop: oneshot::Receiver<()>,
) {
    let (stop_all, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut tasks = Vec::new();
    for (zone, listener) in listeners {
        let (tx, rx) = oneshot::channel();
        let mut stopped = stop_all.subscribe();
        tokio::spawn(async move {
            let _ = stopped.recv().await;
            let _ = tx.send(());
        });
        tasks.push(tokio::spawn(serve_one(listener, zone, state.clone(), rx)));
    }
    let _ = stop.await;
    let _ = stop_all.send(());
    for t in tasks {
        let _ = t.await;
    }
}

async fn serve_one(
    listener: StdTcpListener,
    zone: Option<String>,
    state: Arc<State>,
    stop: oneshot::Receiver<()>,
) {
    let http = ConnBuilder::new(TokioExecutor::new());
    accept_until_stopped(listener, stop, |socket| {
        let (state, zone) = (state.clone(), zone.clone());
        let service = service_fn(move |req| {
            let (state, zone) = (state.clone(), zone.clone());
            async move { Ok::<_, Infallible>(handle(&state, zone.as_deref(), req).await) }
        });
        let conn = http
            .serve_connection(TokioIo::new(socket), service)
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    })
    .await;
}

/// The parts of a request every handler may need.
struct Req {
    method: Method,
    path: String,
    query: String,
    host: String,
    headers: hyper::HeaderMap,
    body: Bytes,
    /// The listener's zone; `None` serves all zones.
    zone: Option<String>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// Query parameters, or a form body's for POSTs (Qiniu takes both).
    fn params(&self) -> BTreeMap<String, String> {
        let mut p: BTreeMap<String, String> = form_pairs(self.query.as_bytes());
        if self.header("content-type") == Some("application/x-www-form-urlencoded") {
            p.extend(form_pairs(&self.body));
        }
        p
    }
}

fn form_pairs(data: &[u8]) -> BTreeMap<String, String> {
    url_pairs(data).collect()
}

fn url_pairs(data: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    data.split(|b| *b == b'&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let text = String::from_utf8_lossy(pair).replace('+', " ");
            let (k, v) = text.split_once('=').unwrap_or((&text, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
}

async fn handle(state: &State, zone: Option<&str>, req: Request<Incoming>) -> Answer {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error(400, &format!("reading the body: {e}")).answer(),
    };
    let req = Req {
        host: parts
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
        zone: zone.map(str::to_owned),
    };
    route(state, &req).unwrap_or_else(Fail::answer)
}

fn route(state: &State, req: &Req) -> Result<Answer> {
    let path = req.path.as_str();
    match (&req.method, path) {
        (&Method::POST, "/") => form_upload(state, req),
        (_, p) if p.starts_with("/buckets/") => resumable(state, req),
        (&Method::GET | &Method::POST, p) if p.starts_with("/stat/") => stat(state, req),
        (&Method::POST, p) if p.starts_with("/delete/") => delete(state, req),
        (&Method::GET | &Method::POST, "/list") => list(state, req),
        (&Method::GET, "/v4/query") => query(state, req),
        (&Method::GET, "/v2/domains") => domains(state, req),
        (&Method::GET | &Method::HEAD, p) if p.starts_with("/dl/") => download(state, req),
        _ => Err(error(404, "no such api")),
    }
}

// ---------------------------------------------------------------- answers

fn reply(status: u16, body: Value) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-reqid", request_id())
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Qiniu's error answer: `{"error": "…"}` with Qiniu's status.
fn error(status: u16, message: &str) -> Fail {
    Fail {
        status,
        message: message.to_owned(),
    }
}

fn request_id() -> String {
    format!("kodo-emu-{}", super::random_token(12))
}

// ---------------------------------------------------------------- checks

/// The bucket, or 631; on a zone's own port, a bucket of another zone gets Qiniu's
/// "incorrect region" answer naming the right host.
fn bucket_in_zone<'a>(
    buckets: &'a mut BTreeMap<String, Bucket>,
    name: &str,
    req: &Req,
    service: &str,
) -> Result<&'a mut Bucket> {
    let bucket = buckets
        .get_mut(name)
        .ok_or_else(|| error(631, "no such bucket"))?;
    match &req.zone {
        Some(z) if *z != bucket.zone => {
            let domain = if service == "up" {
                "qiniup"
            } else {
                "qiniuapi"
            };
            Err(error(
                400,
                &format!(
                    "incorrect region, please use {service}-{}.{domain}.com",
                    bucket.zone
                ),
            ))
        }
        _ => Ok(bucket),
    }
}

fn management_auth(state: &State, req: &Req) -> Result<()> {
    let x_qiniu = req
        .headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-qiniu-"))
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let pq = req.path_and_query();
    let signed = SignedRequest {
        method: req.method.as_str(),
        path_and_query: &pq,
        host: &req.host,
        content_type: req.header("content-type"),
        x_qiniu,
        body: &req.body,
        authorization: req.header("authorization"),
    };
    state
        .account
        .verify_management(&signed)
        .map_err(|e| error(401, e.message()))
}

/// What a valid upload token allows.
struct Grant {
    bucket: String,
    /// The key fixed by the scope, if any.
    key: Option<String>,
    insert_only: bool,
}

fn upload_grant(state: &State, token: Option<&str>) -> Result<Grant> {
    let token = token.ok_or_else(|| error(401, "token not specified"))?;
    let policy = state
        .account
        .verify_upload_token(token, state.now())
        .map_err(|e| error(401, e.message()))?;
    let scope = policy["scope"]
        .as_str()
        .ok_or_else(|| error(400, "invalid put policy: no scope"))?;
    let (bucket, key) = match scope.split_once(':') {
        Some((b, k)) => (b.to_owned(), Some(k.to_owned())),
        None => (scope.to_owned(), None),
    };
    Ok(Grant {
        bucket,
        key,
        insert_only: policy["insertOnly"].as_i64().unwrap_or(0) != 0,
    })
}

/// The key an upload writes: the request's, which must match a scope that names one.
fn granted_key(grant: &Grant, requested: Option<String>) -> Result<Option<String>> {
    match (&grant.key, requested) {
        (Some(k), Some(r)) if *k != r => Err(error(403, "key doesn't match with scope")),
        (Some(k), _) => Ok(Some(k.clone())),
        (None, r) => Ok(r),
    }
}

fn check_insert_only(grant: &Grant, bucket: &Bucket, key: &str) -> Result<()> {
    if grant.insert_only && bucket.objects.contains_key(key) {
        return Err(error(614, "file exists"));
    }
    Ok(())
}

fn decode_b64(s: &str) -> Option<String> {
    let raw = URL_SAFE
        .decode(s)
        .or_else(|_| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')))
        .ok()?;
    String::from_utf8(raw).ok()
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5::Md5::digest(data))
}

fn qetag(data: &[u8]) -> String {
    checksum_bytes(data, &[ChecksumAlgo::Qetag])
        .qetag
        .unwrap_or_default()
}

fn put_time(state: &State) -> i64 {
    state.now() * 10_000_000
}

// ---------------------------------------------------------------- upload

fn form_upload(state: &State, req: &Req) -> Result<Answer> {
    let boundary = req
        .header("content-type")
        .and_then(form::boundary)
        .ok_or_else(|| error(400, "invalid multipart format: no boundary"))?;
    let fields =
        form::parse(&req.body, &boundary).ok_or_else(|| error(400, "invalid multipart format"))?;
    let text = |name: &str| {
        fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| String::from_utf8_lossy(&f.data).into_owned())
    };
    let grant = upload_grant(state, text("token").as_deref())?;
    let file = fields
        .iter()
        .find(|f| f.name == "file")
        .ok_or_else(|| error(400, "file is not specified in multipart"))?;
    check_crc32(text("crc32").as_deref(), &file.data)?;
    let mut buckets = state.buckets();
    let bucket = bucket_in_zone(&mut buckets, &grant.bucket, req, "up")?;
    let hash = qetag(&file.data);
    let key = granted_key(&grant, text("key"))?.unwrap_or_else(|| hash.clone());
    check_insert_only(&grant, bucket, &key)?;
    let mime = file
        .content_type
        .clone()
        .filter(|ct| ct != "application/octet-stream")
        .unwrap_or_else(|| content_type::for_key(&key));
    let meta = fields
        .iter()
        .filter_map(|f| {
            let name = f.name.strip_prefix("x-qn-meta-")?;
            Some((
                name.to_owned(),
                String::from_utf8_lossy(&f.data).into_owned(),
            ))
        })
        .collect();
    let object = Object {
        md5: Some(md5_hex(&file.data)),
        data: file.data.clone(),
        hash: hash.clone(),
        mime,
        put_time: put_time(state),
        meta,
    };
    bucket.objects.insert(key.clone(), object);
    Ok(reply(200, json!({ "hash": hash, "key": key })))
}

/// A form upload's optional `crc32` field (decimal CRC-32 of the file), checked like Qiniu
/// does: 406 when it differs.
fn check_crc32(sent: Option<&str>, data: &[u8]) -> Result<()> {
    let Some(sent) = sent else { return Ok(()) };
    let expected: u32 = sent
        .trim()
        .parse()
        .map_err(|_| error(400, "crc32 must be a decimal number"))?;
    if crc32fast::hash(data) != expected {
        return Err(error(406, "crc32 not match"));
    }
    Ok(())
}

/// `/buckets/<bucket>/objects/<urlsafe_b64(key) | ~>/uploads[/<id>[/<partNumber>]]`
fn resumable(state: &State, req: &Req) -> Result<Answer> {
    let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let (bucket_name, encoded_key) = match segs.as_slice() {
        ["buckets", b, "objects", k, "uploads", ..] => (*b, *k),
        _ => return Err(error(404, "no such api")),
    };
    let token = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("UpToken "));
    let grant = upload_grant(state, token)?;
    if grant.bucket != bucket_name {
        return Err(error(403, "bucket doesn't match with scope"));
    }
    let requested = if encoded_key == "~" {
        None
    } else {
        Some(decode_b64(encoded_key).ok_or_else(|| error(400, "invalid encoded key"))?)
    };
    let key = granted_key(&grant, requested)?;
    let mut buckets = state.buckets();
    let bucket = bucket_in_zone(&mut buckets, bucket_name, req, "up")?;
    match (&req.method, &segs[5..]) {
        (&Method::POST, []) => Ok(initiate(state, bucket, key)),
        (&Method::PUT, [id, n]) => upload_part(state, req, bucket, id, n),
        (&Method::GET, [id]) => list_parts(state, req, bucket, id),
        (&Method::POST, [id]) => complete(state, req, &grant, bucket, id),
        (&Method::DELETE, [id]) => {
            open_upload(state, bucket, id)?;
            bucket.uploads.remove(*id);
            Ok(reply(200, json!({})))
        }
        _ => Err(error(404, "no such api")),
    }
}

fn initiate(state: &State, bucket: &mut Bucket, key: Option<String>) -> Answer {
    let id = format!("kodo-upload-{}", super::random_token(24));
    let expire_at = state.now() + UPLOAD_LIFETIME;
    let upload = Upload {
        key: key.unwrap_or_default(),
        expire_at,
        parts: BTreeMap::new(),
    };
    bucket.uploads.insert(id.clone(), upload);
    reply(200, json!({ "uploadId": id, "expireAt": expire_at }))
}

/// The upload, unless unknown or expired (612 either way, as on Qiniu).
fn open_upload<'a>(state: &State, bucket: &'a mut Bucket, id: &str) -> Result<&'a mut Upload> {
    match bucket.uploads.get_mut(id) {
        Some(u) if u.expire_at >= state.now() => Ok(u),
        _ => Err(error(612, "no such uploadId")),
    }
}

fn upload_part(state: &State, req: &Req, bucket: &mut Bucket, id: &str, n: &str) -> Result<Answer> {
    let number: u32 = n
        .parse()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| error(400, "partNumber must be an integer in 1..10000"))?;
    if req.body.len() > MAX_PART {
        return Err(error(400, "part is larger than 1 GiB"));
    }
    let md5 = md5_hex(&req.body);
    if let Some(sent) = req.header("content-md5")
        && !sent.eq_ignore_ascii_case(&md5)
    {
        return Err(error(406, "content md5 not match"));
    }
    let upload = open_upload(state, bucket, id)?;
    let etag = qetag(&req.body);
    let part = Part {
        data: req.body.clone(),
        etag: etag.clone(),
        put_time: state.now(),
    };
    upload.parts.insert(number, part);
    Ok(reply(200, json!({ "etag": etag, "md5": md5 })))
}

fn list_parts(state: &State, req: &Req, bucket: &mut Bucket, id: &str) -> Result<Answer> {
    let params = req.params();
    let max = params
        .get("max-parts")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000usize)
        .clamp(1, 1000);
    let marker: u32 = params
        .get("part-number-marker") // as Qiniu documents it (kodo/6858)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let upload = open_upload(state, bucket, id)?;
    let page: Vec<(&u32, &Part)> = upload.parts.range(marker + 1..).take(max).collect();
    let next = match page.last() {
        Some((n, _)) if upload.parts.range(**n + 1..).next().is_some() => **n,
        _ => 0,
    };
    let parts: Vec<Value> = page
        .iter()
        .map(|(n, p)| json!({ "partNumber": n, "etag": p.etag, "size": p.data.len(), "putTime": p.put_time }))
        .collect();
    Ok(reply(
        200,
        json!({ "uploadId": id, "expireAt": upload.expire_at, "partNumberMarker": next, "parts": parts }),
    ))
}

fn complete(
    state: &State,
    req: &Req,
    grant: &Grant,
    bucket: &mut Bucket,
    id: &str,
) -> Result<Answer> {
    let body: Value =
        serde_json::from_slice(&req.body).map_err(|_| error(400, "invalid JSON body"))?;
    let listed = body["parts"]
        .as_array()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| error(400, "parts must not be empty"))?
        .clone();
    let upload = open_upload(state, bucket, id)?;
    let mut chosen: Vec<Bytes> = Vec::new();
    let mut last = 0u64;
    for p in &listed {
        let n = p["partNumber"].as_u64().unwrap_or(0);
        if n <= last {
            return Err(error(400, "parts must be in ascending partNumber order"));
        }
        last = n;
        let held = upload
            .parts
            .get(&(n as u32))
            .filter(|h| p["etag"].as_str() == Some(h.etag.as_str()))
            .ok_or_else(|| {
                error(
                    400,
                    &format!("invalid part {n}: not uploaded or etag differs"),
                )
            })?;
        chosen.push(held.data.clone());
    }
    if chosen[..chosen.len() - 1]
        .iter()
        .any(|d| d.len() < MIN_PART)
    {
        return Err(error(400, "every part but the last must be at least 1 MiB"));
    }
    let key = upload.key.clone();
    check_insert_only(grant, bucket, &key)?;
    let hash = qetag_v2(chosen.iter().map(|b| &b[..]));
    let data = Bytes::from(chosen.concat());
    let mime = body["mimeType"]
        .as_str()
        .or_else(|| body["mime_type"].as_str())
        .map_or_else(|| content_type::for_key(&key), str::to_owned);
    let meta = body["metadata"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix("x-qn-meta-")?.to_owned(),
                v.as_str()?.to_owned(),
            ))
        })
        .collect();
    bucket.uploads.remove(id);
    let object = Object {
        data,
        hash: hash.clone(),
        md5: None,
        mime,
        put_time: put_time(state),
        meta,
    };
    bucket.objects.insert(key.clone(), object);
    Ok(reply(200, json!({ "hash": hash, "key": key })))
}

// ---------------------------------------------------------------- rs / rsf / uc

/// `urlsafe_b64("bucket:key")` from the path after `prefix`.
fn entry(req: &Req, prefix: &str) -> Result<(String, String)> {
    let encoded = req.path.strip_prefix(prefix).unwrap_or_default();
    let encoded = encoded.split('/').next().unwrap_or_default();
    let text = decode_b64(encoded).ok_or_else(|| error(400, "invalid EncodedEntryURI"))?;
    let (b, k) = text.split_once(':').unwrap_or((&text, ""));
    Ok((b.to_owned(), k.to_owned()))
}

fn stat(state: &State, req: &Req) -> Result<Answer> {
    management_auth(state, req)?;
    let (bucket_name, key) = entry(req, "/stat/")?;
    let mut buckets = state.buckets();
    let bucket = bucket_in_zone(&mut buckets, &bucket_name, req, "rs")?;
    let o = bucket
        .objects
        .get(&key)
        .ok_or_else(|| error(612, "no such file or directory"))?;
    let mut body = json!({
        "fsize": o.data.len(), "hash": o.hash, "mimeType": o.mime, "putTime": o.put_time,
        "type": 0, "status": 0,
    });
    if let Some(md5) = &o.md5 {
        body["md5"] = json!(md5);
    }
    if !o.meta.is_empty() {
        body["x-qn-meta"] = json!(o.meta);
    }
    Ok(reply(200, body))
}

fn delete(state: &State, req: &Req) -> Result<Answer> {
    management_auth(state, req)?;
    let (bucket_name, key) = entry(req, "/delete/")?;
    let mut buckets = state.buckets();
    let bucket = bucket_in_zone(&mut buckets, &bucket_name, req, "rs")?;
    bucket
        .objects
        .remove(&key)
        .ok_or_else(|| error(612, "no such file or directory"))?;
    Ok(reply(200, json!({})))
}

/// `rsf` `/list`: keys after `marker` (an opaque `urlsafe_b64({"c":0,"k":<last key>})`).
fn list(state: &State, req: &Req) -> Result<Answer> {
    management_auth(state, req)?;
    let params = req.params();
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let limit = get("limit").parse().unwrap_or(1000usize).clamp(1, 1000);
    let prefix = get("prefix");
    let after = match get("marker").as_str() {
        "" => None,
        m => Some(
            decode_b64(m)
                .and_then(|j| serde_json::from_str::<Value>(&j).ok())
                .and_then(|v| v["k"].as_str().map(str::to_owned))
                .ok_or_else(|| error(640, "invalid marker"))?,
        ),
    };
    let mut buckets = state.buckets();
    let bucket = bucket_in_zone(&mut buckets, &get("bucket"), req, "rsf")?;
    let start = after.clone().unwrap_or_else(|| prefix.clone());
    let mut matching = bucket
        .objects
        .range(start..)
        .filter(|(k, _)| Some(*k) != after.as_ref())
        .take_while(|(k, _)| k.starts_with(&prefix));
    let page: Vec<(&String, &Object)> = matching.by_ref().take(limit).collect();
    let more = matching.next().is_some();
    let items: Vec<Value> = page
        .iter()
        .map(|(k, o)| {
            let mut item = json!({
                "key": k, "hash": o.hash, "fsize": o.data.len(), "mimeType": o.mime,
                "putTime": o.put_time, "type": 0, "status": 0,
            });
            if let Some(md5) = &o.md5 {
                item["md5"] = json!(md5);
            }
            item
        })
        .collect();
    let mut body = json!({ "items": items, "commonPrefixes": [] });
    if let (true, Some((last, _))) = (more, page.last()) {
        body["marker"] = json!(URL_SAFE.encode(json!({ "c": 0, "k": last }).to_string()));
    }
    Ok(reply(200, body))
}

/// `uc` `/v4/query?ak=&bucket=`: the bucket's zone and its hosts (here, the zone's port).
fn query(state: &State, req: &Req) -> Result<Answer> {
    let params = req.params();
    let name = params.get("bucket").cloned().unwrap_or_default();
    if params.get("ak").map(String::as_str) != Some(state.account.access_key.as_str()) {
        return Err(error(612, "app/accesskey is not found"));
    }
    let buckets = state.buckets();
    let bucket = buckets
        .get(&name)
        .ok_or_else(|| error(631, "no such bucket"))?;
    let host = state
        .zone_hosts
        .get(&bucket.zone)
        .cloned()
        .unwrap_or_else(|| req.host.clone());
    let domains = json!({ "domains": [host] });
    let hosts = json!({
        "region": bucket.zone, "ttl": 86400,
        "up": domains, "io": domains, "rs": domains, "rsf": domains, "api": domains,
        "uc": { "domains": [req.host] },
    });
    Ok(reply(200, json!({ "hosts": [hosts] })))
}

/// `uc` `/v2/domains?tbl=<bucket>`: the bucket's download domains (here one, on the
/// endpoint that was asked, with a path naming the bucket).
fn domains(state: &State, req: &Req) -> Result<Answer> {
    management_auth(state, req)?;
    let name = req.params().get("tbl").cloned().unwrap_or_default();
    if !state.buckets().contains_key(&name) {
        return Err(error(631, "no such bucket"));
    }
    Ok(reply(200, json!([format!("{}/dl/{name}", req.host)])))
}

// ---------------------------------------------------------------- io

/// `GET|HEAD /dl/<bucket>/<key>`, with `Range`, and the URL token for private buckets.
fn download(state: &State, req: &Req) -> Result<Answer> {
    let rest = &req.path["/dl/".len()..];
    let (bucket_name, raw_key) = rest.split_once('/').unwrap_or((rest, ""));
    let key = percent_encoding::percent_decode_str(raw_key)
        .decode_utf8()
        .map_err(|_| error(400, "key is not UTF-8"))?
        .into_owned();
    let buckets = state.buckets();
    let bucket = buckets
        .get(bucket_name)
        .ok_or_else(|| error(631, "no such bucket"))?;
    if bucket.private {
        let url = format!("http://{}{}", req.host, req.path_and_query());
        state
            .account
            .verify_download(&url, state.now())
            .map_err(|e| error(401, e.message()))?;
    }
    let o = bucket
        .objects
        .get(&key)
        .ok_or_else(|| error(404, "Document not found"))?;
    let len = o.data.len();
    let (status, range) = match req.header("range").map(|r| byte_range(r, len)) {
        None => (200, 0..len),
        Some(Some((a, b))) => (206, a..b + 1),
        Some(None) => return Err(error(416, "requested range not satisfiable")),
    };
    let mut resp = Response::builder()
        .status(status)
        .header("content-type", &o.mime)
        .header("etag", format!("\"{}\"", o.hash))
        .header("accept-ranges", "bytes")
        .header("access-control-allow-origin", "*")
        .header("x-reqid", request_id());
    if status == 206 {
        resp = resp.header(
            "content-range",
            format!("bytes {}-{}/{len}", range.start, range.end - 1),
        );
    }
    let body = if req.method == Method::HEAD {
        resp = resp.header("content-length", range.len());
        Bytes::new()
    } else {
        o.data.slice(range)
    };
    Ok(resp
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` within `len`, inclusive.
fn byte_range(spec: &str, len: usize) -> Option<(usize, usize)> {
    let (a, b) = spec.strip_prefix("bytes=")?.split_once('-')?;
    let last = len.checked_sub(1)?;
    let (a, b) = match (a, b) {
        ("", n) => (len.saturating_sub(n.parse().ok()?), last),
        (a, "") => (a.parse().ok()?, last),
        (a, b) => (a.parse().ok()?, b.parse::<usize>().ok()?.min(last)),
    };
    (a <= b).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(byte_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=95-200", 100), Some((95, 99)));
        assert_eq!(byte_range("bytes=100-", 100), None);
        assert_eq!(byte_range("bytes=0-0", 0), None);
    }
}
