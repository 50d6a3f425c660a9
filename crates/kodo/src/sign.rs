//! Qiniu's credentials on the client side (developer.qiniu.com/kodo/1208/upload-token,
//! /kodo/1201/access-token, /kodo/1202/download-token): every one is
//! `AK:urlsafe_base64(HMAC-SHA1(SK, data))` over a different `data`. Hand-written: it is a
//! dozen lines over `hmac` and `sha1`, where Qiniu's `qiniu-upload-token` crate would bring
//! its own credential provider stack (see docs/decisions.md).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use stowage_core::Credentials;

/// Signs with one key pair; `Debug` shows only the access key.
#[derive(Clone, Debug)]
pub struct Signer {
    creds: Credentials,
}

pub(crate) const FORM: &str = "application/x-www-form-urlencoded";

impl Signer {
    pub fn new(creds: Credentials) -> Self {
        Signer { creds }
    }

    pub fn access_key(&self) -> &str {
        &self.creds.access_key_id
    }

    /// `AK:urlsafe_b64(HMAC-SHA1(SK, data))`.
    pub fn sign(&self, data: &[u8]) -> String {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(self.creds.secret_access_key().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(data);
        format!(
            "{}:{}",
            self.creds.access_key_id,
            URL_SAFE.encode(mac.finalize().into_bytes())
        )
    }

    /// An upload token for exactly `bucket:key` until `deadline` (unix seconds).
    /// `insertOnly` is 0, so a segment sent again after a lost reply overwrites itself
    /// instead of failing with 614.
    pub fn upload_token(&self, bucket: &str, key: &str, deadline: i64) -> String {
        let policy = serde_json::json!({
            "scope": format!("{bucket}:{key}"),
            "deadline": deadline,
            "insertOnly": 0,
        });
        let encoded = URL_SAFE.encode(policy.to_string());
        format!("{}:{encoded}", self.sign(encoded.as_bytes()))
    }

    /// `Authorization` of a management request (access token v2): signs
    /// `METHOD path?query\nHost: host\nContent-Type: ct\n\n` and the body when it is a form
    /// or JSON. Stowage sends no `X-Qiniu-*` headers, so none are signed.
    pub fn management(
        &self,
        method: &str,
        path_and_query: &str,
        host: &str,
        content_type: &str,
        body: &[u8],
    ) -> String {
        let mut data =
            format!("{method} {path_and_query}\nHost: {host}\nContent-Type: {content_type}\n\n")
                .into_bytes();
        if (content_type == FORM || content_type == "application/json") && !body.is_empty() {
            data.extend_from_slice(body);
        }
        format!("Qiniu {}", self.sign(&data))
    }

    /// A private download URL: `url?e=<deadline>&token=<sign(url?e=deadline)>`.
    pub fn private_url(&self, url: &str, deadline: i64) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        let signed = format!("{url}{sep}e={deadline}");
        let token = self.sign(signed.as_bytes());
        format!("{signed}&token={token}")
    }
}

#[cfg(test)]
mod tests {
    //! The vectors of Qiniu's go-sdk `auth/credentials_test.go` (AK `ak`, SK `sk`), from
    //! the domain reference §C3.
    use super::*;

    fn signer() -> Signer {
        Signer::new(Credentials::new("ak", "sk"))
    }

    #[test]
    fn sign_vectors() {
        assert_eq!(signer().sign(b"hello"), "ak:NDN8cM0rwosxhHJ6QAcI7ialr0g=");
        assert_eq!(signer().sign(b"world"), "ak:wZ-sw41ayh3PFDmQA-D3o7eBJIY=");
    }

    #[test]
    fn sign_with_data_vector() {
        // Upload-token form: sign the encoded data, then append it.
        let encoded = URL_SAFE.encode("hello");
        let token = format!("{}:{encoded}", signer().sign(encoded.as_bytes()));
        assert_eq!(token, "ak:2pn0qs-2kfEsQFuHI2pAYlo0hpc=:aGVsbG8=");
    }

    #[test]
    fn management_v2_vector() {
        let auth = signer().management("POST", "", "", "application/json", br#"{"name": "test"}"#);
        assert_eq!(auth, "Qiniu ak:0ujEjW_vLRZxebsveBgqa3JyQ-w=");
    }

    #[test]
    fn upload_token_carries_scope_deadline_and_overwrite() {
        let token = signer().upload_token("rec", "a/b.ts", 1_700_000_000);
        let (sig, encoded) = token.rsplit_once(':').unwrap();
        assert_eq!(sig, signer().sign(encoded.as_bytes()));
        let policy: serde_json::Value =
            serde_json::from_slice(&URL_SAFE.decode(encoded).unwrap()).unwrap();
        assert_eq!(policy["scope"], "rec:a/b.ts");
        assert_eq!(policy["deadline"], 1_700_000_000);
        assert_eq!(policy["insertOnly"], 0);
    }

    #[test]
    fn private_url_signs_the_url_with_its_deadline() {
        let url = signer().private_url("http://d.example/a%20b.ts", 1_451_491_200);
        let (signed, token) = url.split_once("&token=").unwrap();
        assert_eq!(signed, "http://d.example/a%20b.ts?e=1451491200");
        assert_eq!(token, signer().sign(signed.as_bytes()));
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = format!(
            "{:?}",
            Signer::new(Credentials::new("ak", "very-secret-sk"))
        );
        assert!(s.contains("ak") && !s.contains("very-secret-sk"), "{s}");
    }
}
