//! The HTTP client every native adapter starts from: rustls with Mozilla's roots, plus the
//! private CA the user trusts (`--ca-bundle`).

use stowage_core::tls::CaBundle;
use stowage_core::{Error, ErrorKind, Result};

/// A reqwest builder that trusts `ca` besides the usual roots.
pub fn client_builder(ca: Option<&CaBundle>) -> Result<reqwest::ClientBuilder> {
    let mut builder = reqwest::Client::builder();
    if let Some(ca) = ca {
        let certs = reqwest::Certificate::from_pem_bundle(ca.pem()).map_err(|e| {
            Error::invalid_input(format!(
                "the CA bundle {} is not valid PEM: {e}",
                ca.source()
            ))
        })?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// Builds the client, naming the failure.
pub fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client> {
    builder.build().map_err(|e| {
        Error::new(
            ErrorKind::Other,
            format!("cannot build the HTTP client: {e}"),
        )
    })
}
