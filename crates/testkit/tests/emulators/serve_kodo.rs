//! `stowage-testkit serve kodo` as another program runs it: settings on stdout, a working
//! emulator, and an exit when stdin closes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn get(endpoint: &str, path: &str) -> String {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn serve_kodo_prints_settings_serves_and_stops_when_stdin_closes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stowage-testkit"))
        .args(["serve", "kodo", "--bucket", "rec:z2"])
        .args(["--access-key", "AK9", "--secret-key", "SK9"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut settings = BTreeMap::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let (k, v) = line.split_once('=').expect("NAME=value");
        settings.insert(k.to_owned(), v.to_owned());
        if k == "ZONE_cn-east-2" {
            break;
        }
    }
    assert_eq!(settings["ACCESS_KEY"], "AK9");
    assert_eq!(settings["SECRET_KEY"], "SK9");
    let endpoint = &settings["ENDPOINT"];
    let found = get(endpoint, "/v4/query?ak=AK9&bucket=rec");
    assert!(found.starts_with("HTTP/1.1 200"), "{found}");
    assert!(found.contains(r#""region":"z2""#), "{found}");
    assert!(
        found.contains(settings["ZONE_z2"].trim_start_matches("http://")),
        "{found}"
    );
    let missing = get(endpoint, "/v4/query?ak=AK9&bucket=nope");
    assert!(missing.starts_with("HTTP/1.1 631"), "{missing}");
    assert!(
        missing.contains(r#"{"error":"no such bucket"}"#),
        "{missing}"
    );

    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn unknown_subcommand_prints_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_stowage-testkit"))
        .args(["serve", "ftp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("serve kodo"));
}
