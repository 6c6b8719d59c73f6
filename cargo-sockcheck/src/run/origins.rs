//! What a finished test's leaks are told about where they come from: the
//! call that opened each leaked socket (or started each leftover process)
//! and the thread creations that led to it, symbolized now that it is
//! known to be leaked, and the threads that were blocked on it, with where
//! they were spawned.

use super::holders::Holder;
use super::ptrace::Pid;
use crate::stack::capture::{RawCall, TestSites};
use crate::stack::symbolize::Symbolizer;
use crate::stack::{RawSpawns, RawStack};
use sockcheck::leak::{Leak, LeakKind};
use sockcheck::site::{HoldingThread, Origin, Spawn};
use std::collections::HashMap;
use std::sync::Arc;

/// Longest chain of thread creations written out: past it, a thread pool
/// spawning itself would only repeat.
const MAX_SPAWNS: usize = 64;

/// Fills in `opened` and `held_by` of the leaks of test process `test`
/// from what was recorded while it ran. A socket created before the test
/// started (inherited) or by an untraced path gets no origin: nothing is
/// said rather than something false.
pub fn annotate(
    leaks: &mut [Leak],
    test: Pid,
    sites: &TestSites,
    holders: &HashMap<u64, Vec<Holder>>,
    symbolizer: &mut Symbolizer,
) {
    // Leaks opened by the same call (10,000 sockets from one loop) share
    // one stack: it is symbolized once. Each leak keeps the whole origin, so
    // that a reader of one leak never has to find another's stack.
    let mut origins: HashMap<CallKey, Origin> = HashMap::new();
    for leak in leaks {
        if let Some(threads) = holders.get(&leak.socket.inode) {
            leak.held_by = threads
                .iter()
                .map(|holder| holding_thread(holder, symbolizer))
                .collect();
        }
        let inode = leak.socket.inode;
        let process = leak.socket.pid as Pid;
        let call = match leak.kind {
            // Where the test started the process that still holds it.
            LeakKind::Orphan => sites
                .spawn(process, test)
                .map(|stack| (stack, sites.spawn_spawns(process, test)))
                .or_else(|| Some((sites.socket(inode)?, sites.socket_spawns(inode)))),
            _ => sites
                .socket(inode)
                .map(|stack| (stack, sites.socket_spawns(inode))),
        };
        let Some((stack, spawns)) = call else {
            continue;
        };
        let origin = origins
            .entry(CallKey::new(stack, spawns))
            .or_insert_with(|| {
                let spawned_by = spawns_of(spawns.map(Arc::as_ref), symbolizer);
                symbolizer.symbolize(stack).spawned_by(spawned_by)
            });
        leak.opened = Some(origin.clone());
    }
}

/// A recorded call as a map key, for work done once per call: the very
/// stack and spawn chain it holds, compared by identity (the key keeps both
/// alive, so no address is reused while it is in the map).
#[derive(Debug)]
pub struct CallKey(Arc<RawStack>, Option<Arc<RawSpawns>>);

impl CallKey {
    /// The key of the call with `stack`, made on a thread that `spawns` led to.
    pub fn new(stack: &Arc<RawStack>, spawns: Option<&Arc<RawSpawns>>) -> CallKey {
        CallKey(Arc::clone(stack), spawns.cloned())
    }

    fn addresses(&self) -> (*const RawStack, *const RawSpawns) {
        let spawns = self.1.as_ref().map_or(std::ptr::null(), Arc::as_ptr);
        (Arc::as_ptr(&self.0), spawns)
    }
}

impl PartialEq for CallKey {
    fn eq(&self, other: &CallKey) -> bool {
        self.addresses() == other.addresses()
    }
}

impl Eq for CallKey {}

impl std::hash::Hash for CallKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.addresses().hash(state);
    }
}

/// The origin of a recorded call: its stack and the thread creations that
/// led to it, symbolized.
pub fn origin(call: &RawCall, symbolizer: &mut Symbolizer) -> Origin {
    let spawned_by = spawns_of(call.spawns.as_deref(), symbolizer);
    symbolizer.symbolize(&call.stack).spawned_by(spawned_by)
}

/// The thread creations of `spawns`, symbolized, innermost first.
fn spawns_of(spawns: Option<&RawSpawns>, symbolizer: &mut Symbolizer) -> Vec<Spawn> {
    let stacks = spawns.into_iter().flat_map(RawSpawns::stacks);
    stacks
        .take(MAX_SPAWNS)
        .map(|stack| {
            let origin = symbolizer.symbolize(stack);
            Spawn::new(origin.syscall, origin.stack)
        })
        .collect()
}

/// A holder as reported: where it was spawned, and whether its name is
/// only the one it inherited from its spawner.
fn holding_thread(holder: &Holder, symbolizer: &mut Symbolizer) -> HoldingThread {
    let spawns = holder.spawns.as_deref();
    let unnamed = spawns.is_some_and(|spawns| *spawns.inherited_name == holder.thread.name);
    let mut thread = holder
        .thread
        .clone()
        .spawned_by(spawns_of(spawns, symbolizer));
    thread.unnamed = unnamed;
    thread
}
