//! Bucket-region discovery (`ObjectStore::bucket_region`, HeadBucket's
//! `x-amz-bucket-region`) against real local servers: moto (which reports the region a
//! bucket was created in), s3s (which reports none), and a redirecting proxy (S3's answer
//! when the request was signed for another region).

use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use stowage_core::{Credentials, ErrorKind, ObjectStore};
use stowage_s3::{S3Config, S3Store};
use stowage_testkit::moto::{self, MotoServer};
use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};
use stowage_testkit::s3s_server::S3sServer;

fn unique_bucket(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn store(endpoint: &str, bucket: &str, creds: Credentials) -> S3Store {
    let cfg = S3Config {
        bucket: bucket.to_string(),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.to_string()),
        force_path_style: true,
        credentials: Some(creds),
        profile: None,
        max_attempts: 1,
        integrity: Default::default(),
        ca_bundle: None,
    };
    S3Store::new(cfg).await.expect("build S3 store")
}

async fn moto_bucket_in(region: Option<&str>) -> S3Store {
    let server = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
    let bucket = unique_bucket("region");
    let creds = Credentials::new(moto::ACCESS_KEY, moto::SECRET_KEY);
    let s = store(server.endpoint(), &bucket, creds).await;
    let mut create = s.client().create_bucket().bucket(&bucket);
    if let Some(r) = region {
        let conf = CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(r))
            .build();
        create = create.create_bucket_configuration(conf);
    }
    create.send().await.expect("create bucket on moto");
    s
}

#[tokio::test]
async fn moto_reports_the_region_a_bucket_was_created_in() {
    let s = moto_bucket_in(Some("eu-west-1")).await;
    assert_eq!(
        s.bucket_region().await.unwrap().as_deref(),
        Some("eu-west-1")
    );
    let s = moto_bucket_in(Some("ap-southeast-1")).await;
    assert_eq!(
        s.bucket_region().await.unwrap().as_deref(),
        Some("ap-southeast-1")
    );
}

#[tokio::test]
async fn moto_default_bucket_is_in_us_east_1() {
    let s = moto_bucket_in(None).await;
    assert_eq!(
        s.bucket_region().await.unwrap().as_deref(),
        Some("us-east-1")
    );
}

#[tokio::test]
async fn missing_bucket_is_bucket_not_found_on_both_servers() {
    let moto = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
    let creds = Credentials::new(moto::ACCESS_KEY, moto::SECRET_KEY);
    let s = store(moto.endpoint(), "no-such-bucket-region", creds).await;
    let e = s.bucket_region().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::BucketNotFound, "{e}");
    assert_eq!(e.bucket(), Some("no-such-bucket-region"));

    let s3s = S3sServer::shared();
    let creds = Credentials::new(s3s.access_key(), s3s.secret_key());
    let s = store(s3s.endpoint(), "no-such-bucket-region", creds).await;
    let e = s.bucket_region().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::BucketNotFound, "{e}");
    assert!(e.to_string().contains("Fix:"), "{e}");
}

#[tokio::test]
async fn a_server_that_does_not_say_gives_none_not_a_guess() {
    let server = S3sServer::shared();
    let bucket = unique_bucket("silent");
    server.create_bucket(&bucket).expect("create bucket");
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let s = store(server.endpoint(), &bucket, creds).await;
    assert_eq!(s.bucket_region().await.unwrap(), None);
}

#[tokio::test]
async fn a_redirect_still_names_the_region() {
    let server = S3sServer::shared();
    let bucket = unique_bucket("moved");
    server.create_bucket(&bucket).expect("create bucket");
    let rule = FaultRule::new(
        Match::Any,
        Fault::permanent_redirect("ap-northeast-1"),
        Times::Always,
    );
    let proxy = FaultProxy::start(server.endpoint(), vec![rule]).expect("start proxy");
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let s = store(proxy.endpoint(), &bucket, creds).await;
    assert_eq!(
        s.bucket_region().await.unwrap().as_deref(),
        Some("ap-northeast-1")
    );
    // Discovery does not switch the store: the question is answered, nothing is followed.
    assert_eq!(s.region(), "us-east-1");
}

async fn through(fault: Fault) -> (FaultProxy, S3Store) {
    let server = S3sServer::shared();
    let bucket = unique_bucket("refused");
    server.create_bucket(&bucket).expect("create bucket");
    let rule = FaultRule::new(Match::Any, fault, Times::Always);
    let proxy = FaultProxy::start(server.endpoint(), vec![rule]).expect("start proxy");
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let s = store(proxy.endpoint(), &bucket, creds).await;
    (proxy, s)
}

#[tokio::test]
async fn a_refusal_that_names_the_region_still_answers() {
    // S3 sends x-amz-bucket-region on a 403 HeadBucket too (no access to the bucket).
    let mut fault = Fault::s3_error(403, "AccessDenied", "Access Denied");
    if let Fault::Status { headers, .. } = &mut fault {
        headers.push(("x-amz-bucket-region".into(), "sa-east-1".into()));
    }
    let (_proxy, s) = through(fault).await;
    assert_eq!(
        s.bucket_region().await.unwrap().as_deref(),
        Some("sa-east-1")
    );
}

#[tokio::test]
async fn a_refusal_without_the_region_is_the_error_it_is() {
    let (_proxy, s) = through(Fault::s3_error(403, "AccessDenied", "Access Denied")).await;
    let e = s.bucket_region().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::AccessDenied, "{e}");
    assert!(!e.to_string().contains("<Error>"), "{e}");
}
