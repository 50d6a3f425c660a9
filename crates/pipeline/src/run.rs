//! The upload run: register, clean stale uploads, send media, publish playlists, write the
//! manifest, summarise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::StreamExt;
use stowage_core::checksum::{checksum_file, read_file_checksummed};
use stowage_core::proof::{Proof, Sent, completed_proof, confirm, parts_proof};
use stowage_core::upload::{SentParts, complete_confirmed, send_parts};
use stowage_core::{
    ChecksumAlgo, Checksums, Error, ErrorKind, MultipartUpload, ObjectMeta, ObjectStore, PartInfo,
    PutBody, PutOptions, Result,
};
use stowage_core::{MANIFEST_VERSION, Manifest, ManifestObject, PartLayout};

use crate::journal::{Entry, Journal, State};
use crate::lock::SpoolLock;
use crate::plan::{self, LocalFile, STATE_DIR};
use crate::{Event, Options, Status, Summary, Targets};

/// Checksums every file gets: what S3 (CRC64-NVME) and OSS/COS (CRC-64/XZ) check and report,
/// nearly free to compute.
const ALWAYS: [ChecksumAlgo; 2] = [ChecksumAlgo::Crc64Nvme, ChecksumAlgo::Crc64Ecma];
/// Key of the manifest, under the prefix.
pub const MANIFEST_NAME: &str = "stowage-manifest.json";

pub(crate) struct Run {
    pub(crate) dir: PathBuf,
    pub(crate) targets: Targets,
    pub(crate) opts: Options,
    pub(crate) journal: Journal,
    /// The first bucket-wide refusal of each bucket (see [`bucket_wide`]): later objects
    /// are not sent there, and it is said once.
    pub(crate) unusable: std::sync::Mutex<BTreeMap<&'static str, (ErrorKind, String)>>,
    /// The retry budget of an object on the primary (shorter while recording live, so that a
    /// segment reaches the backup in seconds during an outage).
    pub(crate) primary_retry: stowage_core::retry::RetryPolicy,
    /// One uploader per spool, held for the run's life; declared last so that the journal
    /// is closed before the lock is released.
    pub(crate) _lock: SpoolLock,
}

/// Errors that no other object of the run would escape: the bucket is missing or its name
/// refused, the credentials are refused, the clock is off, the endpoint is not a storage API.
fn bucket_wide(e: &Error) -> bool {
    e.vendor_code() == Some("InvalidBucketName")
        || matches!(
            e.kind(),
            ErrorKind::BucketNotFound
                | ErrorKind::InvalidCredentials
                | ErrorKind::SignatureMismatch
                | ErrorKind::ClockSkew
                | ErrorKind::UnexpectedReply
                | ErrorKind::Tls
                | ErrorKind::WrongRegion { .. }
        )
}

fn bucket_label(which: State) -> &'static str {
    match which {
        State::Backup => "backup",
        _ => "primary",
    }
}

impl Run {
    /// The error to give objects not sent to a bucket already known to refuse everything.
    pub(crate) fn unusable(&self, which: State) -> Option<Error> {
        let map = self.unusable.lock().ok()?;
        let (kind, msg) = map.get(bucket_label(which))?;
        Some(Error::new(kind.clone(), format!("not sent: {msg}")).with_retryable(false))
    }

    /// Remembers a bucket-wide refusal, and says it once.
    pub(crate) fn note_if_unusable(&self, which: State, e: &Error) {
        if !bucket_wide(e) || e.message().starts_with("not sent: ") {
            return;
        }
        let Ok(mut map) = self.unusable.lock() else {
            return;
        };
        let label = bucket_label(which);
        if map.contains_key(label) {
            return;
        }
        map.insert(label, (e.kind().clone(), e.to_string()));
        drop(map);
        let bucket = store_for(self, which).map(|s| s.name()).unwrap_or_default();
        self.emit(Event::BucketUnusable {
            bucket,
            error: e.to_string(),
        });
    }

    pub(crate) fn emit_closed(&self, key: &str, ended: crate::Ended) {
        self.emit(Event::PlaylistClosed {
            key: key.to_string(),
            ended,
        });
    }

    pub(crate) fn emit_partial(&self, key: &str, segments: usize) {
        self.emit(Event::PlaylistUpdated {
            key: key.to_string(),
            segments,
        });
    }

    fn emit(&self, e: Event) {
        tracing::debug!(event = ?e);
        if let Some(sink) = &self.opts.events {
            sink(&e);
        }
    }
}

/// Uploads the recording in `dir` (see the crate docs). Safe to run again after a crash or
/// a deadline: it continues where the journal says.
pub async fn upload_recording(dir: &Path, targets: &Targets, opts: &Options) -> Result<Summary> {
    let started = Instant::now();
    let run = open_run(dir, targets, opts)?;
    let files = scan_reporting(&run)?;
    for f in &files {
        run.journal.register(
            &plan::key_for(&opts.prefix, &f.rel),
            &f.path,
            f.size,
            f.mtime_ns,
        )?;
    }
    run.journal.retry_failed()?;
    let todo: Vec<Entry> = run
        .journal
        .all()?
        .into_iter()
        .filter(|e| !e.state.landed())
        .collect();
    run.emit(Event::Planned {
        objects: todo.len(),
        bytes: todo.iter().map(|e| e.size).sum(),
    });
    abort_stale_uploads(&run).await;
    let work = async {
        send_all(&run, files.iter().filter(|f| !f.is_playlist())).await;
        publish_playlists(&run, &files).await
    };
    let published = match opts.deadline {
        Some(d) => match tokio::time::timeout(d, work).await {
            Ok(p) => p,
            Err(_) => {
                let pending = run
                    .journal
                    .all()?
                    .iter()
                    .filter(|e| !e.state.landed())
                    .count();
                run.emit(Event::DeadlineReached { pending });
                Default::default()
            }
        },
        None => work.await,
    };
    finish(&run, published, started, None).await
}

/// The spool's files; what is left out (a symbolic link leaving the spool) is said.
pub(crate) fn scan_reporting(run: &Run) -> Result<Vec<LocalFile>> {
    let scan = plan::scan_with_skipped(&run.dir)?;
    for (path, reason) in scan.skipped {
        tracing::warn!(%path, %reason, "not uploaded");
        run.emit(Event::Skipped { path, reason });
    }
    Ok(scan.files)
}

pub(crate) fn open_run(dir: &Path, targets: &Targets, opts: &Options) -> Result<Run> {
    plan::validate_prefix(&opts.prefix)?;
    if !dir.is_dir() {
        return Err(Error::invalid_input(format!(
            "{} is not a recording directory",
            dir.display()
        )));
    }
    let destination = format!(
        "{}/{}",
        targets.primary.name(),
        opts.prefix.trim_matches('/')
    );
    // One run per spool at a time (see lock.rs), taken before the journal is opened, so
    // that a damaged journal is never moved aside under another run.
    let lock = SpoolLock::acquire(dir)?;
    tracing::debug!(lock = %lock.path().display(), "spool locked");
    // One journal per destination: the same spool can go to several buckets, one after the
    // other.
    let name = format!("journal-{:016x}.sqlite", fnv1a(&destination));
    let journal = Journal::open(&dir.join(STATE_DIR).join(name))?;
    match journal.meta("destination")? {
        Some(d) if d != destination => {
            return Err(Error::invalid_input(format!(
                "this recording was being uploaded to {d}, not {destination}: give the same destination to resume, or remove {} to start over",
                journal.path().display()
            )));
        }
        Some(_) => {}
        None => journal.set_meta("destination", &destination)?,
    }
    if let Some(backup) = targets.backup.clone() {
        // Never holds up the primary: a backup that does not answer keeps its cautious
        // capabilities (MD5 hashed too) until it does.
        let hint = plan::key_for(&opts.prefix, "x");
        tokio::spawn(async move { backup.learn_integrity(&hint).await });
    }
    Ok(Run {
        dir: dir.to_path_buf(),
        targets: targets.clone(),
        opts: opts.clone(),
        journal,
        unusable: Default::default(),
        primary_retry: opts.retry,
        _lock: lock,
    })
}

/// FNV-1a: a stable name for a destination (std's hasher may change between releases).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Aborts multipart uploads in the primary for our keys that the journal does not know
/// (a crash between creating an upload and journaling its id leaves one behind).
pub(crate) async fn abort_stale_uploads(run: &Run) {
    let primary = &run.targets.primary;
    if !primary.capabilities().list_multipart_uploads {
        return;
    }
    let Ok(uploads) = primary
        .list_multipart_uploads(run.opts.prefix.trim_start_matches('/'))
        .await
    else {
        return;
    };
    for u in uploads {
        let Ok(Some(entry)) = run.journal.get(&u.key) else {
            continue;
        };
        if entry.upload_id.as_deref() != Some(u.upload_id.as_str())
            && primary.abort_multipart(&u).await.is_ok()
        {
            run.emit(Event::AbortedStaleUpload {
                key: u.key,
                upload_id: u.upload_id,
            });
        }
    }
}

async fn send_all<'f>(run: &Run, files: impl Iterator<Item = &'f LocalFile>) {
    let keys: Vec<String> = files
        .map(|f| plan::key_for(&run.opts.prefix, &f.rel))
        .collect();
    futures::stream::iter(keys)
        .map(|key| async move {
            if let Err(e) = deliver(run, &key).await {
                tracing::warn!(%key, error = %e, "object not delivered");
            }
        })
        .buffer_unordered(run.opts.concurrency.max(1))
        .collect::<Vec<()>>()
        .await;
}

/// Gets one object into a bucket: primary first, backup when the primary's budget is spent.
/// Sends every non-playlist file the journal has not seen land.
/// The checksums worth a pass over the file: [`ALWAYS`], plus, when the file goes up in one
/// put, the digest each bucket checks on upload — MD5 where it takes one (Content-MD5), else
/// Kodo's qetag. A multipart object's ETag is no MD5, and Kodo's multipart hash is a qetag v2
/// of the parts, so those are left to the parts.
fn local_algos(run: &Run, entry: &Entry) -> Vec<ChecksumAlgo> {
    let mut algos = ALWAYS.to_vec();
    let stores = || std::iter::once(&run.targets.primary).chain(run.targets.backup.as_ref());
    // A whole-object CRC-32C the bucket keeps (Google Cloud Storage, composed objects too)
    // proves single and multipart objects alike.
    if stores().any(|s| {
        s.capabilities()
            .returned_by_head
            .contains(&ChecksumAlgo::Crc32c)
    }) {
        algos.push(ChecksumAlgo::Crc32c);
    }
    if entry.size > run.opts.upload.multipart_threshold {
        return algos;
    }
    for store in stores() {
        let checked = store.capabilities().verified_on_upload;
        let digest = [ChecksumAlgo::Md5, ChecksumAlgo::Qetag]
            .into_iter()
            .find(|a| checked.contains(a));
        if let Some(algo) = digest.filter(|a| !algos.contains(a)) {
            algos.push(algo);
        }
    }
    algos
}

pub(crate) async fn send_pending(run: &Run, files: &[LocalFile]) {
    send_all(run, files.iter().filter(|f| !f.is_playlist())).await;
}

pub(crate) async fn deliver(run: &Run, key: &str) -> Result<()> {
    let Some(entry) = run.journal.get(key)? else {
        return Ok(());
    };
    if entry.state.landed() {
        return Ok(());
    }
    if run.unusable(State::Primary).is_some() && run.targets.backup.is_none() {
        // The bucket itself refused (missing, bad credentials, not a storage API): said
        // once; the object stays pending in the journal for the next run.
        return Ok(());
    }
    let local = local_checksums(run, &entry).await?;
    // Durably "may be sent" before the first byte goes out (see Journal::claim).
    run.journal.claim(key)?;
    if let Some(meta) = already_in_primary(run, &entry, &local.sums).await {
        return landed(run, &entry, State::Primary, &meta).await;
    }
    let primary_err = match run.unusable(State::Primary) {
        Some(e) => e,
        None => match send_with_retry(run, &entry, &local, State::Primary).await {
            Ok(meta) => return landed(run, &entry, State::Primary, &meta).await,
            Err(e) => {
                run.note_if_unusable(State::Primary, &e);
                e
            }
        },
    };
    if run.targets.backup.is_none() {
        if run.unusable(State::Primary).is_some() {
            return Ok(()); // named once by note_if_unusable; the object stays pending
        }
        run.journal.failed(key, &primary_err.to_string())?;
        run.emit(Event::Failed {
            key: key.into(),
            error: primary_err.to_string(),
        });
        return Err(primary_err);
    }
    run.emit(Event::SentToBackup {
        key: key.into(),
        primary_error: primary_err.to_string(),
    });
    let backup_result = match run.unusable(State::Backup) {
        Some(e) => Err(e),
        None => send_with_retry(run, &entry, &local, State::Backup).await,
    };
    match backup_result {
        Ok(meta) => landed(run, &entry, State::Backup, &meta).await,
        Err(e) => {
            run.note_if_unusable(State::Backup, &e);
            let msg = format!("primary: {primary_err}; backup: {e}");
            run.journal.failed(key, &msg)?;
            run.emit(Event::Failed {
                key: key.into(),
                error: msg,
            });
            Err(e)
        }
    }
}

/// After a damaged journal was rebuilt, or for an object an earlier run claimed and may have
/// landed without the journal committing it (`maybe_sent`), the bucket may hold objects the
/// journal calls pending: one HEAD each, and an object proven to be this file's bytes is not
/// sent again.
async fn already_in_primary(run: &Run, entry: &Entry, local: &Checksums) -> Option<ObjectMeta> {
    if run.journal.recovered_from().is_none() && !entry.maybe_sent {
        return None;
    }
    let store = run.targets.primary.as_ref();
    let head = store.head(&entry.key).await.ok()?;
    let sent = Sent {
        size: entry.size,
        checksums: local,
    };
    match stowage_core::proof::proof_in(&entry.key, sent, &head) {
        Ok(Some(_)) => Some(head),
        _ => None,
    }
}

/// Files up to this size are read into memory once, hashed there and sent from there: the
/// bytes sent are the bytes hashed, and a small segment costs one read and one trip to the
/// blocking pool instead of four (what bounded 4 KiB objects). At the default concurrency
/// that holds at most 16 MiB. Not for a local directory, which copies the file in the kernel.
const READ_WHOLE_MAX: u64 = 1 << 20;

/// What is sent of a local file: its checksums and, for a small file, its bytes.
#[derive(Clone)]
pub(crate) struct Local {
    pub(crate) sums: Checksums,
    bytes: Option<bytes::Bytes>,
}

impl Local {
    fn body(&self) -> Option<PutBody> {
        self.bytes.clone().map(PutBody::Bytes)
    }
}

async fn local_checksums(run: &Run, entry: &Entry) -> Result<Local> {
    let whole = entry.size <= READ_WHOLE_MAX.min(run.opts.upload.multipart_threshold)
        && !run.targets.primary.capabilities().copies_files;
    if let (Some(sums), false) = (&entry.local, whole) {
        return Ok(Local {
            sums: sums.clone(),
            bytes: None,
        });
    }
    // What the primary checks is settled (S3 in auto mode asks once) before choosing; the
    // backup is asked in the background (open_run): until it answers, it is taken to need
    // what its cautious capabilities say.
    run.targets.primary.learn_integrity(&entry.key).await;
    let algos = local_algos(run, entry);
    let (size, sums, bytes) = if whole {
        let (bytes, sums) = read_file_checksummed(&entry.path, &algos)
            .await
            .map_err(|e| e.or_key(&entry.key))?;
        (bytes.len() as u64, sums, Some(bytes))
    } else {
        let (size, sums) = checksum_file(&entry.path, &algos)
            .await
            .map_err(|e| e.or_key(&entry.key))?;
        (size, sums, None)
    };
    if size != entry.size {
        return Err(changed(entry, size));
    }
    if entry.local.as_ref() != Some(&sums) {
        run.journal.set_local_checksums(&entry.key, &sums)?;
    }
    Ok(Local { sums, bytes })
}

async fn landed(run: &Run, entry: &Entry, state: State, meta: &ObjectMeta) -> Result<()> {
    run.journal
        .landed(&entry.key, state, &meta.checksums, meta.etag.as_deref())?;
    run.emit(Event::Landed {
        key: entry.key.clone(),
        size: entry.size,
        location: state,
    });
    if run.opts.delete_after_verify {
        // The landing must be durable before the only other copy goes.
        run.journal.flush()?;
        match tokio::fs::remove_file(&entry.path).await {
            Ok(()) => run.emit(Event::Deleted {
                key: entry.key.clone(),
            }),
            Err(e) => {
                tracing::warn!(path = %entry.path.display(), error = %e, "could not delete after upload")
            }
        }
    }
    Ok(())
}

pub(crate) fn store_for(run: &Run, which: State) -> Option<&dyn ObjectStore> {
    match which {
        State::Backup => run.targets.backup.as_deref(),
        _ => Some(run.targets.primary.as_ref()),
    }
}

/// Sends `entry` to one bucket within the object's retry budget. Each attempt starts from
/// the file as it is now: a file rewritten since it was hashed is hashed again (and the
/// attempt that found it changed is not counted as landed).
pub(crate) async fn send_with_retry(
    run: &Run,
    entry: &Entry,
    local: &Local,
    which: State,
) -> Result<ObjectMeta> {
    let store =
        store_for(run, which).ok_or_else(|| Error::invalid_input("no backup bucket configured"))?;
    run.emit(Event::Sending {
        key: entry.key.clone(),
        size: entry.size,
        bucket: store.name(),
    });
    let first = (entry.clone(), local.clone());
    let first = std::sync::Mutex::new(Some(first));
    let retry = match which {
        State::Primary => &run.primary_retry,
        _ => &run.opts.retry,
    };
    let result = retry
        .run(&entry.key, |attempt| {
            let first = first.lock().ok().and_then(|mut f| f.take());
            async move {
                let r = attempt_once(run, store, entry, first, which).await;
                if let Err(e) = &r {
                    let _ = run.journal.record_attempt(&entry.key, &e.to_string());
                    if e.is_retryable() && attempt < retry.max_attempts {
                        run.emit(Event::Retrying {
                            key: entry.key.clone(),
                            attempt,
                            error: e.to_string(),
                        });
                    }
                }
                r
            }
        })
        .await;
    if result.is_err() && which == State::Primary {
        abandon_upload(run, store, entry).await;
    }
    result
}

/// One attempt, from the checksums given (the first) or from the file as it is now.
async fn attempt_once(
    run: &Run,
    store: &dyn ObjectStore,
    entry: &Entry,
    first: Option<(Entry, Local)>,
    which: State,
) -> Result<ObjectMeta> {
    let (entry, local) = match first {
        Some(given) => given,
        None => current(run, entry).await?,
    };
    send_once(run, store, &entry, &local, which).await
}

/// The entry and checksums of the file as it is now. A file whose size or mtime changed
/// since it was registered is registered again (its old checksums are forgotten) and
/// reported; a source outside the spool (a restore's download) is taken as it is.
async fn current(run: &Run, entry: &Entry) -> Result<(Entry, Local)> {
    let journaled = run.journal.get(&entry.key)?;
    let Some(journaled) = journaled.filter(|j| j.path == entry.path) else {
        let local = local_checksums(run, entry).await?;
        return Ok((entry.clone(), local));
    };
    let stat = tokio::fs::metadata(&entry.path)
        .await
        .map_err(|e| Error::local_io(&entry.path, e).with_key(&entry.key))?;
    let mtime = stowage_core::fsutil::mtime_ns(&stat);
    if stat.len() != journaled.size || mtime != journaled.mtime_ns {
        tracing::warn!(key = %entry.key, path = %entry.path.display(), "the file changed since it was registered; sending its new content");
        run.journal
            .register(&entry.key, &entry.path, stat.len(), mtime)?;
    }
    let fresh = run.journal.get(&entry.key)?.unwrap_or(journaled);
    let local = local_checksums(run, &fresh).await?;
    Ok((fresh, local))
}

/// One attempt: a put, or a multipart upload resumed from the journaled upload id; either
/// way the object counts only once the store proved it holds these bytes.
async fn send_once(
    run: &Run,
    store: &dyn ObjectStore,
    entry: &Entry,
    local: &Local,
    which: State,
) -> Result<ObjectMeta> {
    let opts = PutOptions {
        checksums: Some(local.sums.clone()),
        ..Default::default()
    };
    let multipart =
        entry.size > run.opts.upload.multipart_threshold && store.capabilities().multipart;
    if multipart {
        return send_multipart(run, store, entry, &opts, which).await;
    }
    let body = match local.body() {
        Some(bytes) => bytes,
        None => PutBody::file(&entry.path)
            .await
            .map_err(|e| e.or_key(&entry.key))?,
    };
    if body.len() != entry.size {
        return Err(changed(entry, body.len()));
    }
    let reply = store.put(&entry.key, body, &opts).await?;
    let sent = Sent {
        size: entry.size,
        checksums: &local.sums,
    };
    confirm(store, &entry.key, sent, reply).await
}

fn changed(entry: &Entry, now: u64) -> Error {
    Error::new(
        ErrorKind::LocalFileChanged,
        format!(
            "{} changed size since it was hashed ({} → {now} bytes)",
            entry.path.display(),
            entry.size
        ),
    )
    .with_key(&entry.key)
}

/// The journal's record of a multipart completion sent but not yet known to have landed:
/// what a run after a crash compares the object with, instead of sending every part again.
#[derive(serde::Serialize, serde::Deserialize)]
struct Completing {
    upload_id: String,
    size: u64,
    parts: Vec<CompletingPart>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CompletingPart {
    number: u32,
    etag: String,
    size: u64,
    checksums: Checksums,
}

fn completing_key(key: &str) -> String {
    format!("completing:{key}")
}

fn record_completing(run: &Run, sent: &SentParts) -> Result<()> {
    let record = Completing {
        upload_id: sent.upload.upload_id.clone(),
        size: sent.size,
        parts: sent
            .parts
            .iter()
            .map(|p| CompletingPart {
                number: p.part_number,
                etag: p.etag.clone(),
                size: p.size,
                checksums: p.checksums.clone(),
            })
            .collect(),
    };
    let json = serde_json::to_string(&record).unwrap_or_default();
    run.journal
        .set_meta(&completing_key(&sent.upload.key), &json)
}

fn take_completing(run: &Run, key: &str, opts: &PutOptions) -> Option<SentParts> {
    let json = run.journal.meta(&completing_key(key)).ok().flatten()?;
    let record: Completing = serde_json::from_str(&json).ok()?;
    let parts: Vec<PartInfo> = record
        .parts
        .into_iter()
        .map(|p| PartInfo {
            part_number: p.number,
            etag: p.etag,
            size: p.size,
            checksums: p.checksums,
        })
        .collect();
    let sums = opts.checksums.clone().unwrap_or_default();
    let sent = Sent {
        size: record.size,
        checksums: &sums,
    };
    let proof = parts_proof(key, sent, &parts).ok().flatten();
    Some(SentParts {
        combined: stowage_core::upload::combined_crcs(&parts),
        upload: MultipartUpload {
            key: key.to_string(),
            upload_id: record.upload_id,
            initiated: None,
        },
        parts,
        size: record.size,
        proof,
    })
}

fn clear_completing(run: &Run, key: &str) {
    let _ = run.journal.set_meta(&completing_key(key), "");
}

/// After a crash during CompleteMultipartUpload: the object may be complete already. One
/// HEAD decides; only a proven object counts (then no part is sent again).
async fn completed_before(
    run: &Run,
    store: &dyn ObjectStore,
    entry: &Entry,
    opts: &PutOptions,
) -> Option<ObjectMeta> {
    let sent = take_completing(run, &entry.key, opts)?;
    let head = store.head(&entry.key).await.ok()?;
    let empty = Checksums::default();
    let whole = Sent {
        size: sent.size,
        checksums: opts.checksums.as_ref().unwrap_or(&empty),
    };
    // Only what describes this very object counts here (a whole-object checksum, or the
    // multipart ETag of exactly these parts): an older object of the same size must not.
    match completed_proof(&entry.key, whole, sent.proof.as_ref(), &head) {
        Ok(Some(Proof::Checksum(_) | Proof::MultipartEtag)) => {
            tracing::info!(key = %entry.key, "the interrupted completion had landed; no part sent again");
            Some(head)
        }
        other => {
            tracing::debug!(key = %entry.key, answer = ?other.map_err(|e| e.to_string()), "the interrupted completion did not land");
            None
        }
    }
}

async fn send_multipart(
    run: &Run,
    store: &dyn ObjectStore,
    entry: &Entry,
    opts: &PutOptions,
    which: State,
) -> Result<ObjectMeta> {
    // Only primary uploads are journaled for resume; a backup upload is aborted on failure.
    let journaled = if which == State::Primary {
        run.journal.get(&entry.key)?.and_then(|e| e.upload_id)
    } else {
        None
    };
    if which == State::Primary
        && let Some(meta) = completed_before(run, store, entry, opts).await
    {
        clear_completing(run, &entry.key);
        return Ok(meta);
    }
    let upload = match journaled {
        Some(id) => MultipartUpload {
            key: entry.key.clone(),
            upload_id: id,
            initiated: None,
        },
        None => {
            let u = store.create_multipart(&entry.key, opts).await?;
            if which == State::Primary {
                run.journal.set_upload_id(&entry.key, Some(&u.upload_id))?;
            }
            u
        }
    };
    let result = async {
        let sent = send_parts(
            store,
            &entry.key,
            &entry.path,
            opts,
            &run.opts.upload,
            Some(upload.clone()),
        )
        .await?;
        if which == State::Primary {
            record_completing(run, &sent)?;
        }
        complete_confirmed(store, opts, &sent).await
    }
    .await;
    match &result {
        Ok(_) => clear_completing(run, &entry.key),
        Err(e) if e.kind() == &ErrorKind::UploadNotFound => {
            // Expired, aborted or completed elsewhere, and not proven complete: start afresh
            // on the next attempt.
            run.journal.set_upload_id(&entry.key, None)?;
            clear_completing(run, &entry.key);
            return Err(Error::new(
                ErrorKind::UploadNotFound,
                format!(
                    "multipart upload {} is no longer in the bucket and no complete object matching the file is there; the next attempt starts a new one",
                    upload.upload_id
                ),
            )
            .with_retryable(true)
            .with_key(&entry.key));
        }
        Err(e) if e.kind() == &ErrorKind::LocalFileChanged => {
            // The upload was created for the file's old content (some stores keep its
            // checksums): drop it, and send the new content in a new one.
            let _ = store.abort_multipart(&upload).await;
            if which == State::Primary {
                run.journal.set_upload_id(&entry.key, None)?;
                clear_completing(run, &entry.key);
            }
        }
        Err(_) if which == State::Backup => {
            let _ = store.abort_multipart(&upload).await;
        }
        _ => {}
    }
    result
}

/// The primary gave up on this object: abort its multipart upload so none is left behind.
async fn abandon_upload(run: &Run, store: &dyn ObjectStore, entry: &Entry) {
    if let Ok(Some(Entry {
        upload_id: Some(id),
        ..
    })) = run.journal.get(&entry.key)
    {
        let upload = MultipartUpload {
            key: entry.key.clone(),
            upload_id: id,
            initiated: None,
        };
        if store.abort_multipart(&upload).await.is_ok() {
            let _ = run.journal.set_upload_id(&entry.key, None);
        }
    }
}

/// What publishing a recording's playlists did.
#[derive(Debug, Default)]
pub(crate) struct Publication {
    /// Keys of the playlists published.
    pub published: Vec<String>,
    /// Playlists held back: key and why.
    pub held: Vec<(String, String)>,
}

/// Why a playlist was not published (shown to the operator).
struct Held(String);

impl<E: std::fmt::Display> From<E> for Held {
    fn from(e: E) -> Self {
        Held(e.to_string())
    }
}

/// The name of the bucket a playlist was published to.
struct PublishedTo(String);

/// Publishes each playlist to the bucket that holds every segment it names; holds it
/// otherwise.
pub(crate) async fn publish_playlists(run: &Run, files: &[LocalFile]) -> Publication {
    let mut out = Publication::default();
    for f in files.iter().filter(|f| f.is_playlist()) {
        let key = plan::key_for(&run.opts.prefix, &f.rel);
        match publish_one(run, f, &key).await {
            Ok(PublishedTo(bucket)) => {
                run.emit(Event::PlaylistPublished {
                    key: key.clone(),
                    bucket,
                });
                out.published.push(key);
            }
            Err(Held(reason)) => {
                run.emit(Event::PlaylistHeld {
                    key: key.clone(),
                    reason: reason.clone(),
                });
                out.held.push((key, reason));
            }
        }
    }
    out
}

async fn publish_one(
    run: &Run,
    f: &LocalFile,
    key: &str,
) -> std::result::Result<PublishedTo, Held> {
    let entry = run.journal.get(key)?.ok_or(Held("not journaled".into()))?;
    let text = tokio::fs::read_to_string(&f.path)
        .await
        .map_err(|e| Held(format!("cannot read it: {e}")))?;
    let (segments, outside) = plan::referenced_segments(&f.rel, &text)?;
    let mut states = Vec::new();
    for rel in &segments {
        let seg_key = plan::key_for(&run.opts.prefix, rel);
        let state = run.journal.get(&seg_key).ok().flatten().map(|e| e.state);
        states.push((seg_key, state));
    }
    if let Some(uri) = outside.first() {
        return Err(Held(format!(
            "it names `{}`, which is outside the recording (a `..` path, an absolute path or a URL): refused; name segments relative to the playlist, inside the recording directory{}",
            plan::shorten(uri),
            more(outside.len())
        )));
    }
    if let Some((k, _)) = states.iter().find(|(_, s)| s.is_none()) {
        return Err(Held(format!(
            "it names `{}`, which is not in the recording directory",
            plan::shorten(k)
        )));
    }
    let target = if states.iter().all(|(_, s)| *s == Some(State::Primary)) {
        State::Primary
    } else if run.targets.backup.is_some() && states.iter().all(|(_, s)| *s == Some(State::Backup))
    {
        State::Backup
    } else {
        let missing: Vec<String> = states
            .iter()
            .filter(|(_, s)| *s != Some(State::Primary))
            .map(|(k, _)| plan::shorten(k))
            .collect();
        return Err(Held(format!(
            "segments not yet in one bucket with it: {}{}",
            missing[..missing.len().min(5)].join(", "),
            more(missing.len().saturating_sub(4))
        )));
    };
    if entry.state == target {
        return Ok(published_to(run, target)); // already published
    }
    let local = local_checksums(run, &entry).await?;
    let meta = send_with_retry(run, &entry, &local, target).await?;
    landed(run, &entry, target, &meta).await?;
    Ok(published_to(run, target))
}

fn published_to(run: &Run, target: State) -> PublishedTo {
    PublishedTo(store_for(run, target).map(|s| s.name()).unwrap_or_default())
}

/// ` (and N more)` when a list named only its first entry (or first few).
fn more(count: usize) -> String {
    if count > 1 {
        format!(" (and {} more)", count - 1)
    } else {
        String::new()
    }
}

/// What was published for a playlist when it is not the local file (see
/// [`closed_playlist`]).
#[derive(serde::Serialize, serde::Deserialize)]
struct PublishedAs {
    size: u64,
    checksums: Checksums,
}

fn published_as(run: &Run, key: &str) -> Option<PublishedAs> {
    let json = run
        .journal
        .meta(&format!("published:{key}"))
        .ok()
        .flatten()?;
    serde_json::from_str(&json).ok()
}

/// A playlist closed in the primary after an idle end (its lines plus ENDLIST): landed, and
/// the bytes published remembered for the manifest.
pub(crate) fn closed_playlist(
    run: &Run,
    file: &LocalFile,
    key: &str,
    meta: &ObjectMeta,
    size: u64,
) -> Result<()> {
    let record = PublishedAs {
        size,
        checksums: meta.checksums.clone(),
    };
    let json = serde_json::to_string(&record).unwrap_or_default();
    run.journal.set_meta(&format!("published:{key}"), &json)?;
    // The journal learns of the playlist file here (a live run registers segments only), so
    // that the end of the run does not publish the open file over the closed one.
    run.journal
        .register(key, &file.path, file.size, file.mtime_ns)?;
    run.journal
        .landed(key, State::Primary, &meta.checksums, meta.etag.as_deref())
}

/// Writes and uploads the manifest, and summarises from the journal.
pub(crate) async fn finish(
    run: &Run,
    published: Publication,
    started: Instant,
    ended: Option<crate::Ended>,
) -> Result<Summary> {
    let entries = run.journal.all()?;
    let mut summary = summarize(&entries, published, started);
    summary.ended = ended;
    let manifest = manifest_json(run, &entries, &summary);
    let local = run.dir.join(STATE_DIR).join("manifest.json");
    let body = manifest.to_json();
    stowage_core::fsutil::write_atomic(&local, &body)?;
    let key = plan::key_for(&run.opts.prefix, MANIFEST_NAME);
    let to_primary = summary.in_primary > 0 || run.targets.backup.is_none();
    let (target, which) = match (&run.targets.backup, to_primary) {
        (Some(backup), false) => (backup.clone(), State::Backup),
        _ => (run.targets.primary.clone(), State::Primary),
    };
    if run.unusable(which).is_some() {
        // Already said once: the bucket refuses everything; the manifest stays local.
        return Ok(summary);
    }
    let body = bytes::Bytes::from(body);
    let put = run
        .opts
        .retry
        .run(&key, |_| {
            put_confirmed_bytes(target.as_ref(), &key, body.clone())
        })
        .await;
    match put {
        Ok(_) => summary.manifest = Some(format!("{}/{key}", target.name())),
        Err(e) => tracing::warn!(error = %e, "manifest not uploaded; it is in {}", local.display()),
    }
    Ok(summary)
}

fn summarize(entries: &[Entry], published: Publication, started: Instant) -> Summary {
    let in_backup: Vec<String> = entries
        .iter()
        .filter(|e| e.state == State::Backup)
        .map(|e| e.key.clone())
        .collect();
    let pending: Vec<String> = entries
        .iter()
        .filter(|e| e.state == State::Pending)
        .map(|e| e.key.clone())
        .collect();
    let failed: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e.state == State::Failed)
        .map(|e| (e.key.clone(), e.last_error.clone().unwrap_or_default()))
        .collect();
    let status = if !pending.is_empty() || !failed.is_empty() || !published.held.is_empty() {
        Status::Incomplete
    } else if in_backup.is_empty() {
        Status::Uploaded
    } else {
        Status::Backuped
    };
    Summary {
        status,
        objects: entries.len(),
        bytes: entries
            .iter()
            .filter(|e| e.state.landed())
            .map(|e| e.size)
            .sum(),
        in_primary: entries.iter().filter(|e| e.state == State::Primary).count(),
        in_backup,
        pending,
        failed,
        playlists_published: published.published,
        playlists_held: published.held,
        manifest: None,
        elapsed_secs: started.elapsed().as_secs_f64(),
        ended: None,
    }
}

fn manifest_json(run: &Run, entries: &[Entry], summary: &Summary) -> Manifest {
    let objects = entries
        .iter()
        .map(|e| {
            // A playlist closed after an idle end holds its lines plus ENDLIST, not the
            // local file: the manifest describes what was published.
            let (size, local) = match published_as(run, &e.key) {
                Some(p) => (p.size, Some(p.checksums)),
                None => (e.size, e.local.clone()),
            };
            let checksums = local
                .iter()
                .flat_map(|c| {
                    let named = |a: ChecksumAlgo| c.get(a).map(|v| (a.name().to_string(), v));
                    ChecksumAlgo::ALL.into_iter().filter_map(named)
                })
                .collect();
            ManifestObject {
                key: e.key.clone(),
                size,
                location: text_of(&e.state).unwrap_or_default(),
                checksums,
                etag: e.etag.clone(),
                parts: part_layout(run, e),
            }
        })
        .collect();
    Manifest {
        version: MANIFEST_VERSION,
        ended: summary.ended.as_ref().and_then(text_of),
        primary: run.targets.primary.name(),
        backup: run.targets.backup.as_ref().map(|b| b.name()),
        prefix: run.opts.prefix.clone(),
        status: text_of(&summary.status).unwrap_or_default(),
        written_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        objects,
    }
}

/// A unit enum's serde name (`primary`, `uploaded`, `endlist`).
fn text_of(value: &impl serde::Serialize) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

/// How a landed multipart object was split, the same plan `send_parts` follows: with it a
/// verifier recomputes the ETag the store keeps instead of a whole-object checksum (S3's
/// `…-N`, Kodo's qetag v2).
fn part_layout(run: &Run, e: &Entry) -> Option<PartLayout> {
    let store = match e.state {
        State::Primary => &run.targets.primary,
        State::Backup => run.targets.backup.as_ref()?,
        State::Pending | State::Failed => return None,
    };
    let caps = store.capabilities();
    if e.size <= run.opts.upload.multipart_threshold || !caps.multipart {
        return None;
    }
    let part_size = run.opts.upload.part_size.max(caps.min_part_size);
    let plan = stowage_core::upload::plan_parts(e.size, part_size, caps.max_parts);
    let first = plan.first()?;
    let count = u32::try_from(plan.len()).ok()?;
    Some(PartLayout {
        size: first.2,
        count,
    })
}

/// Moves every object the journal has in the backup bucket to the primary (from the local
/// file when it is still there, else from the backup), deletes it from the backup once the
/// primary confirmed it, then publishes held playlists and rewrites the manifest.
pub async fn restore(dir: &Path, targets: &Targets, opts: &Options) -> Result<Summary> {
    let started = Instant::now();
    let run = open_run(dir, targets, opts)?;
    let backup = targets
        .backup
        .clone()
        .ok_or_else(|| Error::invalid_input("restore needs the backup bucket (--backup)"))?;
    // Media first: a playlist follows only once every segment it names is confirmed in the
    // primary (publish_playlists), the rule every path that writes a playlist keeps.
    for entry in backed_up_media(&run)? {
        if let Err(e) = restore_one(&run, backup.as_ref(), &entry).await {
            tracing::warn!(key = %entry.key, error = %e, "still only in the backup");
        }
    }
    let files = plan::scan(dir)?;
    let published = publish_playlists(&run, &files).await;
    remove_moved_playlists(&run, backup.as_ref(), &published.published).await;
    let summary = finish(&run, published, started, None).await?;
    rewrite_backup_manifest(&run, backup.as_ref()).await;
    Ok(summary)
}

/// Objects the journal has only in the backup, playlists excluded (they are published, not
/// copied, so that none reaches the primary before its segments).
fn backed_up_media(run: &Run) -> Result<Vec<Entry>> {
    Ok(run
        .journal
        .all()?
        .into_iter()
        .filter(|e| e.state == State::Backup && !is_playlist_key(&e.key))
        .collect())
}

fn is_playlist_key(key: &str) -> bool {
    key.to_ascii_lowercase().ends_with(".m3u8")
}

/// Playlists now in the primary leave the backup.
async fn remove_moved_playlists(run: &Run, backup: &dyn ObjectStore, published: &[String]) {
    for key in published {
        let in_primary = matches!(run.journal.get(key), Ok(Some(e)) if e.state == State::Primary);
        if in_primary && let Err(e) = backup.delete(key).await {
            tracing::warn!(%key, error = %e, "playlist restored, but its backup copy was not deleted");
        }
    }
}

/// The backup's manifest (written when the run ended there) is replaced by the current
/// one, so it no longer lists as "backup" what moved to the primary.
async fn rewrite_backup_manifest(run: &Run, backup: &dyn ObjectStore) {
    let key = plan::key_for(&run.opts.prefix, MANIFEST_NAME);
    if backup.head(&key).await.is_err() {
        return;
    }
    let local = run.dir.join(STATE_DIR).join("manifest.json");
    let Ok(body) = tokio::fs::read(&local).await else {
        return;
    };
    if let Err(e) = put_confirmed_bytes(backup, &key, body.into()).await {
        tracing::warn!(%key, error = %e, "the backup's manifest was not rewritten");
    }
}

/// Puts a small object from memory (a manifest, a playlist written here) and confirms it.
pub(crate) async fn put_confirmed_bytes(
    store: &dyn ObjectStore,
    key: &str,
    body: bytes::Bytes,
) -> Result<ObjectMeta> {
    let algos = stowage_core::upload::proof_algos(store, false);
    let sums = stowage_core::checksum::checksum_bytes(&body, &algos);
    let opts = PutOptions {
        checksums: Some(sums.clone()),
        ..Default::default()
    };
    let size = body.len() as u64;
    let reply = store.put(key, PutBody::Bytes(body), &opts).await?;
    let sent = Sent {
        size,
        checksums: &sums,
    };
    confirm(store, key, sent, reply).await
}

/// One pass moving what went to the backup into the primary, for a recording still in
/// progress: the first object is tried once; if the primary still fails, the pass stops
/// there (the next pass tries again). Returns the keys moved.
pub(crate) async fn restore_pass(run: &Run) -> Vec<String> {
    let Some(backup) = run.targets.backup.clone() else {
        return Vec::new();
    };
    let Ok(entries) = run.journal.all() else {
        return Vec::new();
    };
    let mut moved = Vec::new();
    let media = entries
        .iter()
        .filter(|e| e.state == State::Backup && !is_playlist_key(&e.key));
    for entry in media {
        match restore_one(run, backup.as_ref(), entry).await {
            Ok(()) => moved.push(entry.key.clone()),
            Err(e) => {
                tracing::debug!(key = %entry.key, error = %e, "primary still failing; restore later");
                break;
            }
        }
    }
    moved
}

async fn restore_one(run: &Run, backup: &dyn ObjectStore, entry: &Entry) -> Result<()> {
    let local_ok = tokio::fs::metadata(&entry.path)
        .await
        .is_ok_and(|m| m.len() == entry.size);
    let tmp;
    let source = if local_ok {
        entry.clone()
    } else {
        tmp = tempdir_in(&run.dir)?;
        let path = tmp.join("object");
        backup
            .get(&entry.key, None)
            .await?
            .write_to_file(&path)
            .await?;
        Entry {
            path,
            ..entry.clone()
        }
    };
    let local = local_checksums(run, &source).await?;
    let meta = send_with_retry(run, &source, &local, State::Primary).await?;
    run.journal.landed(
        &entry.key,
        State::Primary,
        &meta.checksums,
        meta.etag.as_deref(),
    )?;
    run.emit(Event::Landed {
        key: entry.key.clone(),
        size: entry.size,
        location: State::Primary,
    });
    // Durable before the backup's copy goes.
    run.journal.flush()?;
    backup.delete(&entry.key).await?;
    if !local_ok {
        let _ = std::fs::remove_dir_all(run.dir.join(STATE_DIR).join("restore"));
    }
    Ok(())
}

fn tempdir_in(dir: &Path) -> Result<std::path::PathBuf> {
    let d = dir.join(STATE_DIR).join("restore");
    std::fs::create_dir_all(&d).map_err(|e| Error::local_io(&d, e))?;
    Ok(d)
}
