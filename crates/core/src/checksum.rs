//! Checksums computed in one streaming pass, in the forms each vendor sends them.
//!
//! | algorithm | who uses it | wire form |
//! |---|---|---|
//! | CRC-64/XZ (`crc64ecma`) | Aliyun OSS `x-oss-hash-crc64ecma`, Tencent COS `x-cos-hash-crc64ecma` | decimal u64 |
//! | CRC-64/NVME | S3 `x-amz-checksum-crc64nvme` (S3's default) | base64 of 8 big-endian bytes |
//! | MD5 | `Content-MD5`, single-part ETags | base64 (header), hex (ETag) |
//! | SHA-1 | COS `x-cos-content-sha1` | hex |
//! | SHA-256 | S3 `x-amz-checksum-sha256` | hex / base64 |
//! | qetag | Qiniu Kodo `hash` | URL-safe base64, 28 chars |
//! | CRC-32C (Castagnoli) | Google Cloud Storage `crc32c` (JSON API), `x-goog-hash: crc32c=` | base64 of 4 big-endian bytes |
//!
//! The primitives come from kept crates (`crc-fast` for every CRC and for combining two CRCs,
//! `md-5`, `sha1`, `sha2`); only Qiniu's block scheme is assembled here, since no kept crate
//! does it.

use std::io::Read;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use crc_fast::{CrcAlgorithm, Digest, checksum_combine};
use md5::Digest as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// Qiniu's qetag block size: 4 MiB.
pub const QETAG_BLOCK: u64 = 4 * 1024 * 1024;

/// A checksum algorithm Stowage can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumAlgo {
    Crc64Ecma,
    Crc64Nvme,
    Md5,
    Sha1,
    Sha256,
    Qetag,
    Crc32c,
}

impl ChecksumAlgo {
    /// Every algorithm, in the order reports print them.
    pub const ALL: [ChecksumAlgo; 7] = [
        ChecksumAlgo::Crc64Ecma,
        ChecksumAlgo::Crc64Nvme,
        ChecksumAlgo::Md5,
        ChecksumAlgo::Sha1,
        ChecksumAlgo::Sha256,
        ChecksumAlgo::Qetag,
        ChecksumAlgo::Crc32c,
    ];

    /// The name used in JSON output and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgo::Crc64Ecma => "crc64ecma",
            ChecksumAlgo::Crc64Nvme => "crc64nvme",
            ChecksumAlgo::Md5 => "md5",
            ChecksumAlgo::Sha1 => "sha1",
            ChecksumAlgo::Sha256 => "sha256",
            ChecksumAlgo::Qetag => "qetag",
            ChecksumAlgo::Crc32c => "crc32c",
        }
    }

    /// Parses a name as [`ChecksumAlgo::name`] prints it (also `crc64xz`, `crc64-nvme`, `sha-256`).
    pub fn parse(name: &str) -> Result<Self> {
        let n = name.to_ascii_lowercase().replace(['-', '_', '/'], "");
        let algo = match n.as_str() {
            "crc64ecma" | "crc64xz" => ChecksumAlgo::Crc64Ecma,
            "crc64nvme" => ChecksumAlgo::Crc64Nvme,
            "md5" => ChecksumAlgo::Md5,
            "sha1" => ChecksumAlgo::Sha1,
            "sha256" => ChecksumAlgo::Sha256,
            "qetag" | "etag" => ChecksumAlgo::Qetag,
            "crc32c" | "castagnoli" => ChecksumAlgo::Crc32c,
            _ => {
                return Err(Error::invalid_input(format!(
                    "unknown checksum algorithm `{name}`; expected one of crc64ecma, crc64nvme, md5, sha1, sha256, qetag, crc32c, all"
                )));
            }
        };
        Ok(algo)
    }

    /// Parses a comma-separated list of names (as [`ChecksumAlgo::parse`] reads them), or
    /// `all` for [`ChecksumAlgo::ALL`].
    pub fn parse_list(spec: &str) -> Result<Vec<Self>> {
        if spec.eq_ignore_ascii_case("all") {
            return Ok(ChecksumAlgo::ALL.to_vec());
        }
        spec.split(',')
            .map(|name| Self::parse(name.trim()))
            .collect()
    }
}

/// Checksums of one object; `None` where not computed or not returned by the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    pub crc64ecma: Option<u64>,
    pub crc64nvme: Option<u64>,
    pub md5: Option<[u8; 16]>,
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
    pub qetag: Option<String>,
    /// CRC-32C (Castagnoli), as Google Cloud Storage keeps it for every object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<u32>,
}

impl Checksums {
    /// True when no checksum is present.
    pub fn is_empty(&self) -> bool {
        ChecksumAlgo::ALL.iter().all(|a| self.get(*a).is_none())
    }

    /// The checksum of `algo` in its usual printed form (see the module table).
    pub fn get(&self, algo: ChecksumAlgo) -> Option<String> {
        match algo {
            ChecksumAlgo::Crc64Ecma => self.crc64ecma.map(|v| v.to_string()),
            ChecksumAlgo::Crc64Nvme => self.crc64nvme_base64(),
            ChecksumAlgo::Md5 => self.md5.map(hex::encode),
            ChecksumAlgo::Sha1 => self.sha1.map(hex::encode),
            ChecksumAlgo::Sha256 => self.sha256.map(hex::encode),
            ChecksumAlgo::Qetag => self.qetag.clone(),
            ChecksumAlgo::Crc32c => self.crc32c_base64(),
        }
    }

    /// Sets `algo` from its printed form (the inverse of [`Checksums::get`]); false when the
    /// value is not of that form.
    pub fn set(&mut self, algo: ChecksumAlgo, value: &str) -> bool {
        fn digest<const N: usize>(v: &str) -> Option<[u8; N]> {
            hex::decode(v).ok()?.try_into().ok()
        }
        match algo {
            ChecksumAlgo::Crc64Ecma => self.crc64ecma = value.parse().ok(),
            ChecksumAlgo::Crc64Nvme => self.crc64nvme = Self::parse_crc64nvme_base64(value),
            ChecksumAlgo::Md5 => self.md5 = digest(value),
            ChecksumAlgo::Sha1 => self.sha1 = digest(value),
            ChecksumAlgo::Sha256 => self.sha256 = digest(value),
            ChecksumAlgo::Qetag => self.qetag = (value.len() == 28).then(|| value.to_string()),
            ChecksumAlgo::Crc32c => self.crc32c = Self::parse_crc32c_base64(value),
        }
        self.get(algo).is_some()
    }

    /// CRC64-NVME as S3 sends it in `x-amz-checksum-crc64nvme`.
    pub fn crc64nvme_base64(&self) -> Option<String> {
        self.crc64nvme.map(|v| STANDARD.encode(v.to_be_bytes()))
    }

    /// CRC-32C as Google Cloud Storage writes it (`crc32c` of an object resource,
    /// `x-goog-hash: crc32c=`): base64 of the 4 big-endian bytes.
    pub fn crc32c_base64(&self) -> Option<String> {
        self.crc32c.map(|v| STANDARD.encode(v.to_be_bytes()))
    }

    /// Parses Google Cloud Storage's base64 CRC-32C.
    pub fn parse_crc32c_base64(value: &str) -> Option<u32> {
        let bytes = STANDARD.decode(value.trim()).ok()?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    }

    /// Parses a base64 MD5 (`Content-MD5`, Google Cloud Storage's `md5Hash`).
    pub fn parse_md5_base64(value: &str) -> Option<[u8; 16]> {
        STANDARD.decode(value.trim()).ok()?.try_into().ok()
    }

    /// MD5 as the `Content-MD5` header wants it.
    pub fn md5_base64(&self) -> Option<String> {
        self.md5.map(|v| STANDARD.encode(v))
    }

    /// Parses S3's base64 CRC64-NVME header value.
    pub fn parse_crc64nvme_base64(value: &str) -> Option<u64> {
        let bytes = STANDARD.decode(value.trim()).ok()?;
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }

    /// Copies every checksum `other` has and `self` lacks.
    pub fn fill_from(&mut self, other: &Checksums) {
        self.crc64ecma = self.crc64ecma.or(other.crc64ecma);
        self.crc64nvme = self.crc64nvme.or(other.crc64nvme);
        self.md5 = self.md5.or(other.md5);
        self.sha1 = self.sha1.or(other.sha1);
        self.sha256 = self.sha256.or(other.sha256);
        if self.qetag.is_none() {
            self.qetag.clone_from(&other.qetag);
        }
        self.crc32c = self.crc32c.or(other.crc32c);
    }

    /// The algorithms present in both; what a comparison can prove.
    pub fn common(&self, other: &Checksums) -> Vec<ChecksumAlgo> {
        ChecksumAlgo::ALL
            .into_iter()
            .filter(|a| self.get(*a).is_some() && other.get(*a).is_some())
            .collect()
    }

    /// Compares every algorithm both sides have. `Ok(n)` is how many matched;
    /// a difference is a [`ErrorKind::ChecksumMismatch`] naming the algorithm and both values.
    pub fn verify(&self, stored: &Checksums) -> Result<usize> {
        let common = self.common(stored);
        for algo in &common {
            let (local, remote) = (self.get(*algo), stored.get(*algo));
            if local != remote {
                return Err(Error::new(
                    ErrorKind::ChecksumMismatch,
                    format!(
                        "{} differs: local {} but the store has {}",
                        algo.name(),
                        local.unwrap_or_default(),
                        remote.unwrap_or_default()
                    ),
                ));
            }
        }
        Ok(common.len())
    }
}

/// Computes any set of [`ChecksumAlgo`]s over one stream of bytes.
pub struct Hasher {
    crc64ecma: Option<Digest>,
    crc64nvme: Option<Digest>,
    md5: Option<md5::Md5>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
    qetag: Option<QetagHasher>,
    crc32c: Option<Digest>,
    len: u64,
}

impl Hasher {
    /// A hasher for `algos` (duplicates are ignored).
    pub fn new(algos: &[ChecksumAlgo]) -> Self {
        let has = |a| algos.contains(&a);
        Hasher {
            crc64ecma: has(ChecksumAlgo::Crc64Ecma).then(|| Digest::new(CrcAlgorithm::Crc64Xz)),
            crc64nvme: has(ChecksumAlgo::Crc64Nvme).then(|| Digest::new(CrcAlgorithm::Crc64Nvme)),
            md5: has(ChecksumAlgo::Md5).then(md5::Md5::new),
            sha1: has(ChecksumAlgo::Sha1).then(sha1::Sha1::new),
            sha256: has(ChecksumAlgo::Sha256).then(sha2::Sha256::new),
            qetag: has(ChecksumAlgo::Qetag).then(QetagHasher::default),
            crc32c: has(ChecksumAlgo::Crc32c).then(|| Digest::new(CrcAlgorithm::Crc32Iscsi)),
            len: 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        if let Some(h) = &mut self.crc64ecma {
            h.update(data);
        }
        if let Some(h) = &mut self.crc64nvme {
            h.update(data);
        }
        if let Some(h) = &mut self.md5 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(data);
        }
        if let Some(h) = &mut self.qetag {
            h.update(data);
        }
        if let Some(h) = &mut self.crc32c {
            h.update(data);
        }
    }

    /// Bytes seen so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Checksums {
        Checksums {
            crc64ecma: self.crc64ecma.map(|h| h.finalize()),
            crc64nvme: self.crc64nvme.map(|h| h.finalize()),
            md5: self.md5.map(|h| h.finalize().into()),
            sha1: self.sha1.map(|h| h.finalize().into()),
            sha256: self.sha256.map(|h| h.finalize().into()),
            qetag: self.qetag.map(QetagHasher::finish),
            // CRC-32/ISCSI's value fits in the low 32 bits.
            crc32c: self.crc32c.map(|h| h.finalize() as u32),
        }
    }
}

/// Checksums of a whole byte slice.
pub fn checksum_bytes(data: &[u8], algos: &[ChecksumAlgo]) -> Checksums {
    let mut h = Hasher::new(algos);
    h.update(data);
    h.finish()
}

/// A small file read whole into memory, once, on a blocking thread, with its checksums: the
/// bytes hashed are the bytes a caller then sends, so the file cannot change between the two,
/// and a small object costs one trip to the blocking pool instead of one per step.
pub async fn read_file_checksummed(
    path: &Path,
    algos: &[ChecksumAlgo],
) -> Result<(bytes::Bytes, Checksums)> {
    let (path, algos) = (path.to_path_buf(), algos.to_vec());
    tokio::task::spawn_blocking(move || {
        let data = std::fs::read(&path).map_err(|e| Error::local_io(&path, e))?;
        let sums = checksum_bytes(&data, &algos);
        Ok((bytes::Bytes::from(data), sums))
    })
    .await
    .map_err(|e| Error::new(ErrorKind::Other, format!("read task failed: {e}")))?
}

/// Reads `len` bytes of `path` from `offset` once, computing `algos`; returns the bytes read
/// and the checksums. Blocking: call from `spawn_blocking` (see [`checksum_file`]).
pub fn checksum_file_range_blocking(
    path: &Path,
    offset: u64,
    len: Option<u64>,
    algos: &[ChecksumAlgo],
) -> Result<(u64, Checksums)> {
    use std::io::Seek;
    let io_err = |e| Error::local_io(path, e);
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    file.seek(std::io::SeekFrom::Start(offset))
        .map_err(io_err)?;
    let mut reader: Box<dyn Read> = match len {
        Some(n) => Box::new(file.take(n)),
        None => Box::new(file),
    };
    let mut hasher = Hasher::new(algos);
    // One buffer per (blocking) thread, reused: a fresh 1 MiB buffer per file was zeroed
    // and freed again for every small segment.
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with_borrow_mut(|buf| -> Result<()> {
        if buf.is_empty() {
            buf.resize(1 << 20, 0);
        }
        loop {
            let n = reader.read(buf).map_err(io_err)?;
            if n == 0 {
                return Ok(());
            }
            hasher.update(&buf[..n]);
        }
    })?;
    if let Some(expected) = len.filter(|n| *n != hasher.len()) {
        return Err(Error::invalid_input(format!(
            "local file {} is shorter than expected: read {} of {expected} bytes from offset {offset} (was it truncated while uploading?)",
            path.display(),
            hasher.len()
        )));
    }
    Ok((hasher.len(), hasher.finish()))
}

/// Size and checksums of a whole file, read once on a blocking thread.
pub async fn checksum_file(path: &Path, algos: &[ChecksumAlgo]) -> Result<(u64, Checksums)> {
    checksum_file_range(path, 0, None, algos).await
}

/// Size and checksums of a file range, read once on a blocking thread. A large range whose
/// checksums are all CRC-64s is read in slices on several threads at once and the slices'
/// CRCs combined (the same value; what a multipart upload waits for before its first part
/// takes half the time on two cores).
pub async fn checksum_file_range(
    path: &Path,
    offset: u64,
    len: Option<u64>,
    algos: &[ChecksumAlgo],
) -> Result<(u64, Checksums)> {
    let combinable = !algos.is_empty()
        && algos
            .iter()
            .all(|a| matches!(a, ChecksumAlgo::Crc64Ecma | ChecksumAlgo::Crc64Nvme));
    if combinable {
        let size = match len {
            Some(n) => Some(n),
            None => tokio::fs::metadata(path)
                .await
                .ok()
                .map(|m| m.len().saturating_sub(offset)),
        };
        if let Some(size) = size.filter(|s| *s >= PARALLEL_MIN) {
            let sums = crcs_in_slices(path, offset, size, algos).await?;
            // Read to the end: the file must not have grown meanwhile (else read it again,
            // whole, as one pass would have).
            let still = match len {
                Some(_) => true,
                None => tokio::fs::metadata(path)
                    .await
                    .is_ok_and(|m| m.len().saturating_sub(offset) == size),
            };
            if still {
                return Ok((size, sums));
            }
        }
    }
    blocking_range(path, offset, len, algos).await
}

/// Ranges at least this large are hashed in slices on several threads.
const PARALLEL_MIN: u64 = 64 << 20;

async fn blocking_range(
    path: &Path,
    offset: u64,
    len: Option<u64>,
    algos: &[ChecksumAlgo],
) -> Result<(u64, Checksums)> {
    let path = path.to_path_buf();
    let algos = algos.to_vec();
    tokio::task::spawn_blocking(move || checksum_file_range_blocking(&path, offset, len, &algos))
        .await
        .map_err(|e| Error::new(ErrorKind::Other, format!("checksum task failed: {e}")))?
}

/// The CRC-64s of `len` bytes from `offset`, one slice per core (at most four), combined.
async fn crcs_in_slices(
    path: &Path,
    offset: u64,
    len: u64,
    algos: &[ChecksumAlgo],
) -> Result<Checksums> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4) as u64;
    let slice = len.div_ceil(threads);
    let slices: Vec<(u64, u64)> = (0..threads)
        .map(|i| (offset + i * slice, slice.min(len.saturating_sub(i * slice))))
        .filter(|(_, n)| *n > 0)
        .collect();
    let tasks: Vec<_> = slices
        .iter()
        .map(|&(at, n)| blocking_range(path, at, Some(n), algos))
        .collect();
    let mut sums = Checksums::default();
    for ((_, n), done) in slices.iter().zip(futures::future::join_all(tasks).await) {
        let (_, part) = done?;
        if let Some(c) = part.crc64ecma {
            sums.crc64ecma = Some(crc64ecma_combine(sums.crc64ecma.unwrap_or(0), c, *n));
        }
        if let Some(c) = part.crc64nvme {
            sums.crc64nvme = Some(crc64nvme_combine(sums.crc64nvme.unwrap_or(0), c, *n));
        }
    }
    Ok(sums)
}

/// Qiniu's qetag (v1): SHA-1 per 4 MiB block; one block → `0x16 ‖ SHA1(data)`, more →
/// `0x96 ‖ SHA1(SHA1(b1) ‖ SHA1(b2) ‖ …)`, URL-safe base64.
#[derive(Default)]
pub struct QetagHasher {
    block: sha1::Sha1,
    in_block: u64,
    block_digests: Vec<[u8; 20]>,
}

impl QetagHasher {
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = (QETAG_BLOCK - self.in_block) as usize;
            let take = room.min(data.len());
            self.block.update(&data[..take]);
            self.in_block += take as u64;
            data = &data[take..];
            if self.in_block == QETAG_BLOCK {
                self.close_block();
            }
        }
    }

    fn close_block(&mut self) {
        let digest = std::mem::take(&mut self.block).finalize();
        self.block_digests.push(digest.into());
        self.in_block = 0;
    }

    /// The 21-byte qetag before base64: prefix byte and 20-byte SHA-1.
    fn finish_raw(mut self) -> [u8; 21] {
        if self.in_block > 0 || self.block_digests.is_empty() {
            self.close_block();
        }
        let mut out = [0u8; 21];
        if self.block_digests.len() == 1 {
            out[0] = 0x16;
            out[1..].copy_from_slice(&self.block_digests[0]);
        } else {
            let mut outer = sha1::Sha1::new();
            for d in &self.block_digests {
                outer.update(d);
            }
            out[0] = 0x96;
            out[1..].copy_from_slice(&outer.finalize());
        }
        out
    }

    pub fn finish(self) -> String {
        URL_SAFE.encode(self.finish_raw())
    }
}

/// Qiniu's qetag v2 for an object uploaded by multipart v2 with these parts. When every
/// part but the last is exactly 4 MiB it equals v1; otherwise it is
/// `0x9e ‖ SHA1(inner20(v1(part1)) ‖ inner20(v1(part2)) ‖ …)`.
pub fn qetag_v2<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let parts: Vec<&[u8]> = parts.into_iter().collect();
    let aligned = parts
        .split_last()
        .is_none_or(|(_, init)| init.iter().all(|p| p.len() as u64 == QETAG_BLOCK));
    if aligned {
        let mut whole = QetagHasher::default();
        parts.iter().for_each(|p| whole.update(p));
        return whole.finish();
    }
    let mut outer = sha1::Sha1::new();
    for part in parts {
        let mut h = QetagHasher::default();
        h.update(part);
        outer.update(&h.finish_raw()[1..]);
    }
    let mut out = vec![0x9e];
    out.extend_from_slice(&outer.finalize());
    URL_SAFE.encode(out)
}

/// CRC-32C of `a ‖ b` from `crc(a)`, `crc(b)` and `len(b)`: what a composed Google Cloud
/// Storage object's CRC-32C must be.
pub fn crc32c_combine(crc1: u32, crc2: u32, len2: u64) -> u32 {
    // CRC-32/ISCSI's value fits in the low 32 bits.
    checksum_combine(CrcAlgorithm::Crc32Iscsi, crc1.into(), crc2.into(), len2) as u32
}

/// CRC-64/XZ (`crc64ecma`) of `a ‖ b` from `crc(a)`, `crc(b)` and `len(b)`: how a
/// multipart object's CRC is predicted from its parts'.
pub fn crc64ecma_combine(crc1: u64, crc2: u64, len2: u64) -> u64 {
    checksum_combine(CrcAlgorithm::Crc64Xz, crc1, crc2, len2)
}

/// CRC-64/NVME (S3's `crc64nvme`) of `a ‖ b` from `crc(a)`, `crc(b)` and `len(b)`.
pub fn crc64nvme_combine(crc1: u64, crc2: u64, len2: u64) -> u64 {
    checksum_combine(CrcAlgorithm::Crc64Nvme, crc1, crc2, len2)
}

#[cfg(test)]
mod tests {
    #[test]
    fn algorithm_lists() {
        use super::ChecksumAlgo as A;
        assert_eq!(A::parse_list("ALL").unwrap(), A::ALL.to_vec());
        assert_eq!(
            A::parse_list("md5, crc64-nvme").unwrap(),
            [A::Md5, A::Crc64Nvme]
        );
        assert!(A::parse_list("md5,crc16").is_err());
    }

    use super::*;

    const CHECK: &[u8] = b"123456789";

    #[test]
    fn crc64nvme_combines_like_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = checksum_bytes(&data, &[ChecksumAlgo::Crc64Nvme]).crc64nvme;
        for cut in [0, 1, 4096, 65_537, 99_999, 100_000] {
            let (a, b) = data.split_at(cut);
            let ca = checksum_bytes(a, &[ChecksumAlgo::Crc64Nvme])
                .crc64nvme
                .unwrap();
            let cb = checksum_bytes(b, &[ChecksumAlgo::Crc64Nvme])
                .crc64nvme
                .unwrap();
            assert_eq!(
                Some(crc64nvme_combine(ca, cb, b.len() as u64)),
                whole,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn crc64_xz_is_what_oss_and_cos_send() {
        let c = checksum_bytes(CHECK, &[ChecksumAlgo::Crc64Ecma]);
        assert_eq!(c.crc64ecma, Some(0x995d_c9bb_df19_39fa));
        assert_eq!(
            c.get(ChecksumAlgo::Crc64Ecma).as_deref(),
            Some("11051210869376104954")
        );
    }

    #[test]
    fn crc32c_check_value_gcs_form_and_combination() {
        // CRC-32C (Castagnoli) check value; GCS writes it as base64 of the 4 big-endian
        // bytes (`hello` is `mnG7TA==`, as fake-gcs-server and GCS return it).
        let c = checksum_bytes(CHECK, &[ChecksumAlgo::Crc32c]);
        assert_eq!(c.crc32c, Some(0xE306_9283));
        let hello = checksum_bytes(b"hello", &[ChecksumAlgo::Crc32c]);
        assert_eq!(hello.get(ChecksumAlgo::Crc32c).as_deref(), Some("mnG7TA=="));
        let mut back = Checksums::default();
        assert!(back.set(ChecksumAlgo::Crc32c, "mnG7TA=="));
        assert_eq!(back.crc32c, hello.crc32c);
        assert_eq!(ChecksumAlgo::parse("CRC32C").unwrap(), ChecksumAlgo::Crc32c);
        let (a, b) = CHECK.split_at(4);
        let crc = |d| checksum_bytes(d, &[ChecksumAlgo::Crc32c]).crc32c.unwrap();
        let (ca, cb) = (crc(a), crc(b));
        assert_eq!(crc32c_combine(ca, cb, b.len() as u64), 0xE306_9283);
    }

    #[test]
    fn crc64_nvme_check_value_and_base64_form() {
        let c = checksum_bytes(CHECK, &[ChecksumAlgo::Crc64Nvme]);
        assert_eq!(c.crc64nvme, Some(0xae8b_1486_0a79_9888));
        let b64 = c.crc64nvme_base64().unwrap();
        assert_eq!(b64, STANDARD.encode(0xae8b_1486_0a79_9888u64.to_be_bytes()));
        assert_eq!(Checksums::parse_crc64nvme_base64(&b64), c.crc64nvme);
    }

    #[test]
    fn digests_match_known_values() {
        let c = checksum_bytes(b"", &ChecksumAlgo::ALL);
        assert_eq!(
            c.get(ChecksumAlgo::Md5).unwrap(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            c.get(ChecksumAlgo::Sha1).unwrap(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(
            c.get(ChecksumAlgo::Sha256).unwrap(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(c.crc64ecma, Some(0));
        assert_eq!(c.md5_base64().unwrap(), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn qetag_vectors_from_qiniu() {
        assert_eq!(
            checksum_bytes(b"", &[ChecksumAlgo::Qetag]).qetag.unwrap(),
            "Fto5o-5ea0sNMlW_75VgGJCv2AcJ"
        );
        assert_eq!(
            checksum_bytes(b"etag", &[ChecksumAlgo::Qetag])
                .qetag
                .unwrap(),
            "FpLiADEaVoALPkdb8tJEJyRTXoe_"
        );
        assert_eq!(
            qetag_v2([&b"hello"[..], &b"world"[..]]),
            "ns56DcSIfBFUENXjdhsJTIvl3Rcu"
        );
    }

    /// 9 MiB of a repeating 4096-byte block ('A'×1, 'b'×4093, "\r\n"), parts [4M, 4M, 1M].
    #[test]
    fn qetag_nine_mib_vector_v1_and_v2_agree() {
        let mut block = vec![b'A'];
        block.extend(std::iter::repeat_n(b'b', 4093));
        block.extend_from_slice(b"\r\n");
        let data: Vec<u8> = block.iter().copied().cycle().take(9 << 20).collect();
        let v1 = checksum_bytes(&data, &[ChecksumAlgo::Qetag]).qetag.unwrap();
        assert_eq!(v1, "ljgVjMtyMsOgIySv79U8Qz4TrUO4");
        let parts = [&data[..4 << 20], &data[4 << 20..8 << 20], &data[8 << 20..]];
        assert_eq!(qetag_v2(parts), v1);
        // Feeding in odd-sized pieces must not change the result.
        let mut h = Hasher::new(&[ChecksumAlgo::Qetag]);
        data.chunks(999_983).for_each(|c| h.update(c));
        assert_eq!(h.finish().qetag.unwrap(), v1);
    }

    #[test]
    fn qetag_exactly_one_block_uses_small_prefix() {
        let data = vec![7u8; QETAG_BLOCK as usize];
        let q = checksum_bytes(&data, &[ChecksumAlgo::Qetag]).qetag.unwrap();
        let raw = URL_SAFE.decode(&q).unwrap();
        assert_eq!(raw[0], 0x16);
        assert_eq!(q.len(), 28);
    }

    #[test]
    fn verify_reports_the_differing_algorithm() {
        let a = checksum_bytes(b"abc", &ChecksumAlgo::ALL);
        let mut b = checksum_bytes(b"abd", &[ChecksumAlgo::Md5]);
        let err = a.verify(&b).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::ChecksumMismatch);
        assert!(err.to_string().contains("md5 differs"), "{err}");
        b = checksum_bytes(b"abc", &[ChecksumAlgo::Md5, ChecksumAlgo::Crc64Ecma]);
        assert_eq!(a.verify(&b).unwrap(), 2);
        assert_eq!(a.verify(&Checksums::default()).unwrap(), 0);
    }

    #[test]
    fn set_reads_back_what_get_prints() {
        let all = checksum_bytes(b"recording", &ChecksumAlgo::ALL);
        let mut back = Checksums::default();
        for algo in ChecksumAlgo::ALL {
            assert!(back.set(algo, &all.get(algo).unwrap()), "{}", algo.name());
        }
        assert_eq!(back, all);
        assert!(!back.set(ChecksumAlgo::Md5, "not hex"));
        assert_eq!(back.md5, None);
    }

    #[test]
    fn parse_names() {
        assert_eq!(
            ChecksumAlgo::parse("CRC64-NVME").unwrap(),
            ChecksumAlgo::Crc64Nvme
        );
        assert_eq!(
            ChecksumAlgo::parse("crc64xz").unwrap(),
            ChecksumAlgo::Crc64Ecma
        );
        assert!(
            ChecksumAlgo::parse("crc32")
                .unwrap_err()
                .to_string()
                .contains("unknown checksum")
        );
    }

    #[tokio::test]
    async fn file_range_is_read_once_and_checked_for_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        std::fs::write(&p, b"0123456789").unwrap();
        let (n, c) = checksum_file_range(&p, 2, Some(5), &[ChecksumAlgo::Md5])
            .await
            .unwrap();
        assert_eq!(n, 5);
        assert_eq!(c.md5, checksum_bytes(b"23456", &[ChecksumAlgo::Md5]).md5);
        let err = checksum_file_range(&p, 8, Some(5), &[ChecksumAlgo::Md5])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("shorter than expected"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_crc_ranges_hashed_in_slices_equal_one_pass() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.mp4");
        let data: Vec<u8> = (0..(PARALLEL_MIN as u32 + 12_345))
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        std::fs::write(&p, &data).unwrap();
        let crcs = [ChecksumAlgo::Crc64Nvme, ChecksumAlgo::Crc64Ecma];
        let whole = checksum_bytes(&data, &crcs);
        assert_eq!(
            checksum_file(&p, &crcs).await.unwrap(),
            (data.len() as u64, whole)
        );
        let (n, part) = checksum_file_range(&p, 7, Some(PARALLEL_MIN + 1), &crcs)
            .await
            .unwrap();
        assert_eq!(n, PARALLEL_MIN + 1);
        assert_eq!(part, checksum_bytes(&data[7..7 + n as usize], &crcs));
        let err = checksum_file_range(&p, 100, Some(PARALLEL_MIN + 12_345), &crcs)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("shorter than expected"), "{err}");
    }

    #[test]
    fn crc64ecma_combined_equals_whole() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let crc = |d: &[u8]| {
            checksum_bytes(d, &[ChecksumAlgo::Crc64Ecma])
                .crc64ecma
                .unwrap_or_default()
        };
        for split in [0, 1, 5, 4096, 123_457, 299_999, 300_000] {
            let (a, b) = data.split_at(split);
            assert_eq!(
                crc64ecma_combine(crc(a), crc(b), b.len() as u64),
                crc(&data),
                "{split}"
            );
        }
    }
}
