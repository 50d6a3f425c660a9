//! Azurite, Microsoft's Azure Storage emulator (npm `azurite`), for the Azure Blob store's
//! tests: `azurite-blob` in memory on a free loopback port.
//!
//! `scripts/test` starts one and sets `STOWAGE_AZURITE_ENDPOINT`; otherwise the first caller
//! spawns `azurite-blob`, which is killed when the test process exits. Azurite serves the
//! well-known development account and checks Shared Key and SAS signatures, `Content-MD5`
//! on Put Blob and Put Block, and container and blob existence like Azure.

use std::sync::OnceLock;

use crate::launch::{Emulator, Spawned};

/// Azurite's built-in account and its published key.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Environment variable naming a running Azurite blob service, e.g. `http://127.0.0.1:10000`.
pub const ENDPOINT_ENV: &str = "STOWAGE_AZURITE_ENDPOINT";

const AZURITE: Emulator<'static> = Emulator {
    name: "azurite",
    program: "azurite-blob",
    command_line: r#"azurite-blob --blobHost 127.0.0.1 --blobPort "$1" --inMemoryPersistence --skipApiVersionCheck --disableTelemetry"#,
    install_hint: "Azurite is needed: npm install -g azurite",
    env: &[],
};

/// An Azurite blob service, found through [`ENDPOINT_ENV`] or spawned by us.
#[derive(Debug)]
pub struct Azurite {
    endpoint: String,
    _spawned: Option<Spawned>,
}

impl Azurite {
    /// The process-wide Azurite, started on first use; a failure is remembered.
    pub fn shared() -> Result<&'static Azurite, String> {
        static SHARED: OnceLock<Result<Azurite, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let (endpoint, spawned) = AZURITE.connect_or_spawn(ENDPOINT_ENV)?;
                Ok(Azurite {
                    endpoint,
                    _spawned: spawned,
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The service's base URL, `http://127.0.0.1:<port>` (the account goes in the path).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The development account's blob endpoint, `http://127.0.0.1:<port>/devstoreaccount1`.
    pub fn account_url(&self) -> String {
        format!("{}/{ACCOUNT}", self.endpoint)
    }

    /// The connection string Microsoft's SDKs take for this Azurite.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};BlobEndpoint={};",
            self.account_url()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::test_http::request;

    #[test]
    fn shared_azurite_answers_in_azures_dialect() {
        let az = Azurite::shared().unwrap_or_else(|e| panic!("{e}"));
        assert!(std::ptr::eq(az, Azurite::shared().unwrap()));
        let addr = crate::launch::endpoint_addr(az.endpoint()).unwrap();
        // Unsigned: refused, but in Azure's words (x-ms-error-code and a request id).
        let reply = request(
            addr,
            "GET",
            "/devstoreaccount1/nocontainer?restype=container",
            &[],
            b"",
        )
        .unwrap();
        assert!((400..500).contains(&reply.status), "{reply:?}");
        assert!(reply.body.contains("<Code>"), "{reply:?}");
    }
}
