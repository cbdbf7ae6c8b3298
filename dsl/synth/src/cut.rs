//! Minimum s–t cuts (Dinic's maximum flow), for the exact minimum of a
//! binary energy whose pairwise terms are submodular (Kolmogorov–Zabih):
//! the edge-or-cloud collapse of a separable metric in [`crate::bounds`].
//!
//! The forest bound charges every edge outside its spanning forest at the
//! producer's cheapest modality, which a task with several inputs makes
//! weak (a consumer in the cloud pays no radio for an input the forest
//! keeps on a drone); the cut sees every edge at once, exactly, at the
//! price of merging the two cloud modalities.

/// A flow network with `u128` capacities: node 0 is the source, node 1 the sink.
pub(crate) struct Network {
    /// Per node, its arcs' indices in `to` / `cap`.
    adj: Vec<Vec<usize>>,
    to: Vec<usize>,
    cap: Vec<u128>,
}

pub(crate) const SOURCE: usize = 0;
pub(crate) const SINK: usize = 1;

impl Network {
    /// A network with `nodes` nodes besides the source and the sink
    /// (numbered from 2).
    pub fn new(nodes: usize) -> Self {
        Network {
            adj: vec![Vec::new(); nodes + 2],
            to: Vec::new(),
            cap: Vec::new(),
        }
    }

    /// An arc `from → to` of capacity `cap` (and its residual twin).
    pub fn arc(&mut self, from: usize, to: usize, cap: u128) {
        if cap == 0 || from == to {
            return;
        }
        self.adj[from].push(self.to.len());
        self.to.push(to);
        self.cap.push(cap);
        self.adj[to].push(self.to.len());
        self.to.push(from);
        self.cap.push(0);
    }

    /// The maximum flow from the source to the sink (= the minimum cut),
    /// saturating at `u128::MAX`.
    pub fn max_flow(&mut self) -> u128 {
        let n = self.adj.len();
        let mut total = 0u128;
        let mut level = vec![usize::MAX; n];
        let mut next = vec![0usize; n];
        let mut queue = Vec::with_capacity(n);
        loop {
            level.fill(usize::MAX);
            level[SOURCE] = 0;
            queue.clear();
            queue.push(SOURCE);
            let mut head = 0;
            while head < queue.len() {
                let v = queue[head];
                head += 1;
                for &a in &self.adj[v] {
                    let w = self.to[a];
                    if self.cap[a] > 0 && level[w] == usize::MAX {
                        level[w] = level[v] + 1;
                        queue.push(w);
                    }
                }
            }
            if level[SINK] == usize::MAX {
                return total;
            }
            next.fill(0);
            loop {
                let pushed = self.augment(&level, &mut next);
                if pushed == 0 {
                    break;
                }
                total = total.saturating_add(pushed);
            }
        }
    }

    /// After [`Network::max_flow`]: which nodes the source still reaches
    /// in the residual network (the source side of a minimum cut).
    pub fn source_side(&self) -> Vec<bool> {
        let mut seen = vec![false; self.adj.len()];
        seen[SOURCE] = true;
        let mut stack = vec![SOURCE];
        while let Some(v) = stack.pop() {
            for &a in &self.adj[v] {
                let w = self.to[a];
                if self.cap[a] > 0 && !seen[w] {
                    seen[w] = true;
                    stack.push(w);
                }
            }
        }
        seen
    }

    /// One blocking-flow path by iterative depth-first search along the
    /// level graph; the flow pushed (0: none left in this phase).
    fn augment(&mut self, level: &[usize], next: &mut [usize]) -> u128 {
        // The arcs of the current path from the source.
        let mut path: Vec<usize> = Vec::new();
        let mut v = SOURCE;
        loop {
            if v == SINK {
                let pushed = path.iter().map(|&a| self.cap[a]).min().unwrap_or(0);
                for &a in &path {
                    self.cap[a] -= pushed;
                    self.cap[a ^ 1] = self.cap[a ^ 1].saturating_add(pushed);
                }
                return pushed;
            }
            let mut advanced = false;
            while next[v] < self.adj[v].len() {
                let a = self.adj[v][next[v]];
                let w = self.to[a];
                if self.cap[a] > 0 && level[w] == level[v] + 1 {
                    path.push(a);
                    v = w;
                    advanced = true;
                    break;
                }
                next[v] += 1;
            }
            if !advanced {
                // Dead end: retreat, and skip the arc that led here.
                let Some(a) = path.pop() else {
                    return 0;
                };
                v = self.to[a ^ 1];
                next[v] += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Max flow equals the minimum over every s–t cut, on small random networks.
    #[test]
    fn max_flow_is_the_minimum_cut() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut rand = |k: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % k
        };
        for case in 0..300 {
            let nodes = 1 + rand(6) as usize;
            let total = nodes + 2;
            let mut arcs = Vec::new();
            for _ in 0..rand(20) {
                let (a, b) = (rand(total as u64) as usize, rand(total as u64) as usize);
                arcs.push((a, b, u128::from(rand(50))));
            }
            let mut net = Network::new(nodes);
            for &(a, b, c) in &arcs {
                net.arc(a, b, c);
            }
            let flow = net.max_flow();
            let best = (0u32..1 << nodes)
                .map(|mask| {
                    let side = |v: usize| match v {
                        SOURCE => true,
                        SINK => false,
                        _ => mask & (1 << (v - 2)) != 0,
                    };
                    arcs.iter()
                        .filter(|&&(a, b, _)| a != b && side(a) && !side(b))
                        .map(|&(_, _, c)| c)
                        .sum::<u128>()
                })
                .min()
                .unwrap_or(0);
            assert_eq!(flow, best, "case {case}: {arcs:?}");
        }
    }
}
