//! The emulator's check of COS's `q-sign-algorithm=sha1` signature, written from Tencent's
//! documentation (<https://cloud.tencent.com/document/api/436/7778>) independently of the
//! adapter's signer (which uses reqsign-tencent-cos), so that each checks the other.
//!
//! The server does not choose what is signed: the client names the query parameters and
//! headers in `q-url-param-list` and `q-header-list`; the server rebuilds the string from the
//! request's values for exactly those names (and requires `host` among them).

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::{Digest as _, Sha1};

/// Tencent's UriEncode: everything but `A-Za-z0-9-_.~` is `%XX` (upper-case hex).
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encode(s: &str) -> String {
    utf8_percent_encode(s, ENCODE).to_string()
}

/// A parsed `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub struct Authorization {
    pub secret_id: String,
    /// `start;end` in unix seconds.
    pub key_time: String,
    pub sign_time: String,
    pub header_list: Vec<String>,
    pub param_list: Vec<String>,
    pub signature: String,
}

impl Authorization {
    /// Parses `q-sign-algorithm=sha1&q-ak=…&…&q-signature=…`; `None` if a field is missing
    /// or the algorithm is not sha1.
    pub fn parse(header: &str) -> Option<Authorization> {
        let field = |name: &str| {
            header
                .split('&')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_string)
        };
        if field("q-sign-algorithm")? != "sha1" {
            return None;
        }
        let list = |name: &str| -> Option<Vec<String>> {
            let v = field(name)?;
            Some(
                v.split(';')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            )
        };
        Some(Authorization {
            secret_id: field("q-ak")?,
            key_time: field("q-key-time")?,
            sign_time: field("q-sign-time")?,
            header_list: list("q-header-list")?,
            param_list: list("q-url-param-list")?,
            signature: field("q-signature")?,
        })
    }

    /// The same fields from a presigned URL's (decoded) query, where COS also accepts
    /// them; `None` when the query carries no `q-signature`.
    pub fn from_query(query: &[(String, String)]) -> Option<Authorization> {
        query.iter().find(|(k, _)| k == "q-signature")?;
        let fields: Vec<String> = query
            .iter()
            .filter(|(k, _)| k.starts_with("q-"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        Authorization::parse(&fields.join("&"))
    }

    /// `(start, end)` of the signature's validity.
    pub fn sign_window(&self) -> Option<(i64, i64)> {
        let (a, b) = self.sign_time.split_once(';')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    }
}

/// The request as received.
pub struct Request<'a> {
    pub method: &'a str,
    /// The URL path, decoded (`/key` for virtual-hosted, `/bucket/key` path style).
    pub path: &'a str,
    /// Decoded query pairs.
    pub query: &'a [(String, String)],
    /// Header names lower-case.
    pub headers: &'a [(String, String)],
}

/// `k1=v1&k2=v2` for the names listed, from the pairs given (names compared lower-case,
/// values encoded); a listed name that is absent is signed with an empty value.
fn canonical(list: &[String], pairs: &[(String, String)]) -> String {
    let mut out: Vec<(String, String)> = list
        .iter()
        .map(|name| {
            let value = pairs
                .iter()
                .find(|(k, _)| k.to_ascii_lowercase() == *name)
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            (encode(name).to_ascii_lowercase(), encode(value))
        })
        .collect();
    out.sort();
    out.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `FormatString` of the documentation.
pub fn http_string(req: &Request<'_>, auth: &Authorization) -> String {
    format!(
        "{}\n{}\n{}\n{}\n",
        req.method.to_ascii_lowercase(),
        req.path,
        canonical(&auth.param_list, req.query),
        canonical(&auth.header_list, req.headers)
    )
}

fn hmac_sha1_hex(key: &[u8], data: &[u8]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// The signature the request should carry.
pub fn signature(secret_key: &str, req: &Request<'_>, auth: &Authorization) -> String {
    let sign_key = hmac_sha1_hex(secret_key.as_bytes(), auth.key_time.as_bytes());
    let digest = hex::encode(Sha1::digest(http_string(req, auth).as_bytes()));
    let string_to_sign = format!("sha1\n{}\n{digest}\n", auth.sign_time);
    hmac_sha1_hex(sign_key.as_bytes(), string_to_sign.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cos-go-sdk-v5 `auth_test.go` TestNewAuthorization (domain.md §C2).
    #[test]
    fn go_sdk_vector() {
        let header = "q-sign-algorithm=sha1&q-ak=QmFzZTY0IGlzIGEgZ2VuZXJp&q-sign-time=1480932292;1481012292&q-key-time=1480932292;1481012292&q-header-list=host;x-cos-content-sha1;x-cos-stroage-class&q-url-param-list=&q-signature=ce4ac0ecbcdb30538b3fee0a97cc6389694ce53a";
        let auth = Authorization::parse(header).unwrap();
        assert_eq!(auth.secret_id, "QmFzZTY0IGlzIGEgZ2VuZXJp");
        assert_eq!(auth.sign_window(), Some((1480932292, 1481012292)));
        let headers: Vec<(String, String)> = [
            ("host", "testbucket-125000000.cos.ap-guangzhou.myqcloud.com"),
            (
                "x-cos-content-sha1",
                "db8ac1c259eb89d4a131b253bacfca5f319d54f2",
            ),
            ("x-cos-stroage-class", "nearline"),
            ("content-length", "13"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let req = Request {
            method: "PUT",
            path: "/testfile2",
            query: &[],
            headers: &headers,
        };
        assert_eq!(
            signature("AKIDZfbOA78asKUYBcXFrJD0a1ICvR98JM", &req, &auth),
            auth.signature
        );
        assert_ne!(signature("AKIDwrong", &req, &auth), auth.signature);
    }

    #[test]
    fn other_algorithms_are_not_parsed() {
        assert_eq!(Authorization::parse("q-sign-algorithm=sha256&q-ak=x"), None);
        assert_eq!(Authorization::parse("OSS ak:sig"), None);
    }
}
