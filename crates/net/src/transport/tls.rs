//! rustls (ring backend) and quinn configuration for both auth modes.

use std::sync::Arc;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::config::Auth;
use super::error::NetError;

/// The ALPN protocol both sides must offer; anything else is refused by TLS.
pub(crate) const ALPN: &[u8] = b"ironwood/1";
/// The TLS server name used in cookie mode (the certificate is not checked).
pub(crate) const COOKIE_SERVER_NAME: &str = "ironwood.invalid";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(e: impl std::fmt::Display) -> NetError {
    NetError::Tls(e.to_string())
}

/// The client and server crypto of one node.
pub(crate) struct Crypto {
    pub(crate) server: Arc<QuicServerConfig>,
    pub(crate) client: Arc<QuicClientConfig>,
    /// Whether the dialer verifies the server name (mTLS) or uses
    /// [`COOKIE_SERVER_NAME`] (cookie mode).
    pub(crate) verify_names: bool,
}

pub(crate) fn build(auth: &Auth) -> Result<Crypto, NetError> {
    let p = provider();
    let versions = &[&rustls::version::TLS13];
    let (mut server, mut client, verify_names) = match auth {
        Auth::Cookie(_) => {
            let ck = rcgen::generate_simple_self_signed(vec![COOKIE_SERVER_NAME.to_owned()])
                .map_err(tls_err)?;
            let cert = ck.cert.der().clone();
            let key =
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
            let server = rustls::ServerConfig::builder_with_provider(p.clone())
                .with_protocol_versions(versions)
                .map_err(tls_err)?
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .map_err(tls_err)?;
            let client = rustls::ClientConfig::builder_with_provider(p.clone())
                .with_protocol_versions(versions)
                .map_err(tls_err)?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert(
                    p.signature_verification_algorithms,
                )))
                .with_no_client_auth();
            (server, client, false)
        }
        Auth::Tls { cert, key, ca } => {
            let certs = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| NetError::Tls(format!("cert: {e}")))?;
            if certs.is_empty() {
                return Err(NetError::Tls("cert: no certificate in the PEM".into()));
            }
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|e| NetError::Tls(format!("key: {e}")))?;
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                let c = c.map_err(|e| NetError::Tls(format!("ca: {e}")))?;
                roots
                    .add(c)
                    .map_err(|e| NetError::Tls(format!("ca: {e}")))?;
            }
            if roots.is_empty() {
                return Err(NetError::Tls("ca: no certificate in the PEM".into()));
            }
            let roots = Arc::new(roots);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), p.clone())
                .build()
                .map_err(tls_err)?;
            let server = rustls::ServerConfig::builder_with_provider(p.clone())
                .with_protocol_versions(versions)
                .map_err(tls_err)?
                .with_client_cert_verifier(verifier)
                .with_single_cert(certs.clone(), key.clone_key())
                .map_err(tls_err)?;
            let client = rustls::ClientConfig::builder_with_provider(p.clone())
                .with_protocol_versions(versions)
                .map_err(tls_err)?
                .with_root_certificates(roots)
                .with_client_auth_cert(certs, key)
                .map_err(tls_err)?;
            (server, client, true)
        }
    };
    server.alpn_protocols = vec![ALPN.to_vec()];
    client.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Crypto {
        server: Arc::new(QuicServerConfig::try_from(server).map_err(tls_err)?),
        client: Arc::new(QuicClientConfig::try_from(client).map_err(tls_err)?),
        verify_names,
    })
}

/// Cookie mode: any certificate is accepted (the cookie proof, bound to
/// this TLS session, is what authenticates), but handshake signatures are
/// still checked so the session keys belong to whoever holds the key.
#[derive(Debug)]
struct AnyCert(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
