//! One small HTTP/1.1 client for tests against a server on loopback: one request per
//! connection (`Connection: close`), any method and headers, the reply read to the end.
//!
//! ```no_run
//! use quire_testkit::http;
//! # fn run(port: u16) -> std::io::Result<()> {
//! let reply = http::get("/healthz").send(port)?;
//! assert_eq!(reply.status, 200);
//! let reply = http::post("/api/v1/requests", "application/json", "{}")
//!     .header("Authorization", "Bearer secret")
//!     .send(port)?;
//! println!("{} {:?}", reply.status, reply.header("content-type"));
//! # Ok(())
//! # }
//! ```
//!
//! A chunked body is joined back together. Not here: TLS, keep-alive, redirects, compression.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long a read may wait for the server before the exchange fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A request to send; build it with [`get`], [`head`], [`post`] or [`Request::new`].
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
}

/// A GET of `path` (with its query).
pub fn get(path: &str) -> Request {
    Request::new("GET", path)
}

/// A HEAD of `path`: the reply has a status and headers, never a body.
pub fn head(path: &str) -> Request {
    Request::new("HEAD", path)
}

/// A POST of `body` as `content_type`.
pub fn post(path: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
    Request::new("POST", path).body(content_type, body)
}

impl Request {
    pub fn new(method: &str, path: &str) -> Self {
        Request {
            method: method.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Adds a header line; `Host`, `Connection` and `Content-Length` are always sent.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body and its `Content-Type`.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.header("Content-Type", content_type)
    }

    /// How long each read may wait ([`DEFAULT_TIMEOUT`] unless set).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends the request to `127.0.0.1:port` and reads the whole reply. Fails if the server
    /// cannot be reached, the connection breaks, or the reply has no header block.
    pub fn send(&self, port: u16) -> io::Result<Response> {
        let mut stream = self.connect(port)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let mut reply = Response::parse(&raw).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no HTTP header block in {} bytes", raw.len()),
            )
        })?;
        if reply.is_chunked() && self.method != "HEAD" {
            reply.body = dechunk(&reply.body)?;
        }
        Ok(reply)
    }

    /// Sends the request and keeps whatever arrives until the server closes or resets the
    /// connection or a read fails: a reply cut short comes back as far as it came, its body
    /// as the raw bytes received (not de-chunked). `None` if not even the header block came.
    /// For tests of servers that must break a download off.
    /// A request body the server stops reading (it answered early, e.g. 413) is not an error
    /// here either: what the server sent is read all the same.
    pub fn send_lenient(&self, port: u16) -> io::Result<Option<Response>> {
        let mut stream = self.connect_writing(port, true)?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&chunk[..n]),
            }
        }
        Ok(Response::parse(&raw))
    }

    fn connect(&self, port: u16) -> io::Result<TcpStream> {
        self.connect_writing(port, false)
    }

    fn connect_writing(&self, port: u16, lenient: bool) -> io::Result<TcpStream> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(self.timeout))?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n",
            self.method, self.path
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !self.body.is_empty() || !matches!(self.method.as_str(), "GET" | "HEAD") {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        let mut message = head.into_bytes();
        message.extend_from_slice(&self.body);
        match stream.write_all(&message) {
            Err(e) if lenient && e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(e) if lenient && e.kind() == io::ErrorKind::ConnectionReset => {}
            other => other?,
        }
        Ok(stream)
    }
}

/// A reply: its status, its header block as sent and its body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code; 0 if the status line has none.
    pub status: u16,
    /// The status line and header lines, as received, without the blank line that ends them.
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    /// Splits raw reply bytes at the blank line; `None` if there is none.
    fn parse(raw: &[u8]) -> Option<Response> {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        Some(Response {
            status,
            head,
            body: raw[split + 4..].to_vec(),
        })
    }

    /// The value of the first header called `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers(name).next()
    }

    /// The values of every header called `name` (any case), in order: `Set-Cookie`, say.
    pub fn headers<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.head.lines().skip(1).filter_map(move |line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// `Content-Length`, if sent and a number.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.parse().ok()
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn is_chunked(&self) -> bool {
        self.headers("transfer-encoding")
            .any(|v| v.eq_ignore_ascii_case("chunked"))
    }
}

/// Joins a chunked body; trailers after the last chunk are dropped.
fn dechunk(mut b: &[u8]) -> io::Result<Vec<u8>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "a broken chunked body");
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size = std::str::from_utf8(&b[..eol]).map_err(|_| bad())?;
        // Chunk extensions (`;name=value`) are allowed after the size.
        let size = size.split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16).map_err(|_| bad())?;
        if n == 0 {
            return Ok(out);
        }
        let data = b.get(eol + 2..eol + 2 + n).ok_or_else(bad)?;
        out.extend_from_slice(data);
        b = b.get(eol + 2 + n + 2..).ok_or_else(bad)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server on a free port: reads one request, answers `reply`, closes; the
    /// request it read comes back from the join handle.
    fn serve_once(reply: &'static [u8]) -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head, then as many body bytes as Content-Length says.
            loop {
                let n = s.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .map_or(0, |v| v.parse().unwrap());
                    if body.len() >= len {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            s.write_all(reply).unwrap();
            String::from_utf8(got).unwrap()
        });
        (port, handle)
    }

    #[test]
    fn a_get_sends_its_headers_and_reads_status_headers_and_body() {
        let (port, server) =
            serve_once(b"HTTP/1.1 404 Not Found\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 4\r\n\r\ngone");
        let reply = get("/x?y=1")
            .header("X-Forwarded-For", "10.0.0.9")
            .send(port)
            .unwrap();
        let request = server.join().unwrap();
        assert_eq!(
            request,
            "GET /x?y=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Forwarded-For: 10.0.0.9\r\n\r\n"
        );
        assert_eq!(reply.status, 404);
        assert!(
            reply.head.starts_with("HTTP/1.1 404 Not Found"),
            "{}",
            reply.head
        );
        assert_eq!(
            reply.headers("SET-COOKIE").collect::<Vec<_>>(),
            ["a=1", "b=2"]
        );
        assert_eq!(reply.content_length(), Some(4));
        assert_eq!(reply.body, b"gone");
    }

    #[test]
    fn a_post_sends_its_body_with_type_and_length() {
        let (port, server) = serve_once(b"HTTP/1.1 201 Created\r\n\r\n");
        let reply = post("/api", "application/json", r#"{"a":1}"#)
            .send(port)
            .unwrap();
        let request = server.join().unwrap();
        assert!(
            request
                .ends_with("Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"),
            "{request}"
        );
        assert_eq!(reply.status, 201);
        assert!(reply.body.is_empty());
    }

    #[test]
    fn a_chunked_body_is_joined() {
        let (port, server) = serve_once(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\n\r\n",
        );
        let reply = get("/").send(port).unwrap();
        server.join().unwrap();
        assert_eq!(reply.text(), "hello, world");
    }

    #[test]
    fn a_reply_cut_short_comes_back_as_far_as_it_came_when_lenient() {
        let (port, server) =
            serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
        let reply = get("/")
            .send_lenient(port)
            .unwrap()
            .expect("a header block");
        server.join().unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_length(), Some(100));
        assert_eq!(reply.body, b"only ten b");

        let (port, server) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Le");
        assert!(get("/").send_lenient(port).unwrap().is_none());
        server.join().unwrap();
    }

    #[test]
    fn nobody_listening_is_an_error() {
        let port = crate::daemon::free_port();
        assert!(get("/").send(port).is_err());
    }
}
