//! The Azure Blob store against Azurite (Microsoft's emulator) on a loopback port: the
//! conformance suite, the credential suite, Content-MD5 refusals, block uploads resumed and
//! proven, answers that are not Azure's, and Microsoft's Python SDK reading what Stowage
//! wrote (and the other way round).

use std::sync::Arc;

use bytes::Bytes;
use stowage_azure::{AzureAuth, AzureConfig, AzureStore};
use stowage_core::ObjectStore;
use stowage_testkit::adapter_tests::unique_name;
use stowage_testkit::azurite::{ACCOUNT, ACCOUNT_KEY, Azurite};
use stowage_testkit::conformance::Harness;

#[path = "azure/behaviour.rs"]
mod behaviour;
#[path = "azure/replies.rs"]
mod replies;
#[path = "azure/sdk_crosscheck.rs"]
mod sdk_crosscheck;

/// A container name Azure accepts (lower case, digits, single hyphens), new for each test.
pub fn unique_container(tag: &str) -> String {
    unique_name(tag).to_ascii_lowercase()
}

pub fn azurite() -> &'static Azurite {
    Azurite::shared().unwrap_or_else(|e| panic!("{e}"))
}

/// A store for `container` on Azurite at `endpoint` (the service base URL, or a proxy in
/// front of it), signing with `auth`.
pub fn store_at(endpoint: &str, account: &str, container: &str, auth: AzureAuth) -> AzureStore {
    let mut cfg = AzureConfig::new(account, container, auth);
    cfg.endpoint = Some(endpoint.to_string());
    cfg.retry = stowage_core::retry::RetryPolicy::immediate(3);
    AzureStore::new(cfg).unwrap_or_else(|e| panic!("build the Azure store: {e}"))
}

pub fn key() -> AzureAuth {
    AzureAuth::Key(ACCOUNT_KEY.to_string())
}

/// A new, empty container on the shared Azurite, and its store.
pub async fn fresh(tag: &str) -> (String, AzureStore) {
    let container = unique_container(tag);
    let store = store_at(azurite().endpoint(), ACCOUNT, &container, key());
    store
        .create_container()
        .await
        .unwrap_or_else(|e| panic!("create container {container}: {e}"));
    (container, store)
}

pub async fn harness() -> Harness {
    let (container, store) = fresh("conf").await;
    let endpoint = azurite().endpoint();
    let mut h = Harness::new(
        Arc::new(store),
        Arc::new(store_at(endpoint, ACCOUNT, "no-such-container", key())),
    );
    // A well-formed key of the same length that is not the account's.
    let wrong =
        "AAAAvdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    h.wrong_secret = Some((
        Arc::new(store_at(
            endpoint,
            ACCOUNT,
            &container,
            AzureAuth::Key(wrong.into()),
        )),
        wrong.to_string(),
    ));
    h.unknown_key = Some(Arc::new(store_at(
        endpoint,
        "nosuchaccount",
        &container,
        key(),
    )));
    h
}

stowage_testkit::conformance_suite!(harness);
stowage_testkit::credential_suite!(harness);

/// What Azurite holds at `key` of `container`, read with a store of its own.
pub async fn stored(container: &str, key: &str) -> Option<Bytes> {
    let s = store_at(azurite().endpoint(), ACCOUNT, container, key_auth());
    match s.get(key, None).await {
        Ok(got) => Some(got.bytes().await.expect("read")),
        Err(_) => None,
    }
}

fn key_auth() -> AzureAuth {
    key()
}
