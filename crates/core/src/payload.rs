//! Request bodies for stores that speak HTTP themselves (OSS, COS): a body that can be sent
//! again on retry (bytes, or a file range streamed from disk and hashed as it goes out), and
//! what a ranged answer's `Content-Range` says.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::checksum::{Checksums, Hasher};
use crate::error::{Error, ErrorKind, Result};
use crate::store::PutBody;

/// A request body that can be sent again on retry.
#[derive(Debug, Clone)]
pub enum Payload {
    Empty,
    Bytes(Bytes),
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
}

impl Payload {
    pub fn len(&self) -> u64 {
        match self {
            Payload::Empty => 0,
            Payload::Bytes(b) => b.len() as u64,
            Payload::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A put body as one that can be sent again: bytes or a file range as they are, a
    /// stream collected.
    pub async fn from_put_body(body: PutBody) -> Result<Payload> {
        match body {
            PutBody::Bytes(b) => Ok(Payload::Bytes(b)),
            PutBody::File { path, offset, len } => Ok(Payload::File { path, offset, len }),
            stream @ PutBody::Stream { .. } => match stream.checksums(&[]).await? {
                (PutBody::Bytes(b), _) => Ok(Payload::Bytes(b)),
                (other, _) => Err(Error::new(
                    ErrorKind::Other,
                    format!("internal: a stream body came back as {other:?}"),
                )),
            },
        }
    }
}

/// The checksums of the bytes the body stream sent; an error unless it sent all `len`.
pub fn take_hasher(hasher: &Mutex<Hasher>, len: u64) -> Result<Checksums> {
    let mut guard = hasher.lock().unwrap_or_else(PoisonError::into_inner);
    let hasher = std::mem::replace(&mut *guard, Hasher::new(&[]));
    if hasher.len() != len {
        return Err(Error::new(
            ErrorKind::Network,
            format!(
                "the server answered after {} of {len} bytes were sent",
                hasher.len()
            ),
        ));
    }
    Ok(hasher.finish())
}

/// Streams `len` bytes of `path` from `offset`, feeding `hasher`; a file shorter than
/// promised is an error before anything is sent.
pub async fn file_stream(
    path: PathBuf,
    offset: u64,
    len: u64,
    hasher: Option<Arc<Mutex<Hasher>>>,
) -> Result<futures::stream::BoxStream<'static, std::io::Result<Bytes>>> {
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Error::local_io(&path, e))?;
    let size = file
        .metadata()
        .await
        .map_err(|e| Error::local_io(&path, e))?
        .len();
    if size < offset + len {
        return Err(Error::invalid_input(format!(
            "local file {} has {size} bytes, fewer than the {} expected (was it truncated while uploading?)",
            path.display(),
            offset + len
        )));
    }
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| Error::local_io(&path, e))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 256 * 1024);
    Ok(stream
        .inspect_ok(move |chunk| {
            if let Some(h) = &hasher {
                h.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .update(chunk);
            }
        })
        .boxed())
}

/// `bytes a-b/total` → (a..b+1, total): what a 206 actually carries (a range past the end
/// is cut short by the server).
pub fn parse_content_range(v: Option<&str>) -> Option<(Range<u64>, u64)> {
    let (span, total) = v?.strip_prefix("bytes ")?.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
    Some((a..b + 1, total.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_gives_span_and_total() {
        assert_eq!(
            parse_content_range(Some("bytes 1000-65535/100000")),
            Some((1000..65536, 100_000))
        );
        assert_eq!(parse_content_range(Some("bytes */100")), None);
    }

    #[tokio::test]
    async fn file_stream_hashes_what_it_sends_and_refuses_short_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let hasher = Arc::new(Mutex::new(Hasher::new(&[crate::ChecksumAlgo::Md5])));
        let sent: Vec<Bytes> = file_stream(path.clone(), 2, 5, Some(hasher.clone()))
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(sent.concat(), b"23456");
        let sums = take_hasher(&hasher, 5).unwrap();
        assert_eq!(
            sums.get(crate::ChecksumAlgo::Md5),
            crate::checksum::checksum_bytes(b"23456", &[crate::ChecksumAlgo::Md5])
                .get(crate::ChecksumAlgo::Md5)
        );
        let e = take_hasher(&hasher, 5).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Network);
        let e = file_stream(path, 8, 5, None).await.err().unwrap();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    }
}
