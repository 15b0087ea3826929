//! One conformance suite for every [`Store`] backend: each case below runs once against the
//! filesystem backend and once against S3 (a real `s3s-fs` server on loopback).

mod support;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use quire_delivery::store::{FsStore, S3Store};
use quire_delivery::{ContentHash, DeliveryError, FileKey, Store, StoreSpec, open_store};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

/// A backend under test and a way to damage its objects behind its back.
enum Backend {
    Fs {
        store: Arc<dyn Store>,
        fs: FsStore,
        _dir: tempfile::TempDir,
    },
    S3 {
        store: Arc<dyn Store>,
        server: support::s3::S3Server,
    },
}

impl Backend {
    fn fs() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let store = open_store(&StoreSpec::Filesystem { root: root.clone() }).unwrap();
        Self::Fs {
            store,
            fs: FsStore::open(&root).unwrap(),
            _dir: dir,
        }
    }

    async fn s3() -> Self {
        let server = support::s3::S3Server::start().await;
        let store = open_store(&StoreSpec::S3(server.spec.clone())).unwrap();
        Self::S3 { store, server }
    }

    fn store(&self) -> &dyn Store {
        match self {
            Self::Fs { store, .. } | Self::S3 { store, .. } => store.as_ref(),
        }
    }

    /// Replaces the stored bytes of `hash` with `bytes`, bypassing the store.
    async fn corrupt(&self, hash: &ContentHash, bytes: Vec<u8>) {
        match self {
            Self::Fs { fs, .. } => std::fs::write(fs.object_path(hash), bytes).unwrap(),
            Self::S3 { server, .. } => {
                server
                    .raw_client()
                    .put_object()
                    .bucket(support::s3::BUCKET)
                    .key(S3Store::object_key(hash))
                    .body(bytes.into())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// Deterministic, incompressible-looking test bytes.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod filesystem {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&super::Backend::fs()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&super::Backend::s3().await).await;
                }
            )*
        }
    };
}

conformance!(
    round_trip_small_empty_and_multi_mb,
    keyed_by_hash_and_deduplicated,
    corruption_is_never_served,
    failed_writes_leave_nothing_visible,
    delete_and_exists,
    ranges,
    unknown_objects_are_not_found,
    presigned_urls,
    named_files,
);

async fn round_trip_small_empty_and_multi_mb(b: &Backend) {
    for bytes in [
        b"hello, borrower".to_vec(),
        Vec::new(),
        data(6 * 1024 * 1024 + 17, 1),
    ] {
        let key = b.store().put(&mut &bytes[..]).await.unwrap();
        assert_eq!(key.sha256.as_str(), sha256_hex(&bytes));
        assert_eq!(key.bytes, bytes.len() as u64);
        let body = b.store().get(&key.sha256).await.unwrap();
        assert_eq!(body.len(), bytes.len() as u64);
        assert_eq!(body.key, key);
        assert!(
            body.to_vec().await.unwrap() == bytes,
            "{} bytes did not round-trip",
            bytes.len()
        );
    }
}

async fn keyed_by_hash_and_deduplicated(b: &Backend) {
    let bytes = data(300_000, 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.pdf");
    std::fs::write(&path, &bytes).unwrap();
    let from_reader = b.store().put(&mut &bytes[..]).await.unwrap();
    let from_file = b.store().put_file(&path).await.unwrap();
    let from_bytes = b
        .store()
        .put_bytes(Bytes::from(bytes.clone()))
        .await
        .unwrap();
    assert_eq!(from_reader, from_file);
    assert_eq!(from_reader, from_bytes);
    let other = b
        .store()
        .put_bytes(Bytes::from_static(b"another"))
        .await
        .unwrap();
    let mut expected = vec![from_reader.clone(), other];
    expected.sort();
    assert_eq!(b.store().list().await.unwrap(), expected);
    let missing = b
        .store()
        .put_file(&dir.path().join("absent.pdf"))
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("absent.pdf"), "{missing}");
}

async fn corruption_is_never_served(b: &Backend) {
    let bytes = data(1_000_000, 3);
    let key = b.store().put(&mut &bytes[..]).await.unwrap();
    // Same length, one byte flipped at the end; then truncated; then grown.
    let mut flipped = bytes.clone();
    flipped[999_999] ^= 1;
    let truncated = bytes[..500_000].to_vec();
    let mut grown = bytes.clone();
    grown.extend_from_slice(b"tail");
    for bad in [flipped, truncated, grown] {
        let bad_len = bad.len();
        b.corrupt(&key.sha256, bad).await;
        let mut stream = b.store().get(&key.sha256).await.unwrap().into_stream();
        let mut served = 0usize;
        let err = loop {
            match futures_util::TryStreamExt::try_next(&mut stream).await {
                Ok(Some(chunk)) => served += chunk.len(),
                Ok(None) => panic!("a corrupt object ({bad_len} bytes) was served to the end"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.code(), "delivery.store.hash_mismatch", "{err}");
        assert!(
            served < bytes.len().min(bad_len),
            "served {served} of {bad_len}"
        );
        let err = b
            .store()
            .get_range(&key.sha256, 10..20)
            .await
            .unwrap()
            .to_vec()
            .await
            .unwrap_err();
        assert_eq!(err.code(), "delivery.store.hash_mismatch", "{err}");
    }
    // Storing the same bytes again repairs the object.
    b.store().put(&mut &bytes[..]).await.unwrap();
    assert!(
        b.store()
            .get(&key.sha256)
            .await
            .unwrap()
            .to_vec()
            .await
            .unwrap()
            == bytes
    );
}

/// A source that fails after yielding `fail_after` bytes.
struct Failing {
    left: usize,
}

impl AsyncRead for Failing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Err(io::Error::other("scanner unplugged")));
        }
        let n = self.left.min(buf.remaining()).min(50_000);
        buf.put_slice(&vec![b'x'; n]);
        self.left -= n;
        Poll::Ready(Ok(()))
    }
}

async fn failed_writes_leave_nothing_visible(b: &Backend) {
    let err = b
        .store()
        .put(&mut Failing { left: 2_000_000 })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "delivery.store.source_read");
    assert!(b.store().list().await.unwrap().is_empty());
    if let Backend::Fs { _dir, .. } = b {
        let tmp = _dir.path().join("store/tmp");
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "temp file left in {}",
            tmp.display()
        );
    }

    // While a large object is being written, listings show nothing or the whole object.
    let big = Arc::new(data(8 * 1024 * 1024, 4));
    let expected_len = big.len() as u64;
    let store: &dyn Store = b.store();
    let writer = async {
        store.put(&mut &big[..]).await.unwrap();
    };
    let watcher = async {
        let mut seen_partial = Vec::new();
        for _ in 0..200 {
            for key in store.list().await.unwrap() {
                if key.bytes != expected_len {
                    seen_partial.push(key);
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        seen_partial
    };
    let ((), partial) = tokio::join!(writer, watcher);
    assert!(
        partial.is_empty(),
        "half-written objects were listed: {partial:?}"
    );
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].bytes, expected_len);
}

async fn delete_and_exists(b: &Backend) {
    let keep = b
        .store()
        .put_bytes(Bytes::from_static(b"keep"))
        .await
        .unwrap();
    let gone = b
        .store()
        .put_bytes(Bytes::from_static(b"gone"))
        .await
        .unwrap();
    assert!(b.store().exists(&gone.sha256).await.unwrap());
    assert!(b.store().delete(&gone.sha256).await.unwrap());
    assert!(!b.store().exists(&gone.sha256).await.unwrap());
    assert!(!b.store().delete(&gone.sha256).await.unwrap());
    assert_eq!(
        b.store().get(&gone.sha256).await.unwrap_err().code(),
        "delivery.store.not_found"
    );
    assert_eq!(b.store().list().await.unwrap(), vec![keep.clone()]);
    assert!(b.store().exists(&keep.sha256).await.unwrap());
}

async fn ranges(b: &Backend) {
    let bytes = data(700_000, 5);
    let key = b.store().put(&mut &bytes[..]).await.unwrap();
    for r in [
        0..1u64,
        0..700_000,
        1000..200_000,
        131_072..262_144,
        699_999..700_000,
        350_000..350_000,
    ] {
        let body = b.store().get_range(&key.sha256, r.clone()).await.unwrap();
        assert_eq!(body.len(), r.end - r.start);
        assert!(
            body.to_vec().await.unwrap() == bytes[r.start as usize..r.end as usize],
            "range {r:?}"
        );
    }
    let err = b
        .store()
        .get_range(&key.sha256, 600_000..700_001)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "delivery.store.bad_range");
}

async fn unknown_objects_are_not_found(b: &Backend) {
    let hash = ContentHash::of(b"never stored");
    assert_eq!(
        b.store().get(&hash).await.unwrap_err().code(),
        "delivery.store.not_found"
    );
    assert_eq!(
        b.store().get_range(&hash, 0..1).await.unwrap_err().code(),
        "delivery.store.not_found"
    );
    assert!(!b.store().exists(&hash).await.unwrap());
    assert!(b.store().list().await.unwrap().is_empty());
}

async fn presigned_urls(b: &Backend) {
    let bytes = data(200_000, 6);
    let key = b.store().put(&mut &bytes[..]).await.unwrap();
    let too_long = b
        .store()
        .presigned_get(&key.sha256, Duration::from_secs(61), "x.pdf")
        .await;
    let url = b
        .store()
        .presigned_get(&key.sha256, Duration::from_secs(60), "ILL-9 Smith é.pdf")
        .await
        .unwrap();
    match b {
        Backend::Fs { .. } => {
            assert!(url.is_none());
            return;
        }
        Backend::S3 { .. } => assert_eq!(
            too_long.unwrap_err().code(),
            "delivery.store.presign_too_long"
        ),
    }
    let url = url.expect("S3 presigns");
    let response = support::http_get(&url).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert!(response.body == bytes);
    let disposition = response
        .header("content-disposition")
        .expect("Content-Disposition");
    assert!(
        disposition.contains("ILL-9 Smith _.pdf") && disposition.contains("%C3%A9"),
        "{disposition}"
    );
    assert_eq!(response.header("content-type"), Some("application/pdf"));

    // A tampered signature is refused, and so is a valid one after it expires.
    let at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[at..at + 1] == "0" { "1" } else { "0" };
    let tampered = support::http_get(&format!("{}{flipped}{}", &url[..at], &url[at + 1..])).await;
    assert_eq!(tampered.status, 403);
    let short = b
        .store()
        .presigned_get(&key.sha256, Duration::from_secs(1), "x.pdf")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(support::http_get(&short).await.status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = support::http_get(&short).await;
    assert_eq!(
        expired.status,
        403,
        "expired URL served: {}",
        String::from_utf8_lossy(&expired.body)
    );
}

/// Named files (preservation bags): stored and read back by name, replaced whole, listed
/// under their folder only, never listed among the objects, deleted.
async fn named_files(b: &Backend) {
    let store = b.store();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let bag = FileKey::parse("preservation/J1").unwrap();
    let big = data(3 * 1024 * 1024 + 17, 5);
    let files = [
        ("bagit.txt", b"BagIt-Version: 1.0\n".to_vec()),
        ("data/originals/scan 1.tif", big.clone()),
        ("data/empty", Vec::new()),
    ];
    for (i, (name, bytes)) in files.iter().enumerate() {
        let key = bag.join(name).unwrap();
        let n = store
            .put_named(&key, &file(&format!("in{i}"), bytes))
            .await
            .unwrap();
        assert_eq!(n, bytes.len() as u64, "{name}");
    }
    // A neighbour whose name starts the same is not in J1's folder.
    let other = FileKey::parse("preservation/J10/bagit.txt").unwrap();
    store.put_named(&other, &file("o", b"x")).await.unwrap();

    let listed = store.list_named(&bag).await.unwrap();
    let mut expected: Vec<(String, u64)> = files
        .iter()
        .map(|(n, b)| (format!("preservation/J1/{n}"), b.len() as u64))
        .collect();
    expected.sort();
    let listed_plain: Vec<(String, u64)> =
        listed.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    assert_eq!(listed_plain, expected);
    assert!(
        store.list().await.unwrap().is_empty(),
        "named files are not objects, so purge never sees them"
    );

    let back = dir.path().join("back");
    let key = bag.join("data/originals/scan 1.tif").unwrap();
    assert_eq!(
        store.get_named(&key, &back).await.unwrap(),
        big.len() as u64
    );
    assert_eq!(std::fs::read(&back).unwrap(), big);

    // Replacing is whole: the new bytes, not a mix.
    store
        .put_named(&key, &file("new", b"second"))
        .await
        .unwrap();
    std::fs::remove_file(&back).unwrap();
    store.get_named(&key, &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), b"second");

    assert!(store.delete_named(&key).await.unwrap());
    assert!(!store.delete_named(&key).await.unwrap());
    let missing = store.get_named(&key, &dir.path().join("gone")).await;
    assert!(
        matches!(missing, Err(DeliveryError::FileNotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(store.list_named(&bag).await.unwrap().len(), 2);
    assert_eq!(
        store
            .list_named(&FileKey::parse("preservation/none").unwrap())
            .await
            .unwrap(),
        Vec::new()
    );
}
