//! Presigned GET URLs (`ObjectStore::signed_get_url`) on the COS emulator, which reads the
//! `q-sign-algorithm=sha1` fields from the query and checks them from Tencent's
//! documentation, independently of reqsign-tencent-cos: each URL is fetched with a plain
//! HTTP client, without credentials.

use std::time::Duration;

use bytes::Bytes;
use stowage_core::{Credentials, ErrorKind, ObjectStore, PutBody, PutOptions};
use stowage_cos::{Addressing, CosConfig, CosStore};
use stowage_testkit::adapter_tests::presign::{
    BODY, KEY, fetch, fetch_with, put_object, sign, text,
};
use stowage_testkit::cos::{CosEmulator, DEFAULT_REGION};

/// A store on a fresh bucket holding [`KEY`].
async fn stored(server: &CosEmulator, cfg: CosConfig) -> CosStore {
    server.create_bucket(&cfg.bucket);
    let store = CosStore::new(cfg).expect("store");
    put_object(&store).await;
    store
}

fn path_style(server: &CosEmulator, tag: &str) -> CosConfig {
    super::config(
        server.endpoint(),
        &super::unique_bucket(tag),
        super::good(server),
    )
}

#[tokio::test]
async fn url_serves_the_object_without_credentials() {
    let server = CosEmulator::shared();
    let cfg = path_style(server, "presign");
    let bucket = cfg.bucket.clone();
    let store = stored(server, cfg).await;
    let url = sign(&store, 600).await;
    assert!(
        url.starts_with(&format!(
            "{}/{bucket}/rec/sid_cname%201%2B2.m3u8?q-sign-algorithm=sha1&q-ak=",
            server.endpoint()
        )),
        "{url}"
    );
    assert!(url.contains("&q-header-list=host&"), "{url}");
    assert!(
        !url.contains(server.secret_key()),
        "the secret is in the URL"
    );
    assert_eq!(fetch(&url).await, (200, text(BODY)));
}

#[tokio::test]
async fn expired_url_gets_request_has_expired() {
    let server = CosEmulator::start().expect("emulator");
    let store = stored(&server, path_style(&server, "expired")).await;
    let url = sign(&store, 60).await;
    server.set_clock_offset(62);
    let (status, body) = fetch(&url).await;
    server.set_clock_offset(0);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(body.contains("Request has expired"), "{body}");
    assert_eq!(fetch(&url).await.0, 200);
}

#[tokio::test]
async fn tampered_urls_are_signature_mismatches() {
    let server = CosEmulator::shared();
    let store = stored(server, path_style(server, "tamper")).await;
    store
        .put(
            "rec/other.ts",
            PutBody::Bytes(Bytes::from_static(b"other")),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    let url = sign(&store, 600).await;
    let (_, rest) = url.split_once("q-sign-time=").unwrap();
    let (window, _) = rest.split_once('&').unwrap();
    let (start, end) = window.split_once(';').unwrap();
    let later = format!("{start};{}", end.parse::<i64>().unwrap() + 3600);
    let (_, signature) = url.split_once("q-signature=").unwrap();
    let forged = url.replace(signature, &"0".repeat(40));
    for bad in [
        url.replace("rec/sid_cname%201%2B2.m3u8", "rec/other.ts"),
        url.replace(
            &format!("q-sign-time={window}"),
            &format!("q-sign-time={later}"),
        ),
        forged,
    ] {
        assert_ne!(bad, url);
        let (status, body) = fetch(&bad).await;
        assert_eq!(status, 403, "{bad}: {body}");
        assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    }
}

#[tokio::test]
async fn sts_token_travels_in_the_query_and_is_checked() {
    let server = CosEmulator::shared();
    let sts = server.add_sts_credentials(false);
    let creds = Credentials::new(&sts.access_key, &sts.secret_key)
        .with_session_token(Some(sts.security_token.clone()));
    let cfg = super::config(server.endpoint(), &super::unique_bucket("sts"), creds);
    let store = stored(server, cfg).await;
    let url = sign(&store, 600).await;
    let parsed = reqwest::Url::parse(&url).unwrap();
    let token = parsed
        .query_pairs()
        .find(|(k, _)| k == "x-cos-security-token")
        .map(|(_, v)| v.to_string());
    assert_eq!(token.as_deref(), Some(sts.security_token.as_str()), "{url}");
    assert!(!url.contains(&sts.secret_key));
    assert_eq!(fetch(&url).await, (200, text(BODY)));
    let (without, _) = url.split_once("&x-cos-security-token=").unwrap();
    let (status, body) = fetch(without).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("InvalidToken"), "{body}");
}

/// `<bucket>.cos.<region>.myqcloud.com` hosts: the host is signed, and the URL is fetched
/// through that name (pinned to the emulator as DNS would send it to COS).
#[tokio::test]
async fn virtual_hosted_url_signs_the_bucket_host() {
    let server = CosEmulator::shared();
    let bucket = super::unique_bucket("vhost");
    let cfg = super::hosted_config(server.addr(), DEFAULT_REGION, &bucket, super::good(server));
    let store = stored(server, cfg).await;
    let url = sign(&store, 600).await;
    let host = format!("{bucket}.cos.{DEFAULT_REGION}.myqcloud.com");
    assert!(
        url.starts_with(&format!("http://{host}:{}/rec/", server.addr().port())),
        "{url}"
    );
    let client = reqwest::Client::builder()
        .resolve(&host, server.addr())
        .build()
        .unwrap();
    assert_eq!(fetch_with(&client, &url).await, (200, text(BODY)));
}

#[tokio::test]
async fn custom_domain_url_has_no_bucket_in_its_path() {
    let server = CosEmulator::start().expect("emulator");
    let host = server.addr().to_string();
    let bucket = super::unique_bucket("media");
    server.add_custom_domain(&host, &bucket);
    let mut cfg = super::config(server.endpoint(), &bucket, super::good(&server));
    cfg.addressing = Addressing::CustomDomain;
    let store = stored(&server, cfg).await;
    let url = sign(&store, 600).await;
    assert!(
        url.starts_with(&format!("http://{host}/rec/sid_cname%201%2B2.m3u8?")),
        "{url}"
    );
    assert_eq!(fetch(&url).await, (200, text(BODY)));
}

#[tokio::test]
async fn zero_lifetime_is_refused_long_ones_are_not() {
    let server = CosEmulator::shared();
    let store = CosStore::new(path_style(server, "life")).unwrap();
    let e = store.signed_get_url(KEY, Duration::ZERO).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(
        store
            .signed_get_url(KEY, Duration::from_secs(30 * 86_400))
            .await
            .is_ok()
    );
}
