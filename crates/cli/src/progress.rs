//! What `stowage upload` shows while it works: a progress bar on a terminal (objects, bytes,
//! rate, ETA, retries), plain lines otherwise, JSON lines with `--json`.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use stowage::pipeline::Event;
use stowage::text::Progress;

/// Turns pipeline events into output.
pub struct Reporter {
    json: bool,
    bar: Option<ProgressBar>,
    progress: Progress,
    lock: Mutex<()>,
}

impl Reporter {
    /// A bar only when stderr is a terminal and output is not JSON.
    pub fn new(json: bool) -> Self {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            let style = ProgressStyle::with_template(
                "{bar:30.cyan/blue} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Reporter {
            json,
            bar,
            progress: Progress::default(),
            lock: Mutex::new(()),
        }
    }

    pub fn event(&self, e: &Event) {
        if self.json {
            if let Ok(line) = serde_json::to_string(e) {
                let _guard = self.lock.lock();
                println!("{line}");
            }
            return;
        }
        self.update_bar(e);
        if let Some(line) = stowage::text::event_line(e) {
            match &self.bar {
                Some(bar) if !matches!(e, Event::Landed { .. }) => bar.println(line),
                Some(_) => {} // the bar shows landings
                None => println!("{line}"),
            }
        }
    }

    fn update_bar(&self, e: &Event) {
        let Some(bar) = &self.bar else { return };
        self.progress.count(e);
        match e {
            Event::Planned { bytes, .. } => bar.set_length(*bytes),
            Event::Landed { size, .. } => bar.inc(*size),
            _ => {}
        }
        bar.set_message(self.progress.text());
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
