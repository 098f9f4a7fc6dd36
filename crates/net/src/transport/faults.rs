//! Fault injection below QUIC: a UDP socket wrapper that silently drops
//! every datagram to or from chosen addresses, so a "blocked" peer looks
//! exactly like one behind a cut cable (heartbeats stop, the peer is
//! declared down after the heartbeat timeout, reconnection attempts time
//! out) rather than like a closed connection. For partition tests
//! (ARCHITECTURE.md, Testing); an empty block list costs one atomic load
//! per datagram batch.

use std::collections::HashSet;
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};

/// The set of blocked remote addresses, shared by the node (which edits
/// it) and its socket (which consults it on every send and receive).
#[derive(Debug, Default)]
pub(crate) struct FaultFilter {
    /// Whether `blocked` is non-empty: the fast path reads only this.
    any: AtomicBool,
    blocked: RwLock<HashSet<SocketAddr>>,
}

impl FaultFilter {
    /// Whether datagrams to or from `addr` are dropped.
    fn drops(&self, addr: &SocketAddr) -> bool {
        self.any.load(Ordering::Acquire)
            && self
                .blocked
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&normalize(addr))
    }

    /// Drops all traffic to and from `addr` from now on.
    pub(crate) fn block(&self, addr: SocketAddr) {
        let mut set = self
            .blocked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        set.insert(normalize(&addr));
        self.any.store(true, Ordering::Release);
    }

    /// Lets traffic to and from `addr` through again.
    pub(crate) fn unblock(&self, addr: &SocketAddr) {
        let mut set = self
            .blocked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        set.remove(&normalize(addr));
        self.any.store(!set.is_empty(), Ordering::Release);
    }
}

/// An IPv4-mapped IPv6 address (what a dual-stack socket reports) compares
/// equal to its IPv4 form.
fn normalize(addr: &SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => *addr,
        },
        SocketAddr::V4(_) => *addr,
    }
}

/// The endpoint's socket: the runtime's ordinary UDP socket, filtered.
pub(crate) struct FaultSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    filter: Arc<FaultFilter>,
}

impl FaultSocket {
    pub(crate) fn new(inner: Arc<dyn AsyncUdpSocket>, filter: Arc<FaultFilter>) -> Self {
        FaultSocket { inner, filter }
    }
}

impl fmt::Debug for FaultSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultSocket")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl AsyncUdpSocket for FaultSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        if self.filter.drops(&transmit.destination) {
            // Reported as sent: a datagram lost on the way looks the same.
            return Ok(());
        }
        self.inner.try_send(transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        loop {
            let n = match self.inner.poll_recv(cx, bufs, meta) {
                Poll::Ready(Ok(n)) => n,
                other => return other,
            };
            if !self.filter.any.load(Ordering::Acquire) {
                return Poll::Ready(Ok(n));
            }
            // Keep the datagrams from unblocked senders, moved to the front
            // (each meta describes the buffer at the same index).
            let mut kept = 0;
            for i in 0..n {
                if self.filter.drops(&meta[i].addr) {
                    continue;
                }
                if kept != i {
                    let len = meta[i].len;
                    let (front, back) = bufs.split_at_mut(i);
                    front[kept][..len].copy_from_slice(&back[0][..len]);
                    meta[kept] = meta[i];
                }
                kept += 1;
            }
            if kept > 0 {
                return Poll::Ready(Ok(kept));
            }
            // Everything was dropped: poll again, which either yields more
            // datagrams or registers the waker and returns Pending.
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_blocks_and_unblocks_including_mapped_addresses() {
        let f = FaultFilter::default();
        let a: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:4000".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:4001".parse().unwrap();
        assert!(!f.drops(&a));
        f.block(a);
        assert!(f.drops(&a));
        assert!(f.drops(&mapped));
        assert!(!f.drops(&other));
        f.unblock(&mapped);
        assert!(!f.drops(&a));
        assert!(!f.any.load(Ordering::Acquire));
    }
}
