//! `stowage` on Azure Blob (Azurite): cp, ls, stat, presign, upload with verify (content
//! proven by the MD5 Azure keeps), the doctor, and Agora's vendor 5 storageConfig.

use serde_json::Value;
use stowage_testkit::azurite::{ACCOUNT, ACCOUNT_KEY, Azurite};

use crate::common::{ok, stderr, stdout, stowage_env};

fn azurite() -> &'static Azurite {
    Azurite::shared().unwrap_or_else(|e| panic!("{e}"))
}

/// The account through the `AZURE_STORAGE_*` variables, as the Azure CLI's users have it.
fn env() -> [(&'static str, String); 3] {
    [
        ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT.to_string()),
        ("AZURE_STORAGE_ACCOUNT_KEY", ACCOUNT_KEY.to_string()),
        ("AZURE_STORAGE_ENDPOINT", azurite().endpoint().to_string()),
    ]
}

fn run(args: &[&str]) -> std::process::Output {
    let env = env();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    stowage_env(args, &pairs)
}

/// Creates the container with Microsoft's SDK (Stowage never creates buckets).
fn create(name: &str) {
    let script = format!(
        "from azure.storage.blob import BlobServiceClient as B\nB.from_connection_string('{}').create_container('{name}')",
        azurite().connection_string()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn copy_list_stat_presign_upload_and_verify_on_azure() {
    let name = format!("cli-az-{}", std::process::id());
    create(&name);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seg.ts");
    std::fs::write(&file, b"\x47 one segment").unwrap();
    let dest = format!("az://{name}/rec/seg.ts");
    ok(run(&["cp", file.to_str().unwrap(), &dest]));
    let listed = ok(run(&["ls", &format!("azure://{name}/rec/")]));
    assert!(listed.contains("rec/seg.ts"), "{listed}");
    let stat = ok(run(&["stat", &dest]));
    // The MD5 Azure computed on Put Blob and keeps as the blob's property.
    let md5 = stowage_core::checksum::checksum_bytes(
        b"\x47 one segment",
        &[stowage_core::ChecksumAlgo::Md5],
    )
    .get(stowage_core::ChecksumAlgo::Md5)
    .unwrap();
    assert!(stat.contains(&format!("md5:           {md5}")), "{stat}");
    let url = ok(run(&["presign", &dest])).trim().to_string();
    assert!(url.contains("sig="), "{url}");

    let spool = crate::common::sample_recording();
    let up = run(&[
        "upload",
        spool.to_str().unwrap(),
        &format!("az://{name}/rec1/"),
    ]);
    assert!(up.status.success(), "{}\n{}", stdout(&up), stderr(&up));
    let verify = run(&["verify", "--json", &format!("az://{name}/rec1/")]);
    let report: Value = serde_json::from_str(&stdout(&verify))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&verify), stderr(&verify)));
    assert_eq!(verify.status.code(), Some(0), "{report}");
    let unproven = report["unproven"].as_array().expect("unproven");
    assert!(
        unproven.is_empty(),
        "every object proven by a checksum: {report}"
    );
    assert!(
        report["problems"].as_array().is_none_or(|p| p.is_empty()),
        "{report}"
    );
}

#[test]
fn doctor_names_agora_vendor_5_and_checks_the_container() {
    let name = format!("cli-agora-{}", std::process::id());
    create(&name);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("storage.json");
    let json = format!(
        r#"{{"vendor":5,"region":0,"bucket":"{name}","accessKey":"{ACCOUNT}","secretKey":"{ACCOUNT_KEY}","fileNamePrefix":["rec"]}}"#
    );
    std::fs::write(&path, json).unwrap();
    let o = stowage_env(
        &[
            "doctor",
            "--json",
            "--probe-mib",
            "1",
            "--agora",
            path.to_str().unwrap(),
            "--endpoint",
            azurite().endpoint(),
        ],
        &[],
    );
    let doc: Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
    assert_eq!(o.status.code(), Some(0), "{doc}");
    let text = doc.to_string();
    assert!(text.contains("vendor 5 (Microsoft Azure (Blob))"), "{text}");
    assert!(text.contains("region is 0 and ignored"), "{text}");
    assert!(!text.contains(ACCOUNT_KEY), "the key leaked: {text}");
    let write = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "write")
        .expect("write check");
    assert_eq!(write["verdict"], "pass", "{doc}");
}
