//! An in-process S3 server (s3s + s3s-fs) on a loopback socket, with SigV4 checking on.
//!
//! The server runs on its own thread with its own tokio runtime. `#[tokio::test]` builds a
//! fresh runtime per test and drops it at the end of the test; a server spawned onto that
//! runtime would die with the first test that used it, so we never borrow the caller's runtime.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::TryStreamExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use md5::Digest as _;
use rand::Rng as _;
use rand::distributions::Alphanumeric;
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use s3s_fs::FileSystem;
use stowage_core::{ChecksumAlgo, Hasher};
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A running in-process S3 server backed by a temporary directory.
///
/// Dropping it stops the server and then deletes the directory.
pub struct S3sServer {
    endpoint: String,
    addr: SocketAddr,
    access_key: String,
    secret_key: String,
    root: PathBuf,
    /// The CORS switch and the request count, shared with the serving thread.
    knobs: Arc<Knobs>,
    // Field order matters: the server thread must stop before the directory is removed.
    _thread: ServerThread,
    _dir: TempDir,
}

impl std::fmt::Debug for S3sServer {
    // Hand-written so the secret key never ends up in test logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3sServer")
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl S3sServer {
    /// Starts a fresh server with its own temp dir and random credentials.
    pub fn start() -> io::Result<S3sServer> {
        let access_key = format!("stowage-test-ak-{}", random_token(8));
        let secret_key = random_token(40);
        let auth = SimpleAuth::from_single(access_key.clone(), secret_key.clone());
        let knobs = Arc::new(Knobs::default());
        let (dir, root, thread, addr) = spawn(Some(auth), Arc::clone(&knobs))?;
        Ok(S3sServer {
            knobs,
            endpoint: format!("http://{addr}"),
            addr,
            access_key,
            secret_key,
            root,
            _thread: thread,
            _dir: dir,
        })
    }

    /// One server per test process, started on first use and never stopped.
    ///
    /// Tests that only need *a* bucket should share it (cheap); tests that inspect the
    /// data dir or need isolation should use [`S3sServer::start`].
    pub fn try_shared() -> io::Result<&'static S3sServer> {
        static SHARED: OnceLock<Result<S3sServer, (io::ErrorKind, String)>> = OnceLock::new();
        SHARED
            .get_or_init(|| S3sServer::start().map_err(|e| (e.kind(), e.to_string())))
            .as_ref()
            .map_err(|(kind, msg)| io::Error::new(*kind, msg.clone()))
    }

    /// Like [`S3sServer::try_shared`], for tests that cannot go on without it.
    ///
    /// # Panics
    /// If the server cannot start (no loopback socket or temp dir): no test could proceed.
    pub fn shared() -> &'static S3sServer {
        match S3sServer::try_shared() {
            Ok(server) => server,
            Err(e) => panic!("cannot start the shared in-process S3 server: {e}"),
        }
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (path-style addressing only).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// Canonical data dir: each top-level directory is a bucket, objects are files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Like a bucket CORS rule allowing GET from any origin (S3's PutBucketCors, which
    /// s3s-fs does not implement): a request with `Origin` gets
    /// `Access-Control-Allow-Origin: *`. Off by default, as on a new S3 bucket.
    pub fn set_cors_allow_any_origin(&self, on: bool) {
        self.knobs.cors.store(on, Ordering::Relaxed);
    }

    /// Requests answered so far (every method, every bucket): what a benchmark counts
    /// without a proxy in the way.
    pub fn requests_seen(&self) -> usize {
        self.knobs.requests.load(Ordering::Relaxed)
    }

    /// Creates a bucket by making its directory, without going through S3.
    pub fn create_bucket(&self, name: &str) -> io::Result<()> {
        let plain = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\']);
        if !plain {
            let msg = format!("invalid bucket name {name:?}");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        }
        std::fs::create_dir(self.root.join(name))
    }
}

fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// What the serving thread shares with its [`S3sServer`].
#[derive(Default)]
struct Knobs {
    /// Whether a CORS rule allows every origin (see [`S3sServer::set_cors_allow_any_origin`]).
    cors: AtomicBool,
    requests: std::sync::atomic::AtomicUsize,
}

/// Creates the data dir, binds the socket and starts serving; `auth: None` disables SigV4
/// (only the tests use that, to drive the server with hand-written requests).
fn spawn(
    auth: Option<SimpleAuth>,
    knobs: Arc<Knobs>,
) -> io::Result<(TempDir, PathBuf, ServerThread, SocketAddr)> {
    let dir = tempfile::Builder::new().prefix("stowage-s3s-").tempdir()?;
    // s3s-fs canonicalizes its root; use the same path so callers can compare paths.
    let root = dir.path().canonicalize()?;
    let service = build_service(&root, auth)?;
    let listener = StdTcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let thread = ServerThread::spawn("stowage-s3s", move |stop| {
        serve(listener, service, knobs, stop)
    })?;
    Ok((dir, root, thread, addr))
}

fn build_service(root: &Path, auth: Option<SimpleAuth>) -> io::Result<S3Service> {
    let fs = FsWithUploads::new(root)?;
    let mut builder = S3ServiceBuilder::new(fs);
    if let Some(auth) = auth {
        builder.set_auth(auth);
    }
    Ok(builder.build())
}

/// Serves S3 on every accepted connection (HTTP/1.1 and h2c) until `stop` fires.
async fn serve(
    listener: StdTcpListener,
    service: S3Service,
    knobs: Arc<Knobs>,
    stop: oneshot::Receiver<()>,
) {
    let http = ConnBuilder::new(TokioExecutor::new());
    accept_until_stopped(listener, stop, |socket| {
        let conn = http
            .serve_connection(
                TokioIo::new(socket),
                counted_with_cors(service.clone(), knobs.clone()),
            )
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    })
    .await;
}

/// `service`, adding `Access-Control-Allow-Origin: *` to answers to requests with an
/// `Origin` while CORS is on, and counting every request.
fn counted_with_cors(
    service: S3Service,
    knobs: Arc<Knobs>,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = s3s::HttpResponse,
    Error = s3s::HttpError,
    Future = impl Future<Output = Result<s3s::HttpResponse, s3s::HttpError>> + Send + 'static,
> + Clone {
    hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        knobs.requests.fetch_add(1, Ordering::Relaxed);
        let allow = knobs.cors.load(Ordering::Relaxed) && req.headers().contains_key("origin");
        let answer = hyper::service::Service::call(&service, req);
        async move {
            let mut resp = answer.await?;
            if allow {
                resp.headers_mut().insert(
                    "access-control-allow-origin",
                    hyper::header::HeaderValue::from_static("*"),
                );
            }
            Ok(resp)
        }
    })
}

/// Hands each accepted connection to `on_conn` until `stop` fires (or its sender is dropped).
pub(crate) async fn accept_until_stopped(
    listener: StdTcpListener,
    mut stop: oneshot::Receiver<()>,
    mut on_conn: impl FnMut(TcpStream),
) {
    let listener = match listener
        .set_nonblocking(true)
        .and_then(|()| TcpListener::from_std(listener))
    {
        Ok(listener) => listener,
        Err(e) => return tracing::error!("loopback server cannot use its socket: {e}"),
    };
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => return,
        };
        match accepted {
            Ok((socket, _)) => on_conn(socket),
            Err(e) => {
                // Typically EMFILE; back off instead of spinning.
                tracing::warn!("loopback server accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A dedicated OS thread running a 2-worker tokio runtime, stopped (and joined) on drop.
///
/// Shared by every loopback server in this crate so none depends on the caller's runtime.
pub(crate) struct ServerThread {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Runs `serve(stop)` to completion on a new thread; `stop` fires when this is dropped.
    pub(crate) fn spawn<F, Fut>(name: &str, serve: F) -> io::Result<ServerThread>
    where
        F: FnOnce(oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(serve(stop_rx));
                // Open connections are cancelled; don't wait long for blocking fs calls.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(ServerThread {
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// s3s-fs plus `ListMultipartUploads`, which s3s-fs 0.14.1 lacks and the S3 store needs
/// (to find and abort abandoned uploads).
struct FsWithUploads {
    inner: FileSystem,
    root: PathBuf,
}

impl FsWithUploads {
    fn new(root: &Path) -> io::Result<Self> {
        // s3s_fs::Error implements neither Display nor Error, only Debug.
        let inner = FileSystem::new(root).map_err(|e| io::Error::other(format!("{e:?}")))?;
        Ok(FsWithUploads {
            inner,
            root: root.canonicalize()?,
        })
    }
}

impl FsWithUploads {
    /// The ETag s3s-fs recorded for an object (its MD5, or a multipart ETag).
    fn stored_etag(&self, bucket: &str, key: &str) -> Option<String> {
        let name = format!(
            ".bucket-{}.object-{}.internal.json",
            URL_SAFE_NO_PAD.encode(bucket),
            URL_SAFE_NO_PAD.encode(key)
        );
        let text = std::fs::read_to_string(self.root.join(name)).ok()?;
        let info: serde_json::Value = serde_json::from_str(&text).ok()?;
        info.get("e_tag")?.as_str().map(str::to_owned)
    }

    /// NoSuchKey for a key that names a directory of s3s-fs's (a prefix, not an object).
    fn require_object_file(&self, bucket: &str, key: &str) -> S3Result<()> {
        let plain = !bucket.contains(['/', '\\']) && !key.split('/').any(|s| s == "..");
        if plain && self.root.join(bucket).join(key).is_dir() {
            return Err(S3Error::new(S3ErrorCode::NoSuchKey));
        }
        Ok(())
    }

    fn require_bucket(&self, bucket: &str) -> S3Result<()> {
        if bucket.is_empty() || bucket.contains(['/', '\\']) || !self.root.join(bucket).is_dir() {
            return Err(S3Error::new(S3ErrorCode::NoSuchBucket));
        }
        Ok(())
    }
}

/// Implements `S3` by forwarding the listed operations to `self.inner`, plus extra items.
///
/// A macro so that `#[async_trait]` sees the expanded methods.
macro_rules! delegate_s3 {
    ($(fn $op:ident($input:ident) -> $output:ident;)* extra { $($extra:tt)* }) => {
        #[async_trait::async_trait]
        impl S3 for FsWithUploads {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.inner.$op(req).await
                }
            )*
            $($extra)*
        }
    };
}

delegate_s3! {
    fn create_bucket(CreateBucketInput) -> CreateBucketOutput;
    fn copy_object(CopyObjectInput) -> CopyObjectOutput;
    fn delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
    fn delete_object(DeleteObjectInput) -> DeleteObjectOutput;
    fn delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
    fn get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    fn head_bucket(HeadBucketInput) -> HeadBucketOutput;
    fn list_buckets(ListBucketsInput) -> ListBucketsOutput;
    fn list_objects(ListObjectsInput) -> ListObjectsOutput;
    fn upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
    fn complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput;
    fn abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    extra {
        // Where s3s-fs differs from S3 in ways the conformance suite checks, the fix is here:
        // a missing bucket is NoSuchBucket (s3s-fs would create it), a body that fails its
        // Content-MD5 is not kept (s3s-fs checks after writing), and an unknown upload id is
        // NoSuchUpload (s3s-fs lists no parts), and listed parts carry their ETag (s3s-fs omits it).
        async fn put_object(
            &self,
            req: S3Request<PutObjectInput>,
        ) -> S3Result<S3Response<PutObjectOutput>> {
            self.require_bucket(&req.input.bucket)?;
            let object = self.root.join(&req.input.bucket).join(&req.input.key);
            let result = self.inner.put_object(req).await;
            if let Err(e) = &result
                && *e.code() == S3ErrorCode::BadDigest
            {
                let _ = std::fs::remove_file(&object);
            }
            result
        }

        // A key that is only a prefix of others ("rec" beside "rec/seg.ts") is no object on
        // S3: NoSuchKey. s3s-fs keeps objects as files, so such a key is a directory there,
        // and it answered 500 after trying to hash it (rclone HEADs its remote path first, and
        // waited half a minute per run on that).
        async fn head_object(
            &self,
            req: S3Request<HeadObjectInput>,
        ) -> S3Result<S3Response<HeadObjectOutput>> {
            self.require_object_file(&req.input.bucket, &req.input.key)?;
            self.inner.head_object(req).await
        }

        async fn get_object(
            &self,
            req: S3Request<GetObjectInput>,
        ) -> S3Result<S3Response<GetObjectOutput>> {
            self.require_object_file(&req.input.bucket, &req.input.key)?;
            self.inner.get_object(req).await
        }

        // S3 listings carry each object's ETag (s3s-fs leaves it out); it is in s3s-fs's
        // per-object internal info, so fill it in from there.
        async fn list_objects_v2(
            &self,
            req: S3Request<ListObjectsV2Input>,
        ) -> S3Result<S3Response<ListObjectsV2Output>> {
            let bucket = req.input.bucket.clone();
            let mut resp = if req.input.delimiter.is_none() {
                self.require_bucket(&bucket)?;
                let root = self.root.join(&bucket);
                let input = req.input;
                tokio::task::spawn_blocking(move || flat_listing(&root, input))
                    .await
                    .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))??
            } else {
                self.inner.list_objects_v2(req).await?
            };
            for object in resp.output.contents.iter_mut().flatten() {
                if let Some(key) = &object.key {
                    object.e_tag = self.stored_etag(&bucket, key).map(ETag::Strong);
                }
            }
            Ok(resp)
        }

        // S3 checks a part's x-amz-checksum-crc64nvme and echoes it; s3s-fs ignores it.
        async fn upload_part(
            &self,
            mut req: S3Request<UploadPartInput>,
        ) -> S3Result<S3Response<UploadPartOutput>> {
            let Some(claimed) = req.input.checksum_crc64nvme.clone() else {
                return self.inner.upload_part(req).await;
            };
            let body = req.input.body.take().ok_or_else(|| S3Error::new(S3ErrorCode::IncompleteBody))?;
            let hasher = Arc::new(Mutex::new(Hasher::new(&[ChecksumAlgo::Crc64Nvme])));
            let seen = hasher.clone();
            let counted = body
                .inspect_ok(move |b| seen.lock().unwrap_or_else(PoisonError::into_inner).update(b))
                .map_err(io::Error::other);
            req.input.body = Some(StreamingBlob::wrap(counted));
            let mut resp = self.inner.upload_part(req).await?;
            let hasher = std::mem::replace(
                &mut *hasher.lock().unwrap_or_else(PoisonError::into_inner),
                Hasher::new(&[]),
            );
            let got = hasher.finish().crc64nvme_base64().unwrap_or_default();
            if got != claimed {
                let msg = format!("x-amz-checksum-crc64nvme {claimed} does not match the part ({got})");
                return Err(S3Error::with_message(S3ErrorCode::BadDigest, msg));
            }
            resp.output.checksum_crc64nvme = Some(claimed);
            Ok(resp)
        }

        async fn create_multipart_upload(
            &self,
            req: S3Request<CreateMultipartUploadInput>,
        ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
            self.require_bucket(&req.input.bucket)?;
            self.inner.create_multipart_upload(req).await
        }

        async fn list_parts(
            &self,
            req: S3Request<ListPartsInput>,
        ) -> S3Result<S3Response<ListPartsOutput>> {
            let marker = self.root.join(format!(".upload-{}.json", req.input.upload_id));
            if req.input.upload_id.contains(['/', '\\']) || !marker.is_file() {
                return Err(S3Error::new(S3ErrorCode::NoSuchUpload));
            }
            let upload_id = req.input.upload_id.clone();
            let mut resp = self.inner.list_parts(req).await?;
            for part in resp.output.parts.iter_mut().flatten() {
                let n = part.part_number.unwrap_or(0);
                let file = self.root.join(format!(".upload_id-{upload_id}.part-{n}"));
                let bytes = std::fs::read(&file).map_err(S3Error::internal_error)?;
                part.e_tag = Some(s3s::dto::ETag::Strong(hex::encode(md5::Md5::digest(&bytes))));
            }
            Ok(resp)
        }

        async fn list_multipart_uploads(
            &self,
            req: S3Request<ListMultipartUploadsInput>,
        ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
            list_uploads_response(&self.root, req.input).map(S3Response::new)
        }
    }
}

/// An in-progress multipart upload found in an s3s-fs data dir.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingUpload {
    key: String,
    upload_id: String,
    initiated: SystemTime,
}

/// Default and maximum page size, as on AWS.
const MAX_UPLOADS: usize = 1000;

/// Answers ListMultipartUploads: prefix filter, key/upload-id markers, `max-uploads` paging.
/// `delimiter` is ignored (no common prefixes are reported).
/// A listing without a delimiter, as s3s-fs answers it (keys in order, resumed after the
/// continuation token or start-after, the last key returned as the next token) but walked
/// with blocking calls in one task. s3s-fs walks the whole bucket with two async file calls
/// per object for every page, which made a 10 000-key listing cost seconds and drowned what
/// the benchmarks compare (the client's work) in the server's.
fn flat_listing(
    root: &Path,
    input: ListObjectsV2Input,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let prefix = input
        .prefix
        .as_deref()
        .unwrap_or("")
        .trim_start_matches('/');
    let resume = [
        input.continuation_token.as_deref(),
        input.start_after.as_deref(),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or("");
    let mut found = Vec::new();
    walk_keys(root, root, prefix, resume, &mut found)
        .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
    found.sort_unstable();
    let max_keys = input.max_keys.unwrap_or(1000);
    let page = usize::try_from(max_keys).unwrap_or(1000);
    let is_truncated = page > 0 && found.len() > page;
    found.truncate(page);
    // Only the page's files are stat'ed: a walk that stat'ed every file of the bucket for
    // every page cost a 10 000-key listing a second.
    let objects = found
        .into_iter()
        .map(|(key, path)| object_entry(key, &path))
        .collect::<io::Result<Vec<Object>>>()
        .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
    let next_continuation_token = if is_truncated {
        objects.last().and_then(|o| o.key.clone())
    } else {
        None
    };
    let output = ListObjectsV2Output {
        key_count: Some(i32::try_from(objects.len()).unwrap_or(i32::MAX)),
        max_keys: Some(max_keys),
        is_truncated: Some(is_truncated),
        contents: (!objects.is_empty()).then_some(objects),
        continuation_token: input.continuation_token,
        next_continuation_token,
        encoding_type: input.encoding_type,
        name: Some(input.bucket),
        prefix: input.prefix,
        start_after: input.start_after,
        ..Default::default()
    };
    Ok(S3Response::new(output))
}

/// Every file under `dir` whose key (its path below `root`, `/`-joined) starts with `prefix`
/// and sorts after `after`, with its path; file types come from the directory listing itself.
fn walk_keys(
    root: &Path,
    dir: &Path,
    prefix: &str,
    after: &str,
    out: &mut Vec<(String, PathBuf)>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk_keys(root, &path, prefix, after, out)?;
            continue;
        }
        let Some(key) = object_key(root, &path) else {
            continue;
        };
        if key.starts_with(prefix) && key.as_str() > after {
            out.push((key, path));
        }
    }
    Ok(())
}

fn object_entry(key: String, path: &Path) -> io::Result<Object> {
    let meta = std::fs::metadata(path)?;
    Ok(Object {
        key: Some(key),
        last_modified: Some(Timestamp::from(meta.modified()?)),
        size: Some(i64::try_from(meta.len()).unwrap_or(i64::MAX)),
        ..Default::default()
    })
}

fn object_key(root: &Path, path: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = path
        .strip_prefix(root)
        .ok()?
        .components()
        .map(|c| match c {
            std::path::Component::Normal(name) => name.to_str(),
            _ => None,
        })
        .collect();
    Some(parts?.join("/"))
}

fn list_uploads_response(
    root: &Path,
    input: ListMultipartUploadsInput,
) -> S3Result<ListMultipartUploadsOutput> {
    if !root.join(&input.bucket).is_dir() {
        return Err(S3Error::new(S3ErrorCode::NoSuchBucket));
    }
    let prefix = input.prefix.as_deref().unwrap_or("");
    let all = scan_uploads(root, &input.bucket, prefix).map_err(S3Error::internal_error)?;
    let key_marker = input.key_marker.as_deref().unwrap_or("");
    let id_marker = input.upload_id_marker.as_deref();
    let mut after = all
        .into_iter()
        .filter(|u| is_after_markers(u, key_marker, id_marker));
    let limit = input.max_uploads.map_or(MAX_UPLOADS, |m| {
        usize::try_from(m).unwrap_or(0).min(MAX_UPLOADS)
    });
    let page: Vec<PendingUpload> = after.by_ref().take(limit).collect();
    let is_truncated = after.next().is_some();
    let last = page.last().filter(|_| is_truncated);
    Ok(ListMultipartUploadsOutput {
        bucket: Some(input.bucket.clone()),
        prefix: input.prefix.clone(),
        key_marker: input.key_marker.clone(),
        upload_id_marker: input.upload_id_marker.clone(),
        max_uploads: Some(i32::try_from(limit).unwrap_or(i32::MAX)),
        is_truncated: Some(is_truncated),
        next_key_marker: last.map(|u| u.key.clone()),
        next_upload_id_marker: last.map(|u| u.upload_id.clone()),
        uploads: Some(page.into_iter().map(to_dto).collect()),
        ..Default::default()
    })
}

/// S3 marker semantics: keys after `key_marker`, or the same key with a later upload id.
fn is_after_markers(upload: &PendingUpload, key_marker: &str, id_marker: Option<&str>) -> bool {
    match id_marker {
        Some(id) if !key_marker.is_empty() => {
            upload.key.as_str() > key_marker
                || (upload.key == key_marker && upload.upload_id.as_str() > id)
        }
        _ => upload.key.as_str() > key_marker,
    }
}

fn to_dto(upload: PendingUpload) -> MultipartUpload {
    MultipartUpload {
        key: Some(upload.key),
        upload_id: Some(upload.upload_id),
        initiated: Some(Timestamp::from(upload.initiated)),
        ..Default::default()
    }
}

/// Lists the in-progress uploads of `bucket` whose key starts with `prefix`, sorted by key
/// then upload id.
///
/// s3s-fs keeps `.bucket-{B}.object-{K}.upload-{ID}.metadata.json` (B, K URL-safe base64
/// without padding) from create until complete/abort, and `.upload-{ID}.json` (the upload's
/// owner) until complete/abort. Requiring both skips half-created and half-completed uploads.
fn scan_uploads(root: &Path, bucket: &str, prefix: &str) -> io::Result<Vec<PendingUpload>> {
    let mut uploads = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let Some((b, key, upload_id)) = entry.file_name().to_str().and_then(parse_upload_file_name)
        else {
            continue;
        };
        if b != bucket
            || !key.starts_with(prefix)
            || !root.join(format!(".upload-{upload_id}.json")).is_file()
        {
            continue;
        }
        match entry.metadata().and_then(|m| m.modified()) {
            Ok(initiated) => uploads.push(PendingUpload {
                key,
                upload_id,
                initiated,
            }),
            // Completed or aborted while we were looking.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    uploads.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
    Ok(uploads)
}

/// Parses `.bucket-{B}.object-{K}.upload-{ID}.metadata.json` into (bucket, key, upload id).
/// Base64 never contains `.`, so splitting on dots is unambiguous.
fn parse_upload_file_name(name: &str) -> Option<(String, String, String)> {
    let middle = name
        .strip_prefix(".bucket-")?
        .strip_suffix(".metadata.json")?;
    let mut parts = middle.split('.');
    let bucket = decode_b64(parts.next()?)?;
    let key = decode_b64(parts.next()?.strip_prefix("object-")?)?;
    let upload_id = parts.next()?.strip_prefix("upload-")?;
    if parts.next().is_some() || uuid::Uuid::parse_str(upload_id).is_err() {
        return None;
    }
    Some((bucket, key, upload_id.to_owned()))
}

fn decode_b64(s: &str) -> Option<String> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::test_http::{Reply, request};

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn touch_upload(root: &Path, bucket: &str, key: &str, id: &str, with_owner_file: bool) {
        let meta = format!(
            ".bucket-{}.object-{}.upload-{id}.metadata.json",
            b64(bucket),
            b64(key)
        );
        std::fs::write(root.join(meta), "{}").unwrap();
        if with_owner_file {
            std::fs::write(root.join(format!(".upload-{id}.json")), "null").unwrap();
        }
    }

    const ID1: &str = "00000000-0000-4000-8000-000000000001";
    const ID2: &str = "00000000-0000-4000-8000-000000000002";
    const ID3: &str = "00000000-0000-4000-8000-000000000003";
    const ID4: &str = "00000000-0000-4000-8000-000000000004";

    #[test]
    fn parses_s3s_fs_upload_metadata_names() {
        let name = format!(
            ".bucket-{}.object-{}.upload-{ID1}.metadata.json",
            b64("bkt"),
            b64("a/b c.txt")
        );
        let parsed = parse_upload_file_name(&name);
        assert_eq!(parsed, Some(("bkt".into(), "a/b c.txt".into(), ID1.into())));
        // Object metadata (no upload), internal info and garbage are not uploads.
        let plain = format!(".bucket-{}.object-{}.metadata.json", b64("bkt"), b64("k"));
        assert_eq!(parse_upload_file_name(&plain), None);
        let internal = format!(".bucket-{}.object-{}.internal.json", b64("bkt"), b64("k"));
        assert_eq!(parse_upload_file_name(&internal), None);
        let bad_id = format!(
            ".bucket-{}.object-{}.upload-nope.metadata.json",
            b64("bkt"),
            b64("k")
        );
        assert_eq!(parse_upload_file_name(&bad_id), None);
    }

    #[test]
    fn scan_filters_by_bucket_prefix_and_owner_file_and_sorts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch_upload(root, "bkt", "rec/b", ID1, true);
        touch_upload(root, "bkt", "rec/a", ID3, true);
        touch_upload(root, "bkt", "rec/a", ID2, true);
        touch_upload(root, "bkt", "other", ID1, true);
        touch_upload(root, "bkt2", "rec/a", ID1, true);
        touch_upload(root, "bkt", "rec/c", ID4, false); // completed/aborted half-way
        let found = scan_uploads(root, "bkt", "rec/").unwrap();
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|u| (u.key.as_str(), u.upload_id.as_str()))
            .collect();
        assert_eq!(got, [("rec/a", ID2), ("rec/a", ID3), ("rec/b", ID1)]);
        assert!(found.iter().all(|u| u.initiated <= SystemTime::now()));
        assert_eq!(scan_uploads(root, "bkt", "").unwrap().len(), 4);
    }

    #[test]
    fn list_response_pages_with_markers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("bkt")).unwrap();
        for (key, id) in [("a", ID1), ("a", ID2), ("b", ID1)] {
            touch_upload(root, "bkt", key, id, true);
        }
        let input = |km: Option<&str>, im: Option<&str>| ListMultipartUploadsInput {
            bucket: "bkt".into(),
            key_marker: km.map(Into::into),
            upload_id_marker: im.map(Into::into),
            max_uploads: Some(2),
            ..Default::default()
        };
        let first = list_uploads_response(root, input(None, None)).unwrap();
        assert_eq!(first.is_truncated, Some(true));
        assert_eq!(
            (
                first.next_key_marker.as_deref(),
                first.next_upload_id_marker.as_deref()
            ),
            (Some("a"), Some(ID2))
        );
        let second = list_uploads_response(root, input(Some("a"), Some(ID2))).unwrap();
        let keys: Vec<_> = second
            .uploads
            .unwrap()
            .into_iter()
            .map(|u| (u.key.unwrap(), u.upload_id.unwrap()))
            .collect();
        assert_eq!(keys, [("b".to_owned(), ID1.to_owned())]);
        assert_eq!(second.is_truncated, Some(false));
        let missing = ListMultipartUploadsInput {
            bucket: "nope".into(),
            ..Default::default()
        };
        let err = list_uploads_response(root, missing).unwrap_err();
        assert_eq!(err.code(), &S3ErrorCode::NoSuchBucket);
    }

    #[test]
    fn unsigned_request_is_rejected() {
        let server = S3sServer::start().unwrap();
        assert!(server.endpoint().starts_with("http://127.0.0.1:"));
        assert!(server.access_key().starts_with("stowage-test-ak-"));
        server.create_bucket("bkt").unwrap();
        assert!(server.root().join("bkt").is_dir());
        assert!(server.create_bucket("../escape").is_err());
        for path in ["/", "/bkt", "/bkt?uploads"] {
            let reply = request(server.addr(), "GET", path, &[], b"").unwrap();
            assert_eq!(reply.status, 403, "{path}: {reply:?}");
            assert!(
                reply.body.contains("<Code>AccessDenied</Code>"),
                "{reply:?}"
            );
        }
    }

    #[test]
    fn shared_server_is_one_per_process_and_survives_runtimes() {
        let first = S3sServer::shared();
        for _ in 0..2 {
            // Each test runtime comes and goes; the shared server must keep answering.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async { assert!(std::ptr::eq(first, S3sServer::shared())) });
            drop(runtime);
            let reply = request(first.addr(), "GET", "/", &[], b"").unwrap();
            assert_eq!(reply.status, 403);
        }
    }

    #[test]
    fn dropping_a_server_stops_it_and_removes_its_data() {
        let server = S3sServer::start().unwrap();
        let (addr, root) = (server.addr(), server.root().to_owned());
        drop(server);
        assert!(!root.exists());
        assert!(request(addr, "GET", "/", &[], b"").is_err());
    }

    /// Drives multipart uploads over HTTP against an auth-less instance (hand-written
    /// requests cannot be signed here) to check the wrapper end to end, including that
    /// complete and abort really make uploads disappear from the listing.
    #[test]
    fn list_multipart_uploads_over_http() {
        let (_dir, root, _thread, addr) = spawn(None, Arc::default()).unwrap();
        std::fs::create_dir(root.join("bkt")).unwrap();
        let create = |key: &str| {
            upload_id(&request(addr, "POST", &format!("/bkt/{key}?uploads"), &[], b"").unwrap())
        };
        let (a1, a2, b) = (create("rec/a"), create("rec/a"), create("rec/b"));
        create("zzz");
        let listed = request(addr, "GET", "/bkt?uploads&prefix=rec/", &[], b"").unwrap();
        assert_eq!(listed.status, 200, "{listed:?}");
        let mut expected_a = [a1.clone(), a2.clone()];
        expected_a.sort();
        let want = [
            ("rec/a", &expected_a[0]),
            ("rec/a", &expected_a[1]),
            ("rec/b", &b),
        ];
        assert_eq!(
            listed_uploads(&listed.body),
            want.map(|(k, id)| (k.to_owned(), id.clone()))
        );

        let aborted = request(
            addr,
            "DELETE",
            &format!("/bkt/rec/a?uploadId={a1}"),
            &[],
            b"",
        )
        .unwrap();
        assert_eq!(aborted.status, 204, "{aborted:?}");
        complete_one_part(addr, "rec/b", &b);
        let listed = request(addr, "GET", "/bkt?uploads&prefix=rec/", &[], b"").unwrap();
        assert_eq!(listed_uploads(&listed.body), [("rec/a".to_owned(), a2)]);
        assert_eq!(std::fs::read(root.join("bkt/rec/b")).unwrap(), b"part one");
    }

    fn complete_one_part(addr: SocketAddr, key: &str, id: &str) {
        let part = request(
            addr,
            "PUT",
            &format!("/bkt/{key}?partNumber=1&uploadId={id}"),
            &[],
            b"part one",
        )
        .unwrap();
        assert_eq!(part.status, 200, "{part:?}");
        let xml = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>";
        let done = request(
            addr,
            "POST",
            &format!("/bkt/{key}?uploadId={id}"),
            &[],
            xml.as_bytes(),
        )
        .unwrap();
        assert_eq!(done.status, 200, "{done:?}");
    }

    fn upload_id(reply: &Reply) -> String {
        assert_eq!(reply.status, 200, "{reply:?}");
        between(&reply.body, "<UploadId>", "</UploadId>").remove(0)
    }

    fn listed_uploads(xml: &str) -> Vec<(String, String)> {
        let keys = between(xml, "<Key>", "</Key>");
        let ids = between(xml, "<UploadId>", "</UploadId>");
        assert_eq!(keys.len(), ids.len(), "{xml}");
        keys.into_iter().zip(ids).collect()
    }

    fn between(text: &str, open: &str, close: &str) -> Vec<String> {
        text.split(open)
            .skip(1)
            .filter_map(|s| s.split_once(close))
            .map(|(v, _)| v.to_owned())
            .collect()
    }
}
