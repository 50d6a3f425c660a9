//! The COS emulator's answers to unsigned and badly signed requests over a raw socket (COS's
//! error XML and request id; HEAD answers without a body), and `stowage-testkit serve cos`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

use stowage_testkit::cos::CosEmulator;

/// Sends one HTTP/1.1 request and returns the whole response as text.
fn raw(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
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
fn unsigned_request_gets_cos_error_xml() {
    let server = CosEmulator::start().expect("emulator");
    server.create_bucket("b-1250000000");
    let r = raw(
        server.addr(),
        "GET /b-1250000000/k.ts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    assert!(r.contains("<Code>AccessDenied</Code>"), "{r}");
    let id = header(&r, "x-cos-request-id").expect("request id header");
    assert!(r.contains(&format!("<RequestId>{id}</RequestId>")), "{r}");
    assert!(r.contains("<Resource>/b-1250000000/k.ts</Resource>"), "{r}");
}

#[test]
fn unknown_secret_id_and_head_without_body() {
    let server = CosEmulator::start().expect("emulator");
    let auth = "q-sign-algorithm=sha1&q-ak=AKIDnobody&q-sign-time=1;2&q-key-time=1;2&q-header-list=host&q-url-param-list=&q-signature=00";
    let get = raw(
        server.addr(),
        &format!(
            "GET /b-1/k HTTP/1.1\r\nHost: h\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(get.starts_with("HTTP/1.1 403"), "{get}");
    assert!(get.contains("<Code>InvalidAccessKeyId</Code>"), "{get}");
    let head = raw(
        server.addr(),
        &format!(
            "HEAD /b-1/k HTTP/1.1\r\nHost: h\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(!head.contains("<Error>"), "{head}");
    assert!(header(&head, "x-cos-request-id").is_some(), "{head}");
}

#[test]
fn serve_cos_runs_alone() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stowage-testkit"))
        .args([
            "serve",
            "cos",
            "--bucket",
            "rec-1250000000",
            "--access-key",
            "AKIDfixed",
            "--secret-key",
            "fixed-secret",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run stowage-testkit");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .take(4)
        .map(|l| l.expect("line"))
        .collect();
    let value = |name: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    assert_eq!(
        value("REGION").as_deref(),
        Some("ap-guangzhou"),
        "{lines:?}"
    );
    assert_eq!(value("ACCESS_KEY").as_deref(), Some("AKIDfixed"));
    let endpoint = value("ENDPOINT").expect("ENDPOINT line");
    let addr: SocketAddr = endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let r = raw(
        addr,
        "HEAD /rec-1250000000/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    child.kill().expect("stop the server");
    let _ = child.wait();
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
}

#[test]
fn serve_refuses_unknown_services() {
    let out = Command::new(env!("CARGO_BIN_EXE_stowage-testkit"))
        .args(["serve", "s4"])
        .output()
        .expect("run stowage-testkit");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("serve oss|cos"), "{err}");
}
