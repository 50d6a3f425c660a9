//! Playlists in files: check each against RFC 8216, or merge the playlists of one recording
//! (backup copies, failovers, restarts) into one VOD playlist, written atomically. What
//! `stowage playlist validate | merge` runs; a backend keeping playlists on disk calls the same.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use stowage_hls::validate::is_valid;
use stowage_hls::{Input, MergeReport, Overlap, ParseError, Violation};

/// Why playlist files could not be read, merged or written.
#[derive(Debug, thiserror::Error)]
pub enum PlaylistFileError {
    /// A file could not be read.
    #[error("cannot read playlist {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is not UTF-8; `detail` gives the line and byte offset.
    #[error("{}: {detail}", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Where the text stops being UTF-8.
        detail: String,
    },
    /// A file is not a playlist the merge can read.
    #[error("{} cannot be merged", path.display())]
    Unparsable {
        /// The file.
        path: PathBuf,
        /// Where parsing stopped.
        #[source]
        source: ParseError,
    },
    /// The merged playlist would overwrite one of its inputs.
    #[error("the output {} is one of the inputs; write the merged playlist elsewhere", path.display())]
    OutputIsInput {
        /// The output named.
        path: PathBuf,
    },
    /// The merged playlist could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file written (the output, or its temporary sibling).
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One file checked: its violations, or where it stopped parsing.
#[derive(Debug, Clone)]
pub struct FileCheck {
    /// The file checked.
    pub file: PathBuf,
    /// Its violations (empty when valid), or the parse error.
    pub result: Result<Vec<Violation>, ParseError>,
}

impl FileCheck {
    /// No MUST of RFC 8216 is broken (warnings allowed).
    pub fn valid(&self) -> bool {
        self.result.as_ref().is_ok_and(|v| is_valid(v))
    }

    /// `{"file", "valid", "violations"}`, or `{"file", "valid": false, "parse_error"}`.
    pub fn json(&self) -> Value {
        match &self.result {
            Ok(violations) => {
                json!({"file": self.file, "valid": self.valid(), "violations": violations})
            }
            Err(e) => {
                json!({"file": self.file, "valid": false, "parse_error": {"line": e.line, "message": e.to_string()}})
            }
        }
    }

    /// One line per violation (`file:line: level [rule] message`), or `file: valid`.
    pub fn lines(&self) -> Vec<String> {
        let file = self.file.display();
        let violations = match &self.result {
            Ok(v) if v.is_empty() => return vec![format!("{file}: valid")],
            Ok(v) => v,
            Err(e) => return vec![format!("{file}:{}: error [parse] {e}", e.line)],
        };
        let line = |v: &Violation| {
            let at = v.line.map(|l| format!("{l}:")).unwrap_or_default();
            let level = format!("{:?}", v.level).to_lowercase();
            format!("{file}:{at} {level} [{}] {}", v.rule, v.message)
        };
        violations.iter().map(line).collect()
    }
}

/// Checks one playlist file against RFC 8216.
pub fn validate_file(path: &Path) -> Result<FileCheck, PlaylistFileError> {
    Ok(FileCheck {
        file: path.to_path_buf(),
        result: stowage_hls::validate_bytes(&read_bytes(path)?),
    })
}

/// A merge written to its output.
#[derive(Debug, Clone)]
pub struct MergedFile {
    /// Where the merged playlist was written.
    pub output: PathBuf,
    /// Which inputs were used and what was dropped or trimmed.
    pub report: MergeReport,
}

impl MergedFile {
    /// `{"output", "report"}`.
    pub fn json(&self) -> Value {
        json!({"output": self.output, "report": self.report})
    }

    /// One line per input (used or skipped, and why), then what was written.
    pub fn lines(&self) -> Vec<String> {
        let r = &self.report;
        let mut out: Vec<String> = r
            .inputs
            .iter()
            .map(|i| {
                let used = if i.used { "used   " } else { "skipped" };
                format!("{used} {}: {}", i.name, i.reason)
            })
            .collect();
        out.push(format!(
            "wrote {}: {} segments, {:.3} s, {} junction(s), {} duplicate(s) dropped, {} overlapping segment(s) trimmed",
            self.output.display(),
            r.segments,
            r.duration_secs,
            r.junctions,
            r.duplicates_dropped.len(),
            r.overlap_trimmed.len()
        ));
        out
    }
}

/// Merges the playlists in `files` into one VOD playlist at `output` (never one of them).
pub fn merge_files(
    files: &[PathBuf],
    output: &Path,
    overlap: Overlap,
) -> Result<MergedFile, PlaylistFileError> {
    let inputs = files
        .iter()
        .map(|f| read_input(f))
        .collect::<Result<Vec<_>, _>>()?;
    if files.iter().any(|f| f == output) {
        let path = output.to_path_buf();
        return Err(PlaylistFileError::OutputIsInput { path });
    }
    let merged = stowage_hls::merge(inputs, overlap);
    write_atomically(output, &stowage_hls::write(&merged.playlist))?;
    Ok(MergedFile {
        output: output.to_path_buf(),
        report: merged.report,
    })
}

fn read_input(path: &Path) -> Result<Input, PlaylistFileError> {
    let text = read_text(path)?;
    let playlist = stowage_hls::parse(&text).map_err(|source| PlaylistFileError::Unparsable {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    Ok(Input {
        name: name.unwrap_or_default(),
        size: text.len() as u64,
        playlist,
    })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, PlaylistFileError> {
    std::fs::read(path).map_err(|source| PlaylistFileError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A playlist's text; one that is not UTF-8 is refused with the line and byte offset.
fn read_text(path: &Path) -> Result<String, PlaylistFileError> {
    match stowage_hls::decode(&read_bytes(path)?) {
        (text, None) => Ok(text.into_owned()),
        (_, Some(bad)) => Err(PlaylistFileError::NotUtf8 {
            path: path.to_path_buf(),
            detail: bad.to_string(),
        }),
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), PlaylistFileError> {
    let tmp = stowage_core::fsutil::temp_sibling(path);
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PlaylistFileError::Write { path, source }
    };
    std::fs::write(&tmp, text).map_err(failed(&tmp))?;
    std::fs::rename(&tmp, path).map_err(failed(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOD: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.000,\na.ts\n#EXT-X-ENDLIST\n";

    #[test]
    fn a_merge_never_overwrites_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("a.m3u8");
        std::fs::write(&input, VOD).unwrap();
        let err = merge_files(std::slice::from_ref(&input), &input, Overlap::Trim).unwrap_err();
        assert!(
            matches!(err, PlaylistFileError::OutputIsInput { .. }),
            "{err}"
        );
        let out = dir.path().join("merged.m3u8");
        let merged = merge_files(&[input], &out, Overlap::Trim).unwrap();
        assert!(std::fs::read_to_string(&out).unwrap().contains("a.ts"));
        assert!(
            merged
                .lines()
                .last()
                .unwrap()
                .contains(": 1 segments, 2.000 s")
        );
    }

    #[test]
    fn a_file_that_is_not_a_playlist_is_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.m3u8");
        std::fs::write(&file, "not a playlist\n").unwrap();
        let check = validate_file(&file).unwrap();
        assert!(!check.valid());
        assert_eq!(check.json()["valid"], false);
        assert!(
            check.lines()[0].contains("error [parse]"),
            "{:?}",
            check.lines()
        );
    }
}
