//! What proves an Azure upload, on Azurite: the MD5 Azure computed and keeps (Put Blob),
//! Content-MD5 refusals, blocks resumed only where their MD5 still matches the file, the
//! content type and metadata through a block upload, abort, and SAS tokens.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use stowage_azure::AzureAuth;
use stowage_core::checksum::checksum_bytes;
use stowage_core::proof::Proof;
use stowage_core::retry::RetryPolicy;
use stowage_core::upload::{UploadConfig, multipart_upload_file, put_file};
use stowage_core::{ChecksumAlgo, ErrorKind, ObjectStore, PutBody, PutOptions};
use stowage_testkit::conformance::pseudo_random;
use stowage_testkit::faulty::FaultyStore;

use crate::{ACCOUNT, azurite, fresh, store_at, stored};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_is_proven_by_the_md5_azure_computed_and_keeps() {
    let (_, s) = fresh("proof").await;
    let data = pseudo_random(200_000, 3);
    let local = checksum_bytes(&data, &[ChecksumAlgo::Md5]);
    let meta = s
        .put(
            "rec/seg.ts",
            PutBody::Bytes(Bytes::from(data.clone())),
            &PutOptions::default(),
        )
        .await
        .expect("put");
    assert_eq!(meta.checksums.md5, local.md5, "the reply's Content-MD5");
    let proof = stowage_core::proof::proof_in(
        "rec/seg.ts",
        stowage_core::proof::Sent {
            size: data.len() as u64,
            checksums: &local,
        },
        &meta,
    )
    .expect("no contradiction");
    assert_eq!(proof, Some(Proof::Checksum(ChecksumAlgo::Md5)));
    // Kept as the blob's property: a HEAD proves it again (the verifier's way).
    let head = s.head("rec/seg.ts").await.expect("head");
    assert_eq!(head.checksums.md5, local.md5);
    assert_eq!(head.content_type.as_deref(), Some("video/mp2t"));

    // The pipeline's path: put_file hashes the file, sends its MD5, and confirms.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.m3u8");
    std::fs::write(&path, b"#EXTM3U\n").expect("write");
    let landed = put_file(
        &s,
        "rec/a.m3u8",
        &path,
        &PutOptions::default(),
        &UploadConfig::default(),
    )
    .await
    .expect("put_file");
    assert_eq!(
        landed.checksums.md5,
        checksum_bytes(b"#EXTM3U\n", &[ChecksumAlgo::Md5]).md5
    );
}

/// The MD5 sent is the file's, taken before the bytes were read: bytes that no longer have
/// it (a file rewritten in between) are refused by Azure itself, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_do_not_match_the_md5_sent_are_refused() {
    let (container, s) = fresh("md5").await;
    let opts = PutOptions {
        checksums: Some(checksum_bytes(b"what the file held", &[ChecksumAlgo::Md5])),
        ..Default::default()
    };
    let e = s
        .put(
            "seg.ts",
            PutBody::Bytes(Bytes::from_static(b"what is sent now")),
            &opts,
        )
        .await
        .expect_err("Azure took bytes that do not match the MD5 sent");
    assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
    assert_eq!(e.key(), Some("seg.ts"));
    assert_eq!(stored(&container, "seg.ts").await, None);
}

/// A resumed block upload keeps a block only when the local bytes still have the MD5 its
/// id carries (the MD5 Azure checked when it took the block); a part rewritten since is
/// sent again, and the committed blob is the file as it is now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_keeps_only_blocks_whose_md5_still_matches() {
    let (_, s) = fresh("resume").await;
    let s: Arc<dyn ObjectStore> = Arc::new(s);
    let part = 256 << 10;
    let mut data = pseudo_random(3 * part + 100, 11);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.mp4");
    std::fs::write(&path, &data).expect("write");
    let upload = s
        .create_multipart("big.mp4", &PutOptions::default())
        .await
        .expect("create");
    for n in 1..=2u32 {
        let body = PutBody::File {
            path: path.clone(),
            offset: u64::from(n - 1) * part as u64,
            len: part as u64,
        };
        s.upload_part(&upload, n, body).await.expect("part");
    }
    let held = s.list_parts(&upload).await.expect("list parts");
    assert_eq!(
        held.iter()
            .map(|p| (p.part_number, p.size))
            .collect::<Vec<_>>(),
        vec![(1, part as u64), (2, part as u64)]
    );
    assert_eq!(
        held[0].checksums.md5,
        checksum_bytes(&data[..part], &[ChecksumAlgo::Md5]).md5,
        "the block's id carries the MD5 of its bytes"
    );
    // Part 2 of the file changes before the resume.
    data[part + 10] ^= 0xff;
    std::fs::write(&path, &data).expect("rewrite");

    let counting = FaultyStore::new(s.clone());
    let cfg = UploadConfig {
        multipart_threshold: part as u64,
        part_size: part as u64,
        concurrency: 2,
        part_retry: RetryPolicy::immediate(2),
    };
    let meta = multipart_upload_file(
        &counting,
        "big.mp4",
        &path,
        &PutOptions::default(),
        &cfg,
        Some(upload),
    )
    .await
    .expect("resume");
    assert_eq!(
        (
            counting.part_calls(1),
            counting.part_calls(2),
            counting.part_calls(3),
            counting.part_calls(4)
        ),
        (0, 1, 1, 1),
        "only part 1 still matched"
    );
    assert_eq!(meta.size, data.len() as u64);
    let got = s
        .get("big.mp4", None)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("read");
    assert!(
        got[..] == data[..],
        "the committed blob is the file as it is now"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_uploads_keep_content_type_and_metadata() {
    let (_, s) = fresh("meta").await;
    let mut metadata = BTreeMap::new();
    metadata.insert("recording".to_string(), "sid123".to_string());
    let opts = PutOptions {
        content_type: Some("video/mp4".into()),
        metadata,
        ..Default::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.bin");
    let data = pseudo_random(600_000, 5);
    std::fs::write(&path, &data).expect("write");
    let cfg = UploadConfig {
        multipart_threshold: 100_000,
        part_size: 256 << 10,
        concurrency: 2,
        part_retry: RetryPolicy::immediate(2),
    };
    let meta = put_file(&s, "x.bin", &path, &opts, &cfg)
        .await
        .expect("upload");
    assert_eq!(meta.size, data.len() as u64);
    let head = s.head("x.bin").await.expect("head");
    assert_eq!(head.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(
        head.metadata.get("recording").map(String::as_str),
        Some("sid123")
    );
    // A committed block list has no MD5 of the whole blob; the parts' CRCs proved it.
    assert_eq!(head.checksums.md5, None);

    let bad = PutOptions {
        metadata: BTreeMap::from([("not-an-identifier".to_string(), "x".to_string())]),
        ..Default::default()
    };
    let e = s
        .put("y.ts", PutBody::Bytes(Bytes::from_static(b"y")), &bad)
        .await
        .expect_err("a metadata name Azure refuses");
    assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("not-an-identifier"), "{e}");
}

/// Aborting where a blob already exists leaves that blob as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_never_touches_an_existing_blob() {
    let (container, s) = fresh("abort").await;
    s.put(
        "seg.ts",
        PutBody::Bytes(Bytes::from_static(b"kept")),
        &PutOptions::default(),
    )
    .await
    .expect("put");
    let upload = s
        .create_multipart("seg.ts", &PutOptions::default())
        .await
        .expect("create");
    s.upload_part(&upload, 1, PutBody::Bytes(Bytes::from_static(b"other")))
        .await
        .expect("part");
    s.abort_multipart(&upload).await.expect("abort");
    assert_eq!(
        stored(&container, "seg.ts").await.as_deref(),
        Some(&b"kept"[..])
    );
}

/// A container SAS (made by Microsoft's Python SDK) opens the container; signing download
/// URLs needs the key, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sas_token_opens_the_container() {
    let (container, _) = fresh("sas").await;
    let script = format!(
        "import datetime as d\nfrom azure.storage.blob import generate_container_sas, ContainerSasPermissions as P\n\
print(generate_container_sas('{ACCOUNT}', '{container}', account_key='{}', permission=P(read=True, write=True, delete=True, list=True), expiry=d.datetime.now(d.timezone.utc) + d.timedelta(hours=1)))",
        stowage_testkit::azurite::ACCOUNT_KEY
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "azure-storage-blob is needed (scripts/test installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sas = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    let s: Arc<dyn ObjectStore> = Arc::new(store_at(
        azurite().endpoint(),
        ACCOUNT,
        &container,
        AzureAuth::from_secret(&sas),
    ));
    assert!(!s.capabilities().signed_urls);
    let meta = s
        .put(
            "a.ts",
            PutBody::Bytes(Bytes::from_static(b"sas")),
            &PutOptions::default(),
        )
        .await
        .expect("put with a SAS");
    assert!(meta.checksums.md5.is_some());
    let part_upload = s
        .create_multipart("b.mp4", &PutOptions::default())
        .await
        .expect("create");
    let part = s
        .upload_part(
            &part_upload,
            1,
            PutBody::Bytes(Bytes::from_static(b"block")),
        )
        .await
        .expect("block with a SAS");
    assert_eq!(
        s.list_parts(&part_upload).await.expect("block list").len(),
        1
    );
    s.complete_multipart(&part_upload, &[part])
        .await
        .expect("commit");
    let keys: Vec<_> = s
        .list_all("")
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["a.ts", "b.mp4"]);
    let e = s
        .signed_get_url("a.ts", std::time::Duration::from_secs(60))
        .await
        .expect_err("signed without a key");
    assert_eq!(e.kind(), &ErrorKind::Unsupported);
    for text in [format!("{s:?}"), e.to_string()] {
        assert!(!text.contains("sig="), "the SAS leaked: {text}");
    }
    // An expired or forged SAS is refused as invalid credentials, and not quoted.
    let forged = sas.replace("sig=", "sig=AAAA");
    let bad = store_at(
        azurite().endpoint(),
        ACCOUNT,
        &container,
        AzureAuth::from_secret(&forged),
    );
    let e = bad.head("a.ts").await.expect_err("a forged SAS accepted");
    assert!(
        matches!(
            e.kind(),
            ErrorKind::InvalidCredentials | ErrorKind::AccessDenied
        ),
        "{e}"
    );
    assert!(!e.to_string().contains("sig="), "{e}");
}
