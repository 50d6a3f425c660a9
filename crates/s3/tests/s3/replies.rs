//! Answers that are not S3's, injected by the fault proxy in front of s3s: an HTML page (a
//! captive portal, a web server as `--endpoint`), an empty 200, a redirect to a login page.
//! Each is an `UnexpectedReply` naming what came back, never the page itself; S3's own
//! answers (moto's empty `text/html` 200s included, in the conformance suites) pass.

use bytes::Bytes;
use stowage_core::{Credentials, Error, ErrorKind, ListRequest, ObjectStore, PutBody, PutOptions};
use stowage_s3::{S3Config, S3Store};
use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};
use stowage_testkit::s3s_server::S3sServer;

use super::unique_bucket;

const TITLE: &str = "Guest Wi-Fi - Sign in to continue";

/// A bucket on the shared s3s server, reached through a proxy applying `rules`.
async fn behind_proxy(rules: Vec<FaultRule>, max_attempts: u32) -> (FaultProxy, S3Store, S3Store) {
    let server = S3sServer::shared();
    let bucket = unique_bucket("replies");
    server.create_bucket(&bucket).expect("create bucket");
    let proxy = FaultProxy::start(server.endpoint(), rules).expect("proxy");
    let cfg = |endpoint: &str| S3Config {
        bucket: bucket.clone(),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.to_string()),
        force_path_style: true,
        credentials: Some(Credentials::new(server.access_key(), server.secret_key())),
        profile: None,
        max_attempts,
        integrity: Default::default(),
        ca_bundle: None,
    };
    let proxied = S3Store::new(cfg(proxy.endpoint())).await.expect("store");
    let direct = S3Store::new(cfg(server.endpoint())).await.expect("store");
    (proxy, proxied, direct)
}

fn put_bytes() -> PutBody {
    PutBody::Bytes(Bytes::from_static(b"segment"))
}

/// The error is an unexpected reply, says `what`, and carries none of the page.
fn assert_unexpected(e: &Error, what: &str) {
    assert_eq!(e.kind(), &ErrorKind::UnexpectedReply, "{e}");
    assert!(!e.is_retryable(), "{e}");
    let text = e.to_string();
    assert!(text.contains(what), "{text}");
    assert!(text.contains("not an S3 server"), "{text}");
    for page_part in [
        "<",
        "DOCTYPE",
        "Welcome to Guest",
        "accept the terms",
        "continue=1",
    ] {
        assert!(!text.contains(page_part), "{page_part:?} in {text}");
    }
    assert!(
        text.contains("Fix: the endpoint answered with something other than the storage API"),
        "{text}"
    );
}

/// The SDK reads a PutObject's output from headers only: without the check, a portal's
/// 200 page was an upload that landed.
#[tokio::test]
async fn a_put_answered_by_an_html_page_is_an_unexpected_reply() {
    let rule = FaultRule::new(
        Match::request("PUT", "/"),
        Fault::html_page(200),
        Times::Always,
    );
    let (proxy, s, direct) = behind_proxy(vec![rule], 3).await;
    let e = s
        .put("a.ts", put_bytes(), &PutOptions::default())
        .await
        .unwrap_err();
    assert_unexpected(
        &e,
        &format!(
            "the endpoint {} answered HTTP 200 with an HTML page (text/html, titled \"{TITLE}\"), not an S3 reply",
            proxy.endpoint()
        ),
    );
    assert_eq!((e.http_status(), e.key()), (Some(200), Some("a.ts")));
    assert_eq!(proxy.injected(0), 1, "refused, not retried");
    let e = direct.head("a.ts").await.unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::NotFound,
        "nothing reached the server: {e}"
    );
}

/// Listings must carry S3's XML: an empty 200 or a page is no listing (and no "empty bucket").
#[tokio::test]
async fn a_listing_answered_empty_or_by_a_page_is_an_unexpected_reply() {
    let empty = FaultRule::new(
        Match::request("GET", "list-type=2"),
        Fault::empty(200),
        Times::First(1),
    );
    let (proxy, s, _) = behind_proxy(vec![empty], 3).await;
    s.put("a.ts", put_bytes(), &PutOptions::default())
        .await
        .expect("put");
    let e = s.list(&ListRequest::default()).await.unwrap_err();
    assert_unexpected(
        &e,
        "with HTTP 200 and an empty body: the endpoint's answer is not S3's XML",
    );
    assert_eq!(proxy.injected(0), 1);

    let page = FaultRule::new(
        Match::request("GET", "list-type=2"),
        Fault::html_page(200),
        Times::First(1),
    );
    proxy.set_rules(vec![page]);
    let e = s.list(&ListRequest::default()).await.unwrap_err();
    assert_unexpected(
        &e,
        &format!("with an HTML page (text/html, titled \"{TITLE}\")"),
    );
    let listed = s
        .list(&ListRequest::default())
        .await
        .expect("the real listing");
    assert_eq!(listed.objects.len(), 1);
}

/// Creating and completing a multipart upload both need S3's XML; a page is neither.
#[tokio::test]
async fn multipart_answered_by_html_pages_is_an_unexpected_reply() {
    let (proxy, s, direct) = behind_proxy(vec![], 1).await;
    let opts = PutOptions::default();
    proxy.set_rules(vec![FaultRule::new(
        Match::request("POST", "uploads"),
        Fault::html_page(200),
        Times::First(1),
    )]);
    let e = s.create_multipart("big.mp4", &opts).await.unwrap_err();
    assert_unexpected(&e, "HTTP 200 with an HTML page");
    proxy.set_rules(vec![FaultRule::new(
        Match::request("POST", "uploads"),
        Fault::empty(200),
        Times::First(1),
    )]);
    let e = s.create_multipart("big.mp4", &opts).await.unwrap_err();
    assert_unexpected(&e, "with HTTP 200 and an empty body");
    let no_id = Fault::Status {
        status: 200,
        body: "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>big.mp4</Key></InitiateMultipartUploadResult>".into(),
        headers: vec![("content-type".into(), "application/xml".into())],
    };
    proxy.set_rules(vec![FaultRule::new(
        Match::request("POST", "uploads"),
        no_id,
        Times::First(1),
    )]);
    let e = s.create_multipart("big.mp4", &opts).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::UnexpectedReply, "{e}");
    assert!(e.to_string().contains("without an upload id"), "{e}");

    let upload = s.create_multipart("big.mp4", &opts).await.expect("create");
    let part = s.upload_part(&upload, 1, put_bytes()).await.expect("part");
    proxy.set_rules(vec![FaultRule::new(
        Match::request("POST", "uploadId="),
        Fault::html_page(200),
        Times::Always,
    )]);
    let e = s.complete_multipart(&upload, &[part]).await.unwrap_err();
    assert_unexpected(&e, &format!("titled \"{TITLE}\""));
    assert_eq!(e.key(), Some("big.mp4"));
    assert_eq!(proxy.injected(0), 1);
    let e = direct.head("big.mp4").await.unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::NotFound,
        "the upload was never completed: {e}"
    );
    direct.abort_multipart(&upload).await.expect("abort");
}

/// A redirect to a login page is not S3's redirect (those carry `x-amz-` headers and name
/// the bucket's region): no region is followed, and the message names the host only.
#[tokio::test]
async fn a_redirect_to_a_login_page_is_an_unexpected_reply() {
    let rule = FaultRule::new(Match::Any, Fault::html_page(302), Times::Always);
    let (proxy, s, _) = behind_proxy(vec![rule], 3).await;
    let e = s
        .put("a.ts", put_bytes(), &PutOptions::default())
        .await
        .unwrap_err();
    assert_unexpected(
        &e,
        "answered HTTP 302, a redirect to login.portal.invalid (a login page?)",
    );
    assert_eq!(e.http_status(), Some(302));
    assert_eq!(s.region(), "us-east-1", "nothing to follow");
    assert_eq!(proxy.injected(0), 1);
}

/// A 4xx page is a proxy's refusal, not S3 denying the key: its fix is the endpoint's.
/// A 5xx page stays a server error, retried (load balancers answer those in front of S3).
#[tokio::test]
async fn client_error_pages_are_unexpected_and_server_error_pages_are_retried() {
    let forbidden = FaultRule::new(Match::Any, Fault::html_page(403), Times::Always);
    let (proxy, s, _) = behind_proxy(vec![forbidden], 2).await;
    let e = s
        .put("a.ts", put_bytes(), &PutOptions::default())
        .await
        .unwrap_err();
    assert_unexpected(&e, "answered HTTP 403 with an HTML page");

    proxy.set_rules(vec![FaultRule::new(
        Match::Any,
        Fault::html_page(502),
        Times::First(1),
    )]);
    let meta = s
        .put("a.ts", put_bytes(), &PutOptions::default())
        .await
        .expect("retried");
    assert_eq!((meta.size, proxy.injected(0)), (7, 1));
}

/// HeadObject's content type is the object's own, so a HEAD answered by a page is not
/// refused: it reads as an object of the page's length, typed text/html, with no checksum,
/// which proves no upload (a caller confirming one gets no CRC64-NVME to compare). The
/// bucket's HEAD has no such excuse: typed HTML without any `x-amz-` header, it is refused.
#[tokio::test]
async fn a_head_answered_by_a_page_has_no_checksum_and_a_bucket_head_is_refused() {
    let rule = FaultRule::new(
        Match::request("HEAD", "/"),
        Fault::html_page(200),
        Times::Always,
    );
    let (_proxy, s, _) = behind_proxy(vec![rule], 1).await;
    let meta = s
        .head("a.ts")
        .await
        .expect("a HEAD answered 200 is read, not refused");
    assert_eq!(
        meta.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        meta.checksums,
        Default::default(),
        "nothing proves an object"
    );
    assert!(meta.size > 0, "the page's length");
    let e = s.bucket_region().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::UnexpectedReply, "{e}");
    assert!(
        e.to_string()
            .contains("HTTP 200 with an HTML page (text/html)"),
        "{e}"
    );
}
