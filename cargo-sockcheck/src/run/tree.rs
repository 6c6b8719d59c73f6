//! Each test's processes and threads: every tracee is mapped to the test
//! process it descends from, so a stop can be charged to its test, a test's
//! whole tree killed, and what a finished test left running found.
//!
//! Where a tracee comes from is read from `/proc` through [`Lineage`], so
//! the bookkeeping here is pure and tested on made-up trees.

use super::ptrace::Pid;
use crate::procinfo;
use std::collections::{HashMap, HashSet};

/// Where a thread or process comes from.
pub trait Lineage {
    /// The thread-group id (process id) of thread `tid`; `None` when gone.
    fn thread_group(&self, tid: Pid) -> Option<Pid>;
    /// The parent process of process `pid`; `None` when gone.
    fn parent(&self, pid: Pid) -> Option<Pid>;
}

/// The lineage the kernel reports in `/proc`.
pub struct Proc;

impl Lineage for Proc {
    fn thread_group(&self, tid: Pid) -> Option<Pid> {
        procinfo::thread_group(tid)
    }

    fn parent(&self, pid: Pid) -> Option<Pid> {
        procinfo::parent(pid)
    }
}

/// Longest chain of unknown ancestors followed before giving up.
const MAX_CHAIN: usize = 64;

/// The tracees of every running test.
pub struct ProcessTree {
    /// This process: its children are tests (known) or leftovers (not ours
    /// to place).
    tracer: Pid,
    /// Every traced thread or process → the test process it belongs to.
    owner: HashMap<Pid, Pid>,
    /// Tracees past their first stop.
    seen: HashSet<Pid>,
    /// Killed leftovers not yet reaped.
    dying: HashSet<Pid>,
    /// Tracees past their first stop whose creating event has not been
    /// seen: placed by their lineage before a test's tree is killed, since
    /// a parent killed at its fork event never reports it.
    unplaced: HashSet<Pid>,
}

impl ProcessTree {
    /// An empty tree for the tracer process `tracer`.
    pub fn new(tracer: Pid) -> ProcessTree {
        ProcessTree {
            tracer,
            owner: HashMap::new(),
            seen: HashSet::new(),
            dying: HashSet::new(),
            unplaced: HashSet::new(),
        }
    }

    /// A test process started, past its first stop.
    pub fn add_test(&mut self, test: Pid) {
        self.seen.insert(test);
        self.owner.insert(test, test);
    }

    /// True the first time it is asked for `tracee`: its stop is the first
    /// of a tracee auto-attached at fork or clone. One not placed yet is
    /// remembered until its creating event places it.
    pub fn first_stop(&mut self, tracee: Pid) -> bool {
        let first = self.seen.insert(tracee);
        if first && !self.owner.contains_key(&tracee) {
            self.unplaced.insert(tracee);
        }
        first
    }

    /// True when the test `tracee` belongs to is known: its creating event
    /// (or its lineage) placed it.
    pub fn is_placed(&self, tracee: Pid) -> bool {
        self.owner.contains_key(&tracee)
    }

    /// `parent` forked or cloned `child`: the child belongs to the parent's test.
    pub fn adopt(&mut self, parent: Pid, child: Pid, lineage: &impl Lineage) {
        self.unplaced.remove(&child);
        if let Some(test) = self.owner_of(parent, lineage) {
            self.owner.insert(child, test);
        }
    }

    /// Places every tracee whose creating event has not been seen, by its
    /// lineage: call before killing a test's tree, while its processes are
    /// alive to be asked about.
    pub fn place_unplaced(&mut self, lineage: &impl Lineage) {
        for tracee in std::mem::take(&mut self.unplaced) {
            self.owner_of(tracee, lineage);
        }
    }

    /// `tracee` is gone (reaped): forget it.
    pub fn ended(&mut self, tracee: Pid) {
        self.owner.remove(&tracee);
        self.seen.remove(&tracee);
        self.dying.remove(&tracee);
        self.unplaced.remove(&tracee);
    }

    /// The test a tracee belongs to. A tracee's events can be reported
    /// before the event that created it (waitpid reports newer tracees
    /// first), so one not seen yet is placed by its thread group, else by
    /// its parent process, and remembered.
    pub fn owner_of(&mut self, tracee: Pid, lineage: &impl Lineage) -> Option<Pid> {
        let mut chain = vec![tracee];
        let test = loop {
            let current = *chain.last()?;
            if let Some(&test) = self.owner.get(&current) {
                break test;
            }
            let up = match lineage.thread_group(current)? {
                tgid if tgid != current => tgid,
                _ => lineage.parent(current)?,
            };
            if up <= 1 || up == self.tracer || chain.len() > MAX_CHAIN {
                return None;
            }
            chain.push(up);
        };
        for member in chain {
            self.owner.insert(member, test);
        }
        Some(test)
    }

    /// The test whose own process `thread` is a thread of; `None` for a
    /// thread of a process the test started.
    pub fn test_of_thread(&mut self, thread: Pid, lineage: &impl Lineage) -> Option<Pid> {
        let test = self.owner_of(thread, lineage)?;
        (thread == test || lineage.thread_group(thread) == Some(test)).then_some(test)
    }

    /// Every tracee of `test`, itself included.
    pub fn members(&self, test: Pid) -> impl Iterator<Item = Pid> + '_ {
        self.owner
            .iter()
            .filter(move |&(_, &owner)| owner == test)
            .map(|(&tracee, _)| tracee)
    }

    /// Forgets every tracee of the finished `test` and returns the
    /// processes among them (threads are not returned): what the test left
    /// running.
    pub fn take_leftovers(&mut self, test: Pid, lineage: &impl Lineage) -> Vec<Pid> {
        let left: Vec<Pid> = self.members(test).collect();
        for tracee in &left {
            self.owner.remove(tracee);
        }
        left.into_iter()
            .filter(|&tracee| lineage.thread_group(tracee) == Some(tracee))
            .collect()
    }

    /// A leftover was killed; the run waits for it to be reaped.
    pub fn mark_dying(&mut self, process: Pid) {
        self.dying.insert(process);
    }

    /// True while killed leftovers have not been reaped.
    pub fn has_dying(&self) -> bool {
        !self.dying.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::{Lineage, Pid, ProcessTree};
    use std::collections::HashMap;

    const TRACER: Pid = 100;

    /// A made-up process table: tid → (thread group, parent of the group).
    struct Table(HashMap<Pid, (Pid, Pid)>);

    impl Lineage for Table {
        fn thread_group(&self, tid: Pid) -> Option<Pid> {
            self.0.get(&tid).map(|&(tgid, _)| tgid)
        }
        fn parent(&self, pid: Pid) -> Option<Pid> {
            self.0.get(&pid).map(|&(_, ppid)| ppid)
        }
    }

    /// Test 200 (a child of the tracer) with thread 201, child process 300
    /// with thread 301, grandchild 400; test 500 alone.
    fn table() -> Table {
        Table(HashMap::from([
            (200, (200, TRACER)),
            (201, (200, TRACER)),
            (300, (300, 200)),
            (301, (300, 200)),
            (400, (400, 300)),
            (500, (500, TRACER)),
            (600, (600, TRACER)),
        ]))
    }

    fn tree() -> ProcessTree {
        let mut tree = ProcessTree::new(TRACER);
        tree.add_test(200);
        tree.add_test(500);
        tree
    }

    #[test]
    fn a_tracee_reported_before_its_creation_is_placed_by_its_ancestry() {
        let mut tree = tree();
        let lineage = table();
        // 301 and 400 stop before the clone/fork events that made them.
        assert_eq!(tree.owner_of(301, &lineage), Some(200));
        assert_eq!(tree.owner_of(400, &lineage), Some(200));
        assert_eq!(tree.owner_of(500, &lineage), Some(500));
        // A child of the tracer that is no test (a leftover) is nobody's.
        assert_eq!(tree.owner_of(600, &lineage), None);
        // Gone from /proc and unknown: nobody's.
        assert_eq!(tree.owner_of(999, &lineage), None);
    }

    #[test]
    fn forks_are_charged_to_the_parent_s_test() {
        let mut tree = tree();
        let lineage = Table(HashMap::new());
        tree.adopt(200, 300, &lineage);
        tree.adopt(300, 400, &lineage);
        tree.adopt(999, 998, &lineage);
        assert_eq!(tree.owner_of(400, &lineage), Some(200));
        assert_eq!(tree.owner_of(998, &lineage), None);
    }

    #[test]
    fn only_threads_of_the_test_process_itself_are_the_test_s() {
        let mut tree = tree();
        let lineage = table();
        assert_eq!(tree.test_of_thread(200, &lineage), Some(200));
        assert_eq!(tree.test_of_thread(201, &lineage), Some(200));
        assert_eq!(tree.test_of_thread(300, &lineage), None);
        assert_eq!(tree.test_of_thread(301, &lineage), None);
    }

    #[test]
    fn leftovers_are_the_processes_of_a_finished_test_not_its_threads() {
        let mut tree = tree();
        let lineage = table();
        for tracee in [201, 300, 301, 400] {
            tree.owner_of(tracee, &lineage);
        }
        tree.ended(200);
        let mut left = tree.take_leftovers(200, &lineage);
        left.sort_unstable();
        assert_eq!(left, [300, 400]);
        assert_eq!(tree.members(200).count(), 0);
        assert_eq!(tree.members(500).collect::<Vec<_>>(), [500]);
        tree.mark_dying(300);
        assert!(tree.has_dying());
        tree.ended(300);
        assert!(!tree.has_dying());
    }

    #[test]
    fn a_child_whose_fork_event_never_came_is_placed_before_a_kill() {
        let mut tree = tree();
        let lineage = table();
        // 300 stopped first; its parent was killed at the fork event.
        assert!(tree.first_stop(300));
        assert_eq!(tree.members(200).count(), 1);
        tree.place_unplaced(&lineage);
        let mut members: Vec<Pid> = tree.members(200).collect();
        members.sort_unstable();
        assert_eq!(members, [200, 300]);
        // Placed by its event instead: nothing left to place.
        let mut tree = super::ProcessTree::new(TRACER);
        tree.add_test(200);
        assert!(tree.first_stop(300));
        tree.adopt(200, 300, &lineage);
        tree.place_unplaced(&Table(HashMap::new()));
        assert_eq!(tree.members(200).count(), 2);
    }

    #[test]
    fn a_tracee_s_first_stop_is_told_once() {
        let mut tree = tree();
        assert!(!tree.first_stop(200), "a test is past its first stop");
        assert!(tree.first_stop(300));
        assert!(!tree.first_stop(300));
        tree.ended(300);
        assert!(tree.first_stop(300), "a reused pid starts again");
    }
}
