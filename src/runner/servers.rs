//! The fork servers of a grid's runtime columns: started by the first of a
//! column's cells that runs, closed (and its memory given back) when the
//! last is done. At most `jobs` servers live at once, over every grid: a
//! grid of every NumPy release has dozens of columns, and a server holding
//! NumPy imported costs tens of MiB.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pep440_rs::Version;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};

use crate::environment::NumpyEnv;
use crate::plan::GridPlan;
use crate::probe::{self, ForkServer, ProbeFiles};

/// One grid's columns, by NumPy version.
pub(super) struct Columns {
    columns: HashMap<Version, Column>,
    /// The places among the servers allowed at once, shared by all grids.
    slots: Arc<Semaphore>,
}

/// A runtime column's fork server.
struct Column {
    slot: Mutex<Slot>,
    /// Cells of the column not done yet.
    remaining: AtomicUsize,
    /// Told when the last of them is.
    drained: tokio::sync::Notify,
}

enum Slot {
    Idle,
    Running {
        server: Arc<ForkServer>,
        /// Its place among the servers allowed at once, given back with it.
        _slot: OwnedSemaphorePermit,
    },
    /// It would not start: the column's cells run in process mode.
    Failed,
    Closed,
}

impl Columns {
    pub fn new(plan: &GridPlan, slots: Arc<Semaphore>) -> Columns {
        let mut columns: HashMap<Version, Column> = HashMap::new();
        for &(_, ri) in &plan.cells {
            if let Some(v) = plan.runtime_axis[ri].version() {
                columns
                    .entry(v.clone())
                    .or_insert_with(|| Column {
                        slot: Mutex::new(Slot::Idle),
                        remaining: AtomicUsize::new(0),
                        drained: tokio::sync::Notify::new(),
                    })
                    .remaining
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        Columns { columns, slots }
    }

    /// The fork server of `env`'s column, started if it is not (waiting for
    /// a server slot); `None` when it would not start.
    pub async fn server(&self, probe: &ProbeFiles, env: &NumpyEnv) -> Option<Arc<ForkServer>> {
        let column = self.columns.get(&env.numpy)?;
        let mut slot = column.slot.lock().await;
        match &*slot {
            Slot::Running { server, .. } => return Some(server.clone()),
            Slot::Failed => return None,
            Slot::Idle | Slot::Closed => {}
        }
        let permit = self.slots.clone().acquire_owned().await.ok()?;
        match ForkServer::start(&env.python, probe, &probe::child_env()).await {
            Ok(server) => {
                let server = Arc::new(server);
                *slot = Slot::Running {
                    server: server.clone(),
                    _slot: permit,
                };
                Some(server)
            }
            Err(_) => {
                *slot = Slot::Failed;
                None
            }
        }
    }

    /// The column of `version` loses its fork server (its environment was
    /// made again: the server may hold the damaged NumPy); its next cell
    /// starts one from the new environment. Cells running in the old one
    /// keep it until they end.
    pub async fn retire(&self, version: &Version) {
        let Some(column) = self.columns.get(version) else {
            return;
        };
        let mut slot = column.slot.lock().await;
        if matches!(*slot, Slot::Running { .. }) {
            *slot = Slot::Idle;
        }
    }

    /// One cell of the column of `version` is done; after the last, its
    /// server is closed and its slot freed.
    pub async fn cell_done(&self, version: &Version) {
        let Some(column) = self.columns.get(version) else {
            return;
        };
        if column.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            column.drained.notify_waiters();
            // Dropping the last handle kills the server's process group.
            *column.slot.lock().await = Slot::Closed;
        }
    }

    /// Resolves once every cell of the column of `version` is done (at
    /// once when they are, or when there is no such column): no cell of it
    /// will fail after that.
    pub async fn drained(&self, version: &Version) {
        let Some(column) = self.columns.get(version) else {
            return;
        };
        let notified = column.drained.notified();
        tokio::pin!(notified);
        // Registered before the count is read, so a last cell done between
        // the two still wakes this.
        notified.as_mut().enable();
        if column.remaining.load(Ordering::Acquire) == 0 {
            return;
        }
        notified.await;
    }
}
