//! Stowage's S3 store alone (its put: checksums sent, the reply checked and proven) over every
//! file in a directory at several concurrencies, without the pipeline (journal, events):
//! what separates the pipeline's cost per object from the store's, beside `sdk-put-loop`.
//! With `hash`, each file is hashed first (CRC64-NVME), as the pipeline does.
//!
//! `store-put-loop ENDPOINT ACCESS_KEY SECRET_KEY BUCKET DIR [hash]`

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use stowage_core::{Credentials, ObjectStore, PutBody, PutOptions};
use stowage_s3::{S3Config, S3Integrity, S3Store};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (endpoint, ak, sk, bucket, dir) = (&args[1], &args[2], &args[3], &args[4], &args[5]);
    let hash = args.get(6).is_some_and(|a| a == "hash");
    let store: Arc<dyn ObjectStore> = Arc::new(
        S3Store::new(S3Config {
            bucket: bucket.clone(),
            region: Some("us-east-1".into()),
            endpoint: Some(endpoint.clone()),
            force_path_style: true,
            credentials: Some(Credentials::new(ak, sk)),
            profile: None,
            max_attempts: 3,
            integrity: S3Integrity::Crc64Nvme,
            ca_bundle: None,
        })
        .await
        .unwrap(),
    );
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for concurrency in [8usize, 16, 32, 64] {
        let t = Instant::now();
        futures::stream::iter(files.iter().enumerate())
            .map(|(i, path)| {
                let store = store.clone();
                async move {
                    let mut opts = PutOptions::default();
                    if hash {
                        let (_, sums) = stowage_core::checksum::checksum_file(
                            path,
                            &[stowage_core::ChecksumAlgo::Crc64Nvme],
                        )
                        .await
                        .unwrap();
                        opts.checksums = Some(sums);
                    }
                    let body = PutBody::file(path).await.unwrap();
                    store
                        .put(&format!("c{concurrency}/{i}"), body, &opts)
                        .await
                        .unwrap();
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<()>>()
            .await;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "store put loop at concurrency {concurrency}: {:.0} objects/s",
            files.len() as f64 / secs
        );
    }
}
