//! Which of a test's leaked sockets an allow-sockets rule (or a known pool)
//! allows by where they were created. Each socket is decided once, from its
//! whole creation chain (its stack and the thread creations that led to
//! it), and remembered for the test: the linger does not
//! wait for allowed sockets (they stay open by design), and the record sets
//! them aside.

use super::origins::{self, CallKey};
use crate::stack::capture::TestSites;
use crate::stack::symbolize::Symbolizer;
use sockcheck::allow::{self, AllowSocket};
use sockcheck::leak::{Holder, Leak, Severity};
use sockcheck::policy::{classify, lingers_for, Level, Policy};
use sockcheck::report::TestRecord;
use sockcheck::socket::Socket;
use std::collections::hash_map::{Entry, HashMap};

/// The decisions made so far for one test, by socket inode, and by call:
/// sockets opened by the same call on the same thread (10,000 from one
/// loop) share one stack and one spawn chain, symbolized and matched once.
#[derive(Debug, Default)]
pub struct AllowedSockets {
    decided: HashMap<u64, Option<AllowSocket>>,
    by_call: HashMap<CallKey, Option<AllowSocket>>,
    /// The allowed sockets of the first look, at the test's exit: the ones
    /// reported, whatever closed while the linger waited for other leaks,
    /// so that the count does not depend on the linger.
    at_exit: Option<Vec<Leak>>,
}

impl AllowedSockets {
    /// The rule that allows the socket `inode`, from the call `sites`
    /// recorded for it: its stack and the spawn chain of its thread, so a
    /// socket made on a thread that a static's initializer spawned is
    /// known as shared while the linger runs, as it is in the record.
    /// Without a recorded call, none, and nothing is decided yet:
    /// the call that created the socket may not have been seen returning
    /// when the test is first looked at.
    fn rule_for(
        &mut self,
        inode: u64,
        policy: &Policy,
        sites: Option<&TestSites>,
        symbolizer: &mut Symbolizer,
    ) -> Option<&AllowSocket> {
        match self.decided.entry(inode) {
            Entry::Occupied(decided) => decided.into_mut().as_ref(),
            Entry::Vacant(undecided) => {
                let call = sites?.socket_call(inode)?;
                let rule = self
                    .by_call
                    .entry(CallKey::new(&call.stack, call.spawns.as_ref()))
                    .or_insert_with(|| {
                        let origin = origins::origin(call, symbolizer);
                        policy.allowed_by(Some(&origin)).cloned()
                    });
                undecided.insert(rule.clone()).as_ref()
            }
        }
    }

    /// True while `sockets` hold a leak the linger waits for
    /// ([`lingers_for`]) that no rule allows.
    pub fn lingers_for(
        &mut self,
        sockets: &[Socket],
        policy: &Policy,
        sites: Option<&TestSites>,
        symbolizer: &mut Symbolizer,
    ) -> bool {
        let (allowed, leaks): (Vec<Leak>, Vec<Leak>) = classify(sockets, Holder::Test, policy)
            .into_iter()
            .partition(|leak| {
                self.rule_for(leak.socket.inode, policy, sites, symbolizer)
                    .is_some()
            });
        self.at_exit.get_or_insert(allowed);
        lingers_for(&leaks)
    }

    /// Puts back into `record` the allowed sockets seen at the test's exit
    /// that closed while the linger waited, so that they are set aside and
    /// counted as in a run without linger.
    pub fn restore_at_exit(&mut self, record: &mut TestRecord) {
        for leak in self.at_exit.take().unwrap_or_default() {
            let inode = leak.socket.inode;
            if !record.leaks.iter().any(|kept| kept.socket.inode == inode) {
                record.leaks.push(leak);
            }
        }
    }

    /// Moves the allowed leaks of `record` to its `allowed`: by the origin
    /// each was given (its whole chain, spawns included; for an orphan,
    /// where its process was started), else by the stack recorded for its
    /// socket.
    pub fn set_aside(
        &mut self,
        record: &mut TestRecord,
        policy: &Policy,
        sites: &TestSites,
        symbolizer: &mut Symbolizer,
    ) {
        let mut rules: Vec<Option<AllowSocket>> = Vec::with_capacity(record.leaks.len());
        for leak in &record.leaks {
            let rule = match &leak.opened {
                Some(origin) => policy.allowed_by(Some(origin)).cloned(),
                None => self
                    .rule_for(leak.socket.inode, policy, Some(sites), symbolizer)
                    .cloned(),
            };
            rules.push(rule);
        }
        let mut rules = rules.into_iter();
        let allowed = allow::set_aside_by(&mut record.leaks, |_: &Leak| rules.next().flatten());
        record.allowed.extend(allowed);
        // `--warn shared`: what is shared by design stays a leak, a warning.
        if policy.shared_level() == Level::Warn {
            for leak in &mut record.leaks {
                if leak
                    .opened
                    .as_ref()
                    .and_then(allow::shared_initializer)
                    .is_some()
                {
                    leak.severity = Severity::Warning;
                }
            }
        }
    }
}
