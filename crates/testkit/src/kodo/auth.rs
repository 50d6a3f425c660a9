//! Qiniu's credentials as a server checks them, written from Qiniu's documentation
//! (developer.qiniu.com/kodo/1208/upload-token, /kodo/1201/access-token,
//! /kodo/1202/download-token) and kept apart from the adapter's signing code, so that the two
//! check each other: an adapter bug cannot be mirrored here by sharing it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use serde_json::Value;

/// Why a credential was refused. Qiniu answers each with 401; an unknown access key and a
/// wrong signature both read "bad token" (only `uc`'s unauthenticated query tells an unknown
/// key apart, with 612 "app/accesskey is not found").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No or malformed `Authorization`/token.
    Malformed,
    /// The access key is not an account's.
    UnknownKey,
    /// The signature does not verify with the account's secret.
    BadSignature,
    /// The upload token's `deadline` (or a URL's `e`) has passed.
    Expired,
}

impl AuthError {
    /// The `error` text of Qiniu's 401 answer.
    pub fn message(&self) -> &'static str {
        match self {
            AuthError::Malformed => "bad token",
            AuthError::UnknownKey => "bad token",
            AuthError::BadSignature => "bad token",
            AuthError::Expired => "token out of date",
        }
    }
}

/// `urlsafe_base64(HMAC-SHA1(secret, data))`, padded.
pub fn hmac_b64(secret: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(data);
    URL_SAFE.encode(mac.finalize().into_bytes())
}

/// One account of the emulator.
#[derive(Clone)]
pub struct Account {
    pub access_key: String,
    pub secret_key: String,
}

impl Account {
    /// `AK:sig` → Ok when it signs `data`.
    fn check_pair(&self, pair: &str, data: &[u8]) -> Result<(), AuthError> {
        let (ak, sig) = pair.split_once(':').ok_or(AuthError::Malformed)?;
        if ak != self.access_key {
            return Err(AuthError::UnknownKey);
        }
        if sig != hmac_b64(&self.secret_key, data) {
            return Err(AuthError::BadSignature);
        }
        Ok(())
    }

    /// An upload token `AK:sign(encodedPolicy):encodedPolicy`; returns the decoded put policy.
    pub fn verify_upload_token(&self, token: &str, now: i64) -> Result<Value, AuthError> {
        let (pair, encoded) = token.rsplit_once(':').ok_or(AuthError::Malformed)?;
        self.check_pair(pair, encoded.as_bytes())?;
        let json = URL_SAFE.decode(encoded).map_err(|_| AuthError::Malformed)?;
        let policy: Value = serde_json::from_slice(&json).map_err(|_| AuthError::Malformed)?;
        let deadline = policy["deadline"].as_i64().ok_or(AuthError::Malformed)?;
        if deadline < now {
            return Err(AuthError::Expired);
        }
        Ok(policy)
    }

    /// A management request's `Authorization`: `Qiniu AK:sig` (v2) or `QBox AK:sig` (v1).
    pub fn verify_management(&self, req: &SignedRequest<'_>) -> Result<(), AuthError> {
        let header = req.authorization.ok_or(AuthError::Malformed)?;
        if let Some(pair) = header.strip_prefix("Qiniu ") {
            return self.check_pair(pair, &data_v2(req));
        }
        if let Some(pair) = header.strip_prefix("QBox ") {
            return self.check_pair(pair, &data_v1(req));
        }
        Err(AuthError::Malformed)
    }

    /// A private download URL `…?e=<deadline>&token=AK:sign(url without &token)`.
    pub fn verify_download(&self, full_url: &str, now: i64) -> Result<(), AuthError> {
        let (signed, token) = full_url
            .rsplit_once("&token=")
            .ok_or(AuthError::Malformed)?;
        self.check_pair(token, signed.as_bytes())?;
        let deadline = signed
            .rsplit_once("e=")
            .and_then(|(_, e)| e.split('&').next())
            .and_then(|e| e.parse::<i64>().ok())
            .ok_or(AuthError::Malformed)?;
        if deadline < now {
            return Err(AuthError::Expired);
        }
        Ok(())
    }
}

/// What a management signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub host: &'a str,
    pub content_type: Option<&'a str>,
    /// `X-Qiniu-*` headers, any case.
    pub x_qiniu: Vec<(String, String)>,
    pub body: &'a [u8],
    pub authorization: Option<&'a str>,
}

const FORM: &str = "application/x-www-form-urlencoded";

/// Access token v2: `METHOD path?query\nHost: h\nContent-Type: ct\n` + sorted X-Qiniu
/// headers + `\n` + the body when it is a form or JSON.
fn data_v2(req: &SignedRequest<'_>) -> Vec<u8> {
    let ct = req.content_type.unwrap_or(FORM);
    let mut data = format!(
        "{} {}\nHost: {}\nContent-Type: {ct}\n",
        req.method, req.path_and_query, req.host
    );
    let mut headers: Vec<(String, &str)> = req
        .x_qiniu
        .iter()
        .map(|(k, v)| (canonical_header(k), v.as_str()))
        .collect();
    headers.sort();
    for (k, v) in headers {
        data.push_str(&format!("{k}: {v}\n"));
    }
    data.push('\n');
    let mut data = data.into_bytes();
    if (ct == FORM || ct == "application/json") && !req.body.is_empty() {
        data.extend_from_slice(req.body);
    }
    data
}

/// Access token v1: `path?query\n` + the body when it is a form.
fn data_v1(req: &SignedRequest<'_>) -> Vec<u8> {
    let mut data = format!("{}\n", req.path_and_query).into_bytes();
    if req.content_type == Some(FORM) {
        data.extend_from_slice(req.body);
    }
    data
}

/// `x-qiniu-foo-bar` → `X-Qiniu-Foo-Bar` (Go's canonical MIME header case).
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    //! The vectors of Qiniu's go-sdk `auth/credentials_test.go` (AK `ak`, SK `sk`).
    use super::*;

    fn account() -> Account {
        Account {
            access_key: "ak".into(),
            secret_key: "sk".into(),
        }
    }

    fn req<'a>(
        method: &'a str,
        pq: &'a str,
        ct: Option<&'a str>,
        body: &'a [u8],
        auth: &'a str,
    ) -> SignedRequest<'a> {
        SignedRequest {
            method,
            path_and_query: pq,
            host: "",
            content_type: ct,
            x_qiniu: Vec::new(),
            body,
            authorization: Some(auth),
        }
    }

    #[test]
    fn sign_vectors() {
        assert_eq!(hmac_b64("sk", b"hello"), "NDN8cM0rwosxhHJ6QAcI7ialr0g=");
        assert_eq!(hmac_b64("sk", b"world"), "wZ-sw41ayh3PFDmQA-D3o7eBJIY=");
        assert_eq!(hmac_b64("sk", b"aGVsbG8="), "2pn0qs-2kfEsQFuHI2pAYlo0hpc=");
    }

    #[test]
    fn qbox_vectors_form_body_signed_json_not() {
        let a = account();
        let form = req(
            "POST",
            "",
            Some(FORM),
            b"name=test&language=go",
            "QBox ak:h8gBb1Adb2Jgoys1N8sRVAnNvpw=",
        );
        assert_eq!(a.verify_management(&form), Ok(()));
        let json = req(
            "POST",
            "",
            Some("application/json"),
            b"{\"name\":\"test\"}",
            "QBox ak:qfWnqF1E_vfzjZnReCVkcSMl29M=",
        );
        assert_eq!(a.verify_management(&json), Ok(()));
    }

    #[test]
    fn qiniu_v2_vector() {
        let a = account();
        let r = req(
            "POST",
            "",
            Some("application/json"),
            b"{\"name\": \"test\"}",
            "Qiniu ak:0ujEjW_vLRZxebsveBgqa3JyQ-w=",
        );
        assert_eq!(a.verify_management(&r), Ok(()));
        let bad = req(
            "POST",
            "",
            Some("application/json"),
            b"{\"name\": \"tost\"}",
            "Qiniu ak:0ujEjW_vLRZxebsveBgqa3JyQ-w=",
        );
        assert_eq!(a.verify_management(&bad), Err(AuthError::BadSignature));
        let other = req(
            "POST",
            "",
            Some("application/json"),
            b"{}",
            "Qiniu bk:0ujEjW_vLRZxebsveBgqa3JyQ-w=",
        );
        assert_eq!(a.verify_management(&other), Err(AuthError::UnknownKey));
    }

    #[test]
    fn upload_token_checks_signature_and_deadline() {
        let a = account();
        let policy = URL_SAFE.encode(br#"{"scope":"b:k","deadline":100}"#);
        let token = format!("ak:{}:{policy}", hmac_b64("sk", policy.as_bytes()));
        assert_eq!(a.verify_upload_token(&token, 99).unwrap()["scope"], "b:k");
        assert_eq!(a.verify_upload_token(&token, 101), Err(AuthError::Expired));
        let forged = format!("ak:{}:{policy}", hmac_b64("other", policy.as_bytes()));
        assert_eq!(
            a.verify_upload_token(&forged, 0),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            a.verify_upload_token("garbage", 0),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn download_token() {
        let a = account();
        let url = "http://h/dl/b/k.ts?e=100";
        let full = format!("{url}&token=ak:{}", hmac_b64("sk", url.as_bytes()));
        assert_eq!(a.verify_download(&full, 50), Ok(()));
        assert_eq!(a.verify_download(&full, 150), Err(AuthError::Expired));
        assert_eq!(a.verify_download(url, 50), Err(AuthError::Malformed));
    }
}
