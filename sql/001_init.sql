-- The chat schema. utf8mb4 with a binary collation: names compare exactly, and
-- emoji, Chinese and every other code point round-trip.
-- Every statement is idempotent: applying this file twice changes nothing.

CREATE TABLE IF NOT EXISTS users (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  name          VARCHAR(32)  NOT NULL,
  password_hash VARCHAR(255) NOT NULL,   -- argon2id PHC string, never the password
  created_at    BIGINT NOT NULL,         -- ms since the Unix epoch
  PRIMARY KEY (id),
  UNIQUE KEY users_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Friendship is mutual: one row per direction, written together.
CREATE TABLE IF NOT EXISTS friends (
  user_id    BIGINT UNSIGNED NOT NULL,
  friend_id  BIGINT UNSIGNED NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, friend_id),
  CONSTRAINT friends_user FOREIGN KEY (user_id) REFERENCES users (id),
  CONSTRAINT friends_friend FOREIGN KEY (friend_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- `groups` is a reserved word in MySQL 8; chat_groups avoids quoting everywhere.
CREATE TABLE IF NOT EXISTS chat_groups (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  name        VARCHAR(64)  NOT NULL,
  description VARCHAR(256) NOT NULL DEFAULT '',
  creator_id  BIGINT UNSIGNED NOT NULL,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY chat_groups_name (name),
  CONSTRAINT chat_groups_creator FOREIGN KEY (creator_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS group_members (
  group_id  BIGINT UNSIGNED NOT NULL,
  user_id   BIGINT UNSIGNED NOT NULL,
  role      ENUM('creator', 'normal') NOT NULL,
  joined_at BIGINT NOT NULL,
  PRIMARY KEY (group_id, user_id),
  KEY group_members_user (user_id),        -- "the groups of user X"
  CONSTRAINT group_members_group FOREIGN KEY (group_id) REFERENCES chat_groups (id),
  CONSTRAINT group_members_member FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per message; mid is the protocol's message id and defines order.
-- A one-to-one message has recipient_id and the unordered pair (peer_lo,
-- peer_hi) so that both directions of a conversation share one index range;
-- a group message has group_id.
CREATE TABLE IF NOT EXISTS messages (
  mid          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  sender_id    BIGINT UNSIGNED NOT NULL,
  recipient_id BIGINT UNSIGNED NULL,
  group_id     BIGINT UNSIGNED NULL,
  peer_lo      BIGINT UNSIGNED NULL,
  peer_hi      BIGINT UNSIGNED NULL,
  body         TEXT NOT NULL,
  ts           BIGINT NOT NULL,            -- ms since the Unix epoch
  PRIMARY KEY (mid),
  KEY messages_direct (peer_lo, peer_hi, mid),
  KEY messages_group (group_id, mid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A message stays pending for a recipient until one of their sessions acks it.
-- The primary key orders a user's pending messages oldest first, and is the
-- only index: every lookup (count, replay, ack) starts from the user, and a
-- second index would cost every message and every ack.
CREATE TABLE IF NOT EXISTS pending (
  user_id BIGINT UNSIGNED NOT NULL,
  mid     BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (user_id, mid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Login tokens, stored as SHA-256 of the token: a database leak yields no
-- usable token.
CREATE TABLE IF NOT EXISTS tokens (
  token_hash BINARY(32) NOT NULL,
  user_id    BIGINT UNSIGNED NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (token_hash),
  KEY tokens_user (user_id),
  KEY tokens_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
