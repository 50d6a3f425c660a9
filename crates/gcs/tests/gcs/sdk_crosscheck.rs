//! Google's Python SDK (google-cloud-storage) reads what Stowage stored, with its CRC-32C
//! and MD5 validation on, and stores objects (one multipart upload, one resumable upload
//! in chunks) that Stowage reads back and proves by the hashes GCS keeps.

use stowage_core::checksum::checksum_bytes;
use stowage_core::{ChecksumAlgo, ObjectStore, PutBody, PutOptions};
use stowage_testkit::adapter_tests::{SdkScript, crc64, run_sdk_script, upload_with_stowage};
use stowage_testkit::conformance::pseudo_random;

use crate::{fake_gcs, fresh, keyed_store_at, test_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn googles_sdk_and_stowage_read_each_other() {
    let (bucket, s) = fresh("sdk").await;
    let scratch = tempfile::tempdir().expect("tempdir");
    // One upload and one composed of 3 parts of 256 KiB and a tail.
    let objects = upload_with_stowage(&s, scratch.path(), 256 << 10, 3).await;
    let small = pseudo_random(150_000, 31);
    let md5 = checksum_bytes(&small, &[ChecksumAlgo::Md5])
        .get(ChecksumAlgo::Md5)
        .expect("md5");

    // Download URLs signed with a service-account key, for an ordinary key and an awkward one.
    let keyed = keyed_store_at(fake_gcs().endpoint(), &bucket);
    let mut presigned = Vec::new();
    for key in ["stowage/signed-1.ts", "stowage/signed a+b(1)~é.ts"] {
        let data = bytes::Bytes::from(format!("\x47 signed bytes of {key}"));
        s.put(key, PutBody::Bytes(data.clone()), &PutOptions::default())
            .await
            .expect("put");
        let url = keyed
            .signed_get_url(key, std::time::Duration::from_secs(600))
            .await
            .expect("sign");
        presigned.push(format!("{key}={}={url}", crc64(&data)));
    }

    let result = run_sdk_script(&SdkScript {
        script: "gcs_crosscheck.py",
        env: vec![
            ("STORAGE_EMULATOR_HOST", fake_gcs().endpoint().to_string()),
            ("GCS_XC_BUCKET", bucket.clone()),
            ("GCS_XC_STOWAGE_OBJECTS", objects),
            ("GCS_XC_STOWAGE_PUT_MD5", format!("stowage/small.ts={md5}")),
            ("GCS_XC_ENDPOINT", fake_gcs().endpoint().to_string()),
            ("GCS_XC_KEY_FILE", test_key().file.display().to_string()),
            ("GCS_XC_PRESIGNED", presigned.join(",")),
        ],
        missing: "Google's google-cloud-storage is not installed",
    });
    let checks = result["checks"].as_array().expect("checks");
    let failed: Vec<_> = checks.iter().filter(|c| c["ok"] != true).collect();
    assert!(failed.is_empty(), "SDK checks failed: {failed:#?}");
    assert!(checks.len() >= 11, "too few checks ran: {checks:#?}");

    // Stowage reads the SDK's objects: their bytes, and the hashes GCS keeps prove them.
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
        let local = checksum_bytes(&data, &[ChecksumAlgo::Md5, ChecksumAlgo::Crc32c]);
        assert_eq!(
            local.crc32c_base64().as_deref(),
            want["crc32c"].as_str(),
            "{key}"
        );
        let head = s.head(key).await.expect("head");
        assert_eq!(local.verify(&head.checksums).expect("hashes"), 2, "{key}");
        let store: &dyn ObjectStore = &s;
        let listed = store.list_all(key).await.expect("list");
        assert_eq!(listed.len(), 1, "{key}");
        assert_eq!(listed[0].checksums.crc32c, local.crc32c, "{key}");
    }
}
