//! Before calling Agora's `start`: check the `storageConfig` it will be given — codes, STS
//! expiry, bucket name, credentials, clock, write permission, region and distance — and
//! start only when nothing fails.
//!
//! ```text
//! cargo run -p stowage --example doctor_before_start -- storage-config.json
//! ```

use stowage::Settings;
use stowage::doctor::{Checkup, Finding, Status, Subject, diagnose, failed};

/// The findings for a `storageConfig` (JSON), and whether the recording may start.
pub async fn run(storage_config: &str, settings: Settings) -> (Vec<Finding>, bool) {
    let mut checkup = Checkup::new(Subject::AgoraJson(storage_config.to_string()), settings);
    checkup.probe_mib = 1;
    let findings = diagnose(&checkup).await;
    let go = !failed(&findings);
    (findings, go)
}

fn print(findings: &[Finding]) {
    for f in findings {
        let mark = match f.status {
            Status::Pass => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        println!("{mark} {}: {}", f.check, f.cause);
        if let Some(fix) = &f.fix {
            println!("    fix: {fix}");
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::args().nth(1) else {
        return Err("usage: doctor_before_start STORAGE_CONFIG.json".into());
    };
    let (findings, go) = run(&std::fs::read_to_string(path)?, Settings::from_env()?).await;
    print(&findings);
    println!(
        "{}",
        if go {
            "ready: call start"
        } else {
            "not ready: fix the failures first"
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_testkit::s3s_server::S3sServer;

    #[tokio::test]
    async fn a_good_config_passes_and_a_bad_secret_fails_with_its_fix() {
        let server = S3sServer::start().unwrap();
        server.create_bucket("rec").unwrap();
        // Vendor 1 (Amazon S3), region 0 (us-east-1), on the in-process S3 server.
        let config = |secret: &str| {
            format!(
                r#"{{"vendor":1,"region":0,"bucket":"rec","accessKey":"{}","secretKey":"{secret}","fileNamePrefix":["day1"]}}"#,
                server.access_key()
            )
        };
        let settings = Settings::builder().endpoint(server.endpoint()).build();
        let (findings, go) = run(&config(server.secret_key()), settings.clone()).await;
        print(&findings);
        assert!(go, "{findings:?}");
        assert!(
            findings
                .iter()
                .any(|f| f.check == "write" && f.status == Status::Pass)
        );

        let (findings, go) = run(&config("wrong-secret"), settings).await;
        assert!(!go);
        let fail = findings.iter().find(|f| f.status == Status::Fail).unwrap();
        assert!(fail.fix.is_some(), "{fail:?}");
        assert!(
            !format!("{findings:?}").contains("wrong-secret"),
            "no secret in findings"
        );
    }

    #[tokio::test]
    async fn a_config_with_an_unknown_region_code_stops_at_the_configuration() {
        let config = r#"{"vendor":2,"region":999,"bucket":"rec","accessKey":"a","secretKey":"b"}"#;
        let (findings, go) = run(config, Settings::default()).await;
        assert!(!go);
        assert_eq!(findings[0].check, "agora config");
        assert_eq!(findings[0].status, Status::Fail);
    }
}
