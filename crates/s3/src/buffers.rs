//! Transfer buffers that are reused instead of freed: uploads copy the
//! received frames into them on their way to the writer and hasher
//! threads, and downloads read file data into them and hand them to the
//! socket as they are. A buffer allocated on one thread and freed on
//! another is what the allocator holds on to longest (mimalloc keeps freed
//! pages resident for a while, and frees from other threads are reclaimed
//! late), so a 1 GiB transfer that churned through fresh buffers grew the
//! resident memory by tens of MiB; recycled, a transfer keeps a handful.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Size of every pooled buffer.
pub const BUFFER_BYTES: usize = 512 * 1024;
/// Idle buffers kept for reuse; more are freed when returned.
const KEEP_IDLE: usize = 8;

/// A pool of [`BUFFER_BYTES`] buffers.
#[derive(Debug, Default)]
pub struct BufferPool {
    idle: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// An empty pool; buffers are allocated on first use.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// An empty buffer with room for [`BUFFER_BYTES`].
    pub fn take(self: &Arc<Self>) -> PooledBuffer {
        let reused = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        PooledBuffer {
            data: reused.unwrap_or_else(|| Vec::with_capacity(BUFFER_BYTES)),
            pool: Arc::clone(self),
        }
    }

    /// Idle buffers held (for tests).
    pub fn idle(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A buffer that returns to its pool when dropped.
#[derive(Debug)]
pub struct PooledBuffer {
    data: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl PooledBuffer {
    /// Room left before the buffer is full.
    pub fn spare(&self) -> usize {
        BUFFER_BYTES.saturating_sub(self.data.len())
    }

    /// Append `bytes`; at most [`PooledBuffer::spare`] of them fit without
    /// growing the buffer.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    /// The vector, to read into (its capacity is [`BUFFER_BYTES`]).
    pub fn vec_mut(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// As a `Bytes` that gives the buffer back when the last reference
    /// goes (after the socket has taken the data).
    pub fn into_bytes(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for PooledBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl std::ops::Deref for PooledBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if self.data.capacity() != BUFFER_BYTES {
            return; // grown past the pool's size: not reusable as is
        }
        let mut data = std::mem::take(&mut self.data);
        data.clear();
        let mut idle = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < KEEP_IDLE {
            idle.push(data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_the_idle_set_is_bounded() {
        let pool = BufferPool::new();
        let mut first = pool.take();
        first.extend_from_slice(b"data");
        let bytes = first.into_bytes();
        assert_eq!(&bytes[..], b"data");
        assert_eq!(pool.idle(), 0, "still referenced by the Bytes");
        drop(bytes);
        assert_eq!(pool.idle(), 1);
        let again = pool.take();
        assert!(again.is_empty());
        assert_eq!(again.spare(), BUFFER_BYTES);
        drop(again);
        let many: Vec<PooledBuffer> = (0..KEEP_IDLE + 5).map(|_| pool.take()).collect();
        drop(many);
        assert_eq!(pool.idle(), KEEP_IDLE);
    }
}
