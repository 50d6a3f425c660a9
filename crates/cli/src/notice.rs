//! The Agora FAQ's cross-region warning (once per bucket region) and notes on --internal /
//! --accelerate the endpoint choice does not follow, printed when `upload`, `restore` or
//! `cp` starts: a plain line on stderr, or with `--json` a JSON event line (the shape
//! `upload --json` uses: `{"event": "cross_region", …}`), also on stderr so that stdout
//! keeps each command's own output. It never stops the upload. The words are the library's
//! (`stowage::placement`), with the flags named here.

use stowage::{Placement, StorageUrl};

use crate::flags::FLAG_WORDS;
use crate::open::{StoreArgs, eprint_once};

/// Prints what an operator must know about the endpoint of `url`'s bucket, each place at
/// most once per run: the cross-region warning, and each of --internal / --accelerate the
/// choice does not follow; with `json`, as JSON event lines.
pub fn opened(json: bool, url: &StorageUrl, placement: Option<&Placement>, args: &StoreArgs) {
    let Some(p) = placement else { return };
    let settings = stowage::Settings {
        internal: args.internal,
        accelerate: args.accelerate,
        ..Default::default()
    };
    let bucket = format!("{}://{}", url.scheme.as_str(), url.bucket);
    for note in p.unmet(&settings) {
        let flag = FLAG_WORDS.switch(note.switch);
        let line = match json {
            true => note.event(&bucket, &FLAG_WORDS).to_string(),
            false => format!(
                "note: {flag} not followed for {bucket}: {}",
                note.text(&FLAG_WORDS)
            ),
        };
        eprint_once(format!("{bucket}|{flag}"), &line);
    }
    let warning = match json {
        true => p.cross_region_event(&bucket).map(|e| e.to_string()),
        false => p.cross_region().map(|a| format!("warning: {}", a.text())),
    };
    if let Some(line) = warning {
        // Once per place: a primary and a backup in the same region share the advice.
        eprint_once(format!("{}:{}", p.vendor, p.region.id), &line);
    }
}
