//! Request bodies: form uploads stream a file range, parts are read into memory.

use bytes::Bytes;
use futures::TryStreamExt;
use stowage_core::{Error, ErrorKind, PutBody, Result};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

/// What a form upload sends, re-readable for each attempt.
pub(crate) enum Source {
    Bytes(Bytes),
    File {
        path: std::path::PathBuf,
        offset: u64,
        len: u64,
    },
}

impl Source {
    /// Streams must have been buffered (by computing their qetag) before. A file shorter
    /// than the range is refused here rather than failing mid-request.
    pub(crate) async fn from_body(body: PutBody) -> Result<Source> {
        match body {
            PutBody::Bytes(b) => Ok(Source::Bytes(b)),
            PutBody::File { path, offset, len } => {
                let size = tokio::fs::metadata(&path)
                    .await
                    .map_err(|e| Error::local_io(&path, e))?
                    .len();
                if size < offset + len {
                    return Err(Error::invalid_input(format!(
                        "local file {} has {size} bytes, fewer than the {len} from offset {offset} to upload (was it truncated?)",
                        path.display()
                    )));
                }
                Ok(Source::File { path, offset, len })
            }
            PutBody::Stream { .. } => Err(Error::new(
                ErrorKind::Other,
                "a stream body must be buffered before a Kodo upload",
            )),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::File { len, .. } => *len,
        }
    }
}

/// A request body for one attempt: bytes as they are, a file range read while sending.
pub(crate) fn request_body(body: &Source) -> Result<reqwest::Body> {
    match body {
        Source::Bytes(b) => Ok(reqwest::Body::from(b.clone())),
        Source::File { path, offset, len } => {
            let (path, offset, len) = (path.clone(), *offset, *len);
            let stream = futures::stream::once(async move {
                let mut f = tokio::fs::File::open(&path).await?;
                f.seek(std::io::SeekFrom::Start(offset)).await?;
                Ok::<_, std::io::Error>(tokio_util::io::ReaderStream::new(f.take(len)))
            })
            .try_flatten();
            Ok(reqwest::Body::wrap_stream(stream))
        }
    }
}
