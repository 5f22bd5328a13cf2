//! A value that can change while the process runs (the settings an owner edits in the admin):
//! shared by the parts that read it, replaced whole, read without a lock on every page.

use std::sync::Arc;

/// A shared, replaceable value. Clones share it: a [`Live::set`] is seen by every clone.
pub struct Live<T>(Arc<arc_swap::ArcSwap<T>>);

impl<T> Live<T> {
    pub fn new(value: T) -> Live<T> {
        Live(Arc::new(arc_swap::ArcSwap::from_pointee(value)))
    }

    /// The value now. A reader keeps the value it took for as long as it holds it, even when the
    /// value is replaced meanwhile.
    pub fn get(&self) -> Arc<T> {
        self.0.load_full()
    }

    pub fn set(&self, value: T) {
        self.0.store(Arc::new(value));
    }
}

impl<T> Clone for Live<T> {
    fn clone(&self) -> Self {
        Live(self.0.clone())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Live").field(&self.get()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_see_a_replacement_and_holders_keep_theirs() {
        let a = Live::new(1);
        let b = a.clone();
        let held = a.get();
        b.set(2);
        assert_eq!((*a.get(), *held), (2, 1));
    }
}
