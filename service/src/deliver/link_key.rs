//! Link tokens derived from a server key: `token = HMAC-SHA256(key, link id)`.
//!
//! The database keeps only each token's SHA-256, so a copy of the database alone opens no
//! link; yet staff tools can still show a link's URL, because the server can derive the token
//! again from the key in `<data_dir>/link.key` (created with 0600 permissions at first use), or
//! the `[links] key_file` several nodes share.
//! The key is 256 random bits, so every token carries 256 bits an attacker cannot guess.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use sha2::{Digest, Sha256};

pub struct LinkKey([u8; 32]);

impl LinkKey {
    /// The configured key: `[links] key_file`, which must exist when named (nodes share it),
    /// else `<data_dir>/link.key`, created at first use.
    pub fn for_config(config: &quire_config::LoadedConfig) -> anyhow::Result<Self> {
        let (path, named) = config.link_key_file();
        if named {
            let bytes = std::fs::read(&path).with_context(|| {
                format!(
                    "[links] key_file {}: make it once (head -c 32 /dev/urandom > FILE) and give \
                     every node the same file",
                    path.display()
                )
            })?;
            let key: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .with_context(|| format!("{} is not 32 bytes", path.display()))?;
            return Ok(Self(key));
        }
        Self::load_or_create(config.data_dir())
    }

    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join("link.key");
        if let Ok(bytes) = std::fs::read(&path) {
            let key: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .with_context(|| format!("{} is not 32 bytes", path.display()))?;
            return Ok(Self(key));
        }
        std::fs::create_dir_all(data_dir)?;
        let mut seed = Sha256::new();
        for _ in 0..2 {
            seed.update(quire_delivery::Token::generate()?.expose().as_bytes());
        }
        let key: [u8; 32] = seed.finalize().into();
        let tmp = data_dir.join(".link.key.tmp");
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&key)?;
            f.sync_all()?;
        }
        // Two processes racing here both end with one key on disk: the loser rereads it.
        if std::fs::hard_link(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
            return Self::load_or_create(data_dir);
        }
        let _ = std::fs::remove_file(&tmp);
        Ok(Self(key))
    }

    /// The borrower's URL of `link_id` on the server at `public_url`.
    pub fn url(&self, public_url: &str, link_id: &str) -> String {
        format!(
            "{}/d/{}",
            public_url.trim_end_matches('/'),
            self.token(link_id)
        )
    }

    /// The token for `link_id`, URL-safe.
    pub fn token(&self, link_id: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(hmac_sha256(&self.0, link_id.as_bytes()))
    }
}

/// HMAC-SHA256 (RFC 2104) of `message` under the link key.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key)
        .expect("HMAC takes a key of any length, 32 bytes included");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (a 4-byte key): our keys are 32 bytes, so the key is padded with
    /// zeros, which HMAC does itself to any key shorter than a block: same MAC.
    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac_sha256(&key, b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// RFC 4231 test case 1: key 20 bytes of 0x0b, zero-padded to our 32.
    #[test]
    fn hmac_matches_rfc_4231_case_1() {
        let mut key = [0u8; 32];
        key[..20].fill(0x0b);
        let mac = hmac_sha256(&key, b"Hi There");
        assert_eq!(
            hex::encode(mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    /// A link's URL depends only on the key and the link id, and did not change when the
    /// hand-written HMAC gave way to the `hmac` crate: a token made before is still valid.
    #[test]
    fn tokens_are_unchanged_for_a_fixed_key() {
        let key = LinkKey(core::array::from_fn(|i| i as u8));
        assert_eq!(
            key.url("https://ill.example.edu/", "lnk_1"),
            format!("https://ill.example.edu/d/{}", key.token("lnk_1"))
        );
        // Python: base64.urlsafe_b64encode(hmac.new(bytes(range(32)), b"lnk_1",
        // hashlib.sha256).digest()).rstrip(b"=")
        assert_eq!(
            key.token("lnk_1"),
            "WNa_BynhiESqrCHgEk32NYGrynmH53Okq4c6RkKHzhs"
        );
    }

    #[test]
    fn the_key_persists_and_tokens_differ_per_link() {
        let dir = tempfile::tempdir().unwrap();
        let a = LinkKey::load_or_create(dir.path()).unwrap();
        let b = LinkKey::load_or_create(dir.path()).unwrap();
        assert_eq!(a.token("lnk_1"), b.token("lnk_1"));
        assert_ne!(a.token("lnk_1"), a.token("lnk_2"));
        assert!(a.token("lnk_1").len() >= 43);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("link.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
