//! Stowage core: the storage trait every backend implements, object metadata,
//! streaming checksums, the error model, content types and storage URLs.
//!
//! Data flows one way: local file → [`checksum`] (one pass) → [`ObjectStore::put`]
//! → the backend → [`ObjectMeta`] with the checksums the store returned, which the
//! caller compares with what it computed.

pub mod checksum;
pub mod content_type;
pub mod credentials;
pub mod duration;
pub mod error;
pub mod fsutil;
pub mod manifest;
pub mod payload;
pub mod proof;
pub mod retry;
pub mod store;
pub mod tls;
pub mod upload;
pub mod url;

pub use checksum::{ChecksumAlgo, Checksums, Hasher};
pub use credentials::Credentials;
pub use error::{Error, ErrorKind, Result};
pub use manifest::{MANIFEST_VERSION, Manifest, ManifestObject, PartLayout};
pub use store::{
    Capabilities, GetResult, ListPage, ListRequest, MAX_SIGNED_URL_EXPIRY, MultipartUpload,
    ObjectMeta, ObjectStore, PartInfo, PutBody, PutOptions, check_signed_url_expiry,
};
pub use url::{Scheme, StorageUrl};
