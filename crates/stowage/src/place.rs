//! Where a recording is, from the URL a caller gives: a directory, its manifest, or one of
//! its playlists (the recording is then that object's directory); and signed download URLs
//! for the playback check.

use std::sync::Arc;

use stowage_core::ObjectStore;
use stowage_pipeline::MANIFEST_NAME;
use stowage_verify::playback::UrlSigner;

/// What the URL names, and so where the recording is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A directory: the recording's prefix (no trailing `/`).
    Dir(String),
    /// The manifest at this key; the recording is its directory.
    Manifest(String),
    /// The playlist at this key; the recording is its directory.
    Playlist(String),
}

impl Place {
    /// The recording's directory.
    pub fn prefix(&self) -> String {
        match self {
            Place::Dir(p) => p.clone(),
            Place::Manifest(k) | Place::Playlist(k) => parent(k).to_string(),
        }
    }

    /// Where the manifest of the recording is (or would be).
    pub fn manifest_key(&self) -> String {
        match self {
            Place::Manifest(k) => k.clone(),
            other => stowage_verify::key_under(&other.prefix(), MANIFEST_NAME),
        }
    }
}

fn parent(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(d, _)| d)
}

/// A path ending in `/`, or naming no object, is a directory; the manifest's and a
/// playlist's names are those objects (a missing one is then reported missing); any other
/// object stands for its directory. One HEAD decides, only for a name that says nothing; a
/// store that cannot be asked leaves it a directory (its error comes with the manifest).
pub async fn resolve(store: &dyn ObjectStore, key: &str) -> Place {
    let key = key.trim_start_matches('/');
    if key.is_empty() || key.ends_with('/') {
        return Place::Dir(key.trim_matches('/').to_string());
    }
    let name = key.rsplit('/').next().unwrap_or(key);
    if name == MANIFEST_NAME {
        return Place::Manifest(key.to_string());
    }
    if name.to_ascii_lowercase().ends_with(".m3u8") {
        return Place::Playlist(key.to_string());
    }
    match store.head(key).await {
        Ok(_) => Place::Dir(parent(key).to_string()),
        Err(_) => Place::Dir(key.to_string()),
    }
}

/// How long each signed URL of the playback check lives: the check takes seconds, and a
/// URL that leaks from a report is dead soon after.
const PLAYBACK_URL_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Each object's signed download URL from its store ([`ObjectStore::signed_get_url`]).
pub struct StoreSigner(pub Arc<dyn ObjectStore>);

#[async_trait::async_trait]
impl UrlSigner for StoreSigner {
    async fn signed_url(&self, key: &str) -> stowage_core::Result<String> {
        self.0.signed_get_url(key, PLAYBACK_URL_TTL).await
    }
}
