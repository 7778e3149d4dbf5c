//! `--tls`: a self-signed certificate made at start, written out as PEM so
//! that a client can trust it, and the rustls configuration that serves it.
//!
//! Why: some official clients (azure-core, for one) refuse to send a bearer
//! token over plain http, so an unmodified client needs https.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The names the certificate is valid for: the loopback host as clients
/// spell it.
const NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The file name of the certificate written into the chosen directory.
pub(crate) const CERT_FILE: &str = "emulator-cert.pem";

/// A fresh certificate and key: the acceptor, and where the certificate was
/// written.
pub(crate) fn self_signed(dir: &Path) -> std::io::Result<(TlsAcceptor, PathBuf)> {
    let invalid = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let names: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| invalid(&e))?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(CERT_FILE);
    std::fs::write(&path, certified.cert.pem())?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(|e| invalid(&e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), path))
}
