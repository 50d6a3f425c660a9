//! A recording directory to a bucket named by a URL, then proof that it arrived.
//!
//! ```text
//! cargo run -p stowage --example upload_recording -- ./spool oss://my-bucket/recordings/room-1
//! ```
//!
//! Credentials, endpoint and region come from the vendor's environment (`OSS_*`, `AWS_*`,
//! …), `STOWAGE_FROM` says where this machine runs (the endpoint is chosen for it).

use std::path::Path;

use stowage::{Settings, Targets, UploadOptions, open, upload_recording};

/// Uploads `spool` to `url` and verifies every object; returns how many were checked.
pub async fn run(
    spool: &Path,
    url: &str,
    settings: &Settings,
) -> Result<usize, Box<dyn std::error::Error>> {
    let bucket = open(url, settings).await?;
    if let Some(advice) = bucket.cross_region() {
        eprintln!("warning: {}. Fix: {}", advice.message, advice.fix);
    }
    let targets = Targets {
        primary: bucket.store.clone(),
        backup: None,
    };
    let opts = UploadOptions {
        prefix: bucket.prefix.clone(),
        ..UploadOptions::default()
    };
    let summary = upload_recording(spool, &targets, &opts).await?;
    println!(
        "{:?}: {} objects, {} bytes",
        summary.status, summary.objects, summary.bytes
    );

    let expected = stowage::verify::expected_from_dir(spool, &bucket.prefix).await?;
    let manifest = stowage::join_key(&bucket.prefix, stowage::pipeline::MANIFEST_NAME);
    let store = bucket.store.as_ref();
    let report =
        stowage::verify::verify(store, None, &bucket.prefix, &expected, Some(&manifest)).await?;
    if !report.problems.is_empty() {
        return Err(format!("not all there: {:?}", report.problems).into());
    }
    Ok(report.checked)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(spool), Some(url)) = (args.next(), args.next()) else {
        return Err("usage: upload_recording SPOOL_DIR BUCKET_URL".into());
    };
    let checked = run(Path::new(&spool), &url, &Settings::from_env()?).await?;
    println!("verified: {checked} objects");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage::Credentials;
    use stowage_testkit::s3s_server::S3sServer;

    fn spool(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for i in 0..3 {
            std::fs::write(dir.join(format!("seg{i}.ts")), vec![0x47; 188 * (i + 1)]).unwrap();
        }
        let playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.ts\n#EXTINF:2.0,\nseg1.ts\n#EXTINF:2.0,\nseg2.ts\n#EXT-X-ENDLIST\n";
        std::fs::write(dir.join("index.m3u8"), playlist).unwrap();
    }

    #[tokio::test]
    async fn into_a_local_directory_bucket() {
        let tmp = tempfile::tempdir().unwrap();
        spool(&tmp.path().join("spool"));
        let bucket = tmp.path().join("bucket");
        let settings = Settings::builder().create_local(true).build();
        let checked = run(
            &tmp.path().join("spool"),
            bucket.to_str().unwrap(),
            &settings,
        )
        .await
        .unwrap();
        assert_eq!(checked, 4);
    }

    #[tokio::test]
    async fn into_the_in_process_s3_server() {
        let server = S3sServer::start().unwrap();
        server.create_bucket("rec").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        spool(&tmp.path().join("spool"));
        let settings = Settings::builder()
            .endpoint(server.endpoint())
            .region("us-east-1")
            .credentials(Credentials::new(server.access_key(), server.secret_key()))
            .build();
        let checked = run(&tmp.path().join("spool"), "s3://rec/room-1", &settings)
            .await
            .unwrap();
        assert_eq!(checked, 4);
    }
}
