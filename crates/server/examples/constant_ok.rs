//! The benchmark baseline (docs/PERFORMANCE.md): the same listener stack as
//! `mayfly serve`, answering every request with a constant 200.
//!
//! `cargo run --release -p mayfly-server --example constant_ok -- 127.0.0.1:7499`

use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7499".to_owned())
        .parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener =
            mayfly_server::Listener::bind(addr, None, mayfly_server::ListenerConfig::default())
                .await?;
        println!("constant_ok listening on http://{}", listener.local_addr()?);
        mayfly_server::serve(listener, Arc::new(mayfly_server::ConstantOk), async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        Ok(())
    })
}
