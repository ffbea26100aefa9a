//! NuGet version strings (`NuGetVersion::parse`): round trips through the normalized and full forms.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nuget_feed_server::fuzzing::version(data));
