//! A map for the handful of entries a device holds at once (its running
//! attempts, its loaded models): a vector scanned linearly — no node
//! allocation per insert, one cache line for the common case.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmallMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap {
            entries: Vec::new(),
        }
    }
}

impl<K: PartialEq + Copy, V: Copy> SmallMap<K, V> {
    /// Set `k` to `v`; the previous value, if any.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        match self.entries.iter_mut().find(|e| e.0 == k) {
            Some(e) => Some(std::mem::replace(&mut e.1, v)),
            None => {
                self.entries.push((k, v));
                None
            }
        }
    }
    pub fn get(&self, k: &K) -> Option<&V> {
        self.entries.iter().find(|e| e.0 == *k).map(|e| &e.1)
    }
    pub fn contains_key(&self, k: &K) -> bool {
        self.get(k).is_some()
    }
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let i = self.entries.iter().position(|e| e.0 == *k)?;
        Some(self.entries.swap_remove(i).1)
    }
    /// The entry for `k`, inserted with `default` when absent.
    pub fn entry_or(&mut self, k: K, default: V) -> &mut V {
        let i = match self.entries.iter().position(|e| e.0 == k) {
            Some(i) => i,
            None => {
                self.entries.push((k, default));
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }
    pub fn clear(&mut self) {
        self.entries.clear();
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_map() {
        let mut m = SmallMap::default();
        assert_eq!(m.insert(1, 'a'), None);
        assert_eq!(m.insert(2, 'b'), None);
        assert_eq!(m.insert(1, 'c'), Some('a'));
        assert_eq!(m.get(&1), Some(&'c'));
        assert_eq!(m.remove(&1), Some('c'));
        assert!(!m.contains_key(&1) && m.contains_key(&2));
        *m.entry_or(3, 'x') = 'y';
        assert_eq!(m.get(&3), Some(&'y'));
        assert_eq!(m.len(), 2);
        m.clear();
        assert!(m.is_empty());
    }
}
