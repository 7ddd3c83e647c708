#![no_main]
//! Lab files: load, save and reload, translate, map through the document, compare formats.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pagelab::fuzzing::lab_file(data));
