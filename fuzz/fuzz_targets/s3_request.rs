//! The S3 gateway's parsers of client bytes: aws-chunked bodies (signed and
//! unsigned), DeleteObjects and CompleteMultipartUpload XML, bucket/key
//! resolution, `Range`, query strings.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mayfly_s3::fuzz_one(data);
});
