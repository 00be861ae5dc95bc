//! Transfer buffers that are reused instead of freed: uploads copy the
//! received frames into them on their way to the writer and hasher
//! threads, and downloads read file data into them and hand them to the
//! socket as they are. A buffer allocated on one thread and freed on
//! another is what the allocator holds on to longest (mimalloc keeps freed
//! pages resident for a while, and frees from other threads are reclaimed
//! late), so a 1 GiB transfer that churned through fresh buffers grew the
//! resident memory by tens of MiB; recycled, a transfer keeps a handful.
//!
//! A buffer's data starts at a [`BUFFER_ALIGN`] boundary, so a full one can
//! be written to disk with `O_DIRECT` ([`crate::store::PendingObject`]) and
//! read into with it ([`crate::response::FileBody`]).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Size of every pooled buffer.
pub const BUFFER_BYTES: usize = 512 * 1024;
/// Where every buffer's data starts: a multiple of this address, the
/// memory alignment `O_DIRECT` asks for (a device's logical block; 4096
/// covers the common ones).
pub const BUFFER_ALIGN: usize = 4096;
/// Idle buffers kept for reuse; more are freed when returned.
const KEEP_IDLE: usize = 8;

/// A pool of [`BUFFER_BYTES`] buffers.
#[derive(Debug, Default)]
pub struct BufferPool {
    /// Each with the offset its data starts at.
    idle: Mutex<Vec<(Vec<u8>, usize)>>,
}

/// A new buffer: room for [`BUFFER_BYTES`] after a filler that puts the
/// data on a [`BUFFER_ALIGN`] boundary (none if the address cannot be
/// aligned, which only costs the `O_DIRECT` writes).
fn allocate() -> (Vec<u8>, usize) {
    let mut data: Vec<u8> = Vec::with_capacity(BUFFER_BYTES + BUFFER_ALIGN);
    let start = data.as_ptr().align_offset(BUFFER_ALIGN);
    let start = if start < BUFFER_ALIGN { start } else { 0 };
    data.resize(start, 0);
    (data, start)
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
        let (data, start) = reused.unwrap_or_else(allocate);
        PooledBuffer {
            data,
            start,
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
    /// The filler, then the data.
    data: Vec<u8>,
    start: usize,
    pool: Arc<BufferPool>,
}

impl PooledBuffer {
    /// Room left before the buffer is full.
    pub fn spare(&self) -> usize {
        BUFFER_BYTES.saturating_sub(self.len())
    }

    /// Append `bytes`; at most [`PooledBuffer::spare`] of them fit without
    /// growing the buffer.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    /// The vector, to append to (room for [`BUFFER_BYTES`] of data; its
    /// filler is not part of the data).
    pub fn vec_mut(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Fill the buffer, emptied first, by one call of `read` on its first
    /// `len` bytes (at most [`BUFFER_BYTES`], zeroed, starting at the
    /// aligned address); keeps the first `n` bytes for a returned `n`.
    pub fn read_with(
        &mut self,
        len: usize,
        read: impl FnOnce(&mut [u8]) -> std::io::Result<usize>,
    ) -> std::io::Result<usize> {
        let len = len.min(BUFFER_BYTES);
        self.data.truncate(self.start);
        self.data.resize(self.start + len, 0);
        let result = read(self.data.get_mut(self.start..).unwrap_or_default());
        let kept = result.as_ref().map_or(0, |n| (*n).min(len));
        self.data.truncate(self.start + kept);
        result
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.data.len() <= self.start
    }

    /// As a `Bytes` that gives the buffer back when the last reference
    /// goes (after the socket has taken the data).
    pub fn into_bytes(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for PooledBuffer {
    fn as_ref(&self) -> &[u8] {
        self.data.get(self.start..).unwrap_or_default()
    }
}

impl std::ops::Deref for PooledBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_ref()
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if self.data.capacity() != BUFFER_BYTES + BUFFER_ALIGN {
            return; // grown past the pool's size: not reusable as is
        }
        let mut data = std::mem::take(&mut self.data);
        data.truncate(self.start);
        let mut idle = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < KEEP_IDLE {
            idle.push((data, self.start));
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
        assert_eq!(again.as_ptr() as usize % BUFFER_ALIGN, 0, "data is aligned");
        drop(again);
        let many: Vec<PooledBuffer> = (0..KEEP_IDLE + 5).map(|_| pool.take()).collect();
        drop(many);
        assert_eq!(pool.idle(), KEEP_IDLE);
    }
}
