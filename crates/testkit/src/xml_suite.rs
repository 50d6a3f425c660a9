//! The tests every XML-API store (OSS, COS) runs on its emulator alike: answers that are
//! not the vendor's (pages, empty 200s, redirects), the CRC-64 the server returns on puts,
//! parts and completions, stream bodies, faults on parts retried, and a missing bucket
//! named. A vendor's test binary describes itself once ([`XmlVendorTests`]) and expands
//! them with [`xml_store_suite!`](crate::xml_store_suite); its own behaviours (signing,
//! addressing, tokens, clocks, region rules) stay in its file.

use bytes::Bytes;
use stowage_core::{ChecksumAlgo, Credentials, Error, ErrorKind, ObjectStore, PutBody, PutOptions};

use crate::adapter_tests::{self, CrcAnswers, assert_clean};
use crate::conformance::{pseudo_random, put_one_byte};
use crate::xml_api::server::{Api, Emulator};
use crate::xml_api::state::StsCredentials;

/// One vendor as the shared tests see it.
pub struct XmlVendorTests<A: Api, S> {
    /// The emulator the tests run on.
    pub server: &'static Emulator<A>,
    /// What an `UnexpectedReply` says the endpoint is not (`an OSS server`).
    pub not_a: &'static str,
    /// The vendor's CRC header and multipart ETag, for the faked answers.
    pub crc_answers: CrcAnswers,
    /// A new bucket name the vendor accepts, from a tag.
    pub bucket: fn(&str) -> String,
    /// A store of `bucket` through `endpoint` with `credentials`.
    pub store: fn(&str, &str, Credentials) -> S,
    /// The same, trying each request once (for answers the fault proxy fakes).
    pub once: fn(&str, &str, Credentials) -> S,
    /// A store of `bucket` through `endpoint` addressed as a bound custom domain.
    pub custom_domain: fn(&str, &str, Credentials) -> S,
    /// The vendor's code for an expired STS token (`SecurityTokenExpired`), and what the
    /// error's fix must say.
    pub expired_token: (&'static str, &'static str),
}

impl<A: Api, S: ObjectStore> XmlVendorTests<A, S> {
    fn good(&self) -> Credentials {
        Credentials::new(self.server.access_key(), self.server.secret_key())
    }

    /// A new bucket on the emulator, and a store of it.
    fn bucket_and_store(&self, tag: &str) -> (String, S) {
        let bucket = (self.bucket)(tag);
        self.server.create_bucket(&bucket);
        let store = (self.store)(self.server.endpoint(), &bucket, self.good());
        (bucket, store)
    }

    /// A store of `bucket` through `endpoint` (the fault proxy).
    fn through(&self, endpoint: &str, bucket: &str) -> S {
        (self.store)(endpoint, bucket, self.good())
    }

    fn once_through(&self, endpoint: &str, bucket: &str) -> S {
        (self.once)(endpoint, bucket, self.good())
    }

    fn stored(&self, bucket: &str, key: &str) -> Option<Bytes> {
        self.server.object_bytes(bucket, key)
    }
}

/// Expands the shared tests for a vendor: `$factory()` gives its [`XmlVendorTests`].
#[macro_export]
macro_rules! xml_store_suite {
    ($factory:path) => {
        $crate::xml_store_suite!(@each $factory;
            uploads_answered_by_a_page_an_empty_200_or_a_redirect_are_unexpected,
            listings_answered_empty_or_by_a_page_are_unexpected,
            multipart_answered_empty_or_by_a_page_is_unexpected,
            a_head_answered_by_a_page_reads_as_an_object_without_a_checksum,
            put_crc_is_the_emulators_and_the_bytes_arrive,
            stream_bodies,
            faults_on_upload_part_are_retried,
            a_wrong_crc_from_the_server_is_a_checksum_mismatch,
            a_wrong_part_crc_is_a_checksum_mismatch,
            a_completed_object_with_another_crc_is_a_checksum_mismatch,
            missing_bucket_is_named,
            sts_token_works_and_its_expiry_is_named,
            custom_domain_addressing);
    };
    (@each $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::xml_suite::$name(&$factory()).await;
            }
        )*
    };
}

pub async fn uploads_answered_by_a_page_an_empty_200_or_a_redirect_are_unexpected<
    A: Api,
    S: ObjectStore,
>(
    t: &XmlVendorTests<A, S>,
) {
    let (bucket, _) = t.bucket_and_store("pages");
    adapter_tests::uploads_answered_by_others_are_unexpected(
        t.server.endpoint(),
        t.not_a,
        |endpoint| t.through(endpoint, &bucket),
        |key| t.stored(&bucket, key),
    )
    .await;
}

pub async fn listings_answered_empty_or_by_a_page_are_unexpected<A: Api, S: ObjectStore>(
    t: &XmlVendorTests<A, S>,
) {
    let (bucket, s) = t.bucket_and_store("emptylist");
    put_one_byte(&s, "a.ts").await.expect("put");
    adapter_tests::listings_answered_by_others_are_unexpected(
        t.server.endpoint(),
        t.not_a,
        |endpoint| t.through(endpoint, &bucket),
    )
    .await;
}

pub async fn multipart_answered_empty_or_by_a_page_is_unexpected<A: Api, S: ObjectStore>(
    t: &XmlVendorTests<A, S>,
) {
    let (bucket, _) = t.bucket_and_store("pagecomplete");
    adapter_tests::multipart_answered_by_others_is_unexpected(
        t.server.endpoint(),
        t.not_a,
        |endpoint| t.through(endpoint, &bucket),
        |key| t.stored(&bucket, key),
    )
    .await;
}

/// A HEAD of an object answered by a page is read, not refused (the object's content type
/// is its own): typed text/html, the page's length, no CRC-64, so nothing confirms an
/// upload with it.
pub async fn a_head_answered_by_a_page_reads_as_an_object_without_a_checksum<
    A: Api,
    S: ObjectStore,
>(
    t: &XmlVendorTests<A, S>,
) {
    let (bucket, _) = t.bucket_and_store("pagehead");
    let meta = adapter_tests::head_answered_by_a_page(t.server.endpoint(), |endpoint| {
        t.through(endpoint, &bucket)
    })
    .await;
    assert!(meta.size > 0, "{meta:?}");
    assert_eq!(meta.checksums.crc64ecma, None);
}

pub async fn put_crc_is_the_emulators_and_the_bytes_arrive<A: Api, S: ObjectStore>(
    t: &XmlVendorTests<A, S>,
) {
    let (bucket, s) = t.bucket_and_store("crc");
    let data = pseudo_random(300_000, 2);
    let meta = s
        .put(
            "a.ts",
            PutBody::Bytes(Bytes::from(data.clone())),
            &PutOptions::default(),
        )
        .await
        .expect("put");
    let local = stowage_core::checksum::checksum_bytes(&data, &[ChecksumAlgo::Crc64Ecma]);
    assert_eq!(meta.checksums.crc64ecma, local.crc64ecma);
    assert_eq!(t.stored(&bucket, "a.ts").as_deref(), Some(&data[..]));
}

/// Stream bodies (collected first: Content-MD5 goes before the body) for put and parts.
pub async fn stream_bodies<A: Api, S: ObjectStore>(t: &XmlVendorTests<A, S>) {
    let (bucket, s) = t.bucket_and_store("stream");
    adapter_tests::stream_bodies(&s, |key| t.stored(&bucket, key)).await;
}

/// A 503 and a reset on UploadPart are retried; the object arrives intact.
pub async fn faults_on_upload_part_are_retried<A: Api, S: ObjectStore>(t: &XmlVendorTests<A, S>) {
    let (bucket, _) = t.bucket_and_store("faults");
    adapter_tests::part_faults_are_retried(
        t.server.endpoint(),
        |endpoint| t.through(endpoint, &bucket),
        |key| t.stored(&bucket, key),
    )
    .await;
}

/// A server that stores other bytes than were sent is caught by the CRC check.
pub async fn a_wrong_crc_from_the_server_is_a_checksum_mismatch<A: Api, S: ObjectStore>(
    t: &XmlVendorTests<A, S>,
) {
    let (bucket, _) = t.bucket_and_store("badcrc");
    adapter_tests::wrong_crc_is_a_checksum_mismatch(t.server.endpoint(), t.crc_answers, |e| {
        t.once_through(e, &bucket)
    })
    .await;
}

/// A part whose returned CRC differs from the bytes sent is refused.
pub async fn a_wrong_part_crc_is_a_checksum_mismatch<A: Api, S: ObjectStore>(
    t: &XmlVendorTests<A, S>,
) {
    let (bucket, _) = t.bucket_and_store("partcrc");
    adapter_tests::wrong_part_crc_is_a_checksum_mismatch(t.server.endpoint(), t.crc_answers, |e| {
        t.once_through(e, &bucket)
    })
    .await;
}

/// The completed object's CRC must be the parts' CRCs combined.
pub async fn a_completed_object_with_another_crc_is_a_checksum_mismatch<A: Api, S: ObjectStore>(
    t: &XmlVendorTests<A, S>,
) {
    let (bucket, _) = t.bucket_and_store("completecrc");
    adapter_tests::wrong_completed_crc_is_a_checksum_mismatch(
        t.server.endpoint(),
        t.crc_answers,
        |e| t.once_through(e, &bucket),
    )
    .await;
}

pub async fn missing_bucket_is_named<A: Api, S: ObjectStore>(t: &XmlVendorTests<A, S>) {
    let missing = (t.bucket)("nosuch");
    let s = (t.store)(t.server.endpoint(), &missing, t.good());
    let e = put_one_byte(&s, "a.ts")
        .await
        .expect_err("missing bucket accepted");
    assert_eq!(e.kind(), &ErrorKind::BucketNotFound, "{e}");
    assert!(
        e.vendor_code()
            .is_some_and(|c| c.starts_with("NoSuchBucket")),
        "{e}"
    );
    assert_clean(&e, t.server.secret_key(), "check the bucket name");
}

/// Credentials of `sts`, with its token or without.
fn sts_credentials(sts: &StsCredentials, with_token: bool) -> Credentials {
    let creds = Credentials::new(&sts.access_key, &sts.secret_key);
    match with_token {
        true => creds.with_session_token(Some(sts.security_token.clone())),
        false => creds,
    }
}

/// An STS key pair works with its token and is refused without it; an expired token is
/// refused on HEAD and on PUT with the vendor's code and fix, never quoting the secret or
/// the token.
pub async fn sts_token_works_and_its_expiry_is_named<A: Api, S: ObjectStore>(
    t: &XmlVendorTests<A, S>,
) {
    let bucket = (t.bucket)("sts");
    t.server.create_bucket(&bucket);
    let endpoint = t.server.endpoint();
    let sts = t.server.add_sts_credentials(false);
    let s = (t.store)(endpoint, &bucket, sts_credentials(&sts, true));
    put_one_byte(&s, "a.ts")
        .await
        .expect("valid STS token refused");

    let no_token = (t.store)(endpoint, &bucket, sts_credentials(&sts, false));
    let e = put_one_byte(&no_token, "a.ts")
        .await
        .expect_err("missing token accepted");
    assert_eq!(e.kind(), &ErrorKind::InvalidCredentials, "{e}");

    let expired = t.server.add_sts_credentials(true);
    let s = (t.store)(endpoint, &bucket, sts_credentials(&expired, true));
    let on_head = s.head("a.ts").await.expect_err("expired token accepted");
    let on_put = put_one_byte(&s, "a.ts")
        .await
        .expect_err("expired token accepted");
    for e in [on_head, on_put] {
        assert_expired_token(&e, t.expired_token, &expired);
    }
}

/// The error names the expired token by the vendor's `code` and says how to renew it.
fn assert_expired_token(e: &Error, (code, fix): (&str, &str), sts: &StsCredentials) {
    assert_eq!(e.kind(), &ErrorKind::InvalidCredentials, "{e}");
    let vendor_code = e.vendor_code().and_then(|c| c.split(',').next());
    assert_eq!(vendor_code, Some(code), "{e}");
    assert_clean(e, &sts.secret_key, fix);
    assert!(!e.to_string().contains(&sts.security_token), "{e}");
}

/// A custom domain: the host names no bucket (on an emulator of its own, whose address is
/// the domain).
pub async fn custom_domain_addressing<A: Api, S: ObjectStore>(t: &XmlVendorTests<A, S>) {
    let server = Emulator::<A>::start().expect("emulator");
    let bucket = (t.bucket)("media");
    server.add_custom_domain(&server.addr().to_string(), &bucket);
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let s = (t.custom_domain)(server.endpoint(), &bucket, creds);
    put_one_byte(&s, "live/a.ts")
        .await
        .expect("put via custom domain");
    assert_eq!(
        server.object_bytes(&bucket, "live/a.ts").as_deref(),
        Some(&b"1"[..])
    );
    let listed = (&s as &dyn ObjectStore)
        .list_all("live/")
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
}
