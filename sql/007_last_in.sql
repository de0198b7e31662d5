-- The latest three messages to a user in each one-to-one conversation, on
-- the user's positions row (0 for none; unused on group rows). The writer of
-- a message keeps them (it holds this row's lock while it stores). When one
-- of them is already delivered, the others are all that is pending, and an
-- ack of the oldest of those, the usual case, moves acked_upto without
-- reading the conversation's mids: that read was the largest cost of a batch
-- of acks (sql/002_positions.sql). Every statement is idempotent: a second
-- run computes the same values.
ALTER TABLE positions
  ADD COLUMN IF NOT EXISTS last_in BIGINT UNSIGNED NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS prev_in BIGINT UNSIGNED NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS prev2_in BIGINT UNSIGNED NOT NULL DEFAULT 0;

UPDATE positions s SET
  s.last_in = COALESCE((SELECT m.mid FROM messages m
    WHERE m.peer_lo = LEAST(s.user_id, s.peer_id) AND m.peer_hi = GREATEST(s.user_id, s.peer_id) AND m.sender_id = s.peer_id
    ORDER BY m.mid DESC LIMIT 1), 0),
  s.prev_in = COALESCE((SELECT m.mid FROM messages m
    WHERE m.peer_lo = LEAST(s.user_id, s.peer_id) AND m.peer_hi = GREATEST(s.user_id, s.peer_id) AND m.sender_id = s.peer_id
    ORDER BY m.mid DESC LIMIT 1 OFFSET 1), 0),
  s.prev2_in = COALESCE((SELECT m.mid FROM messages m
    WHERE m.peer_lo = LEAST(s.user_id, s.peer_id) AND m.peer_hi = GREATEST(s.user_id, s.peer_id) AND m.sender_id = s.peer_id
    ORDER BY m.mid DESC LIMIT 1 OFFSET 2), 0)
WHERE s.group_id = 0;
