//! A real full filesystem under the bucket: a 5 MiB tmpfs, filled by puts of every body
//! kind (bytes, a file, a stream; with and without the caller's checksums) and by a
//! multipart upload until ENOSPC. Whatever failed must be named as a full disk and leave
//! nothing at its key and nothing in `.stowage/tmp`; after space is freed, a reopened store
//! sweeps what dead writers left and puts succeed again.
//!
//! Mounting needs root (as on this project's machines and CI); elsewhere the test says why
//! and returns.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use stowage_core::checksum::checksum_bytes;
use stowage_core::{ChecksumAlgo, Error, ErrorKind, ObjectStore, PutOptions};
use stowage_fs::FsStore;
use stowage_testkit::conformance::pseudo_random;
use stowage_testkit::tmpfs::Tmpfs;

use crate::util::{Kind, assert_absent, body, check_bucket, temp_leftovers};

/// The error a full bucket must give: `DiskFull`, naming the filesystem and saying it is
/// full, with a local fix rather than a vendor's.
fn assert_disk_full(e: &Error, mount: &Path, key: &str) {
    assert_eq!(e.kind(), &ErrorKind::DiskFull, "{key}: {e}");
    let s = e.to_string();
    assert!(s.contains("filesystem is full"), "{s}");
    assert!(s.contains(&mount.display().to_string()), "{s}");
    assert!(!s.contains("vendor code"), "{s}");
    assert_eq!(e.key(), Some(key), "{s}");
}

struct Filler<'a> {
    store: &'a FsStore,
    mount: &'a Path,
    scratch: &'a Path,
    landed: BTreeMap<String, Vec<u8>>,
    failed: BTreeSet<String>,
    failures: BTreeMap<Kind, usize>,
    n: u64,
}

impl Filler<'_> {
    /// One put of `size` bytes as `kind`; every other one passes the checksums (as the
    /// pipeline does). Returns whether it landed.
    async fn put(&mut self, kind: Kind, size: usize) -> bool {
        self.n += 1;
        let n = self.n;
        let data = pseudo_random(size, n);
        // A directory per object, so a failed put that left its directories would show.
        let key = format!("rec/{}/{n:03}/seg.ts", kind.name());
        let (body, _) = body(kind, &data, self.scratch, &format!("src-{n}"));
        let opts = PutOptions {
            checksums: n
                .is_multiple_of(2)
                .then(|| checksum_bytes(&data, &ChecksumAlgo::ALL)),
            ..Default::default()
        };
        match self.store.put(&key, body, &opts).await {
            Ok(meta) => {
                assert_eq!(meta.size, size as u64, "{key}");
                self.landed.insert(key, data);
                true
            }
            Err(e) => {
                assert_disk_full(&e, self.mount, &key);
                self.failed.insert(key);
                *self.failures.entry(kind).or_default() += 1;
                false
            }
        }
    }
}

/// Every file directly inside the bucket's key tree that is a directory with nothing in it.
fn empty_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut empty = true;
        for entry in std::fs::read_dir(&d).unwrap() {
            empty = false;
            let p = entry.unwrap().path();
            if p.is_dir() && !p.ends_with(".stowage") {
                stack.push(p);
            }
        }
        if empty && d != root {
            out.push(d);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_leaves_no_damage_and_recovers() {
    let Some(tmpfs) = Tmpfs::mount("5m") else {
        return;
    };
    let mount = tmpfs.path().to_path_buf();
    let scratch = tempfile::tempdir().expect("tempdir"); // sources, on another filesystem
    let root = mount.join("bucket");
    let store = FsStore::create(&root)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // A multipart upload begun while there is room: two 512 KiB parts.
    let mp_key = "rec/multipart.ts";
    let mp_opts = PutOptions::default();
    let upload = store.create_multipart(mp_key, &mp_opts).await.unwrap();
    let parts_data = [pseudo_random(512 << 10, 901), pseudo_random(512 << 10, 902)];
    let mut parts = Vec::new();
    for (i, data) in parts_data.iter().enumerate() {
        let (b, _) = body(Kind::Bytes, data, scratch.path(), "part");
        parts.push(store.upload_part(&upload, i as u32 + 1, b).await.unwrap());
    }

    // Fill the disk. Sizes cross tokio's 2 MiB write buffer and leave odd tails, so the
    // failing write is sometimes the first, sometimes a later one.
    let mut filler = Filler {
        store: &store,
        mount: &mount,
        scratch: scratch.path(),
        landed: BTreeMap::new(),
        failed: BTreeSet::new(),
        failures: BTreeMap::new(),
        n: 0,
    };
    let sizes = [700 << 10, (5 << 19) + 123, (300 << 10) + 7, (1 << 20) + 1];
    for i in 0..80 {
        filler.put(Kind::ALL[i % 3], sizes[i % 4]).await;
        if Kind::ALL.iter().all(|k| filler.failures.get(k) >= Some(&3)) {
            break;
        }
    }
    // Top up with small puts until even they fail: the disk is now really full.
    for i in 0..400 {
        if !filler.put(Kind::ALL[i % 3], 16 << 10).await {
            break;
        }
    }
    for kind in Kind::ALL {
        assert!(
            filler.failures.get(&kind) >= Some(&1),
            "no {} put failed: the disk never filled ({:?})",
            kind.name(),
            filler.failures
        );
    }
    assert!(
        !filler.landed.is_empty(),
        "nothing landed before the disk filled"
    );
    eprintln!(
        "{} puts landed, failures by body kind: {:?}",
        filler.landed.len(),
        filler.failures
    );

    // The multipart upload on a full disk: a third part, and the completion, fail as such.
    let (b, _) = body(
        Kind::Bytes,
        &pseudo_random(1 << 20, 903),
        scratch.path(),
        "p3",
    );
    let e = store
        .upload_part(&upload, 3, b)
        .await
        .expect_err("a 1 MiB part fitted on a full disk");
    assert_disk_full(&e, &mount, mp_key);
    let e = store
        .complete_multipart(&upload, &parts)
        .await
        .expect_err("a 1 MiB completion fitted on a full disk");
    assert_disk_full(&e, &mount, mp_key);
    assert_absent(&store, mp_key).await;
    let held = store.list_parts(&upload).await.unwrap();
    assert_eq!(
        held.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        [1, 2],
        "the parts held before the disk filled must stay, and the failed one must not show"
    );

    // No damage: every key holds exactly what was put, with its sidecar, or is absent.
    check_bucket(&store, &filler.landed).await;
    for key in &filler.failed {
        assert_absent(&store, key).await;
    }
    assert_eq!(empty_dirs(&root), Vec::<PathBuf>::new());

    // Free space: delete two objects in three (the completion needs room for a copy of
    // its parts).
    let mut landed = filler.landed.clone();
    let doomed: Vec<String> = (landed.keys().enumerate())
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, k)| k.clone())
        .collect();
    for key in &doomed {
        store.delete(key).await.unwrap();
        landed.remove(key);
    }
    drop(store);

    // What writers that died left behind: a dead store's scratch directory (its lock file
    // unlocked), an old version's loose temp file from two hours ago, and, to be kept, a
    // loose temp file written just now and a live store's directory (its lock held here).
    let tmp = root.join(".stowage/tmp");
    std::fs::create_dir_all(tmp.join("dead-1")).unwrap();
    std::fs::write(tmp.join("dead-1.lock"), b"").unwrap();
    std::fs::write(tmp.join("dead-1/partial"), vec![7u8; 100 << 10]).unwrap();
    let old_loose = tmp.join("0b6e3c1a-legacy-old");
    std::fs::write(&old_loose, vec![1u8; 50 << 10]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&old_loose)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))
        .unwrap();
    let fresh_loose = tmp.join("0b6e3c1a-legacy-fresh");
    std::fs::write(&fresh_loose, b"being written by an old version").unwrap();
    std::fs::create_dir_all(tmp.join("live-1")).unwrap();
    let live_lock = std::fs::File::create(tmp.join("live-1.lock")).unwrap();
    live_lock.lock().unwrap();
    std::fs::write(tmp.join("live-1/in-flight"), b"part of an upload").unwrap();

    // Reopened, the store sweeps on its first write, and puts of every kind succeed.
    let store = FsStore::open(&root).await.unwrap();
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let key = format!("after/{}.ts", kind.name());
        let data = pseudo_random((100 << 10) + i, 700 + i as u64);
        let (b, _) = body(kind, &data, scratch.path(), &format!("after-{i}"));
        let opts = PutOptions {
            checksums: Some(checksum_bytes(&data, &ChecksumAlgo::ALL)),
            ..Default::default()
        };
        store
            .put(&key, b, &opts)
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        landed.insert(key, data);
    }
    assert!(
        !tmp.join("dead-1").exists(),
        "a dead store's directory was kept"
    );
    assert!(
        !tmp.join("dead-1.lock").exists(),
        "a dead store's lock was kept"
    );
    assert!(!old_loose.exists(), "a two-hour-old temp file was kept");
    assert!(fresh_loose.exists(), "a temp file being written was swept");
    assert!(
        tmp.join("live-1/in-flight").exists(),
        "a live store's temp file was swept"
    );
    // The multipart upload completes now, from the parts held all along.
    let held = store.list_parts(&upload).await.unwrap();
    let meta = store
        .complete_multipart(&upload, &held)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let whole = parts_data.concat();
    assert_eq!(meta.size, whole.len() as u64);
    landed.insert(mp_key.to_string(), whole);

    // Leave only what is ours to check: the planted survivors go.
    drop(live_lock);
    std::fs::remove_dir_all(tmp.join("live-1")).unwrap();
    std::fs::remove_file(tmp.join("live-1.lock")).unwrap();
    std::fs::remove_file(&fresh_loose).unwrap();
    check_bucket(&store, &landed).await;
    drop(store);
    let left: Vec<_> = crate::util::files_under(&tmp);
    assert!(
        left.is_empty(),
        "a dropped store left its scratch files: {left:?}"
    );
    assert!(temp_leftovers(&root).is_empty());
}
