//! Recycled read buffers for downloads.
//!
//! A download moves its file through 1 MiB buffers that the HTTP layer drops once written to
//! the socket. Allocating each afresh costs more than it seems: the allocator hands large
//! blocks back to the kernel and gets fresh pages again, so every MiB sent also paid page
//! faults and the kernel zeroing those pages (about 6 % of the daemon's CPU in a 16-download
//! profile). A [`Buffer`] goes back to its pool when the last [`Bytes`] made from it is
//! dropped, and the next read reuses it, already mapped and initialised. The pool keeps at
//! most `keep` idle buffers; more are allocated when needed and freed when returned.

use std::sync::Mutex;

use bytes::Bytes;

pub(crate) struct BufferPool {
    size: usize,
    keep: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// Buffers of `size` bytes, at most `keep` of them kept idle.
    pub const fn new(size: usize, keep: usize) -> Self {
        Self {
            size,
            keep,
            free: Mutex::new(Vec::new()),
        }
    }

    /// A buffer of the pool's size: a recycled one if any is idle.
    pub fn take(&'static self) -> Buffer {
        let recycled = self.lock().pop();
        Buffer {
            buf: recycled.unwrap_or_else(|| vec![0; self.size]),
            len: 0,
            pool: self,
        }
    }

    fn give_back(&self, buf: Vec<u8>) {
        let mut free = self.lock();
        if free.len() < self.keep {
            free.push(buf);
        }
    }

    #[cfg(test)]
    fn idle(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // Only whole buffers are pushed and popped; a panic elsewhere cannot tear the list.
        self.free.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A buffer from a [`BufferPool`], returned to it when dropped.
pub(crate) struct Buffer {
    buf: Vec<u8>,
    /// How many bytes of `buf` hold data.
    len: usize,
    pool: &'static BufferPool,
}

impl Buffer {
    /// All of the buffer, to read into (its contents are stale data from earlier use).
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// The first `len` bytes as [`Bytes`], without copying; the buffer returns to the pool
    /// when the last of them is dropped.
    pub fn freeze(mut self, len: usize) -> Bytes {
        assert!(len <= self.buf.len(), "more bytes than the buffer holds");
        self.len = len;
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for Buffer {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_when_their_bytes_are_dropped() {
        static POOL: BufferPool = BufferPool::new(16, 2);
        let mut a = POOL.take();
        a.space()[..3].copy_from_slice(b"abc");
        let bytes = a.freeze(3);
        assert_eq!(&bytes[..], b"abc");
        let part = bytes.slice(1..);
        drop(bytes);
        assert_eq!(POOL.idle(), 0, "a slice still holds it");
        drop(part);
        assert_eq!(POOL.idle(), 1);

        // Reused, with its stale contents (readers only look at what they filled).
        let mut b = POOL.take();
        assert_eq!(POOL.idle(), 0);
        assert_eq!(&b.space()[..3], b"abc");
        // Never more than `keep` idle.
        let (c, d) = (POOL.take(), POOL.take());
        drop((b.freeze(0), c, d));
        assert_eq!(POOL.idle(), 2);
    }
}
