//! MD5 throughput on this machine, in one process, interleaved so that
//! other load hits every implementation alike:
//!
//!     cargo run --release -p mayfly-md5 --example speed [ROUNDS] [MIB]
//!
//! Prints MB/s (10^6 bytes a second) per round for `md-5` 0.11, this
//! crate's plain-Rust code, its AVX-512VL code (where the CPU runs it) and
//! the code `Md5::new` picks on this CPU (the faster of the two).

use std::time::Instant;

use mayfly_md5::Md5;
use md5::Digest as _;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(256);
    let data: Vec<u8> = (0..mib << 20).map(|i| (i ^ (i >> 11)) as u8).collect();
    let chosen = if Md5::new().is_accelerated() {
        "AVX-512VL"
    } else {
        "plain Rust"
    };
    println!("{mib} MiB per hash; Md5::new uses {chosen}");
    println!("round  md-5 0.11  portable  AVX-512VL  Md5::new   (MB/s)");
    let rate = |seconds: f64| data.len() as f64 / seconds / 1e6;
    let reference: [u8; 16] = md5::Md5::digest(&data).into();
    let time = |md5: Option<Md5>| {
        let mut md5 = md5?;
        let start = Instant::now();
        md5.update(&data);
        let digest = md5.finalize();
        let seconds = start.elapsed().as_secs_f64();
        if digest != reference {
            eprintln!("digests differ");
            std::process::exit(1);
        }
        Some(rate(seconds))
    };
    let mut table: [Vec<f64>; 4] = Default::default();
    for round in 1..=rounds {
        let start = Instant::now();
        let _ = md5::Md5::digest(&data);
        let theirs = rate(start.elapsed().as_secs_f64());
        let portable = time(Some(Md5::portable())).unwrap_or(0.0);
        let avx512 = time(Md5::avx512());
        let chosen = time(Some(Md5::new())).unwrap_or(0.0);
        let avx512_text = avx512.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
        println!("{round:>5}  {theirs:>9.0}  {portable:>8.0}  {avx512_text:>9}  {chosen:>8.0}");
        for (column, value) in
            table
                .iter_mut()
                .zip([Some(theirs), Some(portable), avx512, Some(chosen)])
        {
            if let Some(value) = value {
                column.push(value);
            }
        }
    }
    let median = |column: &mut Vec<f64>| {
        column.sort_by(f64::total_cmp);
        column.get(column.len() / 2).copied().unwrap_or(0.0)
    };
    let [a, b, c, d] = &mut table;
    println!(
        "median {:>9.0}  {:>8.0}  {:>9.0}  {:>8.0}",
        median(a),
        median(b),
        median(c),
        median(d)
    );
}
