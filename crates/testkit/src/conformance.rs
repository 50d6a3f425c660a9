//! The conformance suite: one set of behaviours every [`ObjectStore`] must have, run
//! against each backend on a real server (object_store's `integration.rs` idea).
//!
//! A backend's test file calls [`conformance_suite!`] with an async factory that returns a
//! fresh, empty [`Harness`] per test; stores with credentials also call
//! [`credential_suite!`].

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use stowage_core::checksum::{checksum_bytes, checksum_file};
use stowage_core::retry::RetryPolicy;
use stowage_core::upload::{UploadConfig, multipart_upload_file};
use stowage_core::{ChecksumAlgo, ErrorKind, ListRequest, ObjectStore, PutBody, PutOptions};

use crate::faulty::FaultyStore;

/// A fresh bucket (or directory) for one test, plus stores that must fail.
pub struct Harness {
    /// An empty bucket.
    pub store: Arc<dyn ObjectStore>,
    /// The same server, a bucket that does not exist.
    pub missing_bucket: Arc<dyn ObjectStore>,
    /// For [`credential_suite!`]: the same bucket with the right access key, wrong secret.
    pub wrong_secret: Option<(Arc<dyn ObjectStore>, String)>,
    /// For [`credential_suite!`]: the same bucket with an unknown access key.
    pub unknown_key: Option<Arc<dyn ObjectStore>>,
    /// Scratch space for local files; removed at the end of the test.
    pub scratch: tempfile::TempDir,
}

impl Harness {
    pub fn new(store: Arc<dyn ObjectStore>, missing_bucket: Arc<dyn ObjectStore>) -> Self {
        Harness {
            store,
            missing_bucket,
            wrong_secret: None,
            unknown_key: None,
            scratch: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        }
    }

    /// Writes `data` to a scratch file and returns its path.
    pub fn local_file(&self, name: &str, data: &[u8]) -> std::path::PathBuf {
        let p = self.scratch.path().join(name);
        std::fs::write(&p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

async fn get_all(store: &dyn ObjectStore, key: &str) -> Bytes {
    store
        .get(key, None)
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("read {key}: {e}"))
}

/// Stores a one-byte object at `key`: for tests where only the outcome matters.
pub async fn put_one_byte(
    store: &dyn ObjectStore,
    key: &str,
) -> stowage_core::Result<stowage_core::ObjectMeta> {
    let body = PutBody::Bytes(Bytes::from_static(b"1"));
    store.put(key, body, &PutOptions::default()).await
}

/// Defines one `#[tokio::test]` per conformance behaviour, each calling `$factory().await`.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:path) => {
        $crate::conformance_suite!(@each $factory;
            put_get_head_delete, empty_object, overwrite_replaces, awkward_keys,
            list_pages_beyond_1000, range_get, checksums_match_local, content_types_by_extension,
            multipart_large_with_part_retry, multipart_resume_from_listed_parts,
            abort_leaves_no_upload, not_found_is_typed, missing_bucket_is_typed,
            missing_local_file_is_invalid_input, truncated_local_file_is_caught,
            signed_url_matches_capability);
    };
    (@each $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let h = $factory().await;
                $crate::conformance::$name(&h).await;
            }
        )*
    };
}

/// A store declaring `signed_urls` gives a URL that serves the object to a client without
/// credentials; a store that does not answers `Unsupported`, naming itself.
pub async fn signed_url_matches_capability(h: &Harness) {
    let s = h.store.as_ref();
    let key = "rec/signed a+b.ts";
    let data = Bytes::from_static(b"\x47 signed bytes");
    s.put(key, PutBody::Bytes(data.clone()), &PutOptions::default())
        .await
        .unwrap_or_else(|e| panic!("put: {e}"));
    let signed = s
        .signed_get_url(key, std::time::Duration::from_secs(300))
        .await;
    if !s.capabilities().signed_urls {
        let e = signed.expect_err("no signed URLs declared, yet one was given");
        assert_eq!(e.kind(), &ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains(&s.name()), "{e}");
        return;
    }
    let url = signed.unwrap_or_else(|e| panic!("signed_get_url: {e}"));
    let reply = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(reply.status().as_u16(), 200, "GET {url}");
    let body = reply.bytes().await.unwrap_or_else(|e| panic!("body: {e}"));
    assert_eq!(body, data, "the signed URL served other bytes");
}

/// Credential behaviours, for stores that sign requests.
#[macro_export]
macro_rules! credential_suite {
    ($factory:path) => {
        $crate::conformance_suite!(@each $factory; wrong_secret_is_signature_mismatch, unknown_access_key_is_invalid_credentials);
    };
}

pub async fn put_get_head_delete(h: &Harness) {
    let s = h.store.as_ref();
    let data = Bytes::from_static(b"#EXTM3U\n#EXT-X-VERSION:3\n");
    let put = s
        .put(
            "rec/a.m3u8",
            PutBody::Bytes(data.clone()),
            &PutOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("put: {e}"));
    assert_eq!(put.size, data.len() as u64);
    let head = s
        .head("rec/a.m3u8")
        .await
        .unwrap_or_else(|e| panic!("head: {e}"));
    assert_eq!(head.size, data.len() as u64);
    assert_eq!(head.key, "rec/a.m3u8");
    assert!(head.last_modified.is_some(), "head has no last-modified");
    assert_eq!(get_all(s, "rec/a.m3u8").await, data);
    s.delete("rec/a.m3u8")
        .await
        .unwrap_or_else(|e| panic!("delete: {e}"));
    let gone = s
        .head("rec/a.m3u8")
        .await
        .expect_err("object still there after delete");
    assert_eq!(gone.kind(), &ErrorKind::NotFound, "{gone}");
    s.delete("rec/a.m3u8")
        .await
        .unwrap_or_else(|e| panic!("deleting a missing key must succeed: {e}"));
}

pub async fn empty_object(h: &Harness) {
    let s = h.store.as_ref();
    let meta = s
        .put(
            "empty.ts",
            PutBody::Bytes(Bytes::new()),
            &PutOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(meta.size, 0);
    assert_eq!(
        s.head("empty.ts")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .size,
        0
    );
    assert!(get_all(s, "empty.ts").await.is_empty());
    let listed = s.list_all("").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        listed
            .iter()
            .map(|o| (o.key.as_str(), o.size))
            .collect::<Vec<_>>(),
        vec![("empty.ts", 0)]
    );
}

pub async fn overwrite_replaces(h: &Harness) {
    let s = h.store.as_ref();
    for body in [&b"first version, longer"[..], b"second"] {
        s.put(
            "k.ts",
            PutBody::Bytes(Bytes::copy_from_slice(body)),
            &PutOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(&get_all(s, "k.ts").await[..], b"second");
    assert_eq!(
        s.head("k.ts").await.unwrap_or_else(|e| panic!("{e}")).size,
        6
    );
}

pub async fn awkward_keys(h: &Harness) {
    let s = h.store.as_ref();
    let keys = [
        "with space.ts",
        "ünïcödé/段落.ts",
        "a+b=c&d.ts",
        "nested/deep/x y+z%20.m3u8",
        "tilde~(1)'!.mp4",
    ];
    for (i, k) in keys.iter().enumerate() {
        let body = Bytes::from(format!("body {i}"));
        s.put(k, PutBody::Bytes(body.clone()), &PutOptions::default())
            .await
            .unwrap_or_else(|e| panic!("put {k:?}: {e}"));
        assert_eq!(get_all(s, k).await, body, "{k:?}");
        assert_eq!(
            s.head(k)
                .await
                .unwrap_or_else(|e| panic!("head {k:?}: {e}"))
                .size,
            body.len() as u64
        );
    }
    let mut expected: Vec<&str> = keys.to_vec();
    expected.sort_unstable();
    let listed = s.list_all("").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        listed.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        expected
    );
    let under = s
        .list_all("nested/")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(under.len(), 1);
}

pub async fn list_pages_beyond_1000(h: &Harness) {
    let s = h.store.clone();
    let keys: Vec<String> = (0..1100).map(|i| format!("seg/{i:05}.ts")).collect();
    futures::stream::iter(keys.iter().cloned())
        .map(|k| {
            let s = s.clone();
            async move {
                s.put(
                    &k,
                    PutBody::Bytes(Bytes::from_static(b"x")),
                    &PutOptions::default(),
                )
                .await
                .map(|_| ())
            }
        })
        .buffer_unordered(32)
        .for_each(|r| async move { r.unwrap_or_else(|e| panic!("put: {e}")) })
        .await;
    s.put(
        "other/1.ts",
        PutBody::Bytes(Bytes::from_static(b"y")),
        &PutOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    let first = s
        .list(&ListRequest {
            prefix: "seg/".into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.objects.len(), 1000, "a page holds at most 1000 keys");
    let token = first.next.clone().expect("a second page must be announced");
    let second = s
        .list(&ListRequest {
            prefix: "seg/".into(),
            continuation: Some(token),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.objects.len(), 100);
    assert!(second.next.is_none());
    let all: Vec<String> = first
        .objects
        .iter()
        .chain(&second.objects)
        .map(|o| o.key.clone())
        .collect();
    assert_eq!(all, keys, "pages must cover every key once, in order");

    let after = s
        .list(&ListRequest {
            prefix: "seg/".into(),
            start_after: Some("seg/01095.ts".into()),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        after
            .objects
            .iter()
            .map(|o| o.key.as_str())
            .collect::<Vec<_>>(),
        [
            "seg/01096.ts",
            "seg/01097.ts",
            "seg/01098.ts",
            "seg/01099.ts"
        ]
    );
    let small = s
        .list(&ListRequest {
            prefix: "seg/".into(),
            max_keys: Some(7),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((small.objects.len(), small.next.is_some()), (7, true));
}

pub async fn range_get(h: &Harness) {
    let s = h.store.as_ref();
    let data = pseudo_random(100_000, 7);
    s.put(
        "r.mp4",
        PutBody::Bytes(Bytes::from(data.clone())),
        &PutOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let part = s
        .get("r.mp4", Some(1000..65_536))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(part.range, 1000..65_536);
    assert_eq!(part.meta.size, 100_000, "meta.size is the whole object");
    assert_eq!(
        &part.bytes().await.unwrap_or_else(|e| panic!("{e}"))[..],
        &data[1000..65_536]
    );
    let tail = s
        .get("r.mp4", Some(99_990..100_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&tail[..], &data[99_990..]);
    let empty = s
        .get("r.mp4", Some(5..5))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(empty.is_empty());
}

pub async fn checksums_match_local(h: &Harness) {
    let s = h.store.as_ref();
    let data = pseudo_random(3 * 1024 * 1024 + 17, 11);
    let path = h.local_file("seg.ts", &data);
    let (size, local) = checksum_file(&path, &ChecksumAlgo::ALL)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(size, data.len() as u64);
    let body = PutBody::file(&path).await.unwrap_or_else(|e| panic!("{e}"));
    let opts = PutOptions {
        checksums: Some(local.clone()),
        ..Default::default()
    };
    let put = s
        .put("seg.ts", body, &opts)
        .await
        .unwrap_or_else(|e| panic!("put: {e}"));
    local
        .verify(&put.checksums)
        .unwrap_or_else(|e| panic!("put returned: {e}"));
    let head = s.head("seg.ts").await.unwrap_or_else(|e| panic!("{e}"));
    for algo in s.capabilities().returned_by_head {
        assert!(
            head.checksums.get(algo).is_some(),
            "{} promised {} from head but did not return it",
            s.name(),
            algo.name()
        );
    }
    let proven = local
        .verify(&head.checksums)
        .unwrap_or_else(|e| panic!("head returned: {e}"));
    assert_eq!(proven, s.capabilities().returned_by_head.len());
    let downloaded = get_all(s, "seg.ts").await;
    assert_eq!(checksum_bytes(&downloaded, &ChecksumAlgo::ALL), local);
}

pub async fn content_types_by_extension(h: &Harness) {
    let s = h.store.as_ref();
    for (key, ct) in [
        ("p.m3u8", "application/vnd.apple.mpegurl"),
        ("s.ts", "video/mp2t"),
        ("v.mp4", "video/mp4"),
    ] {
        s.put(
            key,
            PutBody::Bytes(Bytes::from_static(b"1")),
            &PutOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.head(key)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .content_type
                .as_deref(),
            Some(ct),
            "{key}"
        );
    }
    let custom = PutOptions {
        content_type: Some("text/plain".into()),
        ..Default::default()
    };
    s.put("x.ts", PutBody::Bytes(Bytes::from_static(b"1")), &custom)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.head("x.ts")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .content_type
            .as_deref(),
        Some("text/plain")
    );
}

fn multipart_config(part_size: u64) -> UploadConfig {
    UploadConfig {
        multipart_threshold: part_size,
        part_size,
        concurrency: 3,
        part_retry: RetryPolicy::immediate(3),
    }
}

/// 64 MiB in 8 MiB parts; part 2 fails once and must be sent again, alone.
pub async fn multipart_large_with_part_retry(h: &Harness) {
    let data = pseudo_random(64 << 20, 3);
    let path = h.local_file("big.mp4", &data);
    let faulty = FaultyStore::new(h.store.clone());
    faulty.fail_part(2, 1);
    let meta = multipart_upload_file(
        &faulty,
        "big.mp4",
        &path,
        &PutOptions::default(),
        &multipart_config(8 << 20),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("multipart: {e}"));
    assert_eq!(meta.size, 64 << 20);
    assert_eq!(
        (
            faulty.injected(),
            faulty.part_calls(2),
            faulty.part_calls(1),
            faulty.part_calls(8)
        ),
        (1, 2, 1, 1)
    );
    let got = get_all(h.store.as_ref(), "big.mp4").await;
    assert!(
        got[..] == data[..],
        "downloaded bytes differ from the uploaded file"
    );
    assert_eq!(
        h.store
            .head("big.mp4")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .size,
        64 << 20
    );
}

/// A "crashed" upload with part 1 sent is resumed: only parts 2 and 3 go out.
pub async fn multipart_resume_from_listed_parts(h: &Harness) {
    let s = h.store.clone();
    let part = s.capabilities().min_part_size.max(1 << 20);
    let data = pseudo_random((2 * part + 1234) as usize, 5);
    let path = h.local_file("resume.mp4", &data);
    let upload = s
        .create_multipart("resume.mp4", &PutOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first = PutBody::File {
        path: path.clone(),
        offset: 0,
        len: part,
    };
    s.upload_part(&upload, 1, first)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if s.capabilities().list_multipart_uploads {
        let open = s
            .list_multipart_uploads("resume")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            open.iter().any(|u| u.upload_id == upload.upload_id),
            "in-progress upload not listed: {open:?}"
        );
    }
    let held = s
        .list_parts(&upload)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        held.iter()
            .map(|p| (p.part_number, p.size))
            .collect::<Vec<_>>(),
        vec![(1, part)]
    );

    let counting = FaultyStore::new(s.clone());
    let meta = multipart_upload_file(
        &counting,
        "resume.mp4",
        &path,
        &PutOptions::default(),
        &multipart_config(part),
        Some(upload.clone()),
    )
    .await
    .unwrap_or_else(|e| panic!("resume: {e}"));
    assert_eq!(meta.size, data.len() as u64);
    assert_eq!(
        (
            counting.part_calls(1),
            counting.part_calls(2),
            counting.part_calls(3)
        ),
        (0, 1, 1),
        "part 1 was already stored"
    );
    assert!(get_all(s.as_ref(), "resume.mp4").await[..] == data[..]);
    if s.capabilities().list_multipart_uploads {
        let open = s
            .list_multipart_uploads("resume")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(open.is_empty(), "completed upload still listed: {open:?}");
    }
}

pub async fn abort_leaves_no_upload(h: &Harness) {
    let s = h.store.as_ref();
    let upload = s
        .create_multipart("aborted.mp4", &PutOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.upload_part(
        &upload,
        1,
        PutBody::Bytes(Bytes::from(pseudo_random(1 << 20, 9))),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    s.abort_multipart(&upload)
        .await
        .unwrap_or_else(|e| panic!("abort: {e}"));
    let err = s
        .list_parts(&upload)
        .await
        .expect_err("parts of an aborted upload are still listed");
    assert_eq!(err.kind(), &ErrorKind::UploadNotFound, "{err}");
    if s.capabilities().list_multipart_uploads {
        let open = s
            .list_multipart_uploads("")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(open.is_empty(), "aborted upload still listed: {open:?}");
    }
    let head = s
        .head("aborted.mp4")
        .await
        .expect_err("an aborted upload must not create the object");
    assert_eq!(head.kind(), &ErrorKind::NotFound);
    assert!(
        s.list_all("")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
}

pub async fn not_found_is_typed(h: &Harness) {
    let s = h.store.as_ref();
    let e = s
        .head("nope/missing.ts")
        .await
        .expect_err("head of a missing key succeeded");
    assert_eq!(e.kind(), &ErrorKind::NotFound, "{e}");
    assert_eq!(e.key(), Some("nope/missing.ts"));
    assert!(!e.is_retryable());
    let e = s
        .get("nope/missing.ts", None)
        .await
        .err()
        .expect("get of a missing key succeeded");
    assert_eq!(e.kind(), &ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("nope/missing.ts"), "{e}");
}

pub async fn missing_bucket_is_typed(h: &Harness) {
    let s = h.missing_bucket.as_ref();
    let e = put_one_byte(s, "a.ts")
        .await
        .expect_err("put into a missing bucket succeeded");
    assert_eq!(e.kind(), &ErrorKind::BucketNotFound, "{e}");
    assert!(e.to_string().contains("check the bucket name"), "{e}");
    let e = s
        .head("a.ts")
        .await
        .expect_err("head in a missing bucket succeeded");
    assert_eq!(e.kind(), &ErrorKind::BucketNotFound, "{e}");
}

pub async fn missing_local_file_is_invalid_input(h: &Harness) {
    let path = h.local_file("vanishing.ts", b"soon gone");
    let body = PutBody::file(&path).await.unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let e = h
        .store
        .put("v.ts", body, &PutOptions::default())
        .await
        .expect_err("put of a deleted file succeeded");
    assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{e}");
    assert_eq!(e.key(), Some("v.ts"));
    assert!(
        e.to_string().contains("vanishing.ts"),
        "the message must name the file: {e}"
    );
    assert_eq!(
        h.store
            .head("v.ts")
            .await
            .expect_err("object created")
            .kind(),
        &ErrorKind::NotFound
    );
}

pub async fn truncated_local_file_is_caught(h: &Harness) {
    let path = h.local_file("short.ts", &pseudo_random(1000, 1));
    let body = PutBody::File {
        path: path.clone(),
        offset: 0,
        len: 5000,
    };
    let e = h
        .store
        .put("short.ts", body, &PutOptions::default())
        .await
        .expect_err("put of a truncated file succeeded");
    assert_eq!(e.key(), Some("short.ts"), "{e}");
    assert!(
        matches!(
            e.kind(),
            ErrorKind::InvalidInput | ErrorKind::ChecksumMismatch
        ),
        "{e}"
    );
    assert_eq!(
        h.store
            .head("short.ts")
            .await
            .expect_err("a partial object was stored")
            .kind(),
        &ErrorKind::NotFound
    );
}

pub async fn wrong_secret_is_signature_mismatch(h: &Harness) {
    let (store, secret) = h
        .wrong_secret
        .as_ref()
        .expect("harness has no wrong-secret store");
    let e = store
        .head("a.ts")
        .await
        .expect_err("a wrong secret was accepted");
    assert_eq!(e.kind(), &ErrorKind::SignatureMismatch, "{e}");
    assert!(e.to_string().contains("secretKey"), "{e}");
    let e = put_one_byte(store.as_ref(), "a.ts")
        .await
        .expect_err("a wrong secret was accepted");
    assert_eq!(e.kind(), &ErrorKind::SignatureMismatch, "{e}");
    for text in [e.to_string(), format!("{e:?}"), format!("{store:?}")] {
        assert!(!text.contains(secret.as_str()), "the secret leaked: {text}");
    }
}

pub async fn unknown_access_key_is_invalid_credentials(h: &Harness) {
    let store = h
        .unknown_key
        .as_ref()
        .expect("harness has no unknown-key store");
    let e = put_one_byte(store.as_ref(), "a.ts")
        .await
        .expect_err("an unknown key was accepted");
    assert_eq!(e.kind(), &ErrorKind::InvalidCredentials, "{e}");
    assert!(e.to_string().contains("accessKey"), "{e}");
}
