-- Delivery state per conversation instead of per recipient and message, so
-- that storing a group message is one row whatever the group's size, and an
-- ack or a read costs what the conversations it touches cost. Also the
-- columns of the protocol's 1.1 messages: the client's id (cid), edit and
-- delete times. MariaDB 10.6+ (IF NOT EXISTS on columns, BEGIN NOT ATOMIC).
-- Every statement is idempotent: applying this file twice changes nothing.

-- One row per user and conversation the user is in: each friendship (peer_id
-- the friend, group_id 0) and each group membership (group_id, peer_id 0).
-- acked_upto: every message of the conversation to this user with a mid up to
-- here is delivered (acked or read); acks above it that do not join up yet
-- are rows of acked_above. read_upto: the user's read position.
CREATE TABLE IF NOT EXISTS positions (
  user_id    BIGINT UNSIGNED NOT NULL,
  group_id   BIGINT UNSIGNED NOT NULL,
  peer_id    BIGINT UNSIGNED NOT NULL,
  acked_upto BIGINT UNSIGNED NOT NULL,
  read_upto  BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (user_id, group_id, peer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Messages acked above their conversation's acked_upto: a message the order
-- rule kept from a connection is not acked with the later ones, and must stay
-- pending while they are not.
CREATE TABLE IF NOT EXISTS acked_above (
  user_id BIGINT UNSIGNED NOT NULL,
  mid     BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (user_id, mid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- cid: the sender's id for the message (exactly-once sends), compared byte for
-- byte (NO PAD: "a" and "a " differ). edited / deleted: ms since the epoch.
ALTER TABLE messages
  ADD COLUMN IF NOT EXISTS cid VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL,
  ADD COLUMN IF NOT EXISTS edited BIGINT NULL,
  ADD COLUMN IF NOT EXISTS deleted BIGINT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS messages_cid ON messages (sender_id, cid);

-- The old form, one pending row per recipient and message, moves into the
-- new one and goes. A conversation's acked_upto is just below its oldest
-- pending message (or its latest message when none is pending); the messages
-- above it that were not pending are acked_above. Memberships of users who
-- left a group keep nothing: they are no longer a party to its messages.
BEGIN NOT ATOMIC
  IF EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'pending') THEN
    INSERT IGNORE INTO positions (user_id, group_id, peer_id, acked_upto, read_upto)
    SELECT f.user_id, 0, f.friend_id, COALESCE(
      (SELECT MIN(p.mid) - 1 FROM pending p JOIN messages m ON m.mid = p.mid WHERE p.user_id = f.user_id AND m.sender_id = f.friend_id AND m.recipient_id = f.user_id),
      (SELECT MAX(m.mid) FROM messages m WHERE m.peer_lo = LEAST(f.user_id, f.friend_id) AND m.peer_hi = GREATEST(f.user_id, f.friend_id)),
      0), 0
    FROM friends f;
    INSERT IGNORE INTO positions (user_id, group_id, peer_id, acked_upto, read_upto)
    SELECT gm.user_id, gm.group_id, 0, COALESCE(
      (SELECT MIN(p.mid) - 1 FROM pending p JOIN messages m ON m.mid = p.mid WHERE p.user_id = gm.user_id AND m.group_id = gm.group_id),
      (SELECT MAX(m.mid) FROM messages m WHERE m.group_id = gm.group_id),
      0), 0
    FROM group_members gm;
    -- What was delivered before the upgrade counts as read: no old history shows as unread.
    UPDATE positions SET read_upto = acked_upto;
    INSERT IGNORE INTO acked_above (user_id, mid)
    SELECT s.user_id, m.mid FROM positions s
    JOIN messages m ON m.peer_lo = LEAST(s.user_id, s.peer_id) AND m.peer_hi = GREATEST(s.user_id, s.peer_id) AND m.mid > s.acked_upto AND m.sender_id = s.peer_id
    WHERE s.group_id = 0 AND NOT EXISTS (SELECT 1 FROM pending p WHERE p.user_id = s.user_id AND p.mid = m.mid);
    INSERT IGNORE INTO acked_above (user_id, mid)
    SELECT s.user_id, m.mid FROM positions s
    JOIN messages m ON m.group_id = s.group_id AND m.mid > s.acked_upto AND m.sender_id <> s.user_id
    WHERE s.group_id > 0 AND NOT EXISTS (SELECT 1 FROM pending p WHERE p.user_id = s.user_id AND p.mid = m.mid);
    DROP TABLE pending;
  END IF;
END;
