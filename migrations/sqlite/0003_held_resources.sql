-- Resources whose patient could not be identified (no NHS number, an invalid one, a
-- reference to nobody in the bundle). Never dropped, never attached to a guess: held
-- here, exactly as received, for the service desk to resolve with the sender.
CREATE TABLE held_resources (
    id            INTEGER PRIMARY KEY,
    sender_org_id INTEGER NOT NULL REFERENCES organisations (id),
    received_at   INTEGER NOT NULL,
    resource_type TEXT    NOT NULL,
    expression    TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    raw_resource  TEXT    NOT NULL,
    request_id    TEXT,
    resolved_at   INTEGER
);
CREATE INDEX held_resources_open ON held_resources (resolved_at, received_at);
