//! The playback check (`--playback-base URL`): what a browser player meets when it loads the
//! recording through the public (or CDN, or token-signed) URL. One GET of each playlist and a
//! small ranged GET of its first segment, sent with an `Origin` header like a web page's.
//!
//! Checked: the answer is 200/206; the Content-Type is one players accept (a playlist served
//! as `application/octet-stream` downloads instead of playing, Agora's playback guide asks for
//! `application/x-mpegURL` and `video/MP2T`); `Access-Control-Allow-Origin` allows the origin
//! (hls.js on another site cannot read the bytes otherwise); the playlist parses; a `.ts`
//! segment starts with the MPEG-TS sync byte (an HTML error page answered with 200 does not).

use std::time::Duration;

use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, ORIGIN, RANGE};

use crate::Problem;

/// The origin the check claims to come from, unless the caller names its player's site.
pub const DEFAULT_ORIGIN: &str = "https://player.example";

/// Gives each object its own signed URL: a private bucket's download URL signed for that
/// object (an S3, OSS or COS presigned URL, Kodo's `e=<deadline>&token=…`), where one base
/// URL cannot serve every key.
#[async_trait::async_trait]
pub trait UrlSigner: Send + Sync {
    async fn signed_url(&self, key: &str) -> stowage_core::Result<String>;
}

/// Where and how to fetch.
pub struct PlaybackCheck {
    /// The URL the bucket's root is served at; a query string (a CDN token) is kept on every
    /// request and never printed. Unused when `signer` is set.
    pub base: String,
    /// The web page origin the player runs on.
    pub origin: String,
    /// Signs each object's URL instead of joining keys to `base`.
    pub signer: Option<std::sync::Arc<dyn UrlSigner>>,
}

/// What one playlist's check saw.
#[derive(Debug, Default)]
pub struct PlaybackOutcome {
    pub problems: Vec<Problem>,
    /// Requests made.
    pub requests: usize,
}

impl PlaybackCheck {
    /// GETs the playlist at `key` and the first segment it names.
    pub async fn check(&self, key: &str) -> PlaybackOutcome {
        let mut out = PlaybackOutcome::default();
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                out.problems
                    .push(problem(key, format!("no HTTP client: {e}")));
                return out;
            }
        };
        let url = match self.object_url(key).await {
            Ok(u) => u,
            Err(e) => {
                out.problems
                    .push(problem(key, format!("no URL to load: {e}")));
                return out;
            }
        };
        out.requests += 1;
        let Some((headers, body)) = self.fetch(&client, &url, key, None, &mut out).await else {
            return out;
        };
        self.check_headers(key, &headers, &PLAYLIST_TYPES, &mut out);
        let text = String::from_utf8_lossy(&body);
        let playlist = match stowage_hls::parse(&text) {
            Ok(p) => p,
            Err(e) => {
                out.problems.push(problem(
                    key,
                    format!("the playlist served does not parse: {e}"),
                ));
                return out;
            }
        };
        let Some(first) = playlist.segments.first() else {
            return out;
        };
        let seg_url = match (&self.signer, first.uri.contains("://")) {
            // A signed URL's token is for its own object: sign the segment's key anew.
            (Some(_), false) => match self.object_url(&segment_key(key, &first.uri)).await {
                Ok(u) => u,
                Err(e) => {
                    out.problems
                        .push(problem(&first.uri, format!("no URL to load: {e}")));
                    return out;
                }
            },
            _ => resolve(&url, &first.uri),
        };
        let seg_name = redact(&seg_url);
        out.requests += 1;
        let range = Some("bytes=0-187"); // one MPEG-TS packet
        let Some((headers, body)) = self
            .fetch(&client, &seg_url, &seg_name, range, &mut out)
            .await
        else {
            return out;
        };
        let wanted = segment_types(&first.uri);
        self.check_headers(&seg_name, &headers, &wanted, &mut out);
        if first.uri.to_ascii_lowercase().ends_with(".ts") && body.first() != Some(&0x47) {
            out.problems.push(problem(
                &seg_name,
                "the segment served is not MPEG-TS (no 0x47 sync byte): an error page or another file answers at this URL".into(),
            ));
        }
        out
    }

    async fn object_url(&self, key: &str) -> stowage_core::Result<String> {
        match &self.signer {
            Some(signer) => signer.signed_url(key).await,
            None => Ok(self.url_for(key)),
        }
    }

    /// The object's URL: base path + key, with the base's query string.
    fn url_for(&self, key: &str) -> String {
        let (base, query) = self
            .base
            .split_once('?')
            .map_or((self.base.as_str(), None), |(b, q)| (b, Some(q)));
        let mut url = format!("{}/{}", base.trim_end_matches('/'), encode_key(key));
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        url
    }

    async fn fetch(
        &self,
        client: &reqwest::Client,
        url: &str,
        name: &str,
        range: Option<&str>,
        out: &mut PlaybackOutcome,
    ) -> Option<(reqwest::header::HeaderMap, bytes::Bytes)> {
        let mut req = client.get(url).header(ORIGIN, &self.origin);
        if let Some(r) = range {
            req = req.header(RANGE, r);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    "could not connect".to_string()
                };
                out.problems.push(problem(
                    name,
                    format!("GET {}: {why}. Fix: check the playback base URL (the bucket's public or CDN domain)", redact(url)),
                ));
                return None;
            }
        };
        let status = resp.status();
        if !status.is_success() {
            out.problems
                .push(problem(name, status_advice(status.as_u16())));
            return None;
        }
        let headers = resp.headers().clone();
        match resp.bytes().await {
            Ok(b) => Some((headers, b)),
            Err(e) => {
                out.problems
                    .push(problem(name, format!("the body did not arrive: {e}")));
                None
            }
        }
    }

    fn check_headers(
        &self,
        name: &str,
        headers: &reqwest::header::HeaderMap,
        wanted: &[&str],
        out: &mut PlaybackOutcome,
    ) {
        let ct = header(headers, CONTENT_TYPE.as_str());
        let bare = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !wanted.contains(&bare.as_str()) {
            let shown = if ct.is_empty() {
                "missing"
            } else {
                ct.as_str()
            };
            out.problems.push(problem(
                name,
                format!(
                    "Content-Type is {shown}; players expect {}. Fix: set the object's Content-Type (stowage upload does; re-upload, or change it in the console or CDN)",
                    wanted[0]
                ),
            ));
        }
        let allow = header(headers, ACCESS_CONTROL_ALLOW_ORIGIN.as_str());
        if allow != "*" && allow != self.origin {
            let shown = if allow.is_empty() {
                "absent".to_string()
            } else {
                format!("{allow:?}")
            };
            out.problems.push(problem(
                name,
                format!(
                    "Access-Control-Allow-Origin is {shown} for Origin {}: a web player on that site cannot load it. Fix: add a CORS rule allowing GET and HEAD from that origin on the bucket (or CDN)",
                    self.origin
                ),
            ));
        }
    }
}

const PLAYLIST_TYPES: [&str; 4] = [
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "audio/mpegurl",
    "audio/x-mpegurl",
];

/// Types a player accepts for a segment, the usual one first.
fn segment_types(uri: &str) -> Vec<&'static str> {
    let path = uri.split('?').next().unwrap_or(uri).to_ascii_lowercase();
    if path.ends_with(".ts") {
        vec!["video/mp2t"]
    } else if path.ends_with(".aac") {
        vec!["audio/aac", "audio/aacp"]
    } else {
        vec!["video/mp4", "video/iso.segment", "audio/mp4"]
    }
}

fn status_advice(status: u16) -> String {
    let fix = match status {
        401 | 403 => {
            "the object is not readable anonymously: make the prefix public-read, or pass a signed or CDN base URL"
        }
        404 => "nothing at this URL: check that the base URL points at the bucket's root",
        _ => "the server failed; try again, and check the CDN or bucket status",
    };
    format!("HTTP {status}. Fix: {fix}")
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A segment URI relative to its playlist's URL (absolute URIs as they are). The playlist's
/// query string (a token) is carried over to relative segments.
fn resolve(playlist_url: &str, uri: &str) -> String {
    if uri.contains("://") {
        return uri.to_string();
    }
    let (path, query) = playlist_url
        .split_once('?')
        .map_or((playlist_url, None), |(p, q)| (p, Some(q)));
    let dir = path.rsplit_once('/').map_or(path, |(d, _)| d);
    match (query, uri.contains('?')) {
        (Some(q), false) => format!("{dir}/{uri}?{q}"),
        _ => format!("{dir}/{uri}"),
    }
}

/// The key of a segment named relatively by the playlist at `playlist_key`.
fn segment_key(playlist_key: &str, uri: &str) -> String {
    let uri = uri.split('?').next().unwrap_or(uri);
    match playlist_key.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{uri}"),
        None => uri.to_string(),
    }
}

/// A URL fit for a report: the query string (tokens, signatures) dropped.
fn redact(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

fn encode_key(key: &str) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    const PATH: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    utf8_percent_encode(key, PATH).to_string()
}

fn problem(key: &str, detail: String) -> Problem {
    Problem::Playback {
        key: key.to_string(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_the_token_but_reports_drop_it() {
        let c = PlaybackCheck {
            base: "https://cdn.example/rec/?auth_key=SECRET".into(),
            origin: DEFAULT_ORIGIN.into(),
            signer: None,
        };
        let url = c.url_for("p/sid c.m3u8");
        assert_eq!(
            url,
            "https://cdn.example/rec/p/sid%20c.m3u8?auth_key=SECRET"
        );
        assert_eq!(
            resolve(&url, "seg_1.ts"),
            "https://cdn.example/rec/p/seg_1.ts?auth_key=SECRET"
        );
        assert_eq!(
            resolve(&url, "https://x.example/a.ts"),
            "https://x.example/a.ts"
        );
        assert!(!redact(&url).contains("SECRET"));
        assert_eq!(
            segment_key("rec/sid_c.m3u8", "sid_c_1.ts"),
            "rec/sid_c_1.ts"
        );
        assert_eq!(segment_key("sid_c.m3u8", "sid_c_1.ts?x=1"), "sid_c_1.ts");
    }
}
