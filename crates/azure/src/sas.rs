//! Service SAS download URLs (`stowage presign`, `verify --playback-signed`).
//!
//! object_store has a signer for these, but 0.14.2 signs the blob's *percent-encoded* path
//! into the SAS's canonicalized resource (`/blob/<account>/<container>/rec/a%20b.ts`), while
//! Azure and Azurite sign the blob's name (`…/rec/a b.ts`, as Microsoft's SDKs do): its URLs
//! are refused (403) for every key with a space, a `+`, or any non-ASCII letter. So the
//! 16-line string to sign of Microsoft's "Create a service SAS" page is built here, for one
//! blob and the read permission only, and pinned to what Microsoft's Python SDK
//! (`azure-storage-blob` 12.31, `generate_blob`) signs for the same input.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;
use stowage_core::{Error, Result};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The service version the SAS is signed for (the one object_store sends with requests).
pub const SAS_VERSION: &str = "2023-11-03";

/// What one read-only blob SAS covers.
pub struct BlobSas<'a> {
    pub account: &'a str,
    pub container: &'a str,
    pub key: &'a str,
    pub start: OffsetDateTime,
    pub expiry: OffsetDateTime,
    pub version: &'a str,
}

impl BlobSas<'_> {
    fn string_to_sign(&self) -> Result<String> {
        Ok(format!(
            "r\n{}\n{}\n/blob/{}/{}/{}\n\n\n\n{}\nb\n\n\n\n\n\n\n",
            time_of(self.start)?,
            time_of(self.expiry)?,
            self.account,
            self.container,
            self.key,
            self.version
        ))
    }

    /// The SAS query (`st=…&se=…&sp=r&sv=…&sr=b&sig=…`), signed with the account key
    /// (base64, as the portal shows it).
    pub fn query(&self, account_key: &str) -> Result<String> {
        let key = STANDARD
            .decode(account_key)
            .map_err(|_| Error::invalid_input("the Azure account key (secretKey) is not base64"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key)
            .map_err(|_| Error::invalid_input("the Azure account key is empty"))?;
        mac.update(self.string_to_sign()?.as_bytes());
        let sig = STANDARD.encode(mac.finalize().into_bytes());
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        Ok(format!(
            "st={}&se={}&sp=r&sv={}&sr=b&sig={}",
            enc(&time_of(self.start)?),
            enc(&time_of(self.expiry)?),
            self.version,
            enc(&sig)
        ))
    }
}

/// `2026-12-07T03:00:00Z`: seconds, UTC, as SAS times are written.
fn time_of(t: OffsetDateTime) -> Result<String> {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .map_err(|e| Error::invalid_input(format!("SAS time: {e}")))?;
    t.format(&Rfc3339)
        .map_err(|e| Error::invalid_input(format!("SAS time: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn matches_microsofts_python_sdk() {
        // azure-storage-blob 12.31.1: BlobSharedAccessSignature("devstoreaccount1", KEY)
        // .generate_blob("rec-1", "rec/signed a+b.ts", permission="r",
        //   start="2026-12-07T03:00:00Z", expiry="2026-12-07T04:00:00Z") (sv=2026-10-06).
        let sas = BlobSas {
            account: "devstoreaccount1",
            container: "rec-1",
            key: "rec/signed a+b.ts",
            start: datetime!(2026-12-07 03:00:00 UTC),
            expiry: datetime!(2026-12-07 04:00:00 UTC),
            version: "2026-10-06",
        };
        let key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
        assert_eq!(
            sas.string_to_sign().unwrap(),
            "r\n2026-12-07T03:00:00Z\n2026-12-07T04:00:00Z\n/blob/devstoreaccount1/rec-1/rec/signed a+b.ts\n\n\n\n2026-10-06\nb\n\n\n\n\n\n\n"
        );
        let q = sas.query(key).unwrap();
        assert!(
            q.ends_with("&sig=F1Qh9fUEPV%2Bb8ipoHUHJcbpoEQRNcPKCDSsomh9eutk%3D"),
            "{q}"
        );
        assert!(q.starts_with("st=2026%2D12%2D07T03%3A00%3A00Z&se="), "{q}");
    }
}
