//! Writes that must not land: the caller's checksums disagree with the bytes (a server's
//! BadDigest), or the object or its sidecar cannot be put in place. Each leaves the key as
//! it was (absent, or the previous object with its sidecar) and no temporary file.

use std::collections::BTreeMap;

use stowage_core::checksum::checksum_bytes;
use stowage_core::{ChecksumAlgo, ErrorKind, ObjectStore, PutBody, PutOptions};
use stowage_fs::FsStore;
use stowage_testkit::conformance::pseudo_random;

use crate::util::{Kind, assert_absent, body, check_bucket};

async fn store() -> (tempfile::TempDir, FsStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsStore::create(dir.path().join("bucket"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_with_disagreeing_checksums_leaves_nothing() {
    let (dir, store) = store().await;
    let data = pseudo_random(300 << 10, 1);
    let other = checksum_bytes(&pseudo_random(300 << 10, 2), &ChecksumAlgo::ALL);
    let wrong = PutOptions {
        checksums: Some(other),
        ..Default::default()
    };
    for kind in Kind::ALL {
        let key = format!("rec/{}.ts", kind.name());
        let (b, source) = body(kind, &data, dir.path(), "source.ts");
        let e = store
            .put(&key, b, &wrong)
            .await
            .expect_err("a put whose checksums disagree landed");
        assert_eq!(e.key(), Some(key.as_str()), "{e}");
        match source {
            // The file changed since the caller hashed it: said so, naming the file.
            Some(path) => {
                assert_eq!(e.kind(), &ErrorKind::LocalFileChanged, "{e}");
                assert!(
                    e.to_string().contains(&path.display().to_string()),
                    "the message must name the source file: {e}"
                );
            }
            None => assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}"),
        }
        assert!(
            e.to_string().contains("md5") || e.to_string().contains("crc64"),
            "{e}"
        );
        assert_absent(&store, &key).await;
    }
    check_bucket(&store, &BTreeMap::new()).await;

    // Over an existing object: the previous object and its sidecar stay as they were.
    let key = "rec/kept.ts";
    let (b, _) = body(Kind::Bytes, &data, dir.path(), "x");
    store.put(key, b, &PutOptions::default()).await.unwrap();
    let (b, _) = body(Kind::Stream, &pseudo_random(1000, 3), dir.path(), "x");
    let e = store.put(key, b, &wrong).await.expect_err("landed");
    assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
    let landed = BTreeMap::from([(key.to_string(), data.clone())]);
    check_bucket(&store, &landed).await;

    // The right checksums land.
    let right = PutOptions {
        checksums: Some(checksum_bytes(&data, &ChecksumAlgo::ALL)),
        ..Default::default()
    };
    let (b, _) = body(Kind::File, &data, dir.path(), "good.ts");
    store.put("rec/good.ts", b, &right).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_completion_checks_the_checksums_given_at_creation() {
    let (dir, store) = store().await;
    let parts = [pseudo_random(100 << 10, 4), pseudo_random(50 << 10, 5)];
    let whole = parts.concat();
    let mut landed = BTreeMap::new();
    for (key, sums) in [
        (
            "rec/wrong.ts",
            checksum_bytes(b"something else", &ChecksumAlgo::ALL),
        ),
        ("rec/right.ts", checksum_bytes(&whole, &ChecksumAlgo::ALL)),
    ] {
        let opts = PutOptions {
            checksums: Some(sums),
            ..Default::default()
        };
        let upload = store.create_multipart(key, &opts).await.unwrap();
        let mut infos = Vec::new();
        for (i, data) in parts.iter().enumerate() {
            let (b, _) = body(Kind::Bytes, data, dir.path(), "p");
            infos.push(store.upload_part(&upload, i as u32 + 1, b).await.unwrap());
        }
        let result = store.complete_multipart(&upload, &infos).await;
        if key == "rec/wrong.ts" {
            let e = result.expect_err("a completion that disagrees with the checksums landed");
            assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
            assert_absent(&store, key).await;
            store.abort_multipart(&upload).await.unwrap();
        } else {
            assert_eq!(result.unwrap().size, whole.len() as u64);
            landed.insert(key.to_string(), whole.clone());
        }
    }
    check_bucket(&store, &landed).await;
    assert!(store.list_multipart_uploads("").await.unwrap().is_empty());
}

/// The sidecar cannot be put in place (its path is a directory): the object never appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_that_cannot_be_placed_leaves_no_object() {
    let (_dir, store) = store().await;
    let key = "rec/seg.ts";
    std::fs::create_dir_all(store.root().join(".stowage/meta/rec/seg.ts.json/x")).unwrap();
    let e = store
        .put(
            key,
            PutBody::Bytes(pseudo_random(1000, 6).into()),
            &PutOptions::default(),
        )
        .await
        .expect_err("a put whose sidecar could not be written succeeded");
    assert_eq!(e.key(), Some(key), "{e}");
    assert!(!e.to_string().contains("vendor code"), "{e}");
    assert!(!store.root().join(key).exists(), "the object appeared");
    std::fs::remove_dir_all(store.root().join(".stowage/meta/rec/seg.ts.json")).unwrap();
    check_bucket(&store, &BTreeMap::new()).await;
}

/// The object cannot be put in place (its path is a non-empty directory, another object's
/// prefix) after its sidecar was: the sidecar is taken back, the other object is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_that_cannot_be_placed_takes_its_sidecar_back() {
    let (_dir, store) = store().await;
    let inner = pseudo_random(2000, 7);
    store
        .put(
            "rec/a/b.ts",
            PutBody::Bytes(inner.clone().into()),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    let e = store
        .put(
            "rec/a",
            PutBody::Bytes(pseudo_random(10, 8).into()),
            &PutOptions::default(),
        )
        .await
        .expect_err("an object replaced a directory");
    assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{e}");
    assert!(
        !store.root().join(".stowage/meta/rec/a.json").exists(),
        "the failed put's sidecar stayed"
    );
    check_bucket(&store, &BTreeMap::from([("rec/a/b.ts".to_string(), inner)])).await;
}

/// The store keeps both CRC-64s and checks a caller's checksums against them; a caller that
/// gives neither (only an MD5, say) has what it gave checked instead, though not kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_checksums_without_a_crc_are_still_checked() {
    let (dir, store) = store().await;
    let data = pseudo_random(70_000, 11);
    let md5 = |d: &[u8]| {
        let mut only = checksum_bytes(d, &[ChecksumAlgo::Md5]);
        only.crc64ecma = None;
        only
    };
    for kind in Kind::ALL {
        let key = format!("rec/md5-{}.ts", kind.name());
        let wrong = PutOptions {
            checksums: Some(md5(b"other bytes")),
            ..Default::default()
        };
        let (b, _) = body(kind, &data, dir.path(), "src.ts");
        let e = store.put(&key, b, &wrong).await.expect_err("landed");
        assert!(e.to_string().contains("md5 differs"), "{e}");
        assert_absent(&store, &key).await;
        let right = PutOptions {
            checksums: Some(md5(&data)),
            ..Default::default()
        };
        let (b, _) = body(kind, &data, dir.path(), "src.ts");
        let meta = store.put(&key, b, &right).await.unwrap();
        assert_eq!(meta.checksums, checksum_bytes(&data, &stowage_fs::KEPT));
    }
    assert_eq!(
        store.capabilities().verified_on_upload,
        stowage_fs::KEPT.to_vec()
    );
}

/// Parts recorded by an older version (no CRC-64s in the record) are read and hashed at
/// completion instead of combined; the object is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_recorded_without_crcs_are_hashed_at_completion() {
    let (dir, store) = store().await;
    let parts = [pseudo_random(60_000, 12), pseudo_random(9_000, 13)];
    let whole = parts.concat();
    let opts = PutOptions {
        checksums: Some(checksum_bytes(&whole, &ChecksumAlgo::ALL)),
        ..Default::default()
    };
    let upload = store.create_multipart("rec/old.mp4", &opts).await.unwrap();
    let mut infos = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let (b, _) = body(Kind::File, data, dir.path(), "p");
        let info = store.upload_part(&upload, i as u32 + 1, b).await.unwrap();
        assert_eq!(info.checksums, checksum_bytes(data, &stowage_fs::KEPT));
        infos.push(info);
    }
    let uploads = store
        .root()
        .join(".stowage/uploads")
        .join(&upload.upload_id);
    for n in 1..=2 {
        let record = uploads.join(format!("part-{n:05}.json"));
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
        json.as_object_mut().unwrap().remove("checksums");
        std::fs::write(&record, serde_json::to_vec(&json).unwrap()).unwrap();
    }
    let listed = store.list_parts(&upload).await.unwrap();
    assert!(listed.iter().all(|p| p.checksums.is_empty()), "{listed:?}");
    let meta = store.complete_multipart(&upload, &infos).await.unwrap();
    assert_eq!(meta.checksums, checksum_bytes(&whole, &stowage_fs::KEPT));
    check_bucket(
        &store,
        &BTreeMap::from([("rec/old.mp4".to_string(), whole)]),
    )
    .await;
}
