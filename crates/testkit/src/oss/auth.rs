//! The emulator's signature check, written from Aliyun's documentation independently of
//! the adapter's signer (stowage-oss `sign.rs`), so that each checks the other:
//! - V4: <https://help.aliyun.com/en/oss/developer-reference/recommend-to-use-signature-version-4>
//! - V1: <https://help.aliyun.com/en/oss/developer-reference/include-signatures-in-the-authorization-header>

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Digest as _;

/// What the server knows about the request being checked.
pub struct Request<'a> {
    pub method: &'a str,
    /// Bucket and key the request addresses (decoded), whatever the addressing style.
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    /// The query string exactly as received (still percent-encoded).
    pub raw_query: &'a str,
    /// Header names lower-case, values as received.
    pub headers: &'a [(String, String)],
}

impl Request<'_> {
    pub fn header(&self, lower: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == lower)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub enum Authorization {
    V4 {
        access_key: String,
        date: String,
        region: String,
        additional: Vec<String>,
        signature: String,
    },
    V1 {
        access_key: String,
        signature: String,
    },
}

impl Authorization {
    pub fn access_key(&self) -> &str {
        match self {
            Authorization::V4 { access_key, .. } | Authorization::V1 { access_key, .. } => {
                access_key
            }
        }
    }

    /// Parses either form; `None` for anything else.
    pub fn parse(header: &str) -> Option<Authorization> {
        if let Some(rest) = header.strip_prefix("OSS4-HMAC-SHA256 ") {
            return parse_v4(rest);
        }
        let (access_key, signature) = header.strip_prefix("OSS ")?.split_once(':')?;
        Some(Authorization::V1 {
            access_key: access_key.to_string(),
            signature: signature.to_string(),
        })
    }
}

fn parse_v4(rest: &str) -> Option<Authorization> {
    let mut credential = None;
    let mut additional = Vec::new();
    let mut signature = None;
    for field in rest.split(',') {
        let (name, value) = field.trim().split_once('=')?;
        match name {
            "Credential" => credential = Some(value),
            "AdditionalHeaders" => {
                additional = value.split(';').map(|h| h.to_ascii_lowercase()).collect()
            }
            "Signature" => signature = Some(value.to_string()),
            _ => return None,
        }
    }
    // Credential = <AccessKeyId>/<yyyymmdd>/<region>/oss/aliyun_v4_request
    let mut scope = credential?.split('/');
    let access_key = scope.next()?.to_string();
    let date = scope.next()?.to_string();
    let region = scope.next()?.to_string();
    (scope.next()? == "oss" && scope.next()? == "aliyun_v4_request" && scope.next().is_none())
        .then_some(())?;
    Some(Authorization::V4 {
        access_key,
        date,
        region,
        additional,
        signature: signature?,
    })
}

/// A signature carried in the query string (a presigned URL) instead of `Authorization`.
/// V4: <https://help.aliyun.com/en/oss/developer-reference/add-signatures-to-urls> (V4 URL
/// signature: `x-oss-signature-version`, `x-oss-credential`, `x-oss-date`, `x-oss-expires`,
/// optional `x-oss-additional-headers` and `x-oss-security-token`, then `x-oss-signature`);
/// V1: `OSSAccessKeyId`, `Expires` (unix seconds), `Signature`, optional `security-token`.
#[derive(Debug, PartialEq, Eq)]
pub enum QueryAuth {
    V4 {
        access_key: String,
        /// `yyyymmdd` of the credential scope.
        date: String,
        region: String,
        /// `x-oss-date`, `yyyymmddThhmmssZ`.
        timestamp: String,
        /// `x-oss-expires`, seconds after `x-oss-date`.
        expires: i64,
        additional: Vec<String>,
        signature: String,
    },
    V1 {
        access_key: String,
        /// `Expires`, unix seconds.
        expires_at: i64,
        signature: String,
    },
}

impl QueryAuth {
    /// Reads the decoded query; `None` when it carries no signature. A query with a
    /// signature but a malformed field is `Some(Err(what))`.
    pub fn parse(query: &[(String, String)]) -> Option<Result<QueryAuth, &'static str>> {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if let Some(signature) = get("x-oss-signature") {
            return Some(parse_v4_query(&get, signature));
        }
        let signature = get("Signature")?;
        let access_key = get("OSSAccessKeyId")?;
        let expires_at = get("Expires")
            .and_then(|e| e.parse().ok())
            .ok_or("Expires is missing or not unix seconds");
        Some(expires_at.map(|expires_at| QueryAuth::V1 {
            access_key: access_key.to_string(),
            expires_at,
            signature: signature.to_string(),
        }))
    }

    pub fn access_key(&self) -> &str {
        match self {
            QueryAuth::V4 { access_key, .. } | QueryAuth::V1 { access_key, .. } => access_key,
        }
    }

    /// The query parameter that must carry an STS token.
    pub fn token_param(&self) -> &'static str {
        match self {
            QueryAuth::V4 { .. } => "x-oss-security-token",
            QueryAuth::V1 { .. } => "security-token",
        }
    }
}

fn parse_v4_query<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    signature: &str,
) -> Result<QueryAuth, &'static str> {
    if get("x-oss-signature-version") != Some("OSS4-HMAC-SHA256") {
        return Err("x-oss-signature-version must be OSS4-HMAC-SHA256");
    }
    let credential = get("x-oss-credential").ok_or("x-oss-credential is missing")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, "oss", "aliyun_v4_request"] = scope[..] else {
        return Err("x-oss-credential is not <AccessKeyId>/<date>/<region>/oss/aliyun_v4_request");
    };
    let timestamp = get("x-oss-date").ok_or("x-oss-date is missing")?;
    let expires = get("x-oss-expires")
        .and_then(|e| e.parse().ok())
        .ok_or("x-oss-expires is missing or not a number of seconds")?;
    let additional = get("x-oss-additional-headers")
        .map(|h| h.split(';').map(|h| h.to_ascii_lowercase()).collect())
        .unwrap_or_default();
    Ok(QueryAuth::V4 {
        access_key: access_key.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        timestamp: timestamp.to_string(),
        expires,
        additional,
        signature: signature.to_string(),
    })
}

/// The raw query without `x-oss-signature` (what a V4 presigned URL's signature covers).
pub fn query_without_signature(raw_query: &str) -> String {
    raw_query
        .split('&')
        .filter(|p| !p.starts_with("x-oss-signature=") && *p != "x-oss-signature")
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 `uriEncode`: unreserved characters as they are, every other byte `%XX`.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let unreserved = b.is_ascii_alphanumeric() || b"-_.~".contains(&b);
        if unreserved || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hmac256(key: &[u8], msg: &str) -> Vec<u8> {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(msg.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// V4 canonical request: method, `/bucket/key`, sorted query (as the client encoded it),
/// signed headers (content-type, content-md5, x-oss-*, and the additional ones).
pub fn v4_canonical_request(req: &Request<'_>, additional: &[String]) -> String {
    let resource = format!(
        "/{}{}",
        req.bucket.map(|b| format!("{b}/")).unwrap_or_default(),
        req.key.unwrap_or("")
    );
    let raw = req.raw_query.replace('+', "%20");
    let mut params: Vec<(&str, &str)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    params.sort();
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| match v.is_empty() {
            true => k.to_string(),
            false => format!("{k}={v}"),
        })
        .collect();
    let mut signed: Vec<(&str, String)> = req
        .headers
        .iter()
        .filter(|(k, _)| {
            k == "content-type"
                || k == "content-md5"
                || k.starts_with("x-oss-")
                || additional.contains(k)
        })
        .map(|(k, v)| (k.as_str(), v.trim().to_string()))
        .collect();
    signed.sort();
    let mut headers = String::new();
    for (k, v) in signed {
        headers.push_str(&format!("{k}:{v}\n"));
    }
    let payload = req
        .header("x-oss-content-sha256")
        .unwrap_or("UNSIGNED-PAYLOAD");
    [
        req.method,
        &uri_encode(&resource, true),
        &query.join("&"),
        &headers,
        &additional.join(";"),
        payload,
    ]
    .join("\n")
}

/// The V4 signature the client should have sent.
pub fn v4_signature(
    secret: &str,
    timestamp: &str,
    date: &str,
    region: &str,
    canonical_request: &str,
) -> String {
    let scope = format!("{date}/{region}/oss/aliyun_v4_request");
    let hashed = hex::encode(sha2::Sha256::digest(canonical_request.as_bytes()));
    let to_sign = format!("OSS4-HMAC-SHA256\n{timestamp}\n{scope}\n{hashed}");
    let k_date = hmac256(format!("aliyun_v4{secret}").as_bytes(), date);
    let k_region = hmac256(&k_date, region);
    let k_service = hmac256(&k_region, "oss");
    let k_signing = hmac256(&k_service, "aliyun_v4_request");
    hex::encode(hmac256(&k_signing, &to_sign))
}

/// Sub-resources V1's canonical resource carries (aliyun-oss-go-sdk `signKeyList`, the part
/// a recording store meets).
const SIGNED_SUBRESOURCES: &[&str] = &[
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

/// V1: `VERB\nContent-MD5\nContent-Type\nDate\nCanonicalizedOSSHeaders CanonicalizedResource`.
pub fn v1_string_to_sign(req: &Request<'_>, decoded_query: &[(String, String)]) -> String {
    v1_string_to_sign_at(req, decoded_query, req.header("date").unwrap_or(""))
}

/// V1's string to sign with `date` in the Date line: a presigned URL puts its `Expires`
/// (unix seconds) there.
pub fn v1_string_to_sign_at(
    req: &Request<'_>,
    decoded_query: &[(String, String)],
    date: &str,
) -> String {
    let mut oss: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .map(|(k, v)| (k.as_str(), v.trim()))
        .collect();
    oss.sort();
    let oss: String = oss.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let mut resource = match (req.bucket, req.key) {
        (Some(b), Some(k)) => format!("/{b}/{k}"),
        (Some(b), None) => format!("/{b}/"),
        (None, _) => "/".to_string(),
    };
    let mut sub: Vec<String> = decoded_query
        .iter()
        .filter(|(k, _)| SIGNED_SUBRESOURCES.contains(&k.as_str()))
        .map(|(k, v)| match v.is_empty() {
            true => k.clone(),
            false => format!("{k}={v}"),
        })
        .collect();
    sub.sort();
    if !sub.is_empty() {
        resource = format!("{resource}?{}", sub.join("&"));
    }
    format!(
        "{}\n{}\n{}\n{date}\n{oss}{resource}",
        req.method,
        req.header("content-md5").unwrap_or(""),
        req.header("content-type").unwrap_or(""),
    )
}

pub fn v1_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    //! The vectors of domain.md §C1 (aliyun-oss-go-sdk `oss/conn_test.go`, Aliyun's V1 doc).
    use super::*;

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect()
    }

    #[test]
    fn v4_vectors() {
        let h = headers(&[
            ("x-oss-head1", "value"),
            ("abc", "value"),
            ("ZAbc", "value"),
            ("XYZ", "value"),
            ("content-type", "text/plain"),
            ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-oss-date", "20231216T162057Z"),
        ]);
        let raw_query =
            "param1=value1&%2Bparam1=value3&%7Cparam1=value4&%2Bparam2&%7Cparam2&param2";
        let req = Request {
            method: "PUT",
            bucket: Some("bucket"),
            key: Some("1234+-/123/1.txt"),
            raw_query,
            headers: &h,
        };
        let canonical = v4_canonical_request(&req, &[]);
        let sig = v4_signature(
            "sk",
            "20231216T162057Z",
            "20231216",
            "cn-hangzhou",
            &canonical,
        );
        assert_eq!(
            sig,
            "e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"
        );

        let mut h2 = h.clone();
        h2.retain(|(k, _)| k != "x-oss-date");
        h2.push(("x-oss-date".into(), "20231216T172512Z".into()));
        let req = Request {
            headers: &h2,
            ..req
        };
        let additional = vec!["abc".to_string(), "zabc".to_string()];
        let canonical = v4_canonical_request(&req, &additional);
        let sig = v4_signature(
            "sk",
            "20231216T172512Z",
            "20231216",
            "cn-hangzhou",
            &canonical,
        );
        assert_eq!(
            sig,
            "4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f"
        );
    }

    #[test]
    fn v1_vectors() {
        let date = "Wed, 28 Dec 2022 10:27:41 GMT";
        let h = headers(&[
            ("Content-MD5", "eB5eJF1ptWaXm4bijSPyxw=="),
            ("Content-Type", "text/html"),
            ("Date", date),
            ("x-oss-date", date),
            ("x-oss-meta-author", "alice"),
            ("x-oss-meta-magic", "abracadabra"),
        ]);
        let req = Request {
            method: "PUT",
            bucket: Some("examplebucket"),
            key: Some("nelson"),
            raw_query: "",
            headers: &h,
        };
        assert_eq!(
            v1_signature("sk", &v1_string_to_sign(&req, &[])),
            "kSHKmLxlyEAKtZPkJhG9bZb5k7M="
        );

        let doc = "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\nx-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson";
        assert_eq!(
            v1_signature("OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV", doc),
            "26NBxoKdsyly4EDv6inkoDft/yA="
        );
    }

    #[test]
    fn parses_presigned_queries() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let v4 = pairs(&[
            ("x-oss-signature-version", "OSS4-HMAC-SHA256"),
            (
                "x-oss-credential",
                "ak/20231216/cn-hangzhou/oss/aliyun_v4_request",
            ),
            ("x-oss-date", "20231216T162057Z"),
            ("x-oss-expires", "3600"),
            ("x-oss-signature", "ff"),
        ]);
        let parsed = QueryAuth::parse(&v4).unwrap().unwrap();
        assert_eq!(parsed.access_key(), "ak");
        assert_eq!(parsed.token_param(), "x-oss-security-token");
        assert!(
            matches!(parsed, QueryAuth::V4 { expires: 3600, ref region, .. } if region == "cn-hangzhou")
        );
        let bad = pairs(&[("x-oss-signature", "ff"), ("x-oss-credential", "ak/x")]);
        assert!(QueryAuth::parse(&bad).unwrap().is_err());
        let v1 = pairs(&[
            ("OSSAccessKeyId", "ak"),
            ("Expires", "1702747257"),
            ("Signature", "s="),
        ]);
        assert_eq!(
            QueryAuth::parse(&v1).unwrap(),
            Ok(QueryAuth::V1 {
                access_key: "ak".into(),
                expires_at: 1702747257,
                signature: "s=".into()
            })
        );
        assert_eq!(QueryAuth::parse(&pairs(&[("uploads", "")])), None);
        assert_eq!(
            query_without_signature(
                "a=1&x-oss-signature=ff&x-oss-signature-version=OSS4-HMAC-SHA256"
            ),
            "a=1&x-oss-signature-version=OSS4-HMAC-SHA256"
        );
    }

    #[test]
    fn parses_both_authorization_forms() {
        let v4 = Authorization::parse(
            "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=abc;zabc,Signature=ff",
        );
        assert_eq!(
            v4,
            Some(Authorization::V4 {
                access_key: "ak".into(),
                date: "20231216".into(),
                region: "cn-hangzhou".into(),
                additional: vec!["abc".into(), "zabc".into()],
                signature: "ff".into(),
            })
        );
        assert_eq!(
            Authorization::parse("OSS ak:sig=").map(|a| a.access_key().to_string()),
            Some("ak".into())
        );
        assert_eq!(Authorization::parse("AWS4-HMAC-SHA256 x"), None);
    }
}
