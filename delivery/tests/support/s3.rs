//! A real S3 server for the conformance suite: `s3s-fs` 0.14.1 (installed by
//! scripts/bootstrap into `.tools/bin`), run with credentials, so signatures and presigned-URL
//! expiry are checked for real.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use quire_delivery::S3Spec;

pub const ACCESS_KEY: &str = "quire-test-access";
pub const SECRET_KEY: &str = "quire-test-secret-0123456789";
pub const BUCKET: &str = "quire-test";

pub struct S3Server {
    child: Child,
    pub spec: S3Spec,
    _dir: tempfile::TempDir,
}

impl S3Server {
    pub async fn start() -> Self {
        let bin = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.tools/bin/s3s-fs"));
        assert!(
            bin.is_file(),
            "s3s-fs is missing at {}; run scripts/bootstrap (it installs s3s-fs 0.14.1 there). \
             The S3 conformance tests need a real server and are not skipped.",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let port = super::free_port();
        let log = std::fs::File::create(dir.path().join("s3s-fs.log")).unwrap();
        let mut child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        super::wait_for_port(port, "s3s-fs", || child.try_wait().unwrap().is_none());
        let spec = S3Spec {
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            region: "us-east-1".into(),
            bucket: BUCKET.into(),
            path_style: true,
            access_key_id: Some(ACCESS_KEY.into()),
            secret_access_key: Some(SECRET_KEY.into()),
        };
        let server = Self {
            child,
            spec,
            _dir: dir,
        };
        server
            .raw_client()
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("create bucket");
        server
    }

    /// A plain SDK client on the same server, for out-of-band writes.
    pub fn raw_client(&self) -> aws_sdk_s3::Client {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.spec.endpoint.clone().unwrap())
            .force_path_style(true)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
