//! What proves a landing on GCS and what does not, composed uploads, resume, and answers
//! that are not GCS's (through the fault proxy in front of fake-gcs-server).

use bytes::Bytes;
use stowage_core::checksum::checksum_bytes;
use stowage_core::upload::{UploadConfig, multipart_upload_file, put_file, send_parts};
use stowage_core::{ChecksumAlgo, ErrorKind, ListRequest, ObjectStore, PutBody, PutOptions};
use stowage_testkit::adapter_tests::{PAGE_TITLE, assert_unexpected_reply};
use stowage_testkit::conformance::{pseudo_random, put_one_byte};
use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};

use crate::{fake_gcs, fresh, store_at};

const SERVER: &str = "a Google Cloud Storage server";

/// An object resource for `name`, as GCS would answer an upload, with the given hashes.
fn object_reply(name: &str, size: usize, md5: Option<String>, crc32c: Option<String>) -> Fault {
    let mut doc = serde_json::json!({
        "kind": "storage#object",
        "name": name,
        "size": size.to_string(),
        "etag": "CAE=",
    });
    if let Some(m) = md5 {
        doc["md5Hash"] = m.into();
    }
    if let Some(c) = crc32c {
        doc["crc32c"] = c.into();
    }
    Fault::Status {
        status: 200,
        body: doc.to_string(),
        headers: vec![("content-type".into(), "application/json".into())],
    }
}

/// Every name in `bucket`, as the emulator lists it (the store hides parts).
async fn raw_names(bucket: &str) -> Vec<String> {
    let url = format!("{}/storage/v1/b/{bucket}/o", fake_gcs().endpoint());
    let body = reqwest::get(&url)
        .await
        .expect("list")
        .bytes()
        .await
        .expect("body");
    let doc: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let mut names: Vec<String> = doc["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn upload_of(name: &str) -> Match {
    Match::request("POST", &format!("uploadType=multipart&name={name}"))
}

fn file(dir: &std::path::Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write");
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_without_gcs_hashes_is_not_a_landing() {
    let (bucket, _) = fresh("nohash").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = pseudo_random(70_000, 3);
    let path = file(dir.path(), "seg.ts", &data);
    // A 200 with an object resource, but no md5Hash or crc32c, and nothing stored.
    let proxy = FaultProxy::start(
        fake_gcs().endpoint(),
        vec![FaultRule::new(
            upload_of("seg.ts"),
            object_reply("seg.ts", data.len(), None, None),
            Times::Always,
        )],
    )
    .expect("proxy");
    let s = store_at(proxy.endpoint(), &bucket);
    let e = put_file(
        &s,
        "seg.ts",
        &path,
        &PutOptions::default(),
        &UploadConfig::default(),
    )
    .await
    .expect_err("a reply without hashes landed");
    assert_eq!(e.kind(), &ErrorKind::NotConfirmed, "{e}");
    assert_eq!(e.key(), Some("seg.ts"));

    // An older object of the same size under the key: the HEAD shows its hashes, which are
    // not the file's.
    let direct = store_at(fake_gcs().endpoint(), &bucket);
    direct
        .put(
            "seg.ts",
            PutBody::Bytes(Bytes::from(pseudo_random(70_000, 4))),
            &PutOptions::default(),
        )
        .await
        .expect("older object");
    let e = put_file(
        &s,
        "seg.ts",
        &path,
        &PutOptions::default(),
        &UploadConfig::default(),
    )
    .await
    .expect_err("another object's hashes proved this one");
    assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_with_other_hashes_is_a_mismatch() {
    let (bucket, _) = fresh("otherhash").await;
    let other = checksum_bytes(b"2", &[ChecksumAlgo::Md5, ChecksumAlgo::Crc32c]);
    let right = checksum_bytes(b"1", &[ChecksumAlgo::Md5, ChecksumAlgo::Crc32c]);
    let cases = [
        (other.md5_base64(), other.crc32c_base64(), "md5"),
        (None, other.crc32c_base64(), "crc32c"),
        (right.md5_base64(), other.crc32c_base64(), "crc32c"),
    ];
    for (md5, crc, named) in cases {
        let proxy = FaultProxy::start(
            fake_gcs().endpoint(),
            vec![FaultRule::new(
                upload_of("a.ts"),
                object_reply("a.ts", 1, md5, crc),
                Times::Always,
            )],
        )
        .expect("proxy");
        let s = store_at(proxy.endpoint(), &bucket);
        let e = put_one_byte(&s, "a.ts")
            .await
            .expect_err("other hashes accepted");
        assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
        assert!(e.to_string().contains(named), "{e}");
        assert_eq!(e.key(), Some("a.ts"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_changed_after_hashing_are_refused() {
    let (_, s) = fresh("changed").await;
    // The caller hashed the file, then it changed (same size) before it was read to send.
    let hashed = checksum_bytes(b"old bytes", &ChecksumAlgo::ALL);
    let opts = PutOptions {
        checksums: Some(hashed),
        ..Default::default()
    };
    let e = s
        .put(
            "c.ts",
            PutBody::Bytes(Bytes::from_static(b"new bytes")),
            &opts,
        )
        .await
        .expect_err("changed bytes landed");
    // GCS refuses the upload (400, the hashes in its metadata do not match); the emulator
    // keeps it but returns the hashes of what it stored, which are not the ones sent.
    assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composed_uploads_are_proven_by_crc32c_and_leave_no_parts() {
    let (_, s) = fresh("compose").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = UploadConfig {
        multipart_threshold: 100 << 10,
        part_size: 8 << 10,
        concurrency: 4,
        ..Default::default()
    };
    // 40 parts: composed in two rounds (32 + 8, then the two).
    for (name, len) in [
        ("three.mp4", 3 * (8 << 10) + 5),
        ("forty.mp4", 40 * (8 << 10) - 7),
    ] {
        let data = pseudo_random(len, len as u64);
        let path = file(dir.path(), name, &data);
        let key = format!("rec/{name}");
        let opts = PutOptions {
            metadata: [("recorder".to_string(), "agora".to_string())].into(),
            ..Default::default()
        };
        let meta = put_file(&s, &key, &path, &opts, &cfg)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let local = checksum_bytes(&data, &[ChecksumAlgo::Crc32c]);
        assert_eq!(meta.checksums.crc32c, local.crc32c, "{name}");
        let head = s.head(&key).await.expect("head");
        assert_eq!(
            (head.size, head.checksums.crc32c),
            (len as u64, local.crc32c)
        );
        assert_eq!(head.content_type.as_deref(), Some("video/mp4"));
        assert_eq!(
            head.metadata.get("recorder").map(String::as_str),
            Some("agora")
        );
        let got = s
            .get(&key, None)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
        assert!(got[..] == data[..], "{name}: other bytes composed");
    }
    let listed = raw_names(&s.config().bucket).await;
    assert_eq!(
        listed,
        vec!["rec/forty.mp4", "rec/three.mp4"],
        "parts left behind"
    );
    assert!(
        s.list_multipart_uploads("")
            .await
            .expect("uploads")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composite_that_is_not_the_parts_is_refused() {
    let (_, s) = fresh("tamper").await;
    let upload = s
        .create_multipart("t.mp4", &PutOptions::default())
        .await
        .expect("create");
    let mut parts = Vec::new();
    for n in 1..=2 {
        let body = PutBody::Bytes(Bytes::from(pseudo_random(10_000, n.into())));
        parts.push(s.upload_part(&upload, n, body).await.expect("part"));
    }
    // The parts as another process remembered them: part 2 with another CRC-32C.
    parts[1].checksums.crc32c = parts[1].checksums.crc32c.map(|c| c ^ 1);
    let e = s
        .complete_multipart(&upload, &parts)
        .await
        .expect_err("a composite of other parts was taken");
    assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
    assert!(e.to_string().contains("parts combine to"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_upload_sends_only_the_missing_parts() {
    let (bucket, _) = fresh("resume").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = pseudo_random(5 * (16 << 10), 77);
    let path = file(dir.path(), "big.mp4", &data);
    let cfg = UploadConfig {
        multipart_threshold: 16 << 10,
        part_size: 16 << 10,
        concurrency: 2,
        part_retry: stowage_core::retry::RetryPolicy::immediate(1),
    };
    // Part 3 never gets through (the connection drops).
    let proxy = FaultProxy::start(
        fake_gcs().endpoint(),
        vec![FaultRule::new(
            Match::request("POST", "%2F00003"),
            Fault::Reset,
            Times::Always,
        )],
    )
    .expect("proxy");
    let first = store_at(proxy.endpoint(), &bucket);
    let opts = PutOptions {
        checksums: Some(checksum_bytes(
            &data,
            &stowage_core::upload::proof_algos(&first, true),
        )),
        ..Default::default()
    };
    let e = send_parts(&first, "big.mp4", &path, &opts, &cfg, None)
        .await
        .expect_err("part 3 got through");
    assert!(e.to_string().contains("left in place"), "{e}");
    let uploads = first.list_multipart_uploads("").await.expect("uploads");
    assert_eq!(uploads.len(), 1, "{uploads:?}");

    // What GCS holds: some of the parts sent before part 3 failed (one still in flight, and
    // 4 and 5, may have been cut off when it did), never part 3.
    let held: Vec<u32> = first
        .list_parts(&uploads[0])
        .await
        .expect("parts")
        .iter()
        .map(|p| p.part_number)
        .collect();
    assert!(!held.is_empty() && !held.contains(&3), "{held:?}");
    let missing: Vec<String> = (1..=5u32)
        .filter(|n| !held.contains(n))
        .map(|n| format!("%2F{n:05}"))
        .collect();

    // Another process (a store that never saw the upload) resumes it.
    proxy.set_rules(Vec::new());
    let before = proxy.recorded().len();
    let second = store_at(proxy.endpoint(), &bucket);
    let meta = multipart_upload_file(
        &second,
        "big.mp4",
        &path,
        &opts,
        &cfg,
        Some(uploads[0].clone()),
    )
    .await
    .expect("resume");
    let mut sent: Vec<String> = proxy.recorded()[before..]
        .iter()
        .filter(|r| r.target.contains("uploadType=multipart"))
        .filter_map(|r| r.target.rsplit_once("%2F").map(|(_, n)| format!("%2F{n}")))
        .collect();
    sent.sort();
    assert_eq!(sent, missing, "only the parts GCS does not hold are sent");
    assert_eq!(meta.size, data.len() as u64);
    let got = second
        .get("big.mp4", None)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert!(got[..] == data[..]);
    assert!(
        second
            .list_multipart_uploads("")
            .await
            .expect("uploads")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_are_not_gcs_are_unexpected_and_not_retried() {
    let (bucket, direct) = fresh("replies").await;
    direct
        .put(
            "there.ts",
            PutBody::Bytes(Bytes::from_static(b"x")),
            &PutOptions::default(),
        )
        .await
        .expect("put");
    let proxy = FaultProxy::start(
        fake_gcs().endpoint(),
        vec![FaultRule::new(
            upload_of("a.ts"),
            Fault::html_page(200),
            Times::Always,
        )],
    )
    .expect("proxy");
    let s = store_at(proxy.endpoint(), &bucket);
    let e = put_one_byte(&s, "a.ts").await.expect_err("a page landed");
    assert_unexpected_reply(
        &e,
        &format!("answered the upload with HTTP 200 and an HTML page titled \"{PAGE_TITLE}\""),
        SERVER,
    );
    assert_eq!(proxy.injected(0), 1, "refused, not retried");
    for (fault, what) in [
        (Fault::empty(200), "HTTP 200 and an empty body"),
        (Fault::html_page(302), "HTTP 302 and an HTML page"),
        (Fault::html_page(403), "HTTP 403 and an HTML page"),
    ] {
        proxy.set_rules(vec![FaultRule::new(
            upload_of("a.ts"),
            fault,
            Times::Always,
        )]);
        let e = put_one_byte(&s, "a.ts")
            .await
            .expect_err("not GCS, taken for it");
        assert_unexpected_reply(&e, what, SERVER);
        assert_eq!(proxy.injected(0), 1, "refused, not retried: {e}");
    }
    // Head, download and listing answered by a page.
    proxy.set_rules(vec![FaultRule::new(
        Match::request("GET", "/o/there.ts"),
        Fault::html_page(200),
        Times::Always,
    )]);
    let e = s.head("there.ts").await.expect_err("a page as metadata");
    assert_unexpected_reply(&e, "metadata read with HTTP 200", SERVER);
    let e = s
        .get("there.ts", None)
        .await
        .err()
        .expect("a page as the object");
    assert_unexpected_reply(&e, "download with HTTP 200", SERVER);
    proxy.set_rules(vec![FaultRule::new(
        Match::request("GET", "/o?"),
        Fault::html_page(200),
        Times::Always,
    )]);
    let e = s
        .list(&ListRequest::default())
        .await
        .expect_err("a page as a listing");
    assert_unexpected_reply(&e, "listing with HTTP 200", SERVER);

    // A 502 page may be a load balancer in front of GCS: retried, then stored.
    proxy.set_rules(vec![FaultRule::new(
        upload_of("a.ts"),
        Fault::html_page(502),
        Times::First(1),
    )]);
    let meta = put_one_byte(&s, "a.ts")
        .await
        .expect("a 502 page is retried");
    assert_eq!((meta.size, proxy.injected(0)), (1, 1));
}

/// A service-account key (an RSA key made here with openssl, never a real one) reaches
/// GCS as object_store's self-signed JWT: `Authorization: Bearer <jwt>` on every request,
/// signed RS256 by the key, naming the account and the cloud-platform scope. GCS takes such
/// a token without a round trip to oauth2.googleapis.com.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_key_signs_every_request() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (bucket, _) = fresh("sa").await;
    let key = crate::test_key();
    let proxy = FaultProxy::start(fake_gcs().endpoint(), Vec::new()).expect("proxy");
    let s = crate::keyed_store_at(proxy.endpoint(), &bucket);
    put_one_byte(&s, "sa.ts").await.expect("put");
    s.head("sa.ts").await.expect("head");
    let recorded = proxy.recorded();
    assert!(recorded.len() >= 2);
    let bearer: Vec<&str> = recorded
        .iter()
        .map(|r| {
            r.header("authorization")
                .expect("every request is authorised")
        })
        .collect();
    let jwt = bearer[0].strip_prefix("Bearer ").expect("a bearer token");
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT");
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("RS256"), Some("test-key-1"))
    );
    assert_eq!(claims["iss"], key.email);
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/cloud-platform"
    );
    // The signature is the key's (checked with openssl and the public half).
    let dir = tempfile::tempdir().expect("tempdir");
    let signed = dir.path().join("signed");
    let sig = dir.path().join("sig");
    std::fs::write(&signed, format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(&sig, URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    crate::openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        key.public_pem.to_str().unwrap(),
        "-signature",
        sig.to_str().unwrap(),
        signed.to_str().unwrap(),
    ]);

    // A key file that is not there is named, before any request.
    let missing = stowage_gcs::GcsConfig::new(
        &bucket,
        stowage_gcs::GcsAuth::ServiceAccountFile(dir.path().join("nope.json")),
    );
    let e = stowage_gcs::GcsStore::new(missing).expect_err("a missing key file");
    assert_eq!(e.kind(), &ErrorKind::InvalidCredentials, "{e}");
    assert!(e.to_string().contains("nope.json"), "{e}");
    assert!(
        !format!("{s:?}").contains("PRIVATE"),
        "the key is not in Debug output"
    );
    // Without a key there are no signed URLs, and the error says what would sign them.
    let anonymous = crate::store_at(fake_gcs().endpoint(), &bucket);
    let e = anonymous
        .signed_get_url("sa.ts", std::time::Duration::from_secs(60))
        .await
        .expect_err("signed without a key");
    assert_eq!(e.kind(), &ErrorKind::Unsupported, "{e}");
    assert!(
        e.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{e}"
    );
}

/// A completion sent again (its answer was lost, or another run completed it) finds the
/// object made of exactly these parts and takes it; parts that are gone otherwise are
/// `UploadNotFound`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_sent_again_finds_the_object() {
    let (_, s) = fresh("again").await;
    let upload = s
        .create_multipart("a.mp4", &PutOptions::default())
        .await
        .expect("create");
    let mut parts = Vec::new();
    for n in 1..=2 {
        let body = PutBody::Bytes(Bytes::from(pseudo_random(10_000, n.into())));
        parts.push(s.upload_part(&upload, n, body).await.expect("part"));
    }
    let first = s
        .complete_multipart(&upload, &parts)
        .await
        .expect("complete");
    let again = s
        .complete_multipart(&upload, &parts)
        .await
        .expect("completed before");
    assert_eq!(
        (again.size, again.checksums.crc32c),
        (first.size, first.checksums.crc32c)
    );

    // Another object under the key since: these parts are not what it holds.
    s.put(
        "a.mp4",
        PutBody::Bytes(Bytes::from_static(b"other")),
        &PutOptions::default(),
    )
    .await
    .expect("put");
    let e = s
        .complete_multipart(&upload, &parts)
        .await
        .expect_err("parts that are gone were taken as completed");
    // GCS answers a composition of missing sources 404 (UploadNotFound here);
    // fake-gcs-server answers 500, a server error after the retries.
    assert!(
        matches!(e.kind(), ErrorKind::UploadNotFound | ErrorKind::ServerError),
        "{e}"
    );
    let head = s.head("a.mp4").await.expect("head");
    assert_eq!(head.size, 5, "the other object is left as it is");
}
