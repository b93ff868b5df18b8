//! Load order: parents before the tables that reference them, so that foreign keys can be
//! checked row by row; tables in a cycle of foreign keys (or referencing themselves) are
//! reported so the import can defer the checks for them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The order to load `deps.len()` tables in, where `deps[t]` lists the tables `t` references
/// (itself included when it does). Ties go to the lower index (the catalog's order), so the
/// order is the same every time. Returns the order and, per table, the other tables in its
/// cycle (empty when it is in none).
pub(super) fn load_order(deps: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let comps = components(deps);
    let mut comp_of = vec![0; deps.len()];
    for (c, members) in comps.iter().enumerate() {
        for &m in members {
            comp_of[m] = c;
        }
    }
    let order = kahn(deps, &comps, &comp_of);
    let cycles = (0..deps.len())
        .map(|t| comps[comp_of[t]].iter().copied().filter(|&m| m != t).collect())
        .collect();
    (order, cycles)
}

/// Topological order of the components (parents first), ready components by lowest member.
fn kahn(deps: &[Vec<usize>], comps: &[Vec<usize>], comp_of: &[usize]) -> Vec<usize> {
    let mut waiting = vec![0usize; comps.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); comps.len()];
    for (t, ds) in deps.iter().enumerate() {
        for &d in ds {
            let (child, parent) = (comp_of[t], comp_of[d]);
            if child != parent {
                waiting[child] += 1;
                dependents[parent].push(child);
            }
        }
    }
    let first = |c: usize| comps[c][0];
    let mut ready: BinaryHeap<Reverse<(usize, usize)>> =
        (0..comps.len()).filter(|&c| waiting[c] == 0).map(|c| Reverse((first(c), c))).collect();
    let mut order = Vec::with_capacity(deps.len());
    while let Some(Reverse((_, c))) = ready.pop() {
        order.extend(&comps[c]);
        for &d in &dependents[c] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(Reverse((first(d), d)));
            }
        }
    }
    order
}

/// Strongly connected components (Tarjan's algorithm, without recursion so that a long chain
/// of tables cannot overflow the stack), each sorted.
fn components(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut t = Tarjan {
        index: vec![usize::MAX; deps.len()],
        low: vec![0; deps.len()],
        on_stack: vec![false; deps.len()],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for root in 0..deps.len() {
        if t.index[root] == usize::MAX {
            t.visit(root, deps);
        }
    }
    t.out
}

struct Tarjan {
    index: Vec<usize>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
    out: Vec<Vec<usize>>,
}

impl Tarjan {
    fn enter(&mut self, v: usize) {
        self.index[v] = self.next;
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
    }

    fn visit(&mut self, root: usize, deps: &[Vec<usize>]) {
        self.enter(root);
        let mut calls = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut i)) = calls.last_mut() {
            if let Some(&w) = deps[v].get(*i) {
                *i += 1;
                if self.index[w] == usize::MAX {
                    self.enter(w);
                    calls.push((w, 0));
                } else if self.on_stack[w] {
                    self.low[v] = self.low[v].min(self.index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(u, _)) = calls.last() {
                self.low[u] = self.low[u].min(self.low[v]);
            }
            if self.low[v] == self.index[v] {
                self.pop_component(v);
            }
        }
    }

    fn pop_component(&mut self, v: usize) {
        let mut comp = Vec::new();
        while let Some(w) = self.stack.pop() {
            self.on_stack[w] = false;
            comp.push(w);
            if w == v {
                break;
            }
        }
        comp.sort_unstable();
        self.out.push(comp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_load_first_and_ties_keep_catalog_order() {
        // 0 → 2, 1 → 2, 2 → nothing, 3 → 0
        let (order, cycles) = load_order(&[vec![2], vec![2], vec![], vec![0]]);
        assert_eq!(order, vec![2, 0, 1, 3]);
        assert!(cycles.iter().all(Vec::is_empty));
    }

    #[test]
    fn cycles_are_loaded_together_and_reported_with_their_members() {
        // 0 ↔ 1 (a cycle), 2 → itself, 3 → 1
        let (order, cycles) = load_order(&[vec![1], vec![0], vec![2], vec![1]]);
        assert_eq!(order, vec![0, 1, 2, 3]);
        assert_eq!(cycles, vec![vec![1], vec![0], vec![], vec![]]);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 100_000;
        let deps: Vec<Vec<usize>> =
            (0..n).map(|i| if i + 1 < n { vec![i + 1] } else { vec![] }).collect();
        let (order, _) = load_order(&deps);
        assert_eq!(order.first(), Some(&(n - 1)));
        assert_eq!(order.last(), Some(&0));
    }
}
