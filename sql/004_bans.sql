-- Bans: a banned user cannot log in (password or token answers
-- bad_credentials), and `chat admin ban` ends their sessions on every node.
-- banned_at is ms since the Unix epoch by the database's clock (nodes compare
-- it with that clock too, whatever their own says); NULL when not banned.
-- MariaDB 10.6+ (IF NOT EXISTS on columns and indexes).
-- Every statement is idempotent: applying this file twice changes nothing.

ALTER TABLE users ADD COLUMN IF NOT EXISTS banned_at BIGINT NULL;

-- Each node looks for recent bans every few seconds (the sessions of a user
-- banned while Redis was away end then): a range of this index, not a scan.
CREATE INDEX IF NOT EXISTS users_banned ON users (banned_at);
