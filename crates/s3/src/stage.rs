//! One step of an upload's pipeline ([`crate::sink`]): a state (the temp
//! file, the MD5, ...) that takes the upload's buffers in order on a
//! blocking thread. The thread is held only while buffers are queued: when
//! the queue runs dry the state is put back and the thread returns to the
//! pool, and the next buffer starts a new run. An upload whose client has
//! stalled therefore holds no thread at all, where a thread per step for
//! the whole upload let a few hundred stalled uploads fill tokio's
//! blocking pool and hold up every other store call. A step that keeps up
//! with its input pays a pool hand-off per run; the slowest step (the MD5)
//! always has a buffer waiting and runs on one thread to the end.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::buffers::PooledBuffer;
use crate::store::StoreError;

/// Full buffers waiting per step before the reader waits.
pub(crate) const QUEUE_BUFFERS: usize = 2;

/// A buffer as the steps share it.
pub(crate) type Batch = Arc<PooledBuffer>;

/// What a step does with each buffer, in order.
pub(crate) type Step<S> = fn(&mut S, &[u8]) -> Result<(), StoreError>;

/// A step's state and queue.
#[derive(Debug)]
pub(crate) struct Stage<S: Send + 'static> {
    shared: Arc<Shared<S>>,
}

#[derive(Debug)]
struct Shared<S> {
    inner: Mutex<Inner<S>>,
    step: Step<S>,
    /// A buffer was taken off the queue (one waiter: the upload).
    space: Notify,
    /// The run ended: the queue is empty or the step failed.
    idle: Notify,
}

#[derive(Debug)]
struct Inner<S> {
    queue: VecDeque<Batch>,
    /// Here unless a run has it (or the step failed).
    state: Option<S>,
    running: bool,
    failure: Option<StoreError>,
}

/// The error of a step that stopped without one of its own.
pub(crate) fn stage_failed() -> StoreError {
    StoreError::Io(std::io::Error::other("upload stage failed"))
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S: Send + 'static> Stage<S> {
    /// A step that applies `step` to `state` for each buffer.
    pub(crate) fn new(state: S, step: Step<S>) -> Self {
        Self {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    queue: VecDeque::with_capacity(QUEUE_BUFFERS),
                    state: Some(state),
                    running: false,
                    failure: None,
                }),
                step,
                space: Notify::new(),
                idle: Notify::new(),
            }),
        }
    }

    /// Queue `batch`, waiting while the queue is full; an error once the
    /// step has failed ([`Stage::finish`] says why).
    pub(crate) async fn push(&self, batch: Batch) -> Result<(), StoreError> {
        loop {
            let space = {
                let mut inner = self.shared.lock();
                if inner.failure.is_some() {
                    return Err(stage_failed());
                }
                if inner.queue.len() < QUEUE_BUFFERS {
                    inner.queue.push_back(batch);
                    if !inner.running {
                        let state = inner.state.take().ok_or_else(stage_failed)?;
                        inner.running = true;
                        drop(inner);
                        let shared = Arc::clone(&self.shared);
                        tokio::task::spawn_blocking(move || run(&shared, state));
                    }
                    return Ok(());
                }
                // Created under the lock; a run that frees a slot after the
                // lock is released leaves a permit, so none is missed.
                self.shared.space.notified()
            };
            space.await;
        }
    }

    /// Wait until every queued buffer has been taken: the state, or the
    /// step's error.
    pub(crate) async fn finish(self) -> Result<S, StoreError> {
        loop {
            let idle = {
                let mut inner = self.shared.lock();
                if let Some(failure) = inner.failure.take() {
                    return Err(failure);
                }
                if !inner.running {
                    return inner.state.take().ok_or_else(stage_failed);
                }
                self.shared.idle.notified()
            };
            idle.await;
        }
    }
}

/// Take buffers off the queue until it is empty, then put the state back.
fn run<S>(shared: &Shared<S>, mut state: S) {
    let mut unwinding = RunGuard {
        shared,
        armed: true,
    };
    loop {
        let batch = {
            let mut inner = shared.lock();
            match inner.queue.pop_front() {
                Some(batch) => batch,
                None => {
                    inner.state = Some(state);
                    inner.running = false;
                    break;
                }
            }
        };
        shared.space.notify_one();
        if let Err(error) = (shared.step)(&mut state, &batch) {
            // The state goes (a temp file removes itself); the upload
            // learns of the failure at its next push or at the end.
            drop(state);
            let mut inner = shared.lock();
            inner.queue.clear();
            inner.running = false;
            inner.failure = Some(error);
            break;
        }
    }
    unwinding.armed = false;
    shared.idle.notify_one();
    shared.space.notify_one();
}

/// Reports a run that ended by a panic as a failed step, so that the
/// upload gets an error instead of waiting for a run that is gone.
struct RunGuard<'a, S> {
    shared: &'a Shared<S>,
    armed: bool,
}

impl<S> Drop for RunGuard<'_, S> {
    fn drop(&mut self) {
        if self.armed {
            let mut inner = self.shared.lock();
            inner.queue.clear();
            inner.running = false;
            inner.failure = Some(stage_failed());
            drop(inner);
            self.shared.idle.notify_one();
            self.shared.space.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use crate::buffers::BufferPool;

    fn batch(pool: &Arc<BufferPool>, bytes: &[u8]) -> Batch {
        let mut buffer = pool.take();
        buffer.extend_from_slice(bytes);
        Arc::new(buffer)
    }

    fn append(state: &mut Vec<u8>, data: &[u8]) -> Result<(), StoreError> {
        state.extend_from_slice(data);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn buffers_are_taken_in_order_across_runs() {
        let pool = BufferPool::new();
        let stage = Stage::new(Vec::new(), append);
        let mut expected = Vec::new();
        for i in 0..200u8 {
            let bytes = vec![i; 1 + usize::from(i) * 7];
            expected.extend_from_slice(&bytes);
            stage.push(batch(&pool, &bytes)).await.unwrap();
            if i % 16 == 0 {
                // Let the queue run dry so the next push starts a new run.
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        assert_eq!(stage.finish().await.unwrap(), expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_stage_holds_no_thread() {
        let pool = BufferPool::new();
        let stage = Stage::new(Vec::new(), append);
        stage.push(batch(&pool, b"abc")).await.unwrap();
        // The run ends once the queue is empty and puts the state back.
        let mut idle = false;
        for _ in 0..500 {
            {
                let inner = stage.shared.lock();
                if !inner.running && inner.state.is_some() {
                    idle = true;
                }
            }
            if idle {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        assert!(idle, "the run kept its thread with nothing queued");
        stage.push(batch(&pool, b"def")).await.unwrap();
        assert_eq!(stage.finish().await.unwrap(), b"abcdef");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_step_is_reported_to_the_next_push_and_to_finish() {
        fn fail_on_x(state: &mut Vec<u8>, data: &[u8]) -> Result<(), StoreError> {
            if data.contains(&b'x') {
                return Err(StoreError::Corrupt("an x"));
            }
            state.extend_from_slice(data);
            Ok(())
        }
        let pool = BufferPool::new();
        let stage = Stage::new(Vec::new(), fail_on_x);
        stage.push(batch(&pool, b"x")).await.unwrap();
        let mut refused = false;
        for _ in 0..500 {
            if stage.push(batch(&pool, b"a")).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        assert!(refused, "pushes go on after the step failed");
        assert!(matches!(
            stage.finish().await,
            Err(StoreError::Corrupt("an x"))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_step_fails_the_stage_instead_of_hanging_it() {
        #[allow(clippy::panic, reason = "the panic is what is tested")]
        fn panics(_: &mut (), _: &[u8]) -> Result<(), StoreError> {
            panic!("step panicked");
        }
        let pool = BufferPool::new();
        let stage = Stage::new((), panics);
        stage.push(batch(&pool, b"a")).await.unwrap();
        assert!(stage.finish().await.is_err());
    }
}
