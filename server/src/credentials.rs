//! Feed credentials: random bearer tokens, shown once to the operator and stored only as
//! a SHA-256 hash. A token has 256 bits of randomness, so a plain hash (no salt, no
//! stretching) is enough to make the stored value useless to a thief, and lets the
//! server find the sender by hash in one indexed lookup.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// The prefix makes a leaked credential easy to recognise (and to scan for).
const PREFIX: &str = "hrp_";

/// A new credential: (the token to hand over once, its hash to store).
pub fn new_credential() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{PREFIX}{}", hex::encode(bytes));
    let hash = hash_credential(&token);
    (token, hash)
}

pub fn hash_credential(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_credential_is_new_and_only_its_hash_is_kept() {
        let (a, hash_a) = new_credential();
        let (b, _) = new_credential();
        assert_ne!(a, b);
        assert!(a.starts_with("hrp_") && a.len() == 68);
        assert_eq!(hash_credential(&a), hash_a);
        assert!(!hash_a.contains(&a[4..]));
    }
}
