//! RSA keys for OpenID Connect: our client key (which signs the `private_key_jwt` client
//! assertion NHS login requires, RS512), the public JSON Web Key form of a key, and key
//! files for the demo, made on first start.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not read the key file: {0}")]
    Read(#[from] std::io::Error),
    #[error("the key file is not an RSA private key in PKCS#8 or PKCS#1 PEM form")]
    NotAnRsaKey,
    #[error("could not create a key: {0}")]
    Generate(String),
    #[error("could not sign: {0}")]
    Sign(String),
}

/// A private RSA key with its key id. Never `Debug`-printed with its contents, never
/// serialised.
pub struct SigningKey {
    private: RsaPrivateKey,
    encoding: EncodingKey,
    /// The key's id as published: the RFC 7638 thumbprint, or the id it was registered
    /// under (`with_key_id`).
    pub key_id: String,
    /// Whether signatures name the key (`kid` in their header).
    send_key_id: bool,
}

/// The key id sent in the header of what we sign (the client assertion): by default
/// the key's RFC 7638 thumbprint; or the id the key was registered under at the
/// provider (`NHS_LOGIN_KEY_ID`, `STAFF_OIDC_KEY_ID`); or none at all (`none`), for a
/// provider that picks the key by other means.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum KeyIdSetting {
    #[default]
    Thumbprint,
    Named(String),
    Omitted,
}

impl KeyIdSetting {
    /// From the setting's text: absent or empty is the thumbprint, `none` sends none.
    pub fn parse(text: Option<&str>) -> Self {
        match text.map(str::trim) {
            None | Some("") => KeyIdSetting::Thumbprint,
            Some(t) if t.eq_ignore_ascii_case("none") => KeyIdSetting::Omitted,
            Some(t) => KeyIdSetting::Named(t.to_owned()),
        }
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.key_id)
    }
}

impl SigningKey {
    /// Reads a PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY") PEM file.
    pub fn from_pem_file(path: &Path) -> Result<Self, KeyError> {
        Self::from_pem(&std::fs::read_to_string(path)?)
    }

    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let private = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| KeyError::NotAnRsaKey)?;
        Self::from_private(private)
    }

    /// A fresh 2048-bit key (the size NHS login registers).
    pub fn generate() -> Result<Self, KeyError> {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_private(private)
    }

    fn from_private(private: RsaPrivateKey) -> Result<Self, KeyError> {
        let der = private.to_pkcs1_der().map_err(|_| KeyError::NotAnRsaKey)?;
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let key_id = thumbprint(&private.to_public_key());
        Ok(Self {
            private,
            encoding,
            key_id,
            send_key_id: true,
        })
    }

    /// The key as registered at a provider: named by the id given there, or sending no
    /// id at all; by default, its thumbprint.
    pub fn with_key_id(mut self, setting: &KeyIdSetting) -> Self {
        match setting {
            KeyIdSetting::Thumbprint => {}
            KeyIdSetting::Named(id) => self.key_id = id.clone(),
            KeyIdSetting::Omitted => self.send_key_id = false,
        }
        self
    }

    pub fn public_key(&self) -> RsaPublicKey {
        self.private.to_public_key()
    }

    /// The public half as a JSON Web Key for RS512 signatures.
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk::rs512(&self.public_key(), &self.key_id)
    }

    pub fn public_pem(&self) -> Result<String, KeyError> {
        self.public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Generate(e.to_string()))
    }

    /// Signs claims as a JWT with RS512 and this key's id.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS512);
        header.kid = self.send_key_id.then(|| self.key_id.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// Writes the key as PKCS#8 PEM, readable only by its owner.
    pub fn write_pem(&self, path: &Path) -> Result<(), KeyError> {
        let pem = self
            .private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(path, pem.as_bytes())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }
}

/// Loads the key at `path`, creating it first if it does not exist (demo mode only).
pub fn load_or_create(path: &Path) -> Result<SigningKey, KeyError> {
    if path.exists() {
        return SigningKey::from_pem_file(path);
    }
    let key = SigningKey::generate()?;
    key.write_pem(path)?;
    Ok(key)
}

/// A public RSA JSON Web Key (RFC 7517).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PublicJwk {
    pub kty: String,
    #[serde(rename = "use")]
    pub usage: String,
    pub alg: String,
    pub kid: String,
    pub n: String,
    pub e: String,
}

impl PublicJwk {
    pub fn rs512(key: &RsaPublicKey, kid: &str) -> Self {
        Self {
            kty: "RSA".into(),
            usage: "sig".into(),
            alg: "RS512".into(),
            kid: kid.into(),
            n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        }
    }
}

/// RFC 7638 thumbprint of an RSA public key, used as its key id.
fn thumbprint(key: &RsaPublicKey) -> String {
    use sha2::{Digest, Sha256};
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        URL_SAFE_NO_PAD.encode(key.n().to_bytes_be())
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The claims of a `private_key_jwt` client assertion (RFC 7523; NHS login: `iss` and
/// `sub` are the client id, `aud` the token endpoint, a unique `jti`, expiry about 60
/// seconds ahead).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ClientAssertion {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

impl ClientAssertion {
    pub fn new(client_id: &str, token_endpoint: &str, now: DateTime<Utc>) -> Self {
        Self {
            iss: client_id.to_owned(),
            sub: client_id.to_owned(),
            aud: token_endpoint.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now.timestamp(),
            exp: (now + Duration::seconds(60)).timestamp(),
        }
    }
}

pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_and_pkcs1_keys_both_load_and_sign_rs512() {
        let key = SigningKey::generate().unwrap();
        let pkcs8 = key.private.to_pkcs8_pem(LineEnding::LF).unwrap();
        let pkcs1 = key.private.to_pkcs1_pem(LineEnding::LF).unwrap();
        for pem in [pkcs8.as_str(), pkcs1.as_str()] {
            let loaded = SigningKey::from_pem(pem).unwrap();
            assert_eq!(loaded.key_id, key.key_id);
            let jwt = loaded
                .sign(&ClientAssertion::new(
                    "client",
                    "https://idp/token",
                    Utc::now(),
                ))
                .unwrap();
            let header = jsonwebtoken::decode_header(&jwt).unwrap();
            assert_eq!(header.alg, Algorithm::RS512);
            assert_eq!(header.kid.as_deref(), Some(key.key_id.as_str()));
        }
        assert!(matches!(
            SigningKey::from_pem("not a key"),
            Err(KeyError::NotAnRsaKey)
        ));
    }

    #[test]
    fn the_key_id_sent_is_the_thumbprint_the_registered_id_or_none() {
        let key = SigningKey::generate().unwrap();
        let pem = key.private.to_pkcs8_pem(LineEnding::LF).unwrap();
        let kid_of = |setting: &KeyIdSetting| {
            let signer = SigningKey::from_pem(&pem).unwrap().with_key_id(setting);
            let jwt = signer
                .sign(&ClientAssertion::new(
                    "client",
                    "https://idp/token",
                    Utc::now(),
                ))
                .unwrap();
            (
                jsonwebtoken::decode_header(&jwt).unwrap().kid,
                signer.public_jwk().kid,
            )
        };
        assert_eq!(KeyIdSetting::parse(None), KeyIdSetting::Thumbprint);
        assert_eq!(KeyIdSetting::parse(Some("NONE")), KeyIdSetting::Omitted);
        assert_eq!(
            kid_of(&KeyIdSetting::parse(None)),
            (Some(key.key_id.clone()), key.key_id.clone())
        );
        assert_eq!(
            kid_of(&KeyIdSetting::parse(Some("portal-2026-01"))),
            (
                Some("portal-2026-01".to_owned()),
                "portal-2026-01".to_owned()
            )
        );
        assert_eq!(
            kid_of(&KeyIdSetting::parse(Some("none"))),
            (None, key.key_id.clone())
        );
    }
}
