#![no_main]
//! Traces (lackey or plain) replayed with demand mapping on each preset format.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pagelab::fuzzing::trace_replay(data));
