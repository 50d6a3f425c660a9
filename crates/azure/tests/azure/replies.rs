//! Answers that are not Azure's, through the fault proxy in front of Azurite: every one is
//! an `UnexpectedReply` (never a landing, never retried), except a 5xx page, which is
//! retried like the server error it may be. Azure sends `x-ms-request-id` on every answer,
//! so an answer without any `x-ms-` header is refused whatever the operation, a HEAD's too.

use std::sync::Arc;

use bytes::Bytes;
use stowage_core::upload::{UploadConfig, put_file};
use stowage_core::{ErrorKind, ListRequest, ObjectStore, PutBody, PutOptions};
use stowage_testkit::adapter_tests::{PAGE_TITLE, assert_unexpected_reply};
use stowage_testkit::conformance::put_one_byte;
use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};

use crate::{ACCOUNT, azurite, fresh, key, store_at, stored};

const SERVER: &str = "an Azure Blob server";

fn rule(method: &str, path: &str, fault: Fault, times: Times) -> FaultRule {
    FaultRule::new(Match::request(method, path), fault, times)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_answered_by_others_are_refused_and_not_retried() {
    let (container, _) = fresh("replies-put").await;
    let proxy = FaultProxy::start(
        azurite().endpoint(),
        vec![rule("PUT", "a.ts", Fault::html_page(200), Times::Always)],
    )
    .expect("proxy");
    let s = store_at(proxy.endpoint(), ACCOUNT, &container, key());
    let e = put_one_byte(&s, "a.ts").await.expect_err("a page landed");
    assert_unexpected_reply(
        &e,
        &format!("answered HTTP 200 with an HTML page (text/html, titled \"{PAGE_TITLE}\")"),
        SERVER,
    );
    assert_eq!((e.http_status(), e.key()), (Some(200), Some("a.ts")));
    assert!(e.to_string().contains(proxy.endpoint()), "{e}");
    assert_eq!(proxy.injected(0), 1, "refused, not retried");

    let cases = [
        (
            Fault::empty(200),
            "answered HTTP 200 with an empty body and none of Azure Blob's x-ms- headers",
        ),
        (
            Fault::html_page(302),
            "answered HTTP 302, a redirect to login.portal.invalid",
        ),
        (Fault::html_page(403), "answered HTTP 403 with an HTML page"),
        (Fault::empty(201), "answered HTTP 201 with an empty body"),
    ];
    for (fault, what) in cases {
        proxy.set_rules(vec![rule("PUT", "a.ts", fault, Times::Always)]);
        let e = put_one_byte(&s, "a.ts")
            .await
            .expect_err("not Azure, taken for it");
        assert_unexpected_reply(&e, what, SERVER);
        assert_eq!(proxy.injected(0), 1, "refused, not retried: {e}");
    }
    assert_eq!(
        stored(&container, "a.ts").await,
        None,
        "nothing reached Azurite"
    );

    // A 502 page may be a load balancer in front of Azure: retried, then stored.
    proxy.set_rules(vec![rule(
        "PUT",
        "a.ts",
        Fault::html_page(502),
        Times::First(1),
    )]);
    let meta = put_one_byte(&s, "a.ts")
        .await
        .expect("a 502 page is retried");
    assert_eq!((meta.size, proxy.injected(0)), (1, 1));
    assert_eq!(stored(&container, "a.ts").await.as_deref(), Some(&b"1"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_listings_answered_by_others_are_refused() {
    let (container, direct) = fresh("replies-read").await;
    put_one_byte(&direct, "a.ts").await.expect("put");
    let proxy = FaultProxy::start(
        azurite().endpoint(),
        vec![rule("HEAD", "a.ts", Fault::html_page(200), Times::First(1))],
    )
    .expect("proxy");
    let s = store_at(proxy.endpoint(), ACCOUNT, &container, key());
    // A HEAD answered by a web server is no blob's properties (no x-ms-request-id).
    let e = s
        .head("a.ts")
        .await
        .expect_err("a page's HEAD read as the blob's");
    assert_eq!(e.kind(), &ErrorKind::UnexpectedReply, "{e}");
    assert_eq!(s.head("a.ts").await.expect("the real HEAD").size, 1);

    proxy.set_rules(vec![rule(
        "GET",
        "a.ts",
        Fault::html_page(200),
        Times::First(1),
    )]);
    let e = s
        .get("a.ts", None)
        .await
        .err()
        .expect("a page downloaded as the blob");
    assert_unexpected_reply(&e, &format!("titled \"{PAGE_TITLE}\""), SERVER);

    proxy.set_rules(vec![rule(
        "GET",
        "comp=list",
        Fault::empty(200),
        Times::First(1),
    )]);
    let e = s
        .list(&ListRequest::default())
        .await
        .expect_err("an empty 200 listed as an empty container");
    assert_unexpected_reply(&e, "answered HTTP 200 with an empty body", SERVER);
    proxy.set_rules(vec![rule(
        "GET",
        "comp=list",
        Fault::html_page(200),
        Times::First(1),
    )]);
    let e = s
        .list(&ListRequest::default())
        .await
        .expect_err("a page listed");
    assert_unexpected_reply(&e, &format!("titled \"{PAGE_TITLE}\""), SERVER);
    let page = s
        .list(&ListRequest::default())
        .await
        .expect("the real listing");
    let keys: Vec<_> = page.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["a.ts"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_and_commits_answered_by_others_are_refused() {
    let (container, _) = fresh("replies-blocks").await;
    let proxy = FaultProxy::start(
        azurite().endpoint(),
        vec![rule(
            "PUT",
            "comp=block&",
            Fault::empty(201),
            Times::First(1),
        )],
    )
    .expect("proxy");
    let s = store_at(proxy.endpoint(), ACCOUNT, &container, key());
    let opts = PutOptions::default();
    let upload = s.create_multipart("m.mp4", &opts).await.expect("create");
    let body = || PutBody::Bytes(Bytes::from_static(b"only part"));
    let e = s
        .upload_part(&upload, 1, body())
        .await
        .expect_err("an empty 201 taken for a stored block");
    assert_unexpected_reply(&e, "answered HTTP 201 with an empty body", SERVER);
    assert_eq!(e.key(), Some("m.mp4"));
    let part = s
        .upload_part(&upload, 1, body())
        .await
        .expect("the real block");

    proxy.set_rules(vec![rule(
        "PUT",
        "comp=blocklist",
        Fault::html_page(200),
        Times::Always,
    )]);
    let e = s
        .complete_multipart(&upload, std::slice::from_ref(&part))
        .await
        .expect_err("a page taken for a commit");
    assert_unexpected_reply(&e, &format!("titled \"{PAGE_TITLE}\""), SERVER);
    assert_eq!(proxy.injected(0), 1, "refused, not retried");
    assert_eq!(stored(&container, "m.mp4").await, None, "never committed");
    proxy.set_rules(vec![]);
    let meta = s
        .complete_multipart(&upload, std::slice::from_ref(&part))
        .await
        .expect("the real commit");
    assert_eq!(meta.size, 9);
}

/// The pipeline's way in (put_file + proof): an HTML 200 never counts as a landing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_never_a_landing() {
    let (container, _) = fresh("replies-proof").await;
    let proxy = FaultProxy::start(
        azurite().endpoint(),
        vec![rule("PUT", "seg.ts", Fault::html_page(200), Times::Always)],
    )
    .expect("proxy");
    let s: Arc<dyn ObjectStore> = Arc::new(store_at(proxy.endpoint(), ACCOUNT, &container, key()));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("seg.ts");
    std::fs::write(&path, b"\x47 segment").expect("write");
    let e = put_file(
        s.as_ref(),
        "seg.ts",
        &path,
        &PutOptions::default(),
        &UploadConfig::default(),
    )
    .await
    .expect_err("landed on a page");
    assert_eq!(e.kind(), &ErrorKind::UnexpectedReply, "{e}");
}
