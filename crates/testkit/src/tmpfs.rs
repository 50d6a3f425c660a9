//! A real small filesystem for disk-full tests: a tmpfs of a fixed size mounted on a
//! temporary directory. Mounting needs root (as on this project's machines and CI);
//! elsewhere [`Tmpfs::mount`] says why and gives `None`.

use std::path::Path;
use std::process::Command;

/// A tmpfs of a fixed size mounted on a temporary directory, unmounted when dropped (also
/// when the test panics).
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (with the reason printed) when this process may not mount; as root, a failure
    /// to mount fails the test instead of skipping it.
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        let why = match out {
            Ok(o) if o.status.success() => return Some(Tmpfs { dir }),
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
            Err(e) => format!("cannot run mount: {e}"),
        };
        assert!(
            !is_root(),
            "running as root, yet mounting a tmpfs failed: {why}"
        );
        eprintln!("skipped: mounting a {size} tmpfs needs root ({why})");
        None
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let umount = |lazy: bool| {
            let mut cmd = Command::new("umount");
            if lazy {
                cmd.arg("-l");
            }
            cmd.arg(self.dir.path()).status().is_ok_and(|s| s.success())
        };
        // A store still holding its lock file open keeps the mount busy: detach it then.
        if !umount(false) && !umount(true) {
            eprintln!("could not unmount {}", self.dir.path().display());
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
            .unwrap_or(false)
    })
}
