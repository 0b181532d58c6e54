//! An append-only list that lot states share: pushing copies nothing. A lot's state is cloned
//! for every record on it, so a `Vec` of its adjustments, assays or charges would be copied
//! whole each time (quadratic in a lot's history: every stock count of a busy lot would cost
//! more than the last).

use std::sync::Arc;

/// Items in the order pushed; `push` and `len` are O(1), reads walk the list.
pub struct History<T> {
    last: Option<Arc<Node<T>>>,
    len: usize,
}

struct Node<T> {
    item: T,
    prev: Option<Arc<Node<T>>>,
}

impl<T> History<T> {
    pub fn new() -> Self {
        History { last: None, len: 0 }
    }
    pub fn push(&mut self, item: T) {
        let prev = self.last.take();
        self.last = Some(Arc::new(Node { item, prev }));
        self.len += 1;
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Newest first, without collecting.
    pub fn newest_first(&self) -> impl Iterator<Item = &T> {
        std::iter::successors(self.last.as_deref(), |n| n.prev.as_deref()).map(|n| &n.item)
    }
    /// Oldest first.
    pub fn iter(&self) -> std::vec::IntoIter<&T> {
        let mut v: Vec<&T> = self.newest_first().collect();
        v.reverse();
        v.into_iter()
    }
    /// The item pushed last.
    pub fn last(&self) -> Option<&T> {
        self.last.as_deref().map(|n| &n.item)
    }
    pub fn contains(&self, x: &T) -> bool
    where
        T: PartialEq,
    {
        self.newest_first().any(|i| i == x)
    }
    /// The `i`-th item pushed (0: the first).
    pub fn get(&self, i: usize) -> Option<&T> {
        self.newest_first().nth(self.len.checked_sub(i + 1)?)
    }
}

impl<T> Clone for History<T> {
    fn clone(&self) -> Self {
        History {
            last: self.last.clone(),
            len: self.len,
        }
    }
}

/// Unlinks iteratively: the default drop would recurse once per item and overflow the stack on
/// a long history.
impl<T> Drop for History<T> {
    fn drop(&mut self) {
        let mut next = self.last.take();
        while let Some(node) = next {
            match Arc::try_unwrap(node) {
                Ok(mut n) => next = n.prev.take(),
                // Another history still holds the rest: it drops it.
                Err(_) => break,
            }
        }
    }
}

impl<T> Default for History<T> {
    fn default() -> Self {
        History::new()
    }
}

impl<T: PartialEq> PartialEq for History<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.newest_first().eq(other.newest_first())
    }
}
impl<T: Eq> Eq for History<T> {}

impl<T: std::fmt::Debug> std::fmt::Debug for History<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> FromIterator<T> for History<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut h = History::new();
        for i in items {
            h.push(i);
        }
        h
    }
}

impl<'a, T> IntoIterator for &'a History<T> {
    type Item = &'a T;
    type IntoIter = std::vec::IntoIter<&'a T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_shares_and_pushes_stay_apart() {
        let mut a: History<u32> = (0..5).collect();
        let b = a.clone();
        a.push(5);
        assert_eq!(
            a.iter().copied().collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4, 5]
        );
        assert_eq!(b.len(), 5);
        assert_eq!(b.get(0), Some(&0));
        assert_eq!(a.get(5), Some(&5));
        assert_eq!(a.get(6), None);
        assert_ne!(a, b);
        assert_eq!(a.iter().next_back(), Some(&5));
    }

    #[test]
    fn a_long_history_pushes_in_constant_time() {
        // 200,000 clone-and-push steps, as 200,000 records on one lot: quadratic would not end.
        let mut h: History<u64> = History::new();
        for i in 0..200_000 {
            let mut next = h.clone();
            next.push(i);
            h = next;
        }
        assert_eq!(h.len(), 200_000);
    }

    #[test]
    fn a_long_history_drops_without_recursing() {
        // A 256 KiB stack: a drop that recursed once per item would overflow it many times over.
        let t = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let h: History<u64> = (0..1_000_000).collect();
                let shared = h.clone();
                drop(h);
                assert_eq!(shared.len(), 1_000_000);
                drop(shared);
            })
            .expect("thread");
        assert!(t.join().is_ok());
    }
}
