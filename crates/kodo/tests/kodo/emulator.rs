//! The Kodo emulator's protocol rules that the store never trips by itself, driven by
//! hand-made requests signed with the store's `Signer`: insert-only tokens, scopes, the form
//! upload's crc32, part numbers and sizes, unknown or expired uploads, unsigned requests.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use stowage_core::{Credentials, ErrorKind, MultipartUpload, ObjectStore, PutBody, PutOptions};
use stowage_kodo::{KodoConfig, KodoStore, Signer};
use stowage_testkit::kodo::KodoEmulator;

fn setup() -> (KodoEmulator, Signer) {
    let emu = KodoEmulator::start().unwrap();
    emu.create_bucket("b", "z0");
    let signer = Signer::new(Credentials::new(emu.access_key(), emu.secret_key()));
    (emu, signer)
}

/// An upload token for any put policy.
fn token(signer: &Signer, policy: Value) -> String {
    let encoded = URL_SAFE.encode(policy.to_string());
    format!("{}:{encoded}", signer.sign(encoded.as_bytes()))
}

fn far() -> i64 {
    4_000_000_000
}

async fn form_upload(
    emu: &KodoEmulator,
    token: &str,
    key: &str,
    data: &[u8],
    crc32: Option<String>,
) -> (u16, Value) {
    let mut form = Form::new()
        .text("token", token.to_owned())
        .text("key", key.to_owned())
        .part("file", Part::bytes(data.to_vec()).file_name("f"));
    if let Some(c) = crc32 {
        form = form.text("crc32", c);
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/", emu.endpoint()))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn insert_only_tokens_refuse_an_overwrite_with_614() {
    let (emu, signer) = setup();
    let t = token(
        &signer,
        json!({ "scope": "b:k.ts", "deadline": far(), "insertOnly": 1 }),
    );
    assert_eq!(form_upload(&emu, &t, "k.ts", b"one", None).await.0, 200);
    let (status, body) = form_upload(&emu, &t, "k.ts", b"two", None).await;
    assert_eq!((status, body["error"].as_str()), (614, Some("file exists")));
    assert_eq!(emu.object("b", "k.ts").as_deref(), Some(&b"one"[..]));
    // The store's own tokens allow overwriting (insertOnly 0).
    let t = signer.upload_token("b", "k.ts", far());
    assert_eq!(form_upload(&emu, &t, "k.ts", b"two", None).await.0, 200);
    assert_eq!(emu.object("b", "k.ts").as_deref(), Some(&b"two"[..]));
}

#[tokio::test]
async fn a_token_scoped_to_one_key_cannot_write_another() {
    let (emu, signer) = setup();
    let t = signer.upload_token("b", "a.ts", far());
    let (status, body) = form_upload(&emu, &t, "other.ts", b"x", None).await;
    assert_eq!(status, 403, "{body}");
    assert!(emu.object("b", "other.ts").is_none());
}

#[tokio::test]
async fn form_upload_checks_the_crc32_field() {
    let (emu, signer) = setup();
    let t = signer.upload_token("b", "c.ts", far());
    let good = crc32fast::hash(b"payload").to_string();
    let (status, body) = form_upload(&emu, &t, "c.ts", b"payload", Some("12345".into())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (406, Some("crc32 not match"))
    );
    assert!(emu.object("b", "c.ts").is_none());
    assert_eq!(
        form_upload(&emu, &t, "c.ts", b"payload", Some(good))
            .await
            .0,
        200
    );
}

async fn store(emu: &KodoEmulator) -> KodoStore {
    let mut cfg = KodoConfig::new("b");
    // Long-lived tokens, so that moving the emulator's clock expires uploads, not tokens.
    cfg.token_ttl = std::time::Duration::from_secs(30 * 24 * 3600);
    cfg.endpoint = Some(emu.endpoint().to_owned());
    cfg.credentials = Some(Credentials::new(emu.access_key(), emu.secret_key()));
    cfg.https = false;
    KodoStore::new(cfg).await.unwrap()
}

#[tokio::test]
async fn part_numbers_sizes_and_etags_are_checked() {
    let (emu, _) = setup();
    let s = store(&emu).await;
    let up = s
        .create_multipart("m.mp4", &PutOptions::default())
        .await
        .unwrap();
    for n in [0, 10_001] {
        let e = s
            .upload_part(&up, n, PutBody::Bytes(vec![1u8; 10].into()))
            .await
            .expect_err("part number out of range accepted");
        assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("partNumber"), "{e}");
    }
    let small = s
        .upload_part(&up, 1, PutBody::Bytes(vec![1u8; 10].into()))
        .await
        .unwrap();
    let last = s
        .upload_part(&up, 2, PutBody::Bytes(vec![2u8; 10].into()))
        .await
        .unwrap();
    let e = s
        .complete_multipart(&up, &[small.clone(), last.clone()])
        .await
        .expect_err("a 10-byte first part was accepted");
    assert!(e.to_string().contains("at least 1 MiB"), "{e}");
    let mut forged = last.clone();
    forged.etag = small.etag.clone();
    let e = s
        .complete_multipart(&up, &[forged])
        .await
        .expect_err("a wrong etag was accepted");
    assert!(e.to_string().contains("etag differs"), "{e}");
    // A single small part is a whole object.
    let meta = s.complete_multipart(&up, &[small]).await.unwrap();
    assert_eq!(meta.size, 10);
}

#[tokio::test]
async fn unknown_and_expired_uploads_are_upload_not_found() {
    let (emu, _) = setup();
    let s = store(&emu).await;
    let ghost = MultipartUpload {
        key: "g.mp4".into(),
        upload_id: "no-such-id".into(),
        initiated: None,
    };
    let e = s
        .list_parts(&ghost)
        .await
        .expect_err("unknown upload listed");
    assert_eq!(e.kind(), &ErrorKind::UploadNotFound, "{e}");
    assert_eq!(e.vendor_code(), Some("612"));
    let up = s
        .create_multipart("e.mp4", &PutOptions::default())
        .await
        .unwrap();
    s.upload_part(&up, 1, PutBody::Bytes(vec![1u8; 10].into()))
        .await
        .unwrap();
    // Resumable uploads live seven days.
    emu.advance_clock(8 * 24 * 3600);
    let store_after = store(&emu).await;
    let e = store_after
        .list_parts(&up)
        .await
        .expect_err("expired upload listed");
    assert_eq!(e.kind(), &ErrorKind::UploadNotFound, "{e}");
    assert!(
        e.to_string().contains("start a new multipart upload"),
        "{e}"
    );
}

#[tokio::test]
async fn management_calls_need_a_valid_authorization() {
    let (emu, signer) = setup();
    let http = reqwest::Client::new();
    let entry = URL_SAFE.encode("b:none.ts");
    let url = format!("{}/stat/{entry}", emu.endpoint());
    let unsigned = http.get(&url).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    // Access token v1 (`QBox`): the path and a newline.
    let v1 = format!(
        "QBox {}",
        signer.sign(format!("/stat/{entry}\n").as_bytes())
    );
    let resp = http
        .get(&url)
        .header("authorization", v1)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 612, "signed v1 reaches the object lookup");
}

#[tokio::test]
async fn list_parts_pages_with_the_documented_marker() {
    let (emu, signer) = setup();
    let s = store(&emu).await;
    let up = s
        .create_multipart("p.mp4", &PutOptions::default())
        .await
        .unwrap();
    for n in 1..=3 {
        s.upload_part(&up, n, PutBody::Bytes(vec![n as u8; 10].into()))
            .await
            .unwrap();
    }
    let base = format!(
        "{}/buckets/b/objects/{}/uploads/{}",
        emu.endpoint(),
        URL_SAFE.encode("p.mp4"),
        up.upload_id
    );
    let auth = format!("UpToken {}", signer.upload_token("b", "p.mp4", far()));
    let page = |query: String| {
        let (url, auth) = (format!("{base}?{query}"), auth.clone());
        async move {
            let resp = reqwest::Client::new()
                .get(url)
                .header("authorization", auth)
                .send()
                .await
                .unwrap();
            serde_json::from_slice::<Value>(&resp.bytes().await.unwrap()).unwrap()
        }
    };
    let first = page("max-parts=2".into()).await;
    assert_eq!(first["parts"].as_array().unwrap().len(), 2);
    assert_eq!(first["partNumberMarker"], 2);
    let second = page("max-parts=2&part-number-marker=2".into()).await;
    assert_eq!(second["parts"][0]["partNumber"], 3);
    assert_eq!(second["partNumberMarker"], 0);
    // The store follows the pages itself.
    let listed = s.list_parts(&up).await.unwrap();
    assert_eq!(
        listed.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        listed
            .iter()
            .all(|p| p.size == 10 && p.checksums.qetag.as_deref() == Some(p.etag.as_str()))
    );
}
