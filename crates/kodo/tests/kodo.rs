//! The Kodo store on the Kodo emulator over real sockets: the conformance and credential
//! suites, then what is Kodo's own: expired tokens, the wrong zone, zone discovery,
//! qetags in listings, signed download URLs, and faults on resumable parts. Modules: the
//! emulator's own rules (`emulator`), answers that are not Kodo's (`replies`), and Qiniu's
//! official SDK against it (`sdk_crosscheck`).

#[path = "kodo/emulator.rs"]
mod emulator;
#[path = "kodo/replies.rs"]
mod replies;
#[path = "kodo/sdk_crosscheck.rs"]
mod sdk_crosscheck;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use stowage_core::checksum::checksum_bytes;
use stowage_core::retry::RetryPolicy;
use stowage_core::upload::{UploadConfig, multipart_upload_file};
use stowage_core::{ChecksumAlgo, Credentials, ErrorKind, ObjectStore, PutBody, PutOptions};
use stowage_kodo::{KodoConfig, KodoStore};
use stowage_testkit::conformance::{Harness, pseudo_random, put_one_byte};
use stowage_testkit::kodo::{KodoEmulator, qiniu_error};
use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};

fn shared() -> &'static KodoEmulator {
    static EMU: OnceLock<KodoEmulator> = OnceLock::new();
    EMU.get_or_init(|| KodoEmulator::start().expect("start the Kodo emulator"))
}

/// A bucket name no other test uses.
fn unique_bucket(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn config(endpoint: &str, bucket: &str, creds: Credentials) -> KodoConfig {
    let mut cfg = KodoConfig::new(bucket);
    cfg.endpoint = Some(endpoint.to_owned());
    cfg.credentials = Some(creds);
    cfg.https = false;
    cfg
}

async fn store(endpoint: &str, bucket: &str, creds: Credentials) -> KodoStore {
    KodoStore::new(config(endpoint, bucket, creds))
        .await
        .unwrap_or_else(|e| panic!("open kodo store: {e}"))
}

fn good(emu: &KodoEmulator) -> Credentials {
    Credentials::new(emu.access_key(), emu.secret_key())
}

async fn harness() -> Harness {
    let emu = shared();
    let bucket = unique_bucket("kodo");
    emu.create_bucket(&bucket, "z0");
    let s = store(emu.endpoint(), &bucket, good(emu)).await;
    let missing = store(emu.endpoint(), "no-such-bucket", good(emu)).await;
    let mut h = Harness::new(Arc::new(s), Arc::new(missing));
    let wrong_secret = "wrong-secret-0123456789";
    let wrong = store(
        emu.endpoint(),
        &bucket,
        Credentials::new(emu.access_key(), wrong_secret),
    )
    .await;
    h.wrong_secret = Some((Arc::new(wrong), wrong_secret.to_owned()));
    let unknown = store(
        emu.endpoint(),
        &bucket,
        Credentials::new("AKUNKNOWN", "whatever"),
    )
    .await;
    h.unknown_key = Some(Arc::new(unknown));
    h
}

stowage_testkit::conformance_suite!(harness);
stowage_testkit::credential_suite!(harness);

fn bytes(data: &[u8]) -> PutBody {
    PutBody::Bytes(Bytes::copy_from_slice(data))
}

fn assert_no_secret(e: &stowage_core::Error, secret: &str) {
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(secret), "the secret leaked: {text}");
    }
}

#[tokio::test]
async fn expired_upload_token_is_invalid_credentials_with_the_fix() {
    let emu = KodoEmulator::start().unwrap();
    emu.create_bucket("rec", "z0");
    let s = store(emu.endpoint(), "rec", good(&emu)).await;
    put_one_byte(&s, "before.ts").await.unwrap();
    // The server's clock runs two hours ahead: every one-hour token is already expired.
    emu.advance_clock(7200);
    let e = put_one_byte(&s, "a.ts")
        .await
        .expect_err("expired token accepted");
    assert_eq!(e.kind(), &ErrorKind::InvalidCredentials, "{e}");
    assert_eq!((e.http_status(), e.vendor_code()), (Some(401), Some("401")));
    let text = e.to_string();
    assert!(
        text.contains("token out of date") && text.contains("clock"),
        "{text}"
    );
    assert!(
        text.contains("Fix:") && text.contains("key `a.ts`"),
        "{text}"
    );
    assert!(
        e.request_id().is_some_and(|id| id.starts_with("kodo-emu-")),
        "{e}"
    );
    assert_no_secret(&e, emu.secret_key());
    // A signed download URL expires the same way.
    let err = s
        .get("before.ts", None)
        .await
        .err()
        .expect("expired URL accepted");
    assert_eq!(err.kind(), &ErrorKind::InvalidCredentials, "{err}");
    assert_no_secret(&err, emu.secret_key());
}

/// A store pointed at another zone's hosts (a wrong `--region`, the FAQ's most common cause
/// of lost uploads): Qiniu answers "incorrect region", `uc` names the bucket's zone, and the
/// store moves there once, so the object lands and later requests go straight there.
#[tokio::test]
async fn a_wrong_zone_is_followed_to_the_bucket_zone() {
    let emu = shared();
    let bucket = unique_bucket("zone");
    emu.create_bucket(&bucket, "z2");
    let z0 = emu.zone_endpoint("z0").unwrap();
    let s = store(z0, &bucket, good(emu)).await;
    let meta = put_one_byte(&s, "a.ts").await.expect("followed to z2");
    assert_eq!(meta.size, 1);
    assert_eq!(s.head("a.ts").await.unwrap().size, 1);
    let z2 = emu.zone_endpoint("z2").unwrap();
    assert!(format!("{s:?}").contains(z2), "hosts now z2's: {s:?}");
}

#[tokio::test]
async fn zone_and_hosts_are_discovered_through_uc() {
    let emu = shared();
    let bucket = unique_bucket("discover");
    emu.create_bucket(&bucket, "na0");
    let mut cfg = config(emu.endpoint(), &bucket, good(emu));
    cfg.endpoint = None;
    cfg.uc_host = emu.endpoint().to_owned();
    let s = KodoStore::new(cfg).await.unwrap();
    assert_eq!(s.bucket_zone().await.unwrap(), "na0");
    let as_trait: &dyn stowage_core::ObjectStore = &s;
    assert_eq!(
        as_trait.bucket_region().await.unwrap().as_deref(),
        Some("na0")
    );
    // Uploads now go to na0's own hosts, which refuse buckets of other zones.
    let meta = put_one_byte(&s, "x.ts").await.unwrap();
    assert_eq!(meta.size, 1);
    assert_eq!(emu.object(&bucket, "x.ts").as_deref(), Some(&b"1"[..]));

    let mut missing = config(emu.endpoint(), "no-such-bucket", good(emu));
    missing.endpoint = None;
    missing.uc_host = emu.endpoint().to_owned();
    let e = KodoStore::new(missing)
        .await
        .expect_err("found a missing bucket");
    assert_eq!(e.kind(), &ErrorKind::BucketNotFound, "{e}");
    assert_eq!(e.vendor_code(), Some("631"));
    assert!(e.to_string().contains("check the bucket name"), "{e}");
}

#[tokio::test]
async fn listing_carries_each_objects_qetag() {
    let emu = shared();
    let bucket = unique_bucket("list");
    emu.create_bucket(&bucket, "z0");
    let s: Arc<dyn ObjectStore> = Arc::new(store(emu.endpoint(), &bucket, good(emu)).await);
    let bodies = [pseudo_random(10, 1), pseudo_random(5 << 20, 2)];
    for (i, b) in bodies.iter().enumerate() {
        s.put(&format!("seg/{i}.ts"), bytes(b), &PutOptions::default())
            .await
            .unwrap();
    }
    let listed = s.list_all("seg/").await.unwrap();
    assert_eq!(listed.len(), 2);
    for (meta, body) in listed.iter().zip(&bodies) {
        let local = checksum_bytes(body, &[ChecksumAlgo::Qetag]);
        assert_eq!(meta.checksums.qetag, local.qetag, "{}", meta.key);
        assert_eq!(meta.size, body.len() as u64);
    }
}

#[tokio::test]
async fn private_and_public_download_urls() {
    let emu = shared();
    let bucket = unique_bucket("urls");
    emu.create_bucket(&bucket, "z0");
    let s = store(emu.endpoint(), &bucket, good(emu)).await;
    s.put("a b/段.ts", bytes(b"segment"), &PutOptions::default())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let public = s.public_url("a b/段.ts").await.unwrap();
    assert!(public.ends_with("/a%20b/%E6%AE%B5.ts"), "{public}");
    assert_eq!(http.get(&public).send().await.unwrap().status(), 401);
    let private = s
        .private_url("a b/段.ts", Duration::from_secs(60))
        .await
        .unwrap();
    let resp = http.get(&private).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(&resp.bytes().await.unwrap()[..], b"segment");
    let tampered = private.replace("/a%20b/", "/a%20c/");
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 401);
    emu.set_private(&bucket, false);
    assert_eq!(http.get(&public).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn resumable_parts_survive_a_599_and_a_reset() {
    let emu = shared();
    let bucket = unique_bucket("fault");
    emu.create_bucket(&bucket, "z0");
    let rules = vec![
        FaultRule::new(
            Match::request("PUT", "/2"),
            qiniu_error(599, "server error"),
            Times::First(1),
        ),
        FaultRule::new(Match::request("PUT", "/3"), Fault::Reset, Times::First(1)),
    ];
    let proxy = FaultProxy::start(emu.endpoint(), rules).unwrap();
    let s = store(proxy.endpoint(), &bucket, good(emu)).await;
    let data = pseudo_random((3 << 20) + 77, 4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.mp4");
    std::fs::write(&path, &data).unwrap();
    let cfg = UploadConfig {
        multipart_threshold: 1 << 20,
        part_size: 1 << 20,
        concurrency: 2,
        part_retry: RetryPolicy::immediate(1),
    };
    let meta = multipart_upload_file(&s, "v.mp4", &path, &PutOptions::default(), &cfg, None)
        .await
        .unwrap_or_else(|e| panic!("multipart through faults: {e}"));
    assert_eq!((proxy.injected(0), proxy.injected(1)), (1, 1));
    assert_eq!(meta.size, data.len() as u64);
    // 1 MiB parts: Kodo's etag v2, which the store checked against the parts' qetags.
    let parts: Vec<&[u8]> = data.chunks(1 << 20).collect();
    assert_eq!(
        meta.checksums.qetag.unwrap(),
        stowage_core::checksum::qetag_v2(parts)
    );
    assert!(emu.object(&bucket, "v.mp4").unwrap()[..] == data[..]);
    assert_eq!(emu.open_uploads(&bucket), 0);
}

#[tokio::test]
async fn a_599_on_form_upload_is_retried_and_a_lasting_one_is_a_server_error() {
    let emu = shared();
    let bucket = unique_bucket("form-fault");
    emu.create_bucket(&bucket, "z0");
    let once = FaultRule::new(
        Match::request("POST", "/"),
        qiniu_error(599, "x"),
        Times::First(1),
    );
    let proxy = FaultProxy::start(emu.endpoint(), vec![once]).unwrap();
    let s = store(proxy.endpoint(), &bucket, good(emu)).await;
    put_one_byte(&s, "a.ts").await.unwrap();
    assert_eq!(proxy.injected(0), 1);
    let always = FaultRule::new(
        Match::request("POST", "/"),
        qiniu_error(599, "x"),
        Times::Always,
    );
    proxy.set_rules(vec![always]);
    let e = put_one_byte(&s, "b.ts")
        .await
        .expect_err("a lasting 599 succeeded");
    assert_eq!(e.kind(), &ErrorKind::ServerError, "{e}");
    assert!(
        e.is_retryable() && e.to_string().contains("request id stowage-proxy"),
        "{e}"
    );
}

#[tokio::test]
async fn metadata_and_md5_come_back_from_stat() {
    let emu = shared();
    let bucket = unique_bucket("meta");
    emu.create_bucket(&bucket, "z0");
    let s = store(emu.endpoint(), &bucket, good(emu)).await;
    let mut opts = PutOptions::default();
    opts.metadata.insert("session".into(), "ch1".into());
    s.put("m.ts", bytes(b"abc"), &opts).await.unwrap();
    let head = s.head("m.ts").await.unwrap();
    assert_eq!(
        head.metadata.get("session").map(String::as_str),
        Some("ch1")
    );
    assert_eq!(
        head.checksums.md5,
        checksum_bytes(b"abc", &[ChecksumAlgo::Md5]).md5
    );
}

/// An "incorrect region" answer that names no zone: the zone comes from `uc`, the store
/// follows it to the hosts `uc` gives, and the upload no longer passes the faulty hosts.
#[tokio::test]
async fn a_wrong_zone_answer_without_the_zone_is_completed_from_uc_and_followed() {
    let emu = shared();
    let bucket = unique_bucket("zone-uc");
    emu.create_bucket(&bucket, "as0");
    let rule = FaultRule::new(
        Match::request("POST", "/"),
        qiniu_error(400, "incorrect region"),
        Times::Always,
    );
    let proxy = FaultProxy::start(emu.endpoint(), vec![rule]).unwrap();
    let s = store(proxy.endpoint(), &bucket, good(emu)).await;
    put_one_byte(&s, "a.ts").await.expect("followed to as0");
    assert_eq!(
        proxy.faults_injected(),
        1,
        "one refused upload, then as0's hosts"
    );
    let as0 = emu.zone_endpoint("as0").unwrap();
    assert!(format!("{s:?}").contains(as0), "{s:?}");
    put_one_byte(&s, "b.ts").await.expect("straight to as0");
    assert_eq!(proxy.faults_injected(), 1);
}

#[tokio::test]
async fn a_truncated_file_with_known_checksums_is_refused_before_sending() {
    let emu = shared();
    let bucket = unique_bucket("trunc");
    emu.create_bucket(&bucket, "z0");
    let s = store(emu.endpoint(), &bucket, good(emu)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.ts");
    std::fs::write(&path, pseudo_random(1000, 8)).unwrap();
    let opts = PutOptions {
        checksums: Some(checksum_bytes(
            &pseudo_random(5000, 8),
            &[ChecksumAlgo::Qetag],
        )),
        ..Default::default()
    };
    let body = PutBody::File {
        path: path.clone(),
        offset: 0,
        len: 5000,
    };
    let e = s
        .put("t.ts", body, &opts)
        .await
        .expect_err("truncated file sent");
    assert_eq!(
        (e.kind(), e.key()),
        (&ErrorKind::InvalidInput, Some("t.ts")),
        "{e}"
    );
    assert!(
        e.to_string().contains("t.ts") && e.to_string().contains("truncated"),
        "{e}"
    );
    assert!(emu.object(&bucket, "t.ts").is_none());
}
