//! Presigned GET URLs (`ObjectStore::signed_get_url`) on the OSS emulator, which checks
//! query-string signatures (V4 and V1), their expiry and STS tokens from Aliyun's
//! documentation, independently of the adapter: each URL is fetched with a plain HTTP
//! client, without credentials.

use std::time::Duration;

use bytes::Bytes;
use stowage_core::{Credentials, ErrorKind, ObjectStore, PutBody, PutOptions};
use stowage_oss::{Addressing, OssConfig, OssStore, SigningVersion};
use stowage_testkit::adapter_tests::presign::{
    BODY, KEY, fetch, fetch_with, put_object, sign, text,
};
use stowage_testkit::oss::OssEmulator;

fn cfg_for(
    server: &OssEmulator,
    bucket: &str,
    creds: Credentials,
    signing: SigningVersion,
) -> OssConfig {
    let mut cfg = super::config(server.endpoint(), bucket, creds);
    cfg.signing = signing;
    cfg
}

/// A store on a fresh bucket holding [`KEY`].
async fn stored(server: &OssEmulator, cfg: OssConfig) -> OssStore {
    server.create_bucket(&cfg.bucket);
    let store = OssStore::new(cfg).expect("store");
    put_object(&store).await;
    store
}

#[tokio::test]
async fn v4_and_v1_urls_serve_the_object() {
    let server = OssEmulator::shared();
    for (signing, marker) in [
        (
            SigningVersion::V4,
            "x-oss-signature-version=OSS4-HMAC-SHA256",
        ),
        (SigningVersion::V1, "OSSAccessKeyId="),
    ] {
        let bucket = super::unique_bucket("presign");
        let store = stored(
            server,
            cfg_for(server, &bucket, super::good(server), signing),
        )
        .await;
        let url = sign(&store, 600).await;
        assert!(
            url.starts_with(&format!(
                "{}/{bucket}/rec/sid_cname%201%2B2.m3u8?",
                server.endpoint()
            )),
            "{url}"
        );
        assert!(url.contains(marker), "{url}");
        assert!(
            !url.contains(server.secret_key()),
            "the secret is in the URL"
        );
        assert_eq!(fetch(&url).await, (200, text(BODY)), "{signing:?}");
    }
}

#[tokio::test]
async fn expired_urls_get_oss_access_denied() {
    let server = OssEmulator::start().expect("emulator");
    for signing in [SigningVersion::V4, SigningVersion::V1] {
        let bucket = super::unique_bucket("expired");
        let store = stored(
            &server,
            cfg_for(&server, &bucket, super::good(&server), signing),
        )
        .await;
        let url = sign(&store, 60).await;
        server.set_clock_offset(61 + 1);
        let (status, body) = fetch(&url).await;
        server.set_clock_offset(0);
        assert_eq!(status, 403, "{signing:?}: {body}");
        assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
        assert!(body.contains("Request has expired."), "{body}");
        // Still inside its lifetime, the same URL works.
        assert_eq!(fetch(&url).await.0, 200, "{signing:?}");
    }
}

#[tokio::test]
async fn tampered_urls_are_signature_mismatches() {
    let server = OssEmulator::shared();
    for signing in [SigningVersion::V4, SigningVersion::V1] {
        let bucket = super::unique_bucket("tamper");
        let store = stored(
            server,
            cfg_for(server, &bucket, super::good(server), signing),
        )
        .await;
        store
            .put(
                "rec/other.ts",
                PutBody::Bytes(Bytes::from_static(b"other")),
                &PutOptions::default(),
            )
            .await
            .unwrap();
        let url = sign(&store, 600).await;
        let other_key = url.replace("rec/sid_cname%201%2B2.m3u8", "rec/other.ts");
        let longer = match signing {
            SigningVersion::V4 => url.replace("x-oss-expires=600", "x-oss-expires=6000"),
            SigningVersion::V1 => url
                .replace("OSSAccessKeyId=", "x=1&OSSAccessKeyId=")
                .replace("Expires=", "Expires=1"),
        };
        let forged = forge_signature(&url, "x-oss-signature=", "Signature=");
        for bad in [other_key, longer, forged] {
            assert_ne!(bad, url);
            let (status, body) = fetch(&bad).await;
            assert_eq!(status, 403, "{signing:?} {bad}: {body}");
            assert!(body.contains("SignatureDoesNotMatch"), "{body}");
        }
    }
}

/// The URL with the first character of its signature (after `v4` or else `v1`) changed.
fn forge_signature(url: &str, v4: &str, v1: &str) -> String {
    let at = url
        .find(&format!("&{v4}"))
        .map(|i| i + 1 + v4.len())
        .or_else(|| url.find(&format!("&{v1}")).map(|i| i + 1 + v1.len()))
        .expect("a signature parameter");
    let mut out = url.to_string();
    let replacement = if &url[at..at + 1] == "A" { "B" } else { "A" };
    out.replace_range(at..at + 1, replacement);
    out
}

#[tokio::test]
async fn sts_token_travels_in_the_query_and_is_checked() {
    let server = OssEmulator::shared();
    let sts = server.add_sts_credentials(false);
    for (signing, param) in [
        (SigningVersion::V4, "x-oss-security-token"),
        (SigningVersion::V1, "security-token"),
    ] {
        let creds = Credentials::new(&sts.access_key, &sts.secret_key)
            .with_session_token(Some(sts.security_token.clone()));
        let bucket = super::unique_bucket("sts");
        let store = stored(server, cfg_for(server, &bucket, creds, signing)).await;
        let url = sign(&store, 600).await;
        assert!(
            url.contains(&format!("{param}={}", sts.security_token)),
            "{url}"
        );
        assert!(!url.contains(&sts.secret_key));
        assert_eq!(fetch(&url).await, (200, text(BODY)), "{signing:?}");
        let (_, rest) = url
            .split_once(&format!("&{param}="))
            .unwrap_or_else(|| url.split_once(&format!("?{param}=")).unwrap());
        let token_and_after = rest.split_once('&').map_or(rest, |(t, _)| t);
        let without = url.replace(&format!("{param}={token_and_after}"), "");
        let (status, body) = fetch(&without).await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("InvalidSecurityToken"), "{body}");
    }
}

/// A custom domain serves `http://<domain>/<key>`; the URL is still signed for
/// `/bucket/key`, as the adapter's requests are.
#[tokio::test]
async fn custom_domain_url_has_no_bucket_in_its_path() {
    let server = OssEmulator::start().expect("emulator");
    let host = server.addr().to_string();
    server.add_custom_domain(&host, "media");
    let mut cfg = super::config(server.endpoint(), "media", super::good(&server));
    cfg.addressing = Addressing::CustomDomain;
    let store = stored(&server, cfg).await;
    let url = sign(&store, 600).await;
    assert!(
        url.starts_with(&format!("http://{host}/rec/sid_cname%201%2B2.m3u8?")),
        "{url}"
    );
    assert_eq!(fetch(&url).await, (200, text(BODY)));
}

/// Virtual-hosted addressing: `<bucket>.<endpoint host>`, reached here by resolving that
/// name to the emulator, as DNS would for the real service.
#[tokio::test]
async fn virtual_hosted_url_names_the_bucket_in_the_host() {
    let server = OssEmulator::shared();
    let bucket = super::unique_bucket("vhost");
    let port = server.addr().port();
    let mut cfg = super::config(
        &format!("http://oss-cn-hangzhou.aliyuncs.com:{port}"),
        &bucket,
        super::good(server),
    );
    cfg.addressing = Addressing::VirtualHosted;
    server.create_bucket(&bucket);
    let path_style = OssStore::new(super::config(
        server.endpoint(),
        &bucket,
        super::good(server),
    ))
    .unwrap();
    path_style
        .put(
            KEY,
            PutBody::Bytes(Bytes::from_static(BODY)),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    let store = OssStore::new(cfg).unwrap();
    let url = sign(&store, 600).await;
    let host = format!("{bucket}.oss-cn-hangzhou.aliyuncs.com");
    assert!(
        url.starts_with(&format!("http://{host}:{port}/rec/")),
        "{url}"
    );
    let client = reqwest::Client::builder()
        .resolve(&host, server.addr())
        .build()
        .unwrap();
    assert_eq!(fetch_with(&client, &url).await, (200, text(BODY)));
}

#[tokio::test]
async fn v4_lifetime_is_at_most_seven_days_v1_has_no_limit() {
    let server = OssEmulator::shared();
    let v4 = OssStore::new(cfg_for(
        server,
        "b",
        super::good(server),
        SigningVersion::V4,
    ))
    .unwrap();
    let e = v4
        .signed_get_url(KEY, Duration::from_secs(7 * 86_400 + 1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(
        e.to_string().contains("oss://b") && e.to_string().contains("7 days"),
        "{e}"
    );
    let v1 = OssStore::new(cfg_for(
        server,
        "b",
        super::good(server),
        SigningVersion::V1,
    ))
    .unwrap();
    assert!(
        v1.signed_get_url(KEY, Duration::from_secs(30 * 86_400))
            .await
            .is_ok()
    );
}
