//! Microsoft's Python SDK (azure-storage-blob) reads what Stowage stored, with its MD5
//! validation on, fetches Stowage's signed URL, and stores objects Stowage reads back.

use bytes::Bytes;
use stowage_core::checksum::checksum_bytes;
use stowage_core::{ChecksumAlgo, ObjectStore, PutBody, PutOptions};
use stowage_testkit::adapter_tests::{SdkScript, crc64, run_sdk_script, upload_with_stowage};
use stowage_testkit::conformance::pseudo_random;

use crate::{azurite, fresh};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsofts_sdk_and_stowage_read_each_other() {
    let (container, s) = fresh("sdk").await;
    let scratch = tempfile::tempdir().expect("tempdir");
    // One Put Blob and one block upload (3 blocks of 256 KiB and a tail).
    let objects = upload_with_stowage(&s, scratch.path(), 256 << 10, 3).await;
    let small = pseudo_random(150_000, 31);
    let md5 = checksum_bytes(&small, &[ChecksumAlgo::Md5])
        .get(ChecksumAlgo::Md5)
        .expect("md5");
    let signed_data = Bytes::from_static(b"\x47 signed bytes for a player");
    s.put(
        "stowage/signed a+b.ts",
        PutBody::Bytes(signed_data.clone()),
        &PutOptions::default(),
    )
    .await
    .expect("put");
    let url = s
        .signed_get_url("stowage/signed a+b.ts", std::time::Duration::from_secs(600))
        .await
        .expect("sign");

    let result = run_sdk_script(&SdkScript {
        script: "azure_crosscheck.py",
        env: vec![
            ("AZ_XC_CONNECTION_STRING", azurite().connection_string()),
            ("AZ_XC_CONTAINER", container.clone()),
            ("AZ_XC_STOWAGE_OBJECTS", objects),
            ("AZ_XC_STOWAGE_PUT_MD5", format!("stowage/small.ts={md5}")),
            (
                "AZ_XC_STOWAGE_PRESIGNED",
                format!("stowage/signed a+b.ts={}={url}", crc64(&signed_data)),
            ),
        ],
        missing: "Microsoft's azure-storage-blob is not installed",
    });
    let checks = result["checks"].as_array().expect("checks");
    let failed: Vec<_> = checks.iter().filter(|c| c["ok"] != true).collect();
    assert!(failed.is_empty(), "SDK checks failed: {failed:#?}");
    assert!(checks.len() >= 6, "too few checks ran: {checks:#?}");

    // Stowage reads the SDK's objects: their bytes, and the MD5 a Put Blob keeps.
    let sdk = result["sdk_objects"].as_object().expect("sdk_objects");
    assert_eq!(sdk.len(), 2);
    for (key, want) in sdk {
        let data = s
            .get(key, None)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("read");
        assert_eq!(Some(crc64(&data)), want["crc64"].as_u64(), "{key}");
        let head = s.head(key).await.expect("head");
        let stored_md5 = head.checksums.get(ChecksumAlgo::Md5);
        assert_eq!(stored_md5.as_deref(), want["md5"].as_str(), "{key}");
    }
}
