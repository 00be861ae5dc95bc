//! MD5 throughput on this machine, in one process, interleaved so that
//! other load hits every implementation alike:
//!
//!     cargo run --release -p mayfly-md5 --example speed [ROUNDS] [MIB]
//!
//! Prints MB/s (10^6 bytes a second) per round for `md-5` 0.11, this
//! crate's plain-Rust code and the code `Md5::new` picks on this CPU.

use std::time::Instant;

use mayfly_md5::Md5;
use md5::Digest as _;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(256);
    let data: Vec<u8> = (0..mib << 20).map(|i| (i ^ (i >> 11)) as u8).collect();
    let accelerated = Md5::new().is_accelerated();
    println!(
        "{mib} MiB per hash; Md5::new uses {}",
        if accelerated {
            "AVX-512VL"
        } else {
            "plain Rust"
        }
    );
    println!("round  md-5 0.11  portable  Md5::new   (MB/s)");
    let rate = |seconds: f64| data.len() as f64 / seconds / 1e6;
    let mut table: [Vec<f64>; 3] = Default::default();
    for round in 1..=rounds {
        let start = Instant::now();
        let reference: [u8; 16] = md5::Md5::digest(&data).into();
        let theirs = rate(start.elapsed().as_secs_f64());

        let start = Instant::now();
        let mut md5 = Md5::portable();
        md5.update(&data);
        let portable_digest = md5.finalize();
        let portable = rate(start.elapsed().as_secs_f64());

        let start = Instant::now();
        let fastest_digest = Md5::digest(&data);
        let fastest = rate(start.elapsed().as_secs_f64());

        if portable_digest != reference || fastest_digest != reference {
            eprintln!("digests differ");
            std::process::exit(1);
        }
        println!("{round:>5}  {theirs:>9.0}  {portable:>8.0}  {fastest:>8.0}");
        for (column, value) in table.iter_mut().zip([theirs, portable, fastest]) {
            column.push(value);
        }
    }
    let median = |column: &mut Vec<f64>| {
        column.sort_by(f64::total_cmp);
        column.get(column.len() / 2).copied().unwrap_or(0.0)
    };
    let [a, b, c] = &mut table;
    println!(
        "median {:>9.0}  {:>8.0}  {:>8.0}",
        median(a),
        median(b),
        median(c)
    );
}
