//! The one OSS document this crate reads that the shared engine does not: GetBucketLocation.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct LocationConstraint {
    #[serde(rename = "$text", default)]
    pub region: String,
}
