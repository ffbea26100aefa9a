//! Version range strings (`VersionRange::parse`): round trips through the normalized and short forms.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nuget_feed_server::fuzzing::range(data));
