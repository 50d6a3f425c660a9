//! Answers that are not COS's, injected by the fault proxy in front of the COS emulator: an
//! HTML page (a captive portal, a web server as `--endpoint`), an empty 200, a redirect to
//! a login page, a 4xx page. Each is an `UnexpectedReply` saying what came back and that
//! the endpoint is not a COS server, never the page; a 5xx page stays a retried server error.

use stowage_testkit::adapter_tests;
use stowage_testkit::conformance::put_one_byte;
use stowage_testkit::cos::CosEmulator;

use super::{good, store, unique_bucket};

const SERVER: &str = "a COS server";

#[tokio::test]
async fn uploads_answered_by_a_page_an_empty_200_or_a_redirect_are_unexpected() {
    let server = CosEmulator::shared();
    let bucket = unique_bucket("pages");
    server.create_bucket(&bucket);
    adapter_tests::uploads_answered_by_others_are_unexpected(
        server.endpoint(),
        SERVER,
        |endpoint| store(endpoint, &bucket, good(server)),
        |key| server.object_bytes(&bucket, key),
    )
    .await;
}

#[tokio::test]
async fn listings_answered_empty_or_by_a_page_are_unexpected() {
    let server = CosEmulator::shared();
    let bucket = unique_bucket("emptylist");
    server.create_bucket(&bucket);
    put_one_byte(&store(server.endpoint(), &bucket, good(server)), "a.ts")
        .await
        .expect("put");
    adapter_tests::listings_answered_by_others_are_unexpected(
        server.endpoint(),
        SERVER,
        |endpoint| store(endpoint, &bucket, good(server)),
    )
    .await;
}

#[tokio::test]
async fn multipart_answered_empty_or_by_a_page_is_unexpected() {
    let server = CosEmulator::shared();
    let bucket = unique_bucket("pagecomplete");
    server.create_bucket(&bucket);
    adapter_tests::multipart_answered_by_others_is_unexpected(
        server.endpoint(),
        SERVER,
        |endpoint| store(endpoint, &bucket, good(server)),
        |key| server.object_bytes(&bucket, key),
    )
    .await;
}

/// A HEAD of an object answered by a page is read, not refused (the object's content type
/// is its own): typed text/html, the page's length, no CRC-64, so nothing confirms an
/// upload with it.
#[tokio::test]
async fn a_head_answered_by_a_page_reads_as_an_object_without_a_checksum() {
    let server = CosEmulator::shared();
    let bucket = unique_bucket("pagehead");
    server.create_bucket(&bucket);
    let meta = adapter_tests::head_answered_by_a_page(server.endpoint(), |endpoint| {
        store(endpoint, &bucket, good(server))
    })
    .await;
    assert!(meta.size > 0, "{meta:?}");
    assert_eq!(meta.checksums.crc64ecma, None);
}
