//! The ceiling for small-object uploads: a bare aws-sdk-s3 PUT loop (no checksums of ours,
//! no journal) over every file in a directory, at several concurrencies (8, 16, 32, 64, or
//! `SDK_LOOP_CONCURRENCY`); prints the best as `MiB/s objects/s concurrency`.
//!
//! `sdk-put-loop ENDPOINT ACCESS_KEY SECRET_KEY BUCKET DIR`

use std::time::Instant;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::primitives::ByteStream;
use futures::StreamExt;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, endpoint, ak, sk, bucket, dir] = args.as_slice() else {
        eprintln!("usage: sdk-put-loop ENDPOINT ACCESS_KEY SECRET_KEY BUCKET DIR");
        std::process::exit(2);
    };
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(ak, sk, None, None, "bench"))
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .http_client(stowage_s3_http_client())
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let mut best = (0.0f64, 0.0f64, 0usize);
    // SDK_LOOP_CONCURRENCY="16" measures one concurrency only.
    let concurrencies: Vec<usize> = std::env::var("SDK_LOOP_CONCURRENCY")
        .ok()
        .map(|v| {
            v.split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect()
        })
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![8, 16, 32, 64]);
    for concurrency in concurrencies {
        let t = Instant::now();
        futures::stream::iter(files.iter().enumerate())
            .map(|(i, path)| {
                let client = client.clone();
                async move {
                    let body = ByteStream::from_path(path).await.expect("body");
                    client
                        .put_object()
                        .bucket(bucket)
                        .key(format!("c{concurrency}/{i}"))
                        .body(body)
                        .send()
                        .await
                        .expect("put");
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<()>>()
            .await;
        let secs = t.elapsed().as_secs_f64();
        let rate = bytes as f64 / (1024.0 * 1024.0) / secs;
        let objects = files.len() as f64 / secs;
        eprintln!(
            "  bare SDK loop at concurrency {concurrency}: {rate:.0} MiB/s, {objects:.0} objects/s"
        );
        if rate > best.0 {
            best = (rate, objects, concurrency);
        }
    }
    println!("{:.1} {:.0} {}", best.0, best.1, best.2);
}

fn stowage_s3_http_client() -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
