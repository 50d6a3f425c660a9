//! Per upload, the CRC-64 and size of each part sent or listed, so that the completed
//! object's CRC can be predicted (CRC-64 combines without the bytes) and checked.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use stowage_core::checksum::crc64ecma_combine;
use stowage_core::{Error, ErrorKind, PartInfo, Result};

/// Part number → (CRC-64, size) of the parts of one upload.
type Parts = BTreeMap<u32, (u64, u64)>;

/// Upload id → its parts' CRCs; shared by the calls of one store.
#[derive(Debug, Default)]
pub struct PartCrcs {
    uploads: Mutex<HashMap<String, Parts>>,
}

impl PartCrcs {
    fn uploads(&self) -> std::sync::MutexGuard<'_, HashMap<String, Parts>> {
        // A panic elsewhere leaves the map consistent: every change is one insert/remove.
        self.uploads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn remember(&self, upload_id: &str, part: u32, crc: u64, size: u64) {
        self.uploads()
            .entry(upload_id.to_string())
            .or_default()
            .insert(part, (crc, size));
    }

    /// The CRC of the parts listed, in order, when every one is known.
    pub fn predicted(&self, upload_id: &str, parts: &[PartInfo]) -> Option<u64> {
        let map = self.uploads();
        let known = map.get(upload_id)?;
        let mut crc = 0u64;
        for p in parts {
            let (part_crc, size) = known.get(&p.part_number)?;
            crc = crc64ecma_combine(crc, *part_crc, *size);
        }
        Some(crc)
    }

    /// The CRC of a part this process sent, when its size matches what the server holds.
    pub fn known(&self, upload_id: &str, part: u32, size: u64) -> Option<u64> {
        let (crc, known_size) = *self.uploads().get(upload_id)?.get(&part)?;
        (known_size == size).then_some(crc)
    }

    pub fn forget(&self, upload_id: &str) {
        self.uploads().remove(upload_id);
    }
}

/// Compares the completed object's CRC-64 with the one its parts combine to, when both
/// are known.
pub fn check_combined(expected: Option<u64>, returned: Option<u64>) -> Result<()> {
    match (expected, returned) {
        (Some(want), Some(got)) if want != got => Err(Error::new(
            ErrorKind::ChecksumMismatch,
            format!("the completed object's crc64ecma is {got}, but its parts combine to {want}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_core::checksum::crc64ecma_combine;

    fn part(n: u32) -> PartInfo {
        PartInfo {
            part_number: n,
            etag: String::new(),
            size: 0,
            checksums: Default::default(),
        }
    }

    #[test]
    fn predicts_only_when_every_part_is_known() {
        let crcs = PartCrcs::default();
        crcs.remember("u", 1, 11, 5);
        assert_eq!(crcs.predicted("u", &[part(1), part(2)]), None);
        crcs.remember("u", 2, 22, 7);
        let want = crc64ecma_combine(crc64ecma_combine(0, 11, 5), 22, 7);
        assert_eq!(crcs.predicted("u", &[part(1), part(2)]), Some(want));
        assert_eq!(crcs.known("u", 2, 7), Some(22));
        assert_eq!(crcs.known("u", 2, 8), None);
        crcs.forget("u");
        assert_eq!(crcs.predicted("u", &[part(1)]), None);
    }

    #[test]
    fn combined_crc_is_checked_when_both_are_known() {
        assert!(check_combined(Some(1), Some(1)).is_ok());
        assert!(check_combined(None, Some(1)).is_ok());
        assert!(check_combined(Some(1), None).is_ok());
        let e = check_combined(Some(1), Some(2)).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch);
        assert!(e.to_string().contains("combine to 1"), "{e}");
    }
}
