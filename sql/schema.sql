-- schema.sql - the game inventory that examples/inventory_worker.c keeps in PostgreSQL.
-- Safe to apply again at any time (every statement is idempotent); apply seed.sql after it.
--
-- The web layer reads two views, which are the contract:
--   user_inventory(user_id, item_id, quantity)   one row per positive holding
--   inventory_audit(job_id, action, user_id, item_id, delta, at)   one row per change
-- Everything else is the worker's own business.

SET client_min_messages = warning; -- quiet 'already exists, skipping' on re-application

-- Ids (users, items): 1 to 64 characters from A-Z a-z 0-9 _ . : -
CREATE OR REPLACE FUNCTION inventory_valid_id(id text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT id ~ '^[A-Za-z0-9_.:-]{1,64}$' $$;

-- The item catalogue (loaded by seed.sql).
CREATE TABLE IF NOT EXISTS items (
    item_id    text PRIMARY KEY CHECK (inventory_valid_id(item_id)),
    stackable  boolean NOT NULL,          -- false: a user holds at most one
    usable     boolean NOT NULL,          -- use_item may consume it
    rewardable boolean NOT NULL DEFAULT true,
    description text NOT NULL DEFAULT ''
);

-- What using one unit of item_id grants (welcome_chest -> 3 key, 100 gold).
CREATE TABLE IF NOT EXISTS item_effects (
    item_id       text NOT NULL REFERENCES items ON DELETE CASCADE,
    grant_item_id text NOT NULL REFERENCES items,
    quantity      integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (item_id, grant_item_id)
);

-- Current holdings. Rows may reach 0 (kept; the view hides them).
CREATE TABLE IF NOT EXISTS inventory (
    user_id  text NOT NULL CHECK (inventory_valid_id(user_id)),
    item_id  text NOT NULL REFERENCES items,
    quantity integer NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (user_id, item_id)
);

-- A non-stackable item is held at most once.
CREATE OR REPLACE FUNCTION inventory_check_stackable() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.quantity > 1 AND NOT (SELECT stackable FROM items WHERE item_id = NEW.item_id) THEN
        RAISE EXCEPTION 'item % is not stackable: user % would hold %', NEW.item_id, NEW.user_id,
            NEW.quantity USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS inventory_stackable ON inventory;
CREATE TRIGGER inventory_stackable BEFORE INSERT OR UPDATE ON inventory
    FOR EACH ROW EXECUTE FUNCTION inventory_check_stackable();

-- Every item a reward ever gave a user: the unique key makes a reward reach a user once, ever.
CREATE TABLE IF NOT EXISTS reward_grants (
    user_id    text NOT NULL,
    item_id    text NOT NULL REFERENCES items,
    job_id     text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, item_id)
);

-- One row per change of a holding: action 'reward', 'use' (negative) or 'effect'.
CREATE TABLE IF NOT EXISTS inventory_events (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id  text NOT NULL,
    action  text NOT NULL CHECK (action IN ('reward', 'use', 'effect')),
    user_id text NOT NULL,
    item_id text NOT NULL REFERENCES items,
    delta   integer NOT NULL CHECK (delta <> 0),
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS inventory_events_user ON inventory_events (user_id, item_id);

-- Jobs whose effects are committed, with the result they completed with. Written in the same
-- transaction as the effects, so a job delivered again (same queue, id and creation time)
-- applies nothing twice and returns this result. The creation time tells a redelivery from a
-- new job that reuses an id (a queue emptied and started again against the same database).
-- `result` is json, not jsonb, so the text comes back exactly as it was first returned.
CREATE TABLE IF NOT EXISTS processed_jobs (
    queue        text NOT NULL,
    job_id       text NOT NULL,
    job_ts       bigint NOT NULL,
    name         text NOT NULL,
    result       json,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queue, job_id, job_ts)
);

CREATE OR REPLACE VIEW user_inventory AS
    SELECT user_id, item_id, quantity FROM inventory WHERE quantity > 0;

CREATE OR REPLACE VIEW inventory_audit AS
    SELECT job_id, action, user_id, item_id, delta, at FROM inventory_events;
