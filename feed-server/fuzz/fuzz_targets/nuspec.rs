//! `.nuspec` manifests (`nuspec::parse`): no DTDs or entities, size limit, valid ids and versions.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nuget_feed_server::fuzzing::nuspec(data));
