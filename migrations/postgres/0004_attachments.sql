-- Attachments (letters as PDF, scanned documents), stored once per content: keyed on the
-- SHA-256 of the bytes, outside the record item rows that refer to them.
CREATE TABLE attachments (
    sha256            TEXT    PRIMARY KEY,
    content_type      TEXT    NOT NULL,
    size              BIGINT  NOT NULL,
    content           BYTEA   NOT NULL,
    first_received_at BIGINT  NOT NULL
);
