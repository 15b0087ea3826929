//! What Quire's tests share, and nothing a user ever runs: synthetic scanned pages, one small
//! HTTP client, and one harness that starts and stops the daemon.
//!
//! - [`synth`]: article pages rendered from a seed with known text, skew and scanner noise,
//!   written in every input format Quire reads, with [`synth::cer`] to score OCR against the
//!   printed text. Used by the pipeline's tests, examples and benchmarks, and by the
//!   end-to-end tests.
//! - [`http`]: one HTTP/1.1 exchange per connection on loopback (`Connection: close`), any
//!   method, any headers, returning the status, the header block and the body bytes.
//! - [`daemon`]: a `quire daemon` started from a given binary and config, waited for until it
//!   answers `/healthz`, and killed when dropped; free ports and polling with a deadline.
//! - [`postgres`]: a throwaway PostgreSQL 15 cluster on a free loopback port, stopped and
//!   deleted when dropped.
//!
//! It is a dev-dependency only (`publish = false`); no crate's normal build links it. It does
//! not know Quire's configuration beyond `--config`, makes no scratch homes, and holds no
//! assertions about Quire's behaviour: those stay with the tests. The HTTP client is not a
//! general one: no TLS, no keep-alive, no redirects, and it reads each reply to the end.

pub mod daemon;
pub mod http;
pub mod postgres;
pub mod synth;
