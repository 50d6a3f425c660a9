//! The checks that need only a URL or a store: bucket names (one copy, every vendor's
//! rules), the clock probe, access, the write probe, latency, throughput and playback.

use std::time::{Duration, Instant};

use bytes::Bytes;
use stowage_core::checksum::checksum_bytes;
use stowage_core::{
    ChecksumAlgo, ErrorKind, ListRequest, ObjectStore, PutBody, PutOptions, Scheme, StorageUrl,
};

use super::{Finding, Status};
use crate::settings::Settings;

pub(super) fn prefix_of(url: &StorageUrl) -> String {
    match url.local_path() {
        Some(_) => String::new(),
        None => url.key.trim_matches('/').to_string(),
    }
}

fn probe_key(prefix: &str, name: &str) -> String {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let file = format!("stowage-doctor-{}-{name}", &tag[..8]);
    if prefix.is_empty() {
        file
    } else {
        format!("{prefix}/{file}")
    }
}

/// The bucket name is one the vendor accepts.
pub(super) fn configuration(url: &StorageUrl) -> Finding {
    match bucket_name_problem(url.scheme, &url.bucket) {
        Some(why) => Finding::new("configuration", Status::Fail, why)
            .fix("use the bucket's exact name as the vendor's console shows it"),
        None => {
            let what = match url.local_path() {
                Some(dir) => format!("local directory bucket {}", dir.display()),
                None => format!("{} bucket {}", url.scheme.as_str(), url.bucket),
            };
            Finding::new("configuration", Status::Pass, what)
        }
    }
}

/// Why `name` cannot be a bucket of `scheme`, if it cannot.
pub fn bucket_name_problem(scheme: Scheme, name: &str) -> Option<String> {
    let dns_like = |max: usize| {
        (3..=max).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !name.starts_with(['-', '.'])
            && !name.ends_with(['-', '.'])
    };
    match scheme {
        Scheme::File => None,
        Scheme::S3 | Scheme::Oss if !dns_like(63) => Some(format!(
            "{name:?} is not a valid bucket name: 3–63 lowercase letters, digits, hyphens (and dots on S3), starting and ending with a letter or digit"
        )),
        Scheme::Oss if name.contains('.') => Some(format!(
            "{name:?} is not a valid OSS bucket name: OSS bucket names have no dots"
        )),
        Scheme::Cos => {
            let appid_ok = name.rsplit_once('-').is_some_and(|(n, id)| {
                !n.is_empty() && id.len() >= 5 && id.bytes().all(|b| b.is_ascii_digit())
            });
            (!appid_ok || !dns_like(60)).then(|| {
                format!("{name:?} is not a COS bucket: COS names are <name>-<APPID>, e.g. examplebucket-1250000000")
            })
        }
        Scheme::Azure => stowage_azure::config::container_name_problem(name)
            .map(|p| format!("{name:?} is not a valid Azure container name: {p}")),
        Scheme::Gcs => stowage_gcs::config::bucket_name_problem(name)
            .map(|p| format!("{name:?} is not a valid Google Cloud Storage bucket name: {p}")),
        Scheme::Kodo => (!(4..=63).contains(&name.len())
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .then(|| {
            format!("{name:?} is not a valid Kodo bucket name: 4–63 letters, digits and hyphens")
        }),
        _ => None,
    }
}

/// The local clock against the server's `Date`: SigV4 and OSS/COS signatures are refused
/// beyond 15 minutes of skew, and a drifting clock gets there during a long recording.
pub(super) async fn clock(url: &StorageUrl, settings: &Settings) -> Option<Finding> {
    let endpoint = clock_endpoint(url, settings)?;
    let ca = settings.ca().ok().flatten();
    let builder = stowage_http::client::client_builder(ca.as_ref()).ok()?;
    let client = builder.timeout(Duration::from_secs(10)).build().ok()?;
    let resp = match client.head(&endpoint).send().await {
        Ok(r) => r,
        Err(_) => {
            return Some(
                Finding::new(
                    "clock",
                    Status::Warn,
                    format!("could not reach {endpoint} to read its clock"),
                )
                .fix("check the endpoint and the network"),
            );
        }
    };
    let date = resp
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok());
    let Some(server) = date else {
        return Some(Finding::new(
            "clock",
            Status::Skip,
            "the server sent no Date header",
        ));
    };
    let local = std::time::SystemTime::now();
    let skew = match local.duration_since(server) {
        Ok(ahead) => ahead.as_secs_f64(),
        Err(behind) => -behind.duration().as_secs_f64(),
    };
    Some(clock_verdict(skew))
}

/// Where to read the server's clock: the explicit endpoint, else (S3) the SDK's endpoint
/// variables, else the vendor's public endpoint for the region from stowage-region's tables
/// (S3 defaults to us-east-1; the others need --region).
fn clock_endpoint(url: &StorageUrl, settings: &Settings) -> Option<String> {
    if let Some(ep) = &settings.endpoint {
        return Some(ep.clone());
    }
    if url.scheme == Scheme::S3
        && let Some(ep) = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .into_iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    {
        return Some(ep);
    }
    if url.scheme == Scheme::Gcs {
        // A service account's JWT carries its issue time: Google refuses a skewed one.
        return Some(stowage_gcs::config::DEFAULT_ENDPOINT.to_string());
    }
    let vendor = crate::open::vendor_of_scheme(url.scheme)?;
    let region_id = match (settings.region.as_deref(), url.scheme) {
        (Some(r), _) => r,
        (None, Scheme::S3) => "us-east-1",
        (None, _) => return None,
    };
    let region = vendor.region(region_id).ok()?;
    let request = stowage_region::SelectRequest::new(vendor, region);
    let selection = stowage_region::select::select(&request).ok()?;
    selection.candidates.first().map(|c| c.url.clone())
}

/// Skew in seconds (local minus server; `Date` has one-second resolution).
fn clock_verdict(skew: f64) -> Finding {
    let side = if skew >= 0.0 { "ahead of" } else { "behind" };
    let detail = format!("local clock {:.0} s {side} the server", skew.abs());
    let fix = "synchronise the clock (chrony or systemd-timesyncd with NTP)";
    match skew.abs() {
        s if s > 900.0 => Finding::new(
            "clock",
            Status::Fail,
            format!("{detail}: requests are refused beyond 15 minutes (RequestTimeTooSkewed)"),
        )
        .fix(fix),
        s if s > 60.0 => Finding::new(
            "clock",
            Status::Warn,
            format!("{detail}: uploads fail once it reaches 15 minutes"),
        )
        .fix(fix),
        _ => Finding::new("clock", Status::Pass, detail),
    }
}

/// Credentials accepted and the bucket there: one listing of at most one key. A write-only
/// key (what Agora recommends) may not list: that is a warning, the write probe decides.
pub(super) async fn access(store: &dyn ObjectStore, prefix: &str) -> Finding {
    let req = ListRequest {
        prefix: prefix.to_string(),
        max_keys: Some(1),
        ..ListRequest::default()
    };
    match store.list(&req).await {
        Ok(_) => Finding::new(
            "access",
            Status::Pass,
            format!("{} is there and answers", store.name()),
        ),
        Err(e) if *e.kind() == ErrorKind::AccessDenied => {
            Finding::from_error("access", Status::Warn, &e)
        }
        Err(e) => Finding::from_error("access", Status::Fail, &e),
    }
}

/// Put, head (checksum confirmed) and delete a small probe object under the prefix.
pub(super) async fn write_probe(store: &dyn ObjectStore, prefix: &str) -> Finding {
    let key = probe_key(prefix, "probe.ts");
    let body = Bytes::from(vec![0x47u8; 188 * 8]);
    let sums = checksum_bytes(&body, &ChecksumAlgo::ALL);
    let opts = PutOptions {
        checksums: Some(sums.clone()),
        ..PutOptions::default()
    };
    if let Err(e) = store.put(&key, PutBody::Bytes(body.clone()), &opts).await {
        return Finding::from_error("write", Status::Fail, &e);
    }
    let checked = match store.head(&key).await {
        Ok(meta) if meta.size != body.len() as u64 => Err(format!(
            "HEAD says {} bytes, {} were sent",
            meta.size,
            body.len()
        )),
        Ok(meta) => match sums.verify(&meta.checksums) {
            Ok(0) => Ok("size confirmed (the store reports no checksum)".to_string()),
            Ok(n) => Ok(format!("size and {n} checksum(s) confirmed")),
            Err(e) => Err(e.message().to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    let deleted = store.delete(&key).await;
    match (checked, deleted) {
        (Err(why), _) => Finding::new("write", Status::Fail, format!("{key}: {why}"))
            .fix("the bucket does not keep what it was sent: check server-side processing (encryption, lifecycle) and the endpoint"),
        (Ok(what), Err(e)) => Finding::new("write", Status::Warn, format!("put and head work ({what}); delete of {key} failed: {e}"))
            .fix("the probe object stays behind; delete permission is not needed for recording"),
        (Ok(what), Ok(())) => Finding::new("write", Status::Pass, format!("put, head and delete of a probe object: {what}")),
    }
}

/// Round-trip time of a few small requests.
pub(super) async fn latency(store: &dyn ObjectStore, prefix: &str) -> Finding {
    let key = probe_key(prefix, "absent");
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let _ = store.head(&key).await; // a 404 is a full round trip
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    let ms = median.as_secs_f64() * 1000.0;
    let detail = format!("median of 5 HEADs: {ms:.1} ms");
    if ms > 300.0 {
        Finding::new("latency", Status::Warn, format!("{detail}: the bucket is far from here"))
            .fix("record into a bucket in the recorder's region, or use the vendor's accelerated endpoint")
    } else {
        Finding::new("latency", Status::Pass, detail)
    }
}

/// One upload of `mib` MiB, timed, then deleted.
pub(super) async fn throughput(store: &dyn ObjectStore, prefix: &str, mib: u64) -> Finding {
    let key = probe_key(prefix, "throughput.bin");
    let body = Bytes::from(vec![0u8; (mib << 20) as usize]);
    let t = Instant::now();
    let put = store
        .put(&key, PutBody::Bytes(body), &PutOptions::default())
        .await;
    let secs = t.elapsed().as_secs_f64();
    let _ = store.delete(&key).await;
    match put {
        Err(e) => Finding::from_error("throughput", Status::Warn, &e),
        Ok(_) => {
            let rate = mib as f64 / secs.max(1e-6);
            let detail = format!("{mib} MiB in {secs:.2} s = {rate:.1} MiB/s");
            // A 1080p recording is ~0.5 MiB/s per stream; below 2 MiB/s a few streams queue up.
            if rate < 2.0 {
                Finding::new(
                    "throughput",
                    Status::Warn,
                    format!("{detail}: too slow for several recordings at once"),
                )
                .fix(
                    "use a bucket in the recorder's region, or an internal or accelerated endpoint",
                )
            } else {
                Finding::new("throughput", Status::Pass, detail)
            }
        }
    }
}

/// A probe playlist and segment, loaded through `base` as a web player would.
pub(super) async fn playback(store: &dyn ObjectStore, prefix: &str, base: &str) -> Finding {
    let seg = probe_key(prefix, "play.ts");
    let seg_name = seg.rsplit('/').next().unwrap_or(&seg).to_string();
    let playlist = seg.replace(".ts", ".m3u8");
    let text = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.000,\n{seg_name}\n#EXT-X-ENDLIST\n"
    );
    let ts = Bytes::from(vec![0x47u8; 188 * 4]);
    let opts = PutOptions::default();
    let put = async {
        store.put(&seg, PutBody::Bytes(ts), &opts).await?;
        store
            .put(&playlist, PutBody::Bytes(Bytes::from(text)), &opts)
            .await
    };
    let finding = match put.await {
        Err(e) => Finding::from_error("playback", Status::Fail, &e),
        Ok(_) => {
            let check = stowage_verify::playback::PlaybackCheck {
                base: base.to_string(),
                origin: stowage_verify::playback::DEFAULT_ORIGIN.to_string(),
                signer: None,
            };
            let seen = check.check(&playlist).await;
            let problems: Vec<String> = seen
                .problems
                .iter()
                .filter_map(|p| match p {
                    stowage_verify::Problem::Playback { key, detail } => {
                        Some(format!("{key}: {detail}"))
                    }
                    _ => None,
                })
                .collect();
            if problems.is_empty() {
                Finding::new(
                    "playback",
                    Status::Pass,
                    "a probe playlist and segment load with the right Content-Type and CORS",
                )
            } else {
                Finding::new("playback", Status::Fail, problems.join("; "))
            }
        }
    };
    let _ = store.delete(&playlist).await;
    let _ = store.delete(&seg).await;
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_per_vendor() {
        assert!(bucket_name_problem(Scheme::S3, "my.bucket-1").is_none());
        assert!(bucket_name_problem(Scheme::S3, "My_Bucket").is_some());
        assert!(bucket_name_problem(Scheme::Oss, "rec.bucket").is_some());
        assert!(bucket_name_problem(Scheme::Cos, "examplebucket-1250000000").is_none());
        assert!(
            bucket_name_problem(Scheme::Cos, "examplebucket")
                .unwrap()
                .contains("<name>-<APPID>")
        );
        assert!(bucket_name_problem(Scheme::Kodo, "rec-2026").is_none());
        assert!(bucket_name_problem(Scheme::Kodo, "a.b").is_some());
        assert!(bucket_name_problem(Scheme::Gcs, "rec_bucket.example").is_none());
        assert!(
            bucket_name_problem(Scheme::Gcs, "goog-rec")
                .unwrap()
                .contains("Google Cloud Storage bucket name")
        );
    }

    #[test]
    fn the_clock_is_read_from_the_vendors_public_endpoint_without_an_explicit_one() {
        let at = |url: &str, region: Option<&str>| {
            let args = Settings {
                region: region.map(str::to_string),
                ..Settings::default()
            };
            clock_endpoint(&StorageUrl::parse(url).unwrap(), &args)
        };
        assert_eq!(
            at("oss://rec/p", Some("cn-hangzhou")).as_deref(),
            Some("https://oss-cn-hangzhou.aliyuncs.com")
        );
        assert_eq!(
            at("cos://rec-1250000000/p", Some("ap-guangzhou")).as_deref(),
            Some("https://cos.ap-guangzhou.myqcloud.com")
        );
        assert_eq!(at("oss://rec/p", None), None, "OSS needs a region");
        assert_eq!(at("file:///tmp/x", None), None);
        assert_eq!(
            at("gs://rec/p", None).as_deref(),
            Some("https://storage.googleapis.com")
        );
        let explicit = Settings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            ..Settings::default()
        };
        assert_eq!(
            clock_endpoint(&StorageUrl::parse("oss://rec/p").unwrap(), &explicit).as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn clock_skew_thresholds() {
        assert_eq!(clock_verdict(2.0).status, Status::Pass);
        assert_eq!(clock_verdict(-120.0).status, Status::Warn);
        let f = clock_verdict(3600.0);
        assert_eq!(f.status, Status::Fail);
        assert!(f.cause.contains("3600 s ahead"), "{}", f.cause);
        assert!(f.fix.unwrap().contains("NTP"));
    }
}
