//! Extra root certificates to trust: the private CA of an on-premises S3-compatible server,
//! or of a TLS-inspecting proxy between the recorder and the vendor. Every adapter's HTTP
//! client adds them to its usual roots.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::{Error, Result};

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";

/// PEM certificates (one or more), checked to hold at least one certificate.
#[derive(Clone)]
pub struct CaBundle {
    pem: Arc<[u8]>,
    /// Where it came from, for messages.
    source: String,
}

impl CaBundle {
    /// A bundle from PEM text; `source` names it in messages.
    pub fn from_pem(pem: impl Into<Vec<u8>>, source: impl Into<String>) -> Result<CaBundle> {
        let pem: Vec<u8> = pem.into();
        let source = source.into();
        if count_certificates(&pem) == 0 {
            return Err(Error::invalid_input(format!(
                "{source} holds no PEM certificate (no `{PEM_BEGIN}` line): give the CA certificate in PEM form (convert DER with `openssl x509 -inform der -in ca.der -out ca.pem`)"
            )));
        }
        Ok(CaBundle {
            pem: pem.into(),
            source,
        })
    }

    /// A bundle read from a PEM file.
    pub fn from_file(path: &Path) -> Result<CaBundle> {
        let pem = std::fs::read(path).map_err(|e| {
            Error::invalid_input(format!("cannot read the CA bundle {}: {e}", path.display()))
        })?;
        CaBundle::from_pem(pem, path.display().to_string())
    }

    /// The PEM text.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }

    /// Each certificate's PEM block on its own, for clients that take one at a time.
    pub fn certificates(&self) -> Vec<Vec<u8>> {
        let text = String::from_utf8_lossy(&self.pem);
        text.split_inclusive("-----END CERTIFICATE-----")
            .filter_map(|chunk| {
                chunk
                    .find(PEM_BEGIN)
                    .map(|at| chunk.as_bytes()[at..].to_vec())
            })
            .collect()
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

/// The certificate complaint in an error's chain, if the failure was the TLS handshake's
/// refusal of the server's certificate (rustls says "invalid peer certificate: UnknownIssuer",
/// "…: NotValidForName", "…: Expired"). Read from the messages, so that this crate needs no
/// TLS library and every client's errors (reqwest, the AWS SDK) are read alike.
pub fn certificate_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if let Some(at) = text.find("invalid peer certificate") {
            return Some(text[at..].to_string());
        }
        next = e.source();
    }
    None
}

fn count_certificates(pem: &[u8]) -> usize {
    String::from_utf8_lossy(pem).matches(PEM_BEGIN).count()
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CaBundle({}, {} certificate(s))",
            self.source,
            count_certificates(&self.pem)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    #[test]
    fn bundles_split_into_certificates_and_refuse_non_pem() {
        let two = format!("# my CA\n{ONE}{ONE}");
        let b = CaBundle::from_pem(two, "ca.pem").unwrap();
        let certs = b.certificates();
        assert_eq!(certs.len(), 2);
        assert!(certs.iter().all(|c| c.starts_with(PEM_BEGIN.as_bytes())));
        assert_eq!(format!("{b:?}"), "CaBundle(ca.pem, 2 certificate(s))");
        let e = CaBundle::from_pem(vec![0x30, 0x82, 0x01], "ca.der").unwrap_err();
        assert!(
            e.to_string().contains("ca.der holds no PEM certificate"),
            "{e}"
        );
        let e = CaBundle::from_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn certificate_failures_are_found_down_the_chain() {
        let inner = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        let outer = Error::new(crate::ErrorKind::Network, "connect failed").with_source(inner);
        assert_eq!(
            certificate_failure(&outer).as_deref(),
            Some("invalid peer certificate: UnknownIssuer")
        );
        let refused = std::io::Error::other("connection refused");
        assert_eq!(certificate_failure(&refused), None);
    }
}
