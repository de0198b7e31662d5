-- Consent and safety (protocol 1.1 `requests`, `block`): open friend
-- requests and blocks. Every statement is idempotent.

-- An open request from from_id to to_id; it goes when answered, when the two
-- become friends however that happens, or when either blocks the other.
CREATE TABLE IF NOT EXISTS friend_requests (
  from_id BIGINT UNSIGNED NOT NULL,
  to_id   BIGINT UNSIGNED NOT NULL,
  note    VARCHAR(256) NOT NULL DEFAULT '',
  ts      BIGINT NOT NULL,                 -- ms since the Unix epoch
  PRIMARY KEY (from_id, to_id),
  KEY friend_requests_to (to_id, ts)       -- "requests to user X", oldest first
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- user_id blocks blocked_id: no friendship and no requests between them.
CREATE TABLE IF NOT EXISTS blocks (
  user_id    BIGINT UNSIGNED NOT NULL,
  blocked_id BIGINT UNSIGNED NOT NULL,
  ts         BIGINT NOT NULL,
  PRIMARY KEY (user_id, blocked_id),
  KEY blocks_blocked (blocked_id)          -- "who blocks X"
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
