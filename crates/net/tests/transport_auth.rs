//! Authentication: a wrong cookie is refused before any frame is accepted
//! and never produces NodeUp; mutual TLS verifies both certificates.

mod common;

use std::time::Duration;

use common::*;
use ironwood_core::codec::FrameKind;
use ironwood_net::transport::{Auth, NetError, Node, NodeConfig};

#[tokio::test]
async fn wrong_cookie_is_refused_on_both_sides() {
    let (a, mut ea) = start("a", "right").await;
    let (m, mut em) = start("m", "wrong").await;
    // Both directions: the dialer and the acceptor hold the wrong cookie.
    let err = m.connect(a.name()).await.unwrap_err();
    assert!(matches!(err, NetError::AuthFailed(_)), "{err}");
    let err = a.connect(m.name()).await.unwrap_err();
    assert!(matches!(err, NetError::AuthFailed(_)), "{err}");
    assert!(a.nodes().is_empty());
    assert!(m.nodes().is_empty());
    assert_eq!(
        m.send(a.name(), FrameKind::Send, b"x"),
        Err(NetError::NotConnected(a.name().to_owned()))
    );
    // No NodeUp, no frame, on either side.
    assert_quiet(&mut ea, Duration::from_millis(300)).await;
    assert_quiet(&mut em, Duration::from_millis(1)).await;

    // The refused node keeps serving good peers.
    let (b, mut eb) = start("b", "right").await;
    b.connect(a.name()).await.unwrap();
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    assert_eq!(next_membership(&mut eb).await, up(a.name()));
}

/// A CA, and a certificate for 127.0.0.1 signed by it, as PEM.
fn ca_and_leaf() -> (rcgen::Issuer<'static, rcgen::KeyPair>, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (rcgen::Issuer::new(params, key), cert.pem())
}

fn leaf(issuer: &rcgen::Issuer<'static, rcgen::KeyPair>) -> (String, String) {
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn tls_config(name: &str, cert: (String, String), ca: &str) -> NodeConfig {
    let mut c = config(name, "unused");
    c.auth = Auth::Tls {
        cert: cert.0,
        key: cert.1,
        ca: ca.to_owned(),
    };
    c
}

#[tokio::test]
async fn mutual_tls_accepts_the_same_ca_and_refuses_another() {
    let (issuer, ca) = ca_and_leaf();
    let (a, mut ea) = start_with(tls_config("a", leaf(&issuer), &ca)).await;
    let (b, mut eb) = start_with(tls_config("b", leaf(&issuer), &ca)).await;
    assert_eq!(b.connect(a.name()).await.unwrap(), a.name());
    assert_eq!(next_membership(&mut ea).await, up(b.name()));
    assert_eq!(next_membership(&mut eb).await, up(a.name()));

    // A node whose certificate comes from another CA (and which trusts
    // only that CA) is refused either way.
    let (other_issuer, other_ca) = ca_and_leaf();
    let (x, mut ex) = start_with(tls_config("x", leaf(&other_issuer), &other_ca)).await;
    assert!(x.connect(a.name()).await.is_err());
    assert!(a.connect(x.name()).await.is_err());
    assert_quiet(&mut ex, Duration::from_millis(200)).await;
    assert_eq!(a.nodes(), [b.name()]);

    assert!(matches!(
        Node::start(tls_config("y", ("junk".into(), "junk".into()), &ca)).await,
        Err(NetError::Tls(_))
    ));
}
