//! Throughput of the hot paths of issue #2, printed as MiB/s and as ratios to a baseline
//! measured in the same run (so the numbers mean something on any machine):
//!
//! - checksums over 256 MiB in memory, each algorithm against a plain copy of the bytes;
//! - one streaming pass of all six algorithms against the slowest one alone;
//! - local-store puts of 200 × 1 MiB segments against writing the same files with std::fs;
//! - S3 puts of 200 × 1 MiB to the in-process s3s server at concurrency 16, and a 64 MiB
//!   multipart upload.
//!
//! `cargo bench -p stowage-benches`

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use stowage_benches::{best_of, mib_per_s};
use stowage_core::checksum::checksum_bytes;
use stowage_core::upload::{UploadConfig, multipart_upload_file};
use stowage_core::{ChecksumAlgo, Credentials, ObjectStore, PutBody, PutOptions};
use stowage_testkit::conformance::pseudo_random;
use stowage_testkit::s3s_server::S3sServer;

const MIB: usize = 1 << 20;

fn main() {
    checksums();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        local_store_puts().await;
        s3_puts().await;
    });
}

fn checksums() {
    let data = pseudo_random(256 * MIB, 1);
    let bytes = data.len() as u64;
    let copy = best_of(3, || {
        std::hint::black_box(data.clone());
    });
    println!(
        "checksums over 256 MiB (baseline: copying the bytes, {:.0} MiB/s)",
        mib_per_s(bytes, copy)
    );
    let mut slowest = std::time::Duration::ZERO;
    for algo in ChecksumAlgo::ALL {
        let t = best_of(3, || {
            std::hint::black_box(checksum_bytes(&data, &[algo]));
        });
        slowest = slowest.max(t);
        println!(
            "  {:<10} {:>8.0} MiB/s  {:>5.2}x copy time",
            algo.name(),
            mib_per_s(bytes, t),
            t.as_secs_f64() / copy.as_secs_f64()
        );
    }
    let all = best_of(3, || {
        std::hint::black_box(checksum_bytes(&data, &ChecksumAlgo::ALL));
    });
    println!(
        "  all six    {:>8.0} MiB/s  {:>5.2}x the slowest alone",
        mib_per_s(bytes, all),
        all.as_secs_f64() / slowest.as_secs_f64()
    );
}

async fn local_store_puts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segment = Bytes::from(pseudo_random(MIB, 2));
    let n = 200;
    let t = Instant::now();
    for i in 0..n {
        let p = dir.path().join(format!("plain-{i}.ts"));
        std::fs::write(&p, &segment).expect("write");
        std::fs::File::open(&p)
            .and_then(|f| f.sync_all())
            .expect("sync");
    }
    let plain = t.elapsed();
    let store = stowage_fs::FsStore::create(dir.path().join("bucket"))
        .await
        .expect("store");
    let t = Instant::now();
    for i in 0..n {
        store
            .put(
                &format!("seg-{i}.ts"),
                PutBody::Bytes(segment.clone()),
                &PutOptions::default(),
            )
            .await
            .expect("put");
    }
    let ours = t.elapsed();
    let bytes = (n * MIB) as u64;
    println!("local store, {n} x 1 MiB sequential puts (atomic, fsync, all six checksums)");
    println!(
        "  std::fs write+fsync {:>8.0} MiB/s",
        mib_per_s(bytes, plain)
    );
    println!(
        "  FsStore::put        {:>8.0} MiB/s  {:>5.2}x the plain write time",
        mib_per_s(bytes, ours),
        ours.as_secs_f64() / plain.as_secs_f64()
    );
}

async fn s3_puts() {
    let server = S3sServer::shared();
    server.create_bucket("bench").expect("bucket");
    let cfg = stowage_s3::S3Config {
        bucket: "bench".into(),
        region: Some("us-east-1".into()),
        endpoint: Some(server.endpoint().to_string()),
        force_path_style: true,
        credentials: Some(Credentials::new(server.access_key(), server.secret_key())),
        profile: None,
        max_attempts: 3,
        integrity: Default::default(),
        ca_bundle: None,
    };
    let store: Arc<dyn ObjectStore> = Arc::new(stowage_s3::S3Store::new(cfg).await.expect("store"));
    let segment = Bytes::from(pseudo_random(MIB, 3));
    let n = 200;
    let t = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let (store, body) = (store.clone(), segment.clone());
            async move {
                store
                    .put(
                        &format!("seg-{i}.ts"),
                        PutBody::Bytes(body),
                        &PutOptions::default(),
                    )
                    .await
            }
        })
        .buffer_unordered(16)
        .for_each(|r| async move {
            r.expect("put");
        })
        .await;
    let puts = t.elapsed();
    println!(
        "S3 (in-process s3s-fs, same 2 cores), {n} x 1 MiB puts at concurrency 16, Content-MD5 + CRC64-NVME each"
    );
    println!(
        "  {:>8.0} MiB/s, {:.0} puts/s",
        mib_per_s((n * MIB) as u64, puts),
        n as f64 / puts.as_secs_f64()
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.mp4");
    std::fs::write(&path, pseudo_random(64 * MIB, 4)).expect("write");
    let cfg = UploadConfig {
        part_size: 8 * MIB as u64,
        multipart_threshold: 8 * MIB as u64,
        ..UploadConfig::default()
    };
    let t = Instant::now();
    multipart_upload_file(
        store.as_ref(),
        "big.mp4",
        &path,
        &PutOptions::default(),
        &cfg,
        None,
    )
    .await
    .expect("multipart");
    let mp = t.elapsed();
    println!(
        "  64 MiB multipart (8 MiB parts, 4 in flight): {:>6.0} MiB/s",
        mib_per_s(64 * MIB as u64, mp)
    );
}
