//! The ETags a multipart upload's part layout gives an object, which stores report instead
//! of a whole-object checksum: S3's `md5(md5(p1) ‖ … ‖ md5(pN))-N` (moto, s3s, any S3 without
//! a full-object CRC) and Kodo's qetag v2 (`0x9e ‖ SHA1(inner20(qetag(p1)) ‖ …)`, or the
//! qetag v1 when every part but the last is exactly 4 MiB). Computed from the local file
//! with the layout Stowage's manifest recorded, they prove the object without a download.

use std::io::Read;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use stowage_core::checksum::QETAG_BLOCK;
use stowage_core::{ChecksumAlgo, Error, ErrorKind, Hasher, Result};

use crate::PartLayout;

/// What one layout makes of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutEtags {
    pub qetag: String,
    pub s3_etag: String,
}

/// Reads `path` once, part by part, and returns the ETags its multipart object has.
pub async fn etags_of_file(path: &Path, parts: PartLayout) -> Result<LayoutEtags> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || etags_blocking(&path, parts))
        .await
        .map_err(|e| Error::new(ErrorKind::Other, format!("hashing task failed: {e}")))?
}

fn etags_blocking(path: &Path, layout: PartLayout) -> Result<LayoutEtags> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::local_io(path, e))?;
    let mut pieces = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let mut hasher = Hasher::new(&[ChecksumAlgo::Md5, ChecksumAlgo::Qetag]);
        let mut left = layout.size.max(1);
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = file
                .read(&mut buf[..want])
                .map_err(|e| Error::local_io(path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        if hasher.is_empty() && !pieces.is_empty() {
            break;
        }
        let len = hasher.len();
        let sums = hasher.finish();
        pieces.push((
            len,
            sums.md5.unwrap_or_default(),
            sums.qetag.unwrap_or_default(),
        ));
        if len < layout.size {
            break;
        }
    }
    Ok(LayoutEtags {
        qetag: combine_qetags(&pieces),
        s3_etag: combine_md5s(&pieces),
    })
}

type Piece = (u64, [u8; 16], String);

/// S3's multipart ETag from the parts' MD5s.
fn combine_md5s(pieces: &[Piece]) -> String {
    let joined: Vec<u8> = pieces.iter().flat_map(|(_, md5, _)| *md5).collect();
    let whole = stowage_core::checksum::checksum_bytes(&joined, &[ChecksumAlgo::Md5]);
    format!(
        "{}-{}",
        whole.get(ChecksumAlgo::Md5).unwrap_or_default(),
        pieces.len()
    )
}

/// Kodo's qetag v2 from the parts' qetags (one part: its own qetag).
fn combine_qetags(pieces: &[Piece]) -> String {
    if let [(_, _, only)] = pieces {
        return only.clone();
    }
    let aligned = pieces
        .split_last()
        .is_some_and(|(_, init)| init.iter().all(|(len, _, _)| *len == QETAG_BLOCK));
    let inner: Vec<u8> = pieces
        .iter()
        .flat_map(|(_, _, q)| URL_SAFE.decode(q).unwrap_or_default().into_iter().skip(1))
        .collect();
    let sha1 = stowage_core::checksum::checksum_bytes(&inner, &[ChecksumAlgo::Sha1]);
    let mut raw = vec![if aligned { 0x96 } else { 0x9e }];
    raw.extend(sha1.sha1.unwrap_or_default());
    URL_SAFE.encode(raw)
}

/// True for a qetag v2 of unaligned parts (prefix byte 0x9e, first character `n`), which no
/// whole-file qetag can equal.
pub fn is_qetag_v2(qetag: &str) -> bool {
    qetag.starts_with('n')
}

/// True when `etag` is of the form `layout` gives: S3's `<32 hex>-<count>`, or a 28-character
/// qetag.
pub fn fits(etag: &str, layout: PartLayout) -> bool {
    match etag.split_once('-') {
        Some((hex, n)) if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            n.parse::<u32>() == Ok(layout.count)
        }
        _ => etag.len() == 28,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(data: &[u8]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), data).unwrap();
        f
    }

    #[tokio::test]
    async fn qiniu_v2_vectors() {
        // domain.md §C6 (qiniu/rust-sdk etag doctests): parts ["hello", "world"].
        let f = write(b"helloworld");
        let got = etags_of_file(f.path(), PartLayout { size: 5, count: 2 })
            .await
            .unwrap();
        assert_eq!(got.qetag, "ns56DcSIfBFUENXjdhsJTIvl3Rcu");
        assert!(is_qetag_v2(&got.qetag));
        // 9 MiB ('A', 4093 × 'b', CRLF repeated) in [4M, 4M, 1M] parts equals the file's v1.
        let mut block = vec![b'A'];
        block.extend(std::iter::repeat_n(b'b', 4093));
        block.extend_from_slice(b"\r\n");
        let data: Vec<u8> = block.iter().copied().cycle().take(9 << 20).collect();
        let f = write(&data);
        let got = etags_of_file(
            f.path(),
            PartLayout {
                size: 4 << 20,
                count: 3,
            },
        )
        .await
        .unwrap();
        assert_eq!(got.qetag, "ljgVjMtyMsOgIySv79U8Qz4TrUO4");
        assert!(!is_qetag_v2(&got.qetag));
    }

    #[tokio::test]
    async fn s3_multipart_etag_is_the_md5_of_the_part_md5s() {
        let f = write(b"helloworld!");
        let got = etags_of_file(f.path(), PartLayout { size: 5, count: 3 })
            .await
            .unwrap();
        let md5 = |d: &[u8]| {
            stowage_core::checksum::checksum_bytes(d, &[ChecksumAlgo::Md5])
                .md5
                .unwrap()
        };
        let joined: Vec<u8> = [&b"hello"[..], b"world", b"!"]
            .iter()
            .flat_map(|p| md5(p))
            .collect();
        let whole = stowage_core::Checksums {
            md5: Some(md5(&joined)),
            ..Default::default()
        };
        let hex = whole.get(ChecksumAlgo::Md5).unwrap();
        assert_eq!(got.s3_etag, format!("{hex}-3"));
        assert!(fits(&got.s3_etag, PartLayout { size: 5, count: 3 }));
        assert!(!fits(&got.s3_etag, PartLayout { size: 5, count: 2 }));
    }
}
