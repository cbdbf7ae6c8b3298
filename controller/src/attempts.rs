//! The attempts of one instance, almost always exactly one: kept inline in
//! the instance (no allocation, no second cache line to fetch) until a
//! relaunch or retry adds another. Reads as a slice; serializes as the
//! list it is (same JSON as a `Vec`).

use crate::core::Attempt;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Attempts {
    #[default]
    None,
    One([Attempt; 1]),
    Many(Vec<Attempt>),
}

impl Attempts {
    pub fn push(&mut self, a: Attempt) {
        *self = match std::mem::take(self) {
            Attempts::None => Attempts::One([a]),
            Attempts::One([first]) => Attempts::Many(vec![first, a]),
            Attempts::Many(mut v) => {
                v.push(a);
                Attempts::Many(v)
            }
        };
    }
}

impl std::ops::Deref for Attempts {
    type Target = [Attempt];
    fn deref(&self) -> &[Attempt] {
        match self {
            Attempts::None => &[],
            Attempts::One(a) => a,
            Attempts::Many(v) => v,
        }
    }
}

impl std::ops::DerefMut for Attempts {
    fn deref_mut(&mut self) -> &mut [Attempt] {
        match self {
            Attempts::None => &mut [],
            Attempts::One(a) => a,
            Attempts::Many(v) => v,
        }
    }
}

impl From<Vec<Attempt>> for Attempts {
    fn from(v: Vec<Attempt>) -> Attempts {
        let mut a = Attempts::None;
        for x in v {
            a.push(x);
        }
        a
    }
}

impl Serialize for Attempts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Attempts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Attempts, D::Error> {
        Vec::<Attempt>::deserialize(d).map(Attempts::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Executor, WorkerId};
    use crate::time::Micros;

    #[test]
    fn reads_and_serializes_like_a_vec() {
        let at = |n: u32| Attempt {
            executor: Executor::Worker {
                worker: WorkerId(n),
            },
            started: Micros(u64::from(n)),
            live: n.is_multiple_of(2),
            check: Default::default(),
        };
        let mut a = Attempts::default();
        let mut v: Vec<Attempt> = Vec::new();
        for n in 0..4 {
            assert_eq!(&a[..], &v[..]);
            let json = serde_json::to_string(&a).unwrap_or_default();
            assert_eq!(json, serde_json::to_string(&v).unwrap_or_default());
            let back: Attempts = serde_json::from_str(&json).expect("round trip");
            assert_eq!(back, a);
            a.push(at(n));
            v.push(at(n));
        }
        a[1].live = true;
        assert!(a.iter().filter(|x| x.live).count() == 3);
    }
}
