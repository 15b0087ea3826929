//! Measures verified reads from the filesystem store against plain file reads of the same
//! 20 MB object, to show what hash-on-read costs the download path.
//!
//! `cargo run -p quire-delivery --example store_read [MB] [rounds]`

use std::time::Instant;

use futures_util::TryStreamExt;
use quire_delivery::{ContentHash, StoreSpec, open_store};
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mb: usize = args.next().map_or(20, |a| a.parse().expect("MB"));
    let rounds: u32 = args.next().map_or(20, |a| a.parse().expect("rounds"));
    let dir = std::env::temp_dir().join(format!("quire-store-read-{}", std::process::id()));
    let store = open_store(&StoreSpec::Filesystem { root: dir.clone() }).unwrap();
    let bytes: Vec<u8> = (0..mb * 1024 * 1024)
        .map(|i| ((i * 2_654_435_761) >> 13) as u8)
        .collect();
    let key = store.put(&mut &bytes[..]).await.unwrap();
    let total = (key.bytes * rounds as u64) as f64 / 1e6;

    let started = Instant::now();
    for _ in 0..rounds {
        let mut stream = store.get(&key.sha256).await.unwrap().into_stream();
        let mut n = 0;
        while let Some(chunk) = stream.try_next().await.unwrap() {
            n += chunk.len();
        }
        assert_eq!(n as u64, key.bytes);
    }
    let verified = total / started.elapsed().as_secs_f64();

    let path = quire_delivery::store::FsStore::open(&dir)
        .unwrap()
        .object_path(&key.sha256);
    let started = Instant::now();
    for _ in 0..rounds {
        let mut file = tokio::fs::File::open(&path).await.unwrap();
        let mut buf = bytes::BytesMut::with_capacity(128 * 1024);
        loop {
            buf.clear();
            if file.read_buf(&mut buf).await.unwrap() == 0 {
                break;
            }
        }
    }
    let plain = total / started.elapsed().as_secs_f64();

    let started = Instant::now();
    for _ in 0..rounds {
        assert_eq!(ContentHash::of(&bytes), key.sha256);
    }
    let hash_only = total / started.elapsed().as_secs_f64();
    println!(
        "{mb} MB x {rounds}: verified store read {verified:.0} MB/s; plain tokio file read {plain:.0} MB/s; \
         SHA-256 alone {hash_only:.0} MB/s"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
