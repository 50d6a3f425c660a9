//! The testkit's own servers seen from outside, one test binary: the OSS and COS emulators'
//! raw error answers, and `stowage-testkit serve` as another program runs it.

mod cos_emulator;
mod oss_emulator;
mod serve_kodo;
