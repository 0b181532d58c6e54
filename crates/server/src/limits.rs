//! Resource limits of `ree serve`: connections, streams, watchers, and per-caller rates. The
//! flags live here (flattened into the CLI) so the server owns its own knobs; the service only
//! asks "may this caller do this now?".

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ree_core::ParticipantId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Code, Status};

/// The limits `ree serve` enforces; every one is a flag with a default sized for one small host.
#[derive(Clone, Debug, clap::Args)]
pub struct Limits {
    /// Open connections at most; more are accepted and closed at once.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// A connection must send its first bytes (HTTP/2 preface or TLS hello) within this many ms,
    /// and finish a TLS handshake within it, or it is closed.
    #[arg(long, default_value_t = 10_000)]
    pub handshake_timeout_ms: u64,
    /// HTTP/2 keepalive: ping an idle connection every this many seconds (0 = never)...
    #[arg(long, default_value_t = 60)]
    pub keepalive_interval_secs: u64,
    /// ...and close it when the ping is not answered within this many seconds.
    #[arg(long, default_value_t = 20)]
    pub keepalive_timeout_secs: u64,
    /// Concurrent HTTP/2 streams (calls, watches) per connection.
    #[arg(long, default_value_t = 256)]
    pub max_streams_per_connection: u32,
    /// Concurrent Watch streams per participant; more answer RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 64)]
    pub max_watchers_per_caller: usize,
    /// Bundle exports per participant per second (0 = unlimited).
    #[arg(long, default_value_t = 50.0)]
    pub export_rate: f64,
    /// Exports a participant may make in a burst above --export-rate.
    #[arg(long, default_value_t = 100.0)]
    pub export_burst: f64,
    /// Bundle exports built at once, server-wide (each on a blocking thread).
    #[arg(long, default_value_t = 4)]
    pub max_concurrent_exports: usize,
    /// Submitted events per participant per second (0 = unlimited).
    #[arg(long, default_value_t = 100_000.0)]
    pub submit_rate: f64,
    /// Events a participant may submit in a burst above --submit-rate.
    #[arg(long, default_value_t = 200_000.0)]
    pub submit_burst: f64,
    /// Serve plaintext on a non-loopback address (bearer tokens then travel in clear).
    #[arg(long)]
    pub insecure_plaintext: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            handshake_timeout_ms: 10_000,
            keepalive_interval_secs: 60,
            keepalive_timeout_secs: 20,
            max_streams_per_connection: 256,
            max_watchers_per_caller: 64,
            export_rate: 50.0,
            export_burst: 100.0,
            max_concurrent_exports: 4,
            submit_rate: 100_000.0,
            submit_burst: 200_000.0,
            insecure_plaintext: false,
        }
    }
}

impl Limits {
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms.max(1))
    }
    pub fn keepalive_interval(&self) -> Option<Duration> {
        (self.keepalive_interval_secs > 0)
            .then(|| Duration::from_secs(self.keepalive_interval_secs))
    }
    pub fn keepalive_timeout(&self) -> Duration {
        Duration::from_secs(self.keepalive_timeout_secs.max(1))
    }
}

/// A token bucket per participant: `rate` tokens a second up to `burst`.
pub struct RateLimiter {
    what: &'static str,
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<ParticipantId, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(what: &'static str, rate: f64, burst: f64) -> Self {
        RateLimiter {
            what,
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `n` tokens for `who`, or says how long until they are there (RESOURCE_EXHAUSTED
    /// with a google.rpc.RetryInfo detail). A rate of 0 or less means unlimited.
    pub fn take(&self, who: ParticipantId, n: f64, now: Instant) -> Result<(), Status> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = b.entry(who).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.burst);
        *at = now;
        if *tokens >= n {
            *tokens -= n;
            return Ok(());
        }
        // A request larger than the burst can never pass: say so rather than "retry".
        if n > self.burst {
            return Err(Status::resource_exhausted(format!(
                "{}: {n} at once exceeds the burst of {}",
                self.what, self.burst
            )));
        }
        let wait = Duration::from_secs_f64((n - *tokens) / self.rate);
        Err(retry_later(
            format!(
                "{}: rate limit of {}/s per participant exceeded",
                self.what, self.rate
            ),
            wait,
        ))
    }
}

/// RESOURCE_EXHAUSTED whose message and RetryInfo detail both say when to retry.
pub fn retry_later(why: String, wait: Duration) -> Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let ms = wait.as_millis().max(1);
    Status::with_error_details(
        Code::ResourceExhausted,
        format!("{why}; retry in {ms} ms"),
        ErrorDetails::with_retry_info(Some(Duration::from_millis(ms as u64))),
    )
}

/// Live Watch streams, in total and per participant.
pub struct Watchers {
    cap: usize,
    live: AtomicUsize,
    per: Mutex<HashMap<ParticipantId, usize>>,
}

/// One live watcher; dropping it (the stream's task ending) frees its place.
pub struct WatchPermit {
    of: Arc<Watchers>,
    who: ParticipantId,
}

impl Watchers {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Watchers {
            cap: cap.max(1),
            live: AtomicUsize::new(0),
            per: Mutex::new(HashMap::new()),
        })
    }
    /// Watch streams open right now, server-wide.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }
    /// A place for one more watcher of `who`, or RESOURCE_EXHAUSTED at the cap.
    pub fn acquire(self: &Arc<Self>, who: ParticipantId) -> Result<WatchPermit, Status> {
        let mut per = self.per.lock().unwrap_or_else(|e| e.into_inner());
        let n = per.entry(who).or_insert(0);
        if *n >= self.cap {
            return Err(Status::resource_exhausted(format!(
                "{} watch streams open for this participant, at most {}: close one first",
                n, self.cap
            )));
        }
        *n += 1;
        let live = self.live.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(live_watchers = live, "watch started");
        Ok(WatchPermit {
            of: self.clone(),
            who,
        })
    }
}

impl Drop for WatchPermit {
    fn drop(&mut self) {
        let mut per = self.of.per.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per.get_mut(&self.who) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per.remove(&self.who);
            }
        }
        let live = self
            .of
            .live
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        tracing::debug!(live_watchers = live, "watch ended");
    }
}

/// Exports built at once, server-wide: a waiting export holds no memory yet.
pub struct ExportSlots(Arc<Semaphore>);

impl ExportSlots {
    pub fn new(n: usize) -> Self {
        ExportSlots(Arc::new(Semaphore::new(n.max(1))))
    }
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, Status> {
        self.0
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Status::unavailable("server shutting down"))
    }
}

/// Everything the services consult, built once from [`Limits`].
pub struct Guards {
    pub exports: RateLimiter,
    pub submits: RateLimiter,
    pub export_slots: ExportSlots,
    pub watchers: Arc<Watchers>,
}

impl Guards {
    pub fn new(l: &Limits) -> Arc<Self> {
        Arc::new(Guards {
            exports: RateLimiter::new("exports", l.export_rate, l.export_burst),
            submits: RateLimiter::new("submissions", l.submit_rate, l.submit_burst),
            export_slots: ExportSlots::new(l.max_concurrent_exports),
            watchers: Watchers::new(l.max_watchers_per_caller),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: u8) -> ParticipantId {
        ParticipantId(uuid::Uuid::from_bytes([n; 16]))
    }

    #[test]
    fn bucket_allows_the_burst_then_says_when_to_retry() {
        let r = RateLimiter::new("exports", 2.0, 3.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            r.take(pid(1), 1.0, t0).expect("within the burst");
        }
        let e = r.take(pid(1), 1.0, t0).expect_err("burst spent");
        assert_eq!(e.code(), Code::ResourceExhausted);
        assert!(e.message().contains("retry in 500 ms"), "{}", e.message());
        use tonic_types::StatusExt;
        let ri = e.get_details_retry_info().expect("RetryInfo detail");
        assert_eq!(ri.retry_delay, Some(Duration::from_millis(500)));
        // Another participant has its own bucket; time refills the first.
        r.take(pid(2), 1.0, t0).expect("own bucket");
        r.take(pid(1), 1.0, t0 + Duration::from_millis(500))
            .expect("refilled");
    }

    #[test]
    fn zero_rate_is_unlimited_and_oversized_requests_never_pass() {
        let r = RateLimiter::new("submissions", 0.0, 1.0);
        let t0 = Instant::now();
        for _ in 0..1000 {
            r.take(pid(1), 10.0, t0).expect("unlimited");
        }
        let r = RateLimiter::new("submissions", 10.0, 5.0);
        let e = r.take(pid(1), 6.0, t0).expect_err("larger than the burst");
        assert!(e.message().contains("exceeds the burst"), "{}", e.message());
    }

    #[test]
    fn watcher_cap_per_caller_and_release_on_drop() {
        let w = Watchers::new(2);
        let a = w.acquire(pid(1)).expect("first");
        let _b = w.acquire(pid(1)).expect("second");
        let e = w.acquire(pid(1)).err().expect("third refused");
        assert_eq!(e.code(), Code::ResourceExhausted);
        let _c = w.acquire(pid(2)).expect("another caller");
        assert_eq!(w.live(), 3);
        drop(a);
        assert_eq!(w.live(), 2);
        w.acquire(pid(1)).expect("a place freed");
    }
}
