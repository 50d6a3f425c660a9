//! OSS request signing: V4 (`OSS4-HMAC-SHA256`, the default) and V1 (`OSS ak:sig`), written
//! from Aliyun's documentation (see docs/decisions.md for why not reqsign-aliyun-oss).
//!
//! Both sign a [`SignInput`]: the method, the bucket and key (the canonical resource is
//! always `/bucket/key`, whatever the host: virtual-hosted, path style or a custom domain),
//! the decoded query and the headers to send.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

use stowage_core::Credentials;

/// Percent-encoding as V4 signs it (RFC 3986 unreserved characters stay).
pub use stowage_http::encode::{encode_path, encode_query};

/// What a signature covers.
#[derive(Debug)]
pub struct SignInput<'a> {
    pub method: &'a str,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    /// Decoded query parameters; an empty value is a bare key (`?uploads`).
    pub query: &'a [(String, String)],
    /// Headers as sent; names in any case.
    pub headers: &'a [(String, String)],
}

impl SignInput<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `yyyymmddThhmmssZ`, V4's `x-oss-date`.
pub fn v4_timestamp(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// The V4 canonical request (exposed for tests and error reports).
pub fn v4_canonical_request(input: &SignInput<'_>, additional: &[String]) -> String {
    let mut uri = String::from("/");
    if let Some(b) = input.bucket {
        uri.push_str(b);
        uri.push('/');
    }
    if let Some(k) = input.key {
        uri.push_str(k);
    }
    let mut query: Vec<(String, String)> = input
        .query
        .iter()
        .map(|(k, v)| (encode_query(k), encode_query(v)))
        .collect();
    query.sort();
    let query: Vec<String> = query
        .into_iter()
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect();
    let mut headers: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| is_v4_signed(k) || additional.contains(k))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let payload = input
        .header("x-oss-content-sha256")
        .unwrap_or("UNSIGNED-PAYLOAD");
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        input.method,
        encode_path(&uri),
        query.join("&"),
        canonical_headers,
        additional.join(";"),
        payload
    )
}

fn is_v4_signed(lower_name: &str) -> bool {
    lower_name == "content-type" || lower_name == "content-md5" || lower_name.starts_with("x-oss-")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The `Authorization` header for V4. `headers` must already hold `x-oss-date` (equal to
/// `v4_timestamp(now)`) and `x-oss-content-sha256`.
pub fn v4_authorization(
    creds: &Credentials,
    region: &str,
    now: OffsetDateTime,
    input: &SignInput<'_>,
    additional: &[String],
) -> String {
    let stamp = v4_timestamp(now);
    let day = &stamp[..8];
    let scope = format!("{day}/{region}/oss/aliyun_v4_request");
    let canonical = v4_canonical_request(input, additional);
    let string_to_sign = format!(
        "OSS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = v4_signing_key(creds, day, region);
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    let additional = if additional.is_empty() {
        String::new()
    } else {
        format!(",AdditionalHeaders={}", additional.join(";"))
    };
    format!(
        "OSS4-HMAC-SHA256 Credential={}/{scope}{additional},Signature={signature}",
        creds.access_key_id
    )
}

/// The query parameters of a V4 presigned URL (Aliyun's "V4 URL signature"): the
/// signature version, credential scope, date, lifetime and STS token go into the query,
/// are signed there as part of the canonical query, and `x-oss-signature` is added last.
/// `input.query` holds the request's own parameters (if any) and `input.headers` the
/// headers the fetching client will send (none, for a player's GET); values are decoded.
pub fn v4_presign_query(
    creds: &Credentials,
    region: &str,
    now: OffsetDateTime,
    expires_secs: u64,
    input: &SignInput<'_>,
) -> Vec<(String, String)> {
    let stamp = v4_timestamp(now);
    let day = &stamp[..8];
    let scope = format!("{day}/{region}/oss/aliyun_v4_request");
    let mut query = input.query.to_vec();
    query.push(("x-oss-signature-version".into(), "OSS4-HMAC-SHA256".into()));
    query.push((
        "x-oss-credential".into(),
        format!("{}/{scope}", creds.access_key_id),
    ));
    query.push(("x-oss-date".into(), stamp.clone()));
    query.push(("x-oss-expires".into(), expires_secs.to_string()));
    if let Some(token) = creds.session_token() {
        query.push(("x-oss-security-token".into(), token.to_string()));
    }
    let signed = SignInput {
        query: &query,
        ..*input
    };
    let canonical = v4_canonical_request(&signed, &[]);
    let string_to_sign = format!(
        "OSS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let signature = hex::encode(hmac_sha256(
        &v4_signing_key(creds, day, region),
        string_to_sign.as_bytes(),
    ));
    query.push(("x-oss-signature".into(), signature));
    query
}

/// V4's derived key: HMAC chain over the day, region, `oss`, `aliyun_v4_request`.
fn v4_signing_key(creds: &Credentials, day: &str, region: &str) -> Vec<u8> {
    let mut key = hmac_sha256(
        format!("aliyun_v4{}", creds.secret_access_key()).as_bytes(),
        day.as_bytes(),
    );
    for part in [region, "oss", "aliyun_v4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    key
}

/// The query parameters of a V1 presigned URL: `OSSAccessKeyId`, `Expires` (unix seconds,
/// in the string to sign where the `Date` would be), `Signature`, and for STS
/// `security-token`, which V1 signs as a sub-resource of the canonical resource.
pub fn v1_presign_query(
    creds: &Credentials,
    expires_unix: i64,
    input: &SignInput<'_>,
) -> Vec<(String, String)> {
    let mut query = input.query.to_vec();
    if let Some(token) = creds.session_token() {
        query.push(("security-token".into(), token.to_string()));
    }
    let signed = SignInput {
        query: &query,
        ..*input
    };
    let to_sign = v1_string_to_sign(&signed, &expires_unix.to_string());
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(creds.secret_access_key().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(to_sign.as_bytes());
    query.push(("OSSAccessKeyId".into(), creds.access_key_id.clone()));
    query.push(("Expires".into(), expires_unix.to_string()));
    query.push((
        "Signature".into(),
        STANDARD.encode(mac.finalize().into_bytes()),
    ));
    query
}

/// Query parameters V1 signs (sub-resources); others (prefix, max-keys…) are not signed.
const V1_SUBRESOURCES: &[&str] = &[
    "acl",
    "append",
    "bucketInfo",
    "continuation-token",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "objectMeta",
    "partNumber",
    "position",
    "referer",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "security-token",
    "symlink",
    "tagging",
    "uploadId",
    "uploads",
    "website",
    "x-oss-process",
];

/// The V1 string to sign.
pub fn v1_string_to_sign(input: &SignInput<'_>, date: &str) -> String {
    let mut oss_headers: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .collect();
    oss_headers.sort();
    let oss_headers: String = oss_headers
        .iter()
        .map(|(k, v)| format!("{k}:{v}\n"))
        .collect();
    format!(
        "{}\n{}\n{}\n{date}\n{oss_headers}{}",
        input.method,
        input.header("content-md5").unwrap_or(""),
        input.header("content-type").unwrap_or(""),
        v1_resource(input)
    )
}

fn v1_resource(input: &SignInput<'_>) -> String {
    let mut resource = match (input.bucket, input.key) {
        (Some(b), Some(k)) => format!("/{b}/{k}"),
        (Some(b), None) => format!("/{b}/"),
        _ => "/".to_string(),
    };
    let mut sub: Vec<&(String, String)> = input
        .query
        .iter()
        .filter(|(k, _)| V1_SUBRESOURCES.contains(&k.as_str()))
        .collect();
    sub.sort();
    let sub: Vec<String> = sub
        .into_iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    if !sub.is_empty() {
        resource.push('?');
        resource.push_str(&sub.join("&"));
    }
    resource
}

/// The `Authorization` header for V1; `date` is the `Date` header sent.
pub fn v1_authorization(creds: &Credentials, input: &SignInput<'_>, date: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(creds.secret_access_key().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(v1_string_to_sign(input, date).as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    format!("OSS {}:{signature}", creds.access_key_id)
}

#[cfg(test)]
mod tests {
    //! Vectors from aliyun-oss-go-sdk `oss/conn_test.go` and Aliyun's V1 documentation
    //! (domain.md §C1).
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn v1_go_sdk_vector() {
        let creds = Credentials::new("ak", "sk");
        let date = "Wed, 28 Dec 2022 10:27:41 GMT";
        let headers = pairs(&[
            ("Content-MD5", "eB5eJF1ptWaXm4bijSPyxw=="),
            ("Content-Type", "text/html"),
            ("x-oss-date", date),
            ("x-oss-meta-author", "alice"),
            ("x-oss-meta-magic", "abracadabra"),
        ]);
        let input = SignInput {
            method: "PUT",
            bucket: Some("examplebucket"),
            key: Some("nelson"),
            query: &[],
            headers: &headers,
        };
        assert_eq!(
            v1_authorization(&creds, &input, date),
            "OSS ak:kSHKmLxlyEAKtZPkJhG9bZb5k7M="
        );
    }

    #[test]
    fn v1_documentation_vector() {
        let creds = Credentials::new("id", "OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV");
        let headers = pairs(&[
            (
                "Content-MD5",
                "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=",
            ),
            ("Content-Type", "text/html"),
            ("X-OSS-Magic", "abracadabra"),
            ("X-OSS-Meta-Author", "foo@bar.com"),
        ]);
        let input = SignInput {
            method: "PUT",
            bucket: Some("oss-example"),
            key: Some("nelson"),
            query: &[],
            headers: &headers,
        };
        let date = "Thu, 17 Nov 2005 18:49:58 GMT";
        assert_eq!(
            v1_string_to_sign(&input, date),
            "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\nx-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson"
        );
        assert_eq!(
            v1_authorization(&creds, &input, date),
            "OSS id:26NBxoKdsyly4EDv6inkoDft/yA="
        );
    }

    type Pairs = Vec<(String, String)>;

    /// Headers and query of the go SDK's V4 vectors.
    fn v4_vector_input(stamp: &str) -> (Pairs, Pairs) {
        let headers = pairs(&[
            ("x-oss-head1", "value"),
            ("abc", "value"),
            ("ZAbc", "value"),
            ("XYZ", "value"),
            ("content-type", "text/plain"),
            ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-oss-date", stamp),
        ]);
        let query = pairs(&[
            ("param1", "value1"),
            ("+param1", "value3"),
            ("|param1", "value4"),
            ("+param2", ""),
            ("|param2", ""),
            ("param2", ""),
        ]);
        (headers, query)
    }

    #[test]
    fn v4_go_sdk_vector() {
        let creds = Credentials::new("ak", "sk");
        let now = OffsetDateTime::from_unix_timestamp(1702743657).unwrap();
        let (headers, query) = v4_vector_input(&v4_timestamp(now));
        let input = SignInput {
            method: "PUT",
            bucket: Some("bucket"),
            key: Some("1234+-/123/1.txt"),
            query: &query,
            headers: &headers,
        };
        let canonical = v4_canonical_request(&input, &[]);
        assert!(
            canonical.starts_with("PUT\n/bucket/1234%2B-/123/1.txt\n%2Bparam1=value3&%2Bparam2&%7Cparam1=value4&%7Cparam2&param1=value1&param2\n"),
            "{canonical}"
        );
        assert_eq!(
            v4_authorization(&creds, "cn-hangzhou", now, &input, &[]),
            "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,Signature=e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"
        );
    }

    #[test]
    fn v4_go_sdk_vector_with_additional_headers() {
        let creds = Credentials::new("ak", "sk");
        let now = OffsetDateTime::from_unix_timestamp(1702747512).unwrap();
        let (headers, query) = v4_vector_input(&v4_timestamp(now));
        let input = SignInput {
            method: "PUT",
            bucket: Some("bucket"),
            key: Some("1234+-/123/1.txt"),
            query: &query,
            headers: &headers,
        };
        let additional = ["abc".to_string(), "zabc".to_string()];
        assert_eq!(
            v4_authorization(&creds, "cn-hangzhou", now, &input, &additional),
            "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=abc;zabc,Signature=4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f"
        );
    }

    /// Presigned URLs for one object by Aliyun's official Python SDK (alibabacloud-oss-v2
    /// 1.x, `SignerV4`/`SignerV1` with `auth_method_query`, signing time 1702743657, one
    /// hour), with and without an STS token: the same parameters must give the same
    /// signatures.
    #[test]
    fn presign_matches_the_official_python_sdk() {
        let now = OffsetDateTime::from_unix_timestamp(1702743657).unwrap();
        let input = SignInput {
            method: "GET",
            bucket: Some("bucket"),
            key: Some("rec/a b+c.m3u8"),
            query: &[],
            headers: &[],
        };
        let get = |q: &[(String, String)], name: &str| {
            q.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let plain = Credentials::new("ak", "sk");
        let sts = Credentials::new("ak", "sk").with_session_token(Some("sts-token/+=".into()));

        let q = v4_presign_query(&plain, "cn-hangzhou", now, 3600, &input);
        assert_eq!(
            get(&q, "x-oss-credential"),
            "ak/20231216/cn-hangzhou/oss/aliyun_v4_request"
        );
        assert_eq!(get(&q, "x-oss-date"), "20231216T162057Z");
        assert_eq!(get(&q, "x-oss-expires"), "3600");
        assert_eq!(
            get(&q, "x-oss-signature"),
            "64aa19a9d151c1dc766fb6a43ec5dce40c8c0a60a5588b9d814d76b74c02c341"
        );
        let q = v4_presign_query(&sts, "cn-hangzhou", now, 3600, &input);
        assert_eq!(get(&q, "x-oss-security-token"), "sts-token/+=");
        assert_eq!(
            get(&q, "x-oss-signature"),
            "0906651419a29d302c753a4eff4bc69965c5868e9c3f77f1a5b15089b13a47c4"
        );

        let q = v1_presign_query(&plain, 1702747257, &input);
        assert_eq!(get(&q, "Signature"), "LdMAiH3sOHwJ8eL5i6zEiSY1Mfo=");
        assert_eq!(get(&q, "OSSAccessKeyId"), "ak");
        assert_eq!(get(&q, "Expires"), "1702747257");
        let q = v1_presign_query(&sts, 1702747257, &input);
        assert_eq!(get(&q, "security-token"), "sts-token/+=");
        assert_eq!(get(&q, "Signature"), "SQHAZJnS68RqZc7RWsEpk9ZxXX0=");
    }

    #[test]
    fn v1_signs_subresources_only() {
        let query = pairs(&[("uploadId", "U1"), ("partNumber", "2"), ("prefix", "x")]);
        let input = SignInput {
            method: "PUT",
            bucket: Some("b"),
            key: Some("k"),
            query: &query,
            headers: &[],
        };
        assert!(v1_string_to_sign(&input, "D").ends_with("\n/b/k?partNumber=2&uploadId=U1"));
    }
}
