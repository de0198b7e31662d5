-- Group administration (protocol 1.1 `group_admin`): the `admin` role, bans,
-- and the rules that every group has members and exactly one creator.
-- MariaDB 10.6+ (BEGIN NOT ATOMIC). Every statement is idempotent: applying
-- this file twice changes nothing.

-- 'admin' goes last: appending a value to an ENUM changes only the table's
-- definition, while inserting one in the middle renumbers (copies) every row.
-- Nothing sorts by the ENUM's order.
ALTER TABLE group_members MODIFY COLUMN role ENUM('creator', 'normal', 'admin') NOT NULL;

-- A user kicked with a ban, who may not join again until unbanned. by_id is
-- who banned them, kept as a record: no constraint ties it to a live user.
CREATE TABLE IF NOT EXISTS group_bans (
  group_id BIGINT UNSIGNED NOT NULL,
  user_id  BIGINT UNSIGNED NOT NULL,
  by_id    BIGINT UNSIGNED NOT NULL,
  ts       BIGINT NOT NULL,            -- ms since the Unix epoch
  PRIMARY KEY (group_id, user_id),
  CONSTRAINT group_bans_group FOREIGN KEY (group_id) REFERENCES chat_groups (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Version 1 let a creator leave without a successor, and kept groups whose
-- last member had left. From now on the creator role passes on, and a group
-- whose last member leaves is deleted with its messages: groups already in
-- either state are brought to what the rules would have made of them.
BEGIN NOT ATOMIC
  -- A group with members and no creator: the member who joined first (same
  -- millisecond: the lower user id) becomes its creator.
  UPDATE group_members gm
    JOIN (
      SELECT m.group_id, m.user_id, ROW_NUMBER() OVER (PARTITION BY m.group_id ORDER BY m.joined_at, m.user_id) AS n
      FROM group_members m
      WHERE NOT EXISTS (SELECT 1 FROM group_members c WHERE c.group_id = m.group_id AND c.role = 'creator')
    ) f ON f.group_id = gm.group_id AND f.user_id = gm.user_id AND f.n = 1
    SET gm.role = 'creator';
  UPDATE chat_groups g
    JOIN group_members gm ON gm.group_id = g.id AND gm.role = 'creator'
    SET g.creator_id = gm.user_id
    WHERE g.creator_id <> gm.user_id;
  -- A group without members goes, with its messages. Nobody has positions in
  -- it (leaving removed them), so nothing was pending there.
  DELETE m FROM messages m JOIN chat_groups g ON g.id = m.group_id
    WHERE NOT EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = g.id);
  DELETE b FROM group_bans b JOIN chat_groups g ON g.id = b.group_id
    WHERE NOT EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = g.id);
  DELETE g FROM chat_groups g
    WHERE NOT EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = g.id);
END;
