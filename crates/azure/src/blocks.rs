//! Block uploads: block ids that carry what resuming needs, and the Block List XML.
//!
//! Azure keeps no upload object: a blob's uncommitted blocks are simply there (for 7 days,
//! or until a commit or a Put Blob drops them), named by ids the client chooses. Stowage's
//! id is `<upload id>-<part number, 5 digits>-<MD5 of the block, hex>` (55 bytes, so every
//! block of an upload has the same length, as Azure requires). Each block is sent with
//! `Content-MD5`, which Azure checks against the bytes that arrive, so the MD5 in a listed
//! block's name is the MD5 of the bytes Azure holds: a resumed upload keeps a block only
//! when the local part still has that MD5 (core's `held_part_matches`), and its CRC-64s come
//! from the same pass over the local bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use stowage_core::{Checksums, PartInfo};

/// Most blocks in one blob.
pub const MAX_BLOCKS: u32 = 50_000;
/// Largest block (service version 2019-12-12 and later).
pub const MAX_BLOCK: u64 = 4000 << 20;

/// A new upload id: 16 hex digits.
pub fn new_upload_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_string()
}

/// The block id (before base64) of part `n` of `upload_id` whose bytes have `md5_hex`.
pub fn block_name(upload_id: &str, n: u32, md5_hex: &str) -> String {
    format!("{upload_id}-{n:05}-{md5_hex}")
}

/// The id as Azure takes it: base64 of the name.
pub fn block_id(name: &str) -> String {
    STANDARD.encode(name)
}

/// A listed block's part number and MD5, when it is one of `upload_id`'s.
pub fn parse_block(upload_id: &str, id_b64: &str) -> Option<(u32, [u8; 16])> {
    let name = String::from_utf8(STANDARD.decode(id_b64).ok()?).ok()?;
    let rest = name.strip_prefix(upload_id)?.strip_prefix('-')?;
    let (n, md5) = rest.split_once('-')?;
    if n.len() != 5 {
        return None;
    }
    let md5: [u8; 16] = hex::decode(md5).ok()?.try_into().ok()?;
    Some((n.parse().ok()?, md5))
}

#[derive(Debug, Deserialize)]
struct BlockListXml {
    #[serde(rename = "UncommittedBlocks", default)]
    uncommitted: Blocks,
}

#[derive(Debug, Default, Deserialize)]
struct Blocks {
    #[serde(rename = "Block", default)]
    blocks: Vec<BlockXml>,
}

#[derive(Debug, Deserialize)]
struct BlockXml {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Size")]
    size: u64,
}

/// The parts of `upload_id` among a Get Block List answer's uncommitted blocks, by part
/// number (the last listed wins when a part was sent twice). `Err` names what did not parse.
pub fn parse_block_list(upload_id: &str, xml: &str) -> Result<Vec<PartInfo>, String> {
    let list: BlockListXml =
        quick_xml::de::from_str(xml.trim_start_matches('\u{feff}')).map_err(|e| e.to_string())?;
    let mut parts = std::collections::BTreeMap::new();
    for b in list.uncommitted.blocks {
        let Some((n, md5)) = parse_block(upload_id, &b.name) else {
            continue;
        };
        let checksums = Checksums {
            md5: Some(md5),
            ..Default::default()
        };
        parts.insert(
            n,
            PartInfo {
                part_number: n,
                etag: hex::encode(md5),
                size: b.size,
                checksums,
            },
        );
    }
    Ok(parts.into_values().collect())
}

/// The Put Block List body committing `names` in order.
pub fn block_list_xml<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for name in names {
        xml.push_str("<Latest>");
        xml.push_str(&block_id(name));
        xml.push_str("</Latest>");
    }
    xml.push_str("</BlockList>");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_names_round_trip_and_have_one_length() {
        let id = new_upload_id();
        assert_eq!(id.len(), 16);
        let md5 = "9e107d9d372bb6826bd81d3542a419d6";
        let a = block_name(&id, 1, md5);
        let b = block_name(&id, 50_000, md5);
        assert_eq!((a.len(), b.len()), (55, 55));
        assert!(a.len() <= 64, "Azure allows 64 bytes before base64");
        let (n, got) = parse_block(&id, &block_id(&b)).unwrap();
        assert_eq!((n, hex::encode(got)), (50_000, md5.to_string()));
        assert_eq!(parse_block("0123456789abcdef", &block_id(&a)), None);
        assert_eq!(parse_block(&id, &block_id("someone else's block")), None);
    }

    #[test]
    fn block_lists_give_this_uploads_parts_only() {
        let id = "0123456789abcdef";
        let md5 = "00112233445566778899aabbccddeeff";
        let xml = format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><CommittedBlocks /><UncommittedBlocks><Block><Name>{}</Name><Size>5</Size></Block><Block><Name>{}</Name><Size>7</Size></Block><Block><Name>{}</Name><Size>9</Size></Block></UncommittedBlocks></BlockList>",
            block_id(&block_name(id, 2, md5)),
            block_id(&block_name("fedcba9876543210", 1, md5)),
            block_id(&block_name(id, 1, md5)),
        );
        let parts = parse_block_list(id, &xml).unwrap();
        assert_eq!(
            parts
                .iter()
                .map(|p| (p.part_number, p.size, p.etag.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, 9, md5), (2, 5, md5)]
        );
        assert!(parse_block_list(id, "<html>").is_err());
        let empty = "<BlockList><UncommittedBlocks /></BlockList>";
        assert!(parse_block_list(id, empty).unwrap().is_empty());
    }

    #[test]
    fn block_list_body_names_blocks_in_order() {
        let xml = block_list_xml(["a", "b"].into_iter());
        assert!(xml.ends_with("<BlockList><Latest>YQ==</Latest><Latest>Yg==</Latest></BlockList>"));
    }
}
