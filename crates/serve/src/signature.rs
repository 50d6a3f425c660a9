//! Agora NCS signatures: `Agora-Signature-V2` (HMAC-SHA256, hex) or `Agora-Signature`
//! (HMAC-SHA1, hex), both over the raw request body with the product's secret. Either one
//! verifying is enough. The comparison is constant-time (`Mac::verify_slice`).

use hmac::{Hmac, Mac};

/// The header carrying HMAC-SHA256.
pub const HEADER_V2: &str = "agora-signature-v2";
/// The header carrying HMAC-SHA1.
pub const HEADER_V1: &str = "agora-signature";

/// Which signature proved the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    Sha256,
    Sha1,
}

/// Why a request was refused (never says anything about the secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Neither header was sent.
    Missing,
    /// A header was sent but no signature matched the body.
    Mismatch,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Mismatch => "mismatch",
        }
    }
}

/// Checks the two headers' values (`None` when absent) against `body`.
pub fn check(
    secret: &[u8],
    body: &[u8],
    v2: Option<&str>,
    v1: Option<&str>,
) -> Result<Algo, Refusal> {
    if v2.is_none() && v1.is_none() {
        return Err(Refusal::Missing);
    }
    if let Some(sig) = v2
        && matches::<Hmac<sha2::Sha256>>(secret, body, sig)
    {
        return Ok(Algo::Sha256);
    }
    if let Some(sig) = v1
        && matches::<Hmac<sha1::Sha1>>(secret, body, sig)
    {
        return Ok(Algo::Sha1);
    }
    Err(Refusal::Mismatch)
}

fn matches<M: Mac + hmac::digest::KeyInit>(secret: &[u8], body: &[u8], hex_sig: &str) -> bool {
    let Ok(given) = hex::decode(hex_sig.trim()) else {
        return false;
    };
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The hex HMAC-SHA256 of `body` (what Agora sends in `Agora-Signature-V2`); for tests and
/// load generators.
pub fn sign_sha256(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(secret)
        .expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The hex HMAC-SHA1 of `body` (what Agora sends in `Agora-Signature`).
pub fn sign_sha1(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<sha1::Sha1> as hmac::digest::KeyInit>::new_from_slice(secret)
        .expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ncs.md's vector (the Chinese signature-verification page, recomputed with Python).
    const BODY: &str = r#"{"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f","notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}"#;
    const SHA1: &str = "5a3bb6a6d9fad2ea9ae3fb707a14c9d7f3136df1";
    const SHA256: &str = "de96da5acf03b0021ac3b4fa2225e7ae6f3533a30d50bb02c08ea4fa748bda24";

    #[test]
    fn the_documented_vectors_sign_and_verify() {
        assert_eq!(sign_sha1(b"secret", BODY.as_bytes()), SHA1);
        assert_eq!(sign_sha256(b"secret", BODY.as_bytes()), SHA256);
        let b = BODY.as_bytes();
        assert_eq!(check(b"secret", b, Some(SHA256), None), Ok(Algo::Sha256));
        assert_eq!(check(b"secret", b, None, Some(SHA1)), Ok(Algo::Sha1));
        assert_eq!(
            check(b"secret", b, Some(SHA256), Some(SHA1)),
            Ok(Algo::Sha256)
        );
        // Upper-case hex is the same digest.
        let upper = SHA256.to_uppercase();
        assert_eq!(check(b"secret", b, Some(&upper), None), Ok(Algo::Sha256));
    }

    #[test]
    fn wrong_secret_swapped_headers_or_reserialised_json_fail() {
        let b = BODY.as_bytes();
        assert_eq!(
            check(b"other", b, Some(SHA256), Some(SHA1)),
            Err(Refusal::Mismatch)
        );
        // A SHA-1 digest in the V2 header is not a SHA-256 signature.
        assert_eq!(
            check(b"secret", b, Some(SHA1), None),
            Err(Refusal::Mismatch)
        );
        assert_eq!(check(b"secret", b, None, None), Err(Refusal::Missing));
        assert_eq!(
            check(b"secret", b, Some("not hex"), None),
            Err(Refusal::Mismatch)
        );
        // The trap in ncs.md: HMAC over JSON that went through a parser and back.
        let v: serde_json::Value = serde_json::from_str(BODY).unwrap();
        let pretty = serde_json::to_vec_pretty(&v).unwrap();
        assert_ne!(pretty, b);
        assert_eq!(
            check(b"secret", &pretty, Some(SHA256), Some(SHA1)),
            Err(Refusal::Mismatch)
        );
    }
}
