//! Opening the bucket an Agora Cloud Recording `storageConfig` names: vendor and region
//! codes, the key pair and STS token, `fileNamePrefix`, and `extensionParams.endpoint`.

use stowage_region::AgoraStorage;

use crate::open::{OpenError, OpenedBucket, open_url};
use crate::settings::Settings;

/// `settings` with what the `storageConfig` says: its key pair and STS token, the region its
/// code maps to, the S3 preset of vendors reached through their S3-compatible API (Huawei,
/// Baidu, Kingsoft), and its endpoint unless the settings name one.
pub fn agora_settings(config: &AgoraStorage, settings: &Settings) -> Settings {
    let mut s = settings.clone();
    if let Some(preset) = config.s3_preset() {
        s.s3_preset = Some(preset);
    }
    s.credentials = Some(config.credentials.clone());
    if let Some(r) = &config.region {
        s.region = Some(r.region.id.clone());
    }
    if s.endpoint.is_none() {
        s.endpoint.clone_from(&config.endpoint);
    }
    s
}

/// Opens the bucket of a parsed `storageConfig`; the prefix is its `fileNamePrefix`.
pub async fn open_agora(
    config: &AgoraStorage,
    settings: &Settings,
) -> Result<OpenedBucket, OpenError> {
    open_url(&config.url, &agora_settings(config, settings)).await
}

/// Opens the bucket of a `storageConfig` given as JSON (also a whole `start` request, or an
/// object with a `storageConfig` member).
pub async fn open_agora_json(json: &str, settings: &Settings) -> Result<OpenedBucket, OpenError> {
    let config = AgoraStorage::from_json(json)?;
    open_agora(&config, settings).await
}
