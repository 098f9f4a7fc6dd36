//! The binding's path: no `#[tokio::test]`, everything through the lazily
//! started process-wide runtime.

use std::time::Duration;

use ironwood_core::codec::FrameKind;
use ironwood_net::transport::{Auth, Event, Node, NodeConfig, runtime};

#[test]
fn the_shared_runtime_runs_nodes_from_plain_threads() {
    let cfg = |name: &str| {
        let mut c = NodeConfig::new(name, "127.0.0.1", 0, Auth::Cookie("rt".into()));
        c.heartbeat_interval = Duration::from_millis(50);
        c.heartbeat_timeout = Duration::from_millis(400);
        c
    };
    let a = runtime().block_on(Node::start(cfg("a"))).unwrap();
    let b = runtime().block_on(Node::start(cfg("b"))).unwrap();
    let mut eb = b.take_events().unwrap();
    assert!(b.take_events().is_none(), "events are taken once");
    let peer = runtime().block_on(a.connect(b.name())).unwrap();
    assert_eq!(peer, b.name());
    // A plain thread (like the JS thread) sends without entering the runtime.
    std::thread::scope(|s| {
        s.spawn(|| a.send(b.name(), FrameKind::Send, b"x").unwrap());
    });
    let got = runtime().block_on(async {
        loop {
            match tokio::time::timeout(Duration::from_secs(5), eb.recv()).await {
                Ok(Some(Event::Frame { payload, .. })) => break payload,
                Ok(Some(_)) => continue,
                other => panic!("no frame: {other:?}"),
            }
        }
    });
    assert_eq!(got, b"x");
    // The runtime is one per process.
    assert!(std::ptr::eq(runtime(), runtime()));
    runtime().block_on(async {
        a.stop().await;
        b.stop().await;
    });
}
