//! Helpers the OSS and COS adapters' test files share: unique bucket names, the check that
//! a named error carries its fix and never the secret, behaviours run against any store
//! whose emulator can show the bytes it holds, and the official-SDK cross-check runner.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use stowage_core::checksum::checksum_bytes;
use stowage_core::retry::RetryPolicy;
use stowage_core::upload::{UploadConfig, multipart_upload_file};
use stowage_core::{ChecksumAlgo, Error, ErrorKind, ObjectStore, PutBody, PutOptions};

use crate::conformance::pseudo_random;
use crate::proxy::{Fault, FaultProxy, FaultRule, Match, Times};

/// `<tag>-<pid>-<n>`: a name no other test of this process (or another) uses.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Every error message names its fix and never the secret.
pub fn assert_clean(e: &Error, secret: &str, fix: &str) {
    let text = e.to_string();
    assert!(text.contains("Fix: "), "{text}");
    assert!(text.contains(fix), "expected `{fix}` in: {text}");
    assert!(!text.contains(secret), "the secret leaked: {text}");
    assert!(
        !format!("{e:?}").contains(secret),
        "the secret leaked: {e:?}"
    );
    assert!(!text.contains("<Error>"), "raw XML in: {text}");
}

/// The CRC-64/XZ of `data`, as OSS and COS return it.
pub fn crc64(data: &[u8]) -> u64 {
    checksum_bytes(data, &[ChecksumAlgo::Crc64Ecma])
        .crc64ecma
        .expect("crc64")
}

/// A put of a 150 000-byte stream and a one-part multipart upload from a stream (bodies
/// collected first: Content-MD5 goes before the body); `stored` reads what the server holds.
pub async fn stream_bodies(s: &dyn ObjectStore, stored: impl Fn(&str) -> Option<Bytes>) {
    let data = pseudo_random(150_000, 9);
    let stream = |d: Vec<u8>| PutBody::Stream {
        len: d.len() as u64,
        stream: Box::pin(futures::stream::iter(
            d.chunks(10_000)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect::<Vec<std::io::Result<Bytes>>>(),
        )),
    };
    s.put("s.ts", stream(data.clone()), &PutOptions::default())
        .await
        .expect("put stream");
    assert_eq!(stored("s.ts").as_deref(), Some(&data[..]));
    let upload = s
        .create_multipart("m.mp4", &PutOptions::default())
        .await
        .expect("create");
    let part = s
        .upload_part(&upload, 1, stream(data.clone()))
        .await
        .expect("part");
    assert_eq!(part.size, data.len() as u64);
    s.complete_multipart(&upload, &[part])
        .await
        .expect("complete");
    assert_eq!(stored("m.mp4").as_deref(), Some(&data[..]));
}

/// What an official SDK cross-check needs: its script under `tests/sdk/`, the environment
/// it reads, and what to install when the SDK is missing.
pub struct SdkScript<'a> {
    pub script: &'a str,
    pub env: Vec<(&'static str, String)>,
    pub missing: &'a str,
}

/// Stowage uploads one small object and one of `parts` parts of `part_size` (plus a short
/// tail) to `s`; returns the `key=crc` pairs the SDK script checks.
pub async fn upload_with_stowage(
    s: &dyn ObjectStore,
    scratch: &Path,
    part_size: usize,
    parts: usize,
) -> String {
    let small = pseudo_random(150_000, 31);
    s.put(
        "stowage/small.ts",
        PutBody::Bytes(Bytes::from(small.clone())),
        &PutOptions::default(),
    )
    .await
    .expect("stowage put");
    let big = pseudo_random(parts * part_size + 77, 32);
    let path = scratch.join("stowage-big.mp4");
    std::fs::write(&path, &big).expect("write");
    let cfg = UploadConfig {
        multipart_threshold: part_size as u64,
        part_size: part_size as u64,
        concurrency: 3,
        part_retry: RetryPolicy::immediate(2),
    };
    multipart_upload_file(
        s,
        "stowage/big.mp4",
        &path,
        &PutOptions::default(),
        &cfg,
        None,
    )
    .await
    .expect("stowage multipart");
    format!(
        "stowage/small.ts={},stowage/big.mp4={}",
        crc64(&small),
        crc64(&big)
    )
}

/// `key=crc64=url`: a presigned URL for the first of the `objects`
/// [`upload_with_stowage`] uploaded (`key=crc64,…`), for the SDK script to fetch.
pub async fn presigned_first(s: &dyn ObjectStore, objects: &str) -> String {
    let first = objects.split(',').next().expect("an object");
    let (key, _) = first.rsplit_once('=').expect("key=crc");
    let url = s
        .signed_get_url(key, std::time::Duration::from_secs(600))
        .await
        .expect("presign");
    format!("{first}={url}")
}

/// Runs the SDK script with python3; its last stdout line is its JSON result.
pub fn run_sdk_script(sdk: &SdkScript<'_>) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sdk")
        .join(sdk.script);
    let out = Command::new("python3")
        .arg(&script)
        .envs(sdk.env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!("{} (scripts/test installs it)\n{stderr}", sdk.missing);
    }
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!("the cross-check printed no JSON result ({e}); status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status)
    })
}

/// Every SDK check passed (at least `min_checks` ran), and Stowage reads the
/// `sdk_objects` objects the SDK uploaded with the CRC-64 the SDK computed.
pub async fn check_sdk_result(
    s: &dyn ObjectStore,
    result: &serde_json::Value,
    min_checks: usize,
    sdk_objects: usize,
) {
    let checks = result["checks"].as_array().expect("checks");
    let failed: Vec<_> = checks.iter().filter(|c| c["ok"] != true).collect();
    assert!(failed.is_empty(), "SDK checks failed: {failed:#?}");
    assert!(
        checks.len() >= min_checks,
        "too few checks ran: {checks:#?}"
    );
    assert_eq!(result["ok"], true);

    let objects = result["sdk_objects"].as_object().expect("sdk_objects");
    assert_eq!(objects.len(), sdk_objects);
    for (key, want) in objects {
        let want = want.as_u64().expect("crc");
        let head = s.head(key).await.expect("head SDK object");
        assert_eq!(head.checksums.crc64ecma, Some(want), "{key}");
        let data = s
            .get(key, None)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("read");
        assert_eq!(crc64(&data), want, "{key}");
    }
}

/// A store built with the wrong secret is refused as a signature mismatch, and the error
/// does not repeat the secret.
pub async fn assert_wrong_secret_refused(s: &dyn ObjectStore, wrong: &str) {
    let e = s
        .head("sdk/small.ts")
        .await
        .expect_err("wrong secret accepted");
    assert_eq!(e.kind(), &ErrorKind::SignatureMismatch, "{e}");
    assert!(!e.to_string().contains(wrong));
}

/// A 503 and a reset on UploadPart (through the fault proxy in front of `upstream`) are
/// retried; the object arrives intact with the parts' combined CRC-64. `build` makes the
/// store for an endpoint; `stored` reads what the server holds.
pub async fn part_faults_are_retried<S: ObjectStore>(
    upstream: &str,
    build: impl FnOnce(&str) -> S,
    stored: impl Fn(&str) -> Option<Bytes>,
) {
    let rules = vec![
        FaultRule::new(
            Match::request("PUT", "partNumber=2"),
            Fault::s3_error(503, "ServiceUnavailable", "Please retry."),
            Times::First(1),
        ),
        FaultRule::new(
            Match::request("PUT", "partNumber=3"),
            Fault::Reset,
            Times::First(1),
        ),
    ];
    let proxy = FaultProxy::start(upstream, rules).expect("proxy");
    let s = build(proxy.endpoint());
    let data = pseudo_random(3 * (1 << 20) + 99, 4);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.mp4");
    std::fs::write(&path, &data).expect("write");
    let cfg = UploadConfig {
        multipart_threshold: 1 << 20,
        part_size: 1 << 20,
        concurrency: 2,
        part_retry: RetryPolicy::immediate(1),
    };
    let meta = multipart_upload_file(&s, "big.mp4", &path, &PutOptions::default(), &cfg, None)
        .await
        .expect("multipart through faults");
    assert_eq!(meta.size, data.len() as u64);
    assert_eq!(proxy.injected(0), 1, "the 503 was injected");
    assert_eq!(proxy.injected(1), 1, "the reset was injected");
    assert_eq!(stored("big.mp4").as_deref(), Some(&data[..]));
    let local = checksum_bytes(&data, &[ChecksumAlgo::Crc64Ecma]);
    assert_eq!(meta.checksums.crc64ecma, local.crc64ecma, "combined CRC");
}

/// How a vendor's answers look where the CRC-64 checks are tested through the fault proxy.
#[derive(Debug, Clone, Copy)]
pub struct CrcAnswers {
    /// The header carrying the server's CRC-64 (`x-oss-hash-crc64ecma`).
    pub crc_header: &'static str,
    /// A multipart ETag in the vendor's case (`"…-2"`).
    pub multipart_etag: &'static str,
    /// A part size the vendor accepts for a part but the last.
    pub part_size: usize,
}

impl CrcAnswers {
    /// A 200 answer with `crc` as the server's CRC-64 and `body`.
    fn canned(&self, crc: &str, body: &str) -> Fault {
        Fault::Status {
            status: 200,
            body: body.to_string(),
            headers: vec![
                (self.crc_header.into(), crc.into()),
                ("etag".into(), self.multipart_etag.into()),
            ],
        }
    }
}

/// A server that stores other bytes than were sent is caught by the CRC check. `build`
/// makes a store (one attempt per request) for an endpoint.
pub async fn wrong_crc_is_a_checksum_mismatch<S: ObjectStore>(
    upstream: &str,
    answers: CrcAnswers,
    build: impl FnOnce(&str) -> S,
) {
    let fault = Fault::Status {
        status: 200,
        body: String::new(),
        headers: vec![
            (answers.crc_header.into(), "12345".into()),
            ("etag".into(), "\"ABC\"".into()),
        ],
    };
    let rules = vec![FaultRule::new(
        Match::request("PUT", "bad.ts"),
        fault,
        Times::Always,
    )];
    let proxy = FaultProxy::start(upstream, rules).expect("proxy");
    let s = build(proxy.endpoint());
    let e = crate::conformance::put_one_byte(&s, "bad.ts")
        .await
        .expect_err("wrong CRC accepted");
    assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
    assert_eq!(e.key(), Some("bad.ts"));
}

/// A part whose returned CRC differs from the bytes sent is refused.
pub async fn wrong_part_crc_is_a_checksum_mismatch<S: ObjectStore>(
    upstream: &str,
    answers: CrcAnswers,
    build: impl FnOnce(&str) -> S,
) {
    let rules = vec![FaultRule::new(
        Match::request("PUT", "partNumber=1"),
        answers.canned("42", ""),
        Times::Always,
    )];
    let proxy = FaultProxy::start(upstream, rules).expect("proxy");
    let s = build(proxy.endpoint());
    let upload = s
        .create_multipart("m.mp4", &PutOptions::default())
        .await
        .expect("create");
    let body = PutBody::Bytes(Bytes::from(pseudo_random(answers.part_size, 1)));
    let e = s
        .upload_part(&upload, 1, body)
        .await
        .expect_err("wrong part CRC accepted");
    assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
    assert!(e.to_string().contains("part 1"), "{e}");
}

/// The completed object's CRC must be the parts' CRCs combined; without the fault, the
/// real completion passes the same check.
pub async fn wrong_completed_crc_is_a_checksum_mismatch<S: ObjectStore>(
    upstream: &str,
    answers: CrcAnswers,
    build: impl FnOnce(&str) -> S,
) {
    let proxy = FaultProxy::start(upstream, vec![]).expect("proxy");
    let s = build(proxy.endpoint());
    let upload = s
        .create_multipart("m.mp4", &PutOptions::default())
        .await
        .expect("create");
    let mut parts = Vec::new();
    for n in 1..=2 {
        let body = PutBody::Bytes(Bytes::from(pseudo_random(answers.part_size, n.into())));
        parts.push(s.upload_part(&upload, n, body).await.expect("part"));
    }
    let body = "<?xml version=\"1.0\"?><CompleteMultipartUploadResult><Bucket>b</Bucket><Key>m.mp4</Key><ETag>\"X-2\"</ETag></CompleteMultipartUploadResult>";
    proxy.set_rules(vec![FaultRule::new(
        Match::request("POST", "uploadId="),
        answers.canned("7", body),
        Times::Always,
    )]);
    let e = s
        .complete_multipart(&upload, &parts)
        .await
        .expect_err("wrong combined CRC accepted");
    assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
    assert!(e.to_string().contains("parts combine to"), "{e}");

    proxy.set_rules(vec![]);
    let meta = s
        .complete_multipart(&upload, &parts)
        .await
        .expect("complete");
    let mut whole = pseudo_random(answers.part_size, 1);
    whole.extend(pseudo_random(answers.part_size, 2));
    let local = checksum_bytes(&whole, &[ChecksumAlgo::Crc64Ecma]);
    assert_eq!(meta.checksums.crc64ecma, local.crc64ecma);
}

/// What an unexpected-reply error must say: the kind (not retried), `what` came back, that
/// the endpoint is not `server` (`an OSS server`), the endpoint's fix, and none of the page.
pub fn assert_unexpected_reply(e: &Error, what: &str, server: &str) {
    assert_eq!(e.kind(), &ErrorKind::UnexpectedReply, "{e}");
    assert!(!e.is_retryable(), "{e}");
    let text = e.to_string();
    assert!(text.contains(what), "expected `{what}` in: {text}");
    assert!(text.contains(&format!("not {server}")), "{text}");
    assert!(
        text.contains("Fix: the endpoint answered with something other than the storage API"),
        "{text}"
    );
    for page in [
        "<",
        "DOCTYPE",
        "Welcome to Guest",
        "accept the terms",
        "continue=1",
    ] {
        assert!(!text.contains(page), "{page:?} of the page in: {text}");
    }
}

/// The title of [`Fault::html_page`]'s page, as errors quote it.
pub const PAGE_TITLE: &str = "Guest Wi-Fi - Sign in to continue";

/// Uploads answered by something else than the vendor, through the fault proxy in front of
/// `upstream`: an HTML page (200), an empty 200 with none of the vendor's headers, a
/// redirect to a login page, a 403 page are each refused at once (one request each, not
/// retried) and nothing is stored; a 502 page is the server error it looks like, retried.
/// `build` makes a store (with retries) for an endpoint; `stored` reads the server.
pub async fn uploads_answered_by_others_are_unexpected<S: ObjectStore>(
    upstream: &str,
    server: &str,
    build: impl Fn(&str) -> S,
    stored: impl Fn(&str) -> Option<Bytes>,
) {
    let page = FaultRule::new(
        Match::request("PUT", "a.ts"),
        Fault::html_page(200),
        Times::Always,
    );
    let proxy = FaultProxy::start(upstream, vec![page]).expect("proxy");
    let s = build(proxy.endpoint());
    let e = crate::conformance::put_one_byte(&s, "a.ts")
        .await
        .expect_err("a page taken for an upload");
    let page = format!("answered HTTP 200 with an HTML page (text/html, titled \"{PAGE_TITLE}\")");
    assert_unexpected_reply(&e, &page, server);
    let endpoint = format!("the endpoint {}", proxy.endpoint());
    assert!(e.to_string().contains(&endpoint), "{e}");
    assert_eq!((e.http_status(), e.key()), (Some(200), Some("a.ts")));
    assert!(e.bucket().is_some(), "{e}");
    assert_eq!(proxy.injected(0), 1, "refused, not retried");

    let cases = [
        (
            Fault::empty(200),
            "answered the upload with HTTP 200 and none of",
        ),
        (
            Fault::html_page(302),
            "answered HTTP 302, a redirect to login.portal.invalid (a login page?)",
        ),
        (Fault::html_page(403), "answered HTTP 403 with an HTML page"),
    ];
    for (fault, what) in cases {
        proxy.set_rules(vec![FaultRule::new(
            Match::request("PUT", "a.ts"),
            fault,
            Times::Always,
        )]);
        let e = crate::conformance::put_one_byte(&s, "a.ts")
            .await
            .expect_err("not the vendor, taken for it");
        assert_unexpected_reply(&e, what, server);
        assert_eq!(proxy.injected(0), 1, "refused, not retried: {e}");
    }
    assert_eq!(stored("a.ts"), None, "nothing reached the server");

    proxy.set_rules(vec![FaultRule::new(
        Match::request("PUT", "a.ts"),
        Fault::html_page(502),
        Times::First(1),
    )]);
    let meta = crate::conformance::put_one_byte(&s, "a.ts")
        .await
        .expect("a 502 page is retried");
    assert_eq!((meta.size, proxy.injected(0)), (1, 1));
    assert_eq!(stored("a.ts").as_deref(), Some(&b"1"[..]));
}

/// A listing answered with an empty 200 or an HTML page is no listing (and no empty
/// bucket); the real one, asked again, lists the object. `build` makes a store for an
/// endpoint, with an object `a.ts` already stored behind it.
pub async fn listings_answered_by_others_are_unexpected<S: ObjectStore>(
    upstream: &str,
    server: &str,
    build: impl Fn(&str) -> S,
) {
    let empty = FaultRule::new(
        Match::request("GET", "max-keys="),
        Fault::empty(200),
        Times::First(1),
    );
    let proxy = FaultProxy::start(upstream, vec![empty]).expect("proxy");
    let s = build(proxy.endpoint());
    let request = stowage_core::ListRequest::default();
    let e = s.list(&request).await.expect_err("an empty 200 listed");
    assert_unexpected_reply(&e, "with HTTP 200 and an empty body", server);
    assert!(e.to_string().contains("answer is not"), "{e}");
    assert_eq!(proxy.injected(0), 1);

    proxy.set_rules(vec![FaultRule::new(
        Match::request("GET", "max-keys="),
        Fault::html_page(200),
        Times::First(1),
    )]);
    let e = s.list(&request).await.expect_err("a page listed");
    assert_unexpected_reply(&e, &format!("titled \"{PAGE_TITLE}\""), server);
    let page = s.list(&request).await.expect("the real listing");
    let keys: Vec<_> = page.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["a.ts"]);
}

/// A multipart upload whose initiation is answered empty, or whose completion is answered
/// by an HTML page, fails as an unexpected reply; the object is not stored. `build` makes a
/// store for an endpoint; `stored` reads the server.
pub async fn multipart_answered_by_others_is_unexpected<S: ObjectStore>(
    upstream: &str,
    server: &str,
    build: impl Fn(&str) -> S,
    stored: impl Fn(&str) -> Option<Bytes>,
) {
    let empty = FaultRule::new(
        Match::request("POST", "uploads"),
        Fault::empty(200),
        Times::First(1),
    );
    let proxy = FaultProxy::start(upstream, vec![empty]).expect("proxy");
    let s = build(proxy.endpoint());
    let opts = PutOptions::default();
    let e = s
        .create_multipart("m.mp4", &opts)
        .await
        .expect_err("an empty initiation");
    assert_unexpected_reply(
        &e,
        "answered InitiateMultipartUpload with HTTP 200 and an empty body",
        server,
    );
    assert_eq!(e.key(), Some("m.mp4"));

    let upload = s.create_multipart("m.mp4", &opts).await.expect("create");
    let part = PutBody::Bytes(Bytes::from_static(b"only part"));
    let part = s.upload_part(&upload, 1, part).await.expect("part");
    proxy.set_rules(vec![FaultRule::new(
        Match::request("POST", "uploadId="),
        Fault::html_page(200),
        Times::Always,
    )]);
    let e = s
        .complete_multipart(&upload, std::slice::from_ref(&part))
        .await
        .expect_err("a page taken for a completion");
    assert_unexpected_reply(&e, &format!("titled \"{PAGE_TITLE}\""), server);
    assert_eq!(e.key(), Some("m.mp4"));
    assert_eq!(proxy.injected(0), 1, "refused, not retried");
    assert_eq!(stored("m.mp4"), None, "never completed");
    proxy.set_rules(vec![]);
    s.abort_multipart(&upload).await.expect("abort");
}

/// A HEAD of an object answered by an HTML page (200): an object's content type is its
/// own, so the answer is read, not refused. It returns what the page's headers say: typed
/// `text/html`, the page's length, and no checksum, which proves nothing about any upload.
pub async fn head_answered_by_a_page<S: ObjectStore>(
    upstream: &str,
    build: impl Fn(&str) -> S,
) -> stowage_core::ObjectMeta {
    let page = FaultRule::new(
        Match::request("HEAD", "a.ts"),
        Fault::html_page(200),
        Times::Always,
    );
    let proxy = FaultProxy::start(upstream, vec![page]).expect("proxy");
    let s = build(proxy.endpoint());
    let meta = s.head("a.ts").await.expect("a 200 HEAD is read");
    assert_eq!(proxy.injected(0), 1);
    assert_eq!(
        meta.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(meta.checksums, Default::default(), "no checksum: {meta:?}");
    meta
}

/// What the presigned-URL tests of the XML vendors share: the object they sign, putting it,
/// signing it, and fetching a URL with a plain HTTP client (no credentials).
pub mod presign {
    use std::time::Duration;

    use bytes::Bytes;
    use stowage_core::{ObjectStore, PutBody, PutOptions};

    /// The key the tests sign (a space and a plus: both must be encoded).
    pub const KEY: &str = "rec/sid_cname 1+2.m3u8";
    pub const BODY: &[u8] = b"#EXTM3U\n#EXT-X-ENDLIST\n";

    /// Puts [`BODY`] at [`KEY`].
    pub async fn put_object(store: &dyn ObjectStore) {
        store
            .put(
                KEY,
                PutBody::Bytes(Bytes::from_static(BODY)),
                &PutOptions::default(),
            )
            .await
            .expect("put");
    }

    /// A URL for [`KEY`] valid for `secs`.
    pub async fn sign(store: &dyn ObjectStore, secs: u64) -> String {
        store
            .signed_get_url(KEY, Duration::from_secs(secs))
            .await
            .expect("sign")
    }

    /// GETs `url` with `client`: the status and the body as text.
    pub async fn fetch_with(client: &reqwest::Client, url: &str) -> (u16, String) {
        let reply = client.get(url).send().await.expect("GET");
        let status = reply.status().as_u16();
        (status, reply.text().await.expect("body"))
    }

    /// GETs `url` with a new client.
    pub async fn fetch(url: &str) -> (u16, String) {
        fetch_with(&reqwest::Client::new(), url).await
    }

    pub fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }
}
