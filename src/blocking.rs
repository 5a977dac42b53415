//! Work that blocks a thread — hashing files, walking trees, reading a
//! whole library, waiting on a child with `std::process` — runs here, on
//! the runtime's blocking pool, never on the async runtime itself.
//!
//! Why it matters: every cell's time limit is a timer on the runtime, and
//! the whole run graph is one task. A file hashed on that task (a cached
//! environment proven again, a local NumPy wheel named by its content)
//! stops every timer until it is done: on two cores, a probe that should
//! be killed after 2 s ran as long as the hashing did. uv and nextest keep
//! such work on `spawn_blocking` or threads of their own for the same
//! reason. What runs here must own what it reads (`'static`), so no
//! borrowed state, and no lock of the runtime's, is ever held across it.

/// Runs `work` on the blocking pool and waits for it without blocking the
/// runtime. A panic in `work` is resumed here, as if it had run inline.
pub async fn run<T, F>(work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Cancelled: only when the runtime shuts down, which drops this
            // future too; it never resolves.
            Err(_) => std::future::pending().await,
        },
    }
}

#[cfg(test)]
mod tests {
    /// The runtime's timers keep firing while the blocking pool is busy:
    /// a current-thread runtime (one thread for every task) still wakes a
    /// sleeper on time while `run` spins for longer than the sleep.
    #[test]
    fn the_runtime_runs_on_while_blocking_work_runs() {
        use std::time::{Duration, Instant};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let start = Instant::now();
            let busy = super::run(move || {
                while start.elapsed() < Duration::from_millis(600) {
                    std::hint::spin_loop();
                }
                start.elapsed()
            });
            let woke = async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                start.elapsed()
            };
            let (spun, slept) = tokio::join!(busy, woke);
            // Ordering, not timing: the sleeper woke before the blocking
            // work ended, which on one runtime thread is only possible if
            // that work ran elsewhere (inline, it would end first).
            assert!(slept < spun, "slept {slept:?}, blocking work {spun:?}");
        });
    }
}
