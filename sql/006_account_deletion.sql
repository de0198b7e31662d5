-- Account deletion (protocol 1.1 `delete_account`): a deleted user keeps its
-- id (never reused; its messages stay as tombstones) but frees its name, and
-- keeps no password hash. Every statement is idempotent.
ALTER TABLE users
  MODIFY name VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  ADD COLUMN IF NOT EXISTS deleted_at BIGINT NULL;
