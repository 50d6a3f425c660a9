//! What makes an object *landed*: positive proof from the store that it holds exactly the
//! bytes sent. A 2xx alone is not proof (a proxy, a captive portal or a web server answers
//! 2xx too), so every caller that reports "landed" or deletes a local file goes through
//! [`confirm`]:
//!
//! 1. the store's reply carries a checksum that matches the bytes sent, or an ETag that is
//!    their MD5 (single-part objects), or
//! 2. a HEAD right after shows one (with the right size), or
//! 3. for a multipart upload, every part's CRC-64 was verified by the store and the parts
//!    combine to the whole file's CRC-64 taken before sending ([`PartsProof`]), and the
//!    completed object has the file's size.
//!
//! Anything else is [`ErrorKind::NotConfirmed`] (retried, then sent to the backup, then
//! reported); a contradiction (another size, another checksum) is
//! [`ErrorKind::ChecksumMismatch`].

use md5::{Digest, Md5};

use crate::checksum::{ChecksumAlgo, Checksums, crc64ecma_combine, crc64nvme_combine};
use crate::error::{Error, ErrorKind, Result};
use crate::store::{ObjectMeta, ObjectStore, PartInfo};

/// How a landing was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// A checksum the store returned equals the one computed locally.
    Checksum(ChecksumAlgo),
    /// A single-part ETag equal to the MD5 of the bytes sent.
    Md5Etag,
    /// The store verified each part's CRC-64 and they combine to the file's (see
    /// [`PartsProof`]); the object has the file's size.
    Parts(ChecksumAlgo),
    /// The ETag equals S3's multipart ETag (MD5 of the parts' MD5s, `-N`) of parts whose
    /// MD5s the store verified.
    MultipartEtag,
}

/// What was sent: the size and the checksums computed over the bytes before sending.
#[derive(Debug, Clone, Copy)]
pub struct Sent<'a> {
    pub size: u64,
    pub checksums: &'a Checksums,
}

/// What a reply (or a HEAD) proves about `sent`. `Ok(None)` when it proves nothing; an
/// error when it contradicts it (another size, another checksum).
pub fn proof_in(key: &str, sent: Sent<'_>, meta: &ObjectMeta) -> Result<Option<Proof>> {
    if meta.size != sent.size {
        return Err(Error::new(
            ErrorKind::ChecksumMismatch,
            format!(
                "the store holds {} bytes, but {} were sent",
                meta.size, sent.size
            ),
        )
        .with_key(key));
    }
    let common = sent.checksums.common(&meta.checksums);
    sent.checksums
        .verify(&meta.checksums)
        .map_err(|e| e.with_key(key))?;
    if let Some(algo) = common.first() {
        return Ok(Some(Proof::Checksum(*algo)));
    }
    let md5 = sent.checksums.get(ChecksumAlgo::Md5);
    match (meta.etag.as_deref(), md5) {
        (Some(etag), Some(md5)) if etag.eq_ignore_ascii_case(&md5) => Ok(Some(Proof::Md5Etag)),
        _ => Ok(None),
    }
}

/// Confirms that `key` holds the bytes sent, from the store's `reply` or, when the reply
/// proves nothing, from one HEAD. Returns the metadata that proved it.
pub async fn confirm(
    store: &dyn ObjectStore,
    key: &str,
    sent: Sent<'_>,
    reply: ObjectMeta,
) -> Result<ObjectMeta> {
    if proof_in(key, sent, &reply)?.is_some() {
        return Ok(reply);
    }
    let head = head_for_proof(store, key).await?;
    if proof_in(key, sent, &head)?.is_some() {
        return Ok(head);
    }
    Err(not_confirmed(store, key))
}

/// The object as a HEAD sees it right after a write; a missing object is "not confirmed"
/// (the write was answered, but nothing is there).
pub async fn head_for_proof(store: &dyn ObjectStore, key: &str) -> Result<ObjectMeta> {
    match store.head(key).await {
        Ok(meta) => Ok(meta),
        Err(e) if e.kind() == &ErrorKind::NotFound => Err(Error::new(
            ErrorKind::NotConfirmed,
            format!(
                "{} answered the write with success, but a HEAD right after finds no object",
                store.name()
            ),
        )
        .with_key(key)),
        Err(e) => Err(e),
    }
}

fn not_confirmed(store: &dyn ObjectStore, key: &str) -> Error {
    Error::new(
        ErrorKind::NotConfirmed,
        format!(
            "{} answered success, but neither its reply nor a HEAD carried a checksum or an MD5 ETag matching the bytes sent",
            store.name()
        ),
    )
    .with_key(key)
}

/// The proof a multipart upload's parts give before it is completed: each part's CRC-64
/// (which the store verified, or which was computed in the same pass as an MD5 the store
/// verified) combined in order equals the CRC-64 of the whole file taken before sending.
/// This is what makes a file rewritten between two parts fail instead of landing torn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsProof {
    pub algo: ChecksumAlgo,
    /// S3's multipart ETag of these parts when every part ETag is an MD5.
    pub multipart_etag: Option<String>,
}

/// Checks `parts` (in part-number order) against the whole file's `sent` checksums.
/// `Ok(None)` when the parts carry no CRC-64 the file's checksums have too; an error of
/// kind [`ErrorKind::LocalFileChanged`] when they combine to another value.
pub fn parts_proof(key: &str, sent: Sent<'_>, parts: &[PartInfo]) -> Result<Option<PartsProof>> {
    let size: u64 = parts.iter().map(|p| p.size).sum();
    for algo in [ChecksumAlgo::Crc64Nvme, ChecksumAlgo::Crc64Ecma] {
        let Some(whole) = crc_of(sent.checksums, algo) else {
            continue;
        };
        let Some(combined) = combine_parts(parts, algo) else {
            continue;
        };
        if combined != whole || size != sent.size {
            return Err(Error::new(
                ErrorKind::LocalFileChanged,
                format!(
                    "the {} parts sent ({size} bytes) have {} {combined}, but the file had {whole} ({} bytes) when it was hashed: it changed while being sent",
                    parts.len(),
                    algo.name(),
                    sent.size
                ),
            )
            .with_key(key));
        }
        return Ok(Some(PartsProof {
            algo,
            multipart_etag: multipart_etag(parts),
        }));
    }
    Ok(None)
}

fn crc_of(sums: &Checksums, algo: ChecksumAlgo) -> Option<u64> {
    match algo {
        ChecksumAlgo::Crc64Ecma => sums.crc64ecma,
        ChecksumAlgo::Crc64Nvme => sums.crc64nvme,
        _ => None,
    }
}

fn combine_parts(parts: &[PartInfo], algo: ChecksumAlgo) -> Option<u64> {
    let combine = match algo {
        ChecksumAlgo::Crc64Ecma => crc64ecma_combine,
        _ => crc64nvme_combine,
    };
    let mut crc = 0u64;
    for p in parts {
        crc = combine(crc, crc_of(&p.checksums, algo)?, p.size);
    }
    Some(crc)
}

/// S3's ETag for a multipart object: the MD5 of the parts' binary MD5s, `-` the count.
/// `None` unless every part's ETag is an MD5 in hex.
pub fn multipart_etag(parts: &[PartInfo]) -> Option<String> {
    let mut hasher = Md5::new();
    for p in parts {
        let md5: [u8; 16] = hex::decode(&p.etag).ok()?.try_into().ok()?;
        hasher.update(md5);
    }
    Some(format!(
        "{}-{}",
        hex::encode(hasher.finalize()),
        parts.len()
    ))
}

/// What a completed multipart object's reply (or HEAD) proves, given the parts' proof.
pub fn completed_proof(
    key: &str,
    sent: Sent<'_>,
    parts: Option<&PartsProof>,
    meta: &ObjectMeta,
) -> Result<Option<Proof>> {
    // A multipart object's ETag is no MD5 and Kodo's hash is a qetag of the parts: compare
    // only what describes the whole object.
    let whole = Checksums {
        crc64ecma: sent.checksums.crc64ecma,
        crc64nvme: sent.checksums.crc64nvme,
        sha256: sent.checksums.sha256,
        sha1: sent.checksums.sha1,
        // Google Cloud Storage keeps a whole-object CRC-32C for composed objects too.
        crc32c: sent.checksums.crc32c,
        ..Default::default()
    };
    let sent_whole = Sent {
        size: sent.size,
        checksums: &whole,
    };
    if let Some(p) = proof_in(key, sent_whole, meta)? {
        return Ok(Some(p));
    }
    let Some(parts) = parts else {
        return Ok(None);
    };
    let etag_matches = matches!(
        (meta.etag.as_deref(), parts.multipart_etag.as_deref()),
        (Some(a), Some(b)) if a.eq_ignore_ascii_case(b)
    );
    Ok(Some(if etag_matches {
        Proof::MultipartEtag
    } else {
        Proof::Parts(parts.algo)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::checksum_bytes;

    const ALGOS: [ChecksumAlgo; 3] = [
        ChecksumAlgo::Crc64Ecma,
        ChecksumAlgo::Crc64Nvme,
        ChecksumAlgo::Md5,
    ];

    fn meta(size: u64, checksums: Checksums, etag: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            key: "k".into(),
            size,
            checksums,
            etag: etag.map(str::to_string),
            ..Default::default()
        }
    }

    fn part(n: u32, data: &[u8], algos: &[ChecksumAlgo]) -> PartInfo {
        let sums = checksum_bytes(data, &ChecksumAlgo::ALL);
        let mut checksums = Checksums::default();
        for a in algos {
            checksums.set(*a, &sums.get(*a).unwrap());
        }
        PartInfo {
            part_number: n,
            etag: sums.get(ChecksumAlgo::Md5).unwrap(),
            size: data.len() as u64,
            checksums,
        }
    }

    #[test]
    fn a_bare_success_proves_nothing() {
        let sums = checksum_bytes(b"segment", &ALGOS);
        let sent = Sent {
            size: 7,
            checksums: &sums,
        };
        // What an HTML page answered with 200 gives a store: no checksum, no ETag.
        assert_eq!(
            proof_in("k", sent, &meta(7, Checksums::default(), None)).unwrap(),
            None
        );
        // An ETag that is not our MD5 (a web server's, or KMS) proves nothing either.
        let etag = Some("5f3c1a2b-2ab");
        assert_eq!(
            proof_in("k", sent, &meta(7, Checksums::default(), etag)).unwrap(),
            None
        );
    }

    #[test]
    fn a_matching_checksum_or_md5_etag_proves_and_a_different_one_refutes() {
        let sums = checksum_bytes(b"segment", &ALGOS);
        let sent = Sent {
            size: 7,
            checksums: &sums,
        };
        let only_crc = checksum_bytes(b"segment", &[ChecksumAlgo::Crc64Nvme]);
        assert_eq!(
            proof_in("k", sent, &meta(7, only_crc, None)).unwrap(),
            Some(Proof::Checksum(ChecksumAlgo::Crc64Nvme))
        );
        let md5 = sums.get(ChecksumAlgo::Md5).unwrap();
        assert_eq!(
            proof_in("k", sent, &meta(7, Checksums::default(), Some(&md5))).unwrap(),
            Some(Proof::Md5Etag)
        );
        let other = checksum_bytes(b"segmenT", &[ChecksumAlgo::Crc64Ecma]);
        let e = proof_in("k", sent, &meta(7, other, None)).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch);
        let e = proof_in("k", sent, &meta(1234, Checksums::default(), None)).unwrap_err();
        assert!(e.to_string().contains("holds 1234 bytes"), "{e}");
    }

    #[test]
    fn parts_prove_the_file_only_if_they_combine_to_its_crc() {
        let file: Vec<u8> = (0..30_000u32).map(|i| (i % 253) as u8).collect();
        let sums = checksum_bytes(&file, &ALGOS);
        let sent = Sent {
            size: file.len() as u64,
            checksums: &sums,
        };
        let (a, b) = file.split_at(20_000);
        for algo in [ChecksumAlgo::Crc64Ecma, ChecksumAlgo::Crc64Nvme] {
            let parts = [part(1, a, &[algo]), part(2, b, &[algo])];
            let proof = parts_proof("k", sent, &parts).unwrap().unwrap();
            assert_eq!(proof.algo, algo);
            assert_eq!(proof.multipart_etag.as_deref().unwrap().len(), 34);
        }
        // Part 2 read after the file was rewritten: torn.
        let mut rewritten = b.to_vec();
        rewritten[5] ^= 0xff;
        let parts = [
            part(1, a, &[ChecksumAlgo::Crc64Ecma]),
            part(2, &rewritten, &[ChecksumAlgo::Crc64Ecma]),
        ];
        let e = parts_proof("k", sent, &parts).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::LocalFileChanged);
        assert!(e.to_string().contains("changed while being sent"), "{e}");
        // Parts without CRCs prove nothing (and do not pretend to).
        let parts = [part(1, a, &[]), part(2, b, &[])];
        assert_eq!(parts_proof("k", sent, &parts).unwrap(), None);
    }

    #[test]
    fn multipart_etag_is_s3s() {
        // S3's documented construction: md5(md5(p1) ‖ md5(p2)) + "-2".
        let parts = [part(1, b"abc", &[]), part(2, b"def", &[])];
        let mut cat = Vec::new();
        cat.extend(md5::Md5::digest(b"abc"));
        cat.extend(md5::Md5::digest(b"def"));
        let want = format!("{}-2", hex::encode(md5::Md5::digest(&cat)));
        assert_eq!(multipart_etag(&parts).as_deref(), Some(want.as_str()));
    }
}
