//! The local-directory store: the conformance suite, then what is the local store's own.
//! Modules: a real full filesystem under the bucket (`disk_full`), and writes that must
//! not land (`integrity`: checksums given by the caller that disagree with the bytes, a
//! sidecar or object that cannot be put in place).

#[path = "fs/disk_full.rs"]
mod disk_full;
#[path = "fs/integrity.rs"]
mod integrity;
#[path = "fs/util.rs"]
mod util;

use std::sync::Arc;

use stowage_fs::FsStore;
use stowage_testkit::conformance::Harness;

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsStore::create(dir.path().join("bucket"))
        .await
        .expect("create store");
    // Opening a directory that does not exist is the local "missing bucket".
    let missing = MissingDir(dir.path().join("no-such-bucket"));
    let mut h = Harness::new(Arc::new(store), Arc::new(missing.open_lazily()));
    h.scratch = dir;
    h
}

/// An `FsStore` whose root was removed after opening: every call must say the bucket is gone.
struct MissingDir(std::path::PathBuf);

impl MissingDir {
    fn open_lazily(self) -> FsStore {
        std::fs::create_dir_all(&self.0).expect("mkdir");
        let store = futures::executor::block_on(FsStore::open(&self.0)).expect("open");
        std::fs::remove_dir_all(&self.0).expect("rmdir");
        store
    }
}

stowage_testkit::conformance_suite!(harness);
