//! Our S3 table against botocore's `endpoints.json` (shipped with the AWS CLI that
//! `scripts/test` installs): every commercial, China, GovCloud and European Sovereign Cloud
//! region where botocore lists S3 must be in `data/s3.toml`, with its partition, so the next
//! region AWS opens fails this test instead of a user's `--region`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use stowage_region::Vendor;

/// The partitions a customer account can use; the ISO ones are closed networks.
const PARTITIONS: [&str; 4] = ["aws", "aws-cn", "aws-us-gov", "aws-eusc"];

/// botocore's `data/endpoints.json`, found through the Python that has it.
fn endpoints_json() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import botocore,os;print(os.path.dirname(botocore.__file__))",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    let path = PathBuf::from(dir.trim()).join("data/endpoints.json");
    path.is_file().then_some(path)
}

/// (partition, region) for every region whose partition lists an S3 endpoint for it.
fn botocore_s3_regions(json: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for p in json["partitions"].as_array().into_iter().flatten() {
        let partition = p["partition"].as_str().unwrap_or_default();
        if !PARTITIONS.contains(&partition) {
            continue;
        }
        let s3 = &p["services"]["s3"]["endpoints"];
        for region in p["regions"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(r, _)| r)
        {
            if s3.get(region).is_some() {
                out.insert((partition.to_string(), region.clone()));
            }
        }
    }
    out
}

#[test]
fn every_s3_region_botocore_knows_is_in_the_table() {
    let Some(path) = endpoints_json() else {
        println!("skipped: botocore is not installed (scripts/test installs the AWS CLI)");
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let botocore = botocore_s3_regions(&json);
    assert!(botocore.len() > 30, "{} looks truncated", path.display());
    let missing: Vec<String> = botocore
        .iter()
        .filter(|(partition, id)| {
            Vendor::S3
                .region(id)
                .map_or(true, |r| r.partition.as_deref() != Some(partition.as_str()))
        })
        .map(|(p, id)| format!("{id} ({p})"))
        .collect();
    assert!(
        missing.is_empty(),
        "regions in {} that crates/region/data/s3.toml lacks (or files under another partition): {missing:?}",
        path.display()
    );
}
