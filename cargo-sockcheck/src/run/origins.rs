//! What a finished test's leaks are told about where they come from: the
//! call that opened each leaked socket (or started each leftover process),
//! symbolized now that it is known to be leaked, and the threads that were
//! blocked on it.

use super::ptrace::Pid;
use crate::stack::capture::TestSites;
use crate::stack::symbolize::Symbolizer;
use crate::stack::RawStack;
use sockcheck::leak::{Leak, LeakKind};
use sockcheck::site::{HoldingThread, Origin};
use std::collections::hash_map::{Entry, HashMap};
use std::sync::Arc;

/// Fills in `opened` and `held_by` of the leaks of test process `test`
/// from what was recorded while it ran. A socket created before the test
/// started (inherited) or by an untraced path gets no origin: nothing is
/// said rather than something false.
pub fn annotate(
    leaks: &mut [Leak],
    test: Pid,
    sites: &TestSites,
    holders: &HashMap<u64, Vec<HoldingThread>>,
    symbolizer: &mut Symbolizer,
) {
    // Leaks opened by the same call (10,000 sockets from one loop) share
    // one stack: it is symbolized once and written out in full once; the
    // others keep the site and say where the stack is.
    let mut origins: HashMap<*const RawStack, (Origin, Option<Origin>)> = HashMap::new();
    for leak in leaks {
        if let Some(threads) = holders.get(&leak.socket.inode) {
            leak.held_by = threads.clone();
        }
        let stack = match leak.kind {
            // Where the test started the process that still holds it.
            LeakKind::Orphan => sites
                .spawn(leak.socket.pid as Pid, test)
                .or_else(|| sites.socket(leak.socket.inode)),
            _ => sites.socket(leak.socket.inode),
        };
        let Some(stack) = stack else {
            continue;
        };
        leak.opened = Some(match origins.entry(Arc::as_ptr(stack)) {
            Entry::Vacant(entry) => {
                let origin = symbolizer.symbolize(stack);
                entry.insert((origin.clone(), None));
                origin
            }
            Entry::Occupied(mut entry) => {
                let (full, short) = entry.get_mut();
                short.get_or_insert_with(|| without_stack(full)).clone()
            }
        });
    }
}

/// `origin` for a further leak opened by the same call: the site and what
/// limits it, and a pointer to the leak that has the whole stack.
fn without_stack(origin: &Origin) -> Origin {
    let mut short = origin.clone();
    short.stack.clear();
    let pointer = SAME_STACK.to_owned();
    short.note = Some(match &origin.note {
        Some(note) => format!("{note}; {pointer}"),
        None => pointer,
    });
    short
}

/// The note on the origin of a leak whose call stack is written out with
/// an earlier leak of the same test.
const SAME_STACK: &str = "same call stack as the first leak of this test opened here";
