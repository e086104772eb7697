-- Sign-ins in progress: what the callback needs from the authorization request. Keyed
-- on a hash of `state`; taken (read and deleted) exactly once by the callback, so a
-- replayed callback finds nothing.
CREATE TABLE login_attempts (
    state_hash        TEXT    PRIMARY KEY,
    audience          TEXT    NOT NULL CHECK (audience IN ('patient', 'staff')),
    nonce             TEXT    NOT NULL,
    pkce_verifier     TEXT,
    requested_vectors TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL
);
CREATE INDEX login_attempts_by_age ON login_attempts (created_at);
