//! Answers that are not Kodo's, injected by the fault proxy in front of the Kodo emulator:
//! an HTML page (a captive portal, a web server as `--endpoint`), an empty 200 where Kodo
//! sends JSON, other JSON, a login redirect followed to its page, a 4xx page. Each is an
//! `UnexpectedReply` saying what came back and that the endpoint is not a Qiniu Kodo
//! server, never the page; a 5xx page stays a retried server error. Kodo's "HEAD" is a
//! JSON call (rs stat), so a page answering it is refused like any other.

use stowage_core::{ErrorKind, ListRequest, ObjectStore, PutBody, PutOptions};
use stowage_testkit::adapter_tests::{PAGE_TITLE, assert_unexpected_reply};
use stowage_testkit::conformance::put_one_byte;
use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};

use super::{good, shared, store, unique_bucket};

const SERVER: &str = "a Qiniu Kodo server";

/// A fresh bucket, a store reaching it through a proxy applying `rules`.
async fn behind_proxy(
    tag: &str,
    rules: Vec<FaultRule>,
) -> (FaultProxy, stowage_kodo::KodoStore, String) {
    let emu = shared();
    let bucket = unique_bucket(tag);
    emu.create_bucket(&bucket, "z0");
    let proxy = FaultProxy::start(emu.endpoint(), rules).expect("proxy");
    let s = store(proxy.endpoint(), &bucket, good(emu)).await;
    (proxy, s, bucket)
}

/// A form upload answered by a page, by an empty 200, or by JSON that is not Kodo's: refused
/// at once (not retried), nothing stored.
#[tokio::test]
async fn form_uploads_answered_by_a_page_an_empty_200_or_other_json_are_unexpected() {
    let page = FaultRule::new(
        Match::request("POST", "/"),
        Fault::html_page(200),
        Times::Always,
    );
    let (proxy, s, bucket) = behind_proxy("pages", vec![page]).await;
    let e = put_one_byte(&s, "a.ts")
        .await
        .expect_err("a page taken for an upload");
    let what = format!("answered HTTP 200 with an HTML page (text/html, titled \"{PAGE_TITLE}\")");
    assert_unexpected_reply(&e, &what, SERVER);
    assert!(
        e.to_string()
            .contains(&format!("the endpoint {}", proxy.endpoint())),
        "{e}"
    );
    assert_eq!((e.key(), e.bucket()), (Some("a.ts"), Some(bucket.as_str())));
    assert_eq!(proxy.injected(0), 1, "refused, not retried");

    let other_json = Fault::Status {
        status: 200,
        body: r#"{"status":"ok","token":"s3cr3t"}"#.to_owned(),
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
    };
    let cases = [
        (
            Fault::empty(200),
            "answered form upload with HTTP 200 and an empty body: the endpoint's answer is not Qiniu Kodo's JSON",
        ),
        (
            other_json,
            "answered form upload with HTTP 200 and JSON but not the answer expected (missing field `hash`",
        ),
    ];
    for (fault, what) in cases {
        proxy.set_rules(vec![FaultRule::new(
            Match::request("POST", "/"),
            fault,
            Times::Always,
        )]);
        let e = put_one_byte(&s, "a.ts")
            .await
            .expect_err("not Kodo, taken for it");
        assert_unexpected_reply(&e, what, SERVER);
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert_eq!(proxy.injected(0), 1, "refused, not retried: {e}");
    }
    assert_eq!(
        shared().object(&bucket, "a.ts"),
        None,
        "nothing reached the server"
    );
}

/// Kodo's client follows redirects: a portal's redirect leads to its login page, which is
/// refused as the page it is. A 403 page is no Qiniu refusal; a 502 page is retried.
#[tokio::test]
async fn a_login_redirect_and_error_pages() {
    let (proxy, s, bucket) = behind_proxy("redirect", vec![]).await;
    let to_portal = Fault::Status {
        status: 302,
        body: String::new(),
        headers: vec![(
            "location".to_owned(),
            format!("{}/portal/login?continue=1", proxy.endpoint()),
        )],
    };
    proxy.set_rules(vec![
        FaultRule::new(
            Match::path("/portal/"),
            Fault::html_page(200),
            Times::Always,
        ),
        FaultRule::new(Match::request("POST", "/"), to_portal, Times::Always),
    ]);
    let e = put_one_byte(&s, "a.ts")
        .await
        .expect_err("a login page taken for an upload");
    assert_unexpected_reply(&e, "answered HTTP 200 with an HTML page", SERVER);
    assert_eq!(
        (proxy.injected(0), proxy.injected(1)),
        (1, 1),
        "followed once, then refused"
    );

    proxy.set_rules(vec![FaultRule::new(
        Match::request("POST", "/"),
        Fault::html_page(403),
        Times::Always,
    )]);
    let e = put_one_byte(&s, "a.ts").await.expect_err("a 403 page");
    assert_unexpected_reply(&e, "answered HTTP 403 with an HTML page", SERVER);
    assert_eq!(shared().object(&bucket, "a.ts"), None);

    proxy.set_rules(vec![FaultRule::new(
        Match::request("POST", "/"),
        Fault::html_page(502),
        Times::First(1),
    )]);
    let meta = put_one_byte(&s, "a.ts")
        .await
        .expect("a 502 page is retried");
    assert_eq!((meta.size, proxy.injected(0)), (1, 1));
    assert_eq!(shared().object(&bucket, "a.ts").as_deref(), Some(&b"1"[..]));
}

/// A listing answered empty or by a page is no listing (and no empty bucket); a stat
/// answered by a page is refused, not read as an object.
#[tokio::test]
async fn listings_and_stats_answered_by_others_are_unexpected() {
    let (proxy, s, _) = behind_proxy("list", vec![]).await;
    put_one_byte(&s, "a.ts").await.expect("put");
    proxy.set_rules(vec![FaultRule::new(
        Match::request("GET", "/list?"),
        Fault::empty(200),
        Times::First(1),
    )]);
    let e = s
        .list(&ListRequest::default())
        .await
        .expect_err("an empty listing");
    assert_unexpected_reply(
        &e,
        "answered rsf /list with HTTP 200 and an empty body",
        SERVER,
    );

    proxy.set_rules(vec![FaultRule::new(
        Match::request("GET", "/list?"),
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
    assert_eq!(page.objects.len(), 1);

    proxy.set_rules(vec![FaultRule::new(
        Match::request("GET", "/stat/"),
        Fault::html_page(200),
        Times::Always,
    )]);
    let e = s.head("a.ts").await.expect_err("a page read as an object");
    assert_unexpected_reply(&e, "answered HTTP 200 with an HTML page", SERVER);
    assert_eq!(e.key(), Some("a.ts"));
}

/// A resumable upload whose initiation is answered empty, or whose completion is answered
/// by a page, fails as an unexpected reply; nothing is stored.
#[tokio::test]
async fn multipart_answered_empty_or_by_a_page_is_unexpected() {
    let (proxy, s, bucket) = behind_proxy("multipart", vec![]).await;
    let opts = PutOptions::default();
    proxy.set_rules(vec![FaultRule::new(
        Match::request("POST", "/uploads"),
        Fault::empty(200),
        Times::First(1),
    )]);
    let e = s
        .create_multipart("m.mp4", &opts)
        .await
        .expect_err("an empty initiation");
    assert_unexpected_reply(
        &e,
        "answered initiate with HTTP 200 and an empty body",
        SERVER,
    );

    let upload = s.create_multipart("m.mp4", &opts).await.expect("create");
    let part = s
        .upload_part(
            &upload,
            1,
            PutBody::Bytes(bytes::Bytes::from_static(b"only part")),
        )
        .await
        .expect("part");
    let complete = format!("/uploads/{}", upload.upload_id);
    proxy.set_rules(vec![FaultRule::new(
        Match::request("POST", &complete),
        Fault::html_page(200),
        Times::Always,
    )]);
    let e = s
        .complete_multipart(&upload, std::slice::from_ref(&part))
        .await
        .expect_err("a page taken for a completion");
    assert_unexpected_reply(&e, &format!("titled \"{PAGE_TITLE}\""), SERVER);
    assert_eq!(e.kind(), &ErrorKind::UnexpectedReply);
    assert_eq!(proxy.injected(0), 1, "refused, not retried");
    assert_eq!(shared().object(&bucket, "m.mp4"), None, "never completed");
    proxy.set_rules(vec![]);
    s.abort_multipart(&upload).await.expect("abort");
}
