//! The S3 backend: objects at `objects/<hash>` in one bucket of any S3-compatible server.
//!
//! Uploads need the key (the hash) before the first byte is sent, so [`Store::put`] first
//! streams the source into a temp file in the system temp folder while hashing it, then sends
//! it in a single PUT that carries `x-amz-checksum-sha256`: the server recomputes the hash and
//! refuses the upload if one byte differs, which is the verify-after-write. A single PUT is
//! atomic in S3 (an object is visible whole or not at all), so no multipart upload and no
//! temp object in the bucket; the price is the 5 GiB single-PUT limit, far above any PDF.
//! [`Store::put_bytes`] skips the temp file.
//!
//! Credentials come from the spec, else from the standard `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` variables; the endpoint from the spec, else
//! `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, else AWS itself. No profile files, no instance
//! metadata (that would need aws-config and its dependency tree). HTTPS uses rustls with ring.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls;
use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::verify::{RawObject, verified_body};
use super::{ContentHash, FileKey, MAX_PRESIGN_TTL, ObjectBody, ObjectKey, Store};
use crate::DeliveryError;

const PREFIX: &str = "objects/";

/// Where the S3 backend keeps objects.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Spec {
    /// e.g. `http://127.0.0.1:9000`; `None` for AWS (or the env var, see the module docs).
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// `https://host/bucket/key` rather than `https://bucket.host/key` (MinIO, s3s, Garage).
    pub path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl fmt::Debug for S3Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Spec")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("path_style", &self.path_style)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "****"),
            )
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    pub fn open(spec: &S3Spec) -> Result<Self, DeliveryError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (key_id, secret, session) = match (&spec.access_key_id, &spec.secret_access_key) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone(), None),
            (None, None) => match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
                (Some(id), Some(secret)) => (id, secret, env("AWS_SESSION_TOKEN")),
                _ => {
                    return Err(DeliveryError::S3Config(
                        "no credentials: set access_key_id and secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                            .into(),
                    ));
                }
            },
            _ => {
                return Err(DeliveryError::S3Config(
                    "access_key_id and secret_access_key must be set together".into(),
                ));
            }
        };
        if spec.bucket.is_empty() {
            return Err(DeliveryError::S3Config("bucket is empty".into()));
        }
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(spec.region.clone()))
            .credentials_provider(Credentials::new(key_id, secret, session, None, "quire"))
            .force_path_style(spec.path_style)
            .http_client(http);
        if let Some(endpoint) = spec
            .endpoint
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
        {
            config = config.endpoint_url(endpoint);
        }
        Ok(Self {
            client: Client::from_conf(config.build()),
            bucket: spec.bucket.clone(),
        })
    }

    /// The bucket key of an object (tests overwrite it out of band).
    pub fn object_key(hash: &ContentHash) -> String {
        format!("{PREFIX}{hash}")
    }

    async fn upload(&self, key: &ObjectKey, body: ByteStream) -> Result<(), DeliveryError> {
        let name = Self::object_key(&key.sha256);
        let checksum = base64::engine::general_purpose::STANDARD.encode(key.sha256.to_bytes());
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&name)
            .content_length(key.bytes as i64)
            .checksum_sha256(checksum)
            .body(body)
            .send()
            .await
            .map_err(|e| s3_error("PutObject", &name, e))?;
        Ok(())
    }

    /// GetObject of bucket key `name`; `None` when there is no such key.
    async fn get_object(
        &self,
        name: &str,
    ) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, DeliveryError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(name)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(s3_error("GetObject", name, e)),
        }
    }

    /// Every key under `prefix` with its size, all pages of the listing.
    async fn list_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, DeliveryError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| s3_error("ListObjectsV2", prefix, e))?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    out.push((key.to_string(), object.size().unwrap_or(0).max(0) as u64));
                }
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() || page.is_truncated() != Some(true) {
                break;
            }
        }
        Ok(out)
    }

    async fn open_raw(&self, hash: &ContentHash) -> Result<RawObject, DeliveryError> {
        let name = Self::object_key(hash);
        let out = self
            .get_object(&name)
            .await?
            .ok_or_else(|| DeliveryError::NotFound {
                hash: hash.to_string(),
            })?;
        let len = out
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| DeliveryError::S3 {
                operation: "GetObject",
                key: name.clone(),
                reason: "response has no Content-Length".into(),
            })?;
        Ok(RawObject {
            len,
            reader: Box::new(out.body.into_async_read()),
        })
    }
}

#[async_trait::async_trait]
impl Store for S3Store {
    async fn put(
        &self,
        source: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<ObjectKey, DeliveryError> {
        let staging =
            std::env::temp_dir().join(format!("quire-s3-{}.part", crate::token::random_hex(16)?));
        let result = async {
            let key = stage(source, &staging).await?;
            let body = ByteStream::from_path(&staging)
                .await
                .map_err(|e| DeliveryError::S3 {
                    operation: "PutObject",
                    key: Self::object_key(&key.sha256),
                    reason: format!("reading staged file {}: {e}", staging.display()),
                })?;
            self.upload(&key, body).await?;
            Ok(key)
        }
        .await;
        let _ = tokio::fs::remove_file(&staging).await;
        result
    }

    async fn put_bytes(&self, bytes: Bytes) -> Result<ObjectKey, DeliveryError> {
        let key = ObjectKey {
            sha256: ContentHash::of(&bytes),
            bytes: bytes.len() as u64,
        };
        self.upload(&key, ByteStream::from(bytes)).await?;
        Ok(key)
    }

    async fn get(&self, hash: &ContentHash) -> Result<ObjectBody, DeliveryError> {
        verified_body(hash.clone(), self.open_raw(hash).await?, None)
    }

    async fn get_range(
        &self,
        hash: &ContentHash,
        range: Range<u64>,
    ) -> Result<ObjectBody, DeliveryError> {
        verified_body(hash.clone(), self.open_raw(hash).await?, Some(range))
    }

    async fn exists(&self, hash: &ContentHash) -> Result<bool, DeliveryError> {
        let name = Self::object_key(hash);
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&name)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(s3_error("HeadObject", &name, e)),
        }
    }

    async fn delete(&self, hash: &ContentHash) -> Result<bool, DeliveryError> {
        // S3 deletes report success for absent keys; ask first so purge can count.
        if !self.exists(hash).await? {
            return Ok(false);
        }
        let name = Self::object_key(hash);
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&name)
            .send()
            .await
            .map_err(|e| s3_error("DeleteObject", &name, e))?;
        Ok(true)
    }

    async fn list(&self) -> Result<Vec<ObjectKey>, DeliveryError> {
        let mut keys: Vec<ObjectKey> = self
            .list_prefix(PREFIX)
            .await?
            .into_iter()
            .filter_map(|(key, bytes)| {
                let hash = ContentHash::parse(key.strip_prefix(PREFIX)?).ok()?;
                Some(ObjectKey {
                    sha256: hash,
                    bytes,
                })
            })
            .collect();
        keys.sort();
        Ok(keys)
    }

    async fn presigned_get(
        &self,
        hash: &ContentHash,
        ttl: Duration,
        file_name: &str,
    ) -> Result<Option<String>, DeliveryError> {
        if ttl > MAX_PRESIGN_TTL {
            return Err(DeliveryError::PresignTooLong {
                requested_secs: ttl.as_secs(),
                max_secs: MAX_PRESIGN_TTL.as_secs(),
            });
        }
        let name = Self::object_key(hash);
        let config = PresigningConfig::expires_in(ttl).map_err(|e| DeliveryError::S3 {
            operation: "presign",
            key: name.clone(),
            reason: e.to_string(),
        })?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&name)
            .response_content_disposition(crate::disposition::attachment(file_name))
            .response_content_type(crate::disposition::content_type(file_name))
            .presigned(config)
            .await
            .map_err(|e| s3_error("presign GetObject", &name, e))?;
        Ok(Some(request.uri().to_owned()))
    }

    async fn put_named(&self, key: &FileKey, path: &Path) -> Result<u64, DeliveryError> {
        let name = key.as_str();
        // The checksum header needs the hash before the first byte goes: read the file once
        // to hash it, then send it, and the server re-hashes what it received.
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| DeliveryError::store_io(path, e))?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let mut buf = vec![0u8; super::CHUNK];
        loop {
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| DeliveryError::store_io(path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            bytes += n as u64;
        }
        let checksum = base64::engine::general_purpose::STANDARD.encode(hasher.finalize());
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| DeliveryError::S3 {
                operation: "PutObject",
                key: name.to_string(),
                reason: format!("reading {}: {e}", path.display()),
            })?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(name)
            .content_length(bytes as i64)
            .checksum_sha256(checksum)
            .body(body)
            .send()
            .await
            .map_err(|e| s3_error("PutObject", name, e))?;
        Ok(bytes)
    }

    async fn get_named(&self, key: &FileKey, dest: &Path) -> Result<u64, DeliveryError> {
        let name = key.as_str();
        let out = self
            .get_object(name)
            .await?
            .ok_or_else(|| DeliveryError::FileNotFound {
                key: name.to_string(),
            })?;
        let mut reader = out.body.into_async_read();
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| DeliveryError::store_io(dest, e))?;
        let n = tokio::io::copy(&mut reader, &mut file).await.map_err(|e| {
            DeliveryError::ReadFailed {
                hash: name.to_string(),
                source: e,
            }
        })?;
        file.flush()
            .await
            .map_err(|e| DeliveryError::store_io(dest, e))?;
        Ok(n)
    }

    async fn list_named(&self, prefix: &FileKey) -> Result<Vec<(FileKey, u64)>, DeliveryError> {
        let mut out: Vec<(FileKey, u64)> = self
            .list_prefix(&format!("{prefix}/"))
            .await?
            .into_iter()
            // A key Quire could not have written (made by another tool) is not listed.
            .filter_map(|(key, bytes)| Some((FileKey::parse(&key).ok()?, bytes)))
            .collect();
        out.sort();
        Ok(out)
    }

    async fn delete_named(&self, key: &FileKey) -> Result<bool, DeliveryError> {
        let name = key.as_str();
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(name)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(e) => return Err(s3_error("HeadObject", name, e)),
        }
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(name)
            .send()
            .await
            .map_err(|e| s3_error("DeleteObject", name, e))?;
        Ok(true)
    }
}

/// Copies `source` into a new file at `path`, hashing on the way.
async fn stage(
    source: &mut (dyn AsyncRead + Send + Unpin),
    path: &std::path::Path,
) -> Result<ObjectKey, DeliveryError> {
    // A scratch copy for the upload: no need to sync it.
    super::copy_hashed(source, path, false).await
}

fn is_not_found<E, R>(err: &SdkError<E, R>) -> bool
where
    R: HttpStatus,
{
    err.raw_response().is_some_and(|r| r.status_code() == 404)
}

trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn s3_error<E: std::error::Error + 'static, R: fmt::Debug + HttpStatus>(
    operation: &'static str,
    key: &str,
    err: SdkError<E, R>,
) -> DeliveryError {
    let reason = DisplayErrorContext(&err).to_string();
    let key = key.to_owned();
    if is_unavailable(&err) {
        DeliveryError::Unavailable {
            operation,
            key,
            reason,
        }
    } else {
        DeliveryError::S3 {
            operation,
            key,
            reason,
        }
    }
}

/// The request never got an answer (connection refused or reset, DNS, timeout), or the server
/// said it cannot serve now (5xx, including S3's 503 SlowDown). A 4xx (no such bucket, bad
/// signature, access denied) is a real answer and stays an error of its own.
fn is_unavailable<E, R: HttpStatus>(err: &SdkError<E, R>) -> bool {
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
        _ => err.raw_response().is_some_and(|r| r.status_code() >= 500),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> S3Spec {
        S3Spec {
            endpoint: Some("http://127.0.0.1:9".into()),
            region: "us-east-1".into(),
            bucket: "b".into(),
            path_style: true,
            access_key_id: Some("id".into()),
            secret_access_key: Some("very-secret".into()),
        }
    }

    #[test]
    fn half_credentials_and_empty_buckets_are_refused() {
        let half = S3Spec {
            secret_access_key: None,
            ..spec()
        };
        assert_eq!(
            S3Store::open(&half).unwrap_err().code(),
            "delivery.store.s3_config"
        );
        let no_bucket = S3Spec {
            bucket: String::new(),
            ..spec()
        };
        assert_eq!(
            S3Store::open(&no_bucket).unwrap_err().code(),
            "delivery.store.s3_config"
        );
        assert!(S3Store::open(&spec()).is_ok());
        assert!(!format!("{:?}", spec()).contains("very-secret"));
    }

    /// Nothing listens on the port: the store is away, which callers must tell apart from a
    /// broken file (they answer 503 and try again later).
    #[tokio::test]
    async fn a_store_that_does_not_answer_is_unavailable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = S3Store::open(&S3Spec {
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            ..spec()
        })
        .unwrap();
        let err = store.get(&ContentHash::of(b"x")).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert_eq!(err.code(), "delivery.store.unavailable");
    }

    #[tokio::test]
    async fn presign_refuses_more_than_a_minute() {
        let store = S3Store::open(&spec()).unwrap();
        let hash = ContentHash::of(b"x");
        let err = store
            .presigned_get(&hash, Duration::from_secs(3600), "x.pdf")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "delivery.store.presign_too_long");
    }
}
