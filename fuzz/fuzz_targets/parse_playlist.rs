//! No input may panic the playlist parser, the validator or the writer, and whatever the
//! parser accepts must survive write → parse unchanged in its segments.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = stowage_hls::validate(text);
    if let Ok(p) = stowage_hls::parse(text) {
        let written = stowage_hls::write(&p);
        let again = stowage_hls::parse(&written).expect("what stowage writes must parse");
        assert_eq!(again.segments.len(), p.segments.len());
        assert_eq!(stowage_hls::write(&again), written, "writing must be idempotent");
    }
});
