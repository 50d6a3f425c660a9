//! The OSS emulator's answers to unsigned and badly signed requests, over a raw socket:
//! OSS's error XML, its headers, and for HEAD the error in `x-oss-err`.

use std::io::{Read, Write};
use std::net::TcpStream;

use base64::Engine as _;
use stowage_testkit::oss::OssEmulator;

/// Sends one HTTP/1.1 request and returns the whole response as text.
fn raw(server: &OssEmulator, request: &str) -> String {
    let mut s = TcpStream::connect(server.addr()).expect("connect");
    s.write_all(request.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn unsigned_request_gets_oss_error_xml() {
    let server = OssEmulator::start().expect("emulator");
    server.create_bucket("b");
    let r = raw(
        &server,
        "GET /b/k.ts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    assert!(r.contains("<Code>AccessDenied</Code>"), "{r}");
    let id = header(&r, "x-oss-request-id").expect("request id header");
    assert!(r.contains(&format!("<RequestId>{id}</RequestId>")), "{r}");
    assert!(
        r.contains("<EC>") && header(&r, "x-oss-ec").is_some(),
        "{r}"
    );
}

#[test]
fn head_errors_travel_in_x_oss_err() {
    let server = OssEmulator::start().expect("emulator");
    let r = raw(
        &server,
        "HEAD /b/k.ts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: OSS nobody:x\r\nDate: Tue, 24 Nov 2026 10:00:00 GMT\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    let err = header(&r, "x-oss-err").expect("x-oss-err");
    let xml = base64::engine::general_purpose::STANDARD
        .decode(err)
        .expect("base64");
    let xml = String::from_utf8(xml).expect("utf-8");
    assert!(xml.contains("<Code>InvalidAccessKeyId</Code>"), "{xml}");
}

#[test]
fn standalone_binary_refuses_bad_arguments() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stowage-testkit"))
        .args(["serve", "oss", "--port", "notaport"])
        .output()
        .expect("run stowage-testkit");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--port notaport"), "{err}");
}
