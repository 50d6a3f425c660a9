//! Playback URLs: where a player fetches a playlist or segment once it is in the bucket
//! (the Agora FAQ: the bucket's public domain joined with the M3U8 name).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters kept as they are in a key path segment: RFC 3986 unreserved.
const KEY_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The storage vendors with default public hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    S3,
    Oss,
    Cos,
    Kodo,
}

impl Vendor {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "s3" | "aws" | "amazon" => Vendor::S3,
            "oss" | "aliyun" | "alibaba" => Vendor::Oss,
            "cos" | "tencent" | "qcloud" => Vendor::Cos,
            "kodo" | "qiniu" => Vendor::Kodo,
            _ => return None,
        })
    }
}

/// Percent-encodes a key for a URL path: each `/`-separated segment on its own.
pub fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|seg| utf8_percent_encode(seg, KEY_SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// `https://<domain>/<key>` for a custom domain (CNAME) or CDN; `domain` may carry its own
/// scheme (`http://…`) and a path prefix.
pub fn url_with_domain(domain: &str, key: &str) -> String {
    let base = if domain.contains("://") {
        domain.to_string()
    } else {
        format!("https://{domain}")
    };
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        encode_key(key.trim_start_matches('/'))
    )
}

/// The vendor's default public URL of `key` in `bucket`. Qiniu has no permanent default
/// host (its test domains expire), so Kodo needs a bound domain.
pub fn public_url(vendor: Vendor, region: &str, bucket: &str, key: &str) -> Result<String, String> {
    if bucket.is_empty() || region.is_empty() && vendor != Vendor::Kodo {
        return Err("both --bucket and --region are needed for a vendor's default host".into());
    }
    let host = match vendor {
        Vendor::S3 if region.starts_with("cn-") => format!("{bucket}.s3.{region}.amazonaws.com.cn"),
        Vendor::S3 => format!("{bucket}.s3.{region}.amazonaws.com"),
        Vendor::Oss => format!(
            "{bucket}.oss-{}.aliyuncs.com",
            region.trim_start_matches("oss-")
        ),
        Vendor::Cos => format!("{bucket}.cos.{region}.myqcloud.com"),
        Vendor::Kodo => {
            return Err("Qiniu Kodo has no permanent public host: bind a domain to the bucket and pass it with --domain".into());
        }
    };
    Ok(url_with_domain(&host, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_per_segment() {
        assert_eq!(
            encode_key("rec/a b+c/段.m3u8"),
            "rec/a%20b%2Bc/%E6%AE%B5.m3u8"
        );
        assert_eq!(
            encode_key("sid_cname__uid_s_1~x.ts"),
            "sid_cname__uid_s_1~x.ts"
        );
    }

    #[test]
    fn vendor_hosts() {
        assert_eq!(
            public_url(Vendor::S3, "eu-west-1", "b", "r/x.m3u8").unwrap(),
            "https://b.s3.eu-west-1.amazonaws.com/r/x.m3u8"
        );
        assert_eq!(
            public_url(Vendor::S3, "cn-north-1", "b", "x").unwrap(),
            "https://b.s3.cn-north-1.amazonaws.com.cn/x"
        );
        assert_eq!(
            public_url(Vendor::Oss, "cn-hangzhou", "b", "x").unwrap(),
            "https://b.oss-cn-hangzhou.aliyuncs.com/x"
        );
        assert_eq!(
            public_url(Vendor::Oss, "oss-cn-hangzhou", "b", "x").unwrap(),
            "https://b.oss-cn-hangzhou.aliyuncs.com/x"
        );
        assert_eq!(
            public_url(Vendor::Cos, "ap-guangzhou", "b-1250000000", "x").unwrap(),
            "https://b-1250000000.cos.ap-guangzhou.myqcloud.com/x"
        );
        assert!(
            public_url(Vendor::Kodo, "z0", "b", "x")
                .unwrap_err()
                .contains("--domain")
        );
    }

    #[test]
    fn custom_domains() {
        assert_eq!(
            url_with_domain("cdn.example.com", "/a b.m3u8"),
            "https://cdn.example.com/a%20b.m3u8"
        );
        assert_eq!(
            url_with_domain("http://cdn.example.com/base/", "x.ts"),
            "http://cdn.example.com/base/x.ts"
        );
    }
}
