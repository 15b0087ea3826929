//! Posting an XML message to an ISO 18626 peer's endpoint and reading its answer: HTTPS (the
//! system's trusted roots) or plain HTTP, one request per message, with a time limit.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Answers larger than this are not read: a confirmation is a few hundred bytes.
const MAX_ANSWER: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("peer URL {0}: {1}")]
    Url(String, String),
    #[error("could not reach {0}: {1}")]
    Unreachable(String, String),
    #[error("{0} did not answer within {1:?}")]
    Timeout(String, Duration),
    #[error("{0} answered HTTP {1}")]
    Status(String, u16),
    #[error("reading the answer of {0}: {1}")]
    Answer(String, String),
}

/// One client for every peer, keeping connections.
#[derive(Clone)]
pub struct PeerClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl PeerClient {
    pub fn new(timeout: Duration) -> Result<Self, PeerError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| PeerError::Url("(any)".into(), format!("no trusted roots: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            timeout,
        })
    }

    /// POSTs `xml` to `url`; the answer's body when the peer answers 2xx.
    pub async fn post_xml(&self, url: &str, xml: String) -> Result<String, PeerError> {
        let headers = [("content-type", "application/xml; charset=utf-8".to_string())];
        self.post(url, &headers, xml.into_bytes(), self.timeout)
            .await
    }

    /// POSTs `body` with `headers` to `url` within `timeout` (connecting and answering); the
    /// answer's body when the server answers 2xx. Also the webhooks' sender: one HTTP client.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<String, PeerError> {
        let mut request = hyper::Request::post(url)
            .header("user-agent", concat!("Quire/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| PeerError::Url(url.into(), e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| PeerError::Unreachable(url.into(), format!("{e:#}")))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| PeerError::Answer(url.into(), e.to_string()))?
                .to_bytes();
            if !(200..300).contains(&status) {
                return Err(PeerError::Status(url.into(), status));
            }
            Ok(String::from_utf8_lossy(&body).into_owned())
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| PeerError::Timeout(url.into(), timeout))?
    }
}
