//! How fast one core computes an upload's digests, the bound on PutObject
//! throughput (the ETag is the MD5 of the whole object: one serial pass).
//!
//!     cargo run --release -p mayfly-s3 --example upload_hash_rate
//!
//! Hashes 1 GiB in 512 KiB buffers, as the gateway's hasher thread does,
//! with MD5 alone (a presigned or `UNSIGNED-PAYLOAD` upload) and with
//! SHA-256 as well (a signed payload hash); best of three.

use mayfly_s3::checksum::BodyDigests;

fn main() {
    let buffer: Vec<u8> = (0..512 * 1024u32).map(|i| (i % 251) as u8).collect();
    let total = 1024.0 * 1024.0 * 1024.0;
    for (label, sha256) in [("MD5", false), ("MD5 + SHA-256", true)] {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let mut digests = BodyDigests::new(sha256, None);
            for _ in 0..2048 {
                digests.update(&buffer);
            }
            let done = digests.finish();
            std::hint::black_box(done);
            best = best.min(started.elapsed().as_secs_f64());
        }
        println!("{label}: {:.0} MB/s on one core", total / best / 1e6);
    }
}
