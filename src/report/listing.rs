//! How long listings are cut: the first few items are listed, the rest
//! counted, `… and 3 more (2 close-wait, 1 udp)`. Every renderer lists
//! leaks and tests through [`Capped`] with the limits here, so a long run
//! reads the same in every format.

use super::words::counted;
use crate::leak::{Leak, LeakKind};
use std::borrow::Borrow;

/// Leaks listed per test before the rest are counted by kind.
pub const MAX_LEAKS_LISTED: usize = 10;

/// Items listed per section of a report (leaking tests, failed tests,
/// outputs, a baseline's new and fixed leaks) before the rest are counted.
pub const MAX_LISTED: usize = 50;

/// A listing cut at a limit: the items to list and the rest to count.
#[derive(Debug, Clone, Copy)]
pub struct Capped<'a, T> {
    /// The first items, at most the limit.
    pub listed: &'a [T],
    /// The items past the limit, to be counted, not listed.
    pub rest: &'a [T],
}

impl<'a, T> Capped<'a, T> {
    /// `items` cut after the first `limit`.
    pub fn new(items: &'a [T], limit: usize) -> Capped<'a, T> {
        let (listed, rest) = items.split_at(limit.min(items.len()));
        Capped { listed, rest }
    }

    /// `… and 3 more`, or `None` when nothing was cut.
    pub fn and_more(&self) -> Option<String> {
        (!self.rest.is_empty()).then(|| format!("… and {} more", self.rest.len()))
    }

    /// `… and 3 more leaking tests` (`noun` counted), or `None` when nothing was cut.
    pub fn and_more_counted(&self, noun: &str) -> Option<String> {
        let more = format!("more {noun}");
        (!self.rest.is_empty()).then(|| format!("… and {}", counted(self.rest.len(), &more)))
    }
}

impl<'a, L: Borrow<Leak>> Capped<'a, L> {
    /// Leaks (`Leak`s or `&Leak`s) cut at [`MAX_LEAKS_LISTED`].
    pub fn leaks(leaks: &'a [L]) -> Capped<'a, L> {
        Capped::new(leaks, MAX_LEAKS_LISTED)
    }

    /// `… and 3 more (2 close-wait, 1 udp)`, or `None` when nothing was cut.
    pub fn and_more_by_kind(&self) -> Option<String> {
        let more = self.and_more()?;
        let rest = self.rest.iter().map(Borrow::borrow);
        Some(format!("{more} ({})", count_by_kind(rest)))
    }
}

/// `3 close-wait, 2 listen`: how many of `leaks` are of each kind, in
/// [`LeakKind::ALL`] order.
pub fn count_by_kind<'a>(leaks: impl IntoIterator<Item = &'a Leak>) -> String {
    count_kinds(leaks.into_iter().map(|leak| leak.kind))
}

/// The kinds of `leaks`, each once, in [`LeakKind::ALL`] order: the kinds
/// whose fix ([`LeakKind::fix`]) a report shows.
pub fn kinds_present<'a>(leaks: impl IntoIterator<Item = &'a Leak>) -> Vec<LeakKind> {
    let present: Vec<LeakKind> = leaks.into_iter().map(|leak| leak.kind).collect();
    LeakKind::ALL
        .into_iter()
        .filter(|kind| present.contains(kind))
        .collect()
}

/// `3 close-wait, 2 listen`: how many of `kinds` are each kind, in
/// [`LeakKind::ALL`] order.
pub fn count_kinds(kinds: impl IntoIterator<Item = LeakKind>) -> String {
    let mut counts = [0usize; LeakKind::ALL.len()];
    for kind in kinds {
        if let Some(i) = LeakKind::ALL.iter().position(|k| *k == kind) {
            counts[i] += 1;
        }
    }
    LeakKind::ALL
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_listing_is_not_cut() {
        let items = [1, 2, 3];
        let capped = Capped::new(&items, 3);
        assert_eq!(capped.listed, [1, 2, 3]);
        assert!(capped.rest.is_empty());
        assert_eq!(capped.and_more(), None);
    }

    #[test]
    fn a_long_listing_counts_the_rest_in_words() {
        let items = [1, 2, 3, 4];
        let capped = Capped::new(&items, 2);
        assert_eq!(capped.listed, [1, 2]);
        assert_eq!(capped.and_more().as_deref(), Some("… and 2 more"));
        assert_eq!(
            Capped::new(&items, 3)
                .and_more_counted("failed test")
                .as_deref(),
            Some("… and 1 more failed test")
        );
    }
}
