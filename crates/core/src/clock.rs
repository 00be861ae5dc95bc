//! Where the core reads the time: always through [`Clock`], never the wall
//! clock directly, so expiry is testable without sleeping.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time in whole seconds since the Unix epoch.
    fn unix_now(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// The system clock, optionally shifted by a fixed offset.
///
/// The offset exists for end-to-end tests (`MAYFLY_TEST_CLOCK_OFFSET_SECONDS`):
/// a second server sharing the data directory but running "two hours later"
/// proves that credentials expire, without sleeping.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock {
    offset_seconds: i64,
}

impl SystemClock {
    /// The real time.
    pub fn new() -> Self {
        Self { offset_seconds: 0 }
    }

    /// The real time plus `offset_seconds` (negative: in the past).
    pub fn with_offset(offset_seconds: i64) -> Self {
        Self { offset_seconds }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        let shift = Duration::from_secs(self.offset_seconds.unsigned_abs());
        if self.offset_seconds >= 0 {
            now.checked_add(shift).unwrap_or(now)
        } else {
            now.checked_sub(shift).unwrap_or(now)
        }
    }
}

/// A clock that stands still at a given instant (tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// Seconds since the epoch as a `SystemTime`.
pub fn from_unix(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}
