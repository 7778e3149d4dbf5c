//! Address pools: private addresses from 10.0.0.0/8, public ones from the
//! documentation ranges (RFC 5737), so that no fake address is routable.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

/// A pool of IPv4 addresses. Fresh addresses are handed out first, then
/// released ones in the order they were released, so an address that was
/// just given back is the last to be reused.
#[derive(Debug, Clone)]
pub(crate) struct AddressPool {
    ranges: Vec<RangeInclusive<u32>>,
    range: usize,
    next: u32,
    released: VecDeque<u32>,
}

impl AddressPool {
    pub(crate) fn new(ranges: &[(Ipv4Addr, Ipv4Addr)]) -> Self {
        let ranges: Vec<RangeInclusive<u32>> = ranges
            .iter()
            .map(|(a, b)| u32::from(*a)..=u32::from(*b))
            .collect();
        let next = *ranges[0].start();
        Self {
            ranges,
            range: 0,
            next,
            released: VecDeque::new(),
        }
    }

    /// 10.0.0.1 – 10.255.255.254.
    pub(crate) fn private() -> Self {
        Self::new(&[(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 255, 255, 254))])
    }

    /// TEST-NET-1, -2 and -3 (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24).
    pub(crate) fn public() -> Self {
        Self::new(&[
            (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 254)),
            (
                Ipv4Addr::new(198, 51, 100, 1),
                Ipv4Addr::new(198, 51, 100, 254),
            ),
            (
                Ipv4Addr::new(203, 0, 113, 1),
                Ipv4Addr::new(203, 0, 113, 254),
            ),
        ])
    }

    /// An address, or `None` when the pool is exhausted.
    pub(crate) fn allocate(&mut self) -> Option<Ipv4Addr> {
        while self.range < self.ranges.len() {
            let range = &self.ranges[self.range];
            if self.next <= *range.end() {
                let raw = self.next;
                self.next += 1;
                // Skip network and broadcast-looking addresses.
                if matches!(raw & 0xff, 0 | 255) {
                    continue;
                }
                return Some(Ipv4Addr::from(raw));
            }
            self.range += 1;
            if let Some(range) = self.ranges.get(self.range) {
                self.next = *range.start();
            }
        }
        self.released.pop_front().map(Ipv4Addr::from)
    }

    /// Gives an address back.
    pub(crate) fn release(&mut self, address: Ipv4Addr) {
        self.released.push_back(u32::from(address));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_addresses_first_then_released_in_order() {
        let mut pool =
            AddressPool::new(&[(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 3))]);
        let a = pool.allocate().unwrap();
        let b = pool.allocate().unwrap();
        pool.release(a);
        let c = pool.allocate().unwrap();
        assert_eq!(
            (a, b, c),
            (
                Ipv4Addr::new(192, 0, 2, 1),
                Ipv4Addr::new(192, 0, 2, 2),
                Ipv4Addr::new(192, 0, 2, 3)
            )
        );
        assert_eq!(pool.allocate(), Some(a));
        assert_eq!(pool.allocate(), None);
    }

    #[test]
    fn public_pool_spans_the_three_documentation_ranges() {
        let mut pool = AddressPool::public();
        let all: Vec<Ipv4Addr> = std::iter::from_fn(|| pool.allocate()).collect();
        assert_eq!(all.len(), 3 * 254);
        assert!(all.iter().all(|a| a.is_documentation()));
    }

    #[test]
    fn private_pool_skips_network_and_broadcast_octets() {
        let mut pool = AddressPool::private();
        let first: Vec<Ipv4Addr> = (0..300).filter_map(|_| pool.allocate()).collect();
        assert!(first
            .iter()
            .all(|a| a.is_private() && !matches!(a.octets()[3], 0 | 255)));
        assert_eq!(first[254], Ipv4Addr::new(10, 0, 1, 1));
    }
}
